"""Inventory layering all -> group -> host into wanted sets, and bad input named by host, variable and value."""

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _wanted
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError


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
    ({"pymigrate_requirements": 42}, "pymigrate_requirements", "must be a dict"),  # a list is fine since issue 12
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


# -- bad input refused before anything moves (issue 10)

@pytest.mark.parametrize("hostvars, var, text", [
    ({"pymigrate_requirements": {"alpha": ""}, "pymigrate_smoke_imports": ["os; open('/tmp/pwned', 'w')"]},
     "pymigrate_smoke_imports", "dotted module names"),
    ({"pymigrate_envs": {"a": {"path": "/opt/a", "requirements": {"alpha": ""},
                               "smoke_imports": ["__import__('os')"]}}},
     "pymigrate_envs.a.smoke_imports", "dotted module names"),
    ({"pymigrate_requirements": {}}, "pymigrate_requirements", "would empty the environment"),
    ({}, "pymigrate_requirements", "would empty the environment"),
    ({"pymigrate_envs": {"a": {"path": "/opt/a"}}}, "pymigrate_envs.a.requirements", "would empty the environment"),
    ({"pymigrate_requirements": {"alpha": ""}, "pymigrate_venv_path": "/"}, "pymigrate_venv_path", "system directory"),
    ({"pymigrate_requirements": {"alpha": ""}, "pymigrate_venv_path": "/usr"}, "pymigrate_venv_path",
     "system directory"),
    ({"pymigrate_requirements": {"alpha": ""}, "pymigrate_venv_path": "/opt/../usr/x"}, "pymigrate_venv_path",
     "normalised"),
    ({"pymigrate_envs": {"a": {"path": "/etc/app", "requirements": {"alpha": ""}}}}, "pymigrate_envs.a.path",
     "system directory"),
    # Issue 27: paths the host refuses (a parent every user may write) were refused only there, after the shared
    # bundle was rewritten to name them; the control node refuses them while it reads the inventory.
    ({"pymigrate_requirements": {"alpha": ""}, "pymigrate_venv_path": "/tmp/venv"}, "pymigrate_venv_path",
     "lies directly in /tmp, which every user may write"),
    ({"pymigrate_envs": {"a": {"path": "/var/tmp/a", "requirements": {"alpha": ""}}}}, "pymigrate_envs.a.path",
     "lies directly in /var/tmp"),
    ({"pymigrate_requirements": {"alpha": ""}, "pymigrate_venv_path": "/opt/a\nb"}, "pymigrate_venv_path",
     "control character"),
    ({"pymigrate_envs": {"a": {"path": "/opt/a", "requirements": {"alpha": ""}},
                         "b": {"path": "/opt/a/b", "requirements": {"alpha": ""}}}}, "pymigrate_envs",
     "one environment lies inside another (/opt/a/b inside /opt/a)"),
])
def test_unsafe_or_empty_input_is_refused_naming_host_and_variable(hostvars, var, text):
    with pytest.raises(PyMigrateError) as err:
        _wanted.wanted_sets_for_host("web7", hostvars)
    message = str(err.value)
    assert "host web7" in message and "variable %s" % var in message and text in message


def test_an_empty_environment_only_when_asked_for():
    envs = _wanted.wanted_sets_for_host("web7", {"pymigrate_requirements": {}, "pymigrate_allow_empty": True})
    assert envs["default"].wanted.requirements == {}
    envs = _wanted.wanted_sets_for_host("web7", {"pymigrate_requirements": {"alpha": ""},
                                                 "pymigrate_smoke_imports": ["alpha", "alpha.sub_mod"]})
    assert envs["default"].smoke_imports == ("alpha", "alpha.sub_mod")


@pytest.mark.parametrize("value", [
    ["requests", "pyyaml>=6", "Uvicorn[standard]==0.30"],
    '["requests", "pyyaml>=6", "Uvicorn[standard]==0.30"]',
    '{"requests": "", "pyyaml": ">=6", "Uvicorn[standard]": "==0.30"}',
    "requests\n  pyyaml>=6   # the YAML parser\n\n# the server\nUvicorn[standard]==0.30\n",
])
def test_requirements_as_a_list_json_or_lines(value):
    """What an AWX survey or a hand-written list sends means the same as the dict form."""
    envs = _wanted.wanted_sets_for_host("h1", {"pymigrate_requirements": value,
                                               "pymigrate_host_requirements": ["pyyaml==6.0.2"]})
    assert envs["default"].wanted.requirements == {"requests": "requests", "pyyaml": "pyyaml==6.0.2",
                                                   "uvicorn": "uvicorn[standard]==0.30"}


