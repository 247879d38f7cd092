"""Faults at every point of a run, over real SSH (issue 27): for each phase (survey, bundle, fetch, export, import,
push, install, report, rollback) a fault is injected while the phase runs - kill -9 of the controller's
ansible-playbook (its whole process group), a host's sshd and its sessions stopped, the control node's or a host's
disk full, a read-only target directory - and then nothing is lost: each host runs a whole generation (the one it
ran, or after the phase that switches it, the new one), every store file named by a sha256 holds those bytes (a
partial file is never left where a later run would trust it), the outside bundle and the inside store still hold
whole bundles, and at the end one run without faults converges from everything the faults left behind.

One fleet of three hosts for the module (its own, ``<PYMIGRATE_FLEET_NAME>f``); everything the control node writes
lives on a small tmpfs of the test's own (disk full: a filler file takes the rest; read-only: a read-only bind
mount of the directory, removed after). A fault starts when the phase's task banner appears in the run's output;
the fetch's, when the first file (partial or whole) of a wheel the bundle did not hold appears in its store; the
import's and the report's disk faults, at their play's banner. The run's process group is stopped while the fault
is put in place, so the phase cannot finish before it.
Independent faults share a run: at push, install and rollback host 1's sshd is stopped, host 2's disk filled and
host 3's target directories made read-only, while the control node's disk is full. The tests run in file order
over one world (each phase's faults, then the convergence). Which pairs do not apply, and why: docs/security.md,
"Faults at every point"."""

import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import threading
import time

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
    "export": "Export the bundle as one signed archive",
    "import": "Verify and import the archive into the bundle store",
    "push": "Push the wheels this host lacks",
    "install": "Install each environment from the host store",
    "report": "Build the fleet report and keep it in the migration record",
    "rollback": "Switch each environment back to the newest earlier generation",
    # The report's and the import's own banners come a moment before their quick writes: a fault of the control
    # node's disk comes at their play's banner instead, so that it is in place before they write.
    "report play": "PLAY [Report per host and fleet-wide]",
    "import play": "PLAY [Import the archive]",  # the same for the import's
}
PINS = ("1.0", "1.1", "2.0")
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
    """Keys, a survey, serial 1 (alpha 1.0) deployed; serial 2 (alpha 1.1) bundled once: every deploy below
    imports that archive (``world["next"]``) until one gets through."""
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
    world = {"fleet": own, "base": base, "ctl": ctl, "extra": str(extra), "archives": 0, "log": []}
    pair = ctl / "keys" / "signing.key", ctl / "keys" / "signing.pub"
    ansible(["ansible", "localhost", "-m", "airgap.pymigrate.bundle_archive", "-a",
             "state=keypair private_key_path=%s public_key_path=%s" % pair], own.inventory)
    run(world, "survey")
    run(world, "bundle", *bundle_args(world, "1.0"))
    run(world, "deploy", "-e", "pymigrate_archive=%s" % world["archive"])
    run(world, "bundle", *bundle_args(world, "1.1"))
    world["next"], world["wanted"] = world["archive"], "1.1"
    return world


def playbook_argv(world, name, *args):
    return [os.path.join(VENV, "bin", "ansible-playbook"), "-i", world["fleet"].inventory, "-i", world["extra"],
            "playbooks/%s.yml" % name] + list(args)


def run(world, name, *args, check=True):
    return ansible(["ansible-playbook", "-i", world["extra"], "playbooks/%s.yml" % name] + list(args),
                   world["fleet"].inventory, check=check)


def bundle_args(world, pin):
    """A bundle run's arguments: alpha at ``pin``, exported to the next archive file (``world["archive"]``)."""
    world["archives"] += 1
    world["archive"] = str(world["ctl"] / ("a%d.tar" % world["archives"]))
    return ["-e", "pymigrate_archive=%s" % world["archive"],
            "-e", json.dumps({"pymigrate_requirements": {"alpha": "==" + pin}})]


def deploy_args(world):
    return ["-e", "pymigrate_archive=%s" % world["next"]]


