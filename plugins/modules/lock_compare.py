#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: lock_compare
short_description: Say how the lock a bundle carries differs from the lock an inventory holds
version_added: 0.1.0
description:
  - Runs on the control node (an action plugin). Reads the lock a bundle carries (C(<bundle_dir>/lock/), written by
    the bundle build, carried across the gap in the signed archive) and the lock directory of this inventory
    (C(docs/lock-format.md)), and says per host environment what differs - versions added, removed, upgraded or
    downgraded from the bundle's lock to the inventory's, and environments only one of them has.
  - C(playbooks/deploy.yml) runs it inside the enclave after the import, when the inside inventory holds a lock, so
    that what is deployed can be checked against the reviewed lock of the inside.
  - Each difference is shown as a line of its own, and a warning says that the locks differ.
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.ACTION
  - airgap.pymigrate._attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: Only reads.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Changes nothing.
options:
  bundle_dir:
    description: The bundle (or imported bundle, C(<import dir>/current)) whose lock is compared.
    type: path
    required: true
  lock_dir:
    description:
      - The inventory's lock directory; not given, C(.pymigrate-lock) in the directory of the first inventory source.
    type: path
  fail_on_difference:
    description: Fail when the locks differ (instead of warning).
    type: bool
    default: false
seealso:
  - module: airgap.pymigrate.bundle
"""

EXAMPLES = r"""
- name: Say how the imported bundle's lock differs from the inside inventory's
  airgap.pymigrate.lock_compare:
    bundle_dir: ~/.cache/airgap.pymigrate/import/current
    lock_dir: "{{ inventory_dir }}/.pymigrate-lock"
  run_once: true
"""

RETURN = r"""
compared:
  description: Whether both locks were there to compare (false when the bundle carries none or the directory holds
    none; C(msg) says which).
  returned: always
  type: bool
same:
  description: Whether the two locks give every environment the same versions.
  returned: when compared
  type: bool
changes:
  description: Per host environment found in both, what changes from the bundle's lock to the inventory's.
  returned: when compared
  type: dict
  sample: {"web1:default": {added: [], removed: [], upgraded: ["requests 2.31.0 -> 2.32.3"], downgraded: []}}
only_carried:
  description: Host environments only the bundle's lock has.
  returned: when compared
  type: list
  elements: str
only_inventory:
  description: Host environments only the inventory's lock has.
  returned: when compared
  type: list
  elements: str
lines:
  description: One line per difference, as the warnings say it.
  returned: when compared
  type: list
  elements: str
"""
