"""The bundle_archive action: argument checks, key pairs, export (a delta against a survey file) and import
wiring; the archive format itself is tested in tests/unit/plugins/plugin_utils/test_archive.py."""

import json
import os

from tests.unit.plugins.action.runner import run_action


def test_arguments_are_validated_before_anything_runs(tmp_path):
    result, _module = run_action("bundle_archive", {"state": "exported", "bundle_dir": str(tmp_path)})
    assert result["failed"] and "invalid arguments" in result["msg"] and "dest" in result["msg"]
    result, _module = run_action("bundle_archive", {"state": "sideways"})
    assert result["failed"] and "sideways" in result["msg"]


def test_keypair_is_made_once_and_never_overwritten(tmp_path):
    args = {"state": "keypair", "private_key_path": str(tmp_path / "k"), "public_key_path": str(tmp_path / "k.pub")}
    assert run_action("bundle_archive", args, check_mode=True)[0]["changed"] and not (tmp_path / "k").exists()
    first, _module = run_action("bundle_archive", args)
    assert first["changed"] and first["public_key"].startswith("ssh-ed25519 ")
    assert oct(os.stat(tmp_path / "k").st_mode & 0o777) == "0o600"
    key = (tmp_path / "k").read_bytes()
    again, _module = run_action("bundle_archive", args)
    assert not again["changed"] and (tmp_path / "k").read_bytes() == key


def test_the_survey_is_no_state_of_the_archive_any_more(tmp_path):
    args = {"state": "surveyed", "dest": str(tmp_path / "s.json"), "hosts": ["web1"], "store_dir": str(tmp_path)}
    result, _module = run_action("bundle_archive", args)
    assert result["failed"] and "surveyed" in result["msg"] and not (tmp_path / "s.json").exists()


def test_export_refuses_a_survey_file_of_another_format(tmp_path):
    (tmp_path / "survey.json").write_text(json.dumps({"format": 9, "hosts": {}}))
    args = {"state": "exported", "bundle_dir": str(tmp_path), "dest": str(tmp_path / "a.tar"),
            "private_key_path": str(tmp_path / "k"), "survey_file": str(tmp_path / "survey.json")}
    result, _module = run_action("bundle_archive", args)
    assert result["failed"] and "not a format 1 survey file" in result["msg"]


def test_import_of_a_missing_archive_says_so(tmp_path):
    args = {"state": "imported", "src": str(tmp_path / "none.tar"), "store_dir": str(tmp_path), "trusted_keys": ["x"]}
    result, _module = run_action("bundle_archive", args)
    assert result["failed"] and "no archive at" in result["msg"] and result["error_var"] == "pymigrate_archive"


def test_a_lost_public_key_is_written_again(tmp_path):
    args = {"state": "keypair", "private_key_path": str(tmp_path / "k"), "public_key_path": str(tmp_path / "k.pub"),
            # With spaces: no_log masks the passphrase wherever it appears, and a short one ("pw") turned up inside
            # the random public key now and then.
            "private_key_passphrase": "a passphrase with spaces"}
    first, _module = run_action("bundle_archive", args)
    os.unlink(tmp_path / "k.pub")
    repaired, _module = run_action("bundle_archive", args)
    assert repaired["changed"] and repaired["key_id"] == first["key_id"]
    assert (tmp_path / "k.pub").read_text().startswith(first["public_key"])


def test_export_and_import_say_where_the_archive_is_its_size_serial_key_expiry_and_vulnerabilities(tmp_path):
    from tests.unit.plugins.plugin_utils.test_archive import make_bundle, seal
    bundle = str(tmp_path / "bundle")
    manifest = make_bundle(bundle, 4, {"alpha-1.0-py3-none-any.whl": b"A" * 100})
    with open(os.path.join(bundle, "sbom.cdx.json"), "w") as handle:
        json.dump({"components": [{"type": "library", "bom-ref": "a", "name": "alpha", "version": "1.0"}],
                   "vulnerabilities": [{"id": "PYSEC-0000-1", "affects": [{"ref": "a"}],
                                       "analysis": {"state": "in_triage"}}]}, handle)
    seal(bundle, manifest)
    keys = {"state": "keypair", "private_key_path": str(tmp_path / "k"), "public_key_path": str(tmp_path / "k.pub")}
    key_id = run_action("bundle_archive", keys)[0]["key_id"]
    exported, _module = run_action("bundle_archive", {"state": "exported", "bundle_dir": bundle,
                                                      "dest": str(tmp_path / "a.tar"), "private_key_path": keys[
                                                          "private_key_path"]})
    size = os.path.getsize(str(tmp_path / "a.tar"))
    assert exported["msg"].startswith("exported %s: serial 4, full archive, %.1f MB, signed by key %s, expires "
                                      % (tmp_path / "a.tar", size / 1e6, key_id))
    assert "it carries 1 known vulnerability (alpha 1.0: PYSEC-0000-1)" in exported["msg"]
    imported, _module = run_action("bundle_archive", {"state": "imported", "src": str(tmp_path / "a.tar"),
                                                      "store_dir": str(tmp_path / "in"),
                                                      "trusted_keys": [keys["public_key_path"]]})
    assert imported["msg"].startswith("imported %s: serial 4, full archive" % (tmp_path / "a.tar"))
    assert imported["key_id"] == key_id and imported["vulnerabilities"] == ["alpha 1.0: PYSEC-0000-1"]
    assert imported["msg"].endswith("; 1 file(s) added to %s" % (tmp_path / "in"))
