"""target_facts over real SSH equals what packaging computes with each host's own interpreter."""

import json
import os
import shutil
import sysconfig

import pytest

from tests.fleet.fixtures import ansible

pytestmark = pytest.mark.fleet

# packaging from the control node's venv (pure Python, 3.8+), copied where every host can see it (the
# checkout may sit under a directory that is private to the hosts) and appended to the host's path.
SITE_PACKAGES = sysconfig.get_paths()["purelib"]
PROBE = """
import json, sys
sys.path.append(%r)
from packaging.markers import default_environment
from packaging.tags import sys_tags
print(json.dumps({"markers": default_environment(), "tags": [str(t) for t in sys_tags()]}))
"""


def _module_facts(fleet):
    result = ansible(["ansible", "all", "-m", "airgap.pymigrate.target_facts", "-a", "space_path=/opt/app", "-o"],
                     fleet.inventory)
    facts = {}
    for line in result.stdout.splitlines():
        host, _sep, rest = line.partition(" | SUCCESS => ")
        if rest:
            facts[host] = json.loads(rest)["target_facts"]
    return facts


def _packaging_copy(fleet):
    target = os.path.join(fleet.status["hosts"][0]["state_dir"], "..", "probe-lib")
    if not os.path.isdir(target):
        shutil.copytree(os.path.join(SITE_PACKAGES, "packaging"), os.path.join(target, "packaging"))
    return os.path.abspath(target)


def test_markers_and_tags_equal_packaging_on_every_host(fleet):
    facts = _module_facts(fleet)
    probe_lib = _packaging_copy(fleet)
    assert sorted(facts) == sorted(h["name"] for h in fleet.hosts)
    for host in fleet.hosts:
        expected = json.loads(fleet.python(host["name"], PROBE % probe_lib, check=True).stdout)
        got = facts[host["name"]]
        assert got["markers"] == expected["markers"], host["name"]
        assert got["tags"] == expected["tags"], host["name"]
        assert len(got["tags"]) > 50
        assert got["python"]["version"].startswith(host["python_version"] + ".")
        assert got["python"]["executable"] == host["python"]
        assert got["platform"]["libc"] == "glibc" and got["platform"]["libc_version"]
        assert got["tooling"]["pip"] is (not host["bare"])
        assert got["tooling"]["ensurepip"] is (not host["bare"])
        assert got["space"]["measured_path"] == "/opt"  # /opt/app does not exist: its parent is measured
        assert 0 < got["space"]["free_bytes"] <= 512 * 1024 ** 2


def test_check_mode_reports_the_same(fleet):
    host = fleet.hosts[0]["name"]
    result = ansible(["ansible", host, "-m", "airgap.pymigrate.target_facts", "--check", "-o"], fleet.inventory)
    facts = json.loads(result.stdout.split(" | SUCCESS => ", 1)[1])
    assert facts["changed"] is False and facts["target_facts"]["tags"]
