"""The test world itself: real SSH to every host, distinct Pythons, private dirs, and no route out."""

import json
import os
import re
import socket
import subprocess
import threading
import time
from http.server import HTTPServer, SimpleHTTPRequestHandler

import pytest

from tests.fleet import fleetlib
from tests.fleet.fixtures import ROOT, ansible

pytestmark = pytest.mark.fleet
FLEET_CLI = os.path.join(ROOT, "tests", "fleet", "fleet")


def test_every_host_answers_over_ssh_with_its_own_name_and_python(fleet):
    pong = ansible(["ansible", "all", "-m", "ansible.builtin.ping", "-o"], fleet.inventory).stdout
    for host in fleet.hosts:
        assert re.search(r"^%s \| SUCCESS => .*\"ping\": ?\"pong\"" % re.escape(host["name"]), pong, re.M), pong
    result = ansible(["ansible", "all", "-m", "ansible.builtin.setup", "-a", "gather_subset=!all,min",
                      "-o"], fleet.inventory)
    seen = {}
    for line in result.stdout.splitlines():
        host, _sep, rest = line.partition(" | SUCCESS => ")
        if rest:
            facts = json.loads(rest)["ansible_facts"]
            seen[host] = (facts["ansible_hostname"], facts["ansible_python_version"])
    assert sorted(seen) == sorted(h["name"] for h in fleet.hosts)
    for host in fleet.hosts:
        hostname, version = seen[host["name"]]
        assert hostname == host["name"]
        assert version.startswith(host["python_version"] + ".")
    assert len({h["python_version"] for h in fleet.hosts}) >= min(3, len(fleet.hosts))


@pytest.fixture(scope="module")
def loopback_server():
    server = HTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


PROBE = """
import socket, sys
for host, port in %r:
    try:
        socket.create_connection((host, port), timeout=2).close()
        print("OPEN", host, port)
    except OSError as exc:
        print("CLOSED", host, port, exc)
"""


def test_hosts_cannot_reach_the_index_or_anything_outside(fleet, loopback_server):
    # The control node reaches the loopback server: the probe below would notice if it leaked.
    socket.create_connection(("127.0.0.1", loopback_server), timeout=2).close()
    for host in fleet.hosts:
        targets = [("127.0.0.1", loopback_server), (host["control_address"], loopback_server),
                   ("192.0.2.1", 80), ("1.1.1.1", 443)]
        started = time.monotonic()
        out = fleet.python(host["name"], PROBE % (targets,), check=True).stdout
        assert "OPEN" not in out, out
        lines = out.splitlines()
        assert len(lines) == len(targets) and all(line.startswith("CLOSED") for line in lines), out
        for line in lines[2:]:  # no route: nothing even leaves the namespace, the failure is immediate
            assert "Network is unreachable" in line, out
        assert time.monotonic() - started < 4, out


def test_bare_host_has_no_pip_and_others_do(fleet):
    for host in fleet.hosts:
        code = "import importlib.util as u; print(bool(u.find_spec('pip')), bool(u.find_spec('ensurepip')))"
        out = fleet.python(host["name"], code, check=True).stdout.split()
        assert out == (["False", "False"] if host["bare"] else ["True", "True"]), host["name"]
        pip = fleet.exec(host["name"], [host["python"], "-m", "pip", "--version"])
        ensurepip = fleet.python(host["name"], "import ensurepip")
        if host["bare"]:
            assert pip.returncode != 0 and "No module named pip" in pip.stderr
            assert ensurepip.returncode != 0 and "No module named 'ensurepip'" in ensurepip.stderr
            # Only inside that host: the same interpreter on the control node still has both.
            subprocess.run([host["python"], "-c", "import ensurepip, pip"], check=True)
        else:
            assert pip.returncode == 0 and ensurepip.returncode == 0, (pip.stderr, ensurepip.stderr)
    assert any(host["bare"] for host in fleet.hosts)


def test_private_writable_dirs(fleet):
    first, second = fleet.hosts[0]["name"], fleet.hosts[1]["name"]
    marker = "/opt/private-%s" % first
    fleet.exec(first, ["touch", marker], check=True)
    try:
        assert fleet.exec(first, ["test", "-e", marker]).returncode == 0
        assert fleet.exec(second, ["test", "-e", marker]).returncode != 0
        assert not os.path.exists(marker)
        assert fleet.exec(first, ["hostname"], check=True).stdout.strip() == first
    finally:
        fleet.exec(first, ["rm", "-f", marker])


def test_tmpfs_size_can_be_shrunk_for_disk_full(fleet):
    host = fleet.hosts[0]["name"]
    fleet.exec(host, ["mount", "-o", "remount,size=1M", "/var/tmp"], check=True)
    try:
        result = fleet.exec(host, ["dd", "if=/dev/zero", "of=/var/tmp/fill", "bs=1M", "count=4"])
        assert result.returncode != 0 and "No space left on device" in result.stderr
    finally:
        fleet.exec(host, ["rm", "-f", "/var/tmp/fill"])
        fleet.exec(host, ["mount", "-o", "remount,size=512M", "/var/tmp"], check=True)


def _cli(*args):
    return subprocess.run([FLEET_CLI] + list(args), check=False, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=60)


def test_cli_status_and_exec_on_the_session_fleet(fleet):
    status = json.loads(_cli("status", "--name", fleet.name).stdout)
    assert status["up"] and [h["name"] for h in status["hosts"]] == [h["name"] for h in fleet.hosts]
    assert all(h["sshd_pid"] for h in status["hosts"])
    host = fleet.hosts[-1]["name"]
    result = _cli("exec", host, "--name", fleet.name, "--", "sh", "-c", "hostname; ip -o -4 route")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == host
    assert len(lines) == 2 and "default" not in result.stdout and "dev eth0" in lines[1]  # only the /30 link route
    assert _cli("exec", host, "--name", fleet.name, "--", "false").returncode == 1


@pytest.mark.parametrize("count, message", [("0", "at least 1"), ("-3", "at least 1"),
                                            ("100000", "can hold at most")])
def test_bad_host_counts_are_refused_clearly(count, message):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    result = _cli("--name", "pmx", "up", "--hosts", count)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
    if count == "100000":  # both limits are named: the address plan and the memory
        assert "address plan: 63" in result.stderr and "MiB available" in result.stderr
    assert not os.path.exists(fleetlib.state_dir("pmx"))


def test_down_of_a_fleet_that_is_not_up_is_a_no_op():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    for _attempt in range(2):
        result = _cli("down", "--name", "pmx")
        assert result.returncode == 0 and result.stdout == "" and "Traceback" not in result.stderr


def test_missing_tool_names_the_package(monkeypatch):
    monkeypatch.setattr(fleetlib, "_which", lambda tool: None if tool in ("sshd", "ip") else "/bin/" + tool)
    with pytest.raises(fleetlib.FleetError, match="apt-get install -y iproute2 openssh-server"):
        fleetlib.check_tools()
