"""The air-gapped test fleet: hosts as Linux network + mount + UTS namespaces, each with its own sshd.

Standard library only. Every host ``<name>-hN`` gets:
- a network namespace of the same name joined to the control node by one veth pair; the host side has
  a /30 with the control node's end as the only peer, and NO default route: it reaches nothing else
  (a connect to any other address fails with "Network is unreachable" before a packet leaves);
- its own sshd (own host key, key auth for root only) started through ``unshare --mount --uts`` so its
  sessions see private tmpfs mounts on /opt, /var/tmp, /tmp, /var/lib/pymigrate and /root/.ansible and
  their own hostname;
- a Python of its own (round robin over the pyenv versions present), optionally "bare": pip and
  ensurepip removed in an overlay of its stdlib dir, as on minimal server images.

Address plan: fleet name -> slot (crc32 % 200) -> 10.231.0.0/16 is split as 10.231.<slot>.<4i..4i+3>,
so host i (1..63) uses 10.231.<slot>.4i+1 (control side) and .4i+2 (host side). Two fleet names with
different slots never collide; ``up`` refuses a slot that another live fleet already uses.
State lives in /run/pymigrate-fleet/<name>/; only pids recorded there are ever signalled.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zlib

STATE_ROOT = "/run/pymigrate-fleet"
PYENV_ROOT = os.environ.get("PYENV_ROOT", "/root/.pyenv")
DEFAULT_PYTHONS = ("3.9", "3.11", "3.12", "3.13")
PRIVATE_DIRS = ("/opt", "/var/tmp", "/tmp", "/var/lib/pymigrate", "/root/.ansible")
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
    if not found:
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
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


def down(name):
    """Remove everything a fleet made: its sshd pids, namespaces, veths, state. Idempotent."""
    directory = state_dir(name)
    status = load_status(name) or {"hosts": []}
    hosts = {host["name"] for host in status["hosts"]}
    if os.path.isdir(directory):
        for entry in os.listdir(directory):
            if os.path.isdir(os.path.join(directory, entry)) and entry.startswith(name + "-h"):
                hosts.add(entry)
    for host in sorted(hosts):
        pid = _read_pid(os.path.join(directory, host, "sshd.pid"))
        if pid and _pid_alive(pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            for _attempt in range(50):
                if not _pid_alive(pid):
                    break
                time.sleep(0.05)
    # Namespaces we named (our prefix only); deleting one removes its veth pair too.
    listing = _run(["ip", "netns", "list"], check=False).stdout.split("\n")
    for line in listing:
        ns = line.split(" ")[0]
        if ns.startswith(name + "-h") and ns[len(name) + 2:].isdigit():
            _kill_namespace_processes(ns, directory)
            _run(["ip", "netns", "delete", ns], check=False)
    for host in hosts:
        _run(["ip", "link", "delete", _veth(host)], check=False)
    shutil.rmtree(directory, ignore_errors=True)


def _kill_namespace_processes(ns, directory):
    """Sessions that outlive their sshd (ControlPersist masters, a killed test) keep a namespace busy.

    Only processes inside our own namespace are signalled: they were started by our sshd.
    """
    pids = _run(["ip", "netns", "pids", ns], check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def _veth(host):
    # Interface names are limited to 15 characters.
    return "pmv%08x" % zlib.crc32(host.encode())


def _write(path, text, mode=0o644):
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)


def _ensurepip_dir(python):
    return _run([python, "-c", "import ensurepip, os; print(os.path.dirname(ensurepip.__file__))"]).stdout.strip()


def up(name, count, tmpfs_size="256M", bare=(), pythons=DEFAULT_PYTHONS):
    check_tools()
    if count < 1:
        raise FleetError("--hosts must be at least 1, got %d" % count)
    limit, available = max_hosts()
    if count > limit:
        raise FleetError("this machine can hold at most %d hosts (address plan: %d per fleet; memory: %d MiB "
                         "available at %d MiB per host), asked for %d"
                         % (limit, MAX_HOSTS_PER_FLEET, available // 1024 ** 2, MEMORY_PER_HOST // 1024 ** 2, count))
    for other in (os.listdir(STATE_ROOT) if os.path.isdir(STATE_ROOT) else []):
        if other != name and slot_of(other) == slot_of(name) and load_status(other):
            raise FleetError("fleet name %s shares address slot %d with live fleet %s; pick another --name"
                             % (name, slot_of(name), other))
    down(name)  # leftovers of a crashed run
    interpreters = python_paths(tuple(pythons))
    host_names = ["%s-h%d" % (name, i) for i in range(1, count + 1)]
    unknown = sorted(set(bare) - set(host_names))
    if unknown:
        raise FleetError("--bare names unknown host(s) %s; hosts are %s..%s" % (", ".join(unknown), host_names[0], host_names[-1]))
    directory = state_dir(name)
    os.makedirs(directory, mode=0o700)
    key = os.path.join(directory, "id_ed25519")
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pymigrate-fleet-" + name, "-f", key])
    for path in PRIVATE_DIRS + ("/run/sshd",):  # /run/sshd: sshd's privilege separation directory
        os.makedirs(path, exist_ok=True)
    hosts = []
    try:
        for index, host in enumerate(host_names, start=1):
            short, python = interpreters[(index - 1) % len(interpreters)]
            hosts.append(_up_host(name, index, host, key, python, short, host in bare, tmpfs_size))
        _write(os.path.join(directory, "known_hosts"),
               "".join("%s %s" % (h["address"], h["host_key"]) for h in hosts))
        status = {"name": name, "key": key, "hosts": hosts}
        _write(_status_file(name), json.dumps(status, indent=2))
        inventory = os.path.join(directory, "inventory.yml")
        _write(inventory, render_inventory(status))
        for host in hosts:
            _wait_for_ssh(host)
        return inventory
    except BaseException:
        down(name)
        raise


def _up_host(name, index, host, key, python, short, bare, tmpfs_size):
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
    mounts = ["mount -t tmpfs -o size=%s,mode=%s tmpfs %s" % (tmpfs_size, "1777" if path.endswith("tmp") else "0755", path)
              for path in PRIVATE_DIRS]
    if bare:
        # An overlay over the interpreter's stdlib dir, with pip and ensurepip deleted in it (whiteouts in
        # the upper layer): this host's sessions see a Python without them, the others are unaffected.
        stdlib = os.path.dirname(_ensurepip_dir(python))
        upper, work = os.path.join(directory, "overlay-upper"), os.path.join(directory, "overlay-work")
        os.makedirs(upper)
        os.makedirs(work)
        mounts += ["mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s %s" % (stdlib, upper, work, stdlib),
                   "rm -rf %s/ensurepip %s/site-packages/pip %s/site-packages/pip-*" % (stdlib, stdlib, stdlib)]
    script = "set -e; %s; hostname %s; exec %s -f %s\n" % (
        "; ".join(mounts), host, _which("sshd"), os.path.join(directory, "sshd_config"))
    _write(os.path.join(directory, "start.sh"), script)
    _start(host, directory)
    with open(host_key + ".pub") as handle:
        public = handle.read().split()
    return {"name": host, "address": host_ip, "control_address": control_ip, "python": python,
            "python_version": short, "bare": bare, "host_key": "%s %s\n" % (public[0], public[1]),
            "pid_file": pid_file, "state_dir": directory}


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
    deadline = time.time() + timeout
    while True:
        try:
            with socket.create_connection((host["address"], 22), timeout=1):
                return
        except OSError as exc:
            if time.time() > deadline:
                raise FleetError("sshd of %s did not accept connections on %s:22 within %ds: %s"
                                 % (host["name"], host["address"], timeout, exc))
            time.sleep(0.1)


def render_inventory(status):
    known_hosts = os.path.join(state_dir(status["name"]), "known_hosts")
    lines = ["# Made by tests/fleet/fleet up; removed by tests/fleet/fleet down.", "all:", "  children:",
             "    fleet:", "      hosts:"]
    for host in status["hosts"]:
        lines += [
            "        %s:" % host["name"],
            "          ansible_host: %s" % host["address"],
            "          ansible_user: root",
            "          ansible_ssh_private_key_file: %s" % status["key"],
            "          ansible_python_interpreter: %s" % host["python"],
            "          ansible_ssh_common_args: '-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes'" % known_hosts,
            "          ansible_remote_tmp: /var/tmp/.ansible-tmp",
            "          fleet_python_version: '%s'" % host["python_version"],
            "          fleet_bare: %s" % ("true" if host["bare"] else "false"),
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
