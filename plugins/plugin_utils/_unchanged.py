# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A bundle build with nothing to do: the re-run whose lock holds, whose inputs are those of the bundle it built.

When the lock holds for every profile, a build takes each pin as the lock states it: resolving would change nothing,
and the index is asked only for what it lists of the same files. A build that wrote (or found unchanged) a bundle
records, in ``<bundle_dir>/.build-key.json``, a digest of everything its outcome depends on (``build_key``: the
profiles and their members, the lock directory's files, the indexes, the settings, the vulnerability source and the
day, since the index's vulnerability data and the ignores' expiry move with it) with the manifest it left and the
result a re-run would return. A later build whose key is the same, whose bundle still has that manifest and every
file of it in its store at its size, returns that result at once: no index asked, no file fetched or read
(``settled_result``). Anything else (another setting, a lock edited, a host added, a file gone) builds as before.
Pure functions over the bundle directory; _bundle.py uses them.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import write_atomic
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _lockdir
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._manifest import MANIFEST

RECORD = ".build-key.json"
FORMAT = 1


def _file_digest(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def lock_dir_digests(lock_dir: str) -> dict:
    """{file name: sha256} of the lock directory's locks and summary."""
    try:
        names = sorted(name for name in os.listdir(lock_dir)
                       if _lockdir.LOCK_FILE.match(name) or name == _lockdir.SUMMARY)
    except OSError:
        return {}
    return {name: _file_digest(os.path.join(lock_dir, name)) for name in names}


def _vulnerability_source(settings) -> t.Any:
    check = settings.vulnerabilities
    if check is None:
        return None
    source = None
    if check.osv_db:
        try:
            stat = os.stat(check.osv_db)
            source = [os.path.abspath(check.osv_db), stat.st_size, stat.st_mtime_ns]
        except OSError:
            source = [check.osv_db, None, None]
    today = check.today or datetime.date.today()
    return [check.policy, [repr(item) for item in check.ignores], check.unchecked, source, today.isoformat()]


def _settings_key(settings) -> dict:
    provenance = settings.provenance
    return {"uploaded_prior_to": settings.uploaded_prior_to.isoformat() if settings.uploaded_prior_to else None,
            "build_sdists": settings.build_sdists, "defer_builds": settings.defer_builds,
            "require_built": settings.require_built, "version_policy": settings.version_policy,
            "installer": settings.installer, "installer_requirement": settings.installer_requirement,
            "uv_requirement": settings.uv_requirement, "lock_dir": os.path.abspath(str(settings.lock_dir)),
            "lock_mode": settings.lock_mode, "upgrade": [settings.upgrade.everything, sorted(settings.upgrade.names)],
            "dropped_envs": settings.dropped_envs, "vulnerabilities": _vulnerability_source(settings),
            "provenance": None if provenance is None else [provenance.policy, provenance.trusted_publishers]}


def recordable(plan, settings) -> bool:
    """Whether a build of this plan may record its key: it writes the bundle (not check mode, not lock only) with a
    lock, and no builder host or image is involved."""
    if settings.check_mode or settings.lock_only or settings.lock_mode == "ignore" or plan.locking is None:
        return False
    return plan.images is None and not plan.builders and bool(plan.profiles)


def eligible(plan, settings) -> bool:
    """Whether this build may be one with nothing to do: recordable, and the lock holds for every profile (the
    pins are known without the index)."""
    if not recordable(plan, settings):
        return False
    plans = plan.locking.plans
    return all(profile.name in plans and plans[profile.name].holds is not None for profile in plan.profiles)


def build_key(plan, settings, indexes: t.Sequence[str]) -> str:
    """The digest of everything a build's outcome depends on when its lock holds (see the module's doc)."""
    profiles = [[profile.name, sorted(profile.members), _lockdir.target_digest(profile),
                 _lockdir.inputs_digest(profile)] for profile in plan.profiles]
    value = {"format": FORMAT, "profiles": sorted(profiles), "kept": sorted(plan.kept),
             "absent": {host: dict(envs) for host, envs in plan.absent.items()}, "indexes": list(indexes),
             "settings": _settings_key(settings),
             "lock": lock_dir_digests(t.cast(str, settings.lock_dir))}
    return "sha256:" + hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def steady_result(result: t.Mapping) -> dict | None:
    """What a re-run with nothing changed returns, from the result of a build (the same for a build that changed
    nothing); None when a re-run could differ (environments dropped, builds carried or pending)."""
    if result.get("dropped_envs") or result.get("pending_builds") or result.get("serial") is None:
        return None
    steady = dict(result, changed=False, fetched=[], changes={})
    diff = result.get("diff")
    diff = diff[0] if isinstance(diff, list) else diff
    if isinstance(diff, t.Mapping):
        steady["diff"] = dict(diff, before=diff.get("after"))
    if isinstance(result.get("lock"), t.Mapping):
        lock = result["lock"]
        steady["lock"] = dict(lock, held=sorted(set((lock.get("locks") or {}).values())), changed_files=[],
                              changes={})
    return steady


def record(bundle_dir: str, key: str, result: t.Mapping) -> bool:
    """Write the record of this build (its key, the manifest it left, what a re-run returns); False when a re-run
    could differ (nothing is recorded, and any older record is removed)."""
    path = os.path.join(bundle_dir, RECORD)
    steady = steady_result(result)
    manifest = _file_digest(os.path.join(bundle_dir, MANIFEST))
    if steady is None or manifest is None:
        forget(bundle_dir)
        return False
    data = {"format": FORMAT, "key": key, "manifest_sha256": manifest, "result": steady}
    write_atomic(path, (json.dumps(data, sort_keys=True, default=list) + "\n").encode("utf-8"))
    return True


def forget(bundle_dir: str) -> None:
    try:
        os.unlink(os.path.join(bundle_dir, RECORD))
    except OSError:
        pass


def _store_complete(bundle_dir: str, manifest_bytes: bytes) -> bool:
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError:
        return False
    for relpath, entry in (manifest.get("files") or {}).items():
        try:
            size = os.stat(os.path.join(bundle_dir, relpath)).st_size
        except OSError:
            return False
        if entry.get("size") is not None and size != entry["size"]:
            return False
    return True


def settled_result(bundle_dir: str, key: str) -> dict | None:
    """The recorded result, when the record's key is ``key`` and the bundle is still the one recorded: the same
    manifest, every file of it in the store at its size. Else None (the build runs)."""
    try:
        with open(os.path.join(bundle_dir, RECORD), encoding="utf-8") as handle:
            data = json.load(handle)
        with open(os.path.join(bundle_dir, MANIFEST), "rb") as handle:
            manifest_bytes = handle.read()
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
        return None
    if data.get("manifest_sha256") != hashlib.sha256(manifest_bytes).hexdigest():
        return None
    if not _store_complete(bundle_dir, manifest_bytes):
        return None
    result = data.get("result")
    return dict(result) if isinstance(result, dict) else None
