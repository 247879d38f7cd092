# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airgap.pymigrate.migration_report: summary per host and fleet-wide (logic in module_utils/_report.py)."""

from __future__ import annotations

import json
import os

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import ControllerActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._report import fleet_summary, summary_lines


class ActionModule(ControllerActionBase):

    ARGUMENT_SPEC = dict(
        hosts=dict(type="list", elements="str", required=True),
        dest=dict(type="path", required=True),
    )

    def run_controller(self, params, task_vars):
        hostvars = task_vars.get("hostvars", {})
        summary = fleet_summary(params["hosts"], {host: hostvars.get(host, {}) for host in params["hosts"]})
        result = {"changed": False, "summary": summary, "summary_lines": summary_lines(summary),
                  "retry_file": os.path.join(params["dest"], "failed_hosts.retry"),
                  "summary_file": os.path.join(params["dest"], "summary.json")}
        if self._task.check_mode:
            return result
        try:
            os.makedirs(params["dest"], exist_ok=True)
            with open(result["summary_file"], "w") as handle:
                json.dump(summary, handle, indent=1, sort_keys=True)
            with open(result["retry_file"], "w") as handle:
                handle.write("".join(host + "\n" for host in summary["retry"]))
        except OSError as exc:
            raise PyMigrateError("cannot write the report into %s: %s" % (params["dest"], exc),
                                 var="pymigrate_report_dir",
                                 value=params["dest"])
        return result
