# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Holds: hosts kept on what they hold, which later rollouts skip, saying why, until the hold is lifted.

A host is held when its ``pymigrate_hold`` (host, group or extra var) is true or a reason, or when a hold recorded
by ``playbooks/rollback.yml -e pymigrate_hold=true`` stands for it; ``pymigrate_hold: false`` lifts a recorded hold.
The one owner of ``holds.json`` in ``pymigrate_report_dir`` (docs/hold-format.md)::

    {"format": 1, "holds": {"web1": {"reason": "...", "since": "2026-11-25T15:01:02Z", "playbook": "rollback.yml"}}}
"""

from __future__ import annotations

import json
import os
import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import FileLock, write_atomic
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

FORMAT = 1
HOLDS = "holds.json"
LOCK = ".holds.lock"
VAR = "pymigrate_hold"
LIFT = "lift it with pymigrate_hold: false"


def hold_value(value: t.Any, host: str) -> t.Any:
    """``pymigrate_hold`` of one host: None (not set), True, False, or a reason (a text)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        lowered = text.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0", ""):
            return False
        return text
    raise PyMigrateError("true, false or a reason (a text)", host=host, var=VAR, value=value)


def read(dest: str) -> dict:
    """{host: {reason, since, playbook}} of the holds recorded in ``dest`` ({} when none is)."""
    path = os.path.join(os.path.expanduser(dest), HOLDS)
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise PyMigrateError("cannot read the holds %s: %s" % (path, exc), var="pymigrate_report_dir", value=dest,
                             hint="Fix or remove the file: a host it held is then no longer held")
    holds = document.get("holds") if isinstance(document, dict) else None
    return dict(holds) if isinstance(holds, dict) else {}


def _write(dest: str, holds: t.Mapping) -> None:
    write_atomic(os.path.join(dest, HOLDS),
                 (json.dumps({"format": FORMAT, "holds": dict(holds)}, indent=1, sort_keys=True) + "\n").encode())


def reason_text(host: str, value: t.Any, recorded: t.Mapping | None) -> str:
    """Why ``host`` is held, in the words of the summary: where the hold comes from and how to lift it."""
    if value is True:
        return "held: %s is true for this host (inventory or extra vars); set it to false to lift the hold" % VAR
    if isinstance(value, str):
        return "held: %s (%s); set it to false to lift the hold" % (value, VAR)
    recorded = recorded or {}
    return "held since %s by %s: %s; %s" % (
        recorded.get("since") or "?", recorded.get("playbook") or "a run", recorded.get("reason") or "no reason given",
        LIFT)


def decide(values: t.Mapping[str, t.Any], recorded: t.Mapping) -> tuple:
    """({host: why it is held}, [hosts whose recorded hold is lifted]) for the hosts of ``values`` (their
    ``pymigrate_hold``)."""
    held, lifted = {}, []
    for host, raw in values.items():
        value = hold_value(raw, host)
        if value is False:
            if host in recorded:
                lifted.append(host)
        elif value is not None or host in recorded:
            held[host] = reason_text(host, value, recorded.get(host))
    return held, sorted(lifted)


def update(dest: str, record: t.Mapping, lift: t.Iterable[str]) -> dict:
    """Record ``record`` ({host: {reason, since, playbook}}) and lift ``lift`` in ``dest``, one run at a time;
    returns the holds now recorded."""
    dest = os.path.expanduser(dest)
    try:
        os.makedirs(dest, exist_ok=True)
        with FileLock(os.path.join(dest, LOCK), 300, PyMigrateError):
            holds = read(dest)
            holds.update(record)
            for host in lift:
                holds.pop(host, None)
            _write(dest, holds)
    except OSError as exc:
        raise PyMigrateError("cannot write the holds into %s: %s" % (dest, exc), var="pymigrate_report_dir",
                             value=dest)
    return holds
