# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A module-like base for action plugins that run entirely on the control node.

Validates the task's arguments against an argument spec (the same validator AnsibleModule uses), turns
PyMigrateError into a failed result with the message (never a traceback), and hides no_log values.
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError


class ControllerActionBase(ActionBase):
    """Subclasses set ARGUMENT_SPEC (and optionally MUTUALLY_EXCLUSIVE) and implement run_controller()."""

    ARGUMENT_SPEC: dict = {}
    MUTUALLY_EXCLUSIVE: list = []
    REQUIRED_IF: list = []
    _requires_connection = False
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        validator = ArgumentSpecValidator(self.ARGUMENT_SPEC, mutually_exclusive=self.MUTUALLY_EXCLUSIVE,
                                          required_if=self.REQUIRED_IF)
        validation = validator.validate(self._task.args)
        if validation.error_messages:
            result.update(failed=True, msg="invalid arguments: %s" % "; ".join(validation.error_messages))
            return result
        try:
            result.update(self.run_controller(validation.validated_parameters, task_vars or {}))
        except PyMigrateError as exc:
            result.update(failed=True, msg=str(exc), **{"error_" + k: v for k, v in exc.details().items()})
        if validation._no_log_values:  # pylint: disable=protected-access
            from ansible.module_utils.common.parameters import remove_values
            result = remove_values(result, validation._no_log_values)  # pylint: disable=protected-access
        return result

    def run_controller(self, params: dict, task_vars: dict) -> dict:
        raise NotImplementedError
