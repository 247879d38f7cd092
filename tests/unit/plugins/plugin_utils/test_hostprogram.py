"""The program that runs a module_utils function on a host's Python from its standard input (_hostprogram on the
control node, module_utils/_host_runner on the host): run here by real interpreters, in isolated mode, as a host
runs it - nothing of the collection importable but what the program carries."""

import glob
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.airgap.pymigrate.plugins.module_utils import _target_facts
from ansible_collections.airgap.pymigrate.plugins.module_utils._target_facts import ARGUMENT_SPEC
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _hostprogram
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

SURVEY = (_target_facts.__name__, "survey")
# Another interpreter than this one (the oldest the hosts may run, when this machine has it).
OTHER = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.8*/bin/python3.8")) + ["/usr/bin/python3"])[0]


def run_program(program, env=None, python=sys.executable):
    done = subprocess.run([python, "-I", "-"], input=program, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, check=False)
    return _hostprogram.parse_result({"rc": done.returncode, "stdout": done.stdout.decode(),
                                      "stderr": done.stderr.decode()}, python, "target_facts")


def survey_program(args, check_mode=False):
    params, paths = _hostprogram.host_params(ARGUMENT_SPEC, args)
    return _hostprogram.program(SURVEY[0], SURVEY[1], params, paths, check_mode)


@pytest.mark.parametrize("python", [sys.executable, OTHER])
def test_the_survey_runs_from_standard_input_with_nothing_but_the_interpreter(python):
    result = run_program(survey_program({"compact_tags": True, "set_fact": False}), python=python)
    assert not result.get("failed"), result
    facts = result["target_facts"]
    assert facts["python"]["executable"] == os.path.realpath(python) or facts["python"]["executable"] == python
    found = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                           stdout=subprocess.PIPE, check=True).stdout.decode().strip()
    assert facts["markers"]["python_full_version"] == found and facts["tags_compact"]
    assert "ansible_facts" not in result and result["changed"] is False


def test_the_same_answer_as_the_module_gives(tmp_path):
    args = {"space_path": str(tmp_path), "store_dir": str(tmp_path), "compact_tags": True}
    params, _paths = _hostprogram.host_params(ARGUMENT_SPEC, args)
    # The module's way: the collection importable from its files (in a process of its own: what this test process
    # imported before must not take part).
    as_module = subprocess.run(
        [sys.executable, "-c", "import json, sys; sys.path.insert(0, sys.argv[1]); from %s import survey; "
         "print(json.dumps(survey(json.loads(sys.argv[2]), False)))" % SURVEY[0],
         os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
             _target_facts.__file__)))))), json.dumps(params)], stdout=subprocess.PIPE, check=True)
    by_program, by_module = run_program(survey_program(args)), json.loads(as_module.stdout)
    for result in (by_program, by_module):  # (other tests write to the same file system meanwhile)
        assert result["target_facts"]["space"].pop("free_bytes") > 0
        assert result["ansible_facts"]["pymigrate_target_facts"]["space"].pop("free_bytes") > 0
    assert by_program == by_module


def test_paths_are_expanded_on_the_host_and_another_interpreter_runs_the_same_sources(tmp_path):
    # ~ is the host user's home: expanded by the program, not here. The environment's own interpreter (another
    # Python) is surveyed by the program's sources, as the module would with its payload.
    (tmp_path / "bin").mkdir()
    os.symlink(OTHER, tmp_path / "bin" / "python")
    program = survey_program({"space_path": "~", "resolve_only": True,
                              "interpreters": [{"name": "tools", "python": "~/bin/python"}]})
    assert b"~/bin/python" in program
    result = run_program(program, env={"HOME": str(tmp_path), "PATH": os.environ["PATH"]})
    assert not result.get("failed"), result
    other = result["target_facts"]["interpreters"][str(tmp_path / "bin" / "python")]
    version = subprocess.run([OTHER, "-c", "import platform; print(platform.python_version())"],
                             stdout=subprocess.PIPE, check=True).stdout.decode().strip()
    assert other["markers"]["python_full_version"] == version


def test_an_interpreter_that_does_not_run_fails_the_survey_naming_the_environment(tmp_path):
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    script.chmod(0o755)
    result = run_program(survey_program({"interpreters": [{"name": "tools", "python": str(script)}]}))
    assert result["failed"] and result["msg"].startswith("environment tools: its interpreter %s does not run" % script)


def test_a_failure_on_the_host_is_an_answer_not_a_traceback():
    params, paths = _hostprogram.host_params(ARGUMENT_SPEC, {})
    program = _hostprogram.program(SURVEY[0], "no_such_function", params, paths, False)
    result = run_program(program)
    assert result["failed"] and "_target_facts.no_such_function failed on the host: AttributeError" in result["msg"]
    assert "Traceback" in result["exception"]


def test_a_program_that_does_not_answer_says_what_the_host_said():
    said = _hostprogram.parse_result({"rc": 127, "stdout": "", "stderr": "sh: 1: /opt/py/bin/python: not found"},
                                     "/opt/py/bin/python", "airgap.pymigrate.target_facts")
    assert said["failed"] and said["rc"] == 127
    assert said["msg"] == ("airgap.pymigrate.target_facts (/opt/py/bin/python on the host) exited 127 without an "
                           "answer: sh: 1: /opt/py/bin/python: not found")
    # A line of noise before the answer (a login script's) does not hide it.
    assert _hostprogram.parse_result({"rc": 0, "stdout": 'welcome\n{"changed": false}'}, "p", "m") == {
        "changed": False}


def test_parameters_are_checked_here_but_paths_stay_for_the_host():
    args = {"store_dir": "~/store", "interpreters": [{"name": "a", "python": "$HOME/py"}]}
    params, paths = _hostprogram.host_params(ARGUMENT_SPEC, args)
    assert params["store_dir"] == "~/store" and params["interpreters"] == [{"name": "a", "python": "$HOME/py"}]
    assert params["space_path"] == "/opt" and params["verify_installed"] == "size"  # the module's defaults
    assert paths["store_dir"] is True and paths["interpreters"] == {"python": True}
    assert paths["environments"] == {"path": True, "python": True}
    with pytest.raises(PyMigrateError, match="verify_installed"):
        _hostprogram.host_params(ARGUMENT_SPEC, {"verify_installed": "sometimes"})


def test_the_program_carries_every_module_utils_module_it_imports():
    carried = _hostprogram.sources(SURVEY[0])
    prefix = _hostprogram.MODULE_UTILS + "."
    assert {name[len(prefix):] for name, (is_package, _source) in carried.items()
            if name.startswith(prefix) and not is_package} == {
        "_host_runner", "_rollout_check", "_store", "_target_facts", "_venv", "_vendor_packaging.tags",
        "_vendor_packaging._manylinux", "_vendor_packaging._musllinux", "_vendor_packaging._elffile"}


def test_imports_are_read_with_comments_and_aliases_in_parentheses():
    prefix = _hostprogram.MODULE_UTILS
    source = ("from %s._store import (  # the store\n    StoreError,  # why\n    compare as store_compare,\n)\n"
              "from %s._vendor_packaging import tags as _tags\nimport %s._venv\nimport json\n") % ((prefix,) * 3)
    assert _hostprogram._imported(source) == {
        prefix + "._store", prefix + "._store.StoreError", prefix + "._store.compare",
        prefix + "._vendor_packaging", prefix + "._vendor_packaging.tags", prefix + "._venv"}
