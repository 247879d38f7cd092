"""The target_facts action: with a bundle that covers the host, the host's slice goes along with the survey so
that the host says in the same call what it holds of it; without one, the survey is the survey alone."""

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest
from tests.unit.plugins.action.runner import make_action
from tests.unit.plugins.plugin_utils.test_bundle import build, host


def survey(args, host_name):
    action = make_action("target_facts", args)
    calls = []

    def execute_module(module_name, module_args, task_vars):
        calls.append(module_args)
        return {"changed": False, "target_facts": {}}

    action._execute_module = execute_module
    action.run(task_vars={"inventory_hostname": host_name})
    return calls[0]


def test_the_host_slice_goes_along(tmp_path):
    build(tmp_path, [host("web1"), host("web2", python="3.12", alpha="==1.0")])
    sent = survey({"bundle_dir": str(tmp_path), "store_dir": "/srv/store", "space_path": "/srv"}, "web2")
    expected = _manifest.host_slice(str(tmp_path), "web2")
    assert "bundle_dir" not in sent and sent["store_dir"] == "/srv/store"
    assert sent["slice_id"] == expected["slice_id"] and sent["files"] == expected["files"]
    assert sent["environments"] == [{"path": "/opt/pymigrate/venv", "python": None,
                                     "lock_id": expected["envs"][0]["lock_id"],
                                     "packages": expected["envs"][0]["packages"]}]


def test_no_bundle_or_a_new_host_is_surveyed_alone(tmp_path):
    assert "slice_id" not in survey({"bundle_dir": str(tmp_path / "none")}, "web1")
    build(tmp_path, [host("web1")])
    assert "slice_id" not in survey({"bundle_dir": str(tmp_path)}, "db9")
    assert "slice_id" not in survey({"slice_id": "forged", "files": []}, "web1")  # only the plugin sets it
