"""The lock directory: PEP 751 locks read back as written, stable names, holds / prefers, per-environment changes."""

import tomllib

import pytest
from packaging.pylock import Pylock

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _lockdir, _profiles, _targets
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import DistFile, Pin, PyMigrateError, WantedSet


def _target(python="3.11"):
    return _targets.target_from_declaration({"python": python})


def _profile(members, requirements, python="3.11"):
    entries = [(m.split(":")[0], m.split(":")[1], _target(python), WantedSet(dict(requirements))) for m in members]
    return _profiles.build_profiles(entries)[0]


def _pin(name, version, deps=()):
    filename = "%s-%s-py3-none-any.whl" % (name, version)
    sha = (name + version).encode().hex().ljust(64, "0")[:64]
    dist = DistFile(project=name, version=version, filename=filename,
                    url="https://user:secret@index.example/files/" + filename, sha256=sha, size=10,
                    upload_time="2024-05-01T12:00:00.250000Z")
    return Pin(name=name, version=version, file=dist, dependencies=tuple(deps))


PIP = _pin("pip", "24.0")


def _lock(name, profile, pins, members=None):
    return _lockdir.new_lock(name, profile, pins, PIP, members or profile.members)


def test_a_lock_is_valid_pep751_and_reads_back_to_the_same_text(tmp_path):
    profile = _profile(["web1:default", "web2:default"], {"req": "req>=2"})
    lock = _lock("default-x", profile, [_pin("req", "2.1", ["idna"]), _pin("idna", "3.7")])
    text = _lockdir.render(lock)
    document = tomllib.loads(text)
    Pylock.from_dict(document)  # raises on anything PEP 751 forbids
    assert document["requires-python"] == "==3.11.*"
    wheel = document["packages"][1]["wheels"][0]
    assert wheel["url"] == "https://index.example/files/req-2.1-py3-none-any.whl"  # no credentials in the lock
    assert "secret" not in text
    assert document["tool"]["airgap-pymigrate"]["environments"] == ["web1:default", "web2:default"]
    (tmp_path / "pylock.default-x.toml").write_text(text)
    again = _lockdir.read(str(tmp_path))["default-x"]
    assert _lockdir.render(again) == text
    assert again.versions() == {"req": "2.1", "idna": "3.7"} and again.installer.version == "24.0"


def test_a_lock_that_is_not_pep751_is_refused_naming_the_file(tmp_path):
    bad = tmp_path / "pylock.bad.toml"
    bad.write_text('lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "a"\n')
    with pytest.raises(PyMigrateError, match="pylock.bad.toml"):
        _lockdir.read(str(tmp_path))
    bad.unlink()  # (invalid on purpose: the session's own check of every lock left behind would refuse it)


def test_same_target_and_wanted_set_holds_and_an_upgrade_of_one_of_its_projects_does_not():
    profile = _profile(["web1:default"], {"req": "req"})
    lock = _lock("default-cp311", profile, [_pin("req", "2.1", ["idna"]), _pin("idna", "3.7")])
    plans = _lockdir.plan([profile], {lock.name: lock})
    assert plans[profile.name].holds is lock and plans[profile.name].name == "default-cp311"
    plans = _lockdir.plan([profile], {lock.name: lock}, upgrade=_lockdir.upgrade_names(["IDNA"]))
    assert plans[profile.name].holds is None
    assert plans[profile.name].prefer == {"req": "2.1", "pip": "24.0"}  # everything but what the upgrade names
    assert plans[profile.name].name == "default-cp311"


def test_a_changed_pin_keeps_the_lock_name_and_prefers_its_versions():
    before = _profile(["web1:default", "web2:default"], {"req": "req"})
    base = _lockdir.label(before)
    lock = _lock(base, before, [_pin("req", "2.1", ["idna"]), _pin("idna", "3.7")])
    after = _profile(["web1:default", "web2:default"], {"req": "req", "extra": "extra"})
    plan = _lockdir.plan([after], {lock.name: lock})[after.name]
    assert plan.holds is None and plan.name == base and plan.replaces is lock
    assert plan.prefer == {"req": "2.1", "idna": "3.7", "pip": "24.0"}  # the installer's version too


