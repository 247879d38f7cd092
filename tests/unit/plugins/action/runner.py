"""Run an action plugin of the collection in-process, as Ansible's worker would, with a stand-in task."""

import importlib
from unittest import mock


def make_action(name, args, check_mode=False, diff=False):
    module = importlib.import_module("ansible_collections.airgap.pymigrate.plugins.action.%s" % name)
    task = mock.MagicMock(args=args, check_mode=check_mode, diff=diff, async_val=0, delegate_to=None,
                          environment=None)
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    connection._shell.env_prefix.return_value = ""
    connection.is_pipelining_enabled.return_value = False  # a test that pipelines says so
    connection._remote_is_local = False
    action = module.ActionModule(task, connection, mock.MagicMock(), mock.MagicMock(), mock.MagicMock(),
                                 mock.MagicMock())
    # The connection's answer, on every ansible-core: before 2.17 the action decided it from the play context.
    action._is_pipelining_enabled = lambda module_style, wrap_async=False: bool(
        module_style == "new" and connection.is_pipelining_enabled(wrap_async))
    return action


def run_action(name, args, task_vars=None, check_mode=False, diff=False):
    action = make_action(name, args, check_mode=check_mode, diff=diff)
    return action.run(task_vars=task_vars or {}), action
