# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airgap.pymigrate.mirror_publish: publish an imported bundle into an inside package index, on the control node
(logic in plugin_utils/_mirror.py)."""

from __future__ import annotations

from ansible.utils.display import Display

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _mirror
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import ControllerActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import check_controller_libraries

display = Display()


class ActionModule(ControllerActionBase):

    ARGUMENT_SPEC = dict(
        bundle_dir=dict(type="path", required=True),
        kind=dict(type="str", required=True, choices=list(_mirror.KINDS)),
        path=dict(type="path"),
        url=dict(type="str"),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        locks_dir=dict(type="path"),
        timeout=dict(type="int", default=60),
    )

    def run_controller(self, params, task_vars):
        check_controller_libraries()
        settings = _mirror.MirrorSettings.from_params(params, check_mode=bool(self._task.check_mode))
        result = _mirror.publish(settings, progress=lambda line: display.display("pymigrate " + line))
        for name in result["locks_left_out"]:
            display.warning("mirror: lock %s is not written" % name)
        return result