def run_with_fault(world, name, args, phase, inject):
    """Run a playbook; when the phase starts (its banner; the fetch: its first new file), ``inject(process)``.
    Returns (rc, output, fired); the run's time goes to the module's log."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PIP_CONFIG_FILE="/dev/null", PYTHONUNBUFFERED="1")
    started = time.monotonic()
    proc = subprocess.Popen(playbook_argv(world, name, *args), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines, fired = [], []
    watcher = None
    if phase == "fetch":
        watcher = threading.Thread(target=watch_fetch, args=(world, proc, frozen(inject), fired))
        watcher.start()
    for line in proc.stdout:
        lines.append(line)
        if phase != "fetch" and not fired and BANNER[phase] in line:
            fired.append(time.monotonic())
            frozen(inject)(proc)
    proc.wait()
    if watcher:
        watcher.join()
    world["log"].append("%s at %s: rc %s, %.0fs" % (name, phase, proc.returncode, time.monotonic() - started))
    return proc.returncode, "".join(lines), bool(fired)


def frozen(inject):
    """``inject`` with the run stopped (SIGSTOP to its process group) until the fault is in place: the phase that
    has begun cannot finish first; the run goes on (SIGCONT) under the fault."""
    def wrapped(proc):
        os.killpg(proc.pid, signal.SIGSTOP)
        try:
            inject(proc)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGCONT)
    return wrapped


def watch_fetch(world, proc, inject, fired):
    """The fetch's marker: the first file (partial or whole) of the wheel the bundle did not hold, in its store."""
    pattern = str(world["ctl"] / "outside" / "files" / "sha256" / "*" / "*" / ("alpha-%s-*" % world["fetching"]))
    while proc.poll() is None:
        if glob.glob(pattern):
            fired.append(time.monotonic())
            inject(proc)
            return
        time.sleep(0.005)


def prepare_fetch(world):
    """A pin the outside bundle does not hold, its wheel removed from the bundle's store (a leftover of an earlier
    bundle, which no manifest names): the run below has a file to fetch."""
    manifest = json.loads((world["ctl"] / "outside" / "manifest.json").read_text())
    held = " ".join(manifest["files"])
    pin = next(pin for pin in PINS if "alpha-%s-" % pin not in held)
    found = glob.glob(str(world["ctl"] / "outside" / "files" / "sha256" / "*" / "*" / ("alpha-%s-*" % pin)))
    for directory in {os.path.dirname(path) for path in found}:  # the wheel and its metadata file: one directory
        shutil.rmtree(directory)
    world["fetching"] = pin
    return pin


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


def assert_nothing_lost(world, before, switched=False, imported=False):
    """Every hash-named file whole; both bundles whole (checked by bundle_state); the inside store on the serial it
    had (``imported``: or on a newer one, whole and accepted); the survey readable; each host on its generation
    (``switched``: or on another whole one of the module's pins, the switch being one rename)."""
    assert bad_store_files(world) == []
    after = snapshot(world)
    inside = after["bundles"]["inside"], after["bundles"]["accepted"]
    assert inside == (before["bundles"]["inside"], before["bundles"]["accepted"]) or (
        imported and inside[0] == inside[1] > before["bundles"]["accepted"]), (before["bundles"], inside)
    for host, (gen, version) in after["hosts"].items():
        if switched:
            assert gen and version in PINS, (host, gen, version)
        else:
            assert (gen, version) == before["hosts"][host], host


def fault(world, run_of, phase, kind, hosts=False, directory=None, **expect):
    """One faulted run (``run_of``: playbook and arguments) and its checks once the faults are undone: the fault
    fired, the run failed (``kind`` "kill": by SIGKILL; else the control node "full", "read-only" or None, with
    ``hosts`` the hosts' faults), nothing was lost."""
    before = snapshot(world)
    with faults(world, hosts, None if kind == "kill" else kind, directory) as inject:
        rc, output, fired = run_with_fault(world, run_of[0], run_of[1], phase, kill_group if kind == "kill" else inject)
    assert fired, output[-3000:]
    if kind == "kill":
        assert rc == -signal.SIGKILL, output[-3000:]
    else:
        assert rc != 0, output[-3000:]
    assert_nothing_lost(world, before, **expect)
    return output


@contextlib.contextmanager
def faults(world, hosts=False, control=None, directory=None):
    """Yields one injector for independent faults: ``hosts`` (host 1's sshd and its sessions stopped, host 2's disk
    full, host 3's environment parent and store read-only) and ``control`` ("full": a filler takes the rest of the
    control node's tmpfs; "read-only": ``directory`` under it bind-mounted read-only). Undoes them all."""
    fleet = world["fleet"]
    h1, h2, h3 = (host["name"] for host in fleet.hosts)
    keeper = subprocess.Popen(fleetlib.exec_argv(fleet.name, h1, ["sleep", "3600"]))  # holds h1's mount namespace
    filler, done = world["ctl"] / ".filler", []

    def inject(_proc):
        if control == "full":
            fill(str(filler))
        elif control == "read-only":
            os.makedirs(directory, exist_ok=True)
            subprocess.run(["mount", "--bind", str(directory), str(directory)], check=True)
            done.append(directory)
            subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], check=True)
        if hosts:
            stop_sshd(fleet, h1)
            done.append(h1)
            fleet.exec(h2, ["sh", "-c", "; ".join(fill_script("%s/.filler" % top) for top in ("/opt", STORE))])
            fleet.exec(h3, ["sh", "-c", "for d in /opt/ft %s; do mkdir -p $d; mount --bind $d $d; "
                                        "mount -o remount,bind,ro $d; done" % STORE], check=True)

    try:
        yield inject
    finally:
        undo(world, done, keeper, filler)


