"""The venv_install action: an environment the same run already found holding its lock unchanged is not contacted
again; anything else (another lock, drift, an error, rollback) runs the module on the host."""

from tests.unit.plugins.action.runner import make_action

ARGS = {"path": "/opt/pymigrate/venv", "lock_id": "ab" * 32, "store_dir": "/var/lib/pymigrate/store",
        "packages": [{"name": "Alpha_Beta", "version": "1.0", "filename": "alpha-1.0-py3-none-any.whl", "sha256": "cd" * 32}],
        "installer": {"filename": "pip-24.0-py3-none-any.whl", "sha256": "ef" * 32}}
CURRENT = {"path": "/opt/pymigrate/venv", "lock_id": "ab" * 32, "current": True,
           "generation": "/opt/pymigrate/.venv.generations/1-abababababab", "drift": []}


def install(args, diff=False):
    action = make_action("venv_install", args, diff=diff)
    calls = []

    def execute_module(module_name, module_args, task_vars):
        calls.append(module_args)
        return {"changed": True, "generation": "/opt/pymigrate/.venv.generations/2-abababababab", "pip_ran": True}

    action._execute_module = execute_module
    return action.run(task_vars={"inventory_hostname": "web1"}), calls


def test_a_known_current_environment_is_not_contacted():
    result, calls = install(dict(ARGS, known_state=CURRENT), diff=True)
    assert calls == []
    assert not result["changed"] and not result["pip_ran"] and result["generation"] == CURRENT["generation"]
    # Named as the module names them (normalised), so the report reads the same either way.
    assert result["installed"] == result["packages"] == {"alpha-beta": "1.0"} and result["drift"] == []
    assert result["diff"]["before"] == result["diff"]["after"] == "alpha-beta==1.0\n"


def test_anything_else_runs_the_module_without_the_known_state():
    for known in (dict(CURRENT, lock_id="00" * 32), dict(CURRENT, current=False),
                  dict(CURRENT, drift=[{"kind": "missing file"}]), {"path": ARGS["path"], "error": "not ours"}, None):
        args = dict(ARGS, known_state=known) if known is not None else dict(ARGS)
        result, calls = install(args)
        assert len(calls) == 1 and "known_state" not in calls[0] and result["pip_ran"], known
    result, calls = install({"path": ARGS["path"], "state": "rollback", "known_state": CURRENT})
    assert len(calls) == 1 and calls[0]["state"] == "rollback"
