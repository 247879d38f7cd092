# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""airgap.pymigrate.bundle_archive: key pairs, signed export (a delta against a survey file), verified import (logic
in _archive.py; the survey file is read through _survey.py and written by airgap.pymigrate.survey_file)."""

from __future__ import annotations

import datetime
import os

from ansible.utils.display import Display

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import (
    _advisories,
    _archive,
    _provenance,
    _sbom,
    _survey,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._action import ControllerActionBase
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

display = Display()


def carried(bundle_dir: str) -> list:
    """``project version: id`` of every known vulnerability the bundle's SBOM carries (those it ignores left out)."""
    facts = _sbom.read_facts(bundle_dir)
    return sorted("%s %s: %s" % (project, version, vuln["id"]) for vuln in facts["vulnerabilities"]
                  for project, version in vuln["affects"])


def archive_text(result: dict, found: list) -> str:
    """Where the archive is, its size, serial, signing key, expiry and the known vulnerabilities it carries."""
    vulns = "no known vulnerability" if not found else "%d known vulnerabilit%s (%s)" % (
        len(found), "y" if len(found) == 1 else "ies", ", ".join(found[:5]) + (", ..." if len(found) > 5 else ""))
    return "%s: serial %s, %s archive, %.1f MB, signed by key %s, expires %s; it carries %s" % (
        result["path"], result["serial"], result["kind"], result["bytes"] / 1e6, result["key_id"], result["expires"],
        vulns)


