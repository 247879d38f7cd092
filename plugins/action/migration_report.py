# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airgap.pymigrate.migration_report: the run's document per host and fleet-wide, kept per run, queryable with
JMESPath (logic in plugin_utils/_report.py and _query.py)."""

from __future__ import annotations

import json
import os

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _query
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import ControllerActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._registered import STARTED
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._report import (
    PHASES,
    fleet_summary,
    new_run,
    registered_vars,
    summary_lines,
    write_run_files,
)


class ActionModule(ControllerActionBase):

    ARGUMENT_SPEC = dict(
        hosts=dict(type="list", elements="str", required=True),
        dest=dict(type="path", required=True),
        document=dict(type="str", choices=["summary", "state"], default="summary"),
        playbook=dict(type="str", default=""),
        query=dict(type="str"),
    )

    def run_controller(self, params, task_vars):
        hostvars = registered_vars(task_vars.get("hostvars", {}), params["hosts"],
                                   [var for _phase, var in PHASES] + [STARTED])
        run = new_run((values.get(STARTED) for values in hostvars.values()), params["playbook"])
        summary = fleet_summary(params["hosts"], hostvars, run)
        result = {"changed": False, "summary": summary, "summary_lines": summary_lines(summary),
                  "run_dir": os.path.join(params["dest"], run["id"]),
                  "summary_file": os.path.join(params["dest"], params["document"] + ".json"),
                  "retry_file": os.path.join(params["dest"], "failed_hosts.retry")}
        files = {params["document"] + ".json": json.dumps(summary, indent=1, sort_keys=True) + "\n",
                 "failed_hosts.retry": "".join(host + "\n" for host in summary["retry"])}
        if params["query"]:
            result["query_result"] = _query.evaluate(params["query"], summary)
            files["query.json"] = json.dumps({"query": params["query"], "result": result["query_result"]},
                                             indent=1, sort_keys=True) + "\n"
        if not self._task.check_mode:
            write_run_files(params["dest"], run["id"], files)
        return result
