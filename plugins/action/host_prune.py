# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Removal, its arguments read from the host's slice of the bundle: the environments the inventory marks absent, the
environments that stay and the files the slice needs. A host with nothing to remove (nothing absent in its slice, or
the survey of this run found nothing of it there) and a store that keeps every file is not contacted."""

from __future__ import annotations

import os

from ansible_collections.airgap.pymigrate.plugins.module_utils._prune import ARGUMENT_SPEC
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import HostActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._settled import found_by_survey

MODULE = "airgap.pymigrate.host_prune"
# What the host's slice gives with bundle_dir: the task must not give them too.
SLICE_ARGS = ("environments", "absent", "keep_files")


class ActionModule(HostActionBase):

    ARGUMENT_SPEC = ARGUMENT_SPEC  # the module's own: checked here before the host is contacted

    def run_host(self, params, task_vars):
        args = self._host_args("store_dir", "store_keep", "lock_timeout", *SLICE_ARGS)
        if not params["bundle_dir"]:
            return self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
        given = sorted(key for key in SLICE_ARGS if key in self._task.args)
        if given:
            raise PyMigrateError("host_prune: %s come(s) from the host's slice of the bundle with bundle_dir"
                                 % ", ".join(given))
        bundle_dir = os.path.expanduser(params["bundle_dir"])
        host_slice = _manifest.host_slice(bundle_dir, task_vars.get("inventory_hostname"),
                                          check_mode=self._task.check_mode,
                                          serial=_manifest.pinned_serial(params["serial"]))
        absent = list(host_slice.get("absent") or [])
        result = {"changed": False, "removed": [], "pruned": [], "pruned_bytes": 0, "asked_host": False}
        if params["store_keep"] == "all" and (not absent or found_by_survey(task_vars, host_slice) == []):
            return result
        args.update(environments=[env["path"] for env in host_slice["envs"] if env.get("strategy") != "image"],
                    absent=absent, keep_files=[item["path"] for item in host_slice["files"]])
        result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars),
                      asked_host=True)
        return result