class ActionModule(ControllerActionBase):

    ARGUMENT_SPEC = dict(
        state=dict(type="str", required=True,
                   choices=["keypair", "exported", "imported", "advisories_exported", "advisories_imported"]),
        private_key_path=dict(type="path"),
        public_key_path=dict(type="path"),
        private_key_passphrase=dict(type="str", no_log=True),
        bundle_dir=dict(type="path"),
        dest=dict(type="path"),
        expires_in_days=dict(type="int", default=30),
        survey_file=dict(type="path"),
        src=dict(type="path"),
        store_dir=dict(type="path"),
        trusted_keys=dict(type="list", elements="str", no_log=False),
        allow_downgrade=dict(type="bool", default=False),
        max_skew_minutes=dict(type="int", default=5),
        osv_db=dict(type="path"),
        provenance=dict(type="str", choices=list(_provenance.POLICIES), default="record"),
        trusted_publishers=dict(type="dict", default={}),
        sigstore_trust_root=dict(type="path"),
    )
    REQUIRED_IF = [
        ("state", "keypair", ["private_key_path", "public_key_path"]),
        ("state", "exported", ["bundle_dir", "dest", "private_key_path"]),
        ("state", "imported", ["src", "store_dir", "trusted_keys"]),
        ("state", "advisories_exported", ["osv_db", "dest", "private_key_path"]),
        ("state", "advisories_imported", ["src", "store_dir", "trusted_keys"]),
    ]

    def run_controller(self, params, task_vars):
        state = params["state"]
        if state == "keypair":
            if os.path.exists(params["private_key_path"]):
                if os.path.exists(params["public_key_path"]):
                    return {"changed": False, "msg": "key exists; left as it is"}
                if self._task.check_mode:
                    return {"changed": True, "msg": "the public key would be written again"}
                key = _archive.load_private_key(params["private_key_path"], params["private_key_passphrase"])
                return dict(_archive.write_public_key(key, params["public_key_path"]), changed=True,
                            msg="the public key was missing and was written again from the private key")
            if self._task.check_mode:
                return {"changed": True}
            return dict(_archive.generate_keypair(params["private_key_path"], params["public_key_path"],
                                                  params["private_key_passphrase"]), changed=True)
        if state == "exported":
            return self._export(params)
        if state.startswith("advisories_"):
            return self._advisories(params)
        src = params["src"]
        if not os.path.isfile(src):
            raise PyMigrateError("no archive at %s" % src, var="pymigrate_archive", value=src)
        display.display("pymigrate import: %s (%.1f MB): verifying the signature and every member"
                        % (src, os.path.getsize(src) / 1e6))
        inside = _provenance.InsideCheck(
            policy=params["provenance"],
            trusted_publishers=_provenance.parse_trusted_publishers(params["trusted_publishers"]),
            trust_root=params["sigstore_trust_root"] or None)
        hooks = _archive.ImportHooks(progress=lambda line: display.display("pymigrate import: " + line),
                                     verify=lambda roots, manifest: _provenance.reverify(roots, manifest, inside))
        result = _archive.import_archive(src, params["store_dir"], params["trusted_keys"],
                                         allow_downgrade=params["allow_downgrade"],
                                         max_skew=datetime.timedelta(minutes=params["max_skew_minutes"]),
                                         check_mode=self._task.check_mode, hooks=hooks)
        result["provenance"] = result.pop("verified")
        line = _provenance.inside_text(result["provenance"])
        if result["provenance"]["skipped"] and result["provenance"]["with_provenance"]:
            display.warning("pymigrate import: " + line)
        else:
            display.display("pymigrate import: " + line)
        # In check mode bundle_dir is the verified archive's proposal (what the rollout's check mode previews).
        found = carried(result["bundle_dir"])
        result["vulnerabilities"] = found
        result["msg"] = ("would import %s; %d file(s) would be added to %s" if self._task.check_mode
                         else "imported %s; %d file(s) added to %s") % (
            archive_text(result, found), result["files_added"], params["store_dir"])
        return result

    def _export(self, params):
        have, base_serial = None, None
        if params["survey_file"]:
            controller = _survey.read(params["survey_file"])["controller"]
            have, base_serial = controller.get("store_have") or [], controller.get("accepted_serial")
        if self._task.check_mode:
            return {"changed": True, "kind": "delta" if have else "full",
                    "msg": "check mode: an archive of %s would be written to %s"
                           % (params["bundle_dir"], params["dest"])}
        key = _archive.load_private_key(params["private_key_path"], params["private_key_passphrase"])
        display.display("pymigrate export: writing %s from %s" % (params["dest"], params["bundle_dir"]))
        result = _archive.create_archive(params["bundle_dir"], params["dest"], key,
                                         expires_in=datetime.timedelta(days=params["expires_in_days"]),
                                         have=have, base_serial=base_serial)
        found = carried(params["bundle_dir"])
        return dict(result, changed=True, vulnerabilities=found,
                    msg="exported %s; %d member(s), %d file(s) left to the inside's store"
                    % (archive_text(result, found), result["members"], result["carried_elsewhere"]))

    def _advisories(self, params):
        """An advisory-only archive (issue 31): exported from an OSV export, imported beside the bundles."""
        if params["state"] == "advisories_exported":
            if self._task.check_mode:
                return {"changed": True, "msg": "check mode: an advisory-only archive of %s would be written to %s"
                                                % (params["osv_db"], params["dest"])}
            key = _archive.load_private_key(params["private_key_path"], params["private_key_passphrase"])
            result = _advisories.create(params["osv_db"], params["dest"], key,
                                        expires_in=datetime.timedelta(days=params["expires_in_days"]))
            return dict(result, changed=True, msg="exported %s" % advisories_text(result))
        src = params["src"]
        if not os.path.isfile(src):
            raise PyMigrateError("no advisory archive at %s" % src, var="pymigrate_advisory_archive", value=src)
        result = _advisories.import_archive(src, params["store_dir"], params["trusted_keys"],
                                            allow_downgrade=params["allow_downgrade"],
                                            max_skew=datetime.timedelta(minutes=params["max_skew_minutes"]),
                                            check_mode=self._task.check_mode)
        verb = ("already imported" if not result["changed"] else "would import" if self._task.check_mode
                else "imported")
        return dict(result, msg="%s %s" % (verb, advisories_text(result)))


def advisories_text(result: dict) -> str:
    """Where an advisory archive is, its serial, signer, expiry and the database it carries."""
    osv = result["osv_db"]
    return ("%s: advisory-only archive serial %s, %.1f MB, signed by key %s, expires %s; OSV database dated %s, "
            "%d records, sha256 %s" % (result["path"], result["serial"], result["bytes"] / 1e6, result["key_id"],
                                       result["expires"], osv["modified"], osv["records"], osv["sha256"]))
