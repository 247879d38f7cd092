"""The air-gapped test fleet: hosts as Linux network + mount + UTS namespaces, each with its own sshd.

Standard library only. Every host ``<name>-hN`` gets:
- a network namespace of the same name joined to the control node by one veth pair; the host side has
  a /30 with the control node's end as the only peer, and NO default route: it reaches nothing else
  (a connect to any other address fails with "Network is unreachable" before a packet leaves);
- its own sshd (own host key, key auth for root only) started through ``unshare --mount --uts`` so its
  sessions see private tmpfs mounts on /opt, /var/tmp, /tmp, /var/lib/pymigrate and /root/.ansible and
  their own hostname;
- a Python of its own (round robin over the pyenv versions present), optionally "bare": in that host's
  mount namespace an empty directory is bind-mounted over the interpreter's ``site-packages`` and
  ``ensurepip`` is deleted from an overlay of its stdlib dir, so ``python -m pip`` and ``import ensurepip``
  fail there (as on minimal server images) while other hosts with the same Python are unaffected;
- if ``nft`` or ``iptables`` exists, a rule in the namespace that rejects NEW outgoing connections
  (besides the missing route; the local test index listens on 127.0.0.1 only anyway), made by nft when it is
  installed, else by iptables; $PYMIGRATE_FLEET_FIREWALL=nft|iptables forces one. The tool is recorded per host,
  and ``allow_outgoing`` opens an exception with the same tool;
- with ``containers=True``, podman of its own: in its mount namespace private tmpfs mounts on
  /var/lib/containers (the image store), /run/containers (podman's run state) and /run/runc (runc's container
  state), and a per-host directory of the state dir bind-mounted over /etc/containers (containers.conf,
  storage.conf, policy.json as tests/fleet/containers.py writes them), so ``podman`` run inside the host without
  any env variable uses that host's own images, and hosts never see each other's (or the control node's).

Address plan: fleet name -> slot = crc32(name) % 200 + 20 (20..219) -> 10.231.<slot>.0/24, cut into
/30s: host i (1..63) gets 10.231.<slot>.4i+1 (control node's veth end) and .4i+2 (host's eth0).
Two fleet names with different slots never collide; ``up`` refuses a slot another live fleet uses.
Slots 0..19 and 220..255 are never used by the fleet.
State lives in /run/pymigrate-fleet/<name>/; only pids recorded there (and processes inside the
fleet's own namespaces) are ever signalled, only namespaces named <name>-h<N> are ever deleted.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import zlib

try:
    from tests.fleet import containers as containers_lib
except ImportError:  # run as tests/fleet/fleet: fleet_cli.py puts tests/fleet first on sys.path
    import containers as containers_lib

STATE_ROOT = "/run/pymigrate-fleet"
PYENV_ROOT = os.environ.get("PYENV_ROOT", "/root/.pyenv")
DEFAULT_PYTHONS = ("3.9", "3.11", "3.12", "3.13")
PRIVATE_DIRS = ("/opt", "/var/tmp", "/tmp", "/var/lib/pymigrate", "/root/.ansible")
# containers=True: (mount point, tmpfs size or None for the image store's size); /etc/containers is bind-mounted.
CONTAINER_DIRS = (("/var/lib/containers", None), ("/run/containers", "64M"), ("/run/runc", "16M"))
ETC_CONTAINERS = "/etc/containers"
MAX_HOSTS_PER_FLEET = 63          # /30 per host inside one /24
MEMORY_PER_HOST = 64 * 1024 ** 2  # sshd + sessions + tmpfs head room
TOOLS = {"sshd": "openssh-server", "ssh-keygen": "openssh-client", "ip": "iproute2",
         "unshare": "util-linux", "nsenter": "util-linux", "mount": "mount"}


class FleetError(Exception):
    pass


def log(message):
    print("fleet: " + message, file=sys.stderr, flush=True)


def _which(tool):
    found = shutil.which(tool)
    if not found:
        for prefix in ("/usr/sbin", "/sbin", "/usr/bin", "/bin"):
            if os.access(os.path.join(prefix, tool), os.X_OK):
                return os.path.join(prefix, tool)
    return found


def check_tools():
    missing = sorted({TOOLS[tool] for tool in TOOLS if not _which(tool)})
    if missing:
        raise FleetError("missing tools; install the Debian package(s): apt-get install -y %s" % " ".join(missing))
    if os.geteuid() != 0:
        raise FleetError("the test fleet needs root (network and mount namespaces); run as root")


def check_namespaces():
    """Can this machine make network, mount and UTS namespaces (not in a locked-down container)?"""
    try:
        result = _run([_which("unshare"), "--net", "--mount", "--uts", "true"], check=False, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        raise FleetError("cannot create namespaces: %s" % exc)
    if result.returncode != 0:
        raise FleetError("cannot create network/mount/UTS namespaces here (%s); the fleet needs a machine or "
                         "a privileged container" % (result.stderr.strip() or "unshare failed"))


def _run(argv, check=True, **kwargs):
    return subprocess.run(argv, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def slot_of(name):
    return zlib.crc32(name.encode()) % 200 + 20


def addresses(name, index):
    base = 4 * index
    prefix = "10.231.%d." % slot_of(name)
    return prefix + str(base + 1), prefix + str(base + 2)


def state_dir(name):
    return os.path.join(STATE_ROOT, name)


def python_paths(wanted=DEFAULT_PYTHONS):
    """Map wanted X.Y versions to pyenv interpreters present on this machine (newest patch wins)."""
    found = {}
    versions_dir = os.path.join(PYENV_ROOT, "versions")
    if os.path.isdir(versions_dir):
        for entry in sorted(os.listdir(versions_dir)):
            parts = entry.split(".")
            if len(parts) != 3 or not all(part.isdigit() for part in parts):
                continue
            short = "%s.%s" % (parts[0], parts[1])
            path = os.path.join(versions_dir, entry, "bin", "python" + short)
            if short in wanted and os.access(path, os.X_OK):
                found[short] = path
    missing = [short for short in wanted if short not in found]
    if tuple(wanted) != DEFAULT_PYTHONS and missing:
        raise FleetError("--pythons asks for %s, not installed under %s/versions (present: %s)"
                         % (", ".join(missing), PYENV_ROOT, ", ".join(sorted(found)) or "none"))
    if not found:
        log("no pyenv Python of %s found; every host uses %s" % (", ".join(wanted), sys.executable))
        found[".".join(map(str, sys.version_info[:2]))] = sys.executable
    return [(short, found[short]) for short in wanted if short in found] or sorted(found.items())


def max_hosts():
    try:
        with open("/proc/meminfo") as handle:
            meminfo = dict(line.split(":", 1) for line in handle)
        available = int(meminfo["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        available = 4 * 1024 ** 3
    return min(MAX_HOSTS_PER_FLEET, available // MEMORY_PER_HOST), available


def _pid_alive(pid):
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _read_pid(path):
    try:
        with open(path) as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def _status_file(name):
    return os.path.join(state_dir(name), "status.json")


def load_status(name):
    try:
        with open(_status_file(name)) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def status(name):
    """The fleet's recorded state plus, per host, whether its sshd is running now (for `fleet status`)."""
    check_name(name)
    recorded = load_status(name)
    if not recorded:
        return {"name": name, "up": False, "hosts": []}
    for host in recorded["hosts"]:
        pid = _read_pid(host["pid_file"])
        host["sshd_pid"] = pid if pid and _pid_alive(pid) else None
    recorded.update(up=True, inventory=os.path.join(state_dir(name), "inventory.yml"))
    return recorded


