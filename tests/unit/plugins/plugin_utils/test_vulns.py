"""Known vulnerabilities: the OSV matcher against a small all.zip made here (ranges, last_affected, limit, the
versions list, withdrawn and malformed records, canonical names), the JSON API's records, ignore entries and
their expiry, the fail policy's message, and the SBOM section."""

import datetime
import json
import zipfile

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _vulns
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import DistFile, Pin, PyMigrateError


def record(vuln_id, name, *ranges, versions=(), withdrawn=None, aliases=(), ecosystem="PyPI", modified=None):
    affected = {"package": {"ecosystem": ecosystem, "name": name}, "ranges": list(ranges)}
    if versions:
        affected["versions"] = list(versions)
    item = {"schema_version": "1.6.0", "id": vuln_id, "modified": modified or "2026-01-01T00:00:00Z",
            "aliases": list(aliases), "summary": "summary of %s" % vuln_id, "details": "details of %s" % vuln_id,
            "affected": [affected]}
    if withdrawn:
        item["withdrawn"] = withdrawn
    return item


def eco(*events, kind="ECOSYSTEM"):
    return {"type": kind, "events": [dict([event]) for event in events]}


@pytest.fixture
def osv_zip(tmp_path):
    records = [
        record("PYSEC-1", "Alpha_Lib", eco(("introduced", "0"), ("fixed", "1.5")), aliases=["CVE-1"]),
        record("PYSEC-2", "alpha-lib", eco(("introduced", "2.0"), ("last_affected", "2.2"))),
        record("PYSEC-3", "alpha.lib", eco(("introduced", "3.0"), ("limit", "3.1"))),
        record("PYSEC-4", "alpha-lib", versions=["4.0", "not a version"]),
        record("PYSEC-5", "alpha-lib", eco(("introduced", "0")), withdrawn="2026-02-01T00:00:00Z",
               modified="2026-03-01T00:00:00Z"),
        record("PYSEC-6", "alpha-lib", eco(("introduced", "0"), ("fixed", "abc123"), kind="GIT"),
               eco(("introduced", "1.0.0"), kind="SEMVER")),
        record("PYSEC-7", "alpha-lib",
               eco(("introduced", "1.0"), ("fixed", "1.2"), ("introduced", "1.4"), ("fixed", "1.6"))),
        record("PYSEC-8", "alpha-lib", eco(("introduced", "0"), ("fixed", "not/a/version"))),
        record("NPM-1", "alpha-lib", eco(("introduced", "0")), ecosystem="npm"),
    ]
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for item in records:
            archive.writestr("%s.json" % item["id"], json.dumps(item))
        archive.writestr("broken.json", "{not json")
        archive.writestr("noid.json", json.dumps({"affected": []}))
        archive.writestr("README.txt", "not a record")
    return str(path)


def ids(database, version, name="alpha-lib"):
    return [f.id for f in database.match(name, version)]


def test_osv_ranges_last_affected_limit_versions_and_canonical_names(osv_zip):
    database = _vulns.OsvDatabase(osv_zip)
    assert ids(database, "1.0") == ["PYSEC-1", "PYSEC-7"]         # introduced 0 .. fixed 1.5; 1.0 .. 1.2
    assert ids(database, "1.3") == ["PYSEC-1"]                      # between PYSEC-7's two ranges
    assert ids(database, "1.4") == ["PYSEC-1", "PYSEC-7"]           # its second introduced
    assert ids(database, "1.5") == ["PYSEC-7"]                      # fixed is not affected
    assert ids(database, "1.6") == []
    assert ids(database, "2.2") == ["PYSEC-2"] and ids(database, "2.2.1") == []  # last_affected is
    assert ids(database, "3.0.5") == ["PYSEC-3"] and ids(database, "3.1") == []  # limit is not
    assert ids(database, "4.0") == ["PYSEC-4"] and ids(database, "4.0.0") == ["PYSEC-4"]  # PEP 440 equal
    assert ids(database, "1.0", name="ALPHA_lib") == ["PYSEC-1", "PYSEC-7"]
    first = database.match("alpha-lib", "1.0")[0]
    assert first.aliases == ("CVE-1",) and first.fixed_in == ("1.5",) and first.source == "osv"
    assert first.link == "https://osv.dev/vulnerability/PYSEC-1"
    assert database.match("alpha-lib", "1.4")[1].fixed_in == ("1.6",)  # only fixes later than the version


