"""_unchanged: a bundle build whose lock holds and whose inputs are those of the bundle returns the recorded result;
any other input, another manifest or a store file gone builds again."""

import dataclasses
import datetime
import hashlib
import json
import os
import types

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _bundle, _lockdir, _targets, _unchanged, _vulns
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import Profile, WantedSet

WHEEL = b"wheel bytes"
RELPATH = "files/sha256/ab/alpha-1.0-py3-none-any.whl"


def plan(holds=True, **changes):
    profile = Profile("default-cp311-abc", _targets.target_from_declaration({"python": "3.11"}),
                      WantedSet({"alpha": "alpha"}), ["web1:default"])
    lock_plan = _lockdir.LockPlan("default-cp311", object() if holds else None, {}, None)
    fields = dict(profiles=[profile], kept=[], absent={}, images=None, builders={},
                  locking=types.SimpleNamespace(plans={profile.name: lock_plan}))
    fields.update(changes)
    return types.SimpleNamespace(**fields)


def settings(tmp_path, **changes):
    lock_dir = tmp_path / "lock"
    lock_dir.mkdir(exist_ok=True)
    base = _bundle.BundleSettings(str(tmp_path / "bundle"), lock_dir=str(lock_dir), lock_mode="update",
                                  vulnerabilities=_vulns.VulnerabilityCheck())
    return dataclasses.replace(base, **changes)


def bundle(tmp_path):
    root = tmp_path / "bundle"
    (root / os.path.dirname(RELPATH)).mkdir(parents=True)
    (root / RELPATH).write_bytes(WHEEL)
    manifest = {"serial": 4, "files": {RELPATH: {"size": len(WHEEL), "sha256": hashlib.sha256(WHEEL).hexdigest(),
                                                 "filename": os.path.basename(RELPATH)}}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return str(root)


CHANGED = {"changed": True, "serial": 4, "fetched": ["alpha-1.0-py3-none-any.whl"],
           "changes": {"web1:default": {"added": ["alpha==1.0"]}},
           "diff": [{"before": "", "after": "web1:default alpha==1.0\n"}, {"before": "", "after": "lock"}],
           "lock": {"held": [], "changed_files": ["pylock.default-cp311.toml"], "changes": {"web1:default": {}},
                    "locks": {"default-cp311-abc": "default-cp311"}}}


def test_the_steady_result_is_what_a_rerun_with_nothing_changed_returns():
    steady = _unchanged.steady_result(CHANGED)
    assert steady["changed"] is False and steady["fetched"] == [] and steady["changes"] == {}
    assert steady["diff"] == {"before": "web1:default alpha==1.0\n", "after": "web1:default alpha==1.0\n"}
    assert steady["lock"] == {"held": ["default-cp311"], "changed_files": [], "changes": {},
                              "locks": {"default-cp311-abc": "default-cp311"}}
    assert _unchanged.steady_result(steady) == steady  # a build that changed nothing records itself
    assert _unchanged.steady_result(dict(CHANGED, dropped_envs=[{"env": "old"}])) is None


def test_only_a_build_whose_lock_holds_for_every_profile_may_skip():
    assert _unchanged.eligible(plan(), settings_for_eligible())
    assert not _unchanged.eligible(plan(holds=False), settings_for_eligible())
    assert _unchanged.recordable(plan(holds=False), settings_for_eligible())
    assert not _unchanged.eligible(plan(builders={("k",): object()}), settings_for_eligible())
    assert not _unchanged.eligible(plan(locking=None), settings_for_eligible())
    for change in ({"check_mode": True}, {"lock_only": True}, {"lock_mode": "ignore"}):
        assert not _unchanged.eligible(plan(), dataclasses.replace(settings_for_eligible(), **change)), change


def settings_for_eligible():
    return _bundle.BundleSettings("/nonexistent/bundle", lock_dir="/nonexistent/lock", lock_mode="update")


def test_the_recorded_result_returns_while_key_manifest_and_store_are_the_same(tmp_path):
    bundle_dir, base = bundle(tmp_path), settings(tmp_path)
    key = _unchanged.build_key(plan(), base, ["http://127.0.0.1/simple/"])
    assert _unchanged.record(bundle_dir, key, CHANGED)
    assert _unchanged.settled_result(bundle_dir, key) == json.loads(json.dumps(_unchanged.steady_result(CHANGED)))
    assert key == _unchanged.build_key(plan(), base, ["http://127.0.0.1/simple/"])

    # Every input the outcome depends on changes the key.
    others = [_unchanged.build_key(plan(), base, ["http://127.0.0.1/other/"]),
              _unchanged.build_key(plan(kept=["web2"]), base, ["http://127.0.0.1/simple/"]),
              _unchanged.build_key(plan(absent={"web1": {"old": "/opt/old"}}), base, ["http://127.0.0.1/simple/"])]
    for change in ({"installer": "uv"}, {"version_policy": "uniform"}, {"upgrade": _lockdir.Upgrade(everything=True)},
                   {"vulnerabilities": _vulns.VulnerabilityCheck(policy="fail")},
                   {"vulnerabilities": _vulns.VulnerabilityCheck(today=datetime.date(2001, 1, 1))}):
        others.append(_unchanged.build_key(plan(), dataclasses.replace(base, **change), ["http://127.0.0.1/simple/"]))
    (tmp_path / "lock" / _lockdir.SUMMARY).write_text("# the lock, edited\n")
    others.append(_unchanged.build_key(plan(), base, ["http://127.0.0.1/simple/"]))
    assert key not in others and len(set(others)) == len(others)
    for other in others:
        assert _unchanged.settled_result(bundle_dir, other) is None


def test_another_manifest_or_a_store_file_gone_builds_again(tmp_path):
    bundle_dir, base = bundle(tmp_path), settings(tmp_path)
    key = _unchanged.build_key(plan(), base, [])
    _unchanged.record(bundle_dir, key, CHANGED)
    os.truncate(os.path.join(bundle_dir, RELPATH), 3)
    assert _unchanged.settled_result(bundle_dir, key) is None  # not the size the manifest records
    os.unlink(os.path.join(bundle_dir, RELPATH))
    assert _unchanged.settled_result(bundle_dir, key) is None
    bundle_dir = bundle(tmp_path / "again")
    _unchanged.record(bundle_dir, key, CHANGED)
    with open(os.path.join(bundle_dir, "manifest.json"), "a") as handle:
        handle.write(" ")
    assert _unchanged.settled_result(bundle_dir, key) is None
    _unchanged.record(bundle_dir, key, dict(CHANGED, pending_builds=[{}]))  # a re-run could differ: forgotten
    assert not os.path.exists(os.path.join(bundle_dir, _unchanged.RECORD))
