# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

# Documentation: bundle_host_files.yml, bundle_host_envs.yml, bundle_env_refs.yml and bundle_batch_images.yml beside
# this file.
import os

from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError


def _wrap(function, slice_key):
    def filter_function(manifest_or_bundle_dir, host, check_mode=False):
        try:
            if isinstance(manifest_or_bundle_dir, str):
                # The host's slice, written once by the bundle build: not the whole fleet's manifest for every host.
                bundle_dir = os.path.expanduser(manifest_or_bundle_dir)
                return _manifest.host_slice(bundle_dir, host, check_mode=check_mode)[slice_key]
            if not isinstance(manifest_or_bundle_dir, dict):
                raise AnsibleFilterError("%s expects a bundle directory or a parsed bundle manifest (a dict), got %s"
                                         % (function.__name__, type(manifest_or_bundle_dir).__name__))
            return function(manifest_or_bundle_dir, host)
        except PyMigrateError as exc:
            raise AnsibleFilterError(str(exc))
        except KeyError as exc:
            raise AnsibleFilterError("bundle manifest lacks %s; is it a pymigrate bundle manifest?" % exc)
    return filter_function


def bundle_env_refs(envs):
    if not isinstance(envs, list) or not all(isinstance(env, dict) for env in envs):
        raise AnsibleFilterError("bundle_env_refs expects the list bundle_host_envs returns, got %s"
                                 % type(envs).__name__)
    return _manifest.env_refs(envs)


def bundle_batch_images(bundle_dir, hosts, check_mode=False, serial=None):
    if not isinstance(bundle_dir, str):
        raise AnsibleFilterError("bundle_batch_images expects a bundle directory, got %s" % type(bundle_dir).__name__)
    try:
        return _manifest.batch_images(os.path.expanduser(bundle_dir), list(hosts), check_mode=bool(check_mode),
                                      serial=int(serial) if serial not in (None, "") else None)
    except PyMigrateError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule:

    def filters(self):
        return {
            "bundle_host_files": _wrap(_manifest.host_files, "files"),
            "bundle_host_envs": _wrap(_manifest.host_envs, "envs"),
            "bundle_env_refs": bundle_env_refs,
            "bundle_batch_images": bundle_batch_images,
        }
