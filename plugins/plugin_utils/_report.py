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
from ansible_collections.airgap.pymigrate.plugins.module_utils._venv import _normalize as normalize_name
from ansible_collections.airgap.pymigrate.plugins.module_utils._venv import generation_text
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _registered
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError, format_time, utc_now

# (phase, the variable its task registers). A phase belongs to a run when any host of the run registered it, so
# deploy.yml (no survey) or a run with --skip-tags is judged by the phases it ran. Push verifies every file it keeps
# or receives by sha256; verify (an audit), state (playbooks/state.yml) and rollback (playbooks/rollback.yml) run
# only when asked for.
PHASES = (
    ("survey", _registered.TARGET_FACTS),
    ("push", _registered.PUSH),
    ("verify", _registered.VERIFY),
    ("install", _registered.INSTALL),
    ("state", _registered.STATE),
    ("rollback", _registered.ROLLBACK),
)
DEFAULT_PHASES = ("survey", "push", "install")
ENVIRONMENT_PHASES = ("install", "state", "rollback")
CHANGING_PHASES = ("install", "rollback")  # an environment changed by one of these makes its host changed
# Every name the report reads of a host: the phases' results, the hold of its batch, when the run started.
READ = tuple(var for _phase, var in PHASES) + (_registered.HOLD, _registered.STARTED, _registered.IN_RUN)
# What the changes of an environment are called, by what the run did: a rollout (or its check mode) moves a host to
# the lock; a state report compares what the host holds with the lock, and moves nothing.
CHANGE_WORDS = {
    "run": {"added": "added", "removed": "removed", "upgraded": "upgraded", "downgraded": "downgraded"},
    "check": {"added": "would add", "removed": "would remove", "upgraded": "would upgrade",
              "downgraded": "would downgrade"},
}
CHECK_MODE_LINE = "check mode: nothing changed on any host"


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


def phase_result(hostvars: t.Mapping, phase: str, var: str) -> t.Any:
    """What a host registered for ``phase``; for the install of a host the push found settled (nothing left to do:
    the rollout ended the host before its install, _settled.py), the no-op results the push gave for it. (A host the
    hold task found settled has its push result rebuilt by the report's action: _settled.push_results_from_hold.)"""
    result = hostvars.get(var)
    if result is None and phase == "install":
        push = hostvars.get(_registered.PUSH)
        settled = push.get("settled") if isinstance(push, t.Mapping) else None
        if settled is not None:
            return {"changed": False, "results": list(settled), "settled": True}
    return result


def run_phases(hostvars: t.Mapping[str, t.Mapping]) -> list:
    """The phases some host of the run registered, in order."""
    return [phase for phase, var in PHASES
            if any(phase_result(values or {}, phase, var) is not None for values in hostvars.values())]


def _environment(item: t.Mapping, serial, phase: str = "install") -> tuple:
    """One environment from a venv_install result: what names it is the result's ``environment`` (the install reads
    the host's slice itself and loops over names) or else its loop item (the state entry point's). A rollback's
    result also says from which generation to which (``from``, ``to``), and which it passed over (``skipped``)."""
    env = item.get("environment") or item.get("item")
    env = env if isinstance(env, t.Mapping) else {}
    packages = item.get("installed") if item.get("installed") is not None else item.get("packages")
    found = {"path": env.get("path"), "generation": item.get("generation"), "lock_id": env.get("lock_id"),
             "serial": env.get("serial", serial), "changed": bool(item.get("changed")),
             "changes": item.get("changes") or {}, "packages": packages or {}, "drift": item.get("drift") or [],
             "reason": item.get("reason")}
    held = item.get("holds")
    holds: t.Mapping = held if isinstance(held, t.Mapping) else {}
    if phase == "state" and "holds" in item and holds.get("lock_id") != env.get("lock_id"):
        # A state report: a host that does not hold the bundle's lock is on the serial its generation records (none:
        # nothing installed), not on the bundle's.
        found.update(lock_id=holds.get("lock_id"), serial=holds.get("serial"))
    if "from" in item:  # a rollback: the environment now holds the lock of the generation it went to
        now = item.get("to") or item["from"] or {}
        found.update({"from": item["from"], "to": item.get("to"), "skipped": item.get("skipped") or [],
                      "msg": item.get("msg"), "lock_id": now.get("lock_id"), "serial": now.get("serial")})
    return env.get("name", "default"), found


def held(host: str, hostvars: t.Mapping, key: str = "held") -> str | None:
    """Why ``host`` is held (the hold task of its batch skipped it), or with ``key="recorded"`` the hold a rollback
    recorded for it from now on; else None."""
    hold = hostvars.get(_registered.HOLD)
    return ((hold.get(key) or {}).get(host) or None) if isinstance(hold, t.Mapping) else None


