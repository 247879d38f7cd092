"""Issue 27: the export signs only the metadata the build wrote. A real bundle built against the local index with an
OSV export: its manifest records the sha256 of every metadata file; an OSV database, SBOM or vulnerability report
changed after the build is refused by name and nothing is signed (it was signed into the archive before, and inside
the audit blamed the import)."""

import json
import os
import zipfile

import pytest

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import file_sha256
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _archive, _manifest
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
from tests.component.test_vulnerabilities import build, profile_of


@pytest.fixture
def built(local_index, tmp_path):
    osv = tmp_path / "all.zip"
    with zipfile.ZipFile(str(osv), "w") as archive:
        archive.writestr("GHSA-alpha.json", json.dumps({
            "id": "GHSA-alpha", "modified": "2026-04-01T00:00:00Z", "summary": "s",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "alpha"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "2.0"}]}]}]}))
    result = build(local_index, tmp_path / "b", osv_db=str(osv))
    _archive.generate_keypair(str(tmp_path / "key"), str(tmp_path / "key.pub"))
    return {"bundle": str(tmp_path / "b"), "result": result, "key": _archive.load_private_key(str(tmp_path / "key"))}


def test_the_build_records_every_metadata_file_and_the_export_signs_them(built, tmp_path):
    bundle = built["bundle"]
    manifest = _manifest.read(bundle)
    record = manifest["metadata"]
    assert {"osv-db.zip", "sbom.cdx.json", "vex.cdx.json"} <= set(record) and "manifest.json" not in record
    assert all(record[name] == file_sha256(os.path.join(bundle, name)) for name in record)
    _archive.create_archive(bundle, str(tmp_path / "b.tar"), built["key"])
    _archive.import_archive(str(tmp_path / "b.tar"), str(tmp_path / "store"), [str(tmp_path / "key.pub")])
    assert json.load(open(str(tmp_path / "store" / "current" / "manifest.json")))["metadata"] == record


@pytest.mark.parametrize("what", ["osv-db.zip", "sbom.cdx.json", "report"])
def test_metadata_changed_after_the_build_is_refused_by_name(built, tmp_path, what):
    bundle = built["bundle"]
    name = "vulnerabilities.%s.json" % profile_of(built["result"], "old") if what == "report" else what
    path = os.path.join(bundle, name)
    if name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as archive:  # a database that knows of nothing
            archive.writestr("README", "empty")
    else:
        with open(path) as handle:
            document = json.load(handle)
        document.pop("vulnerabilities", None)
        document["findings"] = []
        with open(path, "w") as handle:
            json.dump(document, handle)
    with pytest.raises(PyMigrateError, match="%s of the bundle .* has sha256 .* changed after the build; nothing was "
                       "signed" % name.replace(".", r"\.")):
        _archive.create_archive(bundle, str(tmp_path / "b.tar"), built["key"])
    assert not os.path.exists(str(tmp_path / "b.tar")) and not os.path.exists(str(tmp_path / "b.tar.partial"))


def test_a_rebuild_repairs_what_the_export_refused(built, local_index, tmp_path):
    # The refusal's advice (rebuild) helps: a rebuild with nothing new rewrites the metadata files that changed.
    bundle = built["bundle"]
    with open(os.path.join(bundle, "sbom.cdx.json"), "a") as handle:
        handle.write(" ")
    with pytest.raises(PyMigrateError, match="sbom.cdx.json of the bundle"):
        _archive.create_archive(bundle, str(tmp_path / "b.tar"), built["key"])
    build(local_index, tmp_path / "b", osv_db=str(tmp_path / "all.zip"))
    assert _archive.create_archive(bundle, str(tmp_path / "b.tar"), built["key"])["members"] > 3
