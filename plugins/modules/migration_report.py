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
    C(__pymigrate_state), C(__pymigrate_rollback) and the hold of its batch, C(__pymigrate_hold), as the rollout
    role registers them) and reports, per host, its status (V(ok), V(changed), V(failed), V(unreachable) or
    V(held)) judged by the phases this run ran, the phase it reached, files sent, and per environment the
    generation, lock id, bundle serial, packages, package changes by name, drift found and, for a rollback, from
    which generation to which.
  - >-
    The words follow the mode - a check-mode run says what it would send and change and closes with
    C(check mode: nothing changed on any host); a state report (O(document=state)) says how each host stands
    against its lock (C(behind the lock: lacks ...)) and nothing about sending.
  - Writes the document (C(summary.json) or C(state.json), shape in C(docs/state-format.md)) and
    C(failed_hosts.retry) (one host per line, for C(--limit @file)) into C(<dest>/<run id>/), kept per run, and the
    same files into O(dest) itself; C(<dest>/latest) points at the newest run.
  - Keeps the migration record there too (C(docs/record-format.md)) - the run's page C(report.html) (static, no
    script, printable) and its Markdown twin C(report.md), C(index.html) listing the runs newest first, a page per
    host with what changed on it, when and by which run, and C(history.json); O(keep) prunes the oldest runs.
  - Without O(hosts), the hosts the run role marked at the start of the run, else the hosts of the play it runs
    in; it fails at once, saying what it needs, when none of them registered anything of the rollout role.
  - With O(query), evaluates a JMESPath expression over the document (with C(version_lt), C(version_le),
    C(version_gt), C(version_ge) and C(version_eq) ordering versions as packaging does) and writes C(query.json).
  - Publishes the document (and the query's result) as the job's artifacts, as M(ansible.builtin.set_stats) with
    C(per_host=false) would (RV(ansible_stats)); AWX keeps them.
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
    description:
      - The hosts of the migration. By default those the run role marked (C(__pymigrate_in_run)), else the hosts of
        the play.
    type: list
    elements: str
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
  bundle_dir:
    description:
      - The bundle the run deployed (or whose locks it checked). Its SBOM gives the record what the package
        metadata says each package named is, and the known vulnerabilities of the versions the hosts now hold.
    type: path
  keep:
    description:
      - How many runs the record keeps - a number of runs, or an age such as V(90d) or V(12w) (the newest run is
        always kept); V(0) keeps every run.
    type: raw
    default: 100
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
    - The document - C(run) (id, playbook, user, started, finished, phases, serial, check mode, lock changes, the
      path of the run's page), C(hosts) (status, phase, error, hold, files sent, environments), C(counts) per
      status, C(environments) (every environment of every host, flat), C(retry), C(vulnerabilities) and
      C(packages).
  returned: always
  type: dict
query_result:
  description: The result of O(query).
  returned: when O(query) is given
  type: raw
ansible_stats:
  description:
    - The job's artifacts as M(ansible.builtin.set_stats) publishes them (C(per_host=false)), which Ansible
      publishes from this result and AWX keeps - C(pymigrate_summary) or C(pymigrate_state) (the document) and,
      with O(query), C(pymigrate_query_result).
  returned: always
  type: dict
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
page:
  description: Path of the run's page (C(report.html)); null in check mode, which writes nothing.
  returned: always
  type: str
index:
  description: Path of the record's C(index.html).
  returned: when not in check mode
  type: str
"""
