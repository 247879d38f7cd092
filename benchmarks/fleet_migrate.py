"""Benchmark: roll a real bundle out to 8, 24 and 48 air-gapped fleet hosts, against the playbooks users write.

    .venv/bin/python benchmarks/fleet_migrate.py [--sizes 8,24,48] [--installer pip,uv] [--forks N]
                                                 [--host-storage tmpfs|disk] [--plain-max-hosts 8]
                                                 [--requirements requests,boto3,...|FILE]

Needs root (the fleet: tests/fleet/fleetlib.py, name pmb, Python 3.11 and 3.12 hosts, round robin).

Preparation, outside every timing:
- seed: a 2-host fleet is surveyed and playbooks/bundle.yml builds the set (default: the bundle benchmark's
  15 projects, benchmarks/bundle_build.py; --requirements names others, comma-separated or a file with one a
  line) plus uv from the public index - the only step that uses the network. Its wheels become a mirror, a
  PEP 503/691 index with PEP 658 metadata on 127.0.0.1 (tests/index/server.py), as a LAN mirror serves an
  enclave's control node: every later build, and the timed migrate.yml no-op, reads that mirror, never the
  public index;
- per size: the free memory is checked and the size refused, with what it needs, when it will not fit: each
  host's tmpfs files (what the previous size's approaches left on host 1 at most, plus 5 %; before any
  measurement an estimate from the wheels' packed and unpacked sizes) plus 16 MiB for its sshd, 160 MiB for
  each busy host (at most --forks at once) and 1.5 GiB for the controller, against MemAvailable. With the
  default set the baselines leave about 400 MB per host (wheels plus venv), so 48 hosts need about 25 GiB
  and are refused on a 24 GiB machine unless --host-storage disk: then a directory of
  /var/cache/pymigrate-fleet-bench/<host>/ is bind-mounted over each host's /opt and /var/lib/pymigrate
  (inside its mount namespace), the files count against free disk (plus 5 GiB) instead of memory, and the
  times include the page cache's writeback (compare sizes within one storage kind only). The tmpfs cap of
  each host mount is 1.5 times the estimate. Then the fleet comes up, playbooks/bundle.yml builds the
  bundle from the mirror for its hosts, and each profile's wheels are packed once into a versioned .tar.gz
  (top directory plain-tarball-<python>-<digest>/, a RELEASE file as its last member).

Timed, per size, on the same hosts, each approach starting from hosts it left clean (the previous approach's
/var/lib/pymigrate/*, /opt/pymigrate and /opt/plain* are removed between approaches, untimed, so that the
hosts' tmpfs memory stays bounded); every ansible command with ANSIBLE_CONFIG=ansible.cfg (forks 16 unless
--forks):
- ping (the floor): `ansible all -i INVENTORY -m ansible.builtin.ping`, twice, the second counts (warm
  SSH control sockets, as every later run has);
- ours, per --installer (pip, the default, and optionally uv as `-e pymigrate_installer=uv`, bundled by
  its own untimed bundle.yml run): `ansible-playbook playbooks/rollout.yml -e '{"pymigrate_serial":
  ["100%"]}'` first run, then its no-op re-run, then `playbooks/migrate.yml` no-op re-run (the full job:
  survey, bundle from the mirror, rollout, report), one batch. Bytes our no-op sent: the report's
  summary.json. An installer run that fails (or an installer this revision does not know: uv while
  pymigrate_installer is not in roles/*/meta/argument_specs.yml) is printed with its reason and left out;
  the rest still runs;
- the first run's floor (with --installer uv, after ours): the bytes our push sent each host (its slice's
  files, one uncompressed tar) through one bare ssh stream per host, all hosts at once (at most --forks), then
  on every host at once, started inside it (no Ansible, no ssh), the unpack and `uv pip install --offline
  --no-deps --no-index` of the same wheels into a fresh venv; and that install on one host alone. floor_first_s
  is the transfer plus the install on every host; ours_uv_first/floor_first compares ours with it;
- plain (at sizes up to --plain-max-hosts, default 8: it is the weak baseline and the slowest):
  ansible.builtin.copy of the profile's wheel directory, a venv (`creates:`), then the venv's pip
  with --no-index --find-links (ansible.builtin.pip needs packaging importable by the host's Python, which
  these hosts lack) - first run, then its re-run;
- tarball: an experienced user's playbook: ansible.builtin.unarchive of the tarball from the control node
  (copied by unarchive) with `creates:` on the release's RELEASE file, so a re-run neither copies nor
  unpacks; the venv with `creates:`; on a re-run a check that the venv holds every requirement; pip
  --no-index --find-links only when the tarball was unpacked or the check failed - first run, then re-run;
- synchronize: ansible.posix.synchronize of the wheel directory plus the same venv and pip steps, only
  when the ansible.posix collection (as this checkout's ansible.cfg finds collections) and rsync are
  present; otherwise "synchronize: skipped (...)" is printed. Nothing is installed for it.

Prints one JSON row per size (every time in seconds; the ratios ours_first/tarball_first,
ours_first/plain_first, ours_noop/ping, migrate_noop/ping, ours_noop/tarball_noop, ours_uv_first/floor_first;
the floor's parts; the bytes our no-ops sent; the changed counts of the no-ops' recaps; the MB each approach
left on host 1, by du) and the per-task profile of each timed run (benchmarks/timing.py), then
{"results": [...]}. No timing is asserted.
"""

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import timing  # noqa: E402  pylint: disable=wrong-import-position
from bundle_build import REQUIREMENTS, public_index_url  # noqa: E402  pylint: disable=wrong-import-position

