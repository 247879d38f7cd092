# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 3, the bundle: inventory + facts -> profiles -> one resolution each -> parallel fetch -> locks,
manifest and SBOM in one directory.

Nothing in the bundle directory changes before every profile has resolved and every file has been
fetched and verified: an error leaves the previous bundle intact. The manifest is written last.

Bundle directory::

    manifest.json                 serial, created, profiles, hosts, files (see docs/bundle-format.md)
    sbom.cdx.json                 CycloneDX SBOM
    pylock.<profile>.toml         PEP 751 lock per profile (paths relative to the bundle)
    requirements.<profile>.txt    pinned, hashed
    files/sha256/<2>/<64>/<name>  the content-addressed store shared by all profiles
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import glob
import json
import os
import tempfile
import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._fetch import fetch_all, missing_files
from ansible_collections.airgap.pymigrate.plugins.module_utils._index import redact
from ansible_collections.airgap.pymigrate.plugins.module_utils._lockfile import (
    diff_pins,
    manifest_equivalent,
    render_pylock,
    render_requirements,
    utc_now,
)
from ansible_collections.airgap.pymigrate.plugins.module_utils._model import Pin, PyMigrateError, WantedSet
from ansible_collections.airgap.pymigrate.plugins.module_utils._profiles import build_profiles
from ansible_collections.airgap.pymigrate.plugins.module_utils._resolve import resolve
from ansible_collections.airgap.pymigrate.plugins.module_utils._sbom import render_sbom
from ansible_collections.airgap.pymigrate.plugins.module_utils._store import store_relpath
from ansible_collections.airgap.pymigrate.plugins.module_utils._targets import describe

MANIFEST = "manifest.json"
SBOM = "sbom.cdx.json"
CHECK_DIR = ".check"


@dataclasses.dataclass
class HostInput:
    """One host as the bundle sees it: its environments (EnvSpec) and its target (per interpreter)."""

    host: str
    envs: dict
    target: t.Any


def read_manifest(bundle_dir: str) -> dict | None:
    path = os.path.join(bundle_dir, MANIFEST)
    try:
        with open(path) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise PyMigrateError("cannot read the previous bundle manifest %s: %s" % (path, exc),
                             hint="Remove the bundle directory to start afresh")


def _write_atomic(path: str, text: str) -> None:
    directory = os.path.dirname(path)
    handle, temp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def _file_record(pin_or_file) -> tuple:
    dist = pin_or_file.file if isinstance(pin_or_file, Pin) else pin_or_file
    relpath = store_relpath(dist.sha256, dist.filename)
    return relpath, {"size": dist.size, "sha256": dist.sha256, "project": dist.project, "version": dist.version,
                     "filename": dist.filename}


def _previous_packages(previous: dict | None) -> dict:
    """host:env -> {name: version} from the previous manifest, for diffs."""
    if not previous:
        return {}
    result = {}
    for host, envs in (previous.get("hosts") or {}).items():
        for env_name, env in envs.items():
            profile = (previous.get("profiles") or {}).get(env.get("profile"), {})
            result["%s:%s" % (host, env_name)] = profile.get("packages", {})
    return result


