#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: survey_file
short_description: Write the survey file that carries the hosts' target facts out of the enclave
version_added: 0.2.0
description:
  - Runs on the control node inside the enclave (an action plugin), after M(airgap.pymigrate.target_facts).
  - Writes the survey file O(dest) (C(docs/survey-format.md)) with the target facts of O(hosts) and, for delta
    archives, what the control node's bundle store O(store_dir) holds and the last serial it accepted.
  - Outside the enclave, P(airgap.pymigrate.bundle#role) resolves for the hosts it describes without contacting them
    (C(pymigrate_survey_file)), and M(airgap.pymigrate.bundle_archive) with
    O(airgap.pymigrate.bundle_archive#module:survey_file) leaves out of the archive what the inside store holds.
  - The file is written atomically, and only when its content changes.
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.ACTION
  - airgap.pymigrate._attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: Reports whether the file would change, without writing it.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  dest:
    description: The survey file to write on the control node (its directory is made when missing).
    type: path
    required: true
  hosts:
    description:
      - The hosts whose target facts go into the survey file, usually C(ansible_play_hosts); each must have run
        M(airgap.pymigrate.target_facts) in the play (its registered result C(__pymigrate_target_facts) or the fact
        C(pymigrate_target_facts)).
    type: list
    elements: str
    required: true
  store_dir:
    description:
      - The control node's bundle store inside the enclave (where M(airgap.pymigrate.bundle_archive) imports); it
        need not exist yet.
    type: path
    required: true
notes:
  - A host without target facts (unreachable during the survey, say) fails the task, naming the host; limit the play
    to the hosts that answered.
"""

EXAMPLES = r"""
- name: Collect target facts
  airgap.pymigrate.target_facts:
    store_dir: /var/lib/pymigrate/store
  register: __pymigrate_target_facts

- name: Write the survey file on the control node
  airgap.pymigrate.survey_file:
    dest: /media/usb/survey.json
    hosts: "{{ ansible_play_hosts }}"
    store_dir: /srv/pymigrate/import
  run_once: true
"""

RETURN = r"""
survey_file:
  description: The survey file written (or that would be written in check mode).
  returned: success
  type: str
  sample: /media/usb/survey.json
hosts:
  description: The hosts in the survey file.
  returned: success
  type: list
  elements: str
  sample: [web1, web2]
store_have:
  description: sha256 of every file in the control node's bundle store.
  returned: success
  type: list
  elements: str
  sample: []
accepted_serial:
  description: The last serial the bundle store accepted, or null.
  returned: success
  type: int
  sample: 6
bytes:
  description: The survey file's size in bytes (null when it was not written, in check mode).
  returned: success
  type: int
msg:
  description: One line - where the file is, its size, how many hosts, and the serial the inside holds.
  returned: success
  type: str
"""