from tests.fleet import fleetlib  # noqa: E402  pylint: disable=wrong-import-position
from tests.index import catalog  # noqa: E402  pylint: disable=wrong-import-position
from tests.index.server import IndexServer  # noqa: E402  pylint: disable=wrong-import-position

NAME = os.environ.get("PYMIGRATE_FLEET_NAME", "pmb")
PYTHONS = ["3.11", "3.12"]
BIN = os.path.join(ROOT, ".venv", "bin")
ONE_BATCH = ["-e", '{"pymigrate_serial": ["100%"]}']  # like the baselines: all hosts at once
CLEAN = "rm -rf /var/lib/pymigrate/* /opt/pymigrate /opt/plain* /var/tmp/.ansible-tmp/*"
HOST_DIRS = ["/opt", "/var/lib/pymigrate", "/var/tmp", "/tmp", "/root/.ansible"]
DISK_ROOT = "/var/cache/pymigrate-fleet-bench"  # outside the hosts' private dirs, so visible inside them
CONTROLLER_HEADROOM = 1536 * 1024 ** 2  # ansible-playbook and its forks, the mirror
SESSION_MEMORY = 16 * 1024 ** 2  # per host: its sshd and an idle session
BUSY_MEMORY = 160 * 1024 ** 2  # per busy host (at most --forks at once): pip or a module's Python

PLAIN = """
- name: Plain offline install (what users do today)
  hosts: fleet
  gather_facts: false
  tasks:
    - name: Copy the wheel directory
      ansible.builtin.copy:
        src: "{{ wheel_root }}/{{ fleet_python_version }}/"
        dest: /opt/plain-wheels/
        mode: "0644"
    # ansible.builtin.pip needs packaging importable by the host's Python, which a bare server Python lacks,
    # so the venv's own pip is called the way users then fall back to.
    - name: Create the virtual environment
      ansible.builtin.command: "{{ ansible_python_interpreter }} -m venv /opt/plain/venv"
      args:
        creates: /opt/plain/venv/bin/pip
    - name: Install with pip from the copied directory
      ansible.builtin.command: >-
        /opt/plain/venv/bin/pip install --no-index --find-links /opt/plain-wheels
        {{ requirements | map('quote') | join(' ') }}
      register: plain_pip
      changed_when: "'Successfully installed' in plain_pip.stdout"
"""

# Shared by the tarball and synchronize playbooks: a venv once, pip only when the wheels changed or the venv
# lacks a requirement.
VENV_AND_PIP = """
    - name: Create the virtual environment
      ansible.builtin.command: "{{ ansible_python_interpreter }} -m venv %(venv)s"
      args:
        creates: %(venv)s/bin/pip
    - name: Check that the venv holds every requirement
      ansible.builtin.command: >-
        %(venv)s/bin/python -c "import importlib.metadata as m, sys; [m.distribution(n) for n in sys.argv[1:]]"
        {{ requirement_names | map('quote') | join(' ') }}
      register: venv_check
      changed_when: false
      failed_when: false
      when: wheels is not changed
    - name: Install with pip from the wheel directory
      ansible.builtin.command: >-
        %(venv)s/bin/pip install --no-index --find-links %(wheels)s {{ requirements | map('quote') | join(' ') }}
      register: venv_pip
      changed_when: "'Successfully installed' in venv_pip.stdout"
      when: wheels is changed or venv_check.rc | default(0) != 0
"""

