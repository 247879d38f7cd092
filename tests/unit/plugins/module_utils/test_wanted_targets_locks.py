"""Inventory layering, declared targets, profiles and lock files."""

import platform
import tomllib

import pytest
from packaging.markers import default_environment
from packaging.tags import sys_tags

from ansible_collections.airgap.pymigrate.plugins.module_utils import _lockfile, _profiles, _targets, _wanted
from ansible_collections.airgap.pymigrate.plugins.module_utils._model import DistFile, Pin, PyMigrateError


def test_host_pin_overrides_group_pin_and_absent_removes():
    envs = _wanted.wanted_sets_for_host("h1", {
        "pymigrate_requirements": {"Requests": ">=2.31", "Foo_Bar": "", "uvicorn[standard]": None},
        "pymigrate_group_requirements": {"requests": "==2.31.0", "alpha": "<2"},
        "pymigrate_host_requirements": {"foo-bar": "absent", "ALPHA": "==1.0"},
    })
    assert envs["default"].wanted.requirements == {"requests": "requests==2.31.0", "uvicorn": "uvicorn[standard]",
                                                   "alpha": "alpha==1.0"}
    assert envs["default"].path == "/opt/pymigrate/venv"


def test_several_environments_layer_the_same_way():
    envs = _wanted.wanted_sets_for_host("h1", {
        "pymigrate_envs": {"api": {"path": "/opt/api", "requirements": {"alpha": ">=1"}},
                           "web": {"path": "/opt/web", "requirements": {"webkit[http]": ""}}},
        "pymigrate_group_envs": {"api": {"requirements": {"alpha": "==1.1"}}},
        "pymigrate_host_envs": {"api": {"requirements": {"alpha": "==1.0"}, "smoke_imports": ["alpha"]}},
    })
    assert envs["api"].wanted.requirements == {"alpha": "alpha==1.0"} and envs["api"].smoke_imports == ("alpha",)
    assert envs["web"].wanted.requirements == {"webkit": "webkit[http]"}


@pytest.mark.parametrize("hostvars, var, text", [
    ({"pymigrate_requirements": {"x": 1.2}}, "pymigrate_requirements.x", 'Quote it, e.g. "==1.2"'),
    ({"pymigrate_requirements": {"x": "=>2"}}, "pymigrate_requirements.x", 'Did you mean ">=2"'),
    ({"pymigrate_group_requirements": {"x": ">=2..1"}}, "pymigrate_group_requirements.x", "malformed"),
    ({"pymigrate_requirements": ["x"]}, "pymigrate_requirements", "must be a dict"),
    ({"pymigrate_requirements": {"x y": ""}}, "pymigrate_requirements", "not a valid project name"),
    ({"pymigrate_requirements": {"x": '>1; python_version < "3"'}}, "pymigrate_requirements.x", "markers"),
    ({"pymigrate_envs": {"a": {"path": "rel"}}}, "pymigrate_envs.a.path", "absolute"),
    ({"pymigrate_envs": {"a": {"path": "/x", "pth": 1}}}, "pymigrate_envs.a", "Allowed keys"),
    ({"pymigrate_venv_path": "venv"}, "pymigrate_venv_path", "absolute"),
])
def test_bad_input_names_host_variable_and_value(hostvars, var, text):
    with pytest.raises(PyMigrateError) as err:
        _wanted.wanted_sets_for_host("web7", hostvars)
    message = str(err.value)
    assert "host web7" in message and "variable %s" % var in message and text in message and "value" in message


def test_declared_target_equals_this_machine():
    decl = {"python": "%d.%d" % tuple(map(int, platform.python_version_tuple()[:2])), "arch": platform.machine(),
            "libc": "glibc", "libc_version": platform.libc_ver()[1], "python_full": platform.python_version()}
    tgt = _targets.target_from_declaration(decl)
    assert list(tgt.tags) == [str(t) for t in sys_tags()]
    env = dict(default_environment(), platform_release="", platform_version="")
    assert tgt.markers == env


@pytest.mark.parametrize("decl, text", [({"python": "3"}, "3.12"), ({"python": "3.12", "arch": "sparc"}, "unknown arch"),
                                        ({"python": "3.12", "libc": "bionic"}, "glibc or musl"),
                                        ({"python": "3.12", "pyhton": "x"}, "unknown key")])
def test_bad_declarations(decl, text):
    with pytest.raises(PyMigrateError, match=text):
        _targets.target_from_declaration(decl, host="h1")


def _pin(name, version, sha="ab" * 32):
    dist = DistFile(project=name, version=version, filename="%s-%s-py3-none-any.whl" % (name, version),
                    url="http://x/%s" % name, sha256=sha, size=10, upload_time="2024-01-01T00:00:00Z")
    return Pin(name=name, version=version, file=dist, dependencies=("idna",) if name == "req" else ())


def test_profiles_group_equal_targets_and_wanted_sets():
    t39 = _targets.target_from_declaration({"python": "3.9"})
    t312 = _targets.target_from_declaration({"python": "3.12"})
    w1 = _wanted.wanted_sets_for_host("a", {"pymigrate_requirements": {"alpha": ""}})["default"].wanted
    profiles = _profiles.build_profiles([("a", "default", t39, w1), ("b", "default", t39, w1), ("c", "default", t312, w1)])
    assert [p.members for p in profiles] == [["c:default"], ["a:default", "b:default"]] or \
        [p.members for p in profiles] == [["a:default", "b:default"], ["c:default"]]
    assert _profiles.build_profiles([("a", "default", t39, w1)])[0].name == profiles[[len(p.members) for p in profiles].index(2)].name


def test_pylock_is_valid_pep751_toml_and_requirements_are_hashed():
    profile = _profiles.build_profiles([("a", "default", _targets.target_from_declaration({"python": "3.9"}),
                                         _wanted.wanted_sets_for_host("a", {})["default"].wanted)])[0]
    pins = [_pin("req", "2.0"), _pin("idna", "3.0", "cd" * 32)]
    lock = tomllib.loads(_lockfile.render_pylock(profile, pins))
    assert lock["lock-version"] == "1.0" and lock["created-by"] == "airgap.pymigrate"
    assert [p["name"] for p in lock["packages"]] == ["idna", "req"]
    wheel = lock["packages"][1]["wheels"][0]
    assert wheel["path"] == "files/sha256/ab/%s/req-2.0-py3-none-any.whl" % ("ab" * 32)
    assert wheel["hashes"] == {"sha256": "ab" * 32} and wheel["size"] == 10
    assert lock["packages"][1]["dependencies"] == [{"name": "idna"}]
    text = _lockfile.render_requirements(profile, pins)
    assert "req==2.0 \\\n    --hash=sha256:%s" % ("ab" * 32) in text


def test_diff_pins():
    assert _lockfile.diff_pins({"a": "1.0", "b": "2.0", "c": "1.0"}, {"a": "1.1", "b": "1.9", "d": "1"}) == {
        "added": ["d==1"], "removed": ["c==1.0"], "upgraded": ["a 1.0 -> 1.1"], "downgraded": ["b 2.0 -> 1.9"]}
