"""The survey_file action: the hosts' target facts and the control node's store have-list in one file, written only
when it changes, and a host without facts named (the format itself is tested in plugin_utils/test_survey.py)."""

import os

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _survey
from tests.unit.plugins.action.runner import run_action

FACTS = {"python": {"version": "3.11.7"}, "markers": {"python_version": "3.11"}, "tags": ["py3-none-any"]}


def test_the_facts_of_the_hosts_and_the_store_have_list_are_written_once(tmp_path):
    dest = tmp_path / "out" / "survey.json"
    hostvars = {"web1": {"ansible_facts": {"pymigrate_target_facts": FACTS}},
                "web2": {"__pymigrate_target_facts": {"target_facts": FACTS}}}
    args = {"dest": str(dest), "hosts": ["web1", "web2"], "store_dir": str(tmp_path / "store")}
    checked, _module = run_action("survey_file", args, {"hostvars": hostvars}, check_mode=True)
    assert checked["changed"] and not dest.exists()
    result, _module = run_action("survey_file", args, {"hostvars": hostvars})
    assert result["changed"] and result["hosts"] == ["web1", "web2"] and result["accepted_serial"] is None
    assert result["survey_file"] == str(dest) and result["store_have"] == []
    survey = _survey.read(str(dest))
    assert survey["hosts"] == {"web1": FACTS, "web2": FACTS} and survey["controller"]["store_have"] == []
    written = os.stat(dest).st_mtime_ns
    again, _module = run_action("survey_file", args, {"hostvars": hostvars})
    assert not again["changed"] and os.stat(dest).st_mtime_ns == written


def test_a_host_without_facts_is_named_and_nothing_is_written(tmp_path):
    args = {"dest": str(tmp_path / "s.json"), "hosts": ["web1", "db9"], "store_dir": str(tmp_path)}
    result, _module = run_action("survey_file", args, {"hostvars": {"web1": {"pymigrate_target_facts": FACTS}}})
    assert result["failed"] and "host db9" in result["msg"] and "target_facts" in result["msg"]
    assert result["error_host"] == "db9" and not (tmp_path / "s.json").exists()


def test_every_option_is_required(tmp_path):
    result, _module = run_action("survey_file", {"dest": str(tmp_path / "s.json")})
    assert result["failed"] and "invalid arguments" in result["msg"]
    assert "hosts" in result["msg"] and "store_dir" in result["msg"]
