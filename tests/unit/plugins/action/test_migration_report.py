"""The migration_report action: summary and retry files written from the hosts' registered results."""

import json

from tests.unit.plugins.action.runner import run_action

SURVEYED = {"target_facts": {}}


def test_summary_and_retry_file(tmp_path):
    hostvars = {
        "ok1": {"__pymigrate_target_facts": SURVEYED, "__pymigrate_push": {"sent": [], "changed": False},
                "__pymigrate_install": {"results": [{"item": {"name": "default", "path": "/opt/v"},
                                                     "generation": "/opt/.v.generations/1-x", "changed": False}]}},
        "bad2": {"__pymigrate_target_facts": SURVEYED, "__pymigrate_push": {"failed": True, "msg": "disk full"}},
        "gone3": {},
    }
    args = {"hosts": ["ok1", "bad2", "gone3"], "dest": str(tmp_path / "reports")}
    checked, _module = run_action("migration_report", args, {"hostvars": hostvars}, check_mode=True)
    assert checked["summary"]["counts"] == {"ok": 1, "failed": 1, "unreachable": 1}
    assert not (tmp_path / "reports").exists()
    result, _module = run_action("migration_report", args, {"hostvars": hostvars})
    assert (tmp_path / "reports" / "failed_hosts.retry").read_text() == "bad2\ngone3\n"
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert summary == result["summary"] and summary["retry"] == ["bad2", "gone3"]
    assert result["summary_lines"][0] == "fleet: failed=1, ok=1, unreachable=1"
    assert "bad2: failed, 0 file(s) sent; push: disk full" in result["summary_lines"]


def test_an_unwritable_report_directory_is_named(tmp_path):
    (tmp_path / "file").write_text("")
    result, _module = run_action("migration_report", {"hosts": [], "dest": str(tmp_path / "file" / "r")},
                                 {"hostvars": {}})
    assert result["failed"] and "cannot write the report" in result["msg"]
    assert result["error_var"] == "pymigrate_report_dir"