def build_bundle(hosts: t.Sequence[HostInput], bundle_dir: str, client, *, check_mode: bool = False,
                 uploaded_prior_to=None, build_sdists: bool = True, installer_requirement: str = "pip",
                 workers: int = 8, sdist_builder_factory=None) -> dict:
    """Resolve and fetch every profile; write the bundle unless in check mode. Returns a result dict."""
    entries = []
    env_by_member = {}
    for item in hosts:
        for env_name, env in sorted(item.envs.items()):
            entries.append((item.host, env_name, item.target, env.wanted))
            env_by_member["%s:%s" % (item.host, env_name)] = (item.host, env)
    if not entries:
        raise PyMigrateError("no host to bundle for: no host has target facts, a survey entry or pymigrate_target",
                             hint="Run the survey play first, pass a survey file, or declare pymigrate_target")
    profiles = build_profiles(entries)
    if not check_mode:
        os.makedirs(bundle_dir, exist_ok=True)
    store_dir = bundle_dir
    work_dir = tempfile.mkdtemp(prefix=".work-", dir=bundle_dir if not check_mode else None)
    build_sdist = None
    if build_sdists:
        from ansible_collections.airgap.pymigrate.plugins.module_utils._build import make_sdist_builder
        build_sdist = (sdist_builder_factory or make_sdist_builder)(client, store_dir if not check_mode else work_dir, work_dir)

    previous = read_manifest(bundle_dir)
    if previous:
        # Known projects, revalidated in parallel: a re-run with nothing new costs one round trip, not one per page.
        client.prefetch_projects([info["project"] for info in previous.get("files", {}).values()])
    pins_by_profile, installers = {}, {}

    def resolve_profile(profile):
        try:
            pins = resolve(profile.target, profile.wanted, client, uploaded_prior_to=uploaded_prior_to,
                           build_sdist=build_sdist, profile=profile.name)
        except PyMigrateError as exc:
            exc.message = "%s (hosts: %s)" % (exc.message, ", ".join(profile.members))
            raise
        # The installer (pip) is resolved for each profile's Python: it must run on the target's interpreter.
        try:
            installer = [p for p in resolve(profile.target, WantedSet({"pip": installer_requirement}), client,
                                            profile=profile.name) if p.name == "pip"][0]
        except PyMigrateError as exc:
            message = "cannot bundle an installer (%s) for profile %s: %s" % (
                installer_requirement, profile.name, exc.message)
            raise PyMigrateError(message, var="pymigrate_installer_requirement", value=installer_requirement,
                                 hint="The bundle carries pip so hosts without pip can install; make it available on the index")
        return profile.name, pins, installer

    # Profiles resolve in parallel: most of the time is spent waiting on the index, and pages and metadata
    # already read are shared through the client.
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(4, len(profiles)),
                                               thread_name_prefix="pymigrate-resolve") as pool:
        for name, pins, installer in pool.map(resolve_profile, profiles):
            pins_by_profile[name], installers[name] = pins, installer

    all_files = [pin.file for pins in pins_by_profile.values() for pin in pins]
    all_files += [pin.file for pin in installers.values()]
    to_fetch = missing_files(all_files, store_dir)

    manifest = {"format": 1, "serial": None, "created": None, "tool": {"name": "airgap.pymigrate", "version": "0.1.0"},
                "indexes": [redact(index.base) for index in client.indexes],
                "uploaded_prior_to": uploaded_prior_to.isoformat() if uploaded_prior_to else None,
                "profiles": {}, "hosts": {}, "files": {}}
    for profile in profiles:
        pins = pins_by_profile[profile.name]
        installer_path, installer_record = _file_record(installers[profile.name])
        manifest["files"][installer_path] = installer_record
        files = []
        for pin in pins:
            relpath, record = _file_record(pin)
            manifest["files"][relpath] = record
            files.append(relpath)
        manifest["profiles"][profile.name] = {
            "members": profile.members, "target": describe(profile.target),
            "lock": "pylock.%s.toml" % profile.name, "requirements": "requirements.%s.txt" % profile.name,
            "packages": {pin.name: pin.version for pin in pins}, "files": sorted(files),
            "installer": installer_path,
        }
        for member in profile.members:
            host, env = env_by_member[member]
            manifest["hosts"].setdefault(host, {})[env.name] = {
                "profile": profile.name, "path": env.path, "python": env.python,
                "smoke_imports": list(env.smoke_imports)}

    old_packages = _previous_packages(previous)
    diff, before, after = {}, [], []
    for member in sorted(env_by_member):
        profile_name = next(p.name for p in profiles if member in p.members)
        new_packages = manifest["profiles"][profile_name]["packages"]
        changes = diff_pins(old_packages.get(member, {}), new_packages)
        if any(changes.values()):
            diff[member] = changes
        before += ["%s %s==%s" % (member, k, v) for k, v in sorted(old_packages.get(member, {}).items())]
        after += ["%s %s==%s" % (member, k, v) for k, v in sorted(new_packages.items())]

    texts = {}
    for profile in profiles:
        texts["pylock.%s.toml" % profile.name] = render_pylock(profile, pins_by_profile[profile.name])
        texts["requirements.%s.txt" % profile.name] = render_requirements(profile, pins_by_profile[profile.name])
    unchanged_texts = all(_read(os.path.join(bundle_dir, name)) == text for name, text in texts.items())
    stale = sorted(set(_existing_locks(bundle_dir)) - set(texts))
    changed = bool(to_fetch) or not (manifest_equivalent(previous, manifest) and unchanged_texts and not stale)

    summary = {p.name: {"members": p.members, "packages": manifest["profiles"][p.name]["packages"]} for p in profiles}
    result = {"changed": changed, "profiles": summary,
              "fetched": [d.filename for d in to_fetch], "changes": diff,
              "diff": {"before": "\n".join(before) + "\n", "after": "\n".join(after) + "\n",
                       "before_header": "previous bundle", "after_header": "new bundle"}, "serial": (previous or {}).get("serial"),
              "bundle_dir": bundle_dir}
    if check_mode:
        # The rollout's check mode predicts from this proposed manifest; the bundle itself is untouched.
        proposal_dir = os.path.join(bundle_dir, CHECK_DIR)
        os.makedirs(proposal_dir, exist_ok=True)
        manifest["serial"], manifest["created"] = (previous or {}).get("serial"), utc_now()
        _write_atomic(os.path.join(proposal_dir, MANIFEST), json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    if check_mode or not changed:
        _cleanup(work_dir)
        return result

    fetch_all(all_files, store_dir, client, max_workers=workers)
    serial = int((previous or {}).get("serial") or 0) + 1
    manifest["serial"], manifest["created"] = serial, utc_now()
    for name, text in texts.items():
        _write_atomic(os.path.join(bundle_dir, name), text)
    sbom = render_sbom(pins_by_profile, serial, manifest["created"])
    _write_atomic(os.path.join(bundle_dir, SBOM), json.dumps(sbom, indent=1, sort_keys=True) + "\n")
    _write_atomic(os.path.join(bundle_dir, MANIFEST), json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    for name in stale:
        os.unlink(os.path.join(bundle_dir, name))
    _cleanup(work_dir)
    result["serial"] = serial
    return result


def _existing_locks(bundle_dir: str) -> list:
    return [os.path.basename(p) for p in glob.glob(os.path.join(bundle_dir, "pylock.*.toml"))
            + glob.glob(os.path.join(bundle_dir, "requirements.*.txt"))]


def _read(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def _cleanup(path: str) -> None:
    import shutil
    shutil.rmtree(path, ignore_errors=True)
