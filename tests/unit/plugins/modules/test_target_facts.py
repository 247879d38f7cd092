"""The target_facts module's slice check: store files with wrong bytes and partial files of an interrupted push are
removed so that the push sends them again, and the result says so (changed); check mode removes nothing."""

import hashlib
import os

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import store_relpath
from tests.unit.plugins.modules.runner import run_module


def store_file(store, name, data):
    relpath = store_relpath(hashlib.sha256(data).hexdigest(), name)
    os.makedirs(os.path.dirname(os.path.join(store, relpath)), exist_ok=True)
    with open(os.path.join(store, relpath), "wb") as handle:
        handle.write(data)
    return {"path": relpath, "sha256": relpath.split("/")[3], "size": len(data)}


def survey(store, files, check_mode=False):
    return run_module("target_facts", {"store_dir": store, "space_path": store, "slice_id": "s1", "files": files,
                                       "set_fact": False, "resolve_only": True}, check_mode=check_mode)


def test_a_store_that_holds_its_slice_is_not_changed(tmp_path):
    store = str(tmp_path / "store")
    files = [store_file(store, "alpha-1.0-py3-none-any.whl", b"alpha")]
    result = survey(store, files)
    assert not result["changed"] and result["rollout_check"]["store"]["present"] == 1


def test_a_damaged_store_file_removed_is_a_change(tmp_path):
    store = str(tmp_path / "store")
    good = store_file(store, "alpha-1.0-py3-none-any.whl", b"alpha")
    damaged = store_file(store, "beta-1.0-py3-none-any.whl", b"beta")
    with open(os.path.join(store, damaged["path"]), "ab") as handle:
        handle.write(b"x")
    damaged["size"] += 1  # same size as expected: only the sha256 tells
    checked = survey(store, [good, damaged], check_mode=True)
    assert checked["changed"] and os.path.exists(os.path.join(store, damaged["path"]))  # predicted, not done
    result = survey(store, [good, damaged])
    assert result["changed"] and not result.get("failed")
    assert result["rollout_check"]["store"]["corrupt"] == [{"path": damaged["path"], "problem": "sha256 differs"}]
    assert not os.path.exists(os.path.join(store, damaged["path"]))
    again = survey(store, [good, damaged])  # gone now: missing, for the push to send; nothing more to repair
    assert not again["changed"] and again["rollout_check"]["store"]["missing"] == [damaged["path"]]


def test_a_partial_file_removed_is_a_change(tmp_path):
    store = str(tmp_path / "store")
    lost = store_file(store, "alpha-1.0-py3-none-any.whl", b"alpha")
    os.rename(os.path.join(store, lost["path"]), os.path.join(store, lost["path"] + ".part"))
    result = survey(store, [lost])
    assert result["changed"] and result["rollout_check"]["store"]["removed_partials"] == [lost["path"]]
    assert not os.path.exists(os.path.join(store, lost["path"] + ".part"))


def test_the_survey_says_which_environments_marked_absent_are_still_there(tmp_path):
    store = str(tmp_path / "store")
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / ".venv.lock").write_text("")  # what a failed install left
    result = run_module("target_facts", {"store_dir": store, "space_path": store, "slice_id": "s1", "files": [],
                                         "set_fact": False, "resolve_only": True,
                                         "absent_paths": [str(tmp_path / "tools" / "venv"), str(tmp_path / "x" / "v")]})
    assert result["rollout_check"]["absent_found"] == [str(tmp_path / "tools" / "venv")]
