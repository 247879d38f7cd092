# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Push: one call learns what the host store lacks, one stream carries it, one call verifies it in.

Like ansible.builtin.copy it compares checksums before sending, but in batch: a per-file stat would be
about three round trips per file per host. The host's files come from its slice of the bundle manifest,
read here once; the host's environments are returned with the result for the install that follows.
"""

from __future__ import annotations

import os
import tarfile
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

MODULE = "airgap.pymigrate.wheel_store"


class ActionModule(ActionBase):

    TRANSFERS_FILES = True
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        bundle_dir = os.path.expanduser(str(args.pop("bundle_dir", "") or ""))
        host = args.pop("host", None) or (task_vars or {}).get("inventory_hostname")
        serial = args.pop("serial", None)
        if not bundle_dir or not os.path.isdir(bundle_dir):
            raise AnsibleActionFail("bundle_dir %r is not a directory on the control node; build or import "
                                    "a bundle first" % (bundle_dir,))
        if args.get("files") is None:
            try:
                manifest = _manifest.with_builds(bundle_dir, _manifest.read(
                    bundle_dir, check_mode=self._task.check_mode,
                    serial=int(serial) if serial not in (None, "") else None))
                args["files"] = _manifest.host_files(manifest, host)
                result.update(envs=_manifest.host_envs(manifest, host), serial=manifest.get("serial"))
                # The host checks each environment's path and interpreter in the same call, before any file moves.
                args["environments"] = [{"path": env["path"], "python": env["python"]} for env in result["envs"]]
            except PyMigrateError as exc:
                return dict(result, failed=True, msg=str(exc))

        listing = self._execute_module(module_name=MODULE, module_args=dict(args, state="inventory"),
                                       task_vars=task_vars)
        if listing.get("failed"):
            return dict(result, **listing)
        missing = listing["missing"] + [item["path"] for item in listing["corrupt"]]
        by_path = {item["path"]: item for item in args["files"]}
        sent_bytes = sum(int(by_path[path]["size"]) for path in missing)
        result.update(sent=missing, sent_bytes=sent_bytes, present=len(listing["present"]),
                      repaired=listing["corrupt"], changed=bool(missing) or bool(listing["removed_partials"]))
        if not missing or self._task.check_mode:
            return result

        stream_path = self._make_stream(bundle_dir, missing)
        try:
            remote_tmp = self._connection._shell.tmpdir or self._make_tmp_path()
            remote_stream = self._connection._shell.join_path(remote_tmp, "pymigrate-push.tar")
            self._transfer_file(stream_path, remote_stream)
            self._fixup_perms2((remote_tmp, remote_stream))
            received = self._execute_module(
                module_name=MODULE, task_vars=task_vars,
                module_args=dict(args, files=[by_path[path] for path in missing], state="received",
                                 src=remote_stream))
        finally:
            os.unlink(stream_path)
            self._remove_tmp_path(self._connection._shell.tmpdir)
        if received.get("failed"):
            received["sent"] = []
            return dict(result, **received)
        return result

    @staticmethod
    def _make_stream(bundle_dir, paths):
        """One tar of the missing store paths; wheels are compressed already, so no compression."""
        handle, stream_path = tempfile.mkstemp(prefix="pymigrate-push-", suffix=".tar")
        os.close(handle)
        try:
            with tarfile.open(stream_path, "w", format=tarfile.PAX_FORMAT) as tar:
                for path in paths:
                    source = os.path.join(bundle_dir, path)
                    if not os.path.isfile(source):
                        raise AnsibleActionFail("bundle %s lacks %s; rebuild or re-import the bundle"
                                                % (bundle_dir, path))
                    info = tar.gettarinfo(source, arcname=path)
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    with open(source, "rb") as data:
                        tar.addfile(info, data)
        except BaseException:
            os.unlink(stream_path)
            raise
        return stream_path
