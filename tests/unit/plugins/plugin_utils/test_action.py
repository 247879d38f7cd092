"""The action bases: arguments validated before anything runs, one failure shape (PyMigrateError -> failed result with
msg and error_* details, no traceback), no_log values hidden, temporary files removed here and on the host however
the action ends."""

import os
from unittest import mock

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import ControllerActionBase, HostActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

SPEC = dict(store_dir=dict(type="path", default="/var/lib/pymigrate/store"), count=dict(type="int", required=True),
            token=dict(type="str", no_log=True), fail=dict(type="bool", default=False))


class HostAction(HostActionBase):
    ARGUMENT_SPEC = SPEC

    def run_host(self, params, task_vars):
        self.seen = params
        self.local = self._local_temp(prefix="pymigrate-test-")
        if params["count"] > 1:
            self.remote = self._remote_tmp()
        if params["fail"]:
            raise PyMigrateError("the store is full", host="web1", var="pymigrate_store_dir", value="/srv")
        return {"changed": True, "msg": "used %s" % params["token"], "host_args": self._host_args("store_dir")}


class ControllerAction(ControllerActionBase):
    ARGUMENT_SPEC = SPEC

    def run_controller(self, params, task_vars):
        raise PyMigrateError("no bundle", var="pymigrate_bundle_dir")


def make(cls, args):
    task = mock.MagicMock(args=args, check_mode=False, diff=False, async_val=0)
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    action = cls(task, connection, mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    removed = []

    def make_tmp_path():
        connection._shell.tmpdir = "/tmp/ansible-tmp-1"
        return connection._shell.tmpdir

    def remove_tmp_path(path):
        removed.append(path)
        connection._shell.tmpdir = None

    action._make_tmp_path = make_tmp_path
    action._remove_tmp_path = remove_tmp_path
    return action, removed


def test_invalid_arguments_fail_before_anything_runs():
    action, removed = make(HostAction, {"count": "many", "colour": "red"})
    result = action.run(task_vars={})
    assert result["failed"] and result["msg"].startswith("invalid arguments: ")
    assert "colour" in result["msg"] and "count" in result["msg"]
    assert not hasattr(action, "seen") and removed == []


@pytest.mark.parametrize("cls", [HostAction, ControllerAction])
def test_a_pymigrate_error_is_a_failed_result_with_its_details(cls):
    action, _removed = make(cls, {"count": 1, "fail": True})
    result = action.run(task_vars={})
    assert result["failed"] and "exception" not in result
    if cls is HostAction:
        assert result["msg"] == "the store is full (host web1, variable pymigrate_store_dir, value '/srv')"
        details = (result["error_host"], result["error_var"], result["error_value"])
        assert details == ("web1", "pymigrate_store_dir", "/srv")
    else:
        assert result["msg"] == "no bundle (variable pymigrate_bundle_dir)"
        assert result["error_var"] == "pymigrate_bundle_dir" and "error_host" not in result


def test_no_log_values_are_hidden():
    action, _removed = make(HostAction, {"count": 1, "token": "s3cr3t-t0ken"})
    result = action.run(task_vars={})
    assert result["changed"] and "s3cr3t" not in result["msg"] and "********" in result["msg"]


@pytest.mark.parametrize("fail", [False, True])
def test_temporary_files_are_removed_here_and_on_the_host(fail):
    action, removed = make(HostAction, {"count": 2, "fail": fail})
    result = action.run(task_vars={})
    assert bool(result.get("failed")) is fail
    assert not os.path.exists(action.local) and removed == ["/tmp/ansible-tmp-1"]


def test_no_remote_directory_unless_asked_for():
    action, removed = make(HostAction, {"count": 1})
    action.run(task_vars={})
    assert removed == [] and not os.path.exists(action.local)


def test_the_host_gets_the_task_values_not_the_controller_expansion():
    action, _removed = make(HostAction, {"count": 1, "store_dir": "~/store"})
    result = action.run(task_vars={})
    assert action.seen["store_dir"] == os.path.expanduser("~/store")  # the control node's view, for its own use
    assert result["host_args"] == {"store_dir": "~/store"}  # the module expands it on the host
