# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bundle manifest, ``manifest.json`` (docs/bundle-format.md): the one file that says what a bundle holds
and which host gets what. This module is its only reader and writer: the bundle build writes it, push,
install, rollback, export, import and the audit read it through here; ``in_use`` says which bundle a run reads.

    profiles: {name: {members, target, lock, requirements, packages: {name: version}, files: [relpath], installer}}
    hosts:    {host: {env: {profile, path, python, smoke_imports}}}
    absent:   {host: {env: {path}}}     the environments removed from the host (only when there are)
    files:    {relpath: {size, sha256, project, version, filename, upload_time, yanked}}
    vulnerabilities: {source, policy, reports: {profile: {json, text, counts}}, osv_db: {path, sha256, modified, ...}}
    provenance: {policy, verifier, files: {relpath: {state, publisher, provenance, provenance_sha256, ...}},
                 identities: {project: {kind, repository, ..., trust}}, counts,
                 trust_root: {path, sha256, source} (the Sigstore trust root verified with) or null}
    metadata: {relpath: sha256}   every metadata file but the manifest itself, as the build wrote it (the export
                                  signs nothing else)
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import file_sha256, store_relpath, write_atomic
from ansible_collections.airgap.pymigrate.plugins.module_utils._venv import packages_lock_id
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _simple
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._build import built_wheels
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import COLLECTION_VERSION, PyMigrateError
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._sbom import SBOM_FILE, VEX_FILE
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._targets import describe


class HostNotInBundle(PyMigrateError):
    """The host has no slice of the bundle (not in the inventory the bundle was built for)."""


FORMAT = 1
MANIFEST = "manifest.json"
# The manifest's record of every other metadata file's sha256 (record_metadata, check_metadata).
METADATA_RECORD = "metadata"
# Check mode writes the proposed manifest here (nothing else); the rollout's check mode predicts from it.
CHECK_DIR = ".check"
# Every serial's manifest, never rewritten: a rollout reads the serial it started with, whatever builds meanwhile.
SERIALS_DIR = "manifests"
# Each host's slice (its files and environments) of each recent serial, written once with the manifest: a rollout
# reads only its host's slice, so the controller's work per host does not grow with the fleet.
SLICES_DIR = "slices"
CURRENT_SLICES = "current"  # the newest serial with slices (a rollout without a pinned serial deploys it)
KEEP_SLICE_SERIALS = 5  # older serials are computed from manifests/<serial>.json when a rollout still asks
# Where a run finds its bundle (``in_use``): the one built on this control node, else the last import's.
DEFAULT_BUNDLE_DIR = "~/.cache/airgap.pymigrate/bundle"  # pymigrate_bundle_dir
DEFAULT_IMPORT_DIR = "~/.cache/airgap.pymigrate/import"  # pymigrate_import_dir
IMPORTED_CURRENT = "current"  # <import dir>/current: the bundle the last import made current (_archive writes it)


def new(indexes: t.Sequence[str], uploaded_prior_to: str | None) -> dict:
    """An empty manifest; ``serial`` and ``created`` are set when it is written."""
    return {"format": FORMAT, "serial": None, "created": None,
            "tool": {"name": "airgap.pymigrate", "version": COLLECTION_VERSION},
            "indexes": list(indexes), "uploaded_prior_to": uploaded_prior_to,
            "profiles": {}, "hosts": {}, "files": {}}


def file_record(dist) -> tuple:
    """(store path, manifest entry) of one DistFile; its upload time and yanked state (the reason, "" when none was
    given) when the index gave them, for the bundle's own index (``simple/``, _simple.py)."""
    record = {"size": dist.size, "sha256": dist.sha256, "project": dist.project, "version": dist.version,
              "filename": dist.filename}
    if dist.upload_time:
        record["upload_time"] = dist.upload_time
    if dist.yanked is not None:
        record["yanked"] = dist.yanked
    return store_relpath(dist.sha256, dist.filename), record


def build_entry(build: t.Mapping) -> dict:
    """A pending sdist build as the manifest and the bundle's result carry it (JSON: no in-memory keys)."""
    return {k: v for k, v in build.items() if k not in ("dists", "target_key")}


