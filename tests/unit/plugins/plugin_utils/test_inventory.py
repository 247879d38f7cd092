"""The inventory as the bundle reads it: which hosts, which target each gets (declared, survey file, surveyed facts),
their wanted sets, the hosts kept and skipped, and the builders (a group, a list or a map) with errors that name the
host, the variable and the value."""

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _inventory, _targets
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

REQUIREMENTS = {"pymigrate_requirements": {"alpha": ""}}


def facts_of(python, executable=None):
    target = _targets.target_from_declaration({"python": python})
    facts = {"markers": dict(target.markers), "tags": list(target.tags)}
    if executable:
        facts["python"] = {"executable": executable}
    return facts


def surveyed(python, executable=None):
    """A host's variables after the survey task registered its facts in this run."""
    return dict(REQUIREMENTS, __pymigrate_target_facts={"target_facts": facts_of(python, executable)})


def inputs(hostvars, survey=None, groups=None, **kwargs):
    return _inventory.bundle_inputs(hostvars, groups or {"all": sorted(hostvars)}, survey or {}, **kwargs)


def test_each_host_gets_its_declared_target_its_survey_entry_or_its_surveyed_facts():
    hostvars = {"declared": dict(REQUIREMENTS, pymigrate_target={"python": "3.12"}),
                "inside": dict(REQUIREMENTS),
                "live": surveyed("3.9"),
                "down": dict(REQUIREMENTS)}  # unreachable during the survey: no facts
    result = inputs(hostvars, survey={"inside": facts_of("3.10")})
    targets = {item.host: item.target for item in result.hosts}
    assert sorted(targets) == ["declared", "inside", "live"]
    assert targets["declared"].source == "declared" and targets["declared"].markers["python_version"] == "3.12"
    assert targets["inside"].source == "facts" and targets["inside"].markers["python_version"] == "3.10"
    assert targets["live"].source == "facts" and targets["live"].markers["python_version"] == "3.9"
    assert all(list(item.envs) == ["default"] for item in result.hosts)
    assert result.hosts[0].envs["default"].wanted.requirements == {"alpha": "alpha"}
    # Not named: neither skipped nor bundled, it keeps its entry of the previous bundle.
    assert list(result.skipped) == [] and list(result.kept) == ["down"]


def test_a_declaration_wins_over_the_survey_file_which_wins_over_the_facts_of_this_run():
    hostvars = {"h": dict(surveyed("3.9"), pymigrate_target={"python": "3.12"}), "g": surveyed("3.9")}
    result = inputs(hostvars, survey={"h": facts_of("3.10"), "g": facts_of("3.10")})
    versions = {item.host: item.target.markers["python_version"] for item in result.hosts}
    assert versions == {"h": "3.12", "g": "3.10"}


def test_a_named_host_without_a_target_is_skipped_and_kept_with_the_hosts_outside_the_run():
    hostvars = {"web1": surveyed("3.11"), "down": dict(REQUIREMENTS), "other": surveyed("3.11")}
    result = inputs(hostvars, names=["web1", "down"])
    assert [item.host for item in result.hosts] == ["web1"]
    assert list(result.skipped) == ["down"] and list(result.kept) == ["down", "other"]


def test_a_named_host_outside_the_inventory_is_an_error():
    with pytest.raises(PyMigrateError, match="host is not in the inventory") as err:
        inputs({"web1": surveyed("3.11")}, names=["ghost"])
    assert (err.value.host, err.value.var) == ("ghost", "hosts")


def test_wanted_set_errors_name_the_host_and_the_variable():
    with pytest.raises(PyMigrateError) as err:
        inputs({"h": {"pymigrate_target": {"python": "3.11"}, "pymigrate_requirements": {"alpha": "=>1"}}})
    assert err.value.host == "h" and err.value.var == "pymigrate_requirements.alpha"


def test_constraints_apply_to_every_environment_with_its_own():
    hostvars = {"h": dict(surveyed("3.11"), pymigrate_constraints={"beta": "<2"})}
    (item,) = inputs(hostvars, constraints={"beta": ">=1", "gamma": "==3"}).hosts
    assert item.envs["default"].wanted.constraints == {"beta": "<2,>=1", "gamma": "==3"}


