"""The venv_install action: given the bundle and an environment's name it reads the host's slice itself, for the
serial the run pinned; an environment the push of the same slice already found holding its lock unchanged is not
contacted again; anything else (another slice, another lock, drift, an error, rollback) runs the module on the host."""

import os
import re

import pytest
import yaml

from ansible_collections.airgap.pymigrate.plugins.action import venv_install
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest
from tests.unit.plugins.action.runner import make_action
from tests.unit.plugins.plugin_utils.test_bundle import build, host

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

ARGS = {"path": "/opt/pymigrate/venv", "lock_id": "ab" * 32, "store_dir": "/var/lib/pymigrate/store",
        "packages": [{"name": "Alpha_Beta", "version": "1.0", "filename": "alpha-1.0-py3-none-any.whl",
                      "sha256": "cd" * 32}],
        "installer": {"filename": "pip-24.0-py3-none-any.whl", "sha256": "ef" * 32}}
CURRENT = {"path": "/opt/pymigrate/venv", "lock_id": "ab" * 32, "current": True,
           "generation": "/opt/pymigrate/.venv.generations/1-abababababab", "drift": []}


@pytest.fixture
def bundle_dir(tmp_path):
    """Serial 1 gives web1 alpha 1.0, serial 2 (the newest) alpha 2.0."""
    build(tmp_path, [host("web1", alpha="==1.0")])
    build(tmp_path, [host("web1", alpha="==2.0")])
    return str(tmp_path)


def install(args, diff=False, check_mode=False, task_vars=None):
    action = make_action("venv_install", args, diff=diff, check_mode=check_mode)
    calls = []

    def execute_module(module_name, module_args, task_vars):
        calls.append(dict(module_args, _module=module_name))
        return {"changed": True, "generation": "/opt/pymigrate/.venv.generations/2-abababababab", "pip_ran": True}

    action._execute_module = execute_module
    return action.run(task_vars=dict(task_vars or {}, inventory_hostname="web1")), calls


def pushed(bundle_dir, serial, known):
    """The push's registered result for the host's slice of ``serial``, each environment with ``known`` state."""
    host_slice = _manifest.host_slice(bundle_dir, "web1", serial=serial)
    return {venv_install.PUSH: {"serial": serial, "slice_id": host_slice["slice_id"], "changed": False,
                                "envs": [dict(env, known_state=dict(known, lock_id=env["lock_id"]))
                                         for env in host_slice["envs"]]}}


def test_the_known_result_is_the_modules_no_op_result():
    result = venv_install.known_result(CURRENT, ARGS)
    assert not result["changed"] and not result["pip_ran"] and result["generation"] == CURRENT["generation"]
    # Named as the module names them (normalised), so the report reads the same either way.
    assert result["installed"] == result["packages"] == {"alpha-beta": "1.0"} and result["drift"] == []
    for known in (dict(CURRENT, lock_id="00" * 32), dict(CURRENT, current=False),
                  dict(CURRENT, drift=[{"kind": "missing file"}]), {"path": ARGS["path"], "error": "not ours"}, None):
        assert venv_install.known_result(known, ARGS) is None, known
    assert venv_install.known_result(CURRENT, dict(ARGS, state="rollback")) is None


def test_given_its_arguments_the_action_runs_the_module_with_them():
    result, calls = install(dict(ARGS))
    assert len(calls) == 1 and calls[0]["_module"] == venv_install.MODULE and result["pip_ran"]
    assert calls[0]["packages"] == ARGS["packages"] and "environment" not in result
    result, calls = install({"path": ARGS["path"], "state": "rollback"})
    assert len(calls) == 1 and calls[0]["state"] == "rollback"


def test_the_slice_of_the_pinned_serial_gives_every_argument(bundle_dir):
    for serial, version in ((1, "1.0"), ("1", "1.0"), (2, "2.0"), (None, "2.0")):
        args = {"bundle_dir": bundle_dir, "name": "default", "store_dir": "/srv/store"}
        result, calls = install(dict(args, serial=serial) if serial is not None else args)
        env = _manifest.host_slice(bundle_dir, "web1", serial=int(serial or 2))["envs"][0]
        assert [(p["name"], p["version"]) for p in calls[0]["packages"] if p["name"] == "alpha"] == [("alpha", version)]
        assert {key: calls[0].get(key) for key in ("path", "installer", "lock_id", "smoke_imports", "store_dir")} == {
            "path": env["path"], "installer": env["installer"], "lock_id": env["lock_id"],
            "smoke_imports": env["smoke_imports"], "store_dir": "/srv/store"}
        assert not {"bundle_dir", "name", "image", "python"} & set(calls[0])  # read here, not the module's
        assert calls[0]["serial"] == int(serial or 2)  # the slice's serial, recorded in a new generation
        # What names the environment travels with the result, for the report (the loop item is only the name).
        assert result["environment"] == _manifest.env_refs([env])[0] and result["environment"]["serial"] == int(
            serial or 2)