def down(name):
    """Remove everything a fleet made: its sshd pids, namespaces, veths, state. Idempotent.

    Also after a crash that lost the state dir: namespaces named <name>-h<N> (and the processes inside
    them, which only our sshd can have started) are found by name.
    """
    check_name(name)
    directory = state_dir(name)
    status = load_status(name) or {"hosts": []}
    hosts = {host["name"] for host in status["hosts"]}
    if os.path.isdir(directory):
        for entry in os.listdir(directory):
            if os.path.isdir(os.path.join(directory, entry)) and _is_host_name(name, entry):
                hosts.add(entry)
    namespaces = [line.split(" ")[0] for line in _run(["ip", "netns", "list"], check=False).stdout.splitlines()]
    namespaces = [ns for ns in namespaces if _is_host_name(name, ns)]
    hosts.update(namespaces)
    for host in sorted(hosts):
        config = os.path.join(directory, host, "sshd_config")
        pid = _read_pid(os.path.join(directory, host, "sshd.pid"))
        if pid and _pid_alive(pid) and config in _cmdline(pid):  # our sshd, not a reused pid
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            _wait_dead([pid])
    for ns in namespaces:
        _kill_namespace_processes(ns, directory)
        _run(["ip", "netns", "delete", ns], check=False)
    for host in hosts:
        _run(["ip", "link", "delete", _veth(host)], check=False)
    # The kernel tears a namespace (and the veth pair in it) down asynchronously: wait, so that an `up`
    # right after this does not meet a veth of the same name.
    deadline = time.time() + 10
    while time.time() < deadline and any(os.path.exists("/sys/class/net/" + _veth(host)) for host in hosts):
        time.sleep(0.05)
    if status.get("made_user"):  # last: userdel refuses while the user's sessions in the namespaces still run
        _remove_user(status["user"])
    shutil.rmtree(directory, ignore_errors=True)


