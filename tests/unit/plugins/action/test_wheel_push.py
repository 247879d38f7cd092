"""The wheel_push action: the host's files and environments come from its slice of the manifest (read once), the
host's store inventory decides what is sent, and check mode sends nothing. The host side (wheel_store) is stood in
for; tests/integration runs the real thing over SSH."""

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest
from tests.unit.plugins.action.runner import make_action
from tests.unit.plugins.plugin_utils.test_bundle import build, host


@pytest.fixture
def bundle_dir(tmp_path):
    build(tmp_path, [host("web1"), host("web2", python="3.12", alpha="==1.0")])
    return str(tmp_path)


def push(bundle_dir, host_name, present=(), check_mode=False):
    action = make_action("wheel_push", {"bundle_dir": bundle_dir, "store_dir": "/var/lib/pymigrate/store"},
                         check_mode=check_mode)
    calls = []

    def execute_module(module_name, module_args, task_vars):
        calls.append(module_args)
        if module_args["state"] == "inventory":
            paths = [item["path"] for item in module_args["files"]]
            return {"present": [p for p in paths if p in present], "missing": [p for p in paths if p not in present],
                    "corrupt": [], "removed_partials": []}
        return {"received": [item["path"] for item in module_args["files"]], "changed": True}

    action._execute_module = execute_module
    action._transfer_file = lambda local, remote: remote
    action._fixup_perms2 = lambda paths: None
    action._make_tmp_path = lambda: "/tmp/remote"
    action._remove_tmp_path = lambda path: None
    return action.run(task_vars={"inventory_hostname": host_name}), calls


def test_the_host_slice_decides_what_is_sent_and_the_envs_come_back(bundle_dir):
    manifest = _manifest.read(bundle_dir)
    wanted = [item["path"] for item in _manifest.host_files(manifest, "web2")]
    result, calls = push(bundle_dir, "web2", present=wanted[:1])
    assert [c["state"] for c in calls] == ["inventory", "received"]
    assert [item["path"] for item in calls[0]["files"]] == wanted
    assert calls[0]["environments"] == [{"path": "/opt/pymigrate/venv", "python": None}]  # checked before any file
    assert result["sent"] == wanted[1:] and result["present"] == 1 and result["changed"]
    assert result["envs"] == _manifest.host_envs(manifest, "web2")
    assert [p["name"] for p in result["envs"][0]["packages"]] == ["alpha"]


def test_nothing_missing_sends_nothing(bundle_dir):
    wanted = [item["path"] for item in _manifest.host_files(_manifest.read(bundle_dir), "web1")]
    result, calls = push(bundle_dir, "web1", present=wanted)
    assert [c["state"] for c in calls] == ["inventory"] and result["sent"] == [] and not result["changed"]


def test_check_mode_reads_the_proposal_and_sends_nothing(bundle_dir):
    build(bundle_dir, [host("web1", alpha="==1.0")], check_mode=True)  # proposal: web1 now wants alpha 1.0
    result, calls = push(bundle_dir, "web1", check_mode=True)
    assert [c["state"] for c in calls] == ["inventory"] and result["changed"]
    assert [(p["name"], p["version"]) for p in result["envs"][0]["packages"]] == [("alpha", "1.0")]


def test_a_host_the_bundle_does_not_cover_is_named(bundle_dir):
    result, calls = push(bundle_dir, "db9")
    assert result["failed"] and "host db9 is not in the bundle" in result["msg"] and calls == []


def test_no_bundle_directory(tmp_path):
    from ansible.errors import AnsibleActionFail
    with pytest.raises(AnsibleActionFail, match="not a directory on the control node"):
        push(str(tmp_path / "none"), "web1")
