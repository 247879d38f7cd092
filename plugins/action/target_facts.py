# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Survey, plus the rollout's question in the same call: with ``bundle_dir``, the host's slice of the bundle there
(read once, from the slice the bundle build wrote) goes along, and the host says what it holds of it. The push of the
same run reads that answer when its own slice is the same, so a run with nothing to do contacts each host once.

The interpreters the host's environments name (their ``python``, read from the host's inventory variables by
``_wanted.env_interpreters``) are surveyed in the same call: each environment is resolved for its own interpreter, and
one that does not exist or does not run fails here, naming host, environment and path, before anything is pushed."""

from __future__ import annotations

import os

from ansible_collections.airgap.pymigrate.plugins.module_utils import _target_facts
from ansible_collections.airgap.pymigrate.plugins.module_utils._target_facts import ARGUMENT_SPEC
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import HostActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._wanted import env_interpreters

MODULE = "airgap.pymigrate.target_facts"
# Options the action reads (bundle_dir) or alone sets from it: never passed on from the task.
ACTION_OPTIONS = ("bundle_dir", "slice_id", "files", "environments", "absent_paths", "interpreters")


def rollout_arguments(bundle_dir: str, host: str, check_mode: bool) -> dict | None:
    """The module's slice options for ``host``, or None when there is no bundle covering the host yet."""
    if not os.path.isfile(os.path.join(bundle_dir, _manifest.MANIFEST)):
        return None
    try:
        host_slice = _manifest.host_slice(bundle_dir, host, check_mode=check_mode)
    except PyMigrateError:
        return None  # a new host, or a bundle still waiting for builders: the push asks the host itself
    return {"slice_id": host_slice["slice_id"], "files": host_slice["files"],
            "environments": [{"path": env["path"], "python": env["python"], "lock_id": env["lock_id"],
                              "packages": env["packages"]} for env in host_slice["envs"]
                             if env.get("strategy") != "image"],
            "absent_paths": [item["path"] for item in host_slice.get("absent") or []]}


class ActionModule(HostActionBase):

    ARGUMENT_SPEC = ARGUMENT_SPEC  # the module's own: checked here before the host is contacted

    def run_host(self, params, task_vars):
        # The module's options as the task gave them (it validates them itself); the slice is only this plugin's.
        args = self._host_args(*(name for name in ARGUMENT_SPEC if name not in ACTION_OPTIONS))
        host = task_vars.get("inventory_hostname")
        if params["bundle_dir"]:
            args.update(rollout_arguments(params["bundle_dir"], host, self._task.check_mode) or {})
        # Each environment's own interpreter is surveyed in the same call (its python, from the inventory).
        args["interpreters"] = [{"name": name, "python": python}
                                for name, python in env_interpreters(host, task_vars).items()]
        result = self._run_on_host(MODULE, args, task_vars, ARGUMENT_SPEC, (_target_facts.__name__, "survey"))
        if result.get("failed") and str(result.get("msg", "")).startswith("environment "):
            result["msg"] = "host %s: %s" % (host, result["msg"])  # an environment's interpreter that does not run
        return result
