"""Fleet hosts with podman (fleetlib.up(..., containers=True)): each host has its own image store and
/etc/containers, a base image built on the control node (in a private store) travels as an OCI archive file,
and a container started with --network none inside a host has no network at all. A fleet of its own (pmk)."""

import os
import re
import subprocess

import pytest

from tests.fleet import containers, fleetlib
from tests.fleet.fixtures import _unavailable_reason, own_fleet

pytestmark = pytest.mark.fleet

NAME = "pmk"
IMAGE = "localhost/pmtest-python:3.11"
ARCHIVE_ON_HOST = "/var/tmp/pmtest-python-3.11.oci.tar"


def _machine_podman_state():
    """What the control node's own podman setup looks like (must not change): /etc/containers, and the default
    store under /var/lib/containers (listing, and the storage dir's listing if there is one)."""
    state = {"etc": sorted(os.listdir("/etc/containers")) if os.path.isdir("/etc/containers") else None}
    for path in ("/var/lib/containers", "/var/lib/containers/storage", "/var/lib/containers/cache"):
        state[path] = sorted((entry, os.stat(os.path.join(path, entry)).st_mtime_ns)
                             for entry in os.listdir(path)) if os.path.isdir(path) else None
    return state


def _skip_or_fail(reason):
    if os.environ.get("CI"):
        pytest.fail("CI must run the fleet tests: " + reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def machine_state():
    return _machine_podman_state()


@pytest.fixture(scope="module")
def pod_fleet(machine_state):
    reason = _unavailable_reason()
    if reason:
        _skip_or_fail(reason)
    try:
        containers.podman_path()
        fleetlib.check_podman()
    except (containers.ContainersError, fleetlib.FleetError) as exc:
        _skip_or_fail(str(exc))
    with own_fleet(NAME, 2, tmpfs_size="256M", pythons=("3.11", "3.12"), containers=True,
                   containers_size="1G") as pods:
        yield pods


@pytest.fixture(scope="module")
def base_archive(machine_state, tmp_path_factory):
    """The 3.11 base image, built in a private store of the control node and saved as an OCI archive file."""
    work = tmp_path_factory.mktemp("podman-control")
    env = containers.control_env(str(work / "engine"))
    archive = str(work / "pmtest-python-3.11.oci.tar")
    try:
        image_id = containers.build_base_image("3.11", env=env, cache_dir=str(work / "cache"), archive=archive)
    except containers.ContainersError as exc:
        _skip_or_fail(str(exc))
    assert containers.build_base_image("3.11", env=env) == image_id  # reused, not built again
    return {"path": archive, "image_id": image_id, "env": env}


def _ssh(pod_fleet, host, command):
    """Run ``command`` over the fleet's SSH as root: a login session, no podman env variables."""
    item = pod_fleet.host(host)
    known_hosts = os.path.join(fleetlib.state_dir(pod_fleet.name), "known_hosts")
    return subprocess.run(["ssh", "-i", pod_fleet.status["key"], "-o", "UserKnownHostsFile=" + known_hosts,
                           "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "root@" + item["address"],
                           command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120,
                          check=False)


@pytest.fixture(scope="module")
def loaded(pod_fleet, base_archive):
    """The archive copied into host 1 (exec with stdin) and loaded into its store there."""
    host = pod_fleet.hosts[0]["name"]
    with open(base_archive["path"], "rb") as handle:
        copied = pod_fleet.exec(host, ["sh", "-c", "cat > " + ARCHIVE_ON_HOST], stdin=handle)
    assert copied.returncode == 0, copied.stderr
    result = pod_fleet.exec(host, ["podman", "load", "-q", "-i", ARCHIVE_ON_HOST], timeout=120)
    assert result.returncode == 0 and IMAGE in result.stdout, result.stdout + result.stderr
    return host


def test_each_host_has_its_own_store_and_config(pod_fleet, machine_state):
    for item in pod_fleet.hosts:
        info = pod_fleet.exec(item["name"], ["podman", "info", "--format", "{{.Store.GraphRoot}} {{.Store.RunRoot}} "
                                             "{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} {{.Host.EventLogger}}"])
        assert info.returncode == 0, info.stderr
        assert info.stdout.split() == ["/var/lib/containers/storage", "/run/containers/storage", "runc", "cgroupfs",
                                       "file"]
        etc = pod_fleet.exec(item["name"], ["cat", "/etc/containers/storage.conf", "/etc/containers/containers.conf"])
        assert 'graphroot = "/var/lib/containers/storage"' in etc.stdout
        assert 'cgroup_manager = "cgroupfs"' in etc.stdout
        mounts = pod_fleet.exec(item["name"], ["findmnt", "-rn", "-o", "TARGET,FSTYPE"]).stdout.splitlines()
        for target in ("/var/lib/containers tmpfs", "/run/containers tmpfs", "/run/runc tmpfs"):
            assert target in mounts
    assert _machine_podman_state()["etc"] == machine_state["etc"]  # the bind mounts stay inside the hosts


def test_base_image_from_a_file_runs_on_its_host_only(pod_fleet, base_archive, loaded, machine_state):
    other = pod_fleet.hosts[1]["name"]
    run = pod_fleet.exec(loaded, ["podman", "run", "--rm", "--network", "none", IMAGE, "/usr/bin/python3", "-c",
                                  "import json, ssl, sqlite3, sys; print(json.dumps(sys.version_info[:2]))"],
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[3, 11]"
    ids = pod_fleet.exec(loaded, ["podman", "images", "-q", "--no-trunc"]).stdout.split()
    assert [i.split(":")[-1] for i in ids] == [base_archive["image_id"]]
    # Over SSH, with no env variable at all: the session's podman finds the host's own config and store.
    over_ssh = _ssh(pod_fleet, loaded, "env | grep -c ^CONTAINERS_ || true; podman images --format "
                                       "'{{.Repository}}:{{.Tag}}'; podman run --rm --network none %s "
                                       "/usr/bin/python3 -c 'import json; print(\"json ok\")'" % IMAGE)
    assert over_ssh.returncode == 0, over_ssh.stderr
    assert over_ssh.stdout.split() == ["0", IMAGE, "json", "ok"], over_ssh.stdout + over_ssh.stderr
    # The other host never sees it; nor does the control node's default store.
    empty = pod_fleet.exec(other, ["podman", "images", "-q"])
    assert empty.returncode == 0 and empty.stdout.strip() == "", empty.stdout + empty.stderr
    assert pod_fleet.exec(other, ["podman", "image", "exists", IMAGE]).returncode == 1
    assert _machine_podman_state() == machine_state
    control = containers.podman(["images", "-q"], base_archive["env"]).stdout.split()
    assert control == [base_archive["image_id"][:12]]


PROBE = """
import errno, socket
print(sorted(name for _index, name in socket.if_nameindex()))
try:
    socket.create_connection((%r, 22), timeout=3).close()
    print("OPEN")
except OSError as exc:
    print("CLOSED", errno.errorcode.get(exc.errno, exc.errno))
"""


def test_container_without_network_reaches_nothing(pod_fleet, loaded):
    control_address = pod_fleet.host(loaded)["control_address"]
    host_address = pod_fleet.host(loaded)["address"]
    for address in (control_address, host_address):  # the control node's end, and the host's own sshd
        run = pod_fleet.exec(loaded, ["podman", "run", "--rm", "--network", "none", IMAGE, "/usr/bin/python3", "-c",
                                      PROBE % address], timeout=120)
        assert run.returncode == 0, run.stderr
        interfaces, verdict = run.stdout.strip().splitlines()
        assert interfaces == "['lo']"
        assert verdict == "CLOSED ENETUNREACH", run.stdout
    # The host itself does reach its own sshd: the container's failure is the missing network, not the port.
    host = pod_fleet.python(loaded, PROBE % host_address)
    assert host.stdout.strip().splitlines()[1] == "OPEN", host.stdout + host.stderr


def test_down_leaves_no_container_process_mount_or_cgroup(pod_fleet, loaded, machine_state):
    started = pod_fleet.exec(loaded, ["podman", "run", "--rm", "-d", "--network", "none", IMAGE, "/usr/bin/python3",
                                      "-c", "import time; time.sleep(600)"], timeout=120)
    assert started.returncode == 0, started.stderr
    cid = started.stdout.strip().splitlines()[-1]
    assert re.match(r"^[0-9a-f]{64}$", cid), started.stdout
    conmons = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc"))) if cid in fleetlib._cmdline(pid)]
    assert conmons, "no conmon/container process of %s seen" % cid
    state_dir = fleetlib.state_dir(NAME)
    pod_fleet.down()
    fleetlib._wait_dead(conmons)
    assert not [pid for pid in conmons if fleetlib._pid_alive(pid)]
    assert not [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                if cid in fleetlib._cmdline(pid) and fleetlib._pid_alive(pid)]
    with open("/proc/self/mountinfo") as handle:
        mountinfo = handle.read()
    assert state_dir not in mountinfo and not os.path.exists(state_dir)
    netns = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE, text=True, check=False).stdout
    assert not [line for line in netns.splitlines() if line.startswith(NAME + "-h")]
    leftovers = [os.path.join(root, "libpod_parent", "libpod-" + cid) for root in
                 [os.path.join("/sys/fs/cgroup", entry) for entry in os.listdir("/sys/fs/cgroup")] + ["/sys/fs/cgroup"]]
    assert not [path for path in leftovers if os.path.isdir(path)]
    assert _machine_podman_state() == machine_state