TARBALL = """
- name: Tarball offline install (an experienced user's playbook)
  hosts: fleet
  gather_facts: false
  vars:
    release: "{{ tarballs[fleet_python_version] }}"
  tasks:
    - name: Unpack the release's wheel tarball (copied from the control node; skipped when it is unpacked)
      ansible.builtin.unarchive:
        src: "{{ release.path }}"
        dest: /opt/
        creates: "/opt/{{ release.top }}/RELEASE"
      register: wheels
""" + VENV_AND_PIP % {"venv": "/opt/plain-tarball/venv", "wheels": "/opt/{{ release.top }}"}

SYNC = """
- name: rsync offline install
  hosts: fleet
  gather_facts: false
  tasks:
    - name: Synchronize the wheel directory
      ansible.posix.synchronize:
        src: "{{ wheel_root }}/{{ fleet_python_version }}/"
        dest: /opt/plain-sync/wheels/
        delete: true
      register: wheels
""" + VENV_AND_PIP % {"venv": "/opt/plain-sync/venv", "wheels": "/opt/plain-sync/wheels"}


class RunFailed(Exception):
    pass


def env_for(forks):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), PIP_CONFIG_FILE=os.devnull)
    if forks:
        env["ANSIBLE_FORKS"] = str(forks)
    return env


PROFILES = {}  # title -> the timing table of the run (benchmarks/timing.py), printed with the row


def run(argv, forks=None, profile=None):
    """(seconds, output) of one ansible command; RunFailed with the output's tail when it fails. profile: a
    title; the run's per-task table (the pymigrate_timing callback) is kept in PROFILES under it."""
    env = env_for(forks)
    if profile:
        handle, out_path = tempfile.mkstemp(prefix="pymigrate-timing-", suffix=".json")
        os.close(handle)
        env = timing.env(env, out_path)
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, env=env, check=False, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RunFailed("%s exited %d:\n%s" % (" ".join(argv[:6]), result.returncode, result.stdout[-3000:]))
    if profile:
        PROFILES[profile] = timing.table(timing.read(out_path, time.time()))
        os.unlink(out_path)
    return seconds, result.stdout


def playbook(inventories, path, *extra, forks=None, profile=None):
    argv = [os.path.join(BIN, "ansible-playbook")]
    for inventory in inventories:
        argv += ["-i", inventory]
    return run(argv + [path] + list(extra), forks, profile)


def recap_changed(output):
    """Sum of changed= over the PLAY RECAP."""
    recap = output.rsplit("PLAY RECAP", 1)[-1]
    return sum(int(n) for n in re.findall(r"\bchanged=(\d+)", recap))


def requirement_name(requirement):
    return re.split(r"[\[<>=!~;@ ]", requirement.strip(), maxsplit=1)[0]


def parse_requirements(value):
    if os.path.isfile(value):
        with open(value) as handle:
            items = [line.split("#", 1)[0].strip() for line in handle]
    else:
        items = [item.strip() for item in value.split(",")]
    return [item for item in items if item]


def write_json(path, data):
    with open(path, "w") as handle:
        json.dump(data, handle)
    return path


def make_mirror(seed_dir, mirror_dir):
    """An index directory for tests/index/server.py from every wheel of the seed bundle (PEP 658 metadata)."""
    flat = os.path.join(mirror_dir, "flat")
    os.makedirs(flat)
    for path in glob.glob(os.path.join(seed_dir, "**", "*.whl"), recursive=True):
        if "/.cache/" not in path and not os.path.exists(os.path.join(flat, os.path.basename(path))):
            os.link(path, os.path.join(flat, os.path.basename(path)))
    catalog.build(mirror_dir, catalog=[], include_pip=False)
    names = {os.path.basename(path).split("-")[0] for path in glob.glob(os.path.join(flat, "*.whl"))}
    added = catalog.add_wheel_files(mirror_dir, flat, names=names)
    shutil.rmtree(flat)
    return len(added)


def profile_files(bundle_dir):
    """{python X.Y: [absolute wheel paths]} of a bundle's manifest."""
    with open(os.path.join(bundle_dir, "manifest.json")) as handle:
        manifest = json.load(handle)
    files = {}
    for profile in manifest["profiles"].values():
        version = profile["target"]["python"].rsplit(".", 1)[0] if profile["target"]["python"].count(".") > 1 \
            else profile["target"]["python"]
        files.setdefault(version, set()).update(os.path.join(bundle_dir, rel) for rel in profile["files"])
    return {version: sorted(paths) for version, paths in files.items()}


