# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Push: one call learns what the host store lacks, one stream carries it, one command verifies it in.

With a pipelining connection both calls are programs the host's Python reads from its standard input
(_hostprogram: ``_rollout_check.prepare_push``, then ``_store.receive_pushed``), not wheel_store as a module: a
module's start (its payload unpacked, Ansible's ``basic`` imported) is most of what a call costs a host. When the
stream is sent as the user the modules run as, the listing call also makes the stream's directory, and the receiver
removes it: no mkdir or rm of its own.

Like ansible.builtin.copy it compares checksums before sending, but in batch: a per-file stat would be
about three round trips per file per host. The host's files and environments come from its slice of the bundle
(written once by the bundle build). The first call (wheel_store, state=prepared) also asks each environment's state
against its lock; when the survey of the same run already asked it for the same slice, the host is not asked again.
The environments go back with the result, each with its ``known_state``, for the install that follows (which reads
the same slice itself and takes a ``known_state`` only when the ``slice_id`` is its own).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import tarfile

from ansible.utils.display import Display

from ansible_collections.airgap.pymigrate.plugins.module_utils import _rollout_check, _store
from ansible_collections.airgap.pymigrate.plugins.module_utils._rollout_check import (
    ENVIRONMENTS_ARGUMENT_SPEC,
    STORE_MODULE_ARGUMENT_SPEC,
)
from ansible_collections.airgap.pymigrate.plugins.module_utils._store import STORE_ARGUMENT_SPEC
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest, _settled, _transfer
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import HostActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

MODULE = "airgap.pymigrate.wheel_store"
display = Display()
# wheel_store's store options (files computed from the bundle unless given) and its check of the environments.
ARGUMENT_SPEC = dict(
    STORE_ARGUMENT_SPEC,
    files=dict(STORE_ARGUMENT_SPEC["files"], required=False),
    verify_installed=ENVIRONMENTS_ARGUMENT_SPEC["verify_installed"],
    bundle_dir=dict(type="path", required=True),
    host=dict(type="str"),
    serial=dict(type="raw"),  # pymigrate_bundle_serial, checked by _manifest.pinned_serial (naming it)
    image_blobs=dict(type="bool", default=True),
    ssh_compression=dict(type="bool", default=False),
)