def add_profile(manifest: dict, profile, pins: t.Sequence, installer, envs_by_member: t.Mapping,
                builds: t.Sequence = ()) -> None:
    """Record one resolved profile: its files, its lock names, each member host environment, and the sdist builds
    it leaves to builder hosts inside (their build requirements and pip travel as files of the bundle)."""
    for build in builds:
        manifest["files"].update(file_record(dist) for dist in build["dists"])
    installer_path, record = file_record(installer.file)
    manifest["files"][installer_path] = record
    files = []
    for pin in pins:
        relpath, record = file_record(pin.file)
        if pin.built_from:  # sdist sha256, builder host and time of a wheel built from an sdist
            record["built_from"] = {k: v for k, v in pin.built_from.items() if v is not None}
        manifest["files"][relpath] = record
        files.append(relpath)
    manifest["profiles"][profile.name] = {
        "members": profile.members, "target": describe(profile.target),
        "lock": "pylock.%s.toml" % profile.name, "requirements": "requirements.%s.txt" % profile.name,
        "packages": {pin.name: pin.version for pin in pins}, "files": sorted(files), "installer": installer_path,
    }
    if builds:
        manifest["profiles"][profile.name]["builds"] = [build_entry(build) for build in builds]
    for member in profile.members:
        host, env = envs_by_member[member]
        manifest["hosts"].setdefault(host, {})[env.name] = {
            "profile": profile.name, "path": env.path, "python": env.python, "smoke_imports": list(env.smoke_imports)}


def set_absent(manifest: dict, absent: t.Mapping[str, t.Mapping[str, str]]) -> None:
    """Record the environments removed from each host ({host: {env: path}}); a host of them has an entry in ``hosts``
    (maybe with no environment left), so that it has a slice that says what to remove."""
    for host, envs in sorted(absent.items()):
        if envs:
            entry = manifest.setdefault("absent", {}).setdefault(host, {})
            entry.update((name, {"path": path}) for name, path in sorted(envs.items()))
            manifest["hosts"].setdefault(host, {})


def dropped_envs(previous: t.Mapping | None, manifest: t.Mapping, hosts: t.Iterable[str],
                 removals: bool = False) -> dict:
    """{host: {env: path}}: the environments the previous bundle gave a host of this run (with ``removals``, also
    those it was to remove) that the new manifest neither keeps nor marks absent - dropped from the inventory - unless
    their path now belongs to an environment the host keeps."""
    dropped: dict = {}
    old_hosts = (previous or {}).get("hosts") or {}
    old_absent = ((previous or {}).get("absent") or {}) if removals else {}
    for host in hosts:
        kept = manifest["hosts"].get(host) or {}
        named = set(kept) | set((manifest.get("absent") or {}).get(host) or {})
        paths = {env["path"] for env in kept.values()}
        for name, env in sorted(list((old_hosts.get(host) or {}).items()) + list((old_absent.get(host) or {}).items())):
            if name not in named and env["path"] not in paths:
                dropped.setdefault(host, {})[name] = env["path"]
    return dropped


def add_image(manifest: dict, profile_name: str, record: t.Mapping) -> None:
    """The image that carries a profile of the image strategy: its blobs are store files like wheels (hosts get
    these, not the wheels), the rest says how to load and name it."""
    for blob in record["blobs"]:
        manifest["files"][blob["path"]] = {"size": blob["size"], "sha256": blob["sha256"], "project": record["name"],
                                           "version": "oci-" + blob["kind"], "filename": blob["path"].rsplit("/", 1)[1]}
    manifest["profiles"][profile_name]["image"] = {
        key: record[key] for key in ("key", "name", "image_id", "manifest_digest", "index", "layers", "base_image",
                                     "base_id", "path", "python")}
    manifest["profiles"][profile_name]["image"]["blobs"] = [blob["path"] for blob in record["blobs"]]


def in_use(bundle_dir: str | None = None, import_dir: str | None = None) -> str:
    """The bundle this run uses: the one built on this control node (``bundle_dir``) when its manifest exists, else
    the one the last import made current (``<import_dir>/current``, as inside the enclave). Paths expanded; either
    unset takes its default."""
    built = os.path.expanduser(bundle_dir or DEFAULT_BUNDLE_DIR)
    if os.path.isfile(os.path.join(built, MANIFEST)):
        return built
    return os.path.join(os.path.expanduser(import_dir or DEFAULT_IMPORT_DIR), IMPORTED_CURRENT)


