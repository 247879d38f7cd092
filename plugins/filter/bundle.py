# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

# Documentation: bundle_host_files.yml and bundle_host_envs.yml beside this file.

from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.pymigrate.plugins.module_utils._bundle_view import (
    BundleViewError,
    host_envs,
    host_files,
)


def _wrap(function):
    def filter_function(manifest, host):
        if not isinstance(manifest, dict):
            raise AnsibleFilterError("%s expects a parsed bundle manifest (a dict), got %s"
                                     % (function.__name__, type(manifest).__name__))
        try:
            return function(manifest, host)
        except BundleViewError as exc:
            raise AnsibleFilterError(str(exc))
        except KeyError as exc:
            raise AnsibleFilterError("bundle manifest lacks %s; is it a pymigrate bundle manifest?" % exc)
    return filter_function


class FilterModule:

    def filters(self):
        return {
            "bundle_host_files": _wrap(host_files),
            "bundle_host_envs": _wrap(host_envs),
        }
