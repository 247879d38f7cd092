"""Faults at every point of a run, over real SSH (issue 27): for each phase (survey, bundle, fetch, export, import,
push, install, report, rollback) a fault is injected while the phase runs - kill -9 of the controller's
ansible-playbook (its whole process group), a host's sshd and its sessions stopped, the control node's or a host's
disk full, a read-only target directory - and then nothing is lost: the hosts still run the generation they ran
(or, for a rollback, one of the two generations, never a broken one), every store file named by a sha256 holds
those bytes (a partial file is never left where a later run would trust it), the outside bundle and the inside
store still hold whole bundles, and a re-run without the fault converges.

One fleet of three hosts for the module (its own, ``<PYMIGRATE_FLEET_NAME>f``); everything the control node writes
lives on a small tmpfs of the test's own (disk full: a filler file takes the rest; read-only: a read-only bind
mount of the directory, removed after). Faults start when the phase's task banner appears in the run's output.
Which pairs do not apply, and why: docs/security.md, "Faults at every point"."""

import contextlib
import json
import os
import signal
import subprocess

import pytest
import yaml

from tests.fleet import fleetlib
from tests.fleet.fixtures import ROOT, VENV, _unavailable_reason, ansible, own_fleet

pytestmark = pytest.mark.fleet

NAME = os.environ.get("PYMIGRATE_FLEET_NAME", "pm")[:11] + "f"
ENV = "/opt/ft/venv"
STORE = "/var/lib/pymigrate/store"
BANNER = {
    "survey": "TASK [Collect target facts]",
    "bundle": "Resolve every profile and fetch its wheels into the bundle",
    "fetch": "Resolve every profile and fetch its wheels into the bundle",
    "export": "Export the bundle as one signed archive",
    "import": "Verify and import the archive into the bundle store",
    "push": "Push the wheels this host lacks",
    "install": "Install each environment from the host store",
    "report": "Build the fleet report and keep it in the migration record",
    "rollback": "Switch each environment back to the newest earlier generation",
}
# Every file below a directory named by a 64-hex sha256 must hold those bytes (partials end in .part, never trusted).
CHECK_STORE = r"""
import hashlib, json, os, sys
bad = []
for top in sys.argv[1:]:
    for d, _dirs, names in os.walk(top):
        h = os.path.basename(d)
        if len(h) != 64 or not all(c in "0123456789abcdef" for c in h):
            continue
        for n in names:
            if n.endswith((".part", ".metadata", ".provenance")) or ".tmp-" in n:  # not the hashed bytes
                continue
            with open(os.path.join(d, n), "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() != h:
                    bad.append(os.path.join(d, n))
print(json.dumps(bad))
"""
VERSION = "import importlib.metadata as m; print(m.version('alpha'))"


@pytest.fixture(scope="module")
def world(local_index, tmp_path_factory):
    reason = _unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail("CI must run the fleet tests: " + reason)
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("faults")
    ctl = base / "ctl"
    ctl.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96M,mode=0700", "tmpfs", str(ctl)], check=True)
    try:
        with own_fleet(NAME, 3, tmpfs_size="192M", pythons=["3.11", "3.12"]) as own:
            yield _prepare(own, local_index, base, ctl)
    finally:
        subprocess.run(["umount", "-l", str(ctl)], check=False)


