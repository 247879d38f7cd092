# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # Standard attribute documentation; modules extend it with their own support levels.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description:
      Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
"""

    # For modules implemented (partly) as an action plugin on the control node.
    ACTION = r"""
options: {}
attributes:
  action:
    description:
      Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
"""

    # For modules that run entirely on the control node.
    CONTROLLER = r"""
options: {}
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: controller
"""

    # The host store and a list of its files, shared by wheel_push and wheel_store.
    STORE_FILES = r"""
options:
  store_dir:
    description: The content-addressed wheel store on the host.
    type: path
    default: /var/lib/pymigrate/store
  files:
    description:
      - The files concerned, usually computed from the bundle manifest with
        P(airgap.pymigrate.bundle_host_files#filter).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Store path, C(files/sha256/<2 hex>/<sha256>/<filename>).
        type: str
        required: true
      sha256:
        description: Expected sha256 hex digest.
        type: str
        required: true
      size:
        description: Expected size in bytes.
        type: int
        required: true
"""