def test_a_host_that_leaves_the_group_s_set_gets_a_lock_of_its_own_and_the_rest_keep_the_name():
    before = _profile(["web1:default", "web2:default", "web3:default"], {"req": "req"})
    base = _lockdir.label(before)
    lock = _lock(base, before, [_pin("req", "2.1")])
    group = _profile(["web1:default", "web2:default"], {"req": "req"})
    pinned = _profile(["web3:default"], {"req": "req==2.0"})
    plans = _lockdir.plan([group, pinned], {lock.name: lock})
    assert plans[group.name].holds is lock
    assert plans[pinned.name].name == base + "-2" and plans[pinned.name].prefer == {"req": "2.1", "pip": "24.0"}


def test_a_lock_that_keeps_hosts_outside_the_run_is_not_taken_over():
    before = _profile(["web1:default", "web2:default"], {"req": "req"})
    base = _lockdir.label(before)
    lock = _lock(base, before, [_pin("req", "2.1")])
    changed = _profile(["web1:default"], {"req": "req", "extra": "extra"})
    plan = _lockdir.plan([changed], {lock.name: lock}, keep_hosts=["web2"])[changed.name]
    assert plan.name == base + "-2" and plan.prefer == {"req": "2.1", "pip": "24.0"}


def test_a_new_python_prefers_the_versions_locked_for_the_same_environment():
    old = _profile(["web1:default"], {"req": "req"})
    lock = _lock(_lockdir.label(old), old, [_pin("req", "2.1")])
    new = _profile(["db1:default"], {"req": "req"}, python="3.12")
    plan = _lockdir.plan([new], {lock.name: lock})[new.name]
    assert plan.holds is None and plan.prefer == {"req": "2.1", "pip": "24.0"} and plan.name == _lockdir.label(new)


def test_upgrade_names_all_or_a_list():
    assert _lockdir.upgrade_names("all")("anything")
    assert not _lockdir.upgrade_names(None)("anything")
    assert _lockdir.upgrade_names("Foo_Bar,baz")("foo-bar")
    with pytest.raises(PyMigrateError, match="pymigrate_upgrade"):
        _lockdir.upgrade_names([1])


def test_changes_per_environment():
    profile = _profile(["web1:default"], {"req": "req"})
    old = _lock("a", profile, [_pin("req", "2.1"), _pin("idna", "3.7")])
    new = _lock("a", profile, [_pin("req", "2.2"), _pin("certifi", "1")], members=["web1:default", "web9:default"])
    assert _lockdir.changes({"a": old}, {"a": new}) == {
        "web1:default": {"added": ["certifi==1"], "removed": ["idna==3.7"], "upgraded": ["req 2.1 -> 2.2"],
                         "downgraded": []},
        "web9:default": {"added": ["certifi==1", "req==2.2"], "removed": [], "upgraded": [], "downgraded": []}}