@pytest.mark.parametrize("value, text", [
    (["requests>=2 ; python_version < '3.9'"], "markers and URLs are not allowed"),
    (["requests>="], "not a valid requirement"),
    ([42], "must be strings"),
    ('["requests", ', "is not valid JSON"),
    (42, "a list of requirements"),
])
def test_bad_requirement_lists_name_host_variable_and_value(value, text):
    with pytest.raises(PyMigrateError) as err:
        _wanted.wanted_sets_for_host("web7", {"pymigrate_requirements": value})
    assert text in str(err.value) and err.value.host == "web7" and err.value.var == "pymigrate_requirements"


def test_requirements_files_layer_all_group_host_and_inline_entries_win_at_their_level(tmp_path):
    (tmp_path / "all.txt").write_text("# the fleet's base\nrequests>=2.31\nalpha<2  # capped\n-r more.txt\n")
    (tmp_path / "more.txt").write_text('tomli; python_version < "3.11"\n')
    (tmp_path / "group.txt").write_text("requests==2.31.0 --hash=sha256:%s\n" % ("ab" * 32))
    (tmp_path / "constraints.txt").write_text("idna<4\nalpha>=1\n")
    envs = _wanted.wanted_sets_for_host("h1", {
        "pymigrate_requirements_file": str(tmp_path / "all.txt"),
        "pymigrate_group_requirements_file": str(tmp_path / "group.txt"),
        "pymigrate_host_requirements": {"alpha": "==1.0"},
        "pymigrate_constraints_file": str(tmp_path / "constraints.txt"),
        "pymigrate_constraints": {"idna": "<3.5"},
    })
    wanted = envs["default"].wanted
    assert wanted.requirements == {"requests": "requests==2.31.0", "alpha": "alpha==1.0",
                                   "tomli": 'tomli; python_version < "3.11"'}  # the marker is the target's to judge
    assert wanted.constraints == {"idna": "<3.5", "alpha": ">=1"}  # the inline constraint wins for idna
    assert wanted.hashes == {"requests": ("ab" * 32,)}


def test_an_environment_takes_a_requirements_file_too(tmp_path):
    (tmp_path / "api.txt").write_text("alpha>=1\nnetio\n")
    envs = _wanted.wanted_sets_for_host("h1", {
        "pymigrate_envs": {"api": {"path": "/opt/api", "requirements_file": str(tmp_path / "api.txt")}},
        "pymigrate_host_envs": {"api": {"requirements": {"alpha": "==1.1"}}}})
    assert envs["api"].wanted.requirements == {"alpha": "alpha==1.1", "netio": "netio"}


@pytest.mark.parametrize("hostvars, var, text", [
    ({"pymigrate_requirements_file": "/nonexistent/req.txt"}, "pymigrate_requirements_file", "/nonexistent/req.txt"),
    ({"pymigrate_requirements_file": 3}, "pymigrate_requirements_file", "must be the path"),
    ({"pymigrate_host_requirements_file": "FILE:-e ./local\n"}, "pymigrate_host_requirements_file", "editable"),
    ({"pymigrate_constraints_file": 'FILE:alpha<2; python_version < "3.9"\n'}, "pymigrate_constraints_file",
     "marker"),
])
def test_requirements_file_errors_name_host_variable_and_value(tmp_path, hostvars, var, text):
    for key, value in list(hostvars.items()):
        if isinstance(value, str) and value.startswith("FILE:"):
            (tmp_path / "f.txt").write_text(value[len("FILE:"):])
            hostvars[key] = str(tmp_path / "f.txt")
    with pytest.raises(PyMigrateError) as err:
        _wanted.wanted_sets_for_host("h7", dict(hostvars, pymigrate_requirements={"alpha": ""}))
    assert err.value.host == "h7" and err.value.var == var, (err.value.host, err.value.var)
    assert text in str(err.value)


