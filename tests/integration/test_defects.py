"""Issue 27 over real SSH: deploy.yml --check previews the archive being checked (also into an empty store); a run
whose canary fails leaves state.yml reporting each host on the serial it really holds; an environment path the hosts
would refuse is refused on the control node before the shared bundle is written, so state.yml and rollback.yml keep
working."""

import json

import pytest
import yaml

from tests.fleet.fixtures import ansible
from tests.index import catalog

pytestmark = pytest.mark.fleet

VERSIONS = ("import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))")


def recap(result):
    """{host: {ok, changed, failed, ...}} from the last PLAY RECAP."""
    found = {}
    for line in result.stdout.split("PLAY RECAP")[-1].splitlines():
        if ":" in line and "ok=" in line:
            host, counts = line.split(":", 1)
            found[host.strip()] = {key: int(value) for key, value in (item.split("=") for item in counts.split())}
    return found


def test_check_mode_previews_the_archive_being_checked(fleet, make_index, tmp_path):
    index = make_index(catalog.default_catalog(), include_pip=True)
    store = tmp_path / "inside-store"
    common = {"pymigrate_requirements": {"alpha": "==1.0"}, "pymigrate_venv_path": "/opt/dfcheck/venv",
              "pymigrate_serial": ["100%"], "pymigrate_report_dir": str(tmp_path / "reports"),
              "pymigrate_import_dir": str(store)}
    (tmp_path / "vars.yml").write_text(yaml.safe_dump({"all": {"vars": common}}))
    survey, keys = tmp_path / "survey.json", (tmp_path / "signing.key", tmp_path / "signing.pub")
    hosts = [host["name"] for host in fleet.hosts]

    def playbook(name, *args, check=True):
        return ansible(["ansible-playbook", "-i", str(tmp_path / "vars.yml"), "playbooks/%s.yml" % name]
                       + list(args), fleet.inventory, check=check)

    def export(archive, pin):
        playbook("survey", "-e", "pymigrate_survey_file=%s" % survey)
        playbook("bundle", "-e", "pymigrate_survey_file=%s" % survey, "-e", "pymigrate_index_url=" + index.url,
                 "-e", "pymigrate_bundle_dir=%s" % (tmp_path / "outside"), "-e", "pymigrate_archive=%s" % archive,
                 "-e", "pymigrate_signing_key=%s" % keys[0], "-e",
                 json.dumps({"pymigrate_requirements": {"alpha": pin}}))

    def deploy(archive, *args, check=True):
        return playbook("deploy", "-e", "pymigrate_archive=%s" % archive, "-e",
                        json.dumps({"pymigrate_trusted_keys": [str(keys[1])]}), *args, check=check)

    def alpha(host):
        out = fleet.exec(host, ["/opt/dfcheck/venv/bin/python", "-c", VERSIONS])
        return json.loads(out.stdout).get("alpha") if out.returncode == 0 else None

    ansible(["ansible", "localhost", "-m", "airgap.pymigrate.bundle_archive", "-a",
             "state=keypair private_key_path=%s public_key_path=%s" % keys], fleet.inventory)
    export(tmp_path / "first.tar", "==1.0")
    # An empty store: the check previews the archive (it failed, finding no bundle in the store).
    checked = deploy(tmp_path / "first.tar", "--check", check=False)
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert all(recap(checked)[host]["changed"] >= 1 for host in hosts), checked.stdout[-3000:]
    assert "would import" in checked.stdout
    assert not (store / "current").exists() and not (store / "accepted.json").exists()
    assert all(alpha(host) is None for host in hosts)  # nothing installed

    deploy(tmp_path / "first.tar")
    assert all(alpha(host) == "1.0" for host in hosts)
    export(tmp_path / "second.tar", "==1.1")
    accepted = json.loads((store / "accepted.json").read_text())
    # The store holds the first bundle: the check of the second says every host would change (it said ok=3, the
    # first bundle's preview, where the real run changed every host).
    checked = deploy(tmp_path / "second.tar", "--check", "--diff")
    assert all(recap(checked)[host]["changed"] >= 1 for host in hosts), checked.stdout[-3000:]
    assert "alpha 1.0 -> 1.1" in checked.stdout or "alpha==1.1" in checked.stdout, checked.stdout[-3000:]
    assert json.loads((store / "accepted.json").read_text()) == accepted
    assert all(alpha(host) == "1.0" for host in hosts)
    real = deploy(tmp_path / "second.tar")
    assert all(recap(real)[host]["changed"] >= 1 for host in hosts)
    assert all(alpha(host) == "1.1" for host in hosts)
    assert not (store / "proposals").exists()  # the real import dropped the check's proposal


