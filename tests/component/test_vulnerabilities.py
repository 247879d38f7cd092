"""Known vulnerabilities at bundle time, against the real local index: its JSON API lists alpha 1.0 as vulnerable
(PYSEC-0000-1, alias CVE-0000-0001, fixed in 1.1, plus a withdrawn report). The bundle's JSON report, table, VEX
(validated with the SBOM against the CycloneDX 1.6 schema) and manifest say so; policy fail stops the build naming
project, version, id and fixed version; an expired ignore entry no longer ignores; an index without the JSON API
leaves the pins skipped; an OSV export travels in the bundle."""

import datetime
import json
import os
import urllib.parse
import zipfile

import pytest

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import file_sha256
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _archive, _bundle, _index, _manifest, _vulns
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._inventory import BundleInputs
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError, WantedSet
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._profiles import HostInput
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._targets import target_from_declaration
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._wanted import EnvSpec
from tests.index import catalog
from tests.unit.plugins.plugin_utils.test_sbom import validate

TODAY = datetime.date(2026, 6, 1)


def hosts(**pins):
    def env(version):
        return EnvSpec("default", "/opt/pymigrate/venv", None, WantedSet({"alpha": "alpha==%s" % version}))
    return BundleInputs([HostInput(name, {"default": env(version)}, target_from_declaration({"python": "3.11"}))
                         for name, version in sorted(pins.items())])


def build(index, bundle_dir, policy="report", ignores=(), osv_db=None, unchecked="fail", **pins):
    client = _index.IndexClient([_index.IndexConfig(index.url)])
    settings = _vulns.VulnerabilityCheck(policy=policy, ignores=_vulns.parse_ignores(list(ignores)), osv_db=osv_db,
                                         today=TODAY, unchecked=unchecked)
    try:
        return _bundle.build_bundle(hosts(**(pins or {"old": "1.0", "new": "1.1"})),
                                    _bundle.BundleSettings(str(bundle_dir), build_sdists=False,
                                                           vulnerabilities=settings), client)
    finally:
        client.close()


def profile_of(result, host):
    return [name for name, profile in result["profiles"].items() if "%s:default" % host in profile["members"]][0]


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def vex_of(bundle):
    """The VEX's vulnerabilities, each affected component's BOM-Link checked to name a component of the SBOM beside
    it and given back as that bom-ref; both documents valid CycloneDX 1.6."""
    sbom, vex = read_json(str(bundle / "sbom.cdx.json")), read_json(str(bundle / "vex.cdx.json"))
    validate(sbom)
    validate(vex)
    assert "vulnerabilities" not in sbom and sbom["externalReferences"][0]["url"] == "vex.cdx.json"
    prefix = "urn:cdx:%s/%d#" % (sbom["serialNumber"][len("urn:uuid:"):], sbom["version"])
    refs = {component["bom-ref"] for component in sbom["components"]}
    for vulnerability in vex["vulnerabilities"]:
        for affected in vulnerability["affects"]:
            assert affected["ref"].startswith(prefix)
            affected["ref"] = urllib.parse.unquote(affected["ref"][len(prefix):])
            assert affected["ref"] in refs
    return vex["vulnerabilities"]


