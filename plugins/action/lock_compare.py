# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airgap.pymigrate.lock_compare: how the lock a bundle carries differs from the lock an inventory holds, on the
control node (logic in plugin_utils/_lockdir.py)."""

from __future__ import annotations

import os

from ansible.utils.display import Display

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _lockdir
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import ControllerActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

display = Display()


class ActionModule(ControllerActionBase):

    ARGUMENT_SPEC = dict(
        bundle_dir=dict(type="path", required=True),
        lock_dir=dict(type="path"),
        fail_on_difference=dict(type="bool", default=False),
    )

    def run_controller(self, params, task_vars):
        if not params["lock_dir"]:
            try:
                params = dict(params, lock_dir=_lockdir.default_dir(task_vars.get("ansible_inventory_sources") or []))
            except PyMigrateError as exc:
                return {"changed": False, "compared": False, "msg": exc.message}
        carried = os.path.join(params["bundle_dir"], _lockdir.BUNDLE_DIR)
        if not os.path.isdir(carried):
            msg = ("the bundle in %s carries no lock (it was built with pymigrate_lock_mode ignore)"
                   % params["bundle_dir"])
            return {"changed": False, "compared": False, "msg": msg}
        if not _lockdir.read(params["lock_dir"]):
            return {"changed": False, "compared": False, "msg": "no lock in %s to compare with" % params["lock_dir"]}
        outcome = _lockdir.compare(carried, params["lock_dir"])
        for line in outcome["lines"]:  # one line each, at default verbosity (a warning would be wrapped)
            display.display("pymigrate lock: " + line)
        if outcome["lines"] and params["fail_on_difference"]:
            raise PyMigrateError("the bundle's lock differs from the lock in %s: %s"
                                 % (params["lock_dir"], "; ".join(outcome["lines"])), var="pymigrate_lock_dir",
                                 value=params["lock_dir"])
        msg = ("the bundle's lock is the lock in %s" % params["lock_dir"] if outcome["same"] else
               "the bundle's lock differs from the lock in %s for %d environment(s)"
               % (params["lock_dir"], len(outcome["lines"])))
        display.display("pymigrate lock: " + msg)
        if not outcome["same"]:
            display.warning(msg)
        return dict(outcome, changed=False, compared=True, msg=msg)
