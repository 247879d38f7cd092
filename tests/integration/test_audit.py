"""Issue 15, part 2: the offline rescan inside. Outside, a bundle is built with a synthetic OSV export
(pymigrate_osv_db) that knows alpha 1.0 as vulnerable; only the first host pins alpha==1.0 (a host pin), the others
1.1. The signed archive carries the export in; the index is stopped and the outside's export and bundle removed;
deploy.yml rolls out; audit.yml (in check mode) finds the vulnerable alpha exactly on the first host, from the
carried database only, and answers a JMESPath query. A stale database and a missing one fail closed before any
host is contacted, and no audit.json claims the fleet clean; policy fail fails after the report, an ignore entry
lets it pass.

Runs on the shared test fleet (PYMIGRATE_FLEET_NAME=pma PYMIGRATE_FLEET_HOSTS=2 for a small one of its own)."""

import datetime
import json
import os
import shutil
import zipfile

import pytest
import yaml

from tests.fleet.fixtures import ansible
from tests.index import catalog

pytestmark = pytest.mark.fleet

VENV = "/opt/audit/venv"
CHECK = ("import importlib.metadata as m, json; "
         "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))")


def osv_export(path, modified):
    records = [
        {"id": "GHSA-aud1-alph-a100", "modified": modified, "aliases": ["CVE-0000-1501"],
         "summary": "alpha before 1.1 runs what it is sent",
         "affected": [{"package": {"ecosystem": "PyPI", "name": "Alpha"},
                       "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1"}]}]}]},
        # Withdrawn: it would make every host vulnerable, and never counts.
        {"id": "GHSA-aud2-with-drwn", "modified": modified, "withdrawn": "2026-01-01T00:00:00Z",
         "affected": [{"package": {"ecosystem": "PyPI", "name": "alpha"},
                       "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]},
        {"id": "PYSEC-0000-77", "modified": "2026-01-01T00:00:00Z",
         "affected": [{"package": {"ecosystem": "PyPI", "name": "netio"}, "versions": ["1.0"]}]},
    ]
    with zipfile.ZipFile(str(path), "w") as archive:
        for item in records:
            archive.writestr("%s.json" % item["id"], json.dumps(item))
    return str(path)


def test_audit_inside_from_the_carried_database_only(fleet, make_index, tmp_path):
    hosts = [host["name"] for host in fleet.hosts]
    assert len(hosts) >= 2
    index = make_index([catalog.release("alpha", "1.0"), catalog.release("alpha", "1.1")], include_pip=True)
    reports, store = tmp_path / "reports", tmp_path / "inside-store"
    common = {"pymigrate_requirements": {"alpha": "==1.1"}, "pymigrate_venv_path": VENV,
              "pymigrate_serial": ["100%"], "pymigrate_report_dir": str(reports), "pymigrate_import_dir": str(store)}
    inventory_vars = tmp_path / "vars.yml"
    inventory_vars.write_text(yaml.safe_dump({"all": {
        "vars": common, "hosts": {hosts[0]: {"pymigrate_host_requirements": {"alpha": "==1.0"}}}}}))
    survey, keys = tmp_path / "survey.json", (tmp_path / "signing.key", tmp_path / "signing.pub")
    three_days_ago = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3)
    export = osv_export(tmp_path / "all.zip", three_days_ago.strftime("%Y-%m-%dT%H:%M:%SZ"))

    def playbook(name, *args, check=True):
        return ansible(["ansible-playbook", "-i", str(inventory_vars), "playbooks/%s.yml" % name] + list(args),
                       fleet.inventory, check=check)

    ansible(["ansible", "localhost", "-m", "airgap.pymigrate.bundle_archive", "-a",
             "state=keypair private_key_path=%s public_key_path=%s" % keys], fleet.inventory)
    playbook("survey", "-e", "pymigrate_survey_file=%s" % survey)
    outside_bundle = tmp_path / "outside-bundle"
    playbook("bundle", "-e", "pymigrate_survey_file=%s" % survey, "-e", "pymigrate_index_url=" + index.url,
             "-e", "pymigrate_bundle_dir=%s" % outside_bundle, "-e", "pymigrate_archive=%s" % (tmp_path / "b.tar"),
             "-e", "pymigrate_lock_dir=%s" % (tmp_path / "outside-lock"),
             "-e", "pymigrate_signing_key=%s" % keys[0], "-e", "pymigrate_osv_db=%s" % export)
    # From here on there is no index, no export and no bundle outside: only what the archive carried in.
    index.stop()
    os.remove(export)
    shutil.rmtree(str(outside_bundle))
    playbook("deploy", "-e", "pymigrate_archive=%s" % (tmp_path / "b.tar"), "-e",
             json.dumps({"pymigrate_trusted_keys": [str(keys[1])]}))
    held = {h: json.loads(fleet.exec(h, [VENV + "/bin/python", "-c", CHECK], check=True).stdout)["alpha"]
            for h in hosts}
    assert held == dict({h: "1.1" for h in hosts}, **{hosts[0]: "1.0"})

    # The audit, read-only (check mode) and with a question: which hosts hold something known vulnerable?
    query = "pymigrate_query=\"vulnerabilities[?contains(aliases, 'CVE-0000-1501')].hosts[]\""
    out = playbook("audit", "--check", "-e", query)
    recap = out.stdout.split("PLAY RECAP")[1]
    assert all("changed=0" in line and "failed=0" in line for line in recap.splitlines() if " : " in line), recap
    document = json.loads((reports / "audit.json").read_text())
    assert document["run"]["playbook"] == "audit.yml"
    status = {h["host"]: h["status"] for h in document["hosts"]}
    assert status == dict({h: "clean" for h in hosts}, **{hosts[0]: "vulnerable"})
    (vuln,) = document["vulnerabilities"]  # the withdrawn record and netio's never count
    assert (vuln["id"], vuln["aliases"], vuln["hosts"], vuln["host_count"], vuln["packages"]) == (
        "GHSA-aud1-alph-a100", ["CVE-0000-1501"], [hosts[0]], 1,
        [{"project": "alpha", "version": "1.0", "fixed_in": ["1.1"]}])
    first = [h for h in document["hosts"] if h["host"] == hosts[0]][0]
    assert [f["id"] for f in first["environments"]["default"]["vulnerable"]] == ["GHSA-aud1-alph-a100"]
    database = document["database"]
    carried = store / "bundles" / str(database["bundle_serial"]) / "osv-db.zip"
    assert database["origin"] == "bundle" and database["path"] == str(carried) and 2.9 < database["age_days"] < 3.1
    assert document["counts"] == {"hosts": len(hosts), "audited": len(hosts), "not_audited": 0, "vulnerable": 1,
                                  "clean": len(hosts) - 1, "vulnerabilities": 1, "ignored": 0, "findings": 1}
    assert json.loads((reports / "query.json").read_text())["result"] == [hosts[0]]
    assert "GHSA-aud1-alph-a100 (CVE-0000-1501): alpha 1.0 on 1 host(s): %s" % hosts[0] \
        in (reports / "audit.txt").read_text()
    assert "GHSA-aud1-alph-a100" in out.stdout  # the table is printed

    # Policy fail (scheduled audits): the report is written and shown, then the run fails naming what and where;
    # an ignore entry with its reason lets it pass.
    failing = playbook("audit", "-e", "pymigrate_vulnerability_policy=fail", check=False)
    assert failing.returncode != 0 and "GHSA-aud1-alph-a100: alpha 1.0 (fixed in 1.1) on %s" % hosts[0] \
        in " ".join(failing.stdout.split())
    assert failing.stdout.index("Show the audit") < failing.stdout.index("Stop when the fleet holds")
    assert json.loads((reports / "audit.json").read_text())["run"]["id"] != document["run"]["id"]
    ignore = {"pymigrate_vulnerability_policy": "fail", "pymigrate_vulnerability_ignore": [
        {"id": "CVE-0000-1501", "reason": "alpha is not reachable from outside", "expires": "2999-12-31"}]}
    playbook("audit", "-e", json.dumps(ignore))
    assert json.loads((reports / "audit.json").read_text())["vulnerabilities"][0]["state"] == "ignored"

    def refused(*args):
        before = sorted(os.listdir(str(reports)))
        result = playbook("audit", *args, check=False)
        assert result.returncode != 0
        assert "Verify each environment against its lock" not in result.stdout  # no host was contacted
        assert sorted(os.listdir(str(reports))) == before  # and no audit written
        return " ".join(result.stdout.split())

    # Stale: the carried database is 3 days old, older than allowed.
    text = refused("-e", "pymigrate_osv_max_age_days=2")
    assert "older than pymigrate_osv_max_age_days (2)" in text and "fails closed" in text
    # Missing: no bundle of another store carries one; and the carried file itself removed.
    empty = tmp_path / "empty-store"
    empty.mkdir()
    text = refused("-e", "pymigrate_import_dir=%s" % empty)
    assert "no OSV database to audit against" in text and "deploy.yml" in text
    os.remove(str(carried))
    text = refused()
    assert "osv-db.zip) is missing" in text and "Import the bundle's archive again" in text