def _prepare(own, index, base, ctl):
    common = {"pymigrate_requirements": {"alpha": "==1.0"}, "pymigrate_venv_path": ENV,
              "pymigrate_serial": ["100%"], "pymigrate_max_fail_percentage": 100,
              "pymigrate_report_dir": str(ctl / "reports"), "pymigrate_import_dir": str(ctl / "inside"),
              "pymigrate_lock_dir": str(ctl / "lock"), "pymigrate_index_url": index.url,
              "pymigrate_bundle_dir": str(ctl / "outside"), "pymigrate_survey_file": str(ctl / "survey" / "s.json"),
              "pymigrate_signing_key": str(ctl / "keys" / "signing.key"),
              "pymigrate_trusted_keys": [str(ctl / "keys" / "signing.pub")]}
    (ctl / "survey").mkdir()
    (ctl / "keys").mkdir()
    extra = base / "vars.yml"
    extra.write_text(yaml.safe_dump({"all": {"vars": common}}))
    world = {"fleet": own, "base": base, "ctl": ctl, "extra": str(extra), "serial": 0, "pins": ["1.0", "1.1"]}
    pair = ctl / "keys" / "signing.key", ctl / "keys" / "signing.pub"
    ansible(["ansible", "localhost", "-m", "airgap.pymigrate.bundle_archive", "-a",
             "state=keypair private_key_path=%s public_key_path=%s" % pair], own.inventory)
    run(world, "survey")
    new_archive(world)
    run(world, "deploy", *archive_args(world))
    return world


def playbook_argv(world, name, *args):
    return [os.path.join(VENV, "bin", "ansible-playbook"), "-i", world["fleet"].inventory, "-i", world["extra"],
            "playbooks/%s.yml" % name] + list(args)


def run(world, name, *args, check=True):
    return ansible(["ansible-playbook", "-i", world["extra"], "playbooks/%s.yml" % name] + list(args),
                   world["fleet"].inventory, check=check)


def archive_args(world):
    return ["-e", "pymigrate_archive=%s" % (world["ctl"] / ("a%d.tar" % world["serial"]))]


def new_archive(world):
    """Bundle the next pin (alternating alpha 1.0 and 1.1) and export it: a serial the inside has not seen."""
    world["pins"].reverse()
    world["serial"] += 1
    run(world, "bundle", *archive_args(world), "-e",
        json.dumps({"pymigrate_requirements": {"alpha": "==" + world["pins"][-1]}}))


def run_with_fault(world, name, args, phase, inject):
    """Run a playbook; when the phase's banner appears, ``inject(process)``. Returns (rc, output, fired)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PIP_CONFIG_FILE="/dev/null", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(playbook_argv(world, name, *args), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines, fired = [], False
    for line in proc.stdout:
        lines.append(line)
        if not fired and BANNER[phase] in line:
            fired = True
            inject(proc)
    proc.wait()
    return proc.returncode, "".join(lines), fired


def kill_group(proc):
    os.killpg(proc.pid, signal.SIGKILL)


def host_state(world):
    """Per host: the generation its environment points at and the alpha it imports."""
    fleet, state = world["fleet"], {}
    for host in fleet.hosts:
        name = host["name"]
        gen = fleet.exec(name, ["readlink", "-f", ENV]).stdout.strip()
        version = fleet.exec(name, [ENV + "/bin/python", "-c", VERSION]).stdout.strip()
        state[name] = (gen, version)
    return state


def bad_store_files(world):
    """Hash-named files whose bytes are not their name's, on the control node and on every host."""
    fleet = world["fleet"]
    found = json.loads(subprocess.run(["python3", "-c", CHECK_STORE, str(world["ctl"])], check=True,
                                      stdout=subprocess.PIPE, text=True).stdout)
    for host in fleet.hosts:
        out = fleet.exec(host["name"], [host["python"], "-c", CHECK_STORE, STORE], check=True).stdout
        found += ["%s:%s" % (host["name"], path) for path in json.loads(out)]
    return found


def bundle_state(world):
    """Serials of the outside bundle and of the inside store's current bundle, each checked whole."""
    found = {}
    for key, directory in (("outside", world["ctl"] / "outside"), ("inside", world["ctl"] / "inside" / "current")):
        manifest = json.loads((directory / "manifest.json").read_text())
        missing = [path for path in manifest["files"] if not (directory / path).is_file()]
        assert missing == [], (key, missing)
        found[key] = manifest["serial"]
    found["accepted"] = json.loads((world["ctl"] / "inside" / "accepted.json").read_text())["serial"]
    return found


def survey_hosts(world):
    return sorted(json.loads((world["ctl"] / "survey" / "s.json").read_text())["hosts"])


