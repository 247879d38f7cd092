# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Push: one call learns what the host store lacks, one stream carries it, one call verifies it in.

Like ansible.builtin.copy it compares checksums before sending, but in batch: a per-file stat would be
about three round trips per file per host. The host's files and environments come from its slice of the bundle
(written once by the bundle build). The inventory call also asks each environment's state against its lock; when
the survey of the same run already asked it for the same slice, the host is not asked again. The environments go
back with the result, each with its ``known_state``, for the install that follows.
"""

from __future__ import annotations

import contextlib
import os
import tarfile
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest, _transfer
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._registered import TARGET_FACTS

MODULE = "airgap.pymigrate.wheel_store"


class ActionModule(ActionBase):

    # The remote temporary directory is made only when a stream is sent (below): a push with nothing to send must
    # not cost the host a mkdir and an rm (ActionBase makes one up front for actions that transfer files).
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        bundle_dir = os.path.expanduser(str(args.pop("bundle_dir", "") or ""))
        host = args.pop("host", None) or (task_vars or {}).get("inventory_hostname")
        serial = args.pop("serial", None)
        try:
            image_blobs = boolean(args.pop("image_blobs", True))
            compression = boolean(args.pop("ssh_compression", False))
        except TypeError as exc:
            return dict(result, failed=True, msg="wheel_push: %s (image_blobs and ssh_compression take true or false)"
                        % exc)
        skipped: set = set()
        if not bundle_dir or not os.path.isdir(bundle_dir):
            raise AnsibleActionFail("bundle_dir %r is not a directory on the control node; build or import "
                                    "a bundle first" % (bundle_dir,))
        envs = None
        if args.get("files") is None:
            try:
                host_slice = _manifest.host_slice(bundle_dir, host, check_mode=self._task.check_mode,
                                                  serial=int(serial) if serial not in (None, "") else None)
            except PyMigrateError as exc:
                return dict(result, failed=True, msg=str(exc))
            args["files"], envs = host_slice["files"], host_slice["envs"]
            if not image_blobs:  # the hosts pull their images from the registry inside the enclave
                skipped = {blob["path"] for env in envs if env.get("image") for blob in env["image"]["blobs"]}
                args["files"] = [item for item in args["files"] if item["path"] not in skipped]
            result.update(envs=envs, serial=host_slice["serial"])
            # The host checks each environment's path and interpreter in the same call, before any file moves, and
            # says whether its current generation already holds the lock.
            # (An image environment's path is inside its image: the host has nothing there to check.)
            args["environments"] = [{"path": env["path"], "python": env["python"], "lock_id": env["lock_id"],
                                     "packages": env["packages"]} for env in envs if env.get("strategy") != "image"]
            listing = self._surveyed(task_vars, host_slice, args.get("verify_installed") or "size")
            if listing is not None:
                result["asked_host"] = False
        if result.get("asked_host") is not False:
            listing = self._execute_module(module_name=MODULE, module_args=dict(args, state="inventory"),
                                           task_vars=task_vars)
            if listing.get("failed"):
                return dict(result, **listing)
            result["asked_host"] = True
        if envs is not None:
            states = {state["path"]: state for state in listing.get("environments") or []}
            for env in envs:
                if env["path"] in states and env.get("strategy") != "image":
                    env["known_state"] = states[env["path"]]
        missing = [path for path in listing["missing"] + [item["path"] for item in listing["corrupt"]]
                   if path not in skipped]  # (the survey's answer covers the whole slice)
        by_path = {item["path"]: item for item in args["files"]}
        sent_bytes = sum(int(by_path[path]["size"]) for path in missing)
        present = listing["present"]
        present = present if isinstance(present, int) else len(present)  # the survey's answer counts them
        result.update(sent=missing, sent_bytes=sent_bytes, present=present,
                      repaired=listing["corrupt"], changed=bool(missing) or bool(listing["removed_partials"]))
        if not missing or self._task.check_mode:
            return result

        stream_path = self._make_stream(bundle_dir, missing)
        try:
            remote_tmp = self._connection._shell.tmpdir or self._make_tmp_path()
            remote_stream = self._connection._shell.join_path(remote_tmp, "pymigrate-push.tar")
            # Wheels are compressed already: SSH compression (Ansible's default -C) would only cost CPU at both ends.
            with contextlib.nullcontext() if compression else _transfer.without_compression(self._connection):
                self._transfer_file(stream_path, remote_stream)
            # Read, not run: no chmod u+x round trip (Ansible's default) unless another user must be let in.
            self._fixup_perms2((remote_tmp, remote_stream), execute=False)
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
    def _surveyed(task_vars, host_slice, verify):
        """The survey's answer for this very slice, checked the same way, from this run (else None: ask the host)."""
        check = ((task_vars or {}).get(TARGET_FACTS) or {}).get("rollout_check") or {}
        if check.get("error") or check.get("slice_id") != host_slice["slice_id"] or check.get("verify") != verify:
            return None
        if any(state.get("error") for state in check.get("environments") or []):
            return None  # the inventory call refuses it, before any file moves, with the reason
        return dict(check["store"], environments=check.get("environments") or [])

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
