"""Declared targets: the same tags and markers as a host reports for this machine; bad declarations named."""

import platform

import pytest
from packaging.markers import default_environment

from ansible_collections.airgap.pymigrate.plugins.module_utils._vendor_packaging.tags import sys_tags
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _targets
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError


def test_declared_target_equals_this_machine():
    decl = {"python": "%d.%d" % tuple(map(int, platform.python_version_tuple()[:2])), "arch": platform.machine(),
            "libc": "glibc", "libc_version": platform.libc_ver()[1], "python_full": platform.python_version()}
    tgt = _targets.target_from_declaration(decl)
    # The oracle is the tag code hosts run (target_facts ships it vendored), not the controller's packaging, whose
    # order may change between releases (26.4 moved linux_<arch> first): a declared host must equal a surveyed one.
    assert list(tgt.tags) == [str(t) for t in sys_tags()]
    env = dict(default_environment(), platform_release="", platform_version="")
    assert tgt.markers == env


@pytest.mark.parametrize("decl, text", [({"python": "3"}, "3.12"),
                                        ({"python": "3.12", "arch": "sparc"}, "unknown arch"),
                                        ({"python": "3.12", "libc": "bionic"}, "glibc or musl"),
                                        ({"python": "3.12", "pyhton": "x"}, "unknown key")])
def test_bad_declarations(decl, text):
    with pytest.raises(PyMigrateError, match=text):
        _targets.target_from_declaration(decl, host="h1")


def test_an_unquoted_python_version_is_named():
    """YAML reads python: 3.10 as the number 3.1: say so instead of resolving for Python 3.1."""
    with pytest.raises(PyMigrateError, match=r'quote it.*"3.10"') as err:
        _targets.target_from_declaration({"python": 3.1}, host="h1")
    assert err.value.var == "pymigrate_target.python"


def test_hosts_with_the_same_facts_share_one_target():
    """A fleet's hosts have few distinct tag lists of hundreds of tags: with ``shared`` the bundle holds each once."""
    facts = {"markers": dict(_targets.target_from_declaration({"python": "3.11"}).markers),
             "tags": list(_targets.target_from_declaration({"python": "3.11"}).tags)}
    shared: dict = {}
    first = _targets.target_from_facts(facts, host="h1", shared=shared)
    assert _targets.target_from_facts(dict(facts), host="h2", shared=shared) is first
    assert first == _targets.target_from_facts(facts)  # the same Target as without sharing
    other = _targets.target_from_facts(dict(facts, markers=dict(facts["markers"], platform_release="6.1")),
                                       host="h3", shared=shared)
    assert other is not first and other.tags == first.tags
    declared = _targets.target_from_declaration({"python": "3.12"}, host="h4", shared=shared)
    assert _targets.target_from_declaration({"python": "3.12"}, host="h5", shared=shared) is declared
    assert declared == _targets.target_from_declaration({"python": "3.12"})


def test_shared_targets_still_name_each_host_with_bad_facts():
    shared: dict = {}
    for host in ("h1", "h2"):
        with pytest.raises(PyMigrateError, match="lack 'markers'") as err:
            _targets.target_from_facts({"markers": {"python_version": "3.11"}, "tags_compact": "x"}, host=host,
                                       shared=shared)
        assert err.value.host == host
        with pytest.raises(PyMigrateError, match="unknown arch") as err:
            _targets.target_from_declaration({"python": "3.12", "arch": "sparc"}, host=host, shared=shared)
        assert err.value.host == host
    assert not shared
