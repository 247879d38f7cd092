# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airgap.pymigrate.role_arguments: a role's variables checked against its meta/argument_specs.yml for every host
of the batch in one task on the control node.

Why: Ansible's own check (the validation task it puts before a role's tasks) runs once per host, and every host's
result carries the whole argument spec back to the controller, which keeps all of them until the task ends - about
20 KB per host, the largest per-host cost of a rollout over hundreds of hosts. The playbooks import the rollout role
with ``rolespec_validate: false`` and run this instead: the same spec, the same validator, every host's values."""

from __future__ import annotations

import functools
import os

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import ControllerActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")
ROLES = ("bundle", "report", "rollout")
SHOWN_PROBLEMS = 20  # a fleet-wide mistake (a group variable) would otherwise repeat once per host


@functools.lru_cache(maxsize=None)
def entry_point_options(role: str, entry_point: str) -> dict:
    """The options of one entry point of one of the collection's roles, as Ansible reads them."""
    path = os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")
    with open(path, encoding="utf-8") as handle:
        specs = (yaml.safe_load(handle) or {}).get("argument_specs") or {}
    if entry_point not in specs:
        raise PyMigrateError("the role %s has no entry point %s (%s lists %s)"
                             % (role, entry_point, path, ", ".join(sorted(specs))), var="entry_point",
                             value=entry_point)
    return specs[entry_point].get("options") or {}


def host_problems(host: str, variables, options: dict, validator: ArgumentSpecValidator) -> list:
    """What is wrong with one host's values of the role's variables (templated as the host sees them)."""
    values, problems = {}, []
    for name in options:
        if name not in variables:
            continue
        try:
            values[name] = variables[name]
        except Exception as exc:  # pylint: disable=broad-exception-caught  # a template error names the variable
            problems.append("%s: %s cannot be templated: %s" % (host, name, exc))
    outcome = validator.validate(values, validate_role_argument_spec=True)
    problems.extend("%s: %s" % (host, message) for message in outcome.error_messages)
    return problems


class ActionModule(ControllerActionBase):

    ARGUMENT_SPEC = dict(
        role=dict(type="list", elements="str", required=True, choices=list(ROLES)),
        entry_point=dict(type="str", default="main"),
        hosts=dict(type="list", elements="str", required=True),
    )

    def run_controller(self, params, task_vars):
        every_host = task_vars.get("hostvars", {})
        for role in params["role"]:  # (a playbook that imports several roles checks them in one task)
            options = entry_point_options(role, params["entry_point"])
            validator = ArgumentSpecValidator(options)
            problems: list = []
            for host in params["hosts"]:
                problems.extend(host_problems(host, every_host.get(host) or {}, options, validator))
            if problems:
                shown = problems[:SHOWN_PROBLEMS]
                more = len(problems) - len(shown)
                raise PyMigrateError("invalid variables for airgap.pymigrate.%s (%s): %s%s"
                                     % (role, params["entry_point"], "; ".join(shown),
                                        " (and %d more)" % more if more else ""),
                                     hint="Fix the values in the inventory or the extra vars; "
                                          "docs/variables.md lists each variable's type and choices")
        return {"changed": False, "hosts": len(params["hosts"]),
                "msg": "the %s variables of %d host(s) are valid" % (" and ".join(params["role"]),
                                                                     len(params["hosts"]))}
