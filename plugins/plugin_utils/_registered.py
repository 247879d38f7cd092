# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one home of the names the playbooks and roles register (or set with set_fact) that the controller plugins read
from a host's variables: every plugin takes them from here, none spells one itself.

tests/unit/test_contracts.py parses every YAML file under playbooks/ and roles/ and fails when a name here is not
registered there, is registered by a task of another module than the one whose result its readers take, or when a
name registered there is read by nothing."""

from __future__ import annotations

import typing as t

TARGET_FACTS = "__pymigrate_target_facts"  # the survey tasks of playbooks/migrate.yml, bundle.yml and survey.yml
PUSH = "__pymigrate_push"  # the rollout role's push entry point
VERIFY = "__pymigrate_verify"  # the rollout role's verify entry point
INSTALL = "__pymigrate_install"  # the rollout role's install entry point
STATE = "__pymigrate_state"  # the rollout role's state entry point (playbooks/state.yml and audit.yml)
ROLLBACK = "__pymigrate_rollback"  # the rollout role's rollback entry point (playbooks/rollback.yml)
HOLD = "__pymigrate_hold"  # the rollout role's hold tasks: which hosts of the batch are held, and why (run_once)
BUNDLE = "__pymigrate_bundle"  # the bundle role: the build's result (its serial, lock changes, vulnerabilities)
STARTED = "__pymigrate_started"  # the run role's start entry point: when the run started (UTC), the same on every host
IN_RUN = "__pymigrate_in_run"  # the run role's start entry point: the host is part of this run (marked, no connection)

# Each registered result and the module whose result it is: its readers take that module's return values.
REGISTERED = {
    TARGET_FACTS: "airgap.pymigrate.target_facts",
    PUSH: "airgap.pymigrate.wheel_push",
    VERIFY: "airgap.pymigrate.wheel_store",
    INSTALL: "airgap.pymigrate.venv_install",
    STATE: "airgap.pymigrate.venv_install",
    ROLLBACK: "airgap.pymigrate.venv_install",
    HOLD: "airgap.pymigrate.rollout_hold",
    BUNDLE: "airgap.pymigrate.bundle",
}
# Host facts set with ansible.builtin.set_fact.
SET_FACTS = (STARTED, IN_RUN)


def read(every_host: t.Any, host: str, names: t.Iterable[str]) -> dict:
    """{name: value} of the ``names`` ``host`` has, as stored (``hostvars.raw_get``). Each name here is a result or
    a set_fact value: data, no template left to expand. Read through ``hostvars[host][name]`` Ansible templates the
    value, a deep copy, on every read, and a ``run_once`` result (the bundle's, a batch's hold) is registered on
    every host: reading it host by host would cost the fleet's size squared. ``every_host``: ``hostvars``, or a plain
    {host: variables} mapping."""
    if host not in every_host:
        return {}
    raw_get = getattr(every_host, "raw_get", None)
    variables = raw_get(host) if raw_get is not None else every_host[host]
    if not isinstance(variables, t.Mapping):
        return {}
    return {name: variables[name] for name in names if name in variables}
