#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: role_arguments
short_description: Check a role's variables for every host of the batch in one task
version_added: 0.1.0
description:
  - Runs on the control node (an action plugin). Reads one entry point of one of the collection's roles from its
    C(meta/argument_specs.yml) and validates, for each host of O(hosts), that host's values of the role's variables
    (inventory, group and host variables, extra vars; templated as the host sees them) with the validator Ansible's
    own role argument check uses.
  - Fails naming every host, variable and problem found (the first 20, and how many more).
  - "Why it exists - Ansible's own role argument check runs once per host, and each host's result carries the whole
    argument spec back to the controller, which keeps them all until the task ends. The collection's playbooks
    import the C(rollout) role with C(rolespec_validate: false) and run this once per batch instead
    (C(run_once: true)), which keeps the controller's memory per host small over hundreds of hosts."
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.ACTION
  - airgap.pymigrate._attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: Only reads variables.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Changes nothing.
options:
  role:
    description: The collection's roles whose variables are checked (a playbook that imports several checks them in
      one task).
    type: list
    elements: str
    required: true
    choices: [bundle, report, rollout]
  entry_point:
    description: The entry point of the role (its C(tasks_from)) whose options are checked.
    type: str
    default: main
  hosts:
    description: The hosts whose variables are checked, usually C(ansible_play_batch).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Check the rollout variables of every host of the batch (one task, not one per host)
  airgap.pymigrate.role_arguments:
    role: rollout
    hosts: "{{ ansible_play_batch }}"
  run_once: true

- name: Push and install, the arguments checked above
  ansible.builtin.import_role:
    name: airgap.pymigrate.rollout
    rolespec_validate: false
"""

RETURN = r"""
hosts:
  description: How many hosts were checked.
  returned: success
  type: int
  sample: 48
"""