def host_summary(host: str, hostvars: t.Mapping, phases: t.Sequence[str] = DEFAULT_PHASES) -> dict:
    """Status of one host: ok, changed, failed, unreachable or held, the phase it reached, and what changed."""
    summary: dict[str, t.Any] = {"host": host, "status": "ok", "phase": None, "error": None, "files_sent": 0,
                                 "bytes_sent": 0, "serial": None, "environments": {}, "held": held(host, hostvars),
                                 "hold_recorded": held(host, hostvars, "recorded")}
    if summary["held"]:
        summary["status"] = "held"  # skipped on purpose: nothing was sent or installed
        return summary
    for phase, var in PHASES:
        result = phase_result(hostvars, phase, var)
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
                name, env = _environment(item, summary["serial"], phase)
                summary["environments"][name] = env
                summary["serial"] = summary["serial"] or env["serial"]
                if env["changed"] and phase in CHANGING_PHASES:
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


def run_mode(run: t.Mapping) -> str:
    """What the words describe: ``state`` (a read-only report against the lock), ``check`` (a rollout or rollback in
    check mode: what would change) or ``run``."""
    if run.get("document") == "state" or "state" in (run.get("phases") or ()):
        return "state"
    return "check" if run.get("check_mode") else "run"


def summary_lines(summary: dict) -> list:
    """The fleet summary as the console shows it, in the words of the run's mode (``run_mode``)."""
    run = summary.get("run") or {}
    mode = run_mode(run)
    counts = ", ".join("%s=%d" % ("would change" if mode == "check" and k == "changed" else k, v)
                       for k, v in sorted(summary["counts"].items()))
    lines = ["fleet: " + counts]
    for item in summary["hosts"]:
        lines.append(host_line(item, mode, "push" in (run.get("phases") or DEFAULT_PHASES)))
    if mode == "check":
        lines.append(CHECK_MODE_LINE)
    return lines


def host_line(item: t.Mapping, mode: str = "run", pushed: bool = True) -> str:
    """``web1: changed, 2 file(s) sent; default 4-1a2b3c4d5e6f (upgraded alpha 1.0 -> 1.1)``, or in check mode
    ``web1: would change, would send 2 file(s); ...``; a state report says nothing about sending."""
    status = "would change" if mode == "check" and item["status"] == "changed" else item["status"]
    head = [status]
    if pushed and mode != "state" and item["status"] != "held":
        head.append(("would send %d file(s)" if mode == "check" else "%d file(s) sent") % item.get("files_sent", 0))
    if item["status"] == "held":
        detail = item.get("held")
    else:
        detail = item["error"] or ", ".join(env_line(env, info, mode)
                                            for env, info in sorted(item["environments"].items())) or "-"
    if item.get("hold_recorded"):
        detail += "; from now on " + item["hold_recorded"]
    return "%s: %s; %s" % (item["host"], ", ".join(head), detail)


def env_line(name: str, info: t.Mapping, mode: str = "run") -> str:
    """One environment: its generation and what changed; a rollback's from and to."""
    if "from" in info:
        return "%s %s" % (name, rollback_text(info, mode))
    return "%s %s%s" % (name, os.path.basename(info.get("generation") or "") or "-", _env_text(info, mode))


def rollback_text(info: t.Mapping, mode: str = "run") -> str:
    """``generation 3 (lock L, serial 8) -> 1 (lock L', serial 7): removed rich==15.0, downgraded alpha 1.1 -> 1.0``
    (``would roll back from ...`` in check mode), or why there was nothing to roll back to."""
    if not info.get("to"):
        return info.get("msg") or "nothing to roll back to"
    words = CHANGE_WORDS["check" if mode == "check" else "run"]
    changes = ["%s %s" % (words[kind], ", ".join(info["changes"][kind]))
               for kind in ("added", "removed", "upgraded", "downgraded") if (info.get("changes") or {}).get(kind)]
    text = "%s%s -> %s: %s" % ("would roll back from " if mode == "check" else "", generation_text(info["from"]),
                               generation_text(info["to"], word=False), ", ".join(changes) or "the same packages")
    passed = ["generation %s: %s" % (item.get("number"), item.get("reason")) for item in info.get("skipped") or []]
    return text + (" (passed over %s)" % "; ".join(passed) if passed else "")


def state_changes(changes: t.Mapping) -> list:
    """What a host holds against its lock, in a read-only report's words: ``behind the lock: lacks rich==15.0.0``."""
    behind = ["lacks %s" % item for item in changes.get("added") or []]
    beyond = ["holds %s, which the lock lacks" % item for item in changes.get("removed") or []]
    for kind, side, target in (("upgraded", behind, "older"), ("downgraded", beyond, "newer")):
        for item in changes.get(kind) or []:
            project, held_version, _arrow, locked = (item.split(" ") + ["", "", ""])[:4]
            side.append("%s %s %s than the lock's %s" % (project, held_version, target, locked))
    return (["behind the lock: " + ", ".join(behind)] if behind else []) + (
        ["beyond the lock: " + ", ".join(beyond)] if beyond else [])


