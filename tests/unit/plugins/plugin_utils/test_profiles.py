"""Profiles: host environments with equal targets and wanted sets share one resolution."""

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _profiles, _targets, _wanted
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError


def host(name, python="3.11", **requirements):
    variables = {"pymigrate_requirements": requirements or {"alpha": ""}}
    return _profiles.HostInput(name, _wanted.wanted_sets_for_host(name, variables),
                               _targets.target_from_declaration({"python": python}))


def test_profiles_group_equal_targets_and_wanted_sets():
    t39 = _targets.target_from_declaration({"python": "3.9"})
    t312 = _targets.target_from_declaration({"python": "3.12"})
    w1 = _wanted.wanted_sets_for_host("a", {"pymigrate_requirements": {"alpha": ""}})["default"].wanted
    profiles = _profiles.build_profiles([("a", "default", t39, w1), ("b", "default", t39, w1),
                                         ("c", "default", t312, w1)])
    assert [p.members for p in profiles] == [["c:default"], ["a:default", "b:default"]] or \
        [p.members for p in profiles] == [["a:default", "b:default"], ["c:default"]]
    shared = profiles[[len(p.members) for p in profiles].index(2)]
    assert _profiles.build_profiles([("a", "default", t39, w1)])[0].name == shared.name


def test_plan_profiles_groups_equal_targets_and_wanted_sets():
    profiles, members = _profiles.plan_profiles([host("a"), host("b"), host("c", python="3.12")])
    assert sorted(p.members for p in profiles) == [["a:default", "b:default"], ["c:default"]]
    assert sorted(members) == ["a:default", "b:default", "c:default"]
    with pytest.raises(PyMigrateError, match="no host to bundle for"):
        _profiles.plan_profiles([])


def test_two_environments_of_one_host_cannot_be_one_image():
    envs = {"pymigrate_envs": {
        "api": {"path": "/opt/api/venv", "requirements": {"alpha": ""}, "strategy": "image",
                "base_image": "localhost/python:3.11", "image_name": "localhost/siteapp"},
        "web": {"path": "/opt/web/venv", "requirements": {"beta": ""}, "strategy": "image",
                "base_image": "localhost/python:3.11", "image_name": "localhost/siteapp"}}}
    item = _profiles.HostInput("web1", _wanted.wanted_sets_for_host("web1", envs),
                               _targets.target_from_declaration({"python": "3.11"}))
    target = _targets.target_from_declaration({"python": "3.11"})
    with pytest.raises(PyMigrateError, match="environments api and web would both be the image localhost/siteapp"):
        _profiles.plan_profiles([item], image_target=lambda base, python: ("ab" * 32, target))
