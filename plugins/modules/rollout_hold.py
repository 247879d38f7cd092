#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: rollout_hold
short_description: Say which hosts of the batch are held, or record the holds a rollback was asked for
version_added: 0.1.0
description:
  - Runs on the control node (an action plugin), once per batch. A host is held when its C(pymigrate_hold) (a host,
    group or extra variable) is V(true) or a reason (a text), or when a hold recorded in C(holds.json) in O(dest)
    stands for it (C(docs/hold-format.md)); C(pymigrate_hold=false) lifts a recorded hold.
  - O(state=query) (the rollout role, before the push) returns the held hosts with why (RV(held)); the rollout skips
    them and the report says they are held, and why. It lifts the recorded hold of every host whose
    C(pymigrate_hold) is V(false).
  - "With O(settle=true) (the rollout role's push, once per batch) it also says which hosts of the batch the survey
    of the same run found settled - the store holds the host's slice of the bundle in O(bundle_dir), every
    environment's current generation holds its lock, no environment marked absent is there (RV(settled)). The rollout
    ends those hosts without a push or install task of their own; the report rebuilds their push results from the
    same survey answers. A later call for the same batch keeps them."
  - O(state=recorded) (C(playbooks/rollback.yml), after the rollback) records a hold for every host whose
    C(pymigrate_hold) is V(true) or a reason, so that later runs skip it after the variable is gone, until a run
    lifts it with C(pymigrate_hold=false).
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.ACTION
  - airgap.pymigrate._attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: Says what it would record or lift, and writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details: Recording a hold again renews its time.
options:
  hosts:
    description: The hosts of the batch, usually C(ansible_play_batch).
    type: list
    elements: str
    required: true
  dest:
    description: The directory of the migration record on the control node (C(pymigrate_report_dir)), which holds
      C(holds.json).
    type: path
    required: true
  state:
    description: V(query) says which hosts are held; V(recorded) records the holds C(pymigrate_hold) asks for.
    type: str
    choices: [query, recorded]
    default: query
  reason:
    description: With O(state=recorded), the reason recorded for a host whose C(pymigrate_hold) is V(true).
    type: str
    default: ""
  playbook:
    description: With O(state=recorded), the playbook recorded as the one that set the hold.
    type: str
    default: ""
  settle:
    description: Also find the hosts the survey of this run found settled (RV(settled)); needs O(bundle_dir).
    type: bool
    default: false
  bundle_dir:
    description: With O(settle=true), the bundle the rollout deploys (each host's slice is read from it).
    type: path
  serial:
    description: With O(settle=true), the bundle serial the rollout is pinned to (unset - the newest).
    type: raw
  verify_installed:
    description: With O(settle=true), how the rollout checks installed files; the survey must have checked the same.
    type: str
    choices: [size, full]
    default: size
  image_blobs:
    description: With O(settle=true), whether the push sends image blobs (V(false) with a registry in the enclave).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Which hosts of the batch are held (the rollout skips them)
  airgap.pymigrate.rollout_hold:
    hosts: "{{ ansible_play_batch }}"
    dest: ~/.cache/airgap.pymigrate/reports
  run_once: true
  register: hold

- name: Keep the hosts just rolled back where they are (rollback.yml -e pymigrate_hold=true)
  airgap.pymigrate.rollout_hold:
    hosts: "{{ ansible_play_batch }}"
    dest: ~/.cache/airgap.pymigrate/reports
    state: recorded
    reason: rolled back after the failed upgrade of 2026-11-25
    playbook: rollback.yml
  run_once: true
"""

RETURN = r"""
held:
  description: The held hosts of O(hosts), each with why and how to lift the hold (empty with O(state=recorded)).
  returned: success
  type: dict
  sample: {web1: "held since 2026-11-25T15:01:02Z by rollback.yml: rolled back; lift it with pymigrate_hold: false"}
settled:
  description: The hosts the survey of this run found settled (O(settle)), each mapped to true; kept from an earlier
    call for the batch. Names only - this result is registered on every host of the batch - the report rebuilds
    their push results from the same survey answers. A mapping, so that a host's test
    (C(__pymigrate_hold.settled[inventory_hostname] | default(false))) costs one lookup, not a scan of the batch.
  returned: success
  type: dict
  sample: {web1: true, web2: true}
batch_settled:
  description: Whether every host of O(hosts) is in RV(settled) (the rollout then ends the batch in one step).
  returned: success
  type: bool
settled_serial:
  description: The bundle serial whose slices the hosts in RV(settled) hold.
  returned: success
  type: int
recorded:
  description: The hosts whose hold this task recorded, each with its text.
  returned: success
  type: dict
lifted:
  description: The hosts whose recorded hold this task lifted (C(pymigrate_hold=false)).
  returned: success
  type: list
  elements: str
msg:
  description: What the task found, recorded or lifted, by host name.
  returned: success
  type: str
"""
