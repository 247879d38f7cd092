# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

# Documentation: bundle_host_files.yml, bundle_host_envs.yml, bundle_env_refs.yml, bundle_batch_images.yml and
# bundle_in_use.yml beside this file.
import os

from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError


def _host_slice(name, bundle_dir, host, check_mode, serial):
    """The host's slice, written once by the bundle build, for the serial the run pinned (not always the newest)."""
    if host is None:
        raise AnsibleFilterError("%s needs the host with a bundle directory" % name)
    return _manifest.host_slice(os.path.expanduser(bundle_dir), host, check_mode=bool(check_mode),
                                serial=_manifest.pinned_serial(serial))


def _pinned(name, manifest_or_envs, serial, found):
    """A parsed manifest (or environments) is one serial: refuse it when the run pinned another."""
    wanted = _manifest.pinned_serial(serial)
    if wanted is not None and found != wanted:
        raise AnsibleFilterError("%s: the run pinned bundle serial %s, but the %s given is serial %s"
                                 % (name, wanted, manifest_or_envs, found))


def _wrap(function, slice_key):
    def filter_function(manifest_or_bundle_dir, host, check_mode=False, serial=None):
        try:
            if isinstance(manifest_or_bundle_dir, str):
                # The host's slice: not the whole fleet's manifest for every host.
                return _host_slice(function.__name__, manifest_or_bundle_dir, host, check_mode, serial)[slice_key]
            if not isinstance(manifest_or_bundle_dir, dict):
                raise AnsibleFilterError("%s expects a bundle directory or a parsed bundle manifest (a dict), got %s"
                                         % (function.__name__, type(manifest_or_bundle_dir).__name__))
            _pinned(function.__name__, "manifest", serial, manifest_or_bundle_dir.get("serial"))
            return function(manifest_or_bundle_dir, host)
        except PyMigrateError as exc:
            raise AnsibleFilterError(str(exc))
        except KeyError as exc:
            raise AnsibleFilterError("bundle manifest lacks %s; is it a pymigrate bundle manifest?" % exc)
    return filter_function


def bundle_env_refs(envs_or_bundle_dir, host=None, check_mode=False, serial=None):
    try:
        if isinstance(envs_or_bundle_dir, str):
            envs = _host_slice("bundle_env_refs", envs_or_bundle_dir, host, check_mode, serial)["envs"]
        else:
            envs = envs_or_bundle_dir
            if not isinstance(envs, list) or not all(isinstance(env, dict) for env in envs):
                raise AnsibleFilterError("bundle_env_refs expects a bundle directory or the list bundle_host_envs "
                                         "returns, got %s" % type(envs).__name__)
            for env in envs:
                _pinned("bundle_env_refs", "environment %s" % env.get("name"), serial, env.get("serial"))
    except PyMigrateError as exc:
        raise AnsibleFilterError(str(exc))
    return _manifest.env_refs(envs)


def bundle_batch_images(bundle_dir, hosts, check_mode=False, serial=None):
    if not isinstance(bundle_dir, str):
        raise AnsibleFilterError("bundle_batch_images expects a bundle directory, got %s" % type(bundle_dir).__name__)
    try:
        return _manifest.batch_images(os.path.expanduser(bundle_dir), list(hosts), check_mode=bool(check_mode),
                                      serial=_manifest.pinned_serial(serial))
    except PyMigrateError as exc:
        raise AnsibleFilterError(str(exc))


def bundle_in_use(bundle_dir=None, import_dir=None):
    for name, value in (("bundle directory", bundle_dir), ("import directory", import_dir)):
        if value is not None and not isinstance(value, str):
            raise AnsibleFilterError("bundle_in_use expects the %s as a path, got %s" % (name, type(value).__name__))
    return _manifest.in_use(bundle_dir, import_dir)


class FilterModule:

    def filters(self):
        return {
            "bundle_host_files": _wrap(_manifest.host_files, "files"),
            "bundle_host_envs": _wrap(_manifest.host_envs, "envs"),
            "bundle_env_refs": bundle_env_refs,
            "bundle_batch_images": bundle_batch_images,
            "bundle_in_use": bundle_in_use,
        }