def test_hosts_with_the_same_facts_share_one_target():
    hostvars = {"web%d" % n: surveyed("3.11") for n in range(3)}
    hostvars["web9"] = surveyed("3.12")
    targets = {item.host: item.target for item in inputs(hostvars).hosts}
    assert targets["web0"] is targets["web1"] is targets["web2"] and targets["web9"] is not targets["web0"]


@pytest.mark.parametrize("builders, groups", [
    ("builders", {"builders": ["b1"]}),
    (["b1"], {}),
])
def test_builders_as_a_group_or_a_list_serve_any_profile(builders, groups):
    hostvars = {"web1": surveyed("3.11"), "b1": surveyed("3.11", "/usr/bin/python3.11")}
    result = inputs(hostvars, groups=dict(groups, all=sorted(hostvars)), names=["web1"], builders=builders)
    (builder,) = result.builders
    assert (builder.host, builder.python, builder.profile) == ("b1", "/usr/bin/python3.11", None)
    assert builder.target.key() == result.hosts[0].target.key()


def test_builders_as_a_map_name_the_profile_and_may_come_from_the_survey_file():
    hostvars = {"web1": surveyed("3.11"), "b1": {}}
    result = inputs(hostvars, survey={"b1": facts_of("3.12", "/opt/py312/bin/python")}, names=["web1"],
                    builders={"cp312-profile": "b1"})
    (builder,) = result.builders
    assert (builder.host, builder.python, builder.profile) == ("b1", "/opt/py312/bin/python", "cp312-profile")
    assert builder.target.markers["python_version"] == "3.12"


@pytest.mark.parametrize("builders, text, host", [
    ("nosuch", "no inventory group of that name", None),
    (["b1", 3], "must be an inventory group, a list of hosts or a map of profile to host", None),
    ({"p": ["b1"]}, "must be an inventory group, a list of hosts or a map of profile to host", None),
    (["ghost"], "builder host is not in the inventory", "ghost"),
    (["b1"], "builder host has no target facts in this run", "b1"),
])
def test_builder_errors_name_the_host_the_variable_and_the_value(builders, text, host):
    hostvars = {"web1": surveyed("3.11"), "b1": {"pymigrate_target": {"python": "3.11"}}}  # declared: no interpreter
    with pytest.raises(PyMigrateError, match=text) as err:
        inputs(hostvars, names=["web1"], builders=builders)
    assert (err.value.host, err.value.var, err.value.value) == (host, "pymigrate_builders", builders)


def test_dropped_group_sets_are_warned_about_and_conflicts_name_the_groups():
    groups = {"all": ["h1", "h2"], "web": ["h1", "h2"], "data": ["h1"]}
    group_vars = {"web": {"pymigrate_group_requirements": {"flask": ""},
                          "pymigrate_group_requirements_web": {"numpy": "==1.26.4"}},
                  "data": {"pymigrate_group_requirements": {"numpy": ""},
                           "pymigrate_group_requirements_data": {"pandas": ""}}}
    h1 = dict(surveyed("3.11"), pymigrate_group_requirements={"numpy": ""},
              pymigrate_group_requirements_web={"numpy": "==1.26.4"}, pymigrate_group_requirements_data={"pandas": ""})
    h2 = dict(surveyed("3.11"), pymigrate_group_requirements={"flask": ""},
              pymigrate_group_requirements_web={"numpy": "==1.26.4"})
    result = inputs({"h1": h1, "h2": h2}, groups=groups, group_vars=group_vars)
    wanted = {item.host: item.envs["default"].wanted.requirements for item in result.hosts}
    assert wanted == {"h1": {"alpha": "alpha", "numpy": "numpy==1.26.4", "pandas": "pandas"},
                      "h2": {"alpha": "alpha", "flask": "flask", "numpy": "numpy==1.26.4"}}
    assert result.warnings == [
        "pymigrate_group_requirements is set by the groups data and web of 1 host(s) (h1): Ansible keeps one value "
        "(group data's) and drops the set of group web; give each group a set of its own, "
        "pymigrate_group_requirements_<group>, and they combine (docs/inventory.md)"]
    h1["pymigrate_group_requirements_data"] = {"numpy": ">=2"}
    group_vars["data"]["pymigrate_group_requirements_data"] = {"numpy": ">=2"}
    with pytest.raises(PyMigrateError) as err:
        inputs({"h1": h1, "h2": h2}, groups=groups, group_vars=group_vars)
    assert err.value.host == "h1" and str(err.value).startswith(
        "group data and group web give numpy different pins: numpy>=2 (pymigrate_group_requirements_data) and "
        "numpy==1.26.4 (pymigrate_group_requirements_web)"), str(err.value)