def test_osv_withdrawn_malformed_and_unsupported_are_skipped_and_counted(osv_zip):
    database = _vulns.OsvDatabase(osv_zip)
    assert "PYSEC-5" not in ids(database, "0.1")          # withdrawn never counts
    assert "PYSEC-6" not in ids(database, "1.0.0")        # GIT and SEMVER ranges are not read
    assert "PYSEC-8" not in ids(database, "0.1")          # an unparsable fixed version: the range is skipped
    assert ids(database, "0.1", name="other") == []
    assert database.skipped["malformed_records"] == 2
    assert database.skipped["withdrawn_records"] == 1
    assert database.skipped["unsupported_ranges"] >= 3
    assert database.skipped["unparsable_versions"] >= 2
    assert database.records == 8 and database.modified == "2026-03-01T00:00:00Z"


def test_an_unreadable_osv_database_is_an_error_naming_the_variable(tmp_path):
    path = tmp_path / "all.zip"
    path.write_text("not a zip")
    with pytest.raises(PyMigrateError, match="cannot be read as a zip file.*pymigrate_osv_db"):
        _vulns.OsvDatabase(str(path))
    with pytest.raises(PyMigrateError, match="does not exist.*pymigrate_osv_db"):
        _vulns.VulnerabilityCheck(osv_db=str(tmp_path / "missing.zip"))


def test_json_api_records_drop_withdrawn_and_sort_fixed_versions():
    document = {"vulnerabilities": [
        {"id": "PYSEC-1", "aliases": ["GHSA-x", "CVE-1"], "fixed_in": ["1.10", "1.9"], "summary": "s",
         "details": "d", "link": "https://x", "source": "osv", "withdrawn": None},
        {"id": "PYSEC-2", "aliases": [], "fixed_in": [], "withdrawn": "2024-01-01T00:00:00Z"},
        "garbage"]}
    found = _vulns.from_json_api("alpha", "1.0", document)
    assert [(f.id, f.aliases, f.fixed_in) for f in found] == [("PYSEC-1", ("CVE-1", "GHSA-x"), ("1.9", "1.10"))]


def test_json_api_url_follows_the_simple_index_root():
    assert (_vulns.json_api_url("https://mirror.example/pypi-proxy/simple/", "Foo_Bar", "1.0")
            == "https://mirror.example/pypi-proxy/pypi/foo-bar/1.0/json")
    assert _vulns.json_api_url("http://127.0.0.1:8080/simple", "a", "2") == "http://127.0.0.1:8080/pypi/a/2/json"
    assert _vulns.json_api_url("file:///srv/index/", "a", "2") is None


TODAY = datetime.date(2026, 6, 1)


def test_ignore_entries_parse_and_bad_ones_name_the_variable():
    parsed = _vulns.parse_ignores([{"id": "PYSEC-1", "reason": "not reachable", "expires": "2026-12-31"},
                                   {"id": "CVE-2", "reason": "r", "expires": datetime.date(2026, 1, 1)}])
    assert parsed[0] == _vulns.Ignore("PYSEC-1", "not reachable", datetime.date(2026, 12, 31))
    with pytest.raises(PyMigrateError, match="entry PYSEC-1 has no reason.*pymigrate_vulnerability_ignore"):
        _vulns.parse_ignores([{"id": "PYSEC-1", "expires": "2026-12-31"}])
    with pytest.raises(PyMigrateError, match="expires is not an ISO date.*pymigrate_vulnerability_ignore.*'soon'"):
        _vulns.parse_ignores([{"id": "PYSEC-1", "reason": "r", "expires": "soon"}])
    with pytest.raises(PyMigrateError, match="an entry has no id"):
        _vulns.parse_ignores([{"reason": "r", "expires": "2026-12-31"}])
    with pytest.raises(PyMigrateError, match="unknown key"):
        _vulns.parse_ignores([{"id": "x", "reason": "r", "expires": "2026-12-31", "until": 1}])
    with pytest.raises(PyMigrateError, match="must be one of report, fail"):
        _vulns.parse_policy("warn")


def pin(name, version):
    return Pin(name, version, DistFile(name, version, "%s-%s-py3-none-any.whl" % (name, version), "u", "0" * 64))


def run(osv_zip, policy="report", ignores=()):
    settings = _vulns.VulnerabilityCheck(policy=policy, ignores=_vulns.parse_ignores(list(ignores)), osv_db=osv_zip,
                                         today=TODAY)
    return _vulns.check({"p1": [pin("alpha-lib", "1.3")], "p2": [pin("alpha-lib", "1.3"), pin("other", "1.0")]},
                        None, settings)


