"""Host-side hardening over real SSH: no path from a local user or an inventory value to root, bad input refused
on the control node before anything moves."""

import json

import pytest
import yaml

from tests.fleet.fixtures import ansible

pytestmark = pytest.mark.fleet


@pytest.fixture(scope="module")
def world(fleet, local_index, tmp_path_factory):
    base = tmp_path_factory.mktemp("hardening")
    host = fleet.hosts[0]["name"]
    inventory = {"all": {"vars": {
        "pymigrate_index_url": local_index.url, "pymigrate_bundle_dir": str(base / "bundle"),
        "pymigrate_lock_dir": str(base / "lock"),
        "pymigrate_report_dir": str(base / "reports"), "pymigrate_venv_path": "/opt/shared/venv",
        "pymigrate_requirements": {"alpha": "==1.0"}, "pymigrate_serial": ["100%"],
        "pymigrate_max_fail_percentage": 100}}}
    path = base / "vars.yml"
    path.write_text(yaml.safe_dump(inventory))
    return {"base": base, "vars": str(path), "host": host}


def migrate(fleet, world, *args):
    return ansible(["ansible-playbook", "-i", world["vars"], "playbooks/migrate.yml", "--limit", world["host"]]
                   + list(args), fleet.inventory, check=False)


def test_a_world_writable_parent_or_a_planted_generations_directory_is_refused(fleet, world):
    host = world["host"]
    fleet.exec(host, ["sh", "-c", "mkdir -p /opt/shared && chmod 0777 /opt/shared"], check=True)
    refused = migrate(fleet, world)
    assert refused.returncode != 0
    assert "/opt/shared is owned by root (uid 0) with mode 0777: another user could replace" in refused.stdout
    assert fleet.exec(host, ["test", "-e", "/opt/shared/.venv.generations"]).returncode != 0  # nothing built

    # A local user got there first (while the directory was open to everyone) and made the generations directory.
    fleet.exec(host, ["sh", "-c", "chmod 0755 /opt/shared && mkdir -m 0777 /opt/shared/.venv.generations && "
                      "chown 65534:65534 /opt/shared/.venv.generations"], check=True)
    refused = migrate(fleet, world)
    assert refused.returncode != 0 and "/opt/shared/.venv.generations is owned by" in refused.stdout
    assert "uid 65534" in refused.stdout and fleet.exec(host, ["test", "-e", "/opt/shared/venv"]).returncode != 0

    fleet.exec(host, ["rmdir", "/opt/shared/.venv.generations"], check=True)
    assert migrate(fleet, world).returncode == 0
    mode = fleet.exec(host, ["stat", "-c", "%a %u", "/opt/shared/.venv.generations"], check=True).stdout.split()
    assert mode == ["755", "0"]


@pytest.mark.parametrize("extra, var, text", [
    ({"pymigrate_smoke_imports": ["os; open('/tmp/pwned', 'w')"]}, "pymigrate_smoke_imports", "dotted module names"),
    ({"pymigrate_requirements": {}}, "pymigrate_requirements", "would empty the environment"),
    ({"pymigrate_venv_path": "/usr"}, "pymigrate_venv_path", "system directory"),
])
def test_bad_input_is_refused_before_anything_moves(fleet, world, extra, var, text):
    host = world["host"]
    before = fleet.exec(host, ["sh", "-c", "ls -R /opt /var/lib/pymigrate 2>/dev/null"]).stdout
    result = migrate(fleet, world, "-e", json.dumps(extra))
    assert result.returncode != 0
    assert "variable %s" % var in result.stdout and text in result.stdout and "host %s" % host in result.stdout
    assert fleet.exec(host, ["test", "-e", "/tmp/pwned"]).returncode != 0
    assert fleet.exec(host, ["sh", "-c", "ls -R /opt /var/lib/pymigrate 2>/dev/null"]).stdout == before


@pytest.mark.parametrize("extra, text", [
    ({"pymigrate_venv_path": "/opt/taken/venv"}, "/opt/taken/venv exists and is not a pymigrate-managed symlink"),
    ({"pymigrate_envs": {"app": {"path": "/opt/app/venv", "python": "/nonexistent/python3"}}},
     "environment app: its interpreter /nonexistent/python3 does not exist on this host"),  # found by the survey
])
def test_a_foreign_path_or_a_missing_interpreter_stops_the_host_before_any_file_moves(fleet, world, extra, text):
    host = world["host"]
    fleet.exec(host, ["mkdir", "-p", "/opt/taken/venv"], check=True)  # someone else's directory
    extra = dict(extra, pymigrate_requirements={"crawler": "==1.0"})  # no other test puts it in a host store
    if "pymigrate_envs" in extra:
        extra["pymigrate_envs"]["app"]["requirements"] = {"crawler": "==1.0"}

    def store():
        return fleet.exec(host, ["sh", "-c", "find /var/lib/pymigrate/store -type f | sort"]).stdout

    before = store()
    assert "crawler-1.0" not in before
    result = migrate(fleet, world, "-e", json.dumps(extra))
    assert result.returncode != 0 and text in result.stdout
    assert store() == before  # refused in the push's first call: nothing was sent
    assert fleet.exec(host, ["test", "-e", "/opt/app"]).returncode != 0
