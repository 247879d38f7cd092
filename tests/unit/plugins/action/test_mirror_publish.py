"""mirror_publish: the action validates its arguments, publishes through _mirror and reports what it did; check mode
publishes nothing; a refusal is a failed result naming the file."""

from tests.unit.plugins.action.runner import run_action
from tests.unit.plugins.plugin_utils.test_mirror import make_bundle


def test_publish_check_mode_rerun_and_a_refusal(tmp_path):
    bundle, _manifest, wheel = make_bundle(tmp_path)
    args = {"bundle_dir": bundle, "kind": "static", "path": str(tmp_path / "www"), "url": "https://pypi.enclave/"}
    planned, _action = run_action("mirror_publish", args, check_mode=True)
    assert planned["changed"] and len(planned["published"]) == 3 and not (tmp_path / "www").exists(), planned
    done, _action = run_action("mirror_publish", args)
    assert done["changed"] and done["locks_written"] == ["pylock.default-cp311.toml"] and done["serial"] == 3
    again, _action = run_action("mirror_publish", args)
    assert not again["changed"] and again["published"] == []
    (tmp_path / "www" / wheel).write_bytes(b"other")
    refused, _action = run_action("mirror_publish", args)
    assert refused["failed"] and "foo_bar-1.0-py3-none-any.whl" in refused["msg"]


def test_arguments_are_checked_and_the_password_never_shows(tmp_path):
    result, _action = run_action("mirror_publish", {"bundle_dir": str(tmp_path), "kind": "ftp"})
    assert result["failed"] and "kind" in result["msg"]
    result, _action = run_action("mirror_publish", {"bundle_dir": str(tmp_path), "kind": "devpi",
                                                    "url": "http://127.0.0.1:9/u/i", "password": "s3cr3t-pw"})
    assert result["failed"] and "s3cr3t-pw" not in str(result)
