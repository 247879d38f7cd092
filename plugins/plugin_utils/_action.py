# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Module-like bases for the collection's action plugins: one for those that run entirely on the control node, one
for those that work on a host (through its modules and the connection).

Both validate the task's arguments against an argument spec (the same validator AnsibleModule uses), turn
PyMigrateError into a failed result with the message and its ``error_*`` details (never a traceback), hide no_log
values, and remove the temporary files they made, here and on the host, however the action ends.
"""

from __future__ import annotations

import os
import re
import tempfile

from ansible.executor import module_common
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.vars.plugins import get_vars_from_inventory_sources, get_vars_from_path

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _hostprogram
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError


def inventory_group_vars(action: ActionBase, pattern: re.Pattern) -> dict | None:
    """{group: {variable: value}}: each inventory group's own variables whose names match ``pattern``, before Ansible
    merges them into a host's (where one group's value of a name replaces another's).

    Read as Ansible's VariableManager reads them, per group: the group's inventory variables, the group_vars files
    beside the inventory sources and beside the playbook (the vars plugins, stage "task"), in that order. There is no
    public interface for this: the inventory comes from the task's VariableManager (``Task.get_variable_manager()``,
    then its ``_inventory`` and that one's ``_sources``). When any of it is missing (another ansible-core), None: the
    caller then cannot name groups, and says so."""
    try:
        inventory = action._task.get_variable_manager()._inventory  # pylint: disable=protected-access
        sources = list(inventory._sources)  # pylint: disable=protected-access
        basedir = action._loader.get_basedir()
        found: dict = {}
        for name, group in inventory.groups.items():
            variables = dict(group.get_vars())
            variables.update(get_vars_from_inventory_sources(action._loader, sources, [group], "task"))
            variables.update(get_vars_from_path(action._loader, basedir, [group], "task") if basedir else {})
            found[name] = {key: value for key, value in variables.items() if pattern.match(key)}
        return found
    except Exception as exc:  # pylint: disable=broad-except
        Display().vvv("pymigrate: the inventory's group variables could not be read (%s): conflicts name variables, "
                      "not groups, and sets dropped by precedence are not found" % exc)
        return None


def failed_result(exc: PyMigrateError) -> dict:
    """The one shape of a failure the collection's actions report: ``msg`` and what the error names."""
    return dict(failed=True, msg=str(exc), **{"error_" + key: value for key, value in exc.details().items()})


class _ModuleLikeActionBase(ActionBase):
    """Subclasses set ARGUMENT_SPEC (and optionally MUTUALLY_EXCLUSIVE, REQUIRED_IF) and implement _run_validated()
    through the hook of their kind."""

    ARGUMENT_SPEC: dict = {}
    MUTUALLY_EXCLUSIVE: list = []
    REQUIRED_IF: list = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._temp_files: list[str] = []

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        validator = ArgumentSpecValidator(self.ARGUMENT_SPEC, mutually_exclusive=self.MUTUALLY_EXCLUSIVE,
                                          required_if=self.REQUIRED_IF)
        validation = validator.validate(self._task.args)
        if validation.error_messages:  # (they name options, not values: nothing to hide, nothing made yet)
            return dict(result, failed=True, msg="invalid arguments: %s" % "; ".join(validation.error_messages))
        try:
            result.update(self._run_validated(validation.validated_parameters, task_vars or {}))
        except PyMigrateError as exc:
            result.update(failed_result(exc))
        finally:
            self._clean_up()
        no_log_values = validation._no_log_values  # pylint: disable=protected-access
        return remove_values(result, no_log_values) if no_log_values else result

    def _run_validated(self, params: dict, task_vars: dict) -> dict:
        raise NotImplementedError

    def _local_temp(self, prefix: str, suffix: str = "") -> str:
        """A new empty file on the control node, removed when the action ends (unless moved away before)."""
        handle, path = tempfile.mkstemp(prefix=prefix, suffix=suffix)
        os.close(handle)
        self._temp_files.append(path)
        return path

    def _clean_up(self) -> None:
        for path in self._temp_files:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass  # moved into place, or removed by its user already
        self._temp_files = []


