# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The install, skipped on the control node when this run already learnt that it has nothing to do.

The push's inventory call (or the survey's) reports each environment's state against its lock; when that says
the current generation holds this very lock unchanged, the host is not asked again: the result is the module's
no-op result, built from what the host said. Anything else (a new lock, drift, rollback) runs the module.
An environment of the image strategy (``image``) runs airgap.pymigrate.image_install instead: the same task
installs both kinds, one worker per host.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.airgap.pymigrate.plugins.module_utils._venv import _normalize as normalize_name

MODULE = "airgap.pymigrate.venv_install"
IMAGE_MODULE = "airgap.pymigrate.image_install"


def _lines(packages):
    return "".join("%s==%s\n" % item for item in sorted(packages.items()))


def known_result(known: dict | None, args: dict) -> dict | None:
    """The no-op result the module would return, when ``known`` shows the current generation holds the lock."""
    if not known or not known.get("current") or (args.get("state") or "present") != "present":
        return None
    if not args.get("lock_id") or known.get("lock_id") != args["lock_id"] or known.get("drift"):
        return None
    # No drift means the generation holds exactly the lock's distributions and versions (names as the module
    # normalises them), so nothing else needs to travel back from the host.
    installed = {normalize_name(str(item["name"])): str(item["version"]) for item in args.get("packages") or []}
    return {"changed": False, "generation": known.get("generation"), "previous_generation": None,
            "packages": installed, "installed": installed, "pip_ran": False, "drift": [],
            "changes": {"added": [], "removed": [], "upgraded": [], "downgraded": []},
            "msg": "the current generation holds this lock unchanged (checked earlier in this run)"}


class ActionModule(ActionBase):

    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        image, serial, engine = args.pop("image", None), args.pop("serial", None), args.pop("engine", None) or "auto"
        registry = args.pop("registry", None)
        if image:  # the image strategy: the environment is an image to load and switch, not a venv to build
            module_args = {"name": image["name"], "serial": serial, "image": image, "engine": engine,
                           "python": "%s/bin/python" % args["path"], "smoke_imports": args.get("smoke_imports") or [],
                           "store_dir": args.get("store_dir") or "/var/lib/pymigrate/store"}
            if registry:  # pulled from the registry inside the enclave, not loaded from the store
                module_args["registry"] = registry
            if (args.get("state") or "present") == "rollback":
                module_args = {"name": image["name"], "engine": engine, "state": "rollback"}
            result.update(self._execute_module(module_name=IMAGE_MODULE, module_args=module_args,
                                               task_vars=task_vars))
            return result
        known = known_result(args.pop("known_state", None), args)
        if known is not None:
            result.update(known)
            if self._task.diff:
                result["diff"] = {"before": _lines(known["installed"]), "after": _lines(known["packages"]),
                                  "before_header": "%s (before)" % args.get("path"),
                                  "after_header": "%s (after)" % args.get("path")}
            return result
        result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        return result
