# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether a host has anything left to do after the push: the no-op path of a rollout, decided once.

The push learns each environment's state against its lock (from the survey of the same run, or its own call). When
every environment's current generation holds its lock unchanged and no environment marked absent is on the host, the
install and the prune would only return what is already known: the push says so (``settled``, with each environment's
no-op install result) and the rollout role ends the host for the rest of its play (``meta: end_host``, which the
strategy decides in its own process: no worker per host, no further task). The report reads ``settled`` as the
install's results. Pure functions; the actions venv_install, wheel_push and host_prune use them.
"""

from __future__ import annotations

import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._venv import _normalize as normalize_name
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._manifest import env_refs
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._registered import HOLD, PUSH, TARGET_FACTS
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._targets import reported_facts


def known_result(known: t.Mapping | None, args: t.Mapping) -> dict | None:
    """The no-op result the venv_install module would return, when ``known`` shows the current generation holds the
    lock in ``args`` (its ``lock_id`` and ``packages``) with no drift; else None."""
    if not known or not known.get("current") or (args.get("state") or "present") != "present":
        return None
    if not args.get("lock_id") or known.get("lock_id") != args["lock_id"] or known.get("drift"):
        return None
    # No drift means the generation holds exactly the lock's distributions and versions (names as the module
    # normalises them), so nothing else needs to travel back from the host.
    installed = {normalize_name(str(item["name"])): str(item["version"]) for item in args.get("packages") or []}
    return {"changed": False, "generation": known.get("generation"), "previous_generation": None,
            "packages": installed, "installed": installed, "pip_ran": False, "drift": [],
            "changes": {"added": [], "removed": [], "upgraded": [], "downgraded": []},
            "msg": "the current generation holds this lock unchanged (checked earlier in this run)"}


def pushed_state(push: t.Any, host_slice: t.Mapping, name: str) -> dict | None:
    """The state of environment ``name`` the push of this run learnt from the host, when that push read this very
    slice (the same ``slice_id``: the same files and environments, whatever the serial); else None."""
    if not isinstance(push, t.Mapping) or push.get("failed") or push.get("skipped"):
        return None
    if not push.get("slice_id") or push["slice_id"] != host_slice["slice_id"]:
        return None
    for env in push.get("envs") or []:
        if isinstance(env, t.Mapping) and env.get("name") == name:
            return env.get("known_state")
    return None


def found_by_survey(task_vars: t.Mapping, host_slice: t.Mapping) -> list | None:
    """The absent environments' paths the survey of this run found on the host for this very slice, else None."""
    check = (task_vars.get(TARGET_FACTS) or {}).get("rollout_check") or {}
    if check.get("error") or check.get("slice_id") != host_slice["slice_id"] or "absent_found" not in check:
        return None
    return list(check["absent_found"])


def settled(envs: t.Sequence[t.Mapping], absent: t.Sequence, absent_found: list | None) -> list | None:
    """Each environment's no-op install result (with its ``environment``), when nothing is left to do on the host
    for ``envs`` (each with the ``known_state`` the push learnt) and its absent environments; else None.

    Nothing is left when every environment is a venv whose current generation holds its lock unchanged, and no
    environment marked absent is there (none marked, or the survey found none of them)."""
    if absent and absent_found != []:
        return None
    results = []
    for env in envs:
        if env.get("strategy") == "image":
            return None
        known = known_result(env.get("known_state"), {"lock_id": env.get("lock_id"), "packages": env.get("packages")})
        if known is None:
            return None
        results.append(dict(known, environment=env_refs([env])[0]))
    return results


def pushed_files(host_slice: t.Mapping, image_blobs: bool = True) -> tuple:
    """(files, skipped paths): the store files of ``host_slice`` the push sends when the host lacks them; with
    ``image_blobs`` false (a registry inside the enclave) an image environment's blobs are pulled there, not sent."""
    if image_blobs:
        return list(host_slice["files"]), set()
    skipped = {blob["path"] for env in host_slice["envs"] if env.get("image") for blob in env["image"]["blobs"]}
    return [item for item in host_slice["files"] if item["path"] not in skipped], skipped


