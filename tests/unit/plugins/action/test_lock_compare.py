"""lock_compare: the lock a bundle carries against the inventory's lock, per environment."""

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _lockdir
from tests.unit.plugins.action.runner import run_action
from tests.unit.plugins.plugin_utils.test_lockdir import _lock, _pin, _profile


def _write(directory, *locks):
    directory.mkdir(parents=True, exist_ok=True)
    for lock in locks:
        (directory / lock.filename).write_text(_lockdir.render(lock))


def test_the_same_lock_and_a_different_one(tmp_path):
    profile = _profile(["web1:default", "web2:default"], {"req": "req"})
    carried = _lock("a", profile, [_pin("req", "2.1")])
    _write(tmp_path / "bundle" / "lock", carried)
    _write(tmp_path / "inside", carried)
    args = {"bundle_dir": str(tmp_path / "bundle"), "lock_dir": str(tmp_path / "inside")}
    result, _module = run_action("lock_compare", args, {})
    assert result["compared"] and result["same"] and not result["changed"], result

    older = _lock("a", profile, [_pin("req", "2.0")], members=["web1:default", "web3:default"])
    _write(tmp_path / "inside", older)
    result, _module = run_action("lock_compare", args, {})
    assert not result["same"] and result["changes"] == {
        "web1:default": {"added": [], "removed": [], "upgraded": [], "downgraded": ["req 2.1 -> 2.0"]}}
    assert result["only_carried"] == ["web2:default"] and result["only_inventory"] == ["web3:default"]
    result, _module = run_action("lock_compare", dict(args, fail_on_difference=True), {})
    expected = "web1:default: from the bundle's lock to the inventory's: req 2.1 -> 2.0"
    assert result["failed"] and expected in result["msg"]


def test_nothing_to_compare_is_said(tmp_path):
    result, _module = run_action("lock_compare", {"bundle_dir": str(tmp_path), "lock_dir": str(tmp_path / "x")}, {})
    assert not result["compared"] and "carries no lock" in result["msg"]
