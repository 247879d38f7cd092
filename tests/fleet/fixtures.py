"""pytest fixture `fleet`: the air-gapped test fleet for the whole session (see fleetlib.py).

Four hosts by default (PYMIGRATE_FLEET_HOSTS overrides), Pythons spread over 3.9/3.11/3.12/3.13, the last
host bare (no pip, no ensurepip). Always taken down at the end of the session, also after failures.
"""

import contextlib
import os
import subprocess

import pytest

from tests.fleet import fleetlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Fleet:
    def __init__(self, name, inventory):
        self.name = name
        self.inventory = inventory
        self.status = fleetlib.load_status(name)
        self.hosts = self.status["hosts"]

    def host(self, name):
        return next(host for host in self.hosts if host["name"] == name)

    def exec(self, host, argv, **kwargs):
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("text", True)
        check = kwargs.pop("check", False)
        return subprocess.run(fleetlib.exec_argv(self.name, host, argv), check=check, **kwargs)

    def python(self, host, code, **kwargs):
        """Run Python code with the host's own interpreter, inside the host."""
        return self.exec(host, [self.host(host)["python"], "-c", code], **kwargs)

    def forget_installs(self):
        """Every host as the fleet brought it up: its private /opt and /var/lib/pymigrate emptied (environments,
        stores, locks). The fleet is shared by the session's test modules; a module that counts a first run's
        bytes or checks that check mode made nothing calls this first."""
        for host in self.hosts:
            self.exec(host["name"], ["sh", "-c", "rm -rf /opt/* /opt/.[!.]* /var/lib/pymigrate/* "
                                                 "/var/lib/pymigrate/.[!.]*"], check=True)

    def stop_sshd(self, host):
        fleetlib.stop_sshd(self.name, host)

    def start_sshd(self, host):
        fleetlib.start_sshd(self.name, host)

    def down(self):
        fleetlib.down(self.name)


def _unavailable_reason():
    if os.geteuid() != 0:
        return "the test fleet needs root (network namespaces)"
    try:
        fleetlib.check_tools()
        fleetlib.check_namespaces()
    except fleetlib.FleetError as exc:
        return str(exc)
    return None


@contextlib.contextmanager
def own_fleet(name, count, **kwargs):
    """A fleet of its own for one test module (other Pythons, a become user, ...), always taken down after it. Use
    it from a fixture that depends on ``fleet``, whose checks (root, namespaces) have then passed."""
    try:
        inventory = fleetlib.up(name, count, **kwargs)
    except fleetlib.FleetError as exc:  # up has already removed whatever it made
        pytest.fail("the fleet %s did not come up: %s" % (name, exc))
    try:
        yield Fleet(name, inventory)
    finally:
        fleetlib.down(name)


@pytest.fixture(scope="session")
def fleet():
    reason = _unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail("CI must run the fleet tests: " + reason)
        pytest.skip(reason)
    name = os.environ.get("PYMIGRATE_FLEET_NAME", "pmt")
    try:
        count = int(os.environ.get("PYMIGRATE_FLEET_HOSTS", "4"))
    except ValueError:
        pytest.fail("PYMIGRATE_FLEET_HOSTS must be a number of hosts, got %r" % os.environ["PYMIGRATE_FLEET_HOSTS"])
    try:
        inventory = fleetlib.up(name, count, tmpfs_size="512M", bare=["%s-h%d" % (name, count)])
    except fleetlib.FleetError as exc:  # up has already removed whatever it made
        pytest.fail("the test fleet did not come up: %s" % exc)
    try:
        yield Fleet(name, inventory)
    finally:
        fleetlib.down(name)


# The venv whose ansible-core runs the fleet tests: the checkout's (the pinned core) unless the compat tier names
# another (the oldest core the collection supports).
VENV = os.environ.get("PYMIGRATE_VENV") or os.path.join(ROOT, ".venv")


def ansible(args, inventory, check=True, env=None, **kwargs):
    """Run an ansible CLI from the test venv (PYMIGRATE_VENV, default the checkout's) with the repo's ansible.cfg."""
    full_env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                    ANSIBLE_FORCE_COLOR="0", PIP_CONFIG_FILE="/dev/null")
    full_env.update(env or {})
    argv = [os.path.join(VENV, "bin", args[0]), "-i", inventory] + list(args[1:])
    result = subprocess.run(argv, cwd=ROOT, env=full_env, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError("%s failed (rc=%d):\n%s" % (" ".join(argv), result.returncode, result.stdout[-6000:]))
    return result