def snapshot(world):
    return {"hosts": host_state(world), "bundles": bundle_state(world), "survey": survey_hosts(world)}


def assert_nothing_lost(world, before, rollback=False, imported=False):
    """Every hash-named file whole; both bundles whole (checked by bundle_state), the inside store on the serial it
    had; the survey readable; each host on its generation (``rollback``: on one of the two, importing)."""
    assert bad_store_files(world) == []
    after = snapshot(world)
    inside = after["bundles"]["inside"], after["bundles"]["accepted"]
    # A fault after the import (push, install, report) finds the new serial imported whole, else the old one.
    assert inside == (before["bundles"]["inside"], before["bundles"]["accepted"]) or rollback or (
        imported and inside[0] == inside[1] > before["bundles"]["accepted"])
    for host, (gen, version) in after["hosts"].items():
        if rollback:  # the switch is one rename: the previous generation or the one before it, whole
            assert version in ("1.0", "1.1") and gen, (host, gen, version)
        else:
            assert (gen, version) == before["hosts"][host], host


def converge(world, phase):
    """A run without the fault finishes, and the fleet holds what it asked for."""
    if phase in ("survey",):
        run(world, "survey")
        assert survey_hosts(world) == sorted(h["name"] for h in world["fleet"].hosts)
    elif phase in ("bundle", "fetch", "export"):
        new_archive(world)
        assert bundle_state(world)["outside"] > 0 and (world["ctl"] / ("a%d.tar" % world["serial"])).is_file()
    elif phase == "rollback":
        run(world, "deploy", *archive_args(world))
    else:
        run(world, "deploy", *archive_args(world))
        wanted = world["pins"][-1]
        assert {version for _gen, version in host_state(world).values()} == {wanted}
    assert bad_store_files(world) == []


def phase_run(world, phase):
    """The playbook (and arguments) whose run goes through the phase, with a new serial waiting when it deploys."""
    if phase == "survey":
        return "survey", []
    if phase in ("bundle", "fetch", "export"):
        world["serial"] += 1
        world["pins"].reverse()
        return "bundle", archive_args(world) + ["-e", json.dumps(
            {"pymigrate_requirements": {"alpha": "==" + world["pins"][-1]}})]
    if phase == "rollback":
        return "rollback", []
    new_archive(world)
    return "deploy", archive_args(world)


@pytest.mark.parametrize("phase", list(BANNER))
def test_kill_9_of_the_controller_at_each_phase_loses_nothing(world, phase):
    name, args = phase_run(world, phase)
    before = snapshot(world)
    rc, output, fired = run_with_fault(world, name, args, phase, kill_group)
    assert fired and rc == -signal.SIGKILL, output[-3000:]
    assert_nothing_lost(world, before, rollback=phase == "rollback", imported=phase in ("push", "install", "report"))
    converge(world, phase)


@contextlib.contextmanager
def host_faults(world, phase):
    """Host 1: sshd and its sessions stopped; host 2: its disk full (/opt and the store); host 3: the environment's
    parent and the store read-only (bind mounts in its own mount namespace). Yields the injector; undoes all."""
    fleet = world["fleet"]
    h1, h2, h3 = (host["name"] for host in fleet.hosts)
    keeper = subprocess.Popen(fleetlib.exec_argv(fleet.name, h1, ["sleep", "3600"]))  # holds h1's mount namespace
    stopped = []

    def inject(_proc):
        stop_sshd(fleet, h1)
        stopped.append(h1)
        fleet.exec(h2, ["sh", "-c", "for d in /opt %s; do fallocate -l $(df --output=avail -B1 $d | tail -1) "
                                    "$d/.filler 2>/dev/null || dd if=/dev/zero of=$d/.filler bs=1M 2>/dev/null; "
                                    "done; true" % STORE], check=True)
        fleet.exec(h3, ["sh", "-c", "for d in /opt/ft %s; do mkdir -p $d; mount --bind $d $d; "
                                    "mount -o remount,bind,ro $d; done" % STORE], check=True)

    try:
        yield inject
    finally:
        if stopped:
            start_sshd_in(fleet, h1, keeper.pid)
        keeper.kill()
        keeper.wait()
        fleet.exec(h2, ["sh", "-c", "rm -f /opt/.filler %s/.filler" % STORE])
        fleet.exec(h3, ["sh", "-c", "umount /opt/ft; umount %s; true" % STORE])


