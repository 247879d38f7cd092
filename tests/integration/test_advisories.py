"""Issue 31: the inside's knowledge kept fresh. Outside, a bundle is built with an OSV export dated 40 days ago
(it knows alpha 1.0 as vulnerable under GHSA-av01); it is carried in and deployed, and the audit fails closed: the
database is older than 30 days. Then a fresh export (the same record, the PYSEC record that aliases it, and a new
one, GHSA-av02) travels alone as a signed advisory-only archive (playbooks/advisories.yml); audit.yml imports it and
passes, reporting GHSA-av02 as new since the bundle-time report and GHSA-av01 as known (merged with its PYSEC alias,
every id shown). A tampered, a replayed (an older advisory archive) and an unsigned advisory archive are refused,
with the import store and the reports as they were; a bundle archive is never taken for an advisory one.

Runs on a fleet of its own (PYMIGRATE_FLEET_NAME=av1 PYMIGRATE_FLEET_HOSTS=2)."""

import datetime
import io
import json
import os
import tarfile
import zipfile

import pytest
import yaml

from tests.fleet.fixtures import ansible
from tests.index import catalog

pytestmark = pytest.mark.fleet

VENV = "/opt/advisories/venv"


def stamp(days_ago):
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def alpha_before(fixed):
    return [{"package": {"ecosystem": "PyPI", "name": "alpha"},
             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]


def osv_export(path, records):
    with zipfile.ZipFile(str(path), "w") as archive:
        for item in records:
            archive.writestr("%s.json" % item["id"], json.dumps(item))
    return str(path)


def snapshot(*dirs):
    """Every file under the directories, with its bytes (symlinks as their targets): "nothing changed" checked."""
    found = {}
    for top in dirs:
        for root, subdirs, files in os.walk(str(top)):
            for name in files + [d for d in subdirs if os.path.islink(os.path.join(root, d))]:
                path = os.path.join(root, name)
                found[path] = os.readlink(path) if os.path.islink(path) else open(path, "rb").read()
    return found


def test_advisory_archive_keeps_the_inside_audit_fresh(fleet, make_index, tmp_path):
    hosts = [host["name"] for host in fleet.hosts]
    index = make_index([catalog.release("alpha", "1.0"), catalog.release("alpha", "1.1")], include_pip=True)
    reports, store = tmp_path / "reports", tmp_path / "inside-store"
    inventory_vars = tmp_path / "vars.yml"
    inventory_vars.write_text(yaml.safe_dump({"all": {"vars": {
        "pymigrate_requirements": {"alpha": "==1.0"}, "pymigrate_venv_path": VENV, "pymigrate_serial": ["100%"],
        "pymigrate_report_dir": str(reports), "pymigrate_import_dir": str(store)}}}))
    keys = (tmp_path / "signing.key", tmp_path / "signing.pub")
    trusted = json.dumps({"pymigrate_trusted_keys": [str(keys[1])]})
    known = {"id": "GHSA-av01-alph-a100", "modified": stamp(40), "aliases": ["CVE-0000-3101"],
             "summary": "alpha before 1.1 runs what it is sent", "affected": alpha_before("1.1")}
    stale = osv_export(tmp_path / "stale.zip", [known])

    def playbook(name, *args, check=True):
        return ansible(["ansible-playbook", "-i", str(inventory_vars), "playbooks/%s.yml" % name] + list(args),
                       fleet.inventory, check=check)

    ansible(["ansible", "localhost", "-m", "airgap.pymigrate.bundle_archive", "-a",
             "state=keypair private_key_path=%s public_key_path=%s" % keys], fleet.inventory)
    survey = tmp_path / "survey.json"
    playbook("survey", "-e", "pymigrate_survey_file=%s" % survey)
    playbook("bundle", "-e", "pymigrate_survey_file=%s" % survey, "-e", "pymigrate_index_url=" + index.url,
             "-e", "pymigrate_bundle_dir=%s" % (tmp_path / "outside-bundle"),
             "-e", "pymigrate_archive=%s" % (tmp_path / "b.tar"), "-e", "pymigrate_lock_dir=%s" % (tmp_path / "lock"),
             "-e", "pymigrate_signing_key=%s" % keys[0], "-e", "pymigrate_osv_db=%s" % stale)
    index.stop()
    playbook("deploy", "-e", "pymigrate_archive=%s" % (tmp_path / "b.tar"), "-e", trusted)

    def refused(*args):
        before = snapshot(store, reports) if reports.exists() else snapshot(store)
        result = playbook("audit", *args, check=False)
        assert result.returncode != 0
        assert "Verify each environment against its lock" not in result.stdout  # no host was contacted
        assert (snapshot(store, reports) if reports.exists() else snapshot(store)) == before  # nothing changed
        return " ".join(result.stdout.split())

    # The carried database is 40 days old: the audit fails closed.
    text = refused()
    assert "older than pymigrate_osv_max_age_days (30)" in text and "advisories.yml" in text

    # Outside: two advisory-only archives, an older one (to replay) and a fresh one, with no host contacted.
    def export(name, records):
        osv = osv_export(tmp_path / ("%s.zip" % name), records)
        out = playbook("advisories", "-e", "pymigrate_osv_db=%s" % osv, "-e",
                       "pymigrate_advisory_archive=%s" % (tmp_path / ("%s.tar" % name)),
                       "-e", "pymigrate_signing_key=%s" % keys[0])
        assert "advisory-only archive serial" in out.stdout
        return tmp_path / ("%s.tar" % name)

    older = export("older", [dict(known, modified=stamp(5))])
    alias = {"id": "PYSEC-0000-3101", "modified": stamp(1), "aliases": ["CVE-0000-3101", "GHSA-av01-alph-a100"],
             "affected": alpha_before("1.1")}
    added = {"id": "GHSA-av02-alph-a200", "modified": stamp(1), "summary": "alpha before 1.2 leaks",
             "affected": alpha_before("1.2")}
    fresh = export("fresh", [dict(known, modified=stamp(2)), alias, added])

    # Inside: audit.yml imports the fresh one, then audits against it and passes.
    out = playbook("audit", "-e", "pymigrate_advisory_archive=%s" % fresh, "-e", trusted)
    assert "imported %s: advisory-only archive serial" % fresh in " ".join(out.stdout.split())
    document = json.loads((reports / "audit.json").read_text())
    database = document["database"]
    assert database["origin"] == "advisories" and database["records"] == 3 and database["age_days"] < 2
    assert database["path"] == str(store / "advisories" / str(database["bundle_serial"]) / "osv-db.zip")
    ids = {(v["id"], tuple(v["aliases"])) for v in document["vulnerabilities"]}
    assert ids == {("GHSA-av01-alph-a100", ("CVE-0000-3101", "PYSEC-0000-3101")), ("GHSA-av02-alph-a200", ())}
    since_bundle = document["changes"]["since_bundle"]
    assert since_bundle["counts"] == {"new": len(hosts), "withdrawn": 0, "fixed": 0}
    assert {(f["host"], f["id"]) for f in since_bundle["new"]} == {(h, "GHSA-av02-alph-a200") for h in hosts}
    assert all(h["changes"]["since_bundle"] == {"new": ["GHSA-av02-alph-a200"], "withdrawn": [], "fixed": []}
               for h in document["hosts"])
    assert {f["id"]: f["new_since_bundle"] for f in document["findings"]} == {
        "GHSA-av01-alph-a100": False, "GHSA-av02-alph-a200": True}
    assert document["changes"]["since_previous"]["baseline"] is None  # the stale audit wrote nothing
    text = (reports / "audit.txt").read_text()
    assert "Since the bundle-time report" in text and "NEW GHSA-av02-alph-a200: alpha 1.0 on %s" % hosts[0] in text

    # Again: against the previous audit nothing is new.
    playbook("audit")
    again = json.loads((reports / "audit.json").read_text())
    assert again["changes"]["since_previous"]["counts"] == {"new": 0, "withdrawn": 0, "fixed": 0}
    assert again["changes"]["since_previous"]["baseline"]["run"] == document["run"]["id"]

    # Refused, nothing changed: tampered (a byte of the database flipped), replayed (older serial), unsigned.
    data = bytearray(fresh.read_bytes())
    with tarfile.open(str(fresh)) as tar:
        member = tar.getmember("osv-db.zip")
    data[member.offset_data + 40] ^= 0xFF
    tampered = tmp_path / "tampered.tar"
    tampered.write_bytes(bytes(data))
    text = refused("-e", "pymigrate_advisory_archive=%s" % tampered, "-e", trusted)
    assert "archive member osv-db.zip has sha256" in text
    text = refused("-e", "pymigrate_advisory_archive=%s" % older, "-e", trusted)
    assert "not higher than the last accepted" in text
    unsigned = tmp_path / "unsigned.tar"
    with tarfile.open(str(fresh)) as source, tarfile.open(str(unsigned), "w") as tar:
        for item in source.getmembers():
            if item.name != "archive.sig":
                tar.addfile(item, io.BytesIO(source.extractfile(item).read()))
    text = refused("-e", "pymigrate_advisory_archive=%s" % unsigned, "-e", trusted)
    assert "carries no signature" in text and "unsigned archives are refused" in text
    text = refused("-e", "pymigrate_advisory_archive=%s" % (tmp_path / "b.tar"), "-e", trusted)
    assert "not an advisory-only one" in text
    # The fresh archive again changes nothing and still audits.
    out = playbook("audit", "-e", "pymigrate_advisory_archive=%s" % fresh, "-e", trusted)
    assert "already imported" in out.stdout
