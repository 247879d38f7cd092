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


def test_a_free_threaded_target_is_cp313t_in_its_tags_profile_name_and_messages():
    from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _profiles, _resolve
    from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import WantedSet
    free = _targets.target_from_declaration({"python": "3.13", "abi": "cp313t"})
    assert free.tags[0] == "cp313-cp313t-manylinux_2_17_x86_64"
    assert not [tag for tag in free.tags if "-abi3-" in tag]  # a free-threaded build cannot load abi3 wheels
    assert "cp313-cp313-manylinux_2_17_x86_64" not in free.tags
    assert _targets.interpreter_label(free) == "cp313t"
    assert _profiles.profile_name(free, WantedSet({"a": "a"})).startswith("cp313t-manylinux_2_17_x86_64-")
    assert _resolve.target_labels(free) == ("cp313t", "glibc 2.17 x86_64")
    gil = _targets.target_from_declaration({"python": "3.13"})
    assert _targets.interpreter_label(gil) == "cp313" and "cp313-abi3-manylinux_2_17_x86_64" in gil.tags


def test_a_declared_pypy_target():
    pypy = _targets.target_from_declaration({"python": "3.10", "implementation": "pypy",
                                             "implementation_version": "7.3.17", "python_full": "3.10.14"})
    assert pypy.tags[:2] == ("pp310-pypy310_pp73-manylinux_2_17_x86_64", "pp310-pypy310_pp73-manylinux2014_x86_64")
    assert "pp310-none-manylinux_2_17_x86_64" in pypy.tags and "pp3-none-any" in pypy.tags
    assert "py3-none-any" in pypy.tags and not [tag for tag in pypy.tags if tag.startswith("cp")]
    assert pypy.markers["implementation_name"] == "pypy"
    assert pypy.markers["platform_python_implementation"] == "PyPy"
    assert pypy.markers["implementation_version"] == "7.3.17" and pypy.markers["python_full_version"] == "3.10.14"
    assert _targets.interpreter_label(pypy) == "pp310"


@pytest.mark.parametrize("decl, var, text", [
    ({"python": "3.12", "implementation": "jython"}, "implementation", "must be cpython or pypy"),
    ({"python": "3.12", "os": "windows"}, "os", "os must be linux"),
    ({"python": "3.12", "abi": "cp312t"}, "abi", "abi must be cp312 for a CPython 3.12 target"),
    ({"python": "3.13", "abi": "cp39"}, "abi", "abi must be cp313 or cp313t"),
    ({"python": "3.12", "implementation_version": "3.12.1"}, "implementation_version", "only for pypy"),
    ({"python": "3.10", "implementation": "pypy", "abi": "cp310"}, "abi", "abi must be pypy310_pp73"),
    ({"python": "3.10", "implementation": "pypy", "implementation_version": "7.3"}, "implementation_version",
     "PyPy release"),
    ({"python": "3.12", "python_full": "3.12-rc"}, "python_full", "must start with python"),
])
def test_each_declaration_key_accepts_only_its_values_and_names_host_variable_and_value(decl, var, text):
    with pytest.raises(PyMigrateError, match=text) as err:
        _targets.target_from_declaration(decl, host="h7")
    assert (err.value.host, err.value.var) == ("h7", "pymigrate_target." + var)
    assert "host h7" in str(err.value) and "variable pymigrate_target.%s" % var in str(err.value)
    assert "value" in str(err.value)
