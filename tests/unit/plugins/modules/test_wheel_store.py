"""The wheel_store module's stock-taking before a push: what the store holds of the files, with wrong bytes removed so
that the push sends them again, and the result says so (changed); check mode removes nothing."""

import os

from tests.unit.plugins.modules.runner import run_module
from tests.unit.plugins.modules.test_target_facts import store_file

STATE = "prepared"


def test_damaged_files_removed_are_a_change_and_present_ones_are_not(tmp_path):
    store = str(tmp_path / "store")
    good = store_file(store, "alpha-1.0-py3-none-any.whl", b"alpha")
    damaged = store_file(store, "beta-1.0-py3-none-any.whl", b"beta")
    with open(os.path.join(store, damaged["path"]), "wb") as handle:
        handle.write(b"BETA")  # same size, other bytes
    args = {"store_dir": store, "files": [good, damaged], "state": STATE}
    checked = run_module("wheel_store", args, check_mode=True)
    assert checked["changed"] and os.path.exists(os.path.join(store, damaged["path"]))
    result = run_module("wheel_store", args)
    assert result["changed"] and result["present"] == [good["path"]]
    assert [item["path"] for item in result["corrupt"]] == [damaged["path"]]
    again = run_module("wheel_store", args)
    assert not again["changed"] and again["missing"] == [damaged["path"]]