def test_the_push_known_state_counts_only_for_the_same_slice(bundle_dir):
    args = {"bundle_dir": bundle_dir, "name": "default", "serial": 1}
    result, calls = install(args, diff=True, task_vars=pushed(bundle_dir, 1, CURRENT))
    assert calls == [] and not result["changed"] and result["generation"] == CURRENT["generation"]
    assert result["diff"]["before"] == result["diff"]["after"] == "alpha==1.0\n"
    # The push read serial 2's slice (another lock): its answer is not this environment's.
    result, calls = install(args, task_vars=pushed(bundle_dir, 2, CURRENT))
    assert len(calls) == 1 and result["pip_ran"]
    for push in (dict(pushed(bundle_dir, 1, CURRENT)[venv_install.PUSH], slice_id=None),
                 dict(pushed(bundle_dir, 1, CURRENT)[venv_install.PUSH], failed=True),
                 {"skipped": True, "changed": False}, "not a result"):
        result, calls = install(args, task_vars={venv_install.PUSH: push})
        assert len(calls) == 1, push
    # Not holding the lock: the module runs, and is never given the known state.
    result, calls = install(args, task_vars=pushed(bundle_dir, 1, dict(CURRENT, current=False)))
    assert len(calls) == 1 and "known_state" not in calls[0]


def test_a_rollback_reads_the_real_slice_even_in_check_mode(bundle_dir):
    build(bundle_dir, [host("web1", alpha="==1.0"), host("web2")], check_mode=True)  # a proposal with web2
    result, calls = install({"bundle_dir": bundle_dir, "name": "default", "state": "rollback"}, check_mode=True)
    assert calls[0]["state"] == "rollback" and calls[0]["path"] == "/opt/pymigrate/venv"
    real = _manifest.host_slice(bundle_dir, "web1")["envs"][0]
    assert result["environment"]["serial"] == 2 and result["environment"]["lock_id"] == real["lock_id"]


def test_an_image_environment_runs_image_install_with_the_slices_serial(monkeypatch):
    image = {"name": "localhost/pymigrate-default", "image_id": "12" * 32, "index": "i", "blobs": []}
    env = {"name": "default", "path": "/opt/pymigrate/venv", "python": None, "serial": 1, "profile": "p",
           "packages": [], "installer": None, "smoke_imports": ["alpha"], "lock_id": "ab" * 32, "strategy": "image",
           "image": image}
    seen = []

    def host_slice(bundle_dir, host_name, check_mode=False, serial=None):
        seen.append(serial)
        return {"host": host_name, "serial": 1, "files": [], "envs": [env], "slice_id": "s"}

    monkeypatch.setattr(_manifest, "host_slice", host_slice)
    args = {"bundle_dir": "/", "name": "default", "serial": 1, "engine": "podman"}
    result, calls = install(args)
    assert seen == [1] and calls == [{"_module": venv_install.IMAGE_MODULE, "name": image["name"], "serial": 1,
                                      "image": image, "engine": "podman", "python": "/opt/pymigrate/venv/bin/python",
                                      "smoke_imports": ["alpha"], "store_dir": "/var/lib/pymigrate/store"}]
    result, calls = install(dict(args, state="rollback"))
    assert calls == [{"_module": venv_install.IMAGE_MODULE, "name": image["name"], "engine": "podman",
                      "state": "rollback"}]


@pytest.mark.parametrize("args, text", [
    ({"name": "default"}, "bundle_dir and name go together"),
    ({"name": "default", "path": "/opt/x"}, "path come.s. from the host's slice"),
    ({"name": "other"}, "host web1 has no environment other in the bundle .serial 2 holds default for it."),
    ({"name": "default", "serial": 7}, "no longer holds serial 7"),
    ({"name": "default", "serial": "seven"}, "a bundle serial is a whole number"),
])
def test_errors_name_what_is_wrong(bundle_dir, args, text):
    args = dict(args, bundle_dir=bundle_dir) if args != {"name": "default"} else args
    result, calls = install(args)
    assert result["failed"] and calls == []
    assert re.search(text, result["msg"]), result["msg"]


def test_the_push_result_it_reads_is_the_one_the_push_task_registers():
    with open(os.path.join(ROOT, "roles", "rollout", "tasks", "push.yml")) as handle:
        tasks = yaml.safe_load(handle)
    assert [task.get("register") for task in tasks if "airgap.pymigrate.wheel_push" in task] == [
        venv_install.PUSH]


def test_with_pipelining_and_a_known_interpreter_the_install_runs_as_a_program(tmp_path):
    # The wiring of the pipelined path (_rollout_check.install through _host_runner, run here as the host would):
    # a rollback of an environment that has none fails on the host, naming it, with no module involved.
    import subprocess
    import sys

    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    from tests.unit.plugins.action.runner import make_action

    action = make_action("venv_install", {"path": str(tmp_path / "venv"), "state": "rollback"})
    action._connection.is_pipelining_enabled.return_value = True
    action._templar = Templar(loader=DataLoader())
    commands = []

    def low_level_execute_command(cmd, sudoable=True, in_data=None):
        commands.append(cmd)
        done = subprocess.run(cmd, shell=True, input=in_data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              check=False)
        return {"rc": done.returncode, "stdout": done.stdout.decode(), "stderr": done.stderr.decode()}

    action._low_level_execute_command = low_level_execute_command
    action._execute_module = lambda **kwargs: pytest.fail("a module ran: %s" % kwargs)
    result = action.run(task_vars={"ansible_python_interpreter": sys.executable, "inventory_hostname": "web1"})
    assert commands == ["%s -" % sys.executable]
    assert result["failed"] and result["msg"].startswith("environment %s: " % (tmp_path / "venv")), result
    assert "before" not in result and "exception" not in result
