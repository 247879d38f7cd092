"""Before `make test`: fail at once, naming what is missing and how to get it, instead of a test failing later with
a network or "command not found" error. Standard library only.

Checks: root and network namespaces (the fleet), the commands the tests run (Debian packages: tests/tools/system-deps
installs them as root), the Pythons the fleet and `make compat` use, the uv wheel `make dev` downloads. The firewall
tools (nft, iptables) are each optional on a developer's machine: the fleet uses whichever exists, the registry tests
skip the path of a missing one, and the missing route alone keeps hosts in. Under CI (``$CI`` set) both are needed,
as the registry tests there fail rather than skip a path.
Exit status 0 when all is there, 1 otherwise (each problem on its own line).
"""

import glob
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYENV = os.environ.get("PYENV_ROOT", "/root/.pyenv")
# command -> the Debian package that brings it (tests/tools/system-deps installs these)
COMMANDS = {"sshd": "openssh-server", "ssh": "openssh-client", "ssh-keygen": "openssh-client", "ip": "iproute2",
            "unshare": "util-linux", "nsenter": "util-linux", "sudo": "sudo", "cc": "gcc", "podman": "podman",
            "runc": "runc", "docker-registry": "docker-registry", "git": "git",
            # The migration record's pages are read by headless Chromium (tests/integration/test_record.py).
            "chromium": "chromium", "chromedriver": "chromium-driver",
            # A real PyPy, whose tags a declared PyPy target must equal (tests/component/test_resolve.py).
            "pypy3": "pypy3"}
# command -> its Debian package: the fleet's outgoing-connection rule (each tool's path is tested; CI needs both)
FIREWALLS = {"nft": "nftables", "iptables": "iptables"}
SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")


def _which(name):
    candidates = (os.path.join(directory, name) for directory in SBIN)
    return shutil.which(name) or next((path for path in candidates if os.access(path, os.X_OK)), None)


def problems():
    found = []
    if os.geteuid() != 0:
        found.append("not root: the test fleet makes network namespaces and runs sshd (run make test as root)")
    elif _which("unshare") and subprocess.run([_which("unshare"), "--net", "--mount", "--uts", "true"],
                                              stderr=subprocess.DEVNULL, check=False).returncode != 0:
        found.append("cannot make network/mount/UTS namespaces here (a locked-down container?): the fleet needs them")
    wanted = dict(COMMANDS, **FIREWALLS) if os.environ.get("CI") else COMMANDS
    missing = sorted({package for command, package in wanted.items() if not _which(command)})
    if missing:
        found.append("missing Debian packages: %s (as root: tests/tools/system-deps, or apt-get install -y %s)"
                     % (", ".join(missing), " ".join(missing)))
    if not glob.glob(os.path.join(PYENV, "versions", "3.12*", "bin", "python3.12")) and not shutil.which("python3.12"):
        found.append("no Python 3.12 (make compat runs the newest ansible-core on it): pyenv install 3.12")
    if not glob.glob(os.path.join(ROOT, "build", "wheelhouse", "uv-*.whl")):
        found.append("no uv wheel in build/wheelhouse: run make dev (it downloads it once)")
    return found


def main():
    found = problems()
    for line in found:
        print("make test cannot run: " + line, file=sys.stderr)
    absent = [package for command, package in FIREWALLS.items() if not _which(command)]
    if absent and not os.environ.get("CI"):
        print("note: %s not installed: the registry tests skip that firewall path (tests/tools/system-deps installs "
              "it)" % " and ".join(absent), file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
