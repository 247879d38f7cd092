"""The host_prune action: the environments to remove, those that stay and the files to keep come from the host's
slice of the bundle; a host with nothing to remove (or whose survey found nothing of it) and a store that keeps every
file is not contacted. The host side is stood in for; tests/integration runs the real thing over SSH."""

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest, _profiles, _targets, _wanted
from tests.unit.plugins.action.runner import make_action
from tests.unit.plugins.plugin_utils.test_bundle import build

API = {"path": "/opt/api/venv", "requirements": {"alpha": ""}}


def envs_host(name, **envs):
    present, absent = _wanted.host_environments(name, {"pymigrate_host_envs": envs})
    return _profiles.HostInput(name, present, _targets.target_from_declaration({"python": "3.11"}), absent=absent)


@pytest.fixture
def bundle_dir(tmp_path):
    build(tmp_path, [envs_host("web1", api=API, tools={"path": "/opt/tools/venv", "state": "absent"}),
                     envs_host("web2", api=API)])
    return str(tmp_path)


def prune(bundle_dir, host, args=None, task_vars=None):
    action = make_action("host_prune", dict({"bundle_dir": bundle_dir}, **(args or {})))
    calls = []

    def execute_module(module_name, module_args, task_vars):
        calls.append(module_args)
        return {"changed": True, "removed": [{"name": "tools"}], "pruned": [], "pruned_bytes": 0}

    action._execute_module = execute_module
    result = action.run(task_vars=dict(task_vars or {}, inventory_hostname=host))
    return result, calls


def test_the_slice_says_what_to_remove_and_keep(bundle_dir):
    result, (sent,) = prune(bundle_dir, "web1", {"store_dir": "/srv/store"})
    host_slice = _manifest.host_slice(bundle_dir, "web1")
    assert sent["absent"] == [{"name": "tools", "path": "/opt/tools/venv"}]
    assert sent["environments"] == ["/opt/api/venv"]
    assert sent["keep_files"] == [item["path"] for item in host_slice["files"]] and sent["store_dir"] == "/srv/store"
    assert "bundle_dir" not in sent and result["changed"] and result["asked_host"]


def test_nothing_to_do_contacts_no_host(bundle_dir):
    result, calls = prune(bundle_dir, "web2")
    assert calls == [] and result == {"changed": False, "removed": [], "pruned": [], "pruned_bytes": 0,
                                      "asked_host": False}
    _result, calls = prune(bundle_dir, "web2", {"store_keep": "referenced"})
    assert len(calls) == 1 and calls[0]["absent"] == [] and calls[0]["store_keep"] == "referenced"


def test_the_survey_of_the_same_slice_answers_whether_anything_is_left(bundle_dir):
    host_slice = _manifest.host_slice(bundle_dir, "web1")
    answer = {"__pymigrate_target_facts": {"rollout_check": {"slice_id": host_slice["slice_id"], "absent_found": []}}}
    result, calls = prune(bundle_dir, "web1", task_vars=answer)
    assert calls == [] and result["asked_host"] is False
    answer["__pymigrate_target_facts"]["rollout_check"]["absent_found"] = ["/opt/tools/venv"]
    assert len(prune(bundle_dir, "web1", task_vars=answer)[1]) == 1
    answer["__pymigrate_target_facts"]["rollout_check"].update(slice_id="another", absent_found=[])
    assert len(prune(bundle_dir, "web1", task_vars=answer)[1]) == 1


def test_arguments_of_the_slice_are_refused_with_bundle_dir(bundle_dir):
    result, calls = prune(bundle_dir, "web1", {"absent": [{"name": "x", "path": "/opt/x/venv"}]})
    assert result["failed"] and "absent come(s) from the host's slice" in result["msg"] and calls == []
    result, (sent,) = prune(None, "web1", {"bundle_dir": None, "absent": [{"name": "x", "path": "/opt/x/venv"}]})
    assert sent == {"absent": [{"name": "x", "path": "/opt/x/venv"}]}  # without a bundle: what the task gives
