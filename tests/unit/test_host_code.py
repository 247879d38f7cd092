"""The line between host and controller code, enforced: every file under plugins/module_utils/ runs on target
hosts (AnsiballZ ships it), so it may import only the standard library and its siblings, and must import
under the oldest Python the collection supports on hosts (3.8)."""

import ast
import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")
SIBLINGS = "ansible_collections.airgap.pymigrate.plugins.module_utils"
# PEP 600: a distribution may provide this module to veto manylinux tags; the vendored tag code imports it
# inside try/except ImportError, exactly as pip does.
OPTIONAL_HOST_MODULES = {"_manylinux"}
OLDEST_HOST_PYTHON = os.path.expanduser("~/.pyenv/versions/3.8.18/bin/python3")


def host_files():
    return sorted(glob.glob(os.path.join(MODULE_UTILS, "**", "*.py"), recursive=True))


def forbidden_imports(path):
    """Imports of ``path`` that are neither standard library nor a sibling in module_utils: [(line, name)]."""
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: a sibling
                continue
            names = [node.module]
        else:
            continue
        for name in names:
            if name == SIBLINGS or name.startswith(SIBLINGS + "."):
                continue
            if name.split(".")[0] in sys.stdlib_module_names or name in OPTIONAL_HOST_MODULES:
                continue
            found.append((node.lineno, name))
    return found


def module_name(path):
    relative = os.path.relpath(path, MODULE_UTILS)[:-3].replace(os.sep, ".")
    return "%s.%s" % (SIBLINGS, relative[: -len(".__init__")] if relative.endswith("__init__") else relative)


@pytest.mark.parametrize("path", host_files(), ids=lambda p: os.path.relpath(p, MODULE_UTILS))
def test_host_files_import_only_the_standard_library_and_siblings(path):
    assert forbidden_imports(path) == []


@pytest.mark.parametrize("line", ["import requests", "from packaging.version import Version",
                                  "import ansible_collections.airgap.pymigrate.plugins.plugin_utils._model",
                                  "from ansible.module_utils.basic import AnsibleModule"])
def test_the_allowlist_refuses_controller_libraries(tmp_path, line):
    bad = tmp_path / "_bad.py"
    bad.write_text("import os\nfrom . import _store\n" + line + "\n")
    assert [name for _line, name in forbidden_imports(str(bad))] == [line.split()[1]]


def test_host_files_import_under_the_oldest_supported_python():
    python = OLDEST_HOST_PYTHON if os.path.exists(OLDEST_HOST_PYTHON) else None
    if python is None:
        pytest.skip("no Python 3.8 at %s (pyenv install 3.8.18)" % OLDEST_HOST_PYTHON)
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    result = subprocess.run([python, "-c", code] + [module_name(p) for p in host_files()],
                            env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections")),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert result.returncode == 0, result.stdout
