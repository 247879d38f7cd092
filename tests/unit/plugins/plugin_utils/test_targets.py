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


@pytest.mark.parametrize("decl, text", [({"python": "3"}, "3.12"), ({"python": "3.12", "arch": "sparc"}, "unknown arch"),
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
