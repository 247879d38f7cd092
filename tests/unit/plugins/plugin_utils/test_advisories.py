"""The advisory-only archive (issue 31, item 1): exported, imported on a serial line of its own, and every tampering,
replay or unsigned copy refused with the import store as it was."""

import datetime
import io
import json
import os
import tarfile
import zipfile

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _advisories, _archive, _audit
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import Ed25519PrivateKey
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

NOW = datetime.datetime(2026, 12, 1, 9, 0, 0, tzinfo=datetime.timezone.utc)


def export_db(path, modified="2026-11-30T00:00:00Z", ids=("GHSA-aaaa-bbbb-cccc",)):
    with zipfile.ZipFile(str(path), "w") as archive:
        for vuln_id in ids:
            archive.writestr(vuln_id + ".json", json.dumps({
                "id": vuln_id, "modified": modified,
                "affected": [{"package": {"ecosystem": "PyPI", "name": "alpha"}, "versions": ["1.0"]}]}))
    return str(path)


@pytest.fixture
def key():
    return Ed25519PrivateKey.generate()


def snapshot(root):
    found = {}
    for base, dirs, files in os.walk(str(root)):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(base, d))]:
            path = os.path.join(base, name)
            found[path] = os.readlink(path) if os.path.islink(path) else open(path, "rb").read()
    return found


def test_exported_then_imported_beside_the_bundles_and_found_by_the_audit(tmp_path, key):
    out = tmp_path / "adv.tar"
    made = _advisories.create(export_db(tmp_path / "all.zip"), str(out), key, now=NOW)
    assert made["serial"] == int(NOW.timestamp()) and made["osv_db"]["records"] == 1
    with tarfile.open(str(out)) as tar:
        assert tar.getnames() == ["archive.json", "archive.sig", "advisories.json", "osv-db.zip"]
    store = tmp_path / "import"
    result = _advisories.import_archive(str(out), str(store), [key.public_key()], now=NOW)
    assert result["changed"] and result["serial"] == made["serial"]
    assert not (store / "accepted.json").exists()  # the bundle serial line is untouched
    assert json.loads((store / "advisories" / "accepted.json").read_text())["serial"] == made["serial"]
    again = _advisories.import_archive(str(out), str(store), [key.public_key()], now=NOW)
    assert not again["changed"] and again["msg"] == "already imported"
    located = _audit.locate(str(store))
    assert located.origin == "advisories" and located.serial == made["serial"]
    _database, description = _audit.open_database(located, 30, now=NOW)
    assert description["records"] == 1 and description["path"].endswith("/%s/osv-db.zip" % made["serial"])


def test_the_newest_database_wins_by_date(tmp_path, key):
    store = tmp_path / "import"
    bundle = store / "bundles" / "7"
    bundle.mkdir(parents=True)
    db = export_db(bundle / "osv-db.zip", modified="2026-11-25T00:00:00Z")
    from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _vulns
    record = _vulns.describe_db(db, _vulns.OsvDatabase(db))
    (bundle / "manifest.json").write_text(json.dumps({"format": 1, "serial": 7, "vulnerabilities": {"osv_db": record}}))
    older = _advisories.create(export_db(tmp_path / "a.zip", modified="2026-11-20T00:00:00Z"),
                               str(tmp_path / "a.tar"), key, now=NOW)
    _advisories.import_archive(older["path"], str(store), [key.public_key()], now=NOW)
    assert _audit.locate(str(store)).origin == "bundle"  # the bundle's database is newer
    newer = _advisories.create(export_db(tmp_path / "b.zip", modified="2026-11-30T00:00:00Z"),
                               str(tmp_path / "b.tar"), key, now=NOW + datetime.timedelta(seconds=1))
    _advisories.import_archive(newer["path"], str(store), [key.public_key()], now=NOW + datetime.timedelta(seconds=1))
    assert _audit.locate(str(store)).origin == "advisories"


def check_refused(store, archive, key, message, now=NOW):
    before = snapshot(store)
    with pytest.raises(PyMigrateError, match=message):
        _advisories.import_archive(str(archive), str(store), [key.public_key()], now=now)
    assert snapshot(store) == before


def rewrite(source, target, change):
    with tarfile.open(str(source)) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    with tarfile.open(str(target), "w") as tar:
        for member, data in change(members):
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return target


@pytest.fixture
def imported(tmp_path, key):
    _advisories.create(export_db(tmp_path / "old.zip"), str(tmp_path / "old.tar"), key,
                       now=NOW - datetime.timedelta(days=1))
    new = _advisories.create(export_db(tmp_path / "new.zip", ids=("GHSA-aaaa-bbbb-cccc", "PYSEC-1")),
                             str(tmp_path / "new.tar"), key, now=NOW)
    store = tmp_path / "import"
    _advisories.import_archive(new["path"], str(store), [key.public_key()], now=NOW)
    return store, tmp_path / "old.tar", tmp_path / "new.tar"


def test_replayed_tampered_unsigned_and_untrusted_archives_are_refused(tmp_path, key, imported):
    store, old, new = imported
    check_refused(store, old, key, "not higher than the last accepted")
    flipped = rewrite(new, tmp_path / "t.tar", lambda ms: [
        (m, d[:-1] + bytes([d[-1] ^ 1]) if m.name == "osv-db.zip" else d) for m, d in ms])
    check_refused(store, flipped, key, "archive member osv-db.zip has sha256")
    unsigned = rewrite(new, tmp_path / "u.tar", lambda ms: [(m, d) for m, d in ms if m.name != "archive.sig"])
    check_refused(store, unsigned, key, "carries no signature")
    index = rewrite(new, tmp_path / "i.tar", lambda ms: [
        (m, d.replace(b'"records": 2', b'"records": 9') if m.name == "archive.json" else d) for m, d in ms])
    check_refused(store, index, key, "altered after signing")
    other = Ed25519PrivateKey.generate()
    before = snapshot(store)
    with pytest.raises(PyMigrateError, match="not trusted"):
        _advisories.import_archive(str(new), str(store), [other.public_key()], now=NOW)
    assert snapshot(store) == before
    check_refused(store, new, key, "expired", now=NOW + datetime.timedelta(days=31))