def test_a_vulnerable_pin_is_in_the_json_report_the_table_and_the_sbom(local_index, tmp_path):
    result = build(local_index, tmp_path / "b")
    old, new = profile_of(result, "old"), profile_of(result, "new")
    assert any(path == "/pypi/alpha/1.0/json" for _m, path, _r in local_index.requests)
    report = read_json(str(tmp_path / "b" / ("vulnerabilities.%s.json" % old)))
    assert [(f["project"], f["version"], f["id"], f["aliases"], f["fixed_in"], f["state"])
            for f in report["findings"]] \
        == [("alpha", "1.0", "PYSEC-0000-1", ["CVE-0000-0001"], ["1.1"], "affected")]  # the withdrawn one is not there
    assert report["source"] == "index" and report["skipped"] == [] and report["counts"]["affected"] == 1
    assert read_json(str(tmp_path / "b" / ("vulnerabilities.%s.json" % new)))["findings"] == []
    with open(str(tmp_path / "b" / ("vulnerabilities.%s.txt" % old))) as handle:
        table = handle.read()
    assert "alpha    1.0      PYSEC-0000-1  CVE-0000-0001  1.1       AFFECTED" in table
    sbom = read_json(str(tmp_path / "b" / "sbom.cdx.json"))
    alpha10 = [c["bom-ref"] for c in sbom["components"] if c["name"] == "alpha" and c["version"] == "1.0"]
    (vuln,) = vex_of(tmp_path / "b")
    assert vuln["id"] == "PYSEC-0000-1" and vuln["affects"] == [{"ref": ref} for ref in alpha10]
    assert vuln["references"] == [{"id": "CVE-0000-0001", "source": {"name": "OSV"}}]
    assert vuln["recommendation"] == "Upgrade alpha to 1.1" and vuln["analysis"] == {"state": "in_triage"}
    assert vuln["description"] == "alpha 1.0 leaks secrets"
    manifest = _manifest.read(str(tmp_path / "b"))
    assert manifest["vulnerabilities"]["reports"][old]["counts"] == {"affected": 1, "ignored": 0, "skipped": 0}
    members = {name for name, _sha, _size in _archive.bundle_members(str(tmp_path / "b"), manifest)}
    # signed into the archive
    assert {"vulnerabilities.%s.json" % old, "vulnerabilities.%s.txt" % new, "vex.cdx.json"} <= members
    assert result["vulnerabilities"]["findings"][0]["id"] == "PYSEC-0000-1"
    again = build(local_index, tmp_path / "b")
    assert not again["changed"] and again["serial"] == result["serial"]  # same findings: a no-op re-run


def test_fail_policy_fails_naming_project_version_id_and_fixed_version(local_index, tmp_path):
    with pytest.raises(PyMigrateError) as err:
        build(local_index, tmp_path / "b", policy="fail")
    assert "alpha 1.0: PYSEC-0000-1 (fixed in 1.1)" in str(err.value)
    assert "PYSEC-0000-2" not in str(err.value)  # withdrawn
    assert not os.path.exists(str(tmp_path / "b" / "manifest.json"))  # nothing written
    ignore = [{"id": "CVE-0000-0001", "reason": "alpha runs offline", "expires": "2026-12-31"}]
    result = build(local_index, tmp_path / "b", policy="fail", ignores=ignore)
    report = read_json(str(tmp_path / "b" / ("vulnerabilities.%s.json" % profile_of(result, "old"))))
    assert report["findings"][0]["state"] == "ignored" and report["counts"] == {"affected": 0, "ignored": 1,
                                                                                "skipped": 0}
    assert vex_of(tmp_path / "b")[0]["analysis"] == {"state": "not_affected",
                                                     "detail": "ignored until 2026-12-31: alpha runs offline"}


def test_an_ignore_entry_past_its_expiry_no_longer_ignores(local_index, tmp_path):
    expired = [{"id": "PYSEC-0000-1", "reason": "was fine last year", "expires": "2026-05-31"}]
    with pytest.raises(PyMigrateError, match=r"alpha 1.0: PYSEC-0000-1 \(fixed in 1.1\) \[its ignore entry expired on "
                                             r"2026-05-31\]"):
        build(local_index, tmp_path / "b", policy="fail", ignores=expired)
    result = build(local_index, tmp_path / "b", ignores=expired)
    old = profile_of(result, "old")
    finding = read_json(str(tmp_path / "b" / ("vulnerabilities.%s.json" % old)))["findings"][0]
    assert finding["state"] == "ignore_expired" and finding["ignore"]["expires"] == "2026-05-31"
    with open(str(tmp_path / "b" / ("vulnerabilities.%s.txt" % old))) as handle:
        assert "AFFECTED (ignore expired 2026-05-31)" in handle.read()
    assert vex_of(tmp_path / "b")[0]["analysis"]["state"] == "in_triage"


