# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airgap.pymigrate.bundle: resolve every profile and fetch into a bundle directory, on the control node.

Thin: gathers each host's variables and facts from hostvars (or a survey file) and hands them to
plugin_utils/_bundle.py.
"""

from __future__ import annotations

import dataclasses
import os

from ansible.utils.display import Display

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _provenance, _survey, _vulns
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import ControllerActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._build import BuilderInput
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._bundle import build_bundle
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._index import IndexClient
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import (
    PyMigrateError,
    check_controller_libraries,
    parse_time,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._pipconfig import choose_indexes
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._profiles import HostInput
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._targets import (
    reported_facts,
    target_from_declaration,
    target_from_facts,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._wanted import wanted_sets_for_host, with_constraints

display = Display()


def _parse_cutoff(value):
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise PyMigrateError("not an ISO 8601 date or time", var="uploaded_prior_to", value=value,
                             hint='Use e.g. "2025-06-01T00:00:00Z"')


class ActionModule(ControllerActionBase):

    ARGUMENT_SPEC = dict(
        bundle_dir=dict(type="path", required=True),
        hosts=dict(type="list", elements="str"),
        survey_file=dict(type="path"),
        index_url=dict(type="str"),
        extra_index_urls=dict(type="list", elements="str", default=[]),
        index_username=dict(type="str"),
        index_password=dict(type="str", no_log=True),
        index_token=dict(type="str", no_log=True),
        ca_bundle=dict(type="path"),
        uploaded_prior_to=dict(type="str"),
        build_sdists=dict(type="bool", default=True),
        build_timeout=dict(type="int", default=600),
        builders=dict(type="raw"),
        require_built=dict(type="bool", default=False),
        version_policy=dict(type="str", choices=["per_profile", "uniform"], default="per_profile"),
        defer_builds=dict(type="bool", default=False),
        installer_requirement=dict(type="str", default="pip"),
        installer=dict(type="str", choices=["pip", "uv"], default="pip"),
        uv_requirement=dict(type="str", default="uv"),
        workers=dict(type="int", default=8),
        lock_timeout=dict(type="int", default=300),
        vulnerability_policy=dict(type="str", choices=list(_vulns.POLICIES), default="report"),
        vulnerability_ignore=dict(type="list", elements="raw", default=[]),
        osv_db=dict(type="path"),
        provenance=dict(type="str", choices=list(_provenance.POLICIES), default="record"),
        trusted_publishers=dict(type="dict", default={}),
    )
    MUTUALLY_EXCLUSIVE = [("index_password", "index_token")]

    def run_controller(self, params, task_vars):
        check_controller_libraries()
        hostvars = task_vars.get("hostvars", {})
        survey = _survey.read(params["survey_file"])["hosts"] if params["survey_file"] else {}
        names = params["hosts"]
        if names is None:
            # Every host the survey reached (its target facts), that the survey file lists, or that declares
            # its target; hosts that dropped out (unreachable) or were left out (--limit) keep what they had.
            names = [h for h in task_vars.get("groups", {}).get("all", [])
                     if reported_facts(hostvars.get(h, {})) or h in survey or "pymigrate_target" in hostvars.get(h, {})]
        hosts, skipped = [], []
        shared: dict = {}  # hosts with the same facts share one Target (hundreds of tags each)
        for name in names:
            variables = hostvars.get(name)
            if variables is None:
                raise PyMigrateError("host is not in the inventory", host=name, var="hosts")
            target = self._target(name, variables, survey, shared)
            if target is None:
                skipped.append(name)
                continue
            hosts.append(HostInput(name, wanted_sets_for_host(name, variables), target))
        choice = choose_indexes(params["index_url"], params["extra_index_urls"], username=params["index_username"],
                                password=params["index_password"], token=params["index_token"],
                                ca_bundle=params["ca_bundle"])
        display.display("pymigrate bundle: " + choice.description)
        if choice.constraints:
            hosts = [dataclasses.replace(item, envs=with_constraints(item.envs, choice.constraints)) for item in hosts]
        vulnerabilities = _vulns.VulnerabilityCheck(policy=params["vulnerability_policy"],
                                                    ignores=_vulns.parse_ignores(params["vulnerability_ignore"]),
                                                    osv_db=params["osv_db"] or None)
        provenance = _provenance.ProvenanceCheck(
            policy=params["provenance"], trusted_publishers=_provenance.parse_trusted_publishers(
                params["trusted_publishers"]))
        client = IndexClient(choice.indexes, ca_bundle=choice.ca_bundle, workers=params["workers"],
                             cache_dir=os.path.join(params["bundle_dir"], ".cache"))
        try:
            inventory = task_vars.get("groups", {}).get("all", [])
            bundled = {item.host for item in hosts}
            result = build_bundle(hosts, params["bundle_dir"], client, check_mode=self._task.check_mode,
                                  uploaded_prior_to=_parse_cutoff(params["uploaded_prior_to"]),
                                  build_sdists=params["build_sdists"],
                                  installer_requirement=params["installer_requirement"], workers=params["workers"],
                                  keep_hosts=[h for h in inventory if h not in bundled],
                                  lock_timeout=params["lock_timeout"], build_timeout=params["build_timeout"],
                                  builders=self._builders(params["builders"], task_vars, survey),
                                  require_built=params["require_built"], version_policy=params["version_policy"],
                                  defer_builds=params["defer_builds"], installer=params["installer"],
                                  uv_requirement=params["uv_requirement"], vulnerabilities=vulnerabilities,
                                  provenance=provenance,
                                  progress=lambda line: display.display("pymigrate bundle: " + line))
        finally:
            client.close()
        result["skipped_hosts"] = skipped
        if not self._task.diff:
            del result["diff"]
        return result

    @staticmethod
    def _builders(value, task_vars, survey) -> list:
        """pymigrate_builders -> [BuilderInput]: an inventory group, a list of hosts, or {profile: host}."""
        if not value:
            return []
        groups, hostvars = task_vars.get("groups", {}), task_vars.get("hostvars", {})
        if isinstance(value, str):
            if value not in groups:
                raise PyMigrateError("no inventory group of that name", var="pymigrate_builders", value=value,
                                     hint="Name a group of builder hosts, a list of hosts or a map of profile to host")
            named = [(host, None) for host in groups[value]]
        elif isinstance(value, list) and all(isinstance(host, str) for host in value):
            named = [(host, None) for host in value]
        elif isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            named = [(host, str(profile)) for profile, host in value.items()]
        else:
            raise PyMigrateError("must be an inventory group, a list of hosts or a map of profile to host",
                                 var="pymigrate_builders", value=value)
        builders = []
        for host, profile in named:
            if host not in hostvars:
                raise PyMigrateError("builder host is not in the inventory", host=host, var="pymigrate_builders",
                                     value=value)
            facts = reported_facts(hostvars[host]) or survey.get(host)
            python = ((facts or {}).get("python") or {}).get("executable")
            if not python:
                raise PyMigrateError("builder host has no target facts in this run", host=host,
                                     var="pymigrate_builders", value=value,
                                     hint="Include it in the play (or the survey) so that its facts are collected")
            builders.append(BuilderInput(host, target_from_facts(facts, host=host), python, profile))
        return builders

    @staticmethod
    def _target(name, variables, survey, shared=None):
        if "pymigrate_target" in variables:
            return target_from_declaration(variables["pymigrate_target"], host=name, shared=shared)
        if name in survey:
            return target_from_facts(survey[name], host=name, shared=shared)
        facts = reported_facts(variables)
        return target_from_facts(facts, host=name, shared=shared) if facts else None