def test_a_bundle_archive_is_never_an_advisory_one_nor_the_reverse(tmp_path, key, imported):
    store, _old, new = imported
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "manifest.json").write_text(json.dumps({"format": 1, "serial": 3, "created": "2026-11-30T00:00:00Z",
                                                      "files": {}}))
    fake = rewrite(new, tmp_path / "b.tar", lambda ms: [
        (m, d.replace(b'"kind": "advisories"', b'"kind": "full"') if m.name == "archive.json" else d)
        for m, d in ms])
    check_refused(store, fake, key, "not an advisory-only one")
    before = snapshot(store)
    with pytest.raises(PyMigrateError, match="of kind advisories, not a bundle"):
        _archive.import_archive(str(new), str(store), [key.public_key()], now=NOW)
    assert snapshot(store) == before


def test_an_empty_or_undated_database_is_never_exported(tmp_path, key):
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(str(empty), "w"):
        pass
    with pytest.raises(PyMigrateError, match="holds no vulnerability record"):
        _advisories.create(str(empty), str(tmp_path / "x.tar"), key, now=NOW)
    undated = export_db(tmp_path / "undated.zip", modified=None)
    with pytest.raises(PyMigrateError, match="date is unknown"):
        _advisories.create(undated, str(tmp_path / "x.tar"), key, now=NOW)
    assert not os.path.exists(str(tmp_path / "x.tar"))


# -- merge by alias (item 3) and the audit against its baselines (item 2) ---------------------------------------
def test_findings_whose_ids_or_aliases_meet_are_one_with_every_id():
    from ansible_collections.airgap.pymigrate.plugins.plugin_utils._vulns import Finding, merge
    api = Finding("alpha", "1.0", "PYSEC-2024-1", ("CVE-2024-9",), summary="from the API", fixed_in=("1.1",),
                  source="index")
    osv = Finding("alpha", "1.0", "GHSA-aaaa", ("CVE-2024-9",), details="long", fixed_in=("1.2",), source="osv")
    third = Finding("alpha", "1.0", "OSV-3", ("GHSA-aaaa",), source="osv")  # meets only through the GHSA id
    other = Finding("alpha", "1.0", "GHSA-bbbb", (), source="osv")
    elsewhere = Finding("beta", "1.0", "PYSEC-2024-1", (), source="index")  # another project version: not merged
    merged = merge([api, osv, third, other, elsewhere])
    assert [(f.project, f.id, f.aliases, f.fixed_in, f.source) for f in merged] == [
        ("alpha", "GHSA-aaaa", ("CVE-2024-9", "OSV-3", "PYSEC-2024-1"), ("1.1", "1.2"), "index+osv"),
        ("alpha", "GHSA-bbbb", (), (), "osv"),
        ("beta", "PYSEC-2024-1", (), (), "index")]
    assert merged[0].summary == "from the API" and merged[0].details == "long"


def finding(host, version, vuln_id, aliases=()):
    return {"host": host, "environment": "default", "project": "alpha", "version": version, "id": vuln_id,
            "aliases": list(aliases), "state": "affected"}


def test_new_withdrawn_and_fixed_against_a_baseline():
    baseline = [finding("h1", "1.0", "PYSEC-1", ["CVE-1"]), finding("h1", "1.0", "GHSA-w"),
                finding("h2", "1.0", "GHSA-f")]
    current = [finding("h1", "1.0", "GHSA-x", ["CVE-1"]), finding("h1", "1.0", "GHSA-new")]
    held = {("h1", "default"): {"alpha": "1.0"}, ("h2", "default"): {"alpha": "1.1"}}
    out = _audit.compare(current, baseline, held)
    assert [f["id"] for f in out["new"]] == ["GHSA-new"]  # GHSA-x meets PYSEC-1 through CVE-1
    assert [f["id"] for f in out["withdrawn"]] == ["GHSA-w"]
    assert [(f["id"], f["now"]) for f in out["fixed"]] == [("GHSA-f", "1.1")]


def test_changes_per_host_and_fleet_wide_and_said_when_there_is_no_baseline():
    document = {"environments": [{"host": "h1", "environment": "default", "serial": 3, "packages": {"alpha": "1.0"}}],
                "hosts": [{"host": "h1"}], "findings": [finding("h1", "1.0", "GHSA-new")]}
    bundle = _audit.bundle_baseline(document, {3: [dict(finding("x", "1.0", "GHSA-old"))]})
    _audit.add_changes(document, bundle, None)
    since = document["changes"]["since_bundle"]
    assert since["counts"] == {"new": 1, "withdrawn": 1, "fixed": 0} and since["baseline"]["serials"] == [3]
    assert document["hosts"][0]["changes"]["since_bundle"] == {"new": ["GHSA-new"], "withdrawn": ["GHSA-old"],
                                                               "fixed": []}
    assert document["findings"][0]["new_since_bundle"] is True
    assert document["findings"][0]["new_since_previous"] is None
    assert document["changes"]["since_previous"] == {"baseline": None,
                                                     "reason": "no previous audit in the report directory"}
    text = "\n".join(_audit.changes_lines(document))
    assert "NEW GHSA-new: alpha 1.0 on h1/default" in text and "Since the previous audit: not compared" in text
