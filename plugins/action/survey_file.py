# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airgap.pymigrate.survey_file: the survey file, written inside the enclave from the hosts' target facts and the
control node's bundle store (format and its only reader and writer in plugin_utils/_survey.py)."""

from __future__ import annotations

import os

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _archive, _survey
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import ControllerActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._targets import host_facts


class ActionModule(ControllerActionBase):

    ARGUMENT_SPEC = dict(
        dest=dict(type="path", required=True),
        hosts=dict(type="list", elements="str", required=True),
        store_dir=dict(type="path", required=True),
    )

    def run_controller(self, params, task_vars):
        """Each host's target facts and store have-list, and the control node's store; written when it changed."""
        hostvars = task_vars.get("hostvars", {})
        facts = {host: host_facts(hostvars, host) for host in params["hosts"]}
        for host, found in facts.items():
            if not found:
                raise PyMigrateError("no target facts; run airgap.pymigrate.target_facts on it first", host=host)
        store = params["store_dir"]
        survey = _survey.build(facts, _archive.read_have_list(store),
                               _archive.read_accepted(store).get("serial") if os.path.isdir(store) else None)
        try:
            changed = _survey.read(params["dest"]) != survey
        except PyMigrateError:  # none yet, or not a survey file: written anew
            changed = True
        if changed and not self._task.check_mode:
            _survey.write(params["dest"], survey)
        written = os.path.getsize(params["dest"]) if os.path.isfile(params["dest"]) else None
        accepted = survey["controller"].get("accepted_serial")
        msg = "%s%s: %d host(s), %s; the control node's store %s holds %s (%d file(s) the outside need not send)" % (
            "check mode: would write " if self._task.check_mode and changed else "", params["dest"], len(facts),
            "%.1f KB" % (written / 1e3) if written is not None else "not written",
            store, "bundle serial %s" % accepted if accepted is not None else "no bundle yet",
            len(survey["controller"].get("store_have") or []))
        return dict(survey["controller"], changed=changed, survey_file=params["dest"], hosts=sorted(facts),
                    bytes=written, msg=msg)
