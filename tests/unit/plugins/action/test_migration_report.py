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


def test_the_run_is_kept_in_the_record_with_its_page_and_who_ran_it(tmp_path):
    hostvars = {"ok1": {"__pymigrate_in_run": True, "__pymigrate_push": {"sent": [], "changed": False},
                        "__pymigrate_install": {"results": []},
                        "__pymigrate_bundle": {"serial": 3, "lock": {"changes": {"ok1:default": {"added": ["a==1"]}}}}},
                "other": {}}
    task_vars = {"hostvars": hostvars, "groups": {"all": ["ok1", "other"]}, "awx_user_name": "ops",
                 "awx_job_id": 42}
    result, _module = run_action("migration_report", {"dest": str(tmp_path), "keep": "30d"}, task_vars)
    run = result["summary"]["run"]
    assert [item["host"] for item in result["summary"]["hosts"]] == ["ok1"]  # the hosts the run marked
    assert run["user"] == "ops (AWX job 42)" and run["check_mode"] is False and run["document"] == "summary"
    assert run["lock_changes"] == {"ok1:default": {"added": ["a==1"]}}
    assert run["page"] == result["page"] == str(tmp_path / run["id"] / "report.html")
    assert (tmp_path / run["id"] / "report.html").exists() and (tmp_path / run["id"] / "report.md").exists()
    assert result["index"] == str(tmp_path / "index.html") and (tmp_path / "index.html").exists()
    assert result["summary_lines"][-1] == "the run's page: %s (every run: %s)" % (run["page"], result["index"])


def test_in_a_playbook_of_ones_own_the_hosts_of_the_play_or_what_it_needs(tmp_path):
    hostvars = {"web1": {"__pymigrate_install": {"results": []}}, "web2": {}}
    task_vars = {"hostvars": hostvars, "groups": {"all": ["web1", "web2"]}, "ansible_play_hosts_all": ["web1", "web2"]}
    result, _module = run_action("migration_report", {"dest": str(tmp_path)}, task_vars, check_mode=True)
    assert [item["host"] for item in result["summary"]["hosts"]] == ["web1", "web2"]
    assert result["summary"]["run"]["page"] is None and result["summary_lines"][-1].startswith("check mode")
    hostvars["web1"] = {}
    failed, _module = run_action("migration_report", {"dest": str(tmp_path)}, task_vars)
    assert failed["failed"] and "after airgap.pymigrate.rollout" in failed["msg"]
    wrong, _module = run_action("migration_report", {"dest": str(tmp_path), "keep": "soon"},
                                dict(task_vars, hostvars={"web1": {"__pymigrate_install": {}}}))
    assert wrong["failed"] and wrong["error_var"] == "pymigrate_report_keep"


def test_the_document_and_the_query_result_are_the_jobs_artifacts(tmp_path):
    hostvars = {"web1": {"__pymigrate_install": {"results": []}}}
    task_vars = {"hostvars": hostvars, "groups": {"all": ["web1"]}, "ansible_play_hosts_all": ["web1"]}
    result, _module = run_action("migration_report", {"dest": str(tmp_path), "document": "state",
                                                      "query": "environments[].host"}, task_vars)
    # What ansible.builtin.set_stats returns: the strategy publishes it, AWX keeps it (no set_stats task).
    artifacts = {"pymigrate_state": result["summary"], "pymigrate_query_result": ["web1"]}
    assert result["ansible_stats"] == {"data": artifacts, "per_host": False, "aggregate": True}
