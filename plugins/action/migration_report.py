# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airgap.pymigrate.migration_report: the run's document per host and fleet-wide, kept per run in the migration
record (its page, Markdown twin, index and host histories), queryable with JMESPath (logic in plugin_utils/_report.py,
_record.py and _query.py)."""

from __future__ import annotations

import getpass
import json
import os
import socket

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _query, _record, _report, _sbom, _settled
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import ControllerActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._registered import BUNDLE, STARTED


def run_user(task_vars: dict) -> str:
    """Who ran it: the AWX user and job when AWX runs it (its extra vars say so), else user@control node."""
    awx_user = task_vars.get("awx_user_name") or task_vars.get("tower_user_name")
    if awx_user:
        job = task_vars.get("awx_job_id") or task_vars.get("tower_job_id")
        return "%s (AWX job %s)" % (awx_user, job) if job else str(awx_user)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "uid %d" % os.getuid()
    return "%s@%s" % (user, socket.gethostname())


class ActionModule(ControllerActionBase):

    ARGUMENT_SPEC = dict(
        hosts=dict(type="list", elements="str"),
        dest=dict(type="path", required=True),
        document=dict(type="str", choices=["summary", "state"], default="summary"),
        playbook=dict(type="str", default=""),
        query=dict(type="str"),
        bundle_dir=dict(type="path"),
        keep=dict(type="raw", default=100),
    )

    def run_controller(self, params, task_vars):
        every_host = task_vars.get("hostvars", {})
        hosts = params["hosts"]
        if hosts is None:
            hosts = _report.run_hosts(every_host, (task_vars.get("groups") or {}).get("all") or [],
                                      task_vars.get("ansible_play_hosts_all") or [])
        _record.keep_policy(params["keep"])  # a wrong value fails before anything is written
        hostvars = _report.registered_vars(every_host, hosts, _report.READ + (BUNDLE,))
        # Hosts the rollout ended before the push (the survey found them settled): their push as the push would say.
        _settled.push_results_from_hold(hostvars, params["bundle_dir"], check_mode=bool(self._task.check_mode))
        run = _report.new_run((values.get(STARTED) for values in hostvars.values()), params["playbook"])
        run.update(document=params["document"], check_mode=bool(self._task.check_mode), user=run_user(task_vars),
                   lock_changes=next((_report.lock_changes(v[BUNDLE]) for v in hostvars.values() if BUNDLE in v), {}),
                   page=None if self._task.check_mode else os.path.join(params["dest"], run["id"], "report.html"))
        summary = _report.fleet_summary(hosts, hostvars, run)
        _report.add_known(summary, _sbom.read_facts(params["bundle_dir"]) if params["bundle_dir"] else {})
        lines = _report.summary_lines(summary)
        result = {"changed": False, "summary": summary, "summary_lines": lines,
                  "run_dir": os.path.join(params["dest"], run["id"]),
                  "summary_file": os.path.join(params["dest"], params["document"] + ".json"),
                  "retry_file": os.path.join(params["dest"], "failed_hosts.retry"), "page": run["page"]}
        files = {params["document"] + ".json": json.dumps(summary, indent=1, sort_keys=True) + "\n",
                 "failed_hosts.retry": "".join(host + "\n" for host in summary["retry"])}
        if params["query"]:
            result["query_result"] = _query.evaluate(params["query"], summary)
            files["query.json"] = json.dumps({"query": params["query"], "result": result["query_result"]},
                                             indent=1, sort_keys=True) + "\n"
        # The job's artifacts, as ansible.builtin.set_stats publishes them (AWX keeps them): returned here, the
        # strategy publishes them without a task of their own.
        artifacts = {"pymigrate_" + params["document"]: summary}
        if "query_result" in result:
            artifacts["pymigrate_query_result"] = result["query_result"]
        result["ansible_stats"] = {"data": artifacts, "per_host": False, "aggregate": True}
        if not self._task.check_mode:
            written = _record.write(params["dest"], summary, files, params["keep"])
            result["index"] = written["index"]
            lines.append("the run's page: %s (every run: %s)" % (written["page"], written["index"]))
        return result