def test_an_index_without_the_json_api_leaves_the_pins_skipped_not_clean(make_index, tmp_path):
    index = make_index([catalog.release("alpha", "1.0", vulnerabilities=catalog.ALPHA_VULNERABILITIES)],
                       include_pip=True)
    index.json_api = False
    with pytest.raises(PyMigrateError, match=r"1 of 1 pinned version\(s\) could not be checked .*alpha 1.0 \(JSON API "
                                             r"answered HTTP 404\)"):
        build(index, tmp_path / "b", policy="fail", old="1.0")  # fail closed: nothing known, nothing passes
    assert not (tmp_path / "b" / "manifest.json").exists()
    result = build(index, tmp_path / "b", policy="fail", unchecked="allow", old="1.0")
    report = read_json(str(tmp_path / "b" / ("vulnerabilities.%s.json" % profile_of(result, "old"))))
    assert report["findings"] == [] and report["skipped"] == [
        {"project": "alpha", "version": "1.0", "reason": "JSON API answered HTTP 404"}]
    assert result["vulnerabilities"]["profiles"][profile_of(result, "old")]["skipped"] == 1
    with open(str(tmp_path / "b" / ("vulnerabilities.%s.txt" % profile_of(result, "old")))) as handle:
        assert "no known vulnerability" not in handle.read().lower()


def test_an_osv_export_is_the_source_and_travels_in_the_bundle(local_index, tmp_path):
    osv = tmp_path / "all.zip"
    with zipfile.ZipFile(str(osv), "w") as archive:
        archive.writestr("GHSA-alpha.json", json.dumps({
            "id": "GHSA-alpha", "modified": "2026-04-01T00:00:00Z", "aliases": ["CVE-0000-0009"], "summary": "s",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "Alpha"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "2.0"}]}]}]}))
    requests_before = len(local_index.requests)
    result = build(local_index, tmp_path / "b", osv_db=str(osv))
    assert not [p for _m, p, _r in local_index.requests[requests_before:] if p.startswith("/pypi/")]
    for host in ("old", "new"):
        (finding,) = read_json(str(tmp_path / "b" / ("vulnerabilities.%s.json" % profile_of(result, host))))["findings"]
        assert finding["id"] == "GHSA-alpha" and finding["fixed_in"] == ["2.0"] and finding["source"] == "osv"
    manifest = _manifest.read(str(tmp_path / "b"))
    record = manifest["vulnerabilities"]["osv_db"]
    assert record["path"] == "osv-db.zip" and record["sha256"] == file_sha256(str(osv))
    assert record["modified"] == "2026-04-01T00:00:00Z" and record["records"] == 1
    assert file_sha256(str(tmp_path / "b" / "osv-db.zip")) == record["sha256"]
    members = {name for name, _sha, _size in _archive.bundle_members(str(tmp_path / "b"), manifest)}
    assert "osv-db.zip" in members
    (vuln,) = vex_of(tmp_path / "b")
    assert len(vuln["affects"]) == 2 and vuln["recommendation"] == "Upgrade alpha to 2.0"
    # The signed archive takes the reports and the OSV export inside, checked by their sha256.
    _archive.generate_keypair(str(tmp_path / "key"), str(tmp_path / "key.pub"))
    _archive.create_archive(str(tmp_path / "b"), str(tmp_path / "b.tar"),
                            _archive.load_private_key(str(tmp_path / "key")))
    _archive.import_archive(str(tmp_path / "b.tar"), str(tmp_path / "store"), [str(tmp_path / "key.pub")])
    inside = tmp_path / "store" / "bundles" / str(result["serial"])
    assert file_sha256(str(inside / "osv-db.zip")) == record["sha256"]
    assert read_json(str(inside / ("vulnerabilities.%s.json" % profile_of(result, "old"))))["findings"][0]["id"] \
        == "GHSA-alpha"
