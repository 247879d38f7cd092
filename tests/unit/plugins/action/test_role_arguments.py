"""The role_arguments action: every host of the batch checked against the role's own argument spec in one task,
each problem naming host and variable; and the playbooks that import the rollout role per host use it instead of
Ansible's per-host check."""

import glob
import os

import yaml

from tests.unit.plugins.action.runner import run_action

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def test_valid_values_of_every_host_pass():
    hostvars = {"web1": {"pymigrate_keep_generations": 2, "pymigrate_verify_installed": "full"},
                "web2": {"unrelated": "x"}}
    result, _action = run_action("role_arguments", {"role": "rollout", "hosts": ["web1", "web2"]},
                                 {"hostvars": hostvars})
    assert not result.get("failed"), result
    assert result["hosts"] == 2 and result["changed"] is False


def test_each_problem_names_its_host_and_variable():
    hostvars = {"web1": {"pymigrate_keep_generations": 3},
                "web2": {"pymigrate_keep_generations": "many"},
                "web3": {"pymigrate_verify_installed": "sometimes"}}
    result, _action = run_action("role_arguments", {"role": "rollout", "hosts": sorted(hostvars)},
                                 {"hostvars": hostvars})
    assert result["failed"]
    assert "web2: " in result["msg"] and "pymigrate_keep_generations" in result["msg"]
    assert "web3: " in result["msg"] and "pymigrate_verify_installed" in result["msg"] and "sometimes" in result["msg"]
    assert "web1: " not in result["msg"]


def test_a_fleet_wide_mistake_is_shown_once_per_host_up_to_a_limit():
    hostvars = {"h%03d" % n: {"pymigrate_keep_generations": "many"} for n in range(50)}
    result, _action = run_action("role_arguments", {"role": "rollout", "hosts": sorted(hostvars)},
                                 {"hostvars": hostvars})
    assert result["failed"] and "(and 30 more)" in result["msg"]


def test_an_unknown_entry_point_is_named():
    result, _action = run_action("role_arguments", {"role": "rollout", "entry_point": "nope", "hosts": ["h"]},
                                 {"hostvars": {"h": {}}})
    assert result["failed"] and "no entry point nope" in result["msg"] and "state" in result["msg"]


def test_playbooks_check_the_rollout_role_once_per_batch_not_once_per_host():
    """Ansible's own check of a role imported per host returns the role's whole spec per host; the playbooks turn
    it off and check the same entry point's variables for the batch before the import, in the run role's start entry
    point: one run_once task that no tag skips."""
    with open(os.path.join(ROOT, "roles", "run", "tasks", "start.yml")) as handle:
        start = [task for task in yaml.safe_load(handle) if "airgap.pymigrate.role_arguments" in task]
    assert len(start) == 1 and start[0]["run_once"] is True and start[0]["tags"] == ["always"]
    assert start[0]["airgap.pymigrate.role_arguments"] == {
        "role": "{{ _run_check_role }}", "entry_point": "{{ _run_check_entry_point }}",
        "hosts": "{{ ansible_play_batch }}"}
    imports = 0
    for path in sorted(glob.glob(os.path.join(ROOT, "playbooks", "*.yml"))):
        with open(path) as handle:
            plays = yaml.safe_load(handle)
        for play in plays:
            tasks = play.get("tasks") or []
            for position, task in enumerate(tasks):
                spec = task.get("ansible.builtin.import_role") or {}
                if spec.get("name") != "airgap.pymigrate.rollout":
                    continue
                imports += 1
                entry = spec.get("tasks_from", "main")
                assert spec.get("rolespec_validate") is False, (path, task["name"])
                starts = [t for t in tasks[:position]
                          if (t.get("ansible.builtin.import_role") or {}).get("name") == "airgap.pymigrate.run"]
                assert starts, (path, task["name"])
                assert starts[-1]["ansible.builtin.import_role"]["tasks_from"] == "start", path
                checked = starts[-1]["vars"]["pymigrate_check_role"]
                assert "rollout" in ([checked] if isinstance(checked, str) else checked), path
                assert starts[-1]["vars"]["pymigrate_check_entry_point"] == entry, path
                assert starts[-1].get("run_once") is True and starts[-1]["tags"] == ["always"], path
    assert imports >= 4


def test_a_report_role_imported_without_its_check_is_checked_by_the_start_of_its_playbook():
    for path in sorted(glob.glob(os.path.join(ROOT, "playbooks", "*.yml"))):
        with open(path) as handle:
            plays = yaml.safe_load(handle)
        tasks = [task for play in plays for task in play.get("tasks") or []]
        unchecked = [task for task in tasks if (task.get("ansible.builtin.import_role") or {}).get("name") ==
                     "airgap.pymigrate.report" and task["ansible.builtin.import_role"].get("rolespec_validate") is False
                     and task["ansible.builtin.import_role"].get("tasks_from", "main") == "main"]
        if not unchecked:
            continue
        checked = [task["vars"]["pymigrate_check_role"] for task in tasks
                   if (task.get("ansible.builtin.import_role") or {}).get("name") == "airgap.pymigrate.run"]
        assert any("report" in ([role] if isinstance(role, str) else role) for role in checked), path


def test_several_roles_are_checked_in_one_task_each_problem_naming_its_role():
    hostvars = {"web1": {"pymigrate_report_document": "everything"}}
    result, _action = run_action("role_arguments", {"role": ["rollout", "report"], "hosts": ["web1"]},
                                 {"hostvars": hostvars})
    assert result["failed"] and "invalid variables for airgap.pymigrate.report (main)" in result["msg"]
    assert "web1" in result["msg"] and "pymigrate_report_document" in result["msg"]
    ok, _action = run_action("role_arguments", {"role": ["rollout", "report"], "hosts": ["web1"]},
                             {"hostvars": {"web1": {}}})
    assert not ok.get("failed") and ok["msg"] == "the rollout and report variables of 1 host(s) are valid"