def footprint(files):
    """(wheel bytes, unpacked bytes) of the largest profile."""
    best = (0, 0)
    for paths in files.values():
        packed = sum(os.path.getsize(path) for path in paths)
        unpacked = 0
        for path in paths:
            with zipfile.ZipFile(path) as archive:
                unpacked += sum(info.file_size for info in archive.infolist())
        best = max(best, (packed, unpacked))
    return best


def per_host_need(files, measured):
    """Bytes one host's tmpfs mounts may hold at once: what the previous size measured (the most any approach
    left on host 1, plus 5 %), else an estimate: the wheels twice (a copy in transit plus the unpacked copy or
    store) and the venv (unpacked files plus their .pyc, about 1.4 times). Returns (bytes, packed, unpacked)."""
    packed, unpacked = footprint(files)
    estimate = int(1.05 * measured) if measured else 2 * packed + int(1.4 * unpacked)
    return estimate, packed, unpacked


def mem_available():
    with open("/proc/meminfo") as handle:
        meminfo = dict(line.split(":", 1) for line in handle)
    return int(meminfo["MemAvailable"].split()[0]) * 1024


def clean_hosts(hosts):
    for host in hosts:
        subprocess.run(fleetlib.exec_argv(NAME, host, ["sh", "-c", CLEAN]), check=False)


