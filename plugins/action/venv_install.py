# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The install of one environment, its arguments read from the host's slice of the bundle.

Given ``bundle_dir`` and the environment's ``name`` (what the rollout passes), the action reads the host's slice of
the bundle for the serial the run pinned, as the push does, and takes the environment's path, interpreter, lock,
installer, smoke imports and image from it: nothing per environment travels through Jinja or another task's result.
(Given ``path`` and a lock instead, it installs what it is given.)

The push of the same run (its registered result, ``_registered.PUSH``) reports each environment's state against its
lock; when that push read this very slice (the same ``slice_id``) and says the current generation holds the lock
unchanged, the host is not asked again: the result is the module's no-op result, built from what the host said.
Anything else (another slice, a new lock, drift, rollback, no push in this run) runs the module.
An environment of the image strategy (``image``) runs airgap.pymigrate.image_install instead: the same task
installs both kinds, one worker per host.
"""

from __future__ import annotations

import os
import typing as t

from ansible.utils.display import Display

from ansible_collections.airgap.pymigrate.plugins.module_utils import _rollout_check
from ansible_collections.airgap.pymigrate.plugins.module_utils._rollout_check import INSTALL_ARGUMENT_SPEC
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import HostActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._registered import PUSH
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._settled import known_result, pushed_state

MODULE = "airgap.pymigrate.venv_install"
display = Display()
IMAGE_MODULE = "airgap.pymigrate.image_install"
# What the host's slice gives each environment's install; with bundle_dir the task must not give them too.
SLICE_ARGS = ("path", "python", "packages", "installer", "lock_id", "smoke_imports", "image")


def _lines(packages):
    return "".join("%s==%s\n" % item for item in sorted(packages.items()))


def slice_args(env: t.Mapping) -> dict:
    """The module arguments of one environment of a host's slice (``_manifest.host_envs``)."""
    args = {"path": env["path"], "packages": env["packages"], "installer": env["installer"],
            "lock_id": env["lock_id"], "smoke_imports": env.get("smoke_imports") or [], "serial": env.get("serial")}
    if env.get("python"):
        args["python"] = env["python"]
    if env.get("image"):
        args["image"] = env["image"]
    return args


class ActionModule(HostActionBase):

    # The module's options, validated here before the host is contacted; serial as pymigrate_bundle_serial holds it
    # (checked by _manifest.pinned_serial, naming it).
    ARGUMENT_SPEC = dict(INSTALL_ARGUMENT_SPEC, serial=dict(type="raw"))

    def run_host(self, params, task_vars):
        result: dict = {}
        args = dict(self._task.args)  # the task's own values go to the module: paths are expanded on the host
        known = None
        if params["bundle_dir"] is not None or params["name"] is not None:
            env, known = self._from_slice(args, task_vars)
            result["environment"] = _manifest.env_refs([env])[0]
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
        if serial is not None:  # recorded in a new generation (a rollback names it)
            args["serial"] = serial
        known = known_result(known, args)
        if known is not None:
            result.update(known)
            if self._task.diff:
                result["diff"] = {"before": _lines(known["installed"]), "after": _lines(known["packages"]),
                                  "before_header": "%s (before)" % args.get("path"),
                                  "after_header": "%s (after)" % args.get("path")}
            return result
        if (args.get("state") or "present") == "present" and not self._task.check_mode:
            display.display("pymigrate install: %s: %s (%d package(s)), a new generation unless it holds its lock"
                            % (task_vars.get("inventory_hostname"), args.get("path"), len(args.get("packages") or [])))
        if self._task.diff:  # the module makes the diff
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
            return result
        installed = self._run_on_host(MODULE, args, task_vars, INSTALL_ARGUMENT_SPEC,
                                      (_rollout_check.__name__, "install"))
        installed.pop("before", None)
        result.update(installed)
        return result

    def _from_slice(self, args: dict, task_vars: t.Mapping) -> tuple:
        """(environment, the push's known state or None): ``args`` take the environment's arguments from the host's
        slice of the bundle, for the serial the run pinned (``serial``; unset, the newest)."""
        bundle_dir, name = args.pop("bundle_dir", None), args.pop("name", None)
        if not bundle_dir or not name:
            raise PyMigrateError("venv_install: bundle_dir and name go together (the environment %s of the host's "
                                 "slice of the bundle %s)" % (name, bundle_dir))
        given = sorted(key for key in SLICE_ARGS if key in args)
        if given:
            raise PyMigrateError("venv_install: %s come(s) from the host's slice of the bundle with bundle_dir; give "
                                 "either bundle_dir and name, or the environment's own arguments" % ", ".join(given))
        bundle_dir = os.path.expanduser(str(bundle_dir))
        if not os.path.isdir(bundle_dir):
            raise PyMigrateError("bundle_dir %r is not a directory on the control node" % (bundle_dir,),
                                 hint="Build or import a bundle first")
        # A rollback goes back to what the host holds: never read from a check-mode build's proposal.
        proposal = bool(self._task.check_mode) and (args.get("state") or "present") == "present"
        host_slice = _manifest.host_slice(bundle_dir, task_vars.get("inventory_hostname"), check_mode=proposal,
                                          serial=_manifest.pinned_serial(args.pop("serial", None)))
        env = _manifest.slice_env(host_slice, str(name))
        args.update(slice_args(env))
        return env, pushed_state(task_vars.get(PUSH), host_slice, env["name"])