def undo(world, done, keeper, filler):
    fleet = world["fleet"]
    h1, h2, h3 = (host["name"] for host in fleet.hosts)
    for item in done:
        if item == h1:
            start_sshd_in(fleet, h1, keeper.pid)
            fleet.exec(h2, ["sh", "-c", "rm -f /opt/.filler %s/.filler" % STORE])
            fleet.exec(h3, ["sh", "-c", "umount /opt/ft; umount %s; true" % STORE])
        else:
            subprocess.run(["umount", str(item)], check=False)
    keeper.kill()
    keeper.wait()
    if filler.exists():
        filler.unlink()


def fill_script(path):
    directory = os.path.dirname(path)
    return ("fallocate -l $(df --output=avail -B1 %s | tail -1) %s 2>/dev/null || dd if=/dev/zero of=%s bs=1M "
            "2>/dev/null; true" % (directory, path, path))


def fill(path):
    subprocess.run(["sh", "-c", fill_script(path)], check=True)


def stop_sshd(fleet, host):
    """The host's sshd (its pid from the fleet's records) and every session it started; the mount namespace lives
    on in a process of the test's own, so its files stay (a host that went away, not a reinstalled one)."""
    pid = fleetlib.host_pid(fleet.name, host)
    children = fleetlib._descendants([pid])
    os.kill(pid, signal.SIGKILL)
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    pids = subprocess.run(["ip", "netns", "pids", host], stdout=subprocess.PIPE, text=True, check=False).stdout.split()
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


def test_survey_under_kill_9_sshd_stopped_disk_full_and_read_only(world):
    survey = "survey", []
    fault(world, survey, "survey", "kill")
    fault(world, survey, "survey", "full", hosts=True)  # the survey writes nothing on a host: h1's sshd counts
    fault(world, survey, "survey", "read-only", directory=world["ctl"] / "survey")


@pytest.mark.parametrize("phase", ["bundle", "fetch", "export"])
def test_bundle_fetch_and_export_under_kill_9_disk_full_and_read_only(world, phase):
    """The outside phases, on the control node only; their target directory is the bundle's (the fetch's and the
    export's: the whole tmpfs, the bundle's and the archive's, as a small file's fetch may be over by the time the
    run is stopped). No archive is left where a deploy would take it."""
    target = world["ctl"] / "outside" if phase == "bundle" else world["ctl"]
    for kind in ("kill", "full", "read-only"):
        pin = prepare_fetch(world) if phase == "fetch" else "1.0"
        fault(world, ("bundle", bundle_args(world, pin)), phase, kind, directory=target)
        assert not os.path.exists(world["archive"]), world["archive"]


def test_import_under_kill_9_disk_full_and_read_only(world):
    deploy = "deploy", deploy_args(world)
    fault(world, deploy, "import", "kill", imported=True)
    fault(world, deploy, "import play", "full")
    fault(world, deploy, "import play", "read-only", directory=world["ctl"] / "inside")


def kill_then_shared_run(world, phase):
    """kill -9 at the phase; then one run in which host 1's sshd is stopped, host 2's disk is full and host 3's
    target directories are read-only, while the control node's disk is full."""
    run_of = ("rollback", []) if phase == "rollback" else ("deploy", deploy_args(world))
    switched = phase != "push"
    fault(world, run_of, phase, "kill", switched=switched, imported=True)
    fault(world, run_of, phase, "full", hosts=True, switched=switched, imported=True)


def test_push_under_kill_9_then_sshd_stopped_disks_full_and_read_only_in_one_run(world):
    kill_then_shared_run(world, "push")


def test_install_under_kill_9_then_sshd_stopped_disks_full_and_read_only_in_one_run(world):
    kill_then_shared_run(world, "install")


def test_report_under_kill_9_disk_full_and_read_only(world):
    """The report runs after every host's switch: the hosts reach the new serial, the report cannot be kept."""
    deploy = "deploy", deploy_args(world)
    fault(world, deploy, "report", "kill", switched=True, imported=True)
    fault(world, deploy, "report play", "full", switched=True, imported=True)
    fault(world, deploy, "report play", "read-only", directory=world["ctl"] / "reports", switched=True, imported=True)


def test_rollback_under_kill_9_then_sshd_stopped_disks_full_and_read_only_in_one_run(world):
    kill_then_shared_run(world, "rollback")


def test_one_run_without_faults_converges_from_all_they_left(world):
    """Survey, bundle a new serial (alpha 2.0), deploy it: every host on it, every store file whole."""
    run(world, "survey")
    assert survey_hosts(world) == sorted(h["name"] for h in world["fleet"].hosts)
    run(world, "bundle", *bundle_args(world, "2.0"))
    run(world, "deploy", "-e", "pymigrate_archive=%s" % world["archive"])
    state = bundle_state(world)
    assert state["outside"] == state["inside"] == state["accepted"], state
    assert {version for _gen, version in host_state(world).values()} == {"2.0"}
    assert bad_store_files(world) == []
    print("\n".join(world["log"]))