@pytest.fixture(scope="module")
def world(fleet, local_index, tmp_path_factory):
    base = tmp_path_factory.mktemp("defects")
    inventory = {"all": {"vars": {
        "pymigrate_index_url": local_index.url, "pymigrate_bundle_dir": str(base / "bundle"),
        "pymigrate_lock_dir": str(base / "lock"), "pymigrate_report_dir": str(base / "reports"),
        "pymigrate_venv_path": "/opt/dfcanary/venv", "pymigrate_requirements": {"alpha": "==1.0"},
        "pymigrate_serial": [1, "100%"], "pymigrate_max_fail_percentage": 0}}}
    (base / "vars.yml").write_text(yaml.safe_dump(inventory))
    world = {"base": base, "vars": str(base / "vars.yml"), "canary": fleet.hosts[0]["name"]}
    run(fleet, world, "playbooks/migrate.yml")
    return world


def run(fleet, world, playbook, *args, check=True):
    return ansible(["ansible-playbook", "-i", world["vars"], playbook] + list(args), fleet.inventory, check=check)


def serial(world):
    return json.loads((world["base"] / "bundle" / "manifest.json").read_text())["serial"]


def query(fleet, world, expression):
    run(fleet, world, "playbooks/state.yml", "-e", json.dumps({"pymigrate_query": expression}))
    return sorted(json.loads((world["base"] / "reports" / "query.json").read_text())["result"])


def test_after_a_failed_canary_state_reports_the_serial_each_host_holds(fleet, world):
    canary, hosts = world["canary"], sorted(host["name"] for host in fleet.hosts)
    before = serial(world)
    fleet.exec(canary, ["chmod", "0777", "/opt/dfcanary"], check=True)  # the canary refuses to install there
    try:
        failed = run(fleet, world, "playbooks/migrate.yml", "-e",
                     json.dumps({"pymigrate_requirements": {"alpha": "==1.1"}}), check=False)
    finally:
        fleet.exec(canary, ["chmod", "0755", "/opt/dfcanary"], check=True)
    assert failed.returncode != 0 and "/opt/dfcanary is owned by root (uid 0) with mode 0777" in failed.stdout
    new = serial(world)
    assert new == before + 1
    # No host got the new serial: each is reported on the one it holds, and the documented query finds them all
    # (it found none: every host was reported ok on the new serial).
    assert query(fleet, world, "environments[?serial != `%d`].host" % new) == hosts
    state = json.loads((world["base"] / "reports" / "state.json").read_text())
    assert {env["host"]: env["serial"] for env in state["environments"]} == {host: before for host in hosts}
    assert query(fleet, world, "environments[?serial == `%d`].host" % before) == hosts


@pytest.mark.parametrize("extra, var, value", [
    ({"pymigrate_venv_path": "/tmp/dfvenv"}, "pymigrate_venv_path", "/tmp/dfvenv"),
    ({"pymigrate_envs": {"a": {"path": "/var/tmp/dfa", "requirements": {"alpha": "==1.1"}}}},
     "pymigrate_envs.a.path", "/var/tmp/dfa"),
])
def test_a_path_the_hosts_refuse_is_refused_before_the_bundle_is_written(fleet, world, extra, var, value):
    manifest = (world["base"] / "bundle" / "manifest.json").read_text()
    refused = run(fleet, world, "playbooks/migrate.yml", "-e", json.dumps(extra), check=False)
    assert refused.returncode != 0
    said = " ".join(refused.stdout.split())
    assert "variable %s" % var in said and value in said and "every user may write" in said, said[-3000:]
    # The shared bundle still names the paths the hosts hold: state.yml and rollback.yml work on every host.
    assert (world["base"] / "bundle" / "manifest.json").read_text() == manifest
    assert fleet.exec(world["canary"], ["test", "-e", value]).returncode != 0
    run(fleet, world, "playbooks/state.yml")
    run(fleet, world, "playbooks/rollback.yml", "--check")
