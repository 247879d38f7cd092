# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airgap.pymigrate.rollout_hold: which hosts of the batch are held (the rollout skips them), and the holds
rollback.yml records when asked; on the control node, once per batch (logic in plugin_utils/_hold.py).

With ``settle``, also which hosts of the batch the survey of this run found settled (_settled.settled_by_survey):
decided here once for the batch, such a host costs the rollout no worker of its own - the push, which would decide
the same from the same answer, is never queued: the rollout ends the host before it. A later call for the same batch
(the install's hold task) keeps them; the report rebuilds those hosts' push results from the same survey answers
(_settled.push_results_from_hold)."""

from __future__ import annotations

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _hold, _manifest, _settled
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import ControllerActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError, format_time, utc_now
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._registered import HOLD, read
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._targets import REPORTED


class ActionModule(ControllerActionBase):

    ARGUMENT_SPEC = dict(
        hosts=dict(type="list", elements="str", required=True),
        dest=dict(type="path", required=True),
        state=dict(type="str", choices=["query", "recorded"], default="query"),
        reason=dict(type="str", default=""),
        playbook=dict(type="str", default=""),
        settle=dict(type="bool", default=False),
        bundle_dir=dict(type="path"),
        serial=dict(type="raw"),
        verify_installed=dict(type="str", choices=["size", "full"], default="size"),
        image_blobs=dict(type="bool", default=True),
    )
    REQUIRED_IF = [("settle", True, ["bundle_dir"])]

    def run_controller(self, params, task_vars):
        every_host = task_vars.get("hostvars", {})
        values = {host: (every_host.get(host) or {}).get(_hold.VAR) for host in params["hosts"]}
        recorded = _hold.read(params["dest"])
        held, lifted = _hold.decide(values, recorded)
        record = {}
        if params["state"] == "recorded":  # after a rollback: what it asked for stays after the variable goes
            since = format_time(utc_now())
            for host in sorted(values):
                value = _hold.hold_value(values[host], host)
                if value is True or isinstance(value, str):
                    reason = value if isinstance(value, str) else params["reason"] or "held after a rollback"
                    record[host] = {"reason": reason, "since": since, "playbook": params["playbook"] or None}
            held = {}
        result = {"changed": bool(record or lifted), "held": held, "lifted": lifted,
                  "recorded": {host: _hold.reason_text(host, None, item) for host, item in record.items()},
                  # (an earlier call for this batch: its hosts were ended, the report still reads them)
                  "settled": dict((task_vars.get(HOLD) or {}).get("settled") or {}),
                  "settled_serial": (task_vars.get(HOLD) or {}).get("settled_serial")}
        if params["settle"]:
            found, serial = self._settled(params, [host for host in values if host not in held], every_host)
            result["settled"].update(dict.fromkeys(found, True))
            result["settled_serial"] = serial if found else result["settled_serial"]
        result["batch_settled"] = bool(values) and all(host in result["settled"] for host in values)
        if result["changed"] and not self._task.check_mode:
            _hold.update(params["dest"], record, lifted)
        verb = "would be " if self._task.check_mode else ""
        result["msg"] = "; ".join(part for part in (
            "held (skipped): %s" % ", ".join(sorted(held)) if held else "",
            "%srecorded as held: %s" % (verb, ", ".join(sorted(record))) if record else "",
            "hold %slifted: %s" % (verb, ", ".join(lifted)) if lifted else "") if part) or "no host is held"
        return result

    def _settled(self, params, hosts, every_host):
        """(names, bundle serial) of the hosts the survey of this run found settled. Names only: this result is
        registered on every host of the batch, and each host's copy is templated whenever it is read (the report
        reads every host's), so a result per host here would cost the fleet's size squared."""
        found = []
        serial = None
        pinned = _manifest.pinned_serial(params["serial"])
        for host in hosts:
            try:
                host_slice = _manifest.host_slice(params["bundle_dir"], host, check_mode=self._task.check_mode,
                                                  serial=pinned)
            except PyMigrateError:
                continue  # a host the bundle does not cover (yet): its push says why
            if _settled.settled_by_survey(host_slice, read(every_host, host, REPORTED), params["verify_installed"],
                                          params["image_blobs"]) is not None:
                found.append(host)
                serial = host_slice["serial"]
        return found, serial
