"""Across the gap on the fleet: survey inside -> bundle + signed archive outside -> deploy inside with the
index stopped; the same archive again changes nothing; a delta after a pin change carries only new files."""

import json
import shutil
import tarfile
import tempfile

import pytest
import yaml

from tests.fleet.fixtures import ansible
from tests.index import catalog

pytestmark = pytest.mark.fleet

CHECK = ("import importlib.metadata as m, json; "
         "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))")


def said(result):
    """What a run printed, as one line: the YAML result format wraps long lines and doubles a quote in a quote."""
    return " ".join(result.stdout.split()).replace("''", "'")


def test_survey_bundle_archive_deploy(fleet, make_index, tmp_path):
    index = make_index(catalog.default_catalog(), include_pip=True)
    inventory_vars = tmp_path / "vars.yml"
    common = {"pymigrate_requirements": {"netio": "", "alpha": "==1.0"}, "pymigrate_venv_path": "/opt/gap/venv",
              "pymigrate_serial": ["100%"], "pymigrate_report_dir": str(tmp_path / "reports"),
              "pymigrate_import_dir": str(tmp_path / "inside-store"),
              "pymigrate_lock_dir": str(tmp_path / "inside-lock")}
    inventory_vars.write_text(yaml.safe_dump({"all": {"vars": common}}))
    inside = ["-i", str(inventory_vars)]
    survey = tmp_path / "survey.json"
    keys = tmp_path / "signing.key", tmp_path / "signing.pub"

    def playbook(name, *args, check=True):
        return ansible(["ansible-playbook"] + inside + ["playbooks/%s.yml" % name] + list(args), fleet.inventory,
                       check=check)

    def outside(archive, *args):
        return playbook("bundle", "-e", "pymigrate_survey_file=%s" % survey, "-e", "pymigrate_index_url=" + index.url,
                        "-e", "pymigrate_bundle_dir=%s" % (tmp_path / "outside-bundle"), "-e",
                        "pymigrate_lock_dir=%s" % (tmp_path / "outside-lock"), "-e",
                        "pymigrate_archive=%s" % archive, "-e", "pymigrate_signing_key=%s" % keys[0], *args)

    def deploy(archive, check=True):
        return playbook("deploy", "-e", "pymigrate_archive=%s" % archive, "-e",
                        json.dumps({"pymigrate_trusted_keys": [str(keys[1])]}), check=check)

    ansible(["ansible", "localhost", "-m", "airgap.pymigrate.bundle_archive", "-a",
             "state=keypair private_key_path=%s public_key_path=%s" % keys], fleet.inventory)
    surveyed = said(playbook("survey", "-e", "pymigrate_survey_file=%s" % survey))
    assert set(json.loads(survey.read_text())["hosts"]) == {h["name"] for h in fleet.hosts}
    assert "%s: %d host(s), %.1f KB; the control node's store %s holds no bundle yet" % (
        survey, len(fleet.hosts), survey.stat().st_size / 1e3, tmp_path / "inside-store") in surveyed
    exported = said(outside(tmp_path / "full.tar"))
    # Where the archive went, its size, serial, signing key, expiry, and the known vulnerability it carries (alpha 1.0).
    with tarfile.open(tmp_path / "full.tar") as tar:
        meta = json.load(tar.extractfile("archive.json"))
        key_id = json.load(tar.extractfile("archive.sig"))["key_id"]
    size = (tmp_path / "full.tar").stat().st_size / 1e6
    words = ("%s: serial %d, full archive, %.1f MB, signed by key %s, expires %s; it carries 1 known vulnerability "
             "(alpha 1.0: PYSEC-0000-1)" % (tmp_path / "full.tar", meta["serial"], size, key_id, meta["expires"]))
    assert "exported " + words in exported, exported[-3000:]
    index.stop()  # from here on, nothing can reach an index
    shutil.copytree(str(tmp_path / "outside-lock"), str(tmp_path / "inside-lock"))  # the lock reviewed inside too

    first = deploy(tmp_path / "full.tar")
    assert "failed=0" in first.stdout.split("PLAY RECAP")[1]
    assert "imported " + words in said(first) and "pymigrate import: verified 100 % (" in first.stdout
    # The archive carried the lock the bundle was built from; it is the inside inventory's.
    assert (tmp_path / "inside-store" / "current" / "lock" / "README.md").read_text() == \
        (tmp_path / "outside-lock" / "README.md").read_text()
    assert "the bundle's lock is the lock in %s" % (tmp_path / "inside-lock") in first.stdout
    # deploy.yml has no survey phase: its summary counts what the hosts did, and nobody is to be retried.
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert summary["counts"] == {"changed": len(fleet.hosts)} and summary["retry"] == []
    assert summary["run"]["playbook"] == "deploy.yml" and summary["run"]["phases"] == ["push", "install"]
    assert (tmp_path / "reports" / "failed_hosts.retry").read_text() == ""
    for host in fleet.hosts:
        out = fleet.exec(host["name"], ["/opt/gap/venv/bin/python", "-c", CHECK], check=True).stdout
        assert json.loads(out)["alpha"] == "1.0" and json.loads(out)["netio"] == "4.0"
    again = deploy(tmp_path / "full.tar")
    assert all("changed=0" in line for line in again.stdout.split("PLAY RECAP")[1].splitlines() if "fleet" in line
               or line.startswith(fleet.name)), again.stdout[-2000:]

    # A pin change: survey again inside, the outside exports a delta carrying only the new wheel.
    playbook("survey", "-e", "pymigrate_survey_file=%s" % survey)
    index = make_index(catalog.default_catalog(), include_pip=True)
    outside(tmp_path / "delta.tar", "-e", '{"pymigrate_requirements": {"netio": "", "alpha": "==1.1"}}')
    with tarfile.open(tmp_path / "delta.tar") as tar:
        wheels = [name for name in tar.getnames() if name.endswith(".whl")]
        meta = json.load(tar.extractfile("archive.json"))
    assert meta["kind"] == "delta" and [w.rsplit("/", 1)[1] for w in wheels] == ["alpha-1.1-py3-none-any.whl"]
    index.stop()
    delta = deploy(tmp_path / "delta.tar")
    # The inside inventory's lock still says alpha 1.0: the deploy says so for every environment.
    assert "from the bundle's lock to the inventory's: alpha 1.1 -> 1.0" in delta.stdout, delta.stdout[-3000:]
    for host in fleet.hosts:
        out = fleet.exec(host["name"], ["/opt/gap/venv/bin/python", "-c", CHECK], check=True).stdout
        assert json.loads(out)["alpha"] == "1.1"

    # rollback.yml as the README gives it, inside (no built bundle there, another HOME to be sure of it): the
    # environments of the bundle the last deploy imported go back to their previous generation.
    home = tempfile.mkdtemp(prefix="pmh-")  # short: ssh keeps its control sockets under it
    try:
        ansible(["ansible-playbook"] + inside + ["playbooks/rollback.yml"], fleet.inventory, env={"HOME": home})
    finally:
        shutil.rmtree(home, ignore_errors=True)
    for host in fleet.hosts:
        out = fleet.exec(host["name"], ["/opt/gap/venv/bin/python", "-c", CHECK], check=True).stdout
        assert json.loads(out)["alpha"] == "1.0"

    replay = deploy(tmp_path / "full.tar", check=False)
    assert replay.returncode != 0 and "not higher than the last accepted 2" in replay.stdout