def _env_text(info: t.Mapping, mode: str = "run") -> str:
    """What changed, by name: ``(upgraded alpha 1.0 -> 1.1; added beta==2.0)``, and drift found."""
    if mode == "state":
        parts = state_changes(info.get("changes") or {})
    else:
        words = CHANGE_WORDS[mode]
        parts = ["%s %s" % (words[kind], ", ".join((info.get("changes") or {})[kind]))
                 for kind in ("added", "removed", "upgraded", "downgraded") if (info.get("changes") or {}).get(kind)]
    if info.get("drift"):
        kinds = {("%s %s" % (d["kind"], d["distribution"] or "")).strip() for d in info["drift"]}
        parts.append("drift: %s" % ", ".join(sorted(kinds)))
    if info.get("reason"):
        parts.append("would repair" if mode == "check" else "repaired")
    return " (%s)" % "; ".join(parts) if parts else ""


# -- who the run covers, and what the bundle knows of what the hosts hold ------------------------------------------
NEEDS = ("the report role summarises what the rollout role registered on each host of the run (%s); no host of this "
         "play has any of it: import airgap.pymigrate.report after airgap.pymigrate.rollout (or its state or rollback "
         "entry point), in the same playbook run, in a play over the same hosts")


def run_hosts(every_host: t.Mapping, all_hosts: t.Iterable[str], play_hosts: t.Sequence[str]) -> list:
    """The hosts a document covers: those the run role marked at the start of the run (the shipped playbooks: also
    hosts that were unreachable from the start), else the hosts of the play the report runs in (a user's playbook
    that composes the roles), provided some of them registered a phase; else the report cannot be true and says
    what it needs."""
    marked = [host for host in all_hosts if _registered.read(every_host, host, (_registered.IN_RUN,))]
    if marked:
        return marked
    for host in play_hosts:
        if _registered.read(every_host, host, [var for _phase, var in PHASES]):
            return list(play_hosts)
    raise PyMigrateError(NEEDS % ", ".join(var for _phase, var in PHASES))


def lock_changes(bundle: t.Any) -> dict:
    """{host:environment: changes} of this run's bundle build against the lock (else against the previous bundle)."""
    if not isinstance(bundle, t.Mapping) or bundle.get("failed") or bundle.get("skipped"):
        return {}
    lock = bundle.get("lock")
    return dict((lock.get("changes") if isinstance(lock, t.Mapping) else None) or bundle.get("changes") or {})


def _named(changes: t.Mapping) -> set:
    """(project, version) of every package a change names (``a==1.0``, ``a 1.0 -> 1.1``)."""
    found = set()
    for kind in ("added", "removed", "upgraded", "downgraded"):
        for item in changes.get(kind) or []:
            if "==" in item:
                found.add(tuple(item.split("==", 1)))
            else:
                name, before, _arrow, after = (item.split(" ") + ["", "", ""])[:4]
                found |= {(name, before), (name, after)}
    return found


def add_known(summary: dict, facts: t.Mapping) -> dict:
    """``summary["vulnerabilities"]``: each known vulnerability (the bundle's SBOM) of a version some host holds now,
    with the hosts; ``summary["packages"]``: {project: {version: description}} of the packages named in the changes
    and the findings (what the package metadata says they are)."""
    held: dict = {}
    named = set()
    for env in summary["environments"]:
        for name, version in (env.get("packages") or {}).items():
            held.setdefault((normalize_name(name), str(version)), set()).add(env["host"])
        named |= {(normalize_name(name), version) for name, version in _named(env.get("changes") or {})}
    findings = []
    for vuln in facts.get("vulnerabilities") or []:
        for project, version in vuln["affects"]:
            if (project, version) in held:
                findings.append(dict({k: vuln.get(k) for k in ("id", "description", "recommendation")},
                                     project=project, version=version, hosts=sorted(held[(project, version)])))
                named.add((project, version))
    descriptions = facts.get("descriptions") or {}
    packages: dict = {}
    for project, version in sorted(named):
        if descriptions.get((project, version)):
            packages.setdefault(project, {})[version] = descriptions[(project, version)]
    summary.update(vulnerabilities=sorted(findings, key=lambda f: (f["project"], f["version"], f["id"])),
                   packages=packages)
    return summary


# -- a run's files ------------------------------------------------------------------------------------------------
def registered_vars(every_host: t.Mapping, hosts: t.Iterable[str], names: t.Sequence[str]) -> dict:
    """{host: {name: value}} of only ``names`` (what the phases registered), as stored (``_registered.read``): each
    host's full variables (every role default and inventory var, templated on access) would otherwise be held for
    the whole fleet at once, and the run_once results templated once per host."""
    return {host: _registered.read(every_host, host, names) for host in hosts}


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