def host_used_mb(host):
    """MB the last approach left in the host's private dirs (du: also right for --host-storage disk)."""
    out = subprocess.run(fleetlib.exec_argv(NAME, host, ["du", "-skx"] + HOST_DIRS), check=False,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.split()
    return round(sum(int(n) for n in out[0::2] if n.isdigit()) / 1024, 1)


def bind_disk(hosts):
    """--host-storage disk: a directory of DISK_ROOT bind-mounted over each host's /opt and /var/lib/pymigrate,
    inside the host's mount namespace (its later sessions see it)."""
    for host in hosts:
        for target, part in (("/opt", "opt"), ("/var/lib/pymigrate", "lib")):
            source = os.path.join(DISK_ROOT, host, part)
            os.makedirs(source, mode=0o755)
            subprocess.run(fleetlib.exec_argv(NAME, host, ["mount", "--bind", source, target]), check=True)


def summary_bytes(report_dir):
    with open(os.path.join(report_dir, "summary.json")) as handle:
        return sum(item["bytes_sent"] for item in json.load(handle)["hosts"])


def installer_known(installer):
    if installer == "pip":
        return True
    specs = glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml"))
    return any(re.search(r"^\s+pymigrate_installer:", open(path).read(), re.M) for path in specs)


def synchronize_missing(forks):
    reasons = []
    result = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", "module", "-j", "ansible.posix.synchronize"],
                            cwd=ROOT, env=env_for(forks), check=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    if result.returncode != 0 or '"ansible.posix.synchronize"' not in result.stdout:
        reasons.append("the ansible.posix collection is not installed where ansible.cfg looks")
    if not shutil.which("rsync"):  # the hosts share the control node's /usr, so one check covers both ends
        reasons.append("rsync is not installed")
    return "; ".join(reasons)


def seed(work, requirements, forks):
    """The one network step: the set (and uv) from the public index, for the fleet's profiles."""
    inventory = fleetlib.up(NAME, len(PYTHONS), tmpfs_size="64M", pythons=PYTHONS)
    try:
        seed_dir = os.path.join(work, "seed")
        extra = write_json(os.path.join(work, "seed-vars.json"), {"all": {"vars": {
            "pymigrate_index_url": public_index_url(), "pymigrate_bundle_dir": seed_dir,
            "pymigrate_requirements": requirements + ["uv"]}}})
        seconds, _out = playbook([inventory, extra], "playbooks/bundle.yml", forks=forks)
    finally:
        fleetlib.down(NAME)
    count = make_mirror(seed_dir, os.path.join(work, "mirror"))
    print("seed: %d wheels from the public index in %.1f s (untimed), served on 127.0.0.1" % (count, seconds),
          flush=True)
    return seed_dir


def pack_tarballs(work, files):
    """{X.Y: {path, top}}: each profile's wheels in one versioned .tar.gz, RELEASE last."""
    tarballs = {}
    for version, paths in files.items():
        digest = hashlib.sha256("\n".join(sorted(os.path.basename(p) for p in paths)).encode()).hexdigest()[:12]
        top = "plain-tarball-%s-%s" % (version, digest)
        path = os.path.join(work, top + ".tar.gz")
        if not os.path.exists(path):
            release = os.path.join(work, "RELEASE-" + version)
            with open(release, "w") as handle:
                handle.write(digest + "\n")
            with tarfile.open(path + ".part", "w:gz") as archive:
                for wheel in paths:
                    archive.add(wheel, arcname="%s/%s" % (top, os.path.basename(wheel)))
                archive.add(release, arcname=top + "/RELEASE")
            os.rename(path + ".part", path)
        tarballs[version] = {"path": path, "top": top}
    return tarballs


FLOOR_DIR = "/var/tmp/pymigrate-floor"  # on each host (private): the bare transfer's tar, unpacked, and the venv
UV_MEMBER = re.compile(r"^uv-[^/]+\.data/scripts/uv$")


def host_slice_file(bundle_dir, host):
    """A host's slice of the bundle's current serial (docs/bundle-format.md, slices/)."""
    with open(os.path.join(bundle_dir, "slices", "current")) as handle:
        serial = handle.read().strip()
    name = "%s-%s.json" % (re.sub(r"[^A-Za-z0-9_.-]", "_", host)[:80], hashlib.sha256(host.encode()).hexdigest()[:12])
    with open(os.path.join(bundle_dir, "slices", serial, name)) as handle:
        return json.load(handle)


def floor_tar(work, bundle_dir, host_slice):
    """The bytes our push sends this host (every file of its slice), in one uncompressed tar named by wheel file
    name (uv installs wheels by their names); one tar per distinct slice."""
    paths = sorted(item["path"] for item in host_slice["files"])
    digest = hashlib.sha256("\n".join(paths).encode()).hexdigest()[:12]
    path = os.path.join(work, "floor-%s.tar" % digest)
    if not os.path.exists(path):
        with tarfile.open(path + ".part", "w") as archive:
            for rel in paths:
                archive.add(os.path.join(bundle_dir, rel), arcname=os.path.basename(rel))
        os.rename(path + ".part", path)
    return path


def ssh_argv(status, host_record):
    known_hosts = os.path.join(fleetlib.state_dir(status["name"]), "known_hosts")
    return ["ssh", "-i", status["key"], "-o", "UserKnownHostsFile=" + known_hosts, "-o", "StrictHostKeyChecking=yes",
            "-o", "Compression=no", "-o", "BatchMode=yes", "%s@%s" % (status.get("user") or "root",
                                                                      host_record["address"])]


def at_once(commands, limit):
    """Runs the (argv, stdin path) commands, at most ``limit`` at a time; seconds until the last ends. Fails on any
    non-zero exit, with its output."""
    started, pending, running = time.perf_counter(), list(commands), []
    while pending or running:
        while pending and len(running) < limit:
            argv, stdin_path = pending.pop(0)
            stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # pylint: disable=consider-using-with
            running.append((subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,  # pylint: disable=consider-using-with
                                             stderr=subprocess.STDOUT), stdin))
        process, stdin = running.pop(0)
        output = process.communicate()[0]
        if stdin is not subprocess.DEVNULL:
            stdin.close()
        if process.returncode != 0:
            step = " ".join(process.args[-2:])
            raise RunFailed("floor step %s exited %d: %s"
                            % (step, process.returncode, output.decode(errors="replace")[-1500:]))
    return time.perf_counter() - started


# uv's binary out of the bundle's uv wheel, as the install on a host takes it (python zipfile: no unzip needed).
EXTRACT_UV = ("import sys, zipfile, re; z = zipfile.ZipFile(sys.argv[1]); "
              "open('uv', 'wb').write(z.read([n for n in z.namelist() if re.match(sys.argv[2], n)][0]))")
INSTALL_FLOOR = """set -e
cd %(dir)s
mkdir wheels && tar xf ../floor.tar -C wheels
%(python)s -c "%(extract)s" wheels/%(uv_wheel)s '%(member)s'
chmod +x uv
%(python)s -m venv --without-pip venv
./uv pip install --python venv/bin/python --no-index --no-deps --offline --no-cache --no-config \\
    --link-mode hardlink -q %(wheels)s
"""