def stop_sshd(fleet, host):
    """The host's sshd (its pid from the fleet's records) and every session it started; the mount namespace lives
    on in a process of the test's own, so its files stay (a host that went away, not a reinstalled one)."""
    pid = fleetlib.host_pid(fleet.name, host)
    os.kill(pid, signal.SIGKILL)
    children = fleetlib._descendants([pid])
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    pids = subprocess.run(["ip", "netns", "pids", host], stdout=subprocess.PIPE, text=True).stdout.split()
    for other in pids:  # sessions that outlived their parent (a ControlPersist master's)
        if int(other) != pid and "sshd" in fleetlib._cmdline(int(other)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(other), signal.SIGKILL)


def start_sshd_in(fleet, host, keeper):
    item = fleet.host(host)
    config = os.path.join(item["state_dir"], "sshd_config")
    subprocess.run(["nsenter", "-t", str(keeper), "-n", "-m", "-u", "--", fleetlib._which("sshd"), "-f", config],
                   check=True)
    fleetlib._wait_for_ssh(item)


@pytest.mark.parametrize("phase", ["survey", "push", "install", "rollback"])
def test_a_host_gone_full_or_read_only_loses_nothing(world, phase):
    name, args = phase_run(world, phase)
    before = snapshot(world)
    with host_faults(world, phase) as inject:
        rc, output, fired = run_with_fault(world, name, args, phase, inject)
        assert fired, output[-3000:]
        if phase != "survey":
            assert rc != 0, output[-3000:]
    assert_nothing_lost(world, before, rollback=phase in ("rollback", "survey"), imported=phase != "survey")
    converge(world, phase)


@contextlib.contextmanager
def control_fault(world, kind, directory):
    """Disk full (a filler takes the rest of the control node's tmpfs) or ``directory`` read-only (a bind mount)."""
    filler = world["ctl"] / ".filler"
    mounted = []

    def inject(_proc):
        if kind == "full":
            script = ("fallocate -l $(df --output=avail -B1 %s | tail -1) %s || dd if=/dev/zero of=%s bs=1M "
                      "2>/dev/null; true" % (world["ctl"], filler, filler))
            subprocess.run(["sh", "-c", script], check=True)
        else:
            os.makedirs(directory, exist_ok=True)
            subprocess.run(["mount", "--bind", str(directory), str(directory)], check=True)
            mounted.append(directory)
            subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], check=True)

    try:
        yield inject
    finally:
        for path in mounted:
            subprocess.run(["umount", str(path)], check=False)
        if filler.exists():
            filler.unlink()


WRITES = {"survey": "survey", "bundle": "outside", "fetch": "outside", "export": ".", "import": "inside",
          "push": "reports", "install": "reports", "report": "reports", "rollback": "reports"}


@pytest.mark.parametrize("kind", ["full", "read-only"])
@pytest.mark.parametrize("phase", list(BANNER))
def test_the_control_node_full_or_read_only_loses_nothing(world, phase, kind):
    name, args = phase_run(world, phase)
    before = snapshot(world)
    with control_fault(world, kind, world["ctl"] / WRITES[phase]) as inject:
        rc, output, fired = run_with_fault(world, name, args, phase, inject)
    assert fired, output[-3000:]
    assert rc != 0 or phase in ("push", "install", "rollback", "survey"), output[-3000:]
    # The fault hits the report's directory: the run's push and install go on, the report cannot be written.
    assert_nothing_lost(world, before, rollback=phase in ("push", "install", "rollback"),
                        imported=phase in ("push", "install", "report"))
    converge(world, phase)