def _is_host_name(name, text):
    return text.startswith(name + "-h") and text[len(name) + 2:].isdigit()


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _wait_dead(pids, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline and any(_pid_alive(pid) for pid in pids):
        time.sleep(0.05)


def _descendants(pids):
    """``pids`` and every process below them (a podman container leaves the host's network namespace for one of
    its own, but stays a child of its conmon, which is in the host's)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return sorted(found)


def _kill_namespace_processes(ns, directory):
    """Sessions that outlive their sshd (ControlPersist masters, a killed test) keep a namespace busy.

    Only processes inside our own namespace, and their descendants (containers under a conmon), are
    signalled: they were started by our sshd.
    """
    pids = [int(pid) for pid in _run(["ip", "netns", "pids", ns], check=False).stdout.split() if pid.isdigit()]
    pids = _descendants(pids)
    container_ids = [_conmon_container(pid) for pid in pids]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _wait_dead(pids)
    _remove_container_cgroups([cid for cid in container_ids if cid])


def _conmon_container(pid):
    """The container ID a conmon process watches (its ``-c ID``), else None."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            argv = handle.read().decode(errors="replace").split("\0")
    except OSError:
        return None
    if not argv or os.path.basename(argv[0]) != "conmon" or "-c" not in argv[:-1]:
        return None
    cid = argv[argv.index("-c") + 1]
    return cid if re.match(r"^[0-9a-f]{64}$", cid) else None


def _remove_container_cgroups(container_ids):
    """The cgroups (machine-wide, cgroupfs manager) of containers whose conmon was killed by us: podman's
    cleanup never ran for them. Only directories named libpod-<ID> below a libpod_parent, now empty of tasks."""
    if not container_ids:
        return
    roots = [os.path.join("/sys/fs/cgroup", entry) for entry in os.listdir("/sys/fs/cgroup")] + ["/sys/fs/cgroup"]
    for root in roots:
        for cid in container_ids:
            top = os.path.join(root, "libpod_parent", "libpod-" + cid)
            if not os.path.isdir(top) or os.path.islink(root):
                continue
            for current, _dirs, _files in sorted(os.walk(top), key=lambda item: -len(item[0])):
                try:
                    os.rmdir(current)
                except OSError as exc:
                    log("warning: cgroup %s left: %s" % (current, exc))


def _veth(host):
    # Interface names are limited to 15 characters.
    return "pmv%08x" % zlib.crc32(host.encode())


def _write(path, text, mode=0o644):
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)


