#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: migration_report
short_description: Summarise a run, or the fleet's state, per host and fleet-wide; keep it per run; query it
version_added: 0.1.0
description:
  - Runs on the control node (an action plugin) after the rollout. Reads what each phase registered on each host
    (C(__pymigrate_target_facts), C(__pymigrate_push), C(__pymigrate_verify), C(__pymigrate_install),
    C(__pymigrate_state), as the rollout role registers them) and reports, per host, its status (V(ok), V(changed),
    V(failed) or V(unreachable)) judged by the phases this run ran, the phase it reached, files sent, and per
    environment the generation, lock id, bundle serial, packages, package changes by name and drift found.
  - Writes the document (C(summary.json) or C(state.json), shape in C(docs/state-format.md)) and
    C(failed_hosts.retry) (one host per line, for C(--limit @file)) into C(<dest>/<run id>/), kept per run, and the
    same files into O(dest) itself; C(<dest>/latest) points at the newest run.
  - With O(query), evaluates a JMESPath expression over the document (with C(version_lt), C(version_le),
    C(version_gt), C(version_ge) and C(version_eq) ordering versions as packaging does) and writes C(query.json).
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.ACTION
  - airgap.pymigrate._attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: Reports without writing files.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  hosts:
    description: The hosts of the migration.
    type: list
    elements: str
    required: true
  dest:
    description: Directory on the control node for the reports.
    type: path
    required: true
  document:
    description: V(summary) for a run that rolled out, V(state) for the fleet state (C(playbooks/state.yml)).
    type: str
    choices: [summary, state]
    default: summary
  playbook:
    description: The playbook of the run, recorded in the document.
    type: str
    default: ""
  query:
    description: A JMESPath expression evaluated over the document.
    type: str
"""

EXAMPLES = r"""
- name: Report
  airgap.pymigrate.migration_report:
    hosts: "{{ groups['all'] }}"
    dest: /var/log/pymigrate

- name: Which hosts hold requests older than 2.32?
  airgap.pymigrate.migration_report:
    hosts: "{{ ansible_play_hosts }}"
    dest: /var/log/pymigrate
    document: state
    query: "environments[?packages.requests && version_lt(packages.requests, '2.32')].host"
"""

RETURN = r"""
summary:
  description:
    - The document - C(run) (id, playbook, started, finished, phases, serial), C(hosts) (status, phase, error, files
      sent, environments), C(counts) per status, C(environments) (every environment of every host, flat) and
      C(retry).
  returned: always
  type: dict
query_result:
  description: The result of O(query).
  returned: when O(query) is given
  type: raw
run_dir:
  description: The directory that keeps this run's files.
  returned: always
  type: str
summary_lines:
  description: The summary as readable lines.
  returned: always
  type: list
  elements: str
retry_file:
  description: Path of the retry file.
  returned: always
  type: str
summary_file:
  description: Path of the document (the newest copy).
  returned: always
  type: str
"""
