#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: migration_report
short_description: Summarise a migration per host and fleet-wide
version_added: 0.1.0
description:
  - Runs on the control node (an action plugin) after the rollout. Reads what each phase registered on each host
    (C(__pymigrate_target_facts), C(__pymigrate_push), C(__pymigrate_verify), C(__pymigrate_install)) and reports,
    per host, its status (V(ok), V(changed), V(failed) or V(unreachable)), the phase it reached, files sent,
    and per environment the generation and package changes.
  - Writes C(summary.json) and C(failed_hosts.retry) (one host per line, for C(--limit @file)) into O(dest).
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
    description: Directory on the control node for C(summary.json) and C(failed_hosts.retry).
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Report
  airgap.pymigrate.migration_report:
    hosts: "{{ groups['all'] }}"
    dest: /var/log/pymigrate
"""

RETURN = r"""
summary:
  description: Per host status, phase, files sent and environments; counts per status; the hosts to retry.
  returned: always
  type: dict
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
  description: Path of the summary file.
  returned: always
  type: str
"""