def test_write_touches_only_what_changed_and_removes_locks_no_longer_written(tmp_path):
    valid = 'lock-version = "1.0"\ncreated-by = "tests"\npackages = []\n'
    (tmp_path / "pylock.old.toml").write_text(valid)
    (tmp_path / "README.md").write_text("same\n")
    assert _lockdir.write(str(tmp_path), {"README.md": "same\n", "pylock.new.toml": valid}) == [
        "pylock.new.toml", "pylock.old.toml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "pylock.new.toml"]


def test_locked_pins_give_what_resolution_gave():
    profile = _profile(["web1:default"], {"req": "req"})
    lock = _lock("a", profile, [_pin("req", "2.1", ["idna"]), _pin("idna", "3.7")])
    pins, installer = _lockdir.locked_pins(lock, ["req"])
    by_name = {pin.name: pin for pin in pins}
    assert by_name["idna"].required_by == ("req",) and by_name["req"].required_by == ("<wanted>",)
    assert by_name["req"].file.sha256 == _pin("req", "2.1").file.sha256
    assert by_name["req"].file.upload_time == "2024-05-01T12:00:00.250000Z"
    assert installer.name == "pip"


def test_assemble_keeps_hosts_outside_the_run_and_frozen_refuses_any_change(tmp_path):
    both = _profile(["web1:default", "web2:default"], {"req": "req"})
    lock = _lock(_lockdir.label(both), both, [_pin("req", "2.1")])
    (tmp_path / lock.filename).write_text(_lockdir.render(lock))
    locks = _lockdir.read(str(tmp_path))
    only_web1 = _profile(["web1:default"], {"req": "req"})  # --limit web1: web2 stays as it was
    plans = _lockdir.plan([only_web1], locks, keep_hosts=["web2"])
    outcome = _lockdir.assemble(plans, [only_web1], {}, locks, ["web2"], str(tmp_path))
    assert outcome.held == [lock.name] and outcome.changed_files == ["README.md"] and not outcome.changes
    assert outcome.texts[lock.filename] == _lockdir.render(lock)
    (tmp_path / "README.md").write_text(outcome.texts["README.md"])
    _lockdir.refuse_changes(_lockdir.assemble(plans, [only_web1], {}, locks, ["web2"], str(tmp_path)), str(tmp_path))

    moved = _profile(["web1:default"], {"req": "req>=2.2"})
    plans = _lockdir.plan([moved], locks, keep_hosts=["web2"])
    outcome = _lockdir.assemble(plans, [moved], {moved.name: ([_pin("req", "2.2")], PIP)}, locks, ["web2"],
                                str(tmp_path))
    assert outcome.changes == {"web1:default": {"added": [], "removed": [], "upgraded": ["req 2.1 -> 2.2"],
                                                "downgraded": []}}
    assert outcome.locks[lock.name].members == ("web2:default",)  # kept as it was for the host outside the run
    with pytest.raises(PyMigrateError, match=r"would change .*web1:default: req 2.1 -> 2.2"):
        _lockdir.refuse_changes(outcome, str(tmp_path))


UV = _pin("uv", "0.9.0")


def test_switching_the_installer_changes_the_lock_and_only_its_installer():
    """pymigrate_installer changed in the inventory: a pip lock no longer holds under uv (nor a uv lock under pip);
    the versions are preferred, so only the installer moves. A lock made while uv was asked holds under uv even
    with pip in it (no uv wheel fits its target), and a uv lock written before the installer counted still holds."""
    profile = _profile(["web1:default"], {"req": "req"})
    pins = [_pin("req", "2.1")]
    with_pip = _lock("default-cp311", profile, pins)
    assert _lockdir.plan([profile], {with_pip.name: with_pip})[profile.name].holds is with_pip
    switched = _lockdir.plan([profile], {with_pip.name: with_pip}, installer="uv")[profile.name]
    assert switched.holds is None and switched.name == with_pip.name and switched.replaces is with_pip
    assert switched.prefer == {"req": "2.1", "pip": "24.0"}

    made_under_uv = _lockdir.new_lock(switched.name, profile, pins, UV, profile.members, switched.inputs)
    assert made_under_uv.inputs != with_pip.inputs
    assert _lockdir.plan([profile], {made_under_uv.name: made_under_uv}, installer="uv")[profile.name].holds \
        is made_under_uv
    assert _lockdir.plan([profile], {made_under_uv.name: made_under_uv})[profile.name].holds is None

    no_uv_fits = _lockdir.new_lock(switched.name, profile, pins, PIP, profile.members, switched.inputs)
    assert _lockdir.plan([profile], {no_uv_fits.name: no_uv_fits}, installer="uv")[profile.name].holds is no_uv_fits

    uv_before = _lockdir.new_lock(switched.name, profile, pins, UV, profile.members)  # the digest without installer
    assert _lockdir.plan([profile], {uv_before.name: uv_before}, installer="uv")[profile.name].holds is uv_before
    assert _lockdir.plan([profile], {uv_before.name: uv_before})[profile.name].holds is None
