# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Removal on a host: the environments the inventory marks absent, and the store files no environment references.

Runs on target hosts: standard library only, Python 3.8+.

An environment is removed whole - its stable symlink, its generations directory and its lock file next to it
(``/opt/app/venv``, ``/opt/app/.venv.generations/``, ``/opt/app/.venv.lock``) - and only when it is the collection's:
a path that is not a symlink into its own generations directory is refused, never deleted.

The store keeps a file while any environment references it: a file of the host's slice of the bundle (what its
environments need now) or a file of a lock any generation of any environment the host has was built from (the
generation's record says which; one built before records did lists its packages, matched by name and version). The
environments the host has are those of the slice and those of the store's registry (``_store.registered_
environments``: every environment the collection built there, including ones this inventory no longer names).
"""

import os
import re
import shutil

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import (
    check_relpath,
    load_verified,
    register_environments,
    registered_environments,
    save_verified,
    store_relpath,
)
from ansible_collections.airgap.pymigrate.plugins.module_utils._venv import Environment, VenvError, _normalize

STORE_KEEP = ("all", "referenced")
# host_prune's options, for the module and for its action plugin (which validates them on the control node).
ARGUMENT_SPEC = dict(
    bundle_dir=dict(type="path"),  # read by the action plugin only (it reads the slice), as is serial
    serial=dict(type="raw"),
    store_dir=dict(type="path", default="/var/lib/pymigrate/store"),
    store_keep=dict(type="str", choices=list(STORE_KEEP), default="all"),
    lock_timeout=dict(type="int", default=300),
    environments=dict(type="list", elements="path", default=[]),
    absent=dict(type="list", elements="dict", default=[],
                options=dict(name=dict(type="str", required=True), path=dict(type="path", required=True))),
    keep_files=dict(type="list", elements="str", default=[]),
)


def remove_environment(path, store_dir, lock_timeout=300, check_mode=False):
    """Remove the environment at ``path``: its symlink, generations and lock file. Returns what was (in check mode:
    would be) removed, empty when nothing of it is on the host."""
    env = Environment(path, store_dir)
    env.check_owned()
    if os.path.lexists(env.path) and not os.path.islink(env.path):
        raise VenvError("%s exists and is not a pymigrate-managed symlink; it is never deleted by pymigrate (move it "
                        "away, or take the environment's state: absent out of the inventory)" % env.path)
    if os.path.islink(env.path):
        target = os.path.realpath(env.path)
        if os.path.dirname(target) != os.path.realpath(env.generations_dir):
            raise VenvError("%s points to %s, not into its generations %s; it is not removed"
                            % (env.path, target, env.generations_dir))
    found = [item for item in (env.path, env.generations_dir, env.lock_path) if os.path.lexists(item)]
    if not found or check_mode:
        return found
    with env.lock(lock_timeout):
        if os.path.lexists(env.path):
            os.unlink(env.path)  # first: the environment's path is gone at once
        shutil.rmtree(env.generations_dir, ignore_errors=True)
        if os.path.isdir(env.generations_dir):
            raise VenvError("%s could not be removed whole" % env.generations_dir)
        os.unlink(env.lock_path)  # (the lock is held: nothing else works on this environment meanwhile)
    return found


def _store_files(store_dir):
    """{store path: size} of every file in the store (partial files of a push aside)."""
    found = {}
    root = os.path.join(store_dir, "files", "sha256")
    if not os.path.isdir(root):
        return found
    for prefix in sorted(os.listdir(root)):
        for digest in sorted(os.listdir(os.path.join(root, prefix))):
            directory = os.path.join(root, prefix, digest)
            for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else ():
                relpath = "files/sha256/%s/%s/%s" % (prefix, digest, name)
                if name.endswith(".part") or not os.path.isfile(os.path.join(directory, name)):
                    continue
                try:
                    check_relpath(relpath)
                except Exception:  # pylint: disable=broad-except
                    continue  # not the collection's: never touched
                found[relpath] = os.path.getsize(os.path.join(directory, name))
    return found


def _wheel_key(relpath):
    """(normalized name, version) of a wheel's store path, or None."""
    name = relpath.rsplit("/", 1)[-1]
    match = re.match(r"^([^-]+)-([^-]+)-", name)
    return (_normalize(match.group(1)), match.group(2)) if match and name.endswith(".whl") else None


def referenced_files(store_dir, paths, files):
    """The store paths some generation of the environments at ``paths`` was built from: its record's ``files``, or for
    a record without them, the store's wheels of its packages (name and version) and its installer."""
    by_key = {}
    for relpath in files:
        key = _wheel_key(relpath)
        if key:
            by_key.setdefault(key, []).append(relpath)
    keep = set()
    for path in paths:
        env = Environment(path, store_dir)
        for generation in env.generations():
            record = env.record(generation) or {}
            if record.get("files"):
                keep.update(record["files"])
                continue
            for name, version in (record.get("packages") or {}).items():
                keep.update(by_key.get((_normalize(name), str(version)), []))
            installer = record.get("installer") or {}
            if installer.get("sha256") and installer.get("filename"):
                keep.add(store_relpath(installer["sha256"], installer["filename"]))
    return keep


def prune_store(store_dir, keep, check_mode=False):
    """Remove every store file not in ``keep`` (and its emptied directories); ([store paths removed], bytes)."""
    files = _store_files(store_dir)
    pruned = sorted(relpath for relpath in files if relpath not in keep)
    if check_mode or not pruned:
        return pruned, sum(files[relpath] for relpath in pruned)
    for relpath in pruned:
        full = os.path.join(store_dir, relpath)
        os.unlink(full)
        for directory in (os.path.dirname(full), os.path.dirname(os.path.dirname(full))):
            try:
                os.rmdir(directory)
            except OSError:
                break  # not empty
    cache = load_verified(store_dir)
    if any(relpath in cache for relpath in pruned):
        save_verified(store_dir, {key: value for key, value in cache.items() if key not in pruned})
    return pruned, sum(files[relpath] for relpath in pruned)


def cleanup(store_dir, present, absent, keep_files, store_keep="all", lock_timeout=300, check_mode=False):
    """What host_prune does, in one call: the environments ``absent`` ([{name, path}]) removed, the ones ``present``
    (paths of the slice) registered, and with ``store_keep`` ``referenced`` every store file pruned that neither
    ``keep_files`` (the slice's) nor any generation of any environment of the host references."""
    if store_keep not in STORE_KEEP:
        raise VenvError("store_keep must be one of %s, not %r" % (", ".join(STORE_KEEP), store_keep))
    removed = []
    for item in absent:
        found = remove_environment(item["path"], store_dir, lock_timeout, check_mode)
        if found:
            removed.append({"name": item["name"], "path": item["path"], "removed": found})
    existing = [path for path in present if os.path.lexists(path)]
    if not check_mode and os.path.isdir(store_dir):
        register_environments(store_dir, add=existing, remove=[item["path"] for item in absent])
    pruned, pruned_bytes = [], 0
    if store_keep == "referenced" and os.path.isdir(store_dir):
        gone = {item["path"] for item in absent}
        paths = sorted((set(existing) | set(registered_environments(store_dir))) - gone)
        keep = set(keep_files) | referenced_files(store_dir, paths, _store_files(store_dir))
        pruned, pruned_bytes = prune_store(store_dir, keep, check_mode)
    return {"changed": bool(removed or pruned), "removed": removed, "pruned": pruned, "pruned_bytes": pruned_bytes}