def _quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def _bare_dirs(python):
    """The interpreter's ensurepip package dir and site-packages dir (both must exist to be covered)."""
    code = ("import os, sysconfig; import ensurepip; print(os.path.dirname(ensurepip.__file__)); "
            "print(sysconfig.get_paths()['purelib'])")
    result = _run([python, "-I", "-c", code], check=False)
    paths = result.stdout.split()
    if result.returncode != 0 or len(paths) != 2 or not all(os.path.isdir(path) for path in paths):
        raise FleetError("cannot make %s bare: its ensurepip/site-packages dirs were not found (%s)"
                         % (python, result.stderr.strip() or result.stdout.strip()))
    return paths


def check_name(name):
    if not re.match(r"^[a-z][a-z0-9]{0,11}$", name or ""):
        raise FleetError("fleet name %r: use 1-12 lowercase letters and digits, starting with a letter" % (name,))


def ensure_user(user):
    """An unprivileged login user with password-less sudo, as real fleets connect (``become``). Machine-wide
    (namespaces share /etc): made if missing, with a '*' password (no password, not locked: sshd with UsePAM no
    refuses locked accounts). Returns True when this call made it (down() then removes it again)."""
    if not re.match(r"^[a-z][a-z0-9-]{0,30}$", user):
        raise FleetError("--user %r: use a plain lower-case user name" % (user,))
    if not _which("sudo"):
        raise FleetError("a fleet user with become needs sudo (Debian package sudo; tests/tools/system-deps)")
    made = _run(["id", "-u", user], check=False).returncode != 0
    if made:
        _run(["useradd", "--create-home", "--shell", "/bin/sh", user])
        _run(["usermod", "--password", "*", user])
    _write(_sudoers(user), "%s ALL=(ALL) NOPASSWD: ALL\n" % user, mode=0o440)
    return made


def _sudoers(user):
    return "/etc/sudoers.d/pymigrate-fleet-%s" % user


def _remove_user(user):
    if os.path.exists(_sudoers(user)):
        os.unlink(_sudoers(user))
    result = _run(["userdel", "--remove", user], check=False)
    if result.returncode != 0:
        log("warning: user %s was not removed: %s" % (user, result.stderr.strip()))