def pinned_serial(value: t.Any) -> int | None:
    """The bundle serial a run pinned (``pymigrate_bundle_serial``, an int or its text), or None when unset."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PyMigrateError("a bundle serial is a whole number from 1", var="pymigrate_bundle_serial", value=value,
                             hint="Leave it unset to deploy the newest serial")
    return value


def path(bundle_dir: str, check_mode: bool = False, serial: int | None = None) -> str:
    """The manifest a run uses: in check mode the proposal the bundle build wrote, when there is one; else the one
    of ``serial`` (when given and kept), else the newest."""
    proposal = os.path.join(bundle_dir, CHECK_DIR, MANIFEST)
    if check_mode and os.path.exists(proposal):
        return proposal
    pinned = os.path.join(bundle_dir, SERIALS_DIR, "%s.json" % serial)
    return pinned if serial is not None and os.path.exists(pinned) else os.path.join(bundle_dir, MANIFEST)


@t.overload
def read(bundle_dir: str, check_mode: bool = ..., required: t.Literal[True] = ..., serial: int | None = ...) -> dict:
    ...


@t.overload
def read(bundle_dir: str, check_mode: bool = ..., *, required: bool, serial: int | None = ...) -> dict | None:
    ...


def read(bundle_dir: str, check_mode: bool = False, required: bool = True, serial: int | None = None) -> dict | None:
    """The parsed manifest of ``bundle_dir`` (see ``path``); None when there is none and it is not ``required``."""
    manifest_path = path(bundle_dir, check_mode, serial)
    try:
        with open(manifest_path) as handle:
            manifest = json.load(handle)
    except FileNotFoundError:
        if not required:
            return None
        raise PyMigrateError("no bundle at %s (%s is missing)" % (bundle_dir, MANIFEST), var="pymigrate_bundle_dir",
                             value=bundle_dir, hint="Build one with playbooks/bundle.yml or import an archive first")
    except (OSError, ValueError) as exc:
        raise PyMigrateError("cannot read the bundle manifest %s: %s" % (manifest_path, exc),
                             hint="Rebuild the bundle, or remove the bundle directory to start afresh")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PyMigrateError("%s is not a format %d bundle manifest" % (manifest_path, FORMAT),
                             hint="Rebuild the bundle with this version of airgap.pymigrate")
    proposal = manifest_path == os.path.join(bundle_dir, CHECK_DIR, MANIFEST)
    if serial is not None and not proposal and manifest.get("serial") != serial:
        raise PyMigrateError("the bundle %s no longer holds serial %s (it holds %s)"
                             % (bundle_dir, serial, manifest.get("serial")),
                             hint="Run the rollout again: it deploys the newest serial")
    return manifest


def _dump(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8")


def write(bundle_dir: str, manifest: dict) -> None:
    """Write the manifest (last, atomically: it makes the bundle's new files count), keep it under its serial too,
    and drop a stale proposal."""
    os.makedirs(os.path.join(bundle_dir, SERIALS_DIR), exist_ok=True)
    write_atomic(os.path.join(bundle_dir, SERIALS_DIR, "%d.json" % manifest["serial"]), _dump(manifest))
    write_slices(bundle_dir, manifest)
    write_atomic(os.path.join(bundle_dir, MANIFEST), _dump(manifest))
    publish_slices(bundle_dir, manifest)
    proposal = os.path.join(bundle_dir, CHECK_DIR, MANIFEST)
    if os.path.exists(proposal):
        os.unlink(proposal)


def write_proposal(bundle_dir: str, manifest: dict) -> str:
    """Check mode's only write: the proposed manifest in ``<bundle_dir>/.check/``."""
    directory = os.path.join(bundle_dir, CHECK_DIR)
    os.makedirs(directory, exist_ok=True)
    write_atomic(os.path.join(directory, MANIFEST), _dump(manifest))
    return os.path.join(directory, MANIFEST)


def equivalent(old: t.Mapping | None, new_manifest: t.Mapping) -> bool:
    """Same bundle content (ignoring serial and creation time): nothing to rewrite."""
    if not old:
        return False
    strip = ("serial", "created", METADATA_RECORD)
    return ({k: v for k, v in old.items() if k not in strip}
            == {k: v for k, v in new_manifest.items() if k not in strip})


def carry_over(previous: t.Mapping | None, manifest: dict, hosts: t.Iterable[str]) -> list:
    """Keep the previous bundle's entries of ``hosts`` (outside this run: ``--limit``, unreachable) with their profiles
    and files, so that a limited run does not take the rest of the fleet out of the bundle. Returns the profile
    names carried over whole (their lock files stay as they are)."""
    carried: list[str] = []
    if not previous:
        return carried
    for host in hosts:
        entry = (previous.get("hosts") or {}).get(host)
        if entry is None or host in manifest["hosts"]:
            continue
        if (previous.get("absent") or {}).get(host):  # what it was to remove, it still is
            manifest.setdefault("absent", {})[host] = previous["absent"][host]
        manifest["hosts"][host] = entry
        for env_name, env in entry.items():
            old = previous["profiles"][env["profile"]]
            if env["profile"] not in manifest["profiles"]:
                manifest["profiles"][env["profile"]] = dict(old, members=[])
                # An image profile's hosts get its image's blobs: they are store files of the bundle too.
                for relpath in old["files"] + [old["installer"]] + list((old.get("image") or {}).get("blobs", [])):
                    manifest["files"][relpath] = previous["files"][relpath]
                carried.append(env["profile"])
            members = manifest["profiles"][env["profile"]]["members"]
            members[:] = sorted(set(members) | {"%s:%s" % (host, env_name)})
    return carried


def packages_by_member(manifest: t.Mapping | None) -> dict:
    """"host:env" -> {name: version}, for diffs against a new bundle."""
    result = {}
    manifest = manifest or {}
    for host, envs in (manifest.get("hosts") or {}).items():
        for env_name, env in envs.items():
            profile = (manifest.get("profiles") or {}).get(env.get("profile"), {})
            result["%s:%s" % (host, env_name)] = profile.get("packages", {})
    return result


def _host_envs(manifest: t.Mapping, host: str) -> dict:
    hosts = manifest.get("hosts") or {}
    if host not in hosts:
        raise HostNotInBundle("host %s is not in the bundle (serial %s); rebuild the bundle with this host in "
                              "the inventory or limit the run to hosts it covers" % (host, manifest.get("serial")))
    return hosts[host]


def _profile(manifest: t.Mapping, name: str, host: str) -> dict:
    try:
        profile = manifest["profiles"][name]
    except KeyError:
        raise PyMigrateError("host %s refers to profile %s, which the bundle lacks" % (host, name))
    waiting = [build for build in profile.get("builds", []) if not build.get("wheel")]
    if waiting:
        raise PyMigrateError("host %s: profile %s waits for sdist builds on builder hosts (%s)" % (
            host, name, ", ".join("%s on %s" % (build["filename"], build["builder"]) for build in waiting)),
            hint="deploy.yml runs them after the import (airgap.pymigrate.sdist_build); check that the builders "
                 "are reachable")
    return profile


def carried_builds(manifest: t.Mapping) -> list:
    """Every sdist build the bundle's profiles leave to builder hosts, each (sdist, builder) once."""
    builds: dict = {}
    for profile in (manifest.get("profiles") or {}).values():
        for build in profile.get("builds", []):
            builds.setdefault((build["sdist_sha256"], build["builder"]), build)
    return [builds[key] for key in sorted(builds)]


def with_builds(bundle_dir: str, manifest: dict) -> dict:
    """The manifest with the wheels builder hosts made (``built/`` records) in place of the sdists its profiles
    carried for them; a build not made yet stays marked, and the hosts of its profile wait (``_profile``)."""
    if not any(profile.get("builds") for profile in manifest.get("profiles", {}).values()):
        return manifest  # the usual bundle, read once per host per run: no copy
    manifest = copy.deepcopy(manifest)
    for profile in manifest.get("profiles", {}).values():
        for build in profile.get("builds", []):
            made = [w for w in built_wheels(bundle_dir, build["sdist_sha256"]) if w["builder"] == build["builder"]]
            if not made:
                continue
            wheel = made[-1]
            relpath = store_relpath(wheel["sha256"], wheel["filename"])
            build["wheel"] = relpath
            profile["files"] = sorted(relpath if path == build["sdist"] else path for path in profile["files"])
            manifest["files"][relpath] = {
                "size": wheel["size"], "sha256": wheel["sha256"], "project": build["project"],
                "version": build["version"], "filename": wheel["filename"],
                "built_from": {"sdist": build["filename"], "sdist_sha256": build["sdist_sha256"],
                               "builder": wheel["builder"], "built_at": wheel.get("built_at")}}
    return manifest


def _file_entry(manifest: t.Mapping, relpath: str) -> dict:
    meta = manifest["files"][relpath]
    return {"path": relpath, "sha256": meta["sha256"], "size": meta["size"]}


def host_files(manifest: t.Mapping, host: str) -> list:
    """Every store file the host's environments need (wheels and the installer), each once, sorted."""
    wanted = set()
    for env in _host_envs(manifest, host).values():
        profile = _profile(manifest, env["profile"], host)
        if profile.get("image"):  # the image's blobs, not the wheels it was built from
            wanted.update(profile["image"]["blobs"])
            continue
        wanted.update(profile.get("files", []))
        if profile.get("installer"):
            wanted.add(profile["installer"])
    return [_file_entry(manifest, relpath) for relpath in sorted(wanted)]


def host_envs(manifest: t.Mapping, host: str) -> list:
    """The arguments of venv_install for each of the host's environments, sorted by name."""
    envs = []
    for env_name, env in sorted(_host_envs(manifest, host).items()):
        profile = _profile(manifest, env["profile"], host)
        packages = []
        for relpath in profile.get("files", []):
            meta = manifest["files"][relpath]
            packages.append({"name": meta["project"], "version": meta["version"],
                             "filename": relpath.rsplit("/", 1)[-1], "sha256": meta["sha256"], "size": meta["size"]})
        packages.sort(key=lambda item: item["name"])
        installer = None
        if profile.get("installer"):
            meta = manifest["files"][profile["installer"]]
            installer = {"filename": profile["installer"].rsplit("/", 1)[-1], "sha256": meta["sha256"],
                         "kind": "uv" if meta.get("project") == "uv" else "pip"}
        entry = {"name": env_name, "path": env["path"], "python": env.get("python"),
                 "serial": manifest.get("serial"), "profile": env["profile"], "packages": packages,
                 "installer": installer, "smoke_imports": env.get("smoke_imports") or [],
                 "lock_id": packages_lock_id(packages), "strategy": "venv"}
        if profile.get("image"):
            image = profile["image"]
            entry.update(strategy="image", installer=None, image={
                "name": image["name"], "image_id": image["image_id"], "index": image["index"],
                "blobs": [_file_entry(manifest, relpath) for relpath in image["blobs"]]})
        envs.append(entry)
    return envs


ENV_REF_KEYS = ("name", "path", "lock_id", "serial", "strategy", "profile")


def env_refs(envs: t.Sequence) -> list:
    """What names each environment of ``host_envs`` (no packages, installer or image): the loop items of a task
    over the environments, which Ansible keeps in every result of the loop for the rest of the run."""
    return [{key: env.get(key) for key in ENV_REF_KEYS} for env in envs]


def slice_env(host_slice: t.Mapping, name: str) -> dict:
    """The environment ``name`` of a host's slice (as ``host_envs`` gives it); raises when the slice has none."""
    for env in host_slice["envs"]:
        if env["name"] == name:
            return env
    raise PyMigrateError("host %s has no environment %s in the bundle (serial %s holds %s for it)"
                         % (host_slice.get("host"), name, host_slice.get("serial"),
                            ", ".join(env["name"] for env in host_slice["envs"]) or "none"),
                         hint="Loop over the names airgap.pymigrate.bundle_env_refs gives for the same serial")


def slice_id(files: t.Sequence, envs: t.Sequence, absent: t.Sequence = ()) -> str:
    """What a host must hold, as one digest: the same for two serials that give the host the same files and
    environments (and removals; the serial itself is left out), so a check of one holds for the other."""
    envs = [{k: v for k, v in env.items() if k != "serial"} for env in envs]
    what = dict({"files": list(files), "envs": envs}, **({"absent": list(absent)} if absent else {}))
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def host_absent(manifest: t.Mapping, host: str) -> list:
    """The environments to remove from the host, [{name, path}] sorted by name."""
    return [{"name": name, "path": env["path"]}
            for name, env in sorted(((manifest.get("absent") or {}).get(host) or {}).items())]


def make_slice(manifest: t.Mapping, host: str) -> dict:
    """One host's share of the bundle: the store files it needs, the arguments of each environment's install, and
    the environments to remove (``absent``, only when there are)."""
    files, envs, absent = host_files(manifest, host), host_envs(manifest, host), host_absent(manifest, host)
    found = {"host": host, "serial": manifest.get("serial"), "files": files, "envs": envs,
             "slice_id": slice_id(files, envs, absent)}
    if absent:
        found["absent"] = absent
    return found


def _slices_dir(bundle_dir: str, serial) -> str:
    return os.path.join(bundle_dir, SLICES_DIR, str(serial))


def write_slices(bundle_dir: str, manifest: t.Mapping) -> None:
    """Every host's slice of ``manifest`` under ``slices/<serial>/``, made complete before it appears (renamed into
    place). Not for a bundle whose profiles wait for builder hosts: their slices change as the wheels arrive."""
    if any(profile.get("builds") for profile in manifest.get("profiles", {}).values()):
        return
    final = _slices_dir(bundle_dir, manifest["serial"])
    if os.path.isdir(final):
        return  # a serial never changes once written
    work = final + ".tmp-%d" % os.getpid()
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    try:
        for host in manifest.get("hosts") or {}:
            # Plain writes: the directory appears whole by its rename; a torn file reads as invalid and is recomputed.
            with open(os.path.join(work, _slice_name(host)), "w") as handle:
                handle.write(json.dumps(make_slice(manifest, host), sort_keys=True))  # (json.dump: pure Python)
        os.rename(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def publish_slices(bundle_dir: str, manifest: t.Mapping) -> None:
    """Point ``slices/current`` at the manifest's serial (after manifest.json, so a reader never sees slices newer
    than the manifest) and drop the slices of old serials."""
    root = os.path.join(bundle_dir, SLICES_DIR)
    current = os.path.join(root, CURRENT_SLICES)
    if not os.path.isdir(_slices_dir(bundle_dir, manifest["serial"])):
        if os.path.exists(current):
            os.unlink(current)  # this serial is read from its manifest
        return
    try:
        with open(current, "rb") as handle:
            if handle.read() == b"%d\n" % manifest["serial"]:
                return  # a re-run with nothing new writes nothing
    except OSError:
        pass
    write_atomic(current, b"%d\n" % manifest["serial"])
    serials = sorted(int(name) for name in os.listdir(root) if name.isdigit())
    for old in serials[:-KEEP_SLICE_SERIALS]:
        shutil.rmtree(_slices_dir(bundle_dir, old), ignore_errors=True)


def _slice_name(host: str) -> str:
    # Inventory names may hold characters a file name cannot (``/``); the digest keeps them apart.
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", host)[:80]
    return "%s-%s.json" % (safe, hashlib.sha256(host.encode("utf-8")).hexdigest()[:12])


def host_slice(bundle_dir: str, host: str, check_mode: bool = False, serial: int | None = None) -> dict:
    """The host's slice of the bundle a run deploys (see ``path``): read from ``slices/`` when the bundle build
    wrote it, else computed from the manifest (a check-mode proposal, a bundle waiting for builders, an old serial)."""
    proposal = check_mode and os.path.exists(os.path.join(bundle_dir, CHECK_DIR, MANIFEST))
    if not proposal:
        wanted = serial
        if wanted is None:
            try:
                with open(os.path.join(bundle_dir, SLICES_DIR, CURRENT_SLICES)) as handle:
                    wanted = int(handle.read().strip())
            except (OSError, ValueError):
                wanted = None
        if wanted is not None and os.path.isdir(_slices_dir(bundle_dir, wanted)):
            try:
                with open(os.path.join(_slices_dir(bundle_dir, wanted), _slice_name(host))) as handle:
                    return json.load(handle)
            except FileNotFoundError:
                raise HostNotInBundle("host %s is not in the bundle (serial %s); rebuild the bundle with this host in "
                                      "the inventory or limit the run to hosts it covers" % (host, wanted))
            except (OSError, ValueError):
                pass  # unreadable: computed from the manifest below
    return make_slice(with_builds(bundle_dir, read(bundle_dir, check_mode, serial=serial)), host)


def batch_images(bundle_dir: str, hosts: t.Iterable[str], check_mode: bool = False,
                 serial: int | None = None) -> list:
    """The images the environments of ``hosts`` need (strategy image), each once, read from the hosts' slices: what
    the control node publishes to a registry for a batch, whether or not the push ran. A host the bundle does not
    cover is left out: its own push and install say so."""
    images: dict = {}
    for host in hosts:
        try:
            envs = host_slice(bundle_dir, host, check_mode=check_mode, serial=serial)["envs"]
        except HostNotInBundle:
            continue
        for env in envs:
            if env.get("strategy") == "image" and env.get("image"):
                images.setdefault(env["image"]["image_id"], env["image"])
    return [images[key] for key in sorted(images)]


def record_metadata(bundle_dir: str, manifest: dict) -> dict:
    """Record in ``manifest`` the sha256 of every metadata file the bundle holds (the manifest itself aside), as the
    build wrote it: the export signs only these bytes (``check_metadata``)."""
    record = {}
    for name in metadata_files(manifest)[1:]:
        path = os.path.join(bundle_dir, name)
        if os.path.isfile(path):
            record[name] = file_sha256(path)
    manifest[METADATA_RECORD] = record
    return record


def check_metadata(bundle_dir: str, manifest: t.Mapping) -> list:
    """(name, sha256) of every metadata file, each proven against the sha256 the build recorded: one changed,
    added or removed since the build is refused by name (an OSV database, SBOM or report replaced after the build
    was signed into the archive before)."""
    record = manifest.get(METADATA_RECORD)
    if not isinstance(record, t.Mapping):
        raise PyMigrateError("the bundle manifest of %s records no hash of its metadata files (built by an older "
                             "version): nothing was signed" % bundle_dir, var="pymigrate_bundle_dir",
                             value=bundle_dir, hint="Rebuild the bundle with playbooks/bundle.yml")
    found = []
    for name in metadata_files(manifest)[1:]:
        path = os.path.join(bundle_dir, name)
        present = os.path.isfile(path)
        if not present and name not in record:
            continue
        sha256 = file_sha256(path) if present else None
        if sha256 != record.get(name):
            what = ("is missing" if not present else "was not written by the build" if name not in record
                    else "has sha256 %s, the build wrote %s" % (sha256, record[name]))
            raise PyMigrateError("%s of the bundle %s %s: it was changed after the build; nothing was signed"
                                 % (name, bundle_dir, what), var="pymigrate_bundle_dir", value=bundle_dir,
                                 hint="Rebuild the bundle (playbooks/bundle.yml) rather than edit its files")
        found.append((name, sha256))
    return found


def metadata_intact(bundle_dir: str, manifest: t.Mapping | None) -> bool:
    """Whether every metadata file is as the build recorded it (a rebuild with nothing new rewrites them when not:
    the export's advice to rebuild must help)."""
    if manifest is None:
        return False
    try:
        check_metadata(bundle_dir, manifest)
    except (PyMigrateError, OSError):
        return False
    return True


def metadata_files(manifest: t.Mapping) -> list:
    """The bundle's metadata files besides the store files, manifest first."""
    names = [MANIFEST, SBOM_FILE] + ([VEX_FILE] if manifest.get("vulnerabilities") else [])
    for profile in sorted(manifest["profiles"].values(), key=lambda p: p["lock"]):
        names += [profile["lock"], profile["requirements"]]
    vulnerabilities = manifest.get("vulnerabilities") or {}
    for _name, report in sorted((vulnerabilities.get("reports") or {}).items()):
        names += [report["json"], report["text"]]
    if vulnerabilities.get("osv_db"):
        names.append(vulnerabilities["osv_db"]["path"])  # the OSV export, for a rescan inside
    names += (manifest.get("lock") or {}).get("files") or []  # the lock it was built from (docs/lock-format.md)
    # The PEP 740 provenance verified at bundle time, next to each file in the store (its sha256 in the record).
    provenance = (manifest.get("provenance") or {}).get("files") or {}
    names += sorted({entry["provenance"] for entry in provenance.values() if entry.get("provenance")})
    # The Sigstore trust root they were verified with, for the re-verification inside (docs/bundle-format.md).
    trust_root = (manifest.get("provenance") or {}).get("trust_root") or {}
    names += [trust_root["path"]] if trust_root.get("path") else []
    # The bundle as a static index (simple/ and each wheel's METADATA beside it): the import inside has it too.
    return names + _simple.index_files(manifest)