def test_the_sets_of_several_groups_combine():
    """Issue 26: a host in web and data gets both groups' sets, not the one Ansible's precedence keeps."""
    envs = _wanted.wanted_sets_for_host("h1", {
        "pymigrate_requirements": {"requests": ">=2.31", "tomli": ""},
        "pymigrate_group_requirements": {"alpha": "==1.1"},
        "pymigrate_group_requirements_web": {"uvicorn[standard]": ">=0.30", "requests": "==2.31.0"},
        "pymigrate_group_requirements_data": {"numpy": "", "pandas": "", "uvicorn": ">=0.30", "tomli": "absent"},
        "pymigrate_host_requirements": {"pandas": "==2.2.0"},
    })
    assert envs["default"].wanted.requirements == {
        "requests": "requests==2.31.0", "alpha": "alpha==1.1", "uvicorn": "uvicorn[standard]>=0.30",
        "numpy": "numpy", "pandas": "pandas==2.2.0"}
    assert _wanted.group_sets({"pymigrate_group_requirements_b": {}, "pymigrate_group_requirements_file": "/r.txt",
                               "pymigrate_group_requirements_a_file": "/a.txt", "pymigrate_group_requirementsx": {},
                               "pymigrate_group_requirements_c": None}, "pymigrate_group_requirements") == [
        "pymigrate_group_requirements", "pymigrate_group_requirements_a", "pymigrate_group_requirements_b"]


def test_a_group_set_may_name_an_any_version_the_other_pins_and_files_combine_too(tmp_path):
    (tmp_path / "web.txt").write_text("alpha>=1\n")
    envs = _wanted.wanted_sets_for_host("h1", {
        "pymigrate_group_requirements_web_file": str(tmp_path / "web.txt"),
        "pymigrate_group_requirements_data": {"alpha": "", "numpy": ""}})
    assert envs["default"].wanted.requirements == {"alpha": "alpha>=1", "numpy": "numpy"}


@pytest.mark.parametrize("data, text", [
    ({"numpy": ">=2"}, "pymigrate_group_requirements_data and pymigrate_group_requirements_web give numpy different "
                       "pins: numpy>=2 (pymigrate_group_requirements_data) and numpy==1.26.4 "
                       "(pymigrate_group_requirements_web)"),
    ({"numpy": "absent"}, "numpy different pins: absent (pymigrate_group_requirements_data) and numpy==1.26.4 "
                          "(pymigrate_group_requirements_web)"),
])
def test_two_groups_pinning_one_project_differently_fail_naming_both_groups(data, text):
    hostvars = {"pymigrate_group_requirements_web": {"numpy": "==1.26.4"},
                "pymigrate_group_requirements_data": data}
    with pytest.raises(PyMigrateError) as err:
        _wanted.wanted_sets_for_host("h1", hostvars)
    assert text in str(err.value) and err.value.host == "h1"
    origins = {"pymigrate_group_requirements_web": ["web"], "pymigrate_group_requirements_data": ["data"]}
    with pytest.raises(PyMigrateError) as err:
        _wanted.wanted_sets_for_host("h1", hostvars, origins)
    assert str(err.value).startswith("group data and group web give numpy different pins"), str(err.value)


def test_environment_sets_of_several_groups_combine_and_conflicts_name_both():
    hostvars = {"pymigrate_envs": {"api": {"path": "/opt/api/venv", "requirements": {"alpha": ""}}},
                "pymigrate_group_envs_web": {"api": {"requirements": {"webkit": ""}, "smoke_imports": ["webkit"]}},
                "pymigrate_group_envs_data": {"api": {"requirements": {"numpy": ""}},
                                              "etl": {"path": "/opt/etl/venv", "requirements": {"pandas": ""}}},
                "pymigrate_host_envs": {"api": {"requirements": {"alpha": "==1.0"}}}}
    envs = _wanted.wanted_sets_for_host("h1", hostvars)
    assert envs["api"].wanted.requirements == {"alpha": "alpha==1.0", "webkit": "webkit", "numpy": "numpy"}
    assert envs["api"].smoke_imports == ("webkit",) and envs["etl"].wanted.requirements == {"pandas": "pandas"}
    hostvars["pymigrate_group_envs_data"]["api"]["path"] = "/opt/other/venv"
    hostvars["pymigrate_group_envs_web"]["api"]["path"] = "/opt/api2/venv"
    with pytest.raises(PyMigrateError, match="^pymigrate_group_envs_data and group web give environment api "
                                             "different path: '/opt/other/venv' "
                                             r"\(pymigrate_group_envs_data.api.path\) and '/opt/api2/venv'"):
        _wanted.wanted_sets_for_host("h1", hostvars, {"pymigrate_group_envs_web": ["web"]})


