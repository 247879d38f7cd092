# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The survey file (docs/survey-format.md): what the inside knows, carried out of the enclave. This module is its
only writer (the ``survey_file`` action, inside) and reader (the bundle build and the archive export, outside).

    format: 1
    controller: {store_have: [sha256, ...], accepted_serial: int | null}
    hosts: {host: target_facts result, with store_have}
"""

from __future__ import annotations

import json
import os
import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import write_atomic
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

FORMAT = 1
HINT = "Create it with playbooks/survey.yml inside the enclave"


def build(facts_by_host: t.Mapping[str, t.Mapping], store_have: t.Sequence[str], accepted_serial: int | None) -> dict:
    return {"format": FORMAT, "controller": {"store_have": list(store_have), "accepted_serial": accepted_serial},
            "hosts": {host: dict(facts) for host, facts in sorted(facts_by_host.items())}}


def write(path: str, survey: t.Mapping) -> None:
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        write_atomic(path, (json.dumps(survey, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    except OSError as exc:
        raise PyMigrateError("cannot write the survey file %s: %s" % (path, exc), var="pymigrate_survey_file",
                             value=path)


def read(path: str) -> dict:
    """The parsed survey file, checked for its format: {format, controller, hosts}."""
    try:
        with open(path) as handle:
            survey = json.load(handle)
    except (OSError, ValueError) as exc:
        raise PyMigrateError("cannot read the survey file %s: %s" % (path, exc), var="pymigrate_survey_file",
                             value=path, hint=HINT)
    problem = None
    if not isinstance(survey, dict) or survey.get("format") != FORMAT:
        problem = "it is not a format %d survey file" % FORMAT
    elif not isinstance(survey.get("hosts"), dict) or not all(isinstance(v, dict) for v in survey["hosts"].values()):
        problem = "its hosts are not a dict of host name to target facts"
    elif (not isinstance(survey.get("controller"), dict)
          or not isinstance(survey["controller"].get("store_have", []), list)):
        problem = "its controller part is not a dict with a store_have list"
    if problem:
        raise PyMigrateError("cannot use the survey file %s: %s" % (path, problem), var="pymigrate_survey_file",
                             value=path, hint=HINT)
    return survey
