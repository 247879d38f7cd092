"""The target_facts action: with a bundle that covers the host, the host's slice goes along with the survey so
that the host says in the same call what it holds of it; without one, the survey is the survey alone."""

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest
from tests.unit.plugins.action.runner import make_action
from tests.unit.plugins.plugin_utils.test_bundle import build, host


def survey(args, host_name, variables=None, answer=None):
    action = make_action("target_facts", args)
    calls = []

    def execute_module(module_name, module_args, task_vars):
        calls.append(module_args)
        return answer or {"changed": False, "target_facts": {}}

    action._execute_module = execute_module
    result = action.run(task_vars=dict(variables or {}, inventory_hostname=host_name))
    return (calls[0], result) if answer else calls[0]


def test_the_host_slice_goes_along(tmp_path):
    build(tmp_path, [host("web1"), host("web2", python="3.12", alpha="==1.0")])
    sent = survey({"bundle_dir": str(tmp_path), "store_dir": "/srv/store", "space_path": "/srv"}, "web2")
    expected = _manifest.host_slice(str(tmp_path), "web2")
    assert "bundle_dir" not in sent and sent["store_dir"] == "/srv/store"
    assert sent["slice_id"] == expected["slice_id"] and sent["files"] == expected["files"]
    assert sent["environments"] == [{"path": "/opt/pymigrate/venv", "python": None,
                                     "lock_id": expected["envs"][0]["lock_id"],
                                     "packages": expected["envs"][0]["packages"]}]


def test_no_bundle_or_a_new_host_is_surveyed_alone(tmp_path):
    assert "slice_id" not in survey({"bundle_dir": str(tmp_path / "none")}, "web1")
    build(tmp_path, [host("web1")])
    assert "slice_id" not in survey({"bundle_dir": str(tmp_path)}, "db9")
    assert "slice_id" not in survey({"slice_id": "forged", "files": []}, "web1")  # only the plugin sets it


def test_each_environment_interpreter_goes_along_and_one_that_does_not_run_names_the_host():
    """Issue 26: an environment's python is surveyed in the same call (an image's is the image's, not the host's)."""
    variables = {"pymigrate_envs": {"api": {"path": "/opt/api/venv", "requirements": {"alpha": ""}}},
                 "pymigrate_group_envs_tools": {"tools": {"path": "/opt/tools/venv", "python": "/usr/bin/python3.13"}},
                 "pymigrate_host_envs": {"img": {"path": "/opt/img/venv", "strategy": "image",
                                                 "python": "/usr/local/bin/python3"}}}
    sent = survey({}, "web1", variables)
    assert sent["interpreters"] == [{"name": "tools", "python": "/usr/bin/python3.13"}]
    assert survey({"interpreters": [{"name": "x", "python": "/forged"}]}, "web1")["interpreters"] == []
    failed = {"failed": True, "msg": "environment tools: its interpreter /usr/bin/python3.13 does not exist on this "
                                     "host; install it or set the environment's python to one that does"}
    _sent, result = survey({}, "web1", variables, answer=failed)
    assert result["failed"] and result["msg"].startswith(
        "host web1: environment tools: its interpreter /usr/bin/python3.13 does not exist")


def test_the_environments_to_remove_go_along_with_the_slice(tmp_path):
    from tests.unit.plugins.action.test_host_prune import API, envs_host
    build(tmp_path, [envs_host("web1", api=API, tools={"path": "/opt/tools/venv", "state": "absent"})])
    assert survey({"bundle_dir": str(tmp_path)}, "web1")["absent_paths"] == ["/opt/tools/venv"]


def survey_pipelined(tmp_path, variables):
    """The action with a pipelining connection whose host is this machine: commands run here, as the host's shell
    would run them, and a module call fails the test."""
    import subprocess

    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    action = make_action("target_facts", {"store_dir": str(tmp_path / "store"), "compact_tags": True})
    action._connection.is_pipelining_enabled.return_value = True
    action._templar = Templar(loader=DataLoader())
    commands, modules = [], []

    def low_level_execute_command(cmd, sudoable=True, in_data=None):
        commands.append(cmd)
        done = subprocess.run(cmd, shell=True, input=in_data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              check=False)
        return {"rc": done.returncode, "stdout": done.stdout.decode(), "stderr": done.stderr.decode()}

    action._low_level_execute_command = low_level_execute_command
    action._execute_module = lambda **kwargs: modules.append(kwargs) or {"changed": False, "target_facts": {}}
    return action.run(task_vars=dict(variables, inventory_hostname="web1")), commands, modules


def test_with_pipelining_and_a_known_interpreter_the_survey_is_a_program_not_a_module(tmp_path):
    import sys

    result, commands, modules = survey_pipelined(tmp_path, {"ansible_python_interpreter": sys.executable})
    assert modules == [] and commands == ["%s -" % sys.executable]
    assert not result.get("failed") and result["target_facts"]["markers"]["python_version"] == "%d.%d" % (
        sys.version_info[:2])
    assert result["ansible_facts"]["pymigrate_target_facts"] == result["target_facts"]
    # Without a known interpreter (discovery): the module, where Ansible discovers it.
    result, commands, modules = survey_pipelined(tmp_path, {})
    assert commands == [] and [call["module_name"] for call in modules] == ["airgap.pymigrate.target_facts"]


def test_an_interpreter_that_is_not_there_fails_the_survey_with_what_the_host_said(tmp_path):
    result, _commands, modules = survey_pipelined(tmp_path, {"ansible_python_interpreter": "/opt/none/bin/python"})
    assert modules == [] and result["failed"] and result["rc"] == 127
    assert result["msg"].startswith("airgap.pymigrate.target_facts (/opt/none/bin/python on the host) exited 127 "
                                    "without an answer: ")
    assert "/opt/none/bin/python" in result["msg"].split("answer: ", 1)[1]
