# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build on a builder host: send the sdist, its build requirements and pip; build there; bring the wheel back.

Runs with ``delegate_to`` the builder; the bundle directory is on the control node. The wheel is verified by the
hash the builder reported before it enters the store, then recorded for the bundle's next pass
(plugin_utils/_build.py reads the record).
"""

from __future__ import annotations

import os

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import (
    StoreError,
    check_relpath,
    file_sha256,
    store_relpath,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import HostActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._build import built_wheels, record_built_wheel
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

MODULE = "airgap.pymigrate.wheel_build"
ARGUMENT_SPEC = dict(bundle_dir=dict(type="path", required=True), build=dict(type="dict", required=True),
                     timeout=dict(type="int", default=600))
NOT_AN_ENTRY = "build is not an entry of the bundle's pending_builds: %s"


class ActionModule(HostActionBase):

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_host(self, params, task_vars):
        bundle_dir, build = params["bundle_dir"], params["build"]
        if self._task.check_mode:
            return dict(changed=False, skipped=True, msg="builds do not run in check mode")
        try:
            made = [wheel for wheel in built_wheels(bundle_dir, build["sdist_sha256"])
                    if wheel["builder"] == build["builder"]
                    and os.path.isfile(os.path.join(bundle_dir, store_relpath(wheel["sha256"], wheel["filename"])))]
        except (KeyError, TypeError, StoreError) as exc:
            raise PyMigrateError(NOT_AN_ENTRY % exc)
        if made:  # built before (an earlier deploy of the same sdist): the same wheel again, no rebuild
            return dict(changed=False, wheel=made[-1])
        try:
            sources = [build["sdist"], build["pip"]] + list(build.get("build_files") or [])
            for relpath in sources:
                check_relpath(relpath)
        except (KeyError, TypeError, StoreError) as exc:
            raise PyMigrateError(NOT_AN_ENTRY % exc)
        for relpath in sources:
            if not os.path.isfile(os.path.join(bundle_dir, relpath)):
                raise PyMigrateError("bundle %s lacks %s; run the bundle again" % (bundle_dir, relpath))
        remote_tmp = self._remote_tmp()
        remote = {}
        for relpath in sources:
            remote[relpath] = self._connection._shell.join_path(remote_tmp, os.path.basename(relpath))
            self._transfer_file(os.path.join(bundle_dir, relpath), remote[relpath])
        self._fixup_perms2([remote_tmp] + list(remote.values()))
        built = self._execute_module(module_name=MODULE, task_vars=task_vars, module_args=dict(
            python=build["python"], pip_wheel=remote[build["pip"]], sdist=remote[build["sdist"]],
            find_links=remote_tmp, isolated=bool(build.get("isolated")), timeout=params["timeout"]))
        if built.get("failed"):
            log = self._fetch_log(built.get("log"), bundle_dir, build)
            raise PyMigrateError("builder %s: %s%s" % (build["builder"], built.get("msg"),
                                                       "; the build log is %s" % log if log else ""))
        wheel = built["wheel"]
        local = self._local_temp(prefix="pymigrate-built-", suffix=".whl")
        self._connection.fetch_file(wheel["path"], local)
        if file_sha256(local) != wheel["sha256"]:
            raise PyMigrateError("the wheel fetched from builder %s does not match the sha256 it reported"
                                 % build["builder"])
        return dict(changed=True, wheel=record_built_wheel(bundle_dir, build, wheel["filename"], local))

    def _fetch_log(self, remote_log, bundle_dir, build):
        """The builder's log, brought into the bundle's .build-logs/; None when it cannot be had."""
        if not remote_log:
            return None
        local = os.path.join(bundle_dir, ".build-logs", "%s.%s.log" % (build["filename"], build["builder"]))
        try:
            os.makedirs(os.path.dirname(local), exist_ok=True)
            self._connection.fetch_file(remote_log, local)
        except Exception:  # pylint: disable=broad-except  # a lost log must not hide the build's own error
            return None
        return local
