"""The offline audit: the newest carried OSV database is found among the imported bundles (or pymigrate_osv_db
overrides it); a missing, damaged, unreadable, empty or stale one fails closed; what each host holds (the fleet
state) is matched with _vulns' matcher, withdrawn records never count, ignore entries apply with their expiry;
hosts that could not be verified are not audited, never clean; the document, the table and the fail policy."""

import datetime
import hashlib
import json
import os
import zipfile

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _audit, _query, _report
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)
TODAY = NOW.date()


def record(vuln_id, name, introduced, fixed, modified="2026-11-28T00:00:00Z", aliases=(), withdrawn=None):
    item = {"id": vuln_id, "modified": modified, "aliases": list(aliases), "summary": "summary of %s" % vuln_id,
            "affected": [{"package": {"ecosystem": "PyPI", "name": name},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": introduced}, {"fixed": fixed}]}]}]}
    if withdrawn:
        item["withdrawn"] = withdrawn
    return item


def write_zip(path, *records):
    with zipfile.ZipFile(str(path), "w") as archive:
        for item in records:
            archive.writestr("%s.json" % item["id"], json.dumps(item))
    return str(path)


RECORDS = (record("PYSEC-1", "Alpha", "0", "1.1", aliases=["CVE-1"]),
           record("PYSEC-2", "alpha", "0", "9", withdrawn="2026-11-01T00:00:00Z"),
           record("GHSA-beta", "beta", "2.0", "2.1"))


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def imported(store, serial, *records, modified=None, tamper=False):
    """A bundle as import_archive leaves it: <store>/bundles/<serial>/{manifest.json, osv-db.zip}."""
    bundle = store / "bundles" / str(serial)
    bundle.mkdir(parents=True)
    vulnerabilities = {"source": "index", "osv_db": None}
    if records:
        db = write_zip(bundle / "osv-db.zip", *records)
        vulnerabilities = {"source": "osv", "osv_db": {
            "path": "osv-db.zip", "sha256": sha256(db), "modified": modified or max(r["modified"] for r in records),
            "file_date": "2026-11-30T00:00:00Z", "records": len(records)}}
        if tamper:
            write_zip(bundle / "osv-db.zip", *records[:1])
    (bundle / "manifest.json").write_text(json.dumps({"format": 1, "serial": serial,
                                                      "vulnerabilities": vulnerabilities}))
    return bundle


def state_result(**envs):
    """What rollout's state task registers: one venv_install result per environment (installed = what it holds)."""
    return {"changed": False, "results": [
        {"item": {"name": name, "path": "/opt/%s" % name, "lock_id": "l", "serial": 3}, "generation": "g1",
         "installed": packages, "packages": packages, "drift": []} for name, packages in envs.items()]}


def fleet_state():
    hostvars = {
        "old": {"__pymigrate_state": state_result(default={"alpha": "1.0", "beta": "1.0"})},
        "new": {"__pymigrate_state": state_result(default={"alpha": "1.1"}, tools={"beta": "2.0"})},
        "gone": {"__pymigrate_state": {"unreachable": True, "msg": "ssh: no route"}},
    }
    return _report.fleet_summary(["gone", "new", "old"], hostvars)


def opened(tmp_path, *records, **kwargs):
    located = _audit.Located(write_zip(tmp_path / "all.zip", *(records or RECORDS)), "pymigrate_osv_db")
    return _audit.open_database(located, now=NOW, **kwargs)


# -- finding the database ---------------------------------------------------------------------------------------
def test_the_newest_carried_database_is_chosen_by_its_date_then_serial(tmp_path):
    store = tmp_path / "import"
    imported(store, 1, *RECORDS, modified="2026-11-20T00:00:00Z")
    imported(store, 2, *RECORDS, modified="2026-11-28T00:00:00Z")
    imported(store, 3)  # built from the index's JSON API: carries none
    located = _audit.locate(str(store))
    assert located.origin == "bundle" and located.serial == 2
    assert located.path == str(store / "bundles" / "2" / "osv-db.zip")


def test_pymigrate_osv_db_overrides_the_carried_ones(tmp_path):
    store = tmp_path / "import"
    imported(store, 1, *RECORDS)
    explicit = write_zip(tmp_path / "mine.zip", *RECORDS)
    assert _audit.locate(str(store), explicit=explicit) == _audit.Located(explicit, "pymigrate_osv_db")
    with pytest.raises(PyMigrateError, match="does not exist on the control node.*pymigrate_osv_db"):
        _audit.locate(str(store), explicit=str(tmp_path / "nope.zip"))


def test_no_carried_database_fails_closed_saying_where_and_what_to_do(tmp_path):
    store = tmp_path / "import"
    imported(store, 1)
    with pytest.raises(PyMigrateError) as err:
        _audit.locate(str(store))
    text = str(err.value)
    assert "no OSV database to audit against: none of the 1 bundle(s) in %s" % (store / "bundles") in text
    assert "fails closed" in text and "pymigrate_osv_db" in text and "deploy.yml" in text
    with pytest.raises(PyMigrateError, match="none of the 0 bundle"):
        _audit.locate(str(tmp_path / "never-imported"))


def test_a_bundle_built_on_this_control_node_counts_too(tmp_path):
    bundle = imported(tmp_path / "outside", 5, *RECORDS)
    located = _audit.locate(str(tmp_path / "no-import"), bundle_dirs=[str(bundle)])
    assert located.serial == 5 and located.bundle_dir == str(bundle)


# -- checking it ------------------------------------------------------------------------------------------------
def test_a_fresh_database_is_described(tmp_path):
    store = tmp_path / "import"
    bundle = imported(store, 4, *RECORDS)
    database, description = _audit.open_database(_audit.locate(str(store)), now=NOW)
    assert description == {"origin": "bundle", "path": str(bundle / "osv-db.zip"), "bundle_serial": 4,
                           "sha256": sha256(str(bundle / "osv-db.zip")), "date": "2026-11-28T00:00:00Z",
                           "date_source": "newest record", "age_days": 3.5, "max_age_days": 30, "records": 2,
                           "skipped": {"malformed_records": 0, "withdrawn_records": 1, "unsupported_ranges": 0,
                                       "unparsable_versions": 0, "malformed_fields": 0}}
    assert [f.id for f in database.match("alpha", "1.0")] == ["PYSEC-1"]


def test_a_stale_database_fails_closed(tmp_path):
    old = [record("PYSEC-1", "alpha", "0", "1.1", modified="2026-10-01T00:00:00Z")]
    with pytest.raises(PyMigrateError) as err:
        opened(tmp_path, *old)
    assert ("is dated 2026-10-01T00:00:00Z, 61.5 days old, older than pymigrate_osv_max_age_days (30)"
            in str(err.value)) and "fails closed" in str(err.value)
    _db, description = opened(tmp_path, *old, max_age_days=90)
    assert description["age_days"] == 61.5 and description["max_age_days"] == 90
    with pytest.raises(PyMigrateError, match="older than pymigrate_osv_max_age_days \\(3\\)"):
        opened(tmp_path, max_age_days=3)


def test_max_age_must_be_whole_days(tmp_path):
    for value in (0, -1, "30", True, 1.5):
        with pytest.raises(PyMigrateError, match="whole number of days"):
            opened(tmp_path, max_age_days=value)


def test_a_damaged_or_missing_carried_database_fails_closed(tmp_path):
    imported(tmp_path / "a", 1, *RECORDS, tamper=True)
    with pytest.raises(PyMigrateError, match="has sha256 [0-9a-f]{64}, not the [0-9a-f]{64} its bundle's manifest "
                                             "records: it was damaged or replaced"):
        _audit.open_database(_audit.locate(str(tmp_path / "a")), now=NOW)
    bundle = imported(tmp_path / "b", 1, *RECORDS)
    os.remove(str(bundle / "osv-db.zip"))
    with pytest.raises(PyMigrateError, match="carried in bundle serial 1 .* is missing"):
        _audit.open_database(_audit.locate(str(tmp_path / "b")), now=NOW)


def test_an_unreadable_or_empty_database_fails_closed(tmp_path):
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(PyMigrateError, match="is unreadable: the OSV database cannot be read as a zip file"):
        _audit.open_database(_audit.Located(str(tmp_path / "junk.zip"), "pymigrate_osv_db"), now=NOW)
    only_withdrawn = write_zip(tmp_path / "w.zip", RECORDS[1])
    with pytest.raises(PyMigrateError, match="holds no vulnerability record \\(1 withdrawn, 0 malformed\\)"):
        _audit.open_database(_audit.Located(only_withdrawn, "pymigrate_osv_db"), now=NOW)


def test_a_database_without_dates_is_undated_unless_its_file_has_one(tmp_path):
    undated = dict(RECORDS[0])
    del undated["modified"]
    carried = write_zip(tmp_path / "u.zip", undated)
    with pytest.raises(PyMigrateError, match="has no date"):
        _audit.open_database(_audit.Located(carried, "bundle", serial=1, record={"sha256": sha256(carried)}), now=NOW)
    _db, description = _audit.open_database(_audit.Located(carried, "bundle", serial=1, record={
        "sha256": sha256(carried), "file_date": "2026-11-30T12:00:00Z"}), now=NOW)
    assert description["date_source"] == "file date when bundled" and description["age_days"] == 1.0
    path = write_zip(tmp_path / "u2.zip", undated)
    os.utime(path, (NOW.timestamp() - 86400, NOW.timestamp() - 86400))
    _db, description = _audit.open_database(_audit.Located(path, "pymigrate_osv_db"), now=NOW)
    assert description["date_source"] == "file modification time" and description["age_days"] == 1.0


def test_a_database_from_the_future_is_refused(tmp_path):
    with pytest.raises(PyMigrateError, match="in the future of this control node's clock"):
        opened(tmp_path, record("PYSEC-1", "alpha", "0", "1.1", modified="2027-01-01T00:00:00Z"))


# -- the audit --------------------------------------------------------------------------------------------------
def test_each_host_environment_and_vulnerability_is_reported(tmp_path):
    database, description = opened(tmp_path)
    document = _audit.audit(fleet_state(), database, description, today=TODAY, run={"playbook": "audit.yml"})
    hosts = {h["host"]: h for h in document["hosts"]}
    assert {h: hosts[h]["status"] for h in hosts} == {"old": "vulnerable", "new": "vulnerable", "gone": "unreachable"}
    (alpha,) = hosts["old"]["environments"]["default"]["vulnerable"]  # the withdrawn PYSEC-2 never counts
    assert (alpha["project"], alpha["version"], alpha["id"], alpha["aliases"], alpha["fixed_in"], alpha["state"]) \
        == ("alpha", "1.0", "PYSEC-1", ["CVE-1"], ["1.1"], "affected")
    assert hosts["new"]["environments"]["default"]["vulnerable"] == []
    assert [f["id"] for f in hosts["new"]["environments"]["tools"]["vulnerable"]] == ["GHSA-beta"]
    assert [(v["id"], v["hosts"], v["host_count"], v["packages"]) for v in document["vulnerabilities"]] == [
        ("GHSA-beta", ["new"], 1, [{"project": "beta", "version": "2.0", "fixed_in": ["2.1"]}]),
        ("PYSEC-1", ["old"], 1, [{"project": "alpha", "version": "1.0", "fixed_in": ["1.1"]}])]
    assert document["counts"] == {"hosts": 3, "audited": 2, "not_audited": 1, "vulnerable": 2, "clean": 0,
                                  "vulnerabilities": 2, "ignored": 0, "findings": 2}
    assert document["not_audited"] == ["gone"] and document["database"] == description
    assert document["run"] == {"playbook": "audit.yml"} and document["format"] == 1
    # JMESPath as on the fleet state: who holds PYSEC-1 (by id or alias), and which hosts hold a vulnerable alpha.
    assert _query.evaluate("vulnerabilities[?contains([id, aliases[]][], 'CVE-1')].hosts[]", document) == ["old"]
    assert _query.evaluate("findings[?project=='alpha'].[host, version]", document) == [["old", "1.0"]]
    assert _query.evaluate("environments[?packages.alpha && version_lt(packages.alpha, '1.1')].host",
                           document) == ["old"]
    table = _audit.render_table(document)
    assert "old   default      alpha    1.0      PYSEC-1    CVE-1    1.1       AFFECTED" in table
    assert "  PYSEC-1 (CVE-1): alpha 1.0 on 1 host(s): old" in table
    assert "Not audited (their state could not be read; they are not clean):\n  gone: state: unreachable" in table
    assert json.loads(_audit.render_json(document)) == document


def test_ignore_entries_apply_until_they_expire(tmp_path):
    database, description = opened(tmp_path)
    ignores = [_vulns_ignore("CVE-1", "2026-12-31"), _vulns_ignore("GHSA-beta", "2026-11-30")]
    document = _audit.audit(fleet_state(), database, description, ignores, today=TODAY)
    states = {v["id"]: v["state"] for v in document["vulnerabilities"]}
    assert states == {"PYSEC-1": "ignored", "GHSA-beta": "ignore_expired"}
    hosts = {h["host"]: h["status"] for h in document["hosts"]}
    assert hosts == {"old": "clean", "new": "vulnerable", "gone": "unreachable"}
    assert document["counts"]["ignored"] == 1 and document["counts"]["vulnerabilities"] == 1
    table = _audit.render_table(document)
    assert "ignored until 2026-12-31" in table and "AFFECTED (ignore expired 2026-11-30)" in table
    with pytest.raises(PyMigrateError) as err:
        _audit.enforce(document)
    assert "GHSA-beta: beta 2.0 (fixed in 2.1) on new" in str(err.value) and "PYSEC-1" not in str(err.value)


def test_a_clean_fleet_says_so_and_passes_the_fail_policy(tmp_path):
    database, description = opened(tmp_path)
    state = _report.fleet_summary(["a"], {"a": {"__pymigrate_state": state_result(default={"alpha": "1.1"})}})
    document = _audit.audit(state, database, description, today=TODAY)
    assert document["hosts"][0]["status"] == "clean" and document["vulnerabilities"] == []
    assert "No known vulnerability in what the audited hosts hold." in _audit.render_table(document)
    _audit.enforce(document)


def test_a_fleet_that_could_not_be_read_is_never_clean(tmp_path):
    database, description = opened(tmp_path)
    state = _report.fleet_summary(["a"], {"a": {"__pymigrate_state": {"failed": True, "msg": "lock mismatch"}}})
    document = _audit.audit(state, database, description, today=TODAY)
    assert document["counts"]["clean"] == 0 and document["not_audited"] == ["a"]
    assert "No known vulnerability" not in _audit.render_table(document)


def _vulns_ignore(vuln_id, expires):
    from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _vulns
    return _vulns.parse_ignores([{"id": vuln_id, "reason": "r", "expires": expires}])[0]


def test_a_carried_manifest_is_read_through_the_manifests_owner(tmp_path):
    store = tmp_path / "import"
    imported(store, 3, record("PYSEC-1", "alpha", "1.0", "1.1"))
    (store / "bundles" / "4").mkdir(parents=True)  # no manifest: not a bundle, not counted
    found, looked = _audit.carried_databases(str(store))
    assert [item.serial for item in found] == [3] and looked == 1
    (store / "bundles" / "3" / "manifest.json").write_text(json.dumps({"format": 99, "serial": 3}))
    with pytest.raises(PyMigrateError, match="is not a format 1 bundle manifest. An imported bundle is damaged: "
                                             "import its archive again"):
        _audit.carried_databases(str(store))