def surveyed_listing(task_vars: t.Mapping, host_slice: t.Mapping, verify: str) -> dict | None:
    """What the survey of this run found of this very slice on the host, checked the same way (``verify``), as the
    push's listing call would answer it; else None (the push asks the host)."""
    check = (task_vars.get(TARGET_FACTS) or {}).get("rollout_check") or {}
    if check.get("error") or check.get("slice_id") != host_slice["slice_id"] or check.get("verify") != verify:
        return None
    if any(state.get("error") for state in check.get("environments") or []):
        return None  # the host's prepared call refuses it, before any file moves, with the reason
    facts = reported_facts(task_vars) or {}
    return dict(check["store"], environments=check.get("environments") or [],
                interpreter=(facts.get("python") or {}).get("executable"))


def push_outcome(host_slice: t.Mapping | None, files: t.Sequence[t.Mapping], skipped: t.Collection, listing: t.Mapping,
                 task_vars: t.Mapping) -> dict:
    """The push's result from the host's ``listing`` (its own answer or the survey's): each environment of the slice
    with the ``known_state`` the listing gives it, whether the host is ``settled``, and which of ``files`` it lacks
    (``sent``, before anything is sent). Without a slice (files given), only the files."""
    result: dict = {}
    if host_slice is not None:
        envs = host_slice["envs"]
        states = {state["path"]: state for state in listing.get("environments") or []}
        for env in envs:
            if env["path"] in states and env.get("strategy") != "image":
                env["known_state"] = states[env["path"]]
        # Nothing left for the install and the prune: the rollout role ends the host here (meta: end_host).
        result.update(envs=envs, serial=host_slice["serial"], slice_id=host_slice["slice_id"],
                      settled=settled(envs, host_slice.get("absent") or [], found_by_survey(task_vars, host_slice)))
    missing = [path for path in listing["missing"] + [item["path"] for item in listing["corrupt"]]
               if path not in skipped]  # (the survey's answer covers the whole slice)
    by_path = {item["path"]: item for item in files}
    present = listing["present"]
    result.update(sent=missing, sent_bytes=sum(int(by_path[path]["size"]) for path in missing),
                  present=present if isinstance(present, int) else len(present),  # the survey's answer counts them
                  repaired=listing["corrupt"], changed=bool(missing) or bool(listing["removed_partials"]))
    return result


def settled_by_survey(host_slice: t.Mapping, task_vars: t.Mapping, verify: str,
                      image_blobs: bool = True) -> dict | None:
    """The push's result for a host the survey of this run found settled with nothing to send (its store holds the
    slice, every environment holds its lock, none marked absent is there): the rollout ends such a host before the
    push (rollout_hold decides it for the batch), and the report reads this as its push and install. Else None."""
    listing = surveyed_listing(task_vars, host_slice, verify)
    if listing is None:
        return None
    files, skipped = pushed_files(host_slice, image_blobs)
    outcome = push_outcome(host_slice, files, skipped, listing, task_vars)
    if outcome["settled"] is None or outcome["changed"]:
        return None
    return dict(outcome, asked_host=False)


def push_results_from_hold(hostvars: t.MutableMapping, bundle_dir: str | None, check_mode: bool = False) -> list:
    """For each host its batch's hold task found settled (the rollout ended it before the push: no push result),
    the push's result rebuilt from the same survey answer and slice, set as the host's ``PUSH`` in ``hostvars``
    ({host: {name: value}}, the report's copy); returns those hosts. A host whose answer no longer shows it settled
    (its slice gone) keeps no push result: the report says it did not reach the push."""
    rebuilt = []
    for host, values in hostvars.items():
        hold = values.get(HOLD)
        if values.get(PUSH) is not None or not bundle_dir or not isinstance(hold, t.Mapping):
            continue
        if host not in (hold.get("settled") or {}):
            continue
        try:
            host_slice = _manifest.host_slice(bundle_dir, host, check_mode=check_mode,
                                              serial=hold.get("settled_serial"))
        except PyMigrateError:
            continue
        check = (values.get(TARGET_FACTS) or {}).get("rollout_check") or {}
        outcome = settled_by_survey(host_slice, values, str(check.get("verify")))
        if outcome is not None:
            values[PUSH] = outcome
            rebuilt.append(host)
    return rebuilt
