# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airgap.pymigrate.migration_report: the run's document per host and fleet-wide, kept per run, queryable with
JMESPath (logic in plugin_utils/_report.py and _query.py)."""

from __future__ import annotations

import json
import os
import uuid

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import write_atomic
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _query
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import ControllerActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError, format_time, utc_now
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._report import PHASES, fleet_summary, summary_lines

STARTED = "__pymigrate_started"  # set by the first task of each pymigrate playbook


class ActionModule(ControllerActionBase):

    ARGUMENT_SPEC = dict(
        hosts=dict(type="list", elements="str", required=True),
        dest=dict(type="path", required=True),
        document=dict(type="str", choices=["summary", "state"], default="summary"),
        playbook=dict(type="str", default=""),
        query=dict(type="str"),
    )

    def run_controller(self, params, task_vars):
        # Only what the phases registered, host by host: each host's full variables (every role default and
        # inventory var, templated on access) would otherwise be held for the whole fleet at once.
        every_host = task_vars.get("hostvars", {})
        wanted = [var for _phase, var in PHASES] + [STARTED]
        hostvars = {}
        for host in params["hosts"]:
            variables = every_host.get(host) or {}
            hostvars[host] = {var: variables[var] for var in wanted if var in variables}
        started = sorted(str(values[STARTED]) for values in hostvars.values() if values.get(STARTED))
        finished = format_time(utc_now())
        run = {"id": "%s-%s" % ((started[0] if started else finished).replace("-", "").replace(":", ""),
                                uuid.uuid4().hex[:6]),
               "playbook": params["playbook"], "started": started[0] if started else None, "finished": finished}
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
            self._write(params["dest"], run["id"], files)
        return result

    @staticmethod
    def _write(dest, run_id, files):
        """Into ``<dest>/<run id>/`` (kept), then the same files at ``<dest>/`` and ``latest`` -> this run."""
        try:
            os.makedirs(os.path.join(dest, run_id))
            for name, text in files.items():
                write_atomic(os.path.join(dest, run_id, name), text.encode("utf-8"))
                write_atomic(os.path.join(dest, name), text.encode("utf-8"))
            temp = os.path.join(dest, ".latest-%s" % run_id)
            os.symlink(run_id, temp)
            os.replace(temp, os.path.join(dest, "latest"))
        except OSError as exc:
            raise PyMigrateError("cannot write the report into %s: %s" % (dest, exc), var="pymigrate_report_dir",
                                 value=dest)
