"""pymigrate_installer uv over real SSH: the bundle carries the real uv wheel for each profile (from the local index,
which serves the wheel `make dev` downloads), the hosts install exactly the lock with it from their store with no
index, the environments pass the same installed-state check as pip's, and a re-run changes nothing."""

import json
import os

import pytest
import yaml

from tests.fleet.fixtures import ROOT, ansible
from tests.index import catalog
from tests.index.server import IndexServer

pytestmark = pytest.mark.fleet

VENV = "/opt/uvinstall/venv"
WHEELHOUSE = os.path.join(ROOT, "build", "wheelhouse")
GENERATION = ("import json, os; p = os.path.realpath(%r); "
              "print(json.dumps(json.load(open(os.path.join(p, 'pymigrate-generation.json')))))" % VENV)


@pytest.fixture(scope="module")
def uv_index(tmp_path_factory):
    directory = catalog.build(str(tmp_path_factory.mktemp("uv-index")))
    added = catalog.add_wheel_files(directory, WHEELHOUSE, names=("uv",))
    assert added, "no uv wheel in %s: run `make dev`, which downloads it" % WHEELHOUSE
    server = IndexServer(directory)
    yield server
    server.stop()


def test_uv_installs_exactly_the_lock_and_a_rerun_changes_nothing(fleet, uv_index, tmp_path):
    inventory = {"all": {"vars": {
        "pymigrate_index_url": uv_index.url, "pymigrate_bundle_dir": str(tmp_path / "bundle"),
        "pymigrate_lock_dir": str(tmp_path / "lock"),
        "pymigrate_report_dir": str(tmp_path / "reports"), "pymigrate_venv_path": VENV,
        "pymigrate_installer": "uv", "pymigrate_requirements": {"netio": "", "alpha": "==1.1"},
        "pymigrate_smoke_imports": ["netio"], "pymigrate_serial": ["100%"]}}}
    extra = tmp_path / "vars.yml"
    extra.write_text(yaml.safe_dump(inventory))
    args = ["ansible-playbook", "-i", str(extra), "playbooks/migrate.yml"]
    first = ansible(args, fleet.inventory)
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    for profile in manifest["profiles"].values():
        assert manifest["files"][profile["installer"]]["project"] == "uv"  # carried instead of pip
        assert not any(manifest["files"][path]["project"] == "pip" for path in profile["files"])
    assert "installs with pip" not in first.stdout
    for host in fleet.hosts:
        record = json.loads(fleet.python(host["name"], GENERATION, check=True).stdout)
        assert record["installer"]["kind"] == "uv", host
        assert record["packages"]["alpha"] == "1.1" and "netio" in record["packages"]
        installer = fleet.exec(host["name"], ["sh", "-c", "cat %s/lib/python3*/site-packages/alpha-1.1.dist-info/"
                                              "INSTALLER" % VENV], check=True).stdout.strip()
        assert installer == "uv"
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert summary["counts"] == {"changed": len(fleet.hosts)}

    again = ansible(args, fleet.inventory)
    assert "changed: [" not in again.stdout, again.stdout[-3000:]
    # The same installed-state check as for pip's environments: state.yml verifies each against its lock.
    state = ansible(["ansible-playbook", "-i", str(extra), "playbooks/state.yml"], fleet.inventory)
    document = json.loads((tmp_path / "reports" / "state.json").read_text())
    assert document["counts"] == {"ok": len(fleet.hosts)}, state.stdout[-3000:]
    assert all(not env["drift"] for env in document["environments"])
