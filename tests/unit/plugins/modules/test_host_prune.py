"""The host_prune module as Ansible runs it: an environment marked absent removed (changed), then nothing to do (not
changed); check mode removes nothing; a path it does not manage fails naming it."""

import os

from tests.unit.plugins.module_utils.test_prune import make_env, make_store
from tests.unit.plugins.modules.runner import run_module


def test_an_absent_environment_is_removed_once_and_check_mode_removes_nothing(tmp_path):
    store = make_store(tmp_path)
    env = make_env(tmp_path, store, "tools", [{"files": []}])
    args = {"store_dir": store, "absent": [{"name": "tools", "path": env.path}]}
    predicted = run_module("host_prune", args, check_mode=True)
    assert predicted["changed"] and os.path.islink(env.path)
    removed = run_module("host_prune", args)
    assert removed["changed"] and removed["removed"][0]["name"] == "tools" and not os.path.lexists(env.path)
    again = run_module("host_prune", args)
    assert not again["changed"] and again["removed"] == []
    (tmp_path / "mine" / "venv").mkdir(parents=True)
    mine = [{"name": "mine", "path": str(tmp_path / "mine" / "venv")}]
    failed = run_module("host_prune", {"store_dir": store, "absent": mine})
    assert failed["failed"] and "is not a pymigrate-managed symlink" in failed["msg"]
