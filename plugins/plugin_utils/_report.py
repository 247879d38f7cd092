# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 6, report: per host and fleet-wide, from what each phase registered on the host.

Plain functions over the registered results (the names in ``PHASES``: the rollout and report roles are their only
writer and reader), so the summary can be unit tested without Ansible. The document's shape: docs/state-format.md.
"""

from __future__ import annotations

import os
import typing as t
import uuid

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import write_atomic
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _registered
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError, format_time, utc_now

# (phase, the variable its task registers). A phase belongs to a run when any host of the run registered it, so
# deploy.yml (no survey) or a run with --skip-tags is judged by the phases it ran. Push verifies every file it keeps
# or receives by sha256; verify (an audit) and state (playbooks/state.yml) run only when asked for.
PHASES = (
    ("survey", _registered.TARGET_FACTS),
    ("push", _registered.PUSH),
    ("verify", _registered.VERIFY),
    ("install", _registered.INSTALL),
    ("state", _registered.STATE),
)
DEFAULT_PHASES = ("survey", "push", "install")
ENVIRONMENT_PHASES = ("install", "state")


def _failed(result: t.Mapping) -> str | None:
    if result.get("unreachable"):
        return "unreachable: %s" % result.get("msg", "")
    for item in result.get("results") or []:  # a loop: the first failed item says why, not "One or more items failed"
        reason = _failed(item)
        if reason:
            return reason
    if result.get("failed"):
        return result.get("msg") or "failed"
    return None


def run_phases(hostvars: t.Mapping[str, t.Mapping]) -> list:
    """The phases some host of the run registered, in order."""
    return [phase for phase, var in PHASES if any(var in (values or {}) for values in hostvars.values())]


def _environment(item: t.Mapping, serial) -> tuple:
    """One environment from a venv_install result: what names it is the result's ``environment`` (the install reads
    the host's slice itself and loops over names) or else its loop item (the state entry point's)."""
    env = item.get("environment") or item.get("item")
    env = env if isinstance(env, t.Mapping) else {}
    packages = item.get("installed") if item.get("installed") is not None else item.get("packages")
    return env.get("name", "default"), {
        "path": env.get("path"), "generation": item.get("generation"), "lock_id": env.get("lock_id"),
        "serial": env.get("serial", serial), "changed": bool(item.get("changed")), "changes": item.get("changes") or {},
        "packages": packages or {}, "drift": item.get("drift") or [], "reason": item.get("reason")}


def host_summary(host: str, hostvars: t.Mapping, phases: t.Sequence[str] = DEFAULT_PHASES) -> dict:
    """Status of one host: ok, changed, failed or unreachable, the phase it reached, and what changed."""
    summary: dict[str, t.Any] = {"host": host, "status": "ok", "phase": None, "error": None, "files_sent": 0,
                                 "bytes_sent": 0, "serial": None, "environments": {}}
    for phase, var in PHASES:
        result = hostvars.get(var)
        if phase not in phases and result is None:
            continue
        if result is None:
            # The host never registered this phase: it dropped out before it (unreachable or failed).
            summary["status"] = "unreachable" if phase == phases[0] else "failed"
            summary["error"] = "did not reach the %s phase (unreachable or failed earlier)" % phase
            return summary
        summary["phase"] = phase
        reason = _failed(result)
        if reason:
            summary["status"] = "unreachable" if result.get("unreachable") else "failed"
            summary["error"] = "%s: %s" % (phase, reason)
            return summary
        if phase == "push":
            summary["files_sent"] = len(result.get("sent") or [])
            summary["bytes_sent"] = result.get("sent_bytes", 0)
            summary["serial"] = result.get("serial")
            if result.get("changed"):
                summary["status"] = "changed"
        if phase in ENVIRONMENT_PHASES:
            for item in result.get("results") or [result]:
                name, env = _environment(item, summary["serial"])
                summary["environments"][name] = env
                summary["serial"] = summary["serial"] or env["serial"]
                if env["changed"] and phase == "install":
                    summary["status"] = "changed"
    return summary


def fleet_summary(hosts: t.Sequence[str], hostvars: t.Mapping[str, t.Mapping], run: t.Mapping | None = None) -> dict:
    """The run's document: run metadata, per host summaries, counts, hosts to retry, and every environment of every
    host as one flat list (what JMESPath queries read most easily)."""
    phases = run_phases({host: hostvars.get(host) or {} for host in hosts}) or list(DEFAULT_PHASES)
    per_host = [host_summary(host, hostvars.get(host) or {}, phases) for host in hosts]
    counts: dict[str, int] = {}
    for item in per_host:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    environments = [dict(env, host=item["host"], environment=name)
                    for item in per_host for name, env in sorted(item["environments"].items())]
    serials = sorted({item["serial"] for item in per_host if item["serial"] is not None})
    return {"run": dict(run or {}, phases=phases, serial=serials[-1] if serials else None),
            "hosts": per_host, "counts": counts, "environments": environments,
            "retry": sorted(item["host"] for item in per_host if item["status"] in ("failed", "unreachable"))}


def summary_lines(summary: dict) -> list:
    lines = ["fleet: " + ", ".join("%s=%d" % (k, v) for k, v in sorted(summary["counts"].items()))]
    for item in summary["hosts"]:
        detail = item["error"] or ", ".join(
            "%s %s%s" % (env, info.get("generation") or "-", _env_text(info))
            for env, info in sorted(item["environments"].items())) or "-"
        lines.append("%s: %s, %d file(s) sent; %s" % (item["host"], item["status"], item["files_sent"], detail))
    return lines


def _env_text(info: t.Mapping) -> str:
    """What changed, by name: ``(upgraded alpha 1.0 -> 1.1; added beta==2.0)``, and drift found."""
    parts = []
    for kind in ("added", "removed", "upgraded", "downgraded"):
        values = (info.get("changes") or {}).get(kind) or []
        if values:
            parts.append("%s %s" % (kind, ", ".join(values)))
    if info.get("drift"):
        kinds = {("%s %s" % (d["kind"], d["distribution"] or "")).strip() for d in info["drift"]}
        parts.append("drift: %s" % ", ".join(sorted(kinds)))
    if info.get("reason"):
        parts.append("repaired")
    return " (%s)" % "; ".join(parts) if parts else ""


# -- a run's files ------------------------------------------------------------------------------------------------
def registered_vars(every_host: t.Mapping, hosts: t.Iterable[str], names: t.Sequence[str]) -> dict:
    """{host: {name: value}} of only ``names`` (what the phases registered), host by host: each host's full
    variables (every role default and inventory var, templated on access) would otherwise be held for the whole
    fleet at once."""
    hostvars = {}
    for host in hosts:
        variables = every_host.get(host) or {}
        hostvars[host] = {name: variables[name] for name in names if name in variables}
    return hostvars


def new_run(started: t.Iterable, playbook: str) -> dict:
    """The ``run`` record of a document: id (earliest start of any host, or now, and a random suffix), playbook,
    started and finished."""
    starts = sorted(str(value) for value in started if value)
    finished = format_time(utc_now())
    stamp = (starts[0] if starts else finished).replace("-", "").replace(":", "")
    return {"id": "%s-%s" % (stamp, uuid.uuid4().hex[:6]), "playbook": playbook,
            "started": starts[0] if starts else None, "finished": finished}


def write_run_files(dest: str, run_id: str, files: t.Mapping[str, str]) -> None:
    """Into ``<dest>/<run id>/`` (kept), then the same files at ``<dest>/`` and ``latest`` -> this run."""
    try:
        os.makedirs(os.path.join(dest, run_id))
        for name, text in files.items():
            write_atomic(os.path.join(dest, run_id, name), text.encode("utf-8"))
            write_atomic(os.path.join(dest, name), text.encode("utf-8"))
        temp = os.path.join(dest, ".latest-%s" % run_id)
        os.symlink(run_id, temp)
        os.replace(temp, os.path.join(dest, "latest"))
    except OSError as exc:
        raise PyMigrateError("cannot write the report into %s: %s" % (dest, exc), var="pymigrate_report_dir",
                             value=dest)