class ControllerActionBase(_ModuleLikeActionBase):
    """An action that runs entirely on the control node: subclasses implement run_controller()."""

    _requires_connection = False
    TRANSFERS_FILES = False

    def _run_validated(self, params, task_vars):
        return self.run_controller(params, task_vars)

    def run_controller(self, params: dict, task_vars: dict) -> dict:
        raise NotImplementedError


class HostActionBase(_ModuleLikeActionBase):
    """An action that works on a host: subclasses implement run_host(), call its modules with _execute_module(),
    and take the remote temporary directory from _remote_tmp() (made on first use, so that an action with nothing
    to send costs the host no mkdir and rm) and local ones from _local_temp().

    Validation runs on the control node, before the host is contacted. What goes to a module on the host is the
    task's own values (_host_args()), not the controller's validated ones: the module validates them again where
    they apply, so that a path such as ``~/store`` is expanded on the host, not on the control node.
    """

    _requires_connection = True
    TRANSFERS_FILES = False  # no remote temporary directory made up front: see _remote_tmp()

    def _run_validated(self, params, task_vars):
        return self.run_host(params, task_vars)

    def run_host(self, params: dict, task_vars: dict) -> dict:
        raise NotImplementedError

    def _host_args(self, *names: str) -> dict:
        """The task's own values of the options ``names`` that it set (for a module on the host)."""
        return {name: self._task.args[name] for name in names if name in self._task.args}

    def _run_on_host(self, module_name: str, module_args: dict, task_vars: dict, spec: dict,
                     function: tuple) -> dict:
        """The result of module ``module_name`` with ``module_args``: with a pipelining connection and a known
        interpreter, ``function`` (module_utils module, function name; the module's own work) run as a program on
        the host's Python (_hostprogram), without the module's start; else the module itself. ``spec``: the
        module's argument spec (its options are validated here, paths expanded on the host)."""
        python = self._pipelined_python(task_vars)
        if python is None:
            return self._execute_module(module_name=module_name, module_args=module_args, task_vars=task_vars)
        params, paths = _hostprogram.host_params(spec, module_args)
        return self._run_program(python, function, params, paths, module_name)

    def _run_program(self, python: str, function: tuple, params: dict, paths: dict, what: str) -> dict:
        """``function`` (module_utils module, function name) with ``params`` (validated; ``paths`` names the values
        the host expands) run by ``python`` on the host from its standard input; its result."""
        program = _hostprogram.program(function[0], function[1], params, paths, self._task.check_mode)
        environment = self._compute_environment_string()
        res = self._low_level_execute_command("%s%s -" % (environment + " " if environment.strip() else "", python),
                                              in_data=program)
        return _hostprogram.parse_result(res, python, what)

    def _pipelined_python(self, task_vars: dict) -> str | None:
        """The host's Python as a module would run with it, when the connection pipelines and it is known without
        discovery (``ansible_python_interpreter``, or found by an earlier module of the run); else None."""
        if self._task.async_val or self._task.delegate_to or not self._is_pipelining_enabled("new"):
            return None
        if getattr(self._connection._shell, "SHELL_FAMILY", "sh") == "powershell":
            return None
        try:
            _shebang, python = module_common._get_shebang(  # pylint: disable=protected-access
                "/usr/bin/python", task_vars, self._templar,
                remote_is_local=bool(getattr(self._connection, "_remote_is_local", False)))
        except Exception:  # pylint: disable=broad-except
            return None  # discovery needed (auto): the module's own path discovers it, as Ansible always does
        return python or None

    def _remote_tmp(self) -> str:
        """The task's temporary directory on the host, made on first use and removed when the action ends."""
        return self._connection._shell.tmpdir or self._make_tmp_path()

    def _clean_up(self) -> None:
        super()._clean_up()
        if self._connection._shell.tmpdir:
            self._remove_tmp_path(self._connection._shell.tmpdir)