def up(name, count, tmpfs_size="256M", bare=(), pythons=DEFAULT_PYTHONS, user=None, containers=False,
       containers_size="1G"):
    """Bring up ``count`` hosts; ``user``: connect as that unprivileged user with sudo (``become``) instead of root.

    ``containers``: each host gets podman with a private image store (a tmpfs of ``containers_size`` on
    /var/lib/containers; tmpfs takes only what is used) and its own /etc/containers (see the module docstring)."""
    check_name(name)
    if count < 1:
        raise FleetError("--hosts must be at least 1, got %d" % count)
    if not re.match(r"^[0-9]+[kmgKMG%]?$", tmpfs_size):
        raise FleetError("--tmpfs-size %r: use a tmpfs size such as 256M or 1G" % (tmpfs_size,))
    if containers and not re.match(r"^[0-9]+[kmgKMG%]?$", containers_size):
        raise FleetError("--containers-size %r: use a tmpfs size such as 1G" % (containers_size,))
    check_tools()
    if containers:
        check_podman()
    check_namespaces()
    limit, available = max_hosts()
    if count > limit:
        raise FleetError("this machine can hold at most %d hosts (address plan: %d per fleet; memory: %d MiB "
                         "available at %d MiB per host), asked for %d"
                         % (limit, MAX_HOSTS_PER_FLEET, available // 1024 ** 2, MEMORY_PER_HOST // 1024 ** 2, count))
    for other in (os.listdir(STATE_ROOT) if os.path.isdir(STATE_ROOT) else []):
        if other != name and slot_of(other) == slot_of(name) and load_status(other):
            raise FleetError("fleet name %s shares address slot %d with live fleet %s; pick another --name"
                             % (name, slot_of(name), other))
    interpreters = python_paths(tuple(pythons))
    host_names = ["%s-h%d" % (name, i) for i in range(1, count + 1)]
    bare = ["%s-%s" % (name, item) if re.match(r"^h[0-9]+$", item) else item for item in bare]  # h3 = <name>-h3
    unknown = sorted(set(bare) - set(host_names))
    if unknown:
        raise FleetError("--bare names unknown host(s) %s; hosts are %s..%s"
                         % (", ".join(unknown), host_names[0], host_names[-1]))
    down(name)  # leftovers of a crashed run (or the previous fleet of this name)
    directory = state_dir(name)
    os.makedirs(directory, mode=0o711)  # the login user reads its authorized key below it
    made_user = ensure_user(user) if user else False
    key = os.path.join(directory, "id_ed25519")
    hosts = []
    try:
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pymigrate-fleet-" + name, "-f", key])
        for path in PRIVATE_DIRS + ("/run/sshd",):  # /run/sshd: sshd's privilege separation directory
            os.makedirs(path, exist_ok=True)
        if containers:  # mount points only: on the control node they stay as they are (empty if made here)
            for path in [path for path, _size in CONTAINER_DIRS] + [ETC_CONTAINERS]:
                os.makedirs(path, exist_ok=True)
        for index, host in enumerate(host_names, start=1):
            short, python = interpreters[(index - 1) % len(interpreters)]
            hosts.append(_up_host(name, index, host, key, python, short, host in bare, tmpfs_size,
                                  containers_size if containers else None))
            made = hosts[-1]
            log("%s: %s (control side %s), Python %s%s%s"
                % (host, made["address"], made["control_address"], short, ", bare" if made["bare"] else "",
                   ", podman" if containers else ""))
        _write(os.path.join(directory, "known_hosts"),
               "".join("%s %s" % (h["address"], h["host_key"]) for h in hosts))
        status = {"name": name, "key": key, "hosts": hosts, "user": user, "made_user": made_user}
        _write(_status_file(name), json.dumps(status, indent=2))
        inventory = os.path.join(directory, "inventory.yml")
        _write(inventory, render_inventory(status))
        for host in hosts:
            _wait_for_ssh(host)
        return inventory
    except BaseException:
        down(name)
        if made_user:
            _remove_user(user)
        raise


def check_podman():
    missing = [tool for tool in ("podman", "runc", "conmon") if not _which(tool) and not os.access(
        "/usr/libexec/podman/" + tool, os.X_OK)]
    if missing:
        raise FleetError("fleet hosts with containers need %s; install: apt-get install -y podman runc"
                         % ", ".join(missing))


def _up_host(name, index, host, key, python, short, bare, tmpfs_size, containers_size=None):
    directory = os.path.join(state_dir(name), host)
    os.makedirs(directory)
    control_ip, host_ip = addresses(name, index)
    veth = _veth(host)
    _run(["ip", "netns", "add", host])
    _run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", host])
    _run(["ip", "addr", "add", control_ip + "/30", "dev", veth])
    _run(["ip", "link", "set", veth, "up"])
    for argv in (["ip", "addr", "add", host_ip + "/30", "dev", "eth0"], ["ip", "link", "set", "eth0", "up"],
                 ["ip", "link", "set", "lo", "up"]):
        _run(["ip", "netns", "exec", host] + argv)
    firewall = _reject_new_outgoing(host, firewall_tool())
    host_key = os.path.join(directory, "ssh_host_ed25519_key")
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", host, "-f", host_key])
    pid_file = os.path.join(directory, "sshd.pid")
    _write(os.path.join(directory, "sshd_config"), "\n".join([
        "ListenAddress %s" % host_ip,
        "HostKey %s" % host_key,
        "PidFile %s" % pid_file,
        "AuthorizedKeysFile %s.pub" % key,
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "PrintMotd no",
        "MaxStartups 64:30:128",
        "MaxSessions 64",
        "Subsystem sftp internal-sftp",
        "AcceptEnv LANG LC_*",
        "",
    ]))
    mounts = ["mount -t tmpfs -o size=%s,mode=%s tmpfs %s"
              % (tmpfs_size, "1777" if path.endswith("tmp") else "0755", path) for path in PRIVATE_DIRS]
    if containers_size:
        etc = os.path.join(directory, "etc-containers")
        containers_lib.host_engine_files(etc)
        mounts += ["mount -t tmpfs -o size=%s,mode=0700 tmpfs %s" % (size or containers_size, path)
                   for path, size in CONTAINER_DIRS]
        mounts.append("mount --bind %s %s" % (_quote(etc), ETC_CONTAINERS))
        mounts += _cgroup_mounts()
    if bare:
        # Minimal server images ship Python without pip and ensurepip. In this host's mounts only:
        # - site-packages (pip, setuptools, ...) is covered by an empty directory bind-mounted over it;
        # - ensurepip is deleted from an overlay of the stdlib dir (a whiteout in an upper layer kept in the
        #   state dir). An empty directory bind-mounted over ensurepip would not do: Python imports an
        #   empty directory as a namespace package, so `import ensurepip` would still succeed.
        ensurepip, site_packages = _bare_dirs(python)
        stdlib = os.path.dirname(ensurepip)
        empty, upper, work = (os.path.join(directory, part) for part in ("empty", "overlay-upper", "overlay-work"))
        for path in (empty, upper, work):
            os.makedirs(path, mode=0o755)
        os.chmod(empty, 0o555)
        mounts += ["mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s %s"
                   % (stdlib, upper, work, _quote(stdlib)),
                   "rm -rf %s" % _quote(ensurepip),
                   "mount --bind %s %s" % (_quote(empty), _quote(site_packages))]
    script = "set -e; %s; hostname %s; exec %s -f %s\n" % (
        "; ".join(mounts), host, _which("sshd"), os.path.join(directory, "sshd_config"))
    _write(os.path.join(directory, "start.sh"), script)
    _start(host, directory)
    with open(host_key + ".pub") as handle:
        public = handle.read().split()
    return {"name": host, "address": host_ip, "control_address": control_ip, "python": python,
            "python_version": short, "bare": bare, "containers": bool(containers_size), "firewall": firewall,
            "host_key": "%s %s\n" % (public[0], public[1]), "pid_file": pid_file, "state_dir": directory}


def _cgroup_mounts(mountinfo="/proc/self/mountinfo"):
    """Commands that mount the control node's cgroup hierarchies again under /sys/fs/cgroup in a host.

    ``ip netns exec`` mounts a fresh sysfs on /sys (for the namespace's own /sys/class/net), which hides
    /sys/fs/cgroup; runc then fails with "no cgroup mount found in mountinfo". Mounting a hierarchy again
    (cgroup v1 with the same controllers, or cgroup2) attaches to the same one, so podman's cgroupfs manager
    works as on the control node."""
    commands = []
    with open(mountinfo) as handle:
        for line in handle:
            fields, _sep, tail = line.partition(" - ")
            target = fields.split()[4].replace("\\040", " ")
            fstype, _source, options = (tail.split() + ["", "", ""])[:3]
            if target != "/sys/fs/cgroup" and not target.startswith("/sys/fs/cgroup/"):
                continue
            kept = ",".join(option for option in options.split(",") if option not in ("rw", "ro"))
            if fstype == "tmpfs" and target == "/sys/fs/cgroup":
                commands.append("mount -t tmpfs -o mode=755 cgroup_root /sys/fs/cgroup")
            elif fstype in ("cgroup", "cgroup2"):
                option = " -o %s" % _quote(kept) if kept and fstype == "cgroup" else ""
                commands.append("mkdir -p %s; mount -t %s%s %s %s"
                                % (_quote(target), fstype, option, fstype, _quote(target)))
    if os.path.isdir("/sys/fs/cgroup") and commands and commands[0].startswith("mount -t tmpfs"):
        for entry in sorted(os.listdir("/sys/fs/cgroup")):  # cpu -> cpu,cpuacct and the like
            path = os.path.join("/sys/fs/cgroup", entry)
            if os.path.islink(path):
                commands.insert(1, "ln -s %s %s" % (_quote(os.readlink(path)), _quote(path)))
    return commands


FIREWALLS = ("nft", "iptables")
FIREWALL_ENV = "PYMIGRATE_FLEET_FIREWALL"
NFT_TABLE = ("inet", "pymigrate_fleet")


def firewall_tool(wanted=None):
    """The tool that makes the hosts' outgoing-connection rule: ``wanted`` or $PYMIGRATE_FLEET_FIREWALL (nft or
    iptables; an error when it is not installed), else nft when installed, else iptables, else None."""
    wanted = wanted or os.environ.get(FIREWALL_ENV) or None
    if wanted:
        if wanted not in FIREWALLS:
            raise FleetError("%s=%r: use one of %s" % (FIREWALL_ENV, wanted, ", ".join(FIREWALLS)))
        if not _which(wanted):
            raise FleetError("%s=%s, but %s is not installed (tests/tools/system-deps)"
                             % (FIREWALL_ENV, wanted, wanted))
        return wanted
    return next((tool for tool in FIREWALLS if _which(tool)), None)


def _reject_new_outgoing(host, tool):
    """Belt and braces besides the missing route: reject NEW outgoing connections from the host (not on lo).

    With ``tool`` (nft or iptables); without one the routing alone keeps the host in. Returns the tool that made
    the rule, or None."""
    if tool == "nft":
        rules = ("table %s %s {\n chain output {\n  type filter hook output priority 0; policy accept;\n"
                 "  oifname \"lo\" accept\n  ct state new reject\n }\n}\n" % NFT_TABLE)
        argv, kwargs = [_which("nft"), "-f", "-"], {"input": rules}
    elif tool == "iptables":
        argv, kwargs = [_which("iptables"), "-A", "OUTPUT", "!", "-o", "lo", "-m", "conntrack", "--ctstate", "NEW",
                        "-j", "REJECT"], {}
    else:
        return None
    result = _run(["ip", "netns", "exec", host] + argv, check=False, **kwargs)
    if result.returncode != 0:
        log("warning: %s: no outgoing-connection rule (%s); the missing route still keeps it in"
            % (host, result.stderr.strip()))
        return None
    return tool


def _host_record(host):
    """The recorded host ``<fleet>-h<N>`` (its fleet's status), or None."""
    status = load_status(host.rsplit("-h", 1)[0]) if "-h" in host else None
    return next((item for item in (status or {}).get("hosts", ()) if item["name"] == host), None)


def host_firewall(host):
    """The tool that made the host's outgoing-connection rule (recorded at up or by set_firewall), or None."""
    record = _host_record(host)
    return record["firewall"] if record and "firewall" in record else firewall_tool()


def set_firewall(name, host, tool):
    """Make the host's outgoing-connection rule again with ``tool`` (nft or iptables), removing the other tool's
    rule first, and record it: a test runs one fleet through both paths."""
    tool = firewall_tool(tool)
    inside = ["ip", "netns", "exec", host]
    if _which("nft"):
        _run(inside + [_which("nft"), "delete", "table"] + list(NFT_TABLE), check=False)
    if _which("iptables"):
        _run(inside + [_which("iptables"), "-F", "OUTPUT"], check=False)
    made = _reject_new_outgoing(host, tool)
    if made != tool:
        raise FleetError("%s: the outgoing-connection rule could not be made with %s" % (host, tool))
    status = load_status(name)
    for item in status["hosts"]:
        if item["name"] == host:
            item["firewall"] = made
    _write(_status_file(name), json.dumps(status, indent=2))


def outgoing_rules(host):
    """The host's outgoing-connection rules as the tool that made them lists them ("" without a rule)."""
    tool = host_firewall(host)
    if tool == "nft":
        argv = [_which("nft"), "list", "table"] + list(NFT_TABLE)
    elif tool == "iptables":
        argv = [_which("iptables"), "-S", "OUTPUT"]
    else:
        return ""
    return _run(["ip", "netns", "exec", host] + argv).stdout


def allow_outgoing(host, address, port):
    """Let the host open TCP connections to ``address:port`` (a server a test runs on the control node) past the rule
    ``_reject_new_outgoing`` made, with the tool that made it (recorded per host)."""
    tool = host_firewall(host)
    if tool == "nft":
        argv = [_which("nft"), "insert", "rule", *NFT_TABLE, "output", "ip", "daddr", address, "tcp", "dport",
                str(port), "accept"]
    elif tool == "iptables":
        argv = [_which("iptables"), "-I", "OUTPUT", "1", "-d", address, "-p", "tcp", "--dport", str(port), "-j",
                "ACCEPT"]
    else:
        return  # no rule was made: the route alone decides
    _run(["ip", "netns", "exec", host] + argv)


def _start(host, directory):
    """Start the host's sshd in fresh private mounts and its own hostname (the saved start.sh)."""
    _run(["ip", "netns", "exec", host, "unshare", "--mount", "--uts", "--propagation", "private",
          "sh", os.path.join(directory, "start.sh")])


def start_sshd(name, host):
    """Bring a stopped host back (its private dirs start empty, as after a reboot)."""
    status = load_status(name)
    item = next(h for h in status["hosts"] if h["name"] == host)
    _start(host, item["state_dir"])
    _wait_for_ssh(item)


def _wait_for_ssh(host, timeout=10.0):
    """Bounded wait until the host's sshd accepts TCP and has written its pid file (`exec` needs it)."""
    deadline = time.time() + timeout
    while True:
        try:
            with socket.create_connection((host["address"], 22), timeout=1):
                pid = _read_pid(host["pid_file"])
                if pid and _pid_alive(pid):
                    return
                error = "no live pid in %s yet" % host["pid_file"]
        except OSError as exc:
            error = str(exc)
        if time.time() > deadline:
            raise FleetError("sshd of %s did not accept connections on %s:22 within %ds: %s"
                             % (host["name"], host["address"], timeout, error))
        time.sleep(0.1)


def render_inventory(status):
    known_hosts = os.path.join(state_dir(status["name"]), "known_hosts")
    lines = ["# Made by tests/fleet/fleet up; removed by tests/fleet/fleet down.", "all:", "  children:",
             "    fleet:", "      hosts:"]
    for host in status["hosts"]:
        user = status.get("user")
        lines += [
            "        %s:" % host["name"],
            "          ansible_host: %s" % host["address"],
            "          ansible_user: %s" % (user or "root"),
            "          ansible_ssh_private_key_file: %s" % status["key"],
            "          ansible_python_interpreter: %s" % host["python"],
            "          ansible_ssh_common_args: '-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes'" % known_hosts,
            # root's own: a become user keeps its remote files under its home (~/.ansible/tmp), as on real hosts
            "          ansible_remote_tmp: %s" % ("~/.ansible/tmp" if user else "/var/tmp/.ansible-tmp"),
            "          ansible_become: %s" % ("true" if user else "false"),
            "          fleet_python_version: '%s'" % host["python_version"],
            "          fleet_bare: %s" % ("true" if host["bare"] else "false"),
            "          fleet_containers: %s" % ("true" if host.get("containers") else "false"),
        ]
    return "\n".join(lines) + "\n"


def host_pid(name, host):
    status = load_status(name)
    if not status:
        raise FleetError("fleet %s is not up" % name)
    for item in status["hosts"]:
        if item["name"] == host:
            pid = _read_pid(item["pid_file"])
            if pid and _pid_alive(pid):
                return pid
            raise FleetError("sshd of %s is not running (pid file %s)" % (host, item["pid_file"]))
    raise FleetError("fleet %s has no host %s; hosts: %s" % (name, host, ", ".join(h["name"] for h in status["hosts"])))


def exec_argv(name, host, argv):
    """argv that runs a command inside the host's network, mount and UTS namespaces."""
    return [_which("nsenter"), "-t", str(host_pid(name, host)), "-n", "-m", "-u", "--"] + list(argv)


def stop_sshd(name, host):
    """Stop a host's sshd listener and every session it started (as if the host went away)."""
    pid = host_pid(name, host)
    _kill_namespace_processes(host, state_dir(name))
    for _attempt in range(50):
        if not _pid_alive(pid):
            return
        time.sleep(0.05)