def test_requirements_that_reach_no_environment_of_a_host_with_environments_are_warned_about():
    """The example inventory's data hosts named only a second environment: the baseline of pymigrate_requirements
    and their group's set reached none of their environments, and nothing said so."""
    envs = {"reports": {"path": "/opt/reports/venv", "requirements": {"jinja2": ""}}}
    hostvars = {"etl1": dict(surveyed("3.11"), pymigrate_group_requirements_data={"numpy": ""}, pymigrate_envs=envs),
                "etl2": dict(surveyed("3.11"), pymigrate_group_requirements_data={"numpy": ""}, pymigrate_envs=envs),
                "web1": surveyed("3.11")}
    result = inputs(hostvars)
    assert result.warnings == [
        "pymigrate_group_requirements_data and pymigrate_requirements set for 2 host(s) with environments (etl1, "
        "etl2): an environment's requirements are its own (pymigrate_envs.<name>.requirements), so these reach none "
        "of them; name them in the environment that should get them (docs/inventory.md)"]
    assert {item.host: sorted(item.envs) for item in result.hosts} == {"etl1": ["reports"], "etl2": ["reports"],
                                                                       "web1": ["default"]}


def test_an_environment_on_its_own_interpreter_is_resolved_for_it():
    """Issue 26: pymigrate_host_envs tools with python 3.13 on a 3.11 host was resolved for 3.11."""
    from ansible_collections.airgap.pymigrate.plugins.plugin_utils._profiles import plan_profiles
    envs = {"pymigrate_host_envs": {
        "api": {"path": "/opt/api/venv", "requirements": {"alpha": ""}},
        "tools": {"path": "/opt/tools/venv", "python": "/usr/bin/python3.13", "requirements": {"alpha": ""}}}}
    facts = dict(facts_of("3.11"), interpreters={"/usr/bin/python3.13": facts_of("3.13")})
    hostvars = {"h": dict(envs, __pymigrate_target_facts={"target_facts": facts})}
    (item,) = inputs(hostvars).hosts
    assert item.target.markers["python_version"] == "3.11" and list(item.env_targets) == ["tools"]
    assert item.env_targets["tools"].markers["python_version"] == "3.13"
    profiles, _members = plan_profiles([item])
    assert sorted(p.target.markers["python_version"] for p in profiles) == ["3.11", "3.13"]
    # From the survey file as well; a declared target stands for every interpreter of the host.
    assert inputs({"h": dict(envs)}, survey={"h": facts}).hosts[0].env_targets["tools"].markers[
        "python_version"] == "3.13"
    assert inputs({"h": dict(envs, pymigrate_target={"python": "3.12"})}).hosts[0].env_targets == {}


def test_an_environment_interpreter_the_survey_did_not_see_fails_naming_host_environment_and_path():
    hostvars = {"h": dict(surveyed("3.11"), pymigrate_host_envs={
        "tools": {"path": "/opt/tools/venv", "python": "/usr/bin/python3.13", "requirements": {"alpha": ""}}})}
    with pytest.raises(PyMigrateError) as err:
        inputs(hostvars)
    assert str(err.value).startswith("environment tools: its interpreter /usr/bin/python3.13 was not surveyed")
    assert (err.value.host, err.value.var) == ("h", "pymigrate_envs.tools.python")
