"""The bundle_archive action: argument checks, key pairs, the survey file (state=surveyed), export and import
wiring; the archive format itself is tested in tests/unit/plugins/plugin_utils/test_archive.py."""

import json
import os

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _survey
from tests.unit.plugins.action.runner import run_action

FACTS = {"python": {"version": "3.11.7"}, "markers": {"python_version": "3.11"}, "tags": ["py3-none-any"]}


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


def test_surveyed_writes_the_facts_of_the_hosts_and_the_store_have_list(tmp_path):
    dest = tmp_path / "out" / "survey.json"
    hostvars = {"web1": {"ansible_facts": {"pymigrate_target_facts": FACTS}}, "web2": {"pymigrate_target_facts": FACTS}}
    args = {"state": "surveyed", "dest": str(dest), "hosts": ["web1", "web2"], "store_dir": str(tmp_path / "store")}
    checked, _module = run_action("bundle_archive", args, {"hostvars": hostvars}, check_mode=True)
    assert checked["changed"] and not dest.exists()
    result, _module = run_action("bundle_archive", args, {"hostvars": hostvars})
    assert result["changed"] and result["hosts"] == ["web1", "web2"] and result["accepted_serial"] is None
    survey = _survey.read(str(dest))
    assert survey["hosts"] == {"web1": FACTS, "web2": FACTS} and survey["controller"]["store_have"] == []
    again, _module = run_action("bundle_archive", args, {"hostvars": hostvars})
    assert not again["changed"]


def test_surveyed_names_a_host_without_facts(tmp_path):
    args = {"state": "surveyed", "dest": str(tmp_path / "s.json"), "hosts": ["web1", "db9"],
            "store_dir": str(tmp_path)}
    result, _module = run_action("bundle_archive", args, {"hostvars": {"web1": {"pymigrate_target_facts": FACTS}}})
    assert result["failed"] and "host db9" in result["msg"] and "target_facts" in result["msg"]
    assert not (tmp_path / "s.json").exists()


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
            "private_key_passphrase": "pw"}
    first, _module = run_action("bundle_archive", args)
    os.unlink(tmp_path / "k.pub")
    repaired, _module = run_action("bundle_archive", args)
    assert repaired["changed"] and repaired["key_id"] == first["key_id"]
    assert (tmp_path / "k.pub").read_text().startswith(first["public_key"])
