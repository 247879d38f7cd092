# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The inventory as the bundle phase reads it: which hosts to bundle for, the target and wanted sets of each, the
hosts whose entries are kept, and the builder hosts (``pymigrate_builders``).

Pure: it reads hostvars, groups and the survey file's hosts (as the bundle action hands them over) and nothing else.
A host's target is, in this order, its declaration (``pymigrate_target``), its survey file entry, or the facts the
survey reported for it in this run; a host with none of them is skipped (unreachable during the survey).
"""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._build import BuilderInput
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._profiles import HostInput
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._targets import (
    host_facts,
    target_from_declaration,
    target_from_facts,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._wanted import (
    dropped_warnings,
    group_origins,
    host_environments,
    unused_requirements,
    unused_warnings,
    with_constraints,
)

BUILDERS_VAR = "pymigrate_builders"


@dataclasses.dataclass(frozen=True)
class BundleInputs:
    """What the bundle is built for: ``hosts`` (HostInput), ``skipped`` (named or found, but without a target in this
    run), ``kept`` (inventory hosts not bundled now: they keep their entries of the previous bundle) and
    ``builders`` (BuilderInput); ``warnings``, the group sets Ansible's precedence dropped
    (``_wanted.group_origins``) and the requirement variables that reach no environment of a host that has
    environments (``_wanted.unused_requirements``)."""

    hosts: t.Sequence[HostInput]
    skipped: t.Sequence[str] = ()
    kept: t.Sequence[str] = ()
    builders: t.Sequence[BuilderInput] = ()
    warnings: t.Sequence[str] = ()


def bundle_inputs(hostvars: t.Mapping, groups: t.Mapping, survey: t.Mapping, *, names: t.Sequence[str] | None = None,
                  builders: t.Any = None, constraints: t.Mapping[str, str] | None = None,
                  group_vars: t.Mapping[str, t.Mapping] | None = None) -> BundleInputs:
    """The bundle's inputs from the inventory. ``names`` (the action's ``hosts``): the hosts to bundle for, else
    every host the survey reached, that the survey file lists, or that declares its target; hosts that dropped out
    (unreachable) or were left out (``--limit``) keep what they had. ``constraints`` (pip's constraint files) apply
    to every environment; ``builders`` is ``pymigrate_builders`` as given. ``group_vars`` ({group: {variable:
    value}}, each group's own variables, when the action could read them) names the groups of a conflict and finds
    the sets Ansible's precedence dropped."""
    inventory = list(groups.get("all", []))
    reported: dict = {}  # each host's facts of this run, read once
    if names is None:
        reported = {host: host_facts(hostvars, host) for host in inventory}
        names = [host for host in inventory if reported[host] or host in survey
                 or "pymigrate_target" in hostvars.get(host, {})]
    member_of: dict = {}
    for group, members in groups.items():
        for member in members:
            member_of.setdefault(member, []).append(group)
    hosts, skipped = [], []
    dropped: dict = {}
    unused: dict = {}
    shared: dict = {}  # hosts with the same facts share one Target (hundreds of tags each)
    for name in names:
        variables = hostvars.get(name)
        if variables is None:
            raise PyMigrateError("host is not in the inventory", host=name, var="hosts")
        facts = reported[name] if name in reported else host_facts(hostvars, name)
        target = host_target(name, variables, survey, facts, shared)
        if target is None:
            skipped.append(name)
            continue
        origins, lost = group_origins(member_of.get(name, []), group_vars or {}, variables)
        for var, defining, kept in lost:
            dropped.setdefault((var, tuple(defining), tuple(kept)), []).append(name)
        envs, absent = host_environments(name, variables, origins)
        unread = unused_requirements(variables)
        if unread:
            unused.setdefault(unread, []).append(name)
        hosts.append(HostInput(name, with_constraints(envs, constraints) if constraints else envs, target,
                               env_targets(name, envs, variables, survey, facts, shared), absent))
    bundled = {item.host for item in hosts}
    return BundleInputs(hosts, skipped, [host for host in inventory if host not in bundled],
                        builder_inputs(builders, hostvars, groups, survey),
                        dropped_warnings(dropped) + unused_warnings(unused))


def host_target(name: str, variables: t.Mapping, survey: t.Mapping, facts: t.Mapping | None,
                shared: dict | None = None):
    """A host's Target: declared, from the survey file, or from the ``facts`` reported in this run (``host_facts``);
    None without any."""
    if "pymigrate_target" in variables:
        return target_from_declaration(variables["pymigrate_target"], host=name, shared=shared)
    if name in survey:
        return target_from_facts(survey[name], host=name, shared=shared)
    return target_from_facts(facts, host=name, shared=shared) if facts else None


def env_targets(name: str, envs: t.Mapping, variables: t.Mapping, survey: t.Mapping, facts: t.Mapping | None,
                shared: dict | None = None) -> dict:
    """{env name: Target} of the host's environments built on an interpreter of their own (``python``), from the facts
    the survey gathered for that interpreter (its survey file entry, or this run's). A declared target
    (``pymigrate_target``) stands for every interpreter of the host. An interpreter the facts lack fails naming
    host, environment and path: the environment would be resolved for another Python."""
    if "pymigrate_target" in variables:
        return {}
    surveyed = (survey.get(name) or facts or {}).get("interpreters") or {}
    targets = {}
    for env_name, env in sorted(envs.items()):
        if env.python is None or env.carrier:
            continue
        if env.python not in surveyed:
            raise PyMigrateError("environment %s: its interpreter %s was not surveyed, so the environment cannot be "
                                 "resolved for it" % (env_name, env.python), host=name,
                                 var="pymigrate_envs.%s.python" % env_name, value=env.python,
                                 hint="Run the survey again with this inventory (playbooks/survey.yml inside the "
                                      "enclave, or migrate.yml)")
        targets[env_name] = target_from_facts(surveyed[env.python], host=name, shared=shared)
    return targets


def builder_inputs(value: t.Any, hostvars: t.Mapping, groups: t.Mapping, survey: t.Mapping) -> list:
    """``pymigrate_builders`` -> [BuilderInput]: an inventory group, a list of hosts, or {profile: host}; each
    builder's target and interpreter come from its facts in this run (or its survey file entry)."""
    if not value:
        return []
    named: list[tuple[str, str | None]]
    if isinstance(value, str):
        if value not in groups:
            raise PyMigrateError("no inventory group of that name", var=BUILDERS_VAR, value=value,
                                 hint="Name a group of builder hosts, a list of hosts or a map of profile to host")
        named = [(host, None) for host in groups[value]]
    elif isinstance(value, list) and all(isinstance(host, str) for host in value):
        named = [(host, None) for host in value]
    elif isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        named = [(host, str(profile)) for profile, host in value.items()]
    else:
        raise PyMigrateError("must be an inventory group, a list of hosts or a map of profile to host",
                             var=BUILDERS_VAR, value=value)
    builders = []
    for host, profile in named:
        if host not in hostvars:
            raise PyMigrateError("builder host is not in the inventory", host=host, var=BUILDERS_VAR, value=value)
        facts = host_facts(hostvars, host) or survey.get(host) or {}
        python = (facts.get("python") or {}).get("executable")
        if not python:
            raise PyMigrateError("builder host has no target facts in this run", host=host, var=BUILDERS_VAR,
                                 value=value,
                                 hint="Include it in the play (or the survey) so that its facts are collected")
        builders.append(BuilderInput(host, target_from_facts(facts, host=host), python, profile))
    return builders