class ActionModule(HostActionBase):

    # The remote temporary directory is made only when a stream is sent (HostActionBase._remote_tmp): a push with
    # nothing to send must not cost the host a mkdir and an rm.
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_host(self, params, task_vars):
        result: dict = {}
        bundle_dir = params["bundle_dir"]
        if not os.path.isdir(bundle_dir):
            raise PyMigrateError("bundle_dir %r is not a directory on the control node; build or import a bundle "
                                 "first" % (bundle_dir,))
        # wheel_store's own options as the task gave them: the module expands the store's path on the host.
        args = dict(self._host_args("store_dir", "verify_installed"), files=params["files"])
        skipped: set = set()
        host_slice = listing = None
        if params["files"] is None:
            host_slice = _manifest.host_slice(bundle_dir, params["host"] or task_vars.get("inventory_hostname"),
                                              check_mode=self._task.check_mode,
                                              serial=_manifest.pinned_serial(params["serial"]))
            # With a registry inside the enclave the hosts pull their images: their blobs are not sent.
            args["files"], skipped = _settled.pushed_files(host_slice, params["image_blobs"])
            # The host checks each environment's path and interpreter in the same call, before any file moves, and
            # says whether its current generation already holds the lock.
            # (An image environment's path is inside its image: the host has nothing there to check.)
            args["environments"] = [{"path": env["path"], "python": env["python"], "lock_id": env["lock_id"],
                                     "packages": env["packages"]} for env in host_slice["envs"]
                                    if env.get("strategy") != "image"]
            result.update(envs=host_slice["envs"], serial=host_slice["serial"], slice_id=host_slice["slice_id"])
            listing = _settled.surveyed_listing(task_vars, host_slice, params["verify_installed"])
            result["asked_host"] = listing is None
        if listing is None:
            prepare = dict(args, state="prepared")
            if not self._play_context.become:  # the stream is sent as the user the module runs as: it makes the dir
                prepare["stream_parent"] = self._connection._shell.get_option("remote_tmp")
            listing = self._run_on_host(MODULE, prepare, task_vars, STORE_MODULE_ARGUMENT_SPEC,
                                        (_rollout_check.__name__, "prepare_push"))
            if listing.get("failed"):
                return dict(result, **listing)
            result["asked_host"] = True
            if listing.get("stream_dir"):  # removed by the receiver, or when the action ends (_clean_up)
                self._connection._shell.tmpdir = listing["stream_dir"]
        # slice_id: the install takes an environment's known_state only from a push of the slice it reads.
        result.update(_settled.push_outcome(host_slice, args["files"], skipped, listing, task_vars))
        missing = result["sent"]
        by_path = {item["path"]: item for item in args["files"]}
        sent_bytes = result["sent_bytes"]
        if not missing or self._task.check_mode:
            return result

        display.display("pymigrate push: %s: sending %d file(s), %.1f MB, in one stream"
                        % (task_vars.get("inventory_hostname"), len(missing), sent_bytes / 1e6))
        stream_path = self._make_stream(bundle_dir, [by_path[path] for path in missing])
        remote_tmp = self._remote_tmp()
        remote_stream = self._connection._shell.join_path(remote_tmp, "pymigrate-push.tar")
        # Wheels are compressed already: SSH compression (Ansible's default -C) would only cost CPU at both ends.
        with contextlib.nullcontext() if params["ssh_compression"] else _transfer.without_compression(self._connection):
            self._transfer_file(stream_path, remote_stream)
        # Read, not run: no chmod u+x round trip (Ansible's default) unless another user must be let in.
        self._fixup_perms2((remote_tmp, remote_stream), execute=False)
        received = self._receive(listing.get("interpreter"), dict(args, files=[by_path[path] for path in missing],
                                                                  src=remote_stream), task_vars)
        if received.get("failed"):
            # Whatever went wrong, the next push writes the stream again rather than send the same bytes.
            _transfer.discard_stream(stream_path)
            received["sent"] = []
            return dict(result, **received)
        return result

    def _receive(self, python, args, task_vars):
        """The stream taken into the store: by ``_store.receive_pushed`` run as a program by ``python`` (the
        interpreter the host's modules run with) when the connection pipelines, else by wheel_store
        (state=received)."""
        if not python or not self._is_pipelining_enabled("new"):
            return self._execute_module(module_name=MODULE, module_args=dict(args, state="received"),
                                        task_vars=task_vars)
        params = dict(store_dir=args.get("store_dir", STORE_ARGUMENT_SPEC["store_dir"]["default"]), src=args["src"],
                      files=args["files"])
        received = self._run_program(shlex.quote(python), (_store.__name__, "receive_pushed"), params,
                                     {"store_dir": True}, "the push's receiver")
        if received.pop("removed_tmp", False):
            self._connection._shell.tmpdir = None  # the receiver removed it with the stream
        return received

    @staticmethod
    def _make_stream(bundle_dir, files):
        """One tar of the missing store files, written once for every host that lacks the same files
        (_transfer.shared_stream); wheels are compressed already, so no compression. A file the bundle lacks fails
        the push before anything is sent, whether or not a stream of it was written before."""
        sources = []
        for item in files:
            source = os.path.join(bundle_dir, item["path"])
            if not os.path.isfile(source):
                raise PyMigrateError("bundle %s lacks %s; rebuild or re-import the bundle" % (bundle_dir, item["path"]))
            sources.append((source, item["path"]))

        def write(stream_path):
            with tarfile.open(stream_path, "w", format=tarfile.PAX_FORMAT) as tar:
                for source, path in sources:
                    info = tar.gettarinfo(source, arcname=path)
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    with open(source, "rb") as data:
                        tar.addfile(info, data)
        return _transfer.shared_stream(_transfer.stream_key(files), write)
