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
    it off and check the same entry point's variables for the batch in one run_once task before the import."""
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
                checks = [t for t in tasks[:position] if "airgap.pymigrate.role_arguments" in t]
                assert checks, (path, task["name"])
                check = checks[-1]["airgap.pymigrate.role_arguments"]
                assert check["role"] == "rollout" and check.get("entry_point", "main") == entry, path
                assert checks[-1].get("run_once") is True and "always" in checks[-1]["tags"], path
    assert imports >= 4