def first_run_floor(work, bundle_dir, hosts, forks):
    """The floor of a first run with uv on these hosts: (a) the bytes our push sends each host, sent with one bare
    ssh stream per host, all hosts at once as ours does (at most --forks at a time); (b) on every host at once, the
    offline uv install of the same wheels into a fresh venv, unpack included, started inside the host (no Ansible,
    no ssh); and (b) on one host alone. Returns the row's floor fields."""
    status = fleetlib.load_status(NAME)
    records = {record["name"]: record for record in status["hosts"]}
    clean_hosts(hosts)
    sends, installs = [], []
    for host in hosts:
        host_slice = host_slice_file(bundle_dir, host)
        subprocess.run(fleetlib.exec_argv(NAME, host, ["sh", "-c", "rm -rf %s && mkdir -p %s/install"
                                                       % (FLOOR_DIR, FLOOR_DIR)]), check=True)
        sends.append((ssh_argv(status, records[host]) + ["cat > %s/floor.tar" % FLOOR_DIR],
                      floor_tar(work, bundle_dir, host_slice)))
        env = next(env for env in host_slice["envs"] if env.get("strategy") == "venv")
        if not env.get("installer") or env["installer"]["kind"] != "uv":
            raise RunFailed("the floor needs a uv bundle: %s's environment %s has installer %s"
                            % (host, env["name"], env.get("installer")))
        script = INSTALL_FLOOR % {"dir": FLOOR_DIR + "/install", "python": records[host]["python"],
                                  "uv_wheel": env["installer"]["filename"], "member": UV_MEMBER.pattern,
                                  "extract": EXTRACT_UV,
                                  "wheels": " ".join("wheels/" + item["filename"] for item in env["packages"])}
        installs.append((fleetlib.exec_argv(NAME, host, ["sh", "-c", script]), None))
    limit = forks or 16
    transfer = at_once(sends, limit)
    sent_bytes = sum(os.path.getsize(stdin) for _argv, stdin in sends)
    install_all = at_once(installs, limit)
    reset = "rm -rf %s/install && mkdir %s/install" % (FLOOR_DIR, FLOOR_DIR)
    subprocess.run(fleetlib.exec_argv(NAME, hosts[0], ["sh", "-c", reset]), check=True)
    install_one = at_once(installs[:1], 1)
    clean_hosts(hosts)
    for host in hosts:
        subprocess.run(fleetlib.exec_argv(NAME, host, ["rm", "-rf", FLOOR_DIR]), check=False)
    return {"floor_transfer_s": round(transfer, 2), "floor_transfer_mb": round(sent_bytes / 1e6, 1),
            "floor_install_all_s": round(install_all, 2), "floor_install_one_host_s": round(install_one, 2),
            "floor_first_s": round(transfer + install_all, 2)}


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def one_size(size, args, work, requirements, mirror_url, measured):
    """One size: returns (row, measured per-host bytes)."""
    files = profile_files(os.path.join(work, "seed"))
    need, packed, unpacked = per_host_need(files, measured)
    available = mem_available()
    busy = min(size, args.forks or 16)
    on_disk = args.host_storage == "disk"
    if on_disk:
        free = shutil.disk_usage(os.path.dirname(DISK_ROOT)).free
        if size * need + 5 * 2 ** 30 > free:
            refused = {"hosts": size, "refused": "--host-storage disk: needs about %d MiB on %s (%d hosts x %d MiB "
                       "+ 5 GiB), %d MiB free" % ((size * need + 5 * 2 ** 30) // 2 ** 20, DISK_ROOT, size,
                                                  need // 2 ** 20, free // 2 ** 20)}
            print(json.dumps(refused), flush=True)
            return refused, measured
    total = size * ((0 if on_disk else need) + SESSION_MEMORY) + busy * BUSY_MEMORY + CONTROLLER_HEADROOM
    if total > available:
        refused = {"hosts": size, "refused": "will not fit: needs about %d MiB (%d hosts x (%d MiB of tmpfs files "
                   "+ %d MiB sshd) + %d busy hosts x %d MiB + %d MiB for the controller), %d MiB available"
                   % (total // 2 ** 20, size, need // 2 ** 20, SESSION_MEMORY // 2 ** 20, busy,
                      BUSY_MEMORY // 2 ** 20, CONTROLLER_HEADROOM // 2 ** 20, available // 2 ** 20)}
        refused["refused"] += "" if on_disk else "; --host-storage disk keeps the hosts' files on disk"
        print(json.dumps(refused), flush=True)
        return refused, measured
    # The cap of each private tmpfs mount: /opt may hold a wheel copy, its unpacked venv and the tarball's.
    tmpfs_mb = max(256, int(1.5 * (2 * packed + 1.4 * unpacked)) // 2 ** 20)
    inventory = fleetlib.up(NAME, size, tmpfs_size="%dM" % tmpfs_mb, pythons=PYTHONS)
    hosts = [host["name"] for host in fleetlib.load_status(NAME)["hosts"]]
    row = {"hosts": size, "tmpfs_size_mb": tmpfs_mb, "host_storage": args.host_storage}
    used = {}
    try:
        if on_disk:
            bind_disk(hosts)
        base = os.path.join(work, "size-%d" % size)
        os.makedirs(base)
        wheel_root = os.path.join(base, "wheels")
        common = {"pymigrate_index_url": mirror_url, "pymigrate_requirements": requirements,
                  "requirements": requirements, "requirement_names": [requirement_name(r) for r in requirements],
                  "wheel_root": wheel_root}
        extra = write_json(os.path.join(base, "vars.json"), {"all": {"vars": common}})
        inventories = [inventory, extra]
        ping = [os.path.join(BIN, "ansible"), "all", "-i", inventory, "-m", "ansible.builtin.ping"]
        run(ping, args.forks)
        row["ping_s"] = round(run(ping, args.forks, profile="ping, %d hosts" % size)[0], 2)

        for installer in args.installer:
            label = "" if installer == "pip" else "_" + installer
            dirs = ["-e", json.dumps({"pymigrate_bundle_dir": os.path.join(base, "bundle-" + installer),
                                      "pymigrate_report_dir": os.path.join(base, "report-" + installer)})]
            if installer != "pip":
                dirs += ["-e", "pymigrate_installer=" + installer]
            try:
                if not installer_known(installer):
                    raise RunFailed("pymigrate_installer is not a variable of this revision "
                                    "(roles/*/meta/argument_specs.yml); the run would use pip")
                clean_hosts(hosts)
                playbook(inventories, "playbooks/bundle.yml", *dirs, forks=args.forks)  # untimed, from the mirror
                first, _out = playbook(inventories, "playbooks/rollout.yml", *(ONE_BATCH + dirs), forks=args.forks,
                                       profile="rollout.yml first run, %s, %d hosts" % (installer, size))
                used["ours" + label] = host_used_mb(hosts[0])
                noop, out = playbook(inventories, "playbooks/rollout.yml", *(ONE_BATCH + dirs), forks=args.forks,
                                     profile="rollout.yml no-op, %s, %d hosts" % (installer, size))
                report = os.path.join(base, "report-" + installer)
                noop_changed, noop_bytes = recap_changed(out), summary_bytes(report)
                migrate, out = playbook(inventories, "playbooks/migrate.yml", *(ONE_BATCH + dirs), forks=args.forks,
                                        profile="migrate.yml no-op, %s, %d hosts" % (installer, size))
                row.update({"ours%s_first_s" % label: round(first, 2), "ours%s_noop_s" % label: round(noop, 2),
                            "migrate%s_noop_s" % label: round(migrate, 2),
                            "ours%s_noop_bytes_sent" % label: noop_bytes, "ours%s_noop_changed" % label: noop_changed,
                            "migrate%s_noop_bytes_sent" % label: summary_bytes(report),
                            "migrate%s_noop_changed" % label: recap_changed(out)})
            except RunFailed as exc:
                reason = str(exc).strip()
                print("ours with installer %s: failed (%s)" % (installer, reason[-1500:]), flush=True)
                row["ours%s_failed" % label] = reason.splitlines()[0][:300]
                if installer == "pip":
                    raise

        if "uv" in args.installer and row.get("ours_uv_first_s") is not None:
            try:
                row.update(first_run_floor(base, os.path.join(base, "bundle-uv"), hosts, args.forks))
            except RunFailed as exc:
                print("floor: failed (%s)" % str(exc)[-1500:], flush=True)
                row["floor_failed"] = str(exc).splitlines()[0][:300]

        # The baselines install the wheels the pip bundle holds (the same versions as ours).
        by_version = profile_files(os.path.join(base, "bundle-pip"))
        for version, paths in by_version.items():
            os.makedirs(os.path.join(wheel_root, version))
            for path in paths:
                os.link(path, os.path.join(wheel_root, version, os.path.basename(path)))
        tarball_vars = write_json(os.path.join(base, "tarballs.json"),
                                  {"all": {"vars": {"tarballs": pack_tarballs(work, by_version)}}})
        baselines = [("tarball", TARBALL, inventories + [tarball_vars])] if "tarball" in args.baselines else []
        if size <= args.plain_max_hosts and "plain" in args.baselines:  # the weak baseline, and the slowest
            baselines.insert(0, ("plain", PLAIN, inventories))
        missing = synchronize_missing(args.forks) if "sync" in args.baselines else "not asked (--baselines)"
        if missing:
            print("synchronize: skipped (%s)" % missing, flush=True)
            row["synchronize_skipped"] = missing
        else:
            baselines.append(("sync", SYNC, inventories))
        for label, text, invs in baselines:
            clean_hosts(hosts)
            path = os.path.join(base, label + ".yml")
            with open(path, "w") as handle:
                handle.write(text)
            first, _out = playbook(invs, path, forks=args.forks)
            used[label] = host_used_mb(hosts[0])
            again, out = playbook(invs, path, forks=args.forks)
            row.update({label + "_first_s": round(first, 2), label + "_noop_s": round(again, 2),
                        label + "_noop_changed": recap_changed(out)})
        clean_hosts(hosts)
    finally:
        fleetlib.down(NAME)
        shutil.rmtree(DISK_ROOT, ignore_errors=True)
    row.update({
        "ours_first/tarball_first": ratio(row.get("ours_first_s"), row.get("tarball_first_s")),
        "ours_first/plain_first": ratio(row.get("ours_first_s"), row.get("plain_first_s")),
        "ours_noop/ping": ratio(row.get("ours_noop_s"), row.get("ping_s")),
        "migrate_noop/ping": ratio(row.get("migrate_noop_s"), row.get("ping_s")),
        "ours_noop/tarball_noop": ratio(row.get("ours_noop_s"), row.get("tarball_noop_s")),
        "host1_mb_after_first": used,
    })
    for installer in args.installer[1:] if args.installer[0] == "pip" else []:
        if row.get("ours_%s_first_s" % installer) is not None:
            first = row["ours_%s_first_s" % installer]
            row["ours_%s_first/tarball_first" % installer] = ratio(first, row.get("tarball_first_s"))
            row["ours_%s_noop/ping" % installer] = ratio(row["ours_%s_noop_s" % installer], row.get("ping_s"))
            row["migrate_%s_noop/ping" % installer] = ratio(row["migrate_%s_noop_s" % installer], row.get("ping_s"))
    row["ours_uv_first/floor_first"] = ratio(row.get("ours_uv_first_s"), row.get("floor_first_s"))
    return row, max(used.values()) * 2 ** 20 if used else measured


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="8,24,48")
    parser.add_argument("--installer", default="pip", help="comma-separated: pip, uv (ours runs once per installer)")
    parser.add_argument("--requirements", default=",".join(REQUIREMENTS),
                        help="comma-separated requirements, or a file with one a line")
    parser.add_argument("--forks", type=int, default=None, help="ANSIBLE_FORKS (default: ansible.cfg's)")
    parser.add_argument("--plain-max-hosts", type=int, default=8,
                        help="run the plain copy + pip baseline only at sizes up to this (it is the slowest)")
    parser.add_argument("--baselines", default="plain,tarball,sync",
                        help="comma-separated baselines to run besides ping (plain, tarball, sync; empty: none)")
    parser.add_argument("--host-storage", choices=("tmpfs", "disk"), default="tmpfs",
                        help="where the hosts' /opt and /var/lib/pymigrate live (disk: for sizes tmpfs cannot hold)")
    args = parser.parse_args()
    args.baselines = [item.strip() for item in args.baselines.split(",") if item.strip()]
    args.installer = [item.strip() for item in args.installer.split(",") if item.strip()]
    if "pip" not in args.installer:
        args.installer.insert(0, "pip")  # the baselines install what the pip bundle holds
    requirements = parse_requirements(args.requirements)
    sizes = [int(n) for n in args.sizes.split(",")]
    if max(sizes) > fleetlib.MAX_HOSTS_PER_FLEET:
        raise SystemExit("a fleet holds at most %d hosts" % fleetlib.MAX_HOSTS_PER_FLEET)
    work = tempfile.mkdtemp(prefix="pymigrate-fleet-bench-")
    rows, measured, server = [], None, None
    try:
        seed(work, requirements, args.forks)
        server = IndexServer(os.path.join(work, "mirror"))
        for size in sizes:
            row, measured = one_size(size, args, work, requirements, server.url, measured)
            rows.append(row)
            if "refused" not in row:
                print(json.dumps(row), flush=True)
                for title in sorted(PROFILES):
                    print(timing.format_table(title, PROFILES[title]), flush=True)
                row["profiles"] = {title: timing.rows_json(rows) for title, rows in PROFILES.items()}
                PROFILES.clear()
    finally:
        if server:
            server.stop()
        fleetlib.down(NAME)
        shutil.rmtree(DISK_ROOT, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"results": rows}))


if __name__ == "__main__":
    main()