def test_group_origins_find_the_sets_ansible_precedence_drops():
    group_vars = {"all": {}, "web": {"pymigrate_group_requirements": {"flask": ""}, "pymigrate_serial": 1},
                  "data": {"pymigrate_group_requirements": {"numpy": ""}},
                  "site": {"pymigrate_group_requirements_site": {"alpha": ""}}}
    hostvars = {"pymigrate_group_requirements": {"numpy": ""}, "pymigrate_group_requirements_site": {"alpha": ""}}
    origins, dropped = _wanted.group_origins(["all", "web", "data", "site"], group_vars, hostvars)
    assert origins == {"pymigrate_group_requirements": ["data"], "pymigrate_group_requirements_site": ["site"]}
    assert dropped == [("pymigrate_group_requirements", ["data", "web"], ["data"])]
    # A host or extra var replaced every group's value: explicit, nothing silently dropped.
    assert _wanted.group_origins(["web", "data"], group_vars, {"pymigrate_group_requirements": {"x": ""}}) == ({}, [])
    (line,) = _wanted.dropped_warnings({("pymigrate_group_requirements", ("data", "web"), ("data",)): ["h2", "h1"]})
    assert line.startswith("pymigrate_group_requirements is set by the groups data and web of 2 host(s) (h1, h2): "
                           "Ansible keeps one value (group data's) and drops the set of group web")
    assert "pymigrate_group_requirements_<group>" in line


def test_an_environment_marked_absent_is_set_apart_with_its_path():
    present, absent = _wanted.host_environments("h1", {
        "pymigrate_envs": {"api": {"path": "/opt/api/venv", "requirements": {"alpha": ""}},
                           "tools": {"path": "/opt/tools/venv", "python": "/usr/bin/python3.13",
                                     "requirements": {"alpha": ""}}},
        "pymigrate_host_envs": {"tools": {"state": "absent"}, "old": {"path": "/opt/old/venv", "state": "absent"}}})
    assert list(present) == ["api"] and absent == {"old": "/opt/old/venv", "tools": "/opt/tools/venv"}
    assert _wanted.env_interpreters("h1", {"pymigrate_envs": {"tools": {"path": "/opt/t/venv", "python": "/p",
                                                                        "state": "absent"}}}) == {}


@pytest.mark.parametrize("envs, var, text", [
    ({"a": {"path": "/opt/a/venv", "state": "gone"}}, "pymigrate_host_envs.a.state", "present or absent"),
    ({"a": {"state": "absent"}}, "pymigrate_envs.a.path", "absolute path"),
    ({"a": {"path": "/opt/a/venv", "state": "absent", "strategy": "image"}}, "pymigrate_host_envs.a.strategy",
     "state absent removes an environment built on the host"),
    ({"a": {"path": "/opt/a/venv", "requirements": {"x": ""}}, "b": {"path": "/opt/a/venv", "state": "absent"}},
     "pymigrate_envs", "two environments share one path"),
])
def test_a_bad_removal_names_host_variable_and_value(envs, var, text):
    with pytest.raises(PyMigrateError) as err:
        _wanted.host_environments("web7", {"pymigrate_host_envs": envs})
    assert text in str(err.value) and (err.value.host, err.value.var) == ("web7", var), str(err.value)


@pytest.mark.parametrize("var, value", [
    ("pymigrate_requirements", ["alpha==1.0", "beta", "Alpha==1.1"]),
    ("pymigrate_requirements", "alpha==1.0\nbeta  # a comment\nalpha>=1.1\n"),
    ("pymigrate_host_requirements", ["alpha==1.0", "alpha==1.1"]),
])
def test_a_project_twice_in_a_list_or_text_is_refused_naming_both_lines(var, value):
    # Issue 27: the last line won silently; pip refuses such a double requirement.
    hostvars = {"pymigrate_requirements": {"beta": ""}, var: value}
    with pytest.raises(PyMigrateError) as err:
        _wanted.wanted_sets_for_host("web7", hostvars)
    message = str(err.value)
    assert "host web7" in message and "variable %s" % var in message and "lists alpha twice" in message
    assert "'alpha==1.0'" in message and ("'Alpha==1.1'" in message or "'alpha>=1.1'" in message
                                          or "'alpha==1.1'" in message)


def test_the_same_line_twice_counts_once():
    envs = _wanted.wanted_sets_for_host("web7", {"pymigrate_requirements": ["alpha==1.0", "beta", "alpha==1.0"]})
    assert envs["default"].wanted.requirements == {"alpha": "alpha==1.0", "beta": "beta"}
