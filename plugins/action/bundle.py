# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airgap.pymigrate.bundle: resolve every profile and fetch into a bundle directory, on the control node.

Thin: validates its arguments into one BundleSettings, reads the survey file and the index settings, hands hostvars
and groups to plugin_utils/_inventory.py (which hosts, which targets, which builders) and what it returns to
plugin_utils/_bundle.py, then shapes the result (skipped hosts, the diff only when asked for).
"""

from __future__ import annotations

import dataclasses
import os

from ansible.utils.display import Display

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _lockdir, _provenance, _survey, _vulns
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import ControllerActionBase, inventory_group_vars
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._bundle import BundleSettings, build_bundle
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._index import IndexClient
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._inventory import bundle_inputs
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import check_controller_libraries
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._pipconfig import choose_indexes
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._wanted import SET_VARIABLE

display = Display()


def _run_secrets(task_vars) -> list:
    """The files of this run an sdist build must not see: the signing key the same run may sign with, and the vault
    password files Ansible was given (the home's keys and credentials _sandbox hides anyway)."""
    from ansible import constants as C  # pylint: disable=import-outside-toplevel
    paths = [task_vars.get("pymigrate_signing_key"), C.DEFAULT_VAULT_PASSWORD_FILE]
    paths += [identity.split("@", 1)[-1] for identity in C.DEFAULT_VAULT_IDENTITY_LIST or [] if "@" in identity]
    return [os.path.expanduser(str(path)) for path in paths if isinstance(path, str) and path]


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
        vulnerability_unchecked=dict(type="str", choices=list(_vulns.UNCHECKED), default="fail"),
        osv_db=dict(type="path"),
        provenance=dict(type="str", choices=list(_provenance.POLICIES), default="record"),
        trusted_publishers=dict(type="dict", default={}),
        sigstore_trust_root=dict(type="path"),
        lock_dir=dict(type="path"),
        lock_mode=dict(type="str", choices=list(_lockdir.MODES), default="ignore"),
        upgrade=dict(type="raw"),
        lock_only=dict(type="bool", default=False),
        dropped_envs=dict(type="str", choices=["keep", "remove"], default="keep"),
    )
    MUTUALLY_EXCLUSIVE = [("index_password", "index_token")]

    def run_controller(self, params, task_vars):
        check_controller_libraries()
        if params["lock_mode"] != "ignore" and not params["lock_dir"]:
            params = dict(params, lock_dir=_lockdir.default_dir(task_vars.get("ansible_inventory_sources") or []))
        settings = dataclasses.replace(BundleSettings.from_params(params, check_mode=self._task.check_mode),
                                       build_hidden=tuple(_run_secrets(task_vars)))
        survey = _survey.read(params["survey_file"])["hosts"] if params["survey_file"] else {}
        choice = choose_indexes(params["index_url"], params["extra_index_urls"], username=params["index_username"],
                                password=params["index_password"], token=params["index_token"],
                                ca_bundle=params["ca_bundle"])
        inputs = bundle_inputs(task_vars.get("hostvars", {}), task_vars.get("groups", {}), survey,
                               names=params["hosts"], builders=params["builders"], constraints=choice.constraints,
                               group_vars=inventory_group_vars(self, SET_VARIABLE))
        for warning in inputs.warnings:  # sets Ansible's precedence dropped, requirements no environment gets
            display.warning(warning)
        display.display("pymigrate bundle: " + choice.description)
        client = IndexClient(choice.indexes, ca_bundle=choice.ca_bundle, workers=settings.workers,
                             cache_dir=os.path.join(settings.bundle_dir, ".cache"))
        try:
            result = build_bundle(inputs, settings, client,
                                  progress=lambda line: display.display("pymigrate bundle: " + line))
        finally:
            client.close()
        result["skipped_hosts"] = list(inputs.skipped)
        for item in result.get("dropped_envs") or []:
            if not item["removed"]:
                display.warning("environment %s of host %s (%s) is no longer in the inventory and stays on the host; "
                                "mark it state: absent to remove it (or set pymigrate_dropped_envs: remove)"
                                % (item["env"], item["host"], item["path"]))
        unchecked = _vulns.unchecked_warning(result.get("vulnerabilities") or {})
        if unchecked:  # policy report (fail stops above): the pins not checked are not called clean
            display.warning(unchecked)
        if not self._task.diff:
            del result["diff"]
        return result
