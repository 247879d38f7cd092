"""Issue 12: connecting as an unprivileged user with sudo (become), as real fleets do: migrate.yml, then across the
gap deploy.yml and rollback.yml, on a fleet of its own whose SSH user is not root."""

import json

import pytest
import yaml

from tests.fleet.fixtures import ansible, own_fleet
from tests.index import catalog

pytestmark = pytest.mark.fleet

NAME = "pmu"
USER = "pmfleet"
CHECK = ("import importlib.metadata as m, json; "
         "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))")


@pytest.fixture(scope="module")
def become_fleet(fleet):
    with own_fleet(NAME, 2, tmpfs_size="256M", pythons=("3.11", "3.12"), user=USER) as become:
        yield become


def versions(become_fleet, host, path):
    out = become_fleet.exec(host, [path + "/bin/python", "-c", CHECK], check=True).stdout
    return json.loads(out)


def test_migrate_deploy_and_rollback_as_an_unprivileged_user_with_become(
        become_fleet, local_index, make_index, tmp_path):
    hosts = [host["name"] for host in become_fleet.hosts]
    whoami = ansible(["ansible", "all", "-m", "ansible.builtin.raw", "-a", "id -un", "-e",
                      "ansible_become=false"], become_fleet.inventory)
    assert whoami.stdout.count(USER) == len(hosts)  # the SSH user is not root ...
    inventory_vars = tmp_path / "vars.yml"
    inventory_vars.write_text(yaml.safe_dump({"all": {"vars": {
        "pymigrate_requirements": {"alpha": "==1.0", "netio": ""}, "pymigrate_serial": ["100%"],
        "pymigrate_report_dir": str(tmp_path / "reports"), "pymigrate_import_dir": str(tmp_path / "inside"),
        "pymigrate_bundle_dir": str(tmp_path / "bundle"), "pymigrate_lock_dir": str(tmp_path / "lock")}}}))

    def playbook(name, *args):
        return ansible(["ansible-playbook", "-i", str(inventory_vars), "playbooks/%s.yml" % name] + list(args),
                       become_fleet.inventory)

    playbook("migrate", "-e", "pymigrate_index_url=" + local_index.url)  # ... and become gives the rollout root
    for host in hosts:
        assert versions(become_fleet, host, "/opt/pymigrate/venv")["alpha"] == "1.0"
        owner = become_fleet.exec(host, ["stat", "-c", "%U", "/opt/pymigrate/venv/"], check=True).stdout.strip()
        assert owner == "root"
    again = playbook("migrate", "-e", "pymigrate_index_url=" + local_index.url)
    assert "changed: [" not in again.stdout, again.stdout[-3000:]

    # Across the gap, the same user: survey inside, bundle outside, deploy inside with the index stopped, rollback.
    index = make_index(catalog.default_catalog(), include_pip=True)
    keys = tmp_path / "signing.key", tmp_path / "signing.pub"
    ansible(["ansible", "localhost", "-m", "airgap.pymigrate.bundle_archive", "-a",
             "state=keypair private_key_path=%s public_key_path=%s" % keys], become_fleet.inventory)
    survey = tmp_path / "survey.json"
    playbook("survey", "-e", "pymigrate_survey_file=%s" % survey)
    playbook("bundle", "-e", "pymigrate_survey_file=%s" % survey, "-e", "pymigrate_index_url=" + index.url, "-e",
             "pymigrate_bundle_dir=%s" % (tmp_path / "outside"), "-e", "pymigrate_archive=%s" % (tmp_path / "a.tar"),
             "-e", "pymigrate_lock_dir=%s" % (tmp_path / "outside-lock"),
             "-e", "pymigrate_signing_key=%s" % keys[0], "-e", '{"pymigrate_requirements": {"alpha": "==1.1", '
             '"netio": ""}}')
    index.stop()
    playbook("deploy", "-e", "pymigrate_archive=%s" % (tmp_path / "a.tar"), "-e",
             json.dumps({"pymigrate_trusted_keys": [str(keys[1])]}))
    for host in hosts:
        assert versions(become_fleet, host, "/opt/pymigrate/venv")["alpha"] == "1.1"
    playbook("rollback")
    for host in hosts:
        assert versions(become_fleet, host, "/opt/pymigrate/venv")["alpha"] == "1.0"
