# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 6, report: per host and fleet-wide, from what each phase registered on the host.

Plain functions over the registered results (``__pymigrate_target_facts``, ``__pymigrate_push``,
``__pymigrate_verify``, ``__pymigrate_install``), so the summary can be unit tested without Ansible.
"""

from __future__ import annotations

import typing as t

# (phase, the variable its task registers, whether every host passes through it). Push verifies every file it
# keeps or receives by sha256, so the separate verify pass is optional (an audit, rollout role entry point verify).
PHASES = (
    ("survey", "__pymigrate_target_facts", True),
    ("push", "__pymigrate_push", True),
    ("verify", "__pymigrate_verify", False),
    ("install", "__pymigrate_install", True),
)


def _failed(result: t.Mapping) -> str | None:
    if result.get("unreachable"):
        return "unreachable: %s" % result.get("msg", "")
    if result.get("failed"):
        return result.get("msg") or "failed"
    for item in result.get("results") or []:  # a loop: the first failed item says why
        reason = _failed(item)
        if reason:
            return reason
    return None


def host_summary(host: str, hostvars: t.Mapping) -> dict:
    """Status of one host: ok, changed, failed or unreachable, the phase it reached, and what changed."""
    summary: dict[str, t.Any] = {"host": host, "status": "ok", "phase": None, "error": None, "files_sent": 0,
                                 "bytes_sent": 0, "environments": {}}
    for phase, var, always in PHASES:
        result = hostvars.get(var)
        if result is None and not always:
            continue
        if result is None:
            # The host never registered this phase: it dropped out before it (unreachable or failed).
            summary["status"] = "unreachable" if phase == "survey" else "failed"
            summary["error"] = summary["error"] or "did not reach the %s phase (unreachable or failed earlier)" % phase
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
            if result.get("changed"):
                summary["status"] = "changed"
        if phase == "install":
            for item in result.get("results") or [result]:
                env = (item.get("item") or {}).get("name", "default")
                summary["environments"][env] = {
                    "path": (item.get("item") or {}).get("path"),
                    "generation": item.get("generation"),
                    "changed": bool(item.get("changed")),
                    "changes": item.get("changes") or {},
                    "packages": item.get("packages") or {},
                }
                if item.get("changed"):
                    summary["status"] = "changed"
    return summary


def fleet_summary(hosts: t.Sequence[str], hostvars: t.Mapping[str, t.Mapping]) -> dict:
    per_host = [host_summary(host, hostvars.get(host) or {}) for host in hosts]
    counts: dict[str, int] = {}
    for item in per_host:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    return {"hosts": per_host, "counts": counts,
            "retry": sorted(item["host"] for item in per_host if item["status"] in ("failed", "unreachable"))}


def summary_lines(summary: dict) -> list:
    lines = ["fleet: " + ", ".join("%s=%d" % (k, v) for k, v in sorted(summary["counts"].items()))]
    for item in summary["hosts"]:
        detail = item["error"] or ", ".join(
            "%s %s%s" % (env, info.get("generation") or "-",
                         " (%s)" % _change_text(info["changes"]) if info.get("changes") else "")
            for env, info in sorted(item["environments"].items())) or "-"
        lines.append("%s: %s, %d file(s) sent; %s" % (item["host"], item["status"], item["files_sent"], detail))
    return lines


def _change_text(changes: t.Mapping) -> str:
    parts = []
    for kind in ("added", "removed", "upgraded", "downgraded"):
        values = changes.get(kind) or []
        if values:
            parts.append("%s %d" % (kind, len(values)))
    return ", ".join(parts)