def test_an_ignore_entry_ignores_by_alias_until_it_expires(osv_zip):
    valid = run(osv_zip, ignores=[{"id": "CVE-1", "reason": "only in tests", "expires": "2026-06-01"}])
    finding = valid["reports"]["p1"]["findings"][0]
    assert finding["state"] == "ignored" and finding["ignore"]["reason"] == "only in tests"
    assert valid["reports"]["p1"]["counts"] == {"affected": 0, "ignored": 1, "skipped": 0}
    expired = run(osv_zip, ignores=[{"id": "CVE-1", "reason": "only in tests", "expires": "2026-05-31"}])
    finding = expired["reports"]["p1"]["findings"][0]
    assert finding["state"] == "ignore_expired" and expired["reports"]["p1"]["counts"]["affected"] == 1
    assert "AFFECTED (ignore expired 2026-05-31)" in _vulns.render_table(expired["reports"]["p1"])


def test_fail_policy_names_project_version_id_and_fixed_version(osv_zip):
    with pytest.raises(PyMigrateError) as err:
        run(osv_zip, policy="fail")
    text = str(err.value)
    assert "alpha-lib 1.3: PYSEC-1 (fixed in 1.5)" in text and "pymigrate_vulnerability_policy" in text
    assert text.count("PYSEC-1") == 1  # once, though two profiles pin it
    with pytest.raises(PyMigrateError, match=r"PYSEC-1 \(fixed in 1.5\) \[its ignore entry expired on 2026-01-01\]"):
        run(osv_zip, policy="fail", ignores=[{"id": "PYSEC-1", "reason": "r", "expires": "2026-01-01"}])
    assert run(osv_zip, policy="fail", ignores=[{"id": "PYSEC-1", "reason": "r", "expires": "2027-01-01"}])


def test_report_table_and_sbom_section(osv_zip):
    outcome = run(osv_zip, ignores=[])
    report = outcome["reports"]["p2"]
    assert report["source"] == "osv" and report["packages"] == 2 and report["osv_db"]["records"] == 8
    table = _vulns.render_table(report)
    assert "alpha-lib  1.3" in table and "CVE-1" in table and "1.5" in table and "AFFECTED" in table
    components = [{"type": "library", "bom-ref": "pkg:pypi/alpha-lib@1.3?file_name=a", "name": "alpha-lib",
                   "version": "1.3"}]
    section = _vulns.sbom_vulnerabilities(outcome, components)
    assert section == [{"bom-ref": "vuln:PYSEC-1", "id": "PYSEC-1",
                        "source": {"name": "OSV", "url": "https://osv.dev/vulnerability/PYSEC-1"},
                        "references": [{"id": "CVE-1", "source": {"name": "OSV"}}],
                        "description": "summary of PYSEC-1", "detail": "details of PYSEC-1",
                        "recommendation": "Upgrade alpha-lib to 1.5",
                        "affects": [{"ref": "pkg:pypi/alpha-lib@1.3?file_name=a"}],
                        "analysis": {"state": "in_triage"}}]
    ignored = run(osv_zip, ignores=[{"id": "PYSEC-1", "reason": "not used", "expires": "2026-12-31"}])
    analysis = _vulns.sbom_vulnerabilities(ignored, components)[0]["analysis"]
    assert analysis == {"state": "not_affected", "detail": "ignored until 2026-12-31: not used"}


def test_a_string_where_a_list_belongs_is_never_read_character_by_character(tmp_path):
    # versions "1.0" as a string matched "1" and "0" one by one; aliases "CVE-9" gave "C", "V", ... so that an
    # ignore entry "a" (or "C") silenced the finding.
    first = record("PYSEC-20", "alpha-lib")
    first["aliases"], first["affected"][0]["versions"] = "CVE-9", "1.0"
    second = dict(record("PYSEC-21", "alpha-lib", eco(("introduced", "0"))), aliases="GHSA-a")
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("A.json", json.dumps(first))
        archive.writestr("B.json", json.dumps(second))
    database = _vulns.OsvDatabase(str(path))
    assert ids(database, "1") == ["PYSEC-21"] and ids(database, "0") == ["PYSEC-21"]
    (finding,) = database.match("alpha-lib", "2.0")
    assert finding.aliases == () and "a" not in finding.ids() and "C" not in finding.ids()
    assert database.skipped["malformed_fields"] == 3  # two aliases, one versions
    found = _vulns.from_json_api("alpha", "1.0", {"vulnerabilities": [
        {"id": "PYSEC-1", "aliases": "CVE-1", "fixed_in": "1.1"}]})
    assert [(f.aliases, f.fixed_in) for f in found] == [((), ())]
