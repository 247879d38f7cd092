# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 3, the bundle: inventory + facts -> profiles -> one resolution each -> parallel fetch -> locks,
manifest and SBOM in one directory.

``build_bundle`` takes the inputs the inventory gives (``_inventory.bundle_inputs``) and one ``BundleSettings``, and
runs four steps, each handing the next a small frozen record: **plan** (profiles and builders: ``Plan``),
**resolve** (pins and installers: ``Resolution``), **assemble** (the new manifest, its checks, locks and reports,
compared with the previous bundle: ``Assembly``), **commit** (fetch, build images, write).

Nothing in the bundle directory changes before every profile has resolved and every file has been
fetched and verified: an error leaves the previous bundle intact. The manifest is written last.
In check mode the only file written is the proposed manifest (``_manifest.write_proposal``).

Bundle directory (docs/bundle-format.md)::

    manifest.json                 serial, created, profiles, hosts, files (owned by _manifest.py)
    simple/                       the bundle as a static PEP 503/691 index, METADATA beside each wheel (_simple.py)
    sbom.cdx.json, vex.cdx.json   CycloneDX 1.6 SBOM with its dependency graph, the known vulnerabilities as a VEX
    vulnerabilities.<profile>.*   the vulnerability report per profile (JSON and a table); osv-db.zip when given
    files/sha256/<2>/<64>/<name>.provenance   the PEP 740 provenance verified for a locked file (_provenance.py)
    pylock.<profile>.toml         PEP 751 lock per profile (paths relative to the bundle)
    requirements.<profile>.txt    pinned, hashed
    files/sha256/<2>/<64>/<name>  the content-addressed store shared by all profiles
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import datetime
import glob
import json
import os
import shutil
import tempfile
import typing as t
import zipfile

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import (
    FileLock,
    file_sha256,
    store_relpath,
    write_atomic,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import (
    _lockdir,
    _manifest,
    _provenance,
    _sandbox,
    _simple,
    _unchanged,
    _vulns,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._build import (
    BUILT_DIR,
    DEFAULT_BUILD_TIMEOUT,
    Builder,
    SdistBuilder,
    match_builders,
    plan_builds,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._fetch import fetch_all, missing_files, store_path
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._image import ImageBuilder
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._index import redact, wheel_file_metadata
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._inventory import BundleInputs
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import Version
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._lockfile import (
    diff_pins,
    render_pylock,
    render_requirements,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import (
    Profile,
    PyMigrateError,
    WantedSet,
    format_time,
    parse_time,
    utc_now,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._profiles import plan_profiles
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._resolve import license_classifiers, resolve
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._sbom import (
    BUNDLE_REF,
    SBOM_FILE,
    VEX_FILE,
    link_vex,
    render_sbom,
    render_vex,
)


# -- the settings -----------------------------------------------------------------------------------------------
def parse_cutoff(value: str | None) -> datetime.datetime | None:
    """``uploaded_prior_to`` (ISO 8601) as a time, or None when not given."""
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise PyMigrateError("not an ISO 8601 date or time", var="uploaded_prior_to", value=value,
                             hint='Use e.g. "2025-06-01T00:00:00Z"')


@dataclasses.dataclass(frozen=True)
class BundleSettings:
    """How the bundle is built, from the bundle action's arguments (``from_params``).

    ``lock_timeout``: one build at a time per bundle directory; a second waits this long for the first, then fails
    naming it. sdist builds (pure wheels only) log into ``<bundle_dir>/.build-logs/`` and stop after
    ``build_timeout`` seconds. ``require_built`` makes a builder host's build still missing an error;
    ``defer_builds`` (builders out of reach of this control node) writes the bundle with the pending builds in its
    manifest and their files in its store, for deploy.yml to run inside. ``version_policy`` "uniform" gives every
    profile the same version of each project where one fits all (resolve_uniform); either way the result lists the
    projects whose versions differ. ``installer`` "uv" carries uv (``uv_requirement``) for every profile a uv wheel
    fits, pip (``installer_requirement``) for the others. ``vulnerabilities`` (a _vulns.VulnerabilityCheck) and
    ``provenance`` (a _provenance.ProvenanceCheck), when given, check every pin before anything is written.
    ``lock_mode`` (update, frozen, ignore) says what the build does with the lock in ``lock_dir``
    (docs/lock-format.md); ``upgrade`` says which projects move on purpose (``_lockdir.upgrade_names``);
    ``lock_only`` writes the lock and nothing of the bundle (playbooks/lock.yml: a lock change reviewed before any
    host sees it; the bundle directory serves as the cache of index pages and files). ``dropped_envs`` (keep,
    remove) says what happens to an environment the previous bundle gave a host of this run that the inventory no
    longer names (``_removals``)."""

    bundle_dir: str
    check_mode: bool = False
    uploaded_prior_to: datetime.datetime | None = None
    build_sdists: bool = True
    build_timeout: float = DEFAULT_BUILD_TIMEOUT
    require_built: bool = False
    defer_builds: bool = False
    version_policy: str = "per_profile"
    installer: str = "pip"
    installer_requirement: str = "pip"
    uv_requirement: str = "uv"
    workers: int = 8
    lock_timeout: float = 300
    vulnerabilities: _vulns.VulnerabilityCheck | None = None
    provenance: _provenance.ProvenanceCheck | None = None
    lock_dir: str | None = None
    lock_mode: str = "ignore"
    upgrade: _lockdir.Upgrade = _lockdir.Upgrade()
    lock_only: bool = False
    build_hidden: tuple = ()  # secrets of the run an sdist build must not see (_sandbox): the signing key, ...
    dropped_envs: str = "keep"

    @classmethod
    def from_params(cls, params: t.Mapping, check_mode: bool = False) -> BundleSettings:
        """From the bundle action's validated arguments; a value that cannot be used fails naming it."""
        vulnerabilities = _vulns.VulnerabilityCheck(policy=params["vulnerability_policy"],
                                                    ignores=_vulns.parse_ignores(params["vulnerability_ignore"]),
                                                    osv_db=params["osv_db"] or None,
                                                    unchecked=params.get("vulnerability_unchecked") or "fail")
        provenance = _provenance.ProvenanceCheck(
            policy=params["provenance"],
            trusted_publishers=_provenance.parse_trusted_publishers(params["trusted_publishers"]),
            trust_root=params.get("sigstore_trust_root") or None)
        return cls(bundle_dir=params["bundle_dir"], check_mode=check_mode,
                   uploaded_prior_to=parse_cutoff(params["uploaded_prior_to"]), build_sdists=params["build_sdists"],
                   build_timeout=params["build_timeout"], require_built=params["require_built"],
                   defer_builds=params["defer_builds"], version_policy=params["version_policy"],
                   installer=params["installer"], installer_requirement=params["installer_requirement"],
                   uv_requirement=params["uv_requirement"], workers=params["workers"],
                   lock_timeout=params["lock_timeout"], vulnerabilities=vulnerabilities, provenance=provenance,
                   lock_dir=params.get("lock_dir"), lock_mode=params.get("lock_mode") or "ignore",
                   upgrade=_lockdir.upgrade_names(params.get("upgrade")), lock_only=bool(params.get("lock_only")),
                   dropped_envs=params.get("dropped_envs") or "keep")


# -- what flows between the steps -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Plan:
    """What the run bundles: the profiles, each member host environment ({"host:env": (host, EnvSpec)}), the builder
    hosts ({Target.key(): Builder}), the inventory hosts whose entries are kept, the image builder when an
    environment is carried by an image, and per host of the run the environments marked absent ({host: {env:
    path}})."""

    profiles: t.Sequence[Profile]
    members: t.Mapping[str, tuple]
    builders: t.Mapping[tuple, Builder]
    kept: t.Sequence[str]
    images: ImageBuilder | None = None
    locking: Locking | None = None
    absent: t.Mapping[str, t.Mapping[str, str]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Locking:
    """The lock as the build found it (``existing``, {name: Lock}) and what it does with each profile (``plans``,
    {profile name: LockPlan}); None with pymigrate_lock_mode ignore."""

    existing: t.Mapping[str, _lockdir.Lock]
    plans: t.Mapping[str, _lockdir.LockPlan]


@dataclasses.dataclass(frozen=True)
class Resolution:
    """{profile name: (pins, installer pin)}, every file with its size, and the sdist builds the bundle carries for
    builder hosts inside (``defer_builds``); or, while builds wait for builder hosts, only those (``pending``)."""

    resolved: t.Mapping[str, tuple]
    deferred: t.Sequence[dict] = ()
    pending: t.Sequence[dict] = ()


@dataclasses.dataclass(frozen=True)
class Assembly:
    """The new bundle in memory, against the ``previous`` manifest: the new ``manifest``, the lock and report
    ``texts`` to write, the locks gone ``stale``, the profiles ``carried`` over, every file the profiles lock
    (``files``) and those not in the store yet (``to_fetch``), the image plans still ``to_build``, the
    vulnerability and provenance outcomes (None when not checked), and whether it equals what is written."""

    previous: dict | None
    manifest: dict
    texts: dict
    stale: list
    carried: list
    files: list
    to_fetch: list
    to_build: list
    vulnerabilities: dict | None
    provenance: dict | None
    unchanged: bool
    lock: _lockdir.LockOutcome | None = None
    dropped: t.Sequence[dict] = ()

    @property
    def changed(self) -> bool:
        return bool(self.to_fetch) or bool(self.to_build) or not self.unchanged

    @property
    def lock_changed(self) -> bool:
        return self.lock is not None and bool(self.lock.changed_files)

    @property
    def blobs(self) -> dict:
        """{provenance path: the exact bytes verified}."""
        return self.provenance["blobs"] if self.provenance is not None else {}


# -- resolving -------------------------------------------------------------------------------------------------
def resolve_installer(profile, client, settings: BundleSettings, prefer: t.Mapping[str, str] | None = None,
                      progress=None):
    """The installer wheel for the profile's target: uv when asked for and a wheel of it fits the target (uv is a
    binary: never built from its sdist), else pip (pure Python, for any target), saying why uv was not taken. An
    image is built with pip (in its build container). The version a lock holds (``prefer``) stays while it fits."""
    if settings.installer == "uv" and not profile.carrier:
        try:
            return [p for p in resolve(profile.target, WantedSet({"uv": settings.uv_requirement}), client,
                                       profile=profile.name, prefer=prefer) if p.name == "uv"][0]
        except PyMigrateError as exc:
            if progress:
                progress("profile %s installs with pip: no uv wheel (%s) fits it: %s"
                         % (profile.name, settings.uv_requirement, exc.message))
    try:
        return [p for p in resolve(profile.target, WantedSet({"pip": settings.installer_requirement}), client,
                                   profile=profile.name, prefer=prefer) if p.name == "pip"][0]
    except PyMigrateError as exc:
        raise PyMigrateError("cannot bundle an installer (%s) for profile %s: %s"
                             % (settings.installer_requirement, profile.name, exc.message),
                             var="pymigrate_installer_requirement", value=settings.installer_requirement,
                             hint="The bundle carries pip so hosts without pip can install; make it available "
                                  "on the index")


def resolve_profiles(profiles: t.Sequence, client, settings: BundleSettings, *, sdists=None,
                     prefer: t.Mapping[str, t.Mapping[str, str]] | None = None, progress=None) -> dict:
    """{profile name: (pins, installer pin)}; profiles resolve in parallel and share the client's reads. ``prefer``
    ({profile name: {project: version}}): the versions a lock holds, tried first while they fit."""

    def resolve_one(profile):
        try:
            pins = resolve(profile.target, profile.wanted, client, uploaded_prior_to=settings.uploaded_prior_to,
                           sdists=sdists, profile=profile.name, prefer=(prefer or {}).get(profile.name))
        except PyMigrateError as exc:
            # A new error: the one caught may be shared by every profile that read the same failed page.
            raise PyMigrateError("%s (hosts: %s)" % (exc.message, ", ".join(profile.members)), host=exc.host,
                                 var=exc.var, value=exc.value, hint=exc.hint) from None
        # The installer is resolved for each profile's target: it must run on the target's interpreter and platform.
        # An image is built with pip (in its build container).
        return profile.name, (pins, resolve_installer(profile, client, settings, (prefer or {}).get(profile.name),
                                                      progress))

    # Most of the time is spent waiting on the index, so threads pay even on two cores.
    resolved = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(4, len(profiles)),
                                               thread_name_prefix="pymigrate-resolve") as pool:
        for future in concurrent.futures.as_completed([pool.submit(resolve_one, p) for p in profiles]):
            name, result = future.result()
            resolved[name] = result
            if progress:
                progress("resolved profile %s (%d of %d): %d packages"
                         % (name, len(resolved), len(profiles), len(result[0])))
    return resolved


def differing_versions(resolved: t.Mapping) -> dict:
    """{project: {profile: version}} for the projects whose version is not the same in every profile holding it."""
    versions: dict = {}
    for name, (pins, _installer) in resolved.items():
        for pin in pins:
            versions.setdefault(pin.name, {})[name] = pin.version
    return {project: by_profile for project, by_profile in sorted(versions.items())
            if len(set(by_profile.values())) > 1}


def resolve_uniform(profiles: t.Sequence, client, settings: BundleSettings, *, rounds: int = 5, **kwargs) -> dict:
    """One version of each project across every profile where one fits all (pymigrate_version_policy: uniform).

    Each round pins the projects that still differ to the lowest version chosen for any profile (the newest the most
    constrained profile can take) as a constraint for all, and resolves again; a profile that then cannot resolve
    shows that no single version fits it and the others, and the error names the project and the profiles."""
    resolved = resolve_profiles(profiles, client, settings, **kwargs)
    aligned: dict = {}
    for _round in range(rounds):
        differing = differing_versions(resolved)
        if not differing:
            return resolved
        for project, by_profile in differing.items():
            aligned[project] = min(by_profile.values(), key=Version)
        constrained = [dataclasses.replace(profile, wanted=dataclasses.replace(
            profile.wanted, constraints=dict(profile.wanted.constraints, **{
                project: ",".join(filter(None, [profile.wanted.constraints.get(project, ""), "==" + version]))
                for project, version in aligned.items()}))) for profile in profiles]
        try:
            resolved = resolve_profiles(constrained, client, settings, **dict(kwargs, progress=None))
        except PyMigrateError as exc:
            raise PyMigrateError("pymigrate_version_policy uniform: no single version of %s fits every profile (%s); "
                                 "with %s: %s" % (", ".join(differing), "; ".join(
                                     "%s: %s" % (project, ", ".join("%s gets %s" % item for item in sorted(by.items())))
                                     for project, by in differing.items()),
                                     ", ".join("%s==%s" % item for item in sorted(aligned.items())), exc.message),
                                 var="pymigrate_version_policy", value="uniform",
                                 hint="Use per_profile for these hosts, or pin a version every profile can take")
    raise PyMigrateError("pymigrate_version_policy uniform: versions still differ after %d rounds (%s)"
                         % (rounds, ", ".join(differing_versions(resolved))), var="pymigrate_version_policy",
                         value="uniform")


def changes_against(previous: dict | None, manifest: dict, members: t.Iterable[str]) -> tuple:
    """({"host:env": changes}, Ansible diff) between the previous bundle and the new manifest."""
    old_packages, new_packages = _manifest.packages_by_member(previous), _manifest.packages_by_member(manifest)
    changes, before, after = {}, [], []
    for member in sorted(members):
        old, new = old_packages.get(member, {}), new_packages.get(member, {})
        member_changes = diff_pins(old, new)
        if any(member_changes.values()):
            changes[member] = member_changes
        before += ["%s %s==%s" % (member, k, v) for k, v in sorted(old.items())]
        after += ["%s %s==%s" % (member, k, v) for k, v in sorted(new.items())]
    diff = {"before": "\n".join(before) + "\n", "after": "\n".join(after) + "\n",
            "before_header": "previous bundle", "after_header": "new bundle"}
    return changes, diff


def lock_texts(profiles: t.Sequence, resolved: t.Mapping, manifest: t.Mapping | None = None) -> dict:
    """{file name: text} of every profile's pylock.toml and hashed requirements file; a profile whose image the
    ``manifest`` records has it in its lock as the environment's carrier."""
    texts = {}
    for profile in profiles:
        pins = resolved[profile.name][0]
        image = ((manifest or {}).get("profiles", {}).get(profile.name) or {}).get("image")
        identities = _provenance.lock_identities((manifest or {}).get("provenance"), pins)
        texts["pylock.%s.toml" % profile.name] = render_pylock(profile, pins, image, identities)
        texts["requirements.%s.txt" % profile.name] = render_requirements(profile, pins)
    return texts


def _read_text(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _stale_locks(bundle_dir: str, texts: t.Mapping) -> list:
    """The locks, reports and carried lock files the bundle directory holds that this build no longer writes."""
    patterns = ("pylock.*.toml", "requirements.*.txt", "vulnerabilities.*.json", "vulnerabilities.*.txt",
                _lockdir.BUNDLE_DIR + "/*")
    existing = {os.path.relpath(path, bundle_dir) for pattern in patterns
                for path in glob.glob(os.path.join(bundle_dir, pattern))}
    return sorted(existing - set(texts))


def _carry_osv_db(bundle_dir: str, source: str, sha256: str) -> None:
    """Copy the OSV export into the bundle (``osv-db.zip``, a metadata file the signed archive carries), unless the
    same bytes are there already."""
    target = os.path.join(bundle_dir, _vulns.OSV_DB_FILE)
    if os.path.isfile(target) and file_sha256(target) == sha256:
        return
    temp = target + ".partial"
    shutil.copyfile(source, temp)
    if file_sha256(temp) != sha256:
        os.unlink(temp)
        raise PyMigrateError("the OSV database changed while the bundle was built", var="pymigrate_osv_db",
                             value=source, hint="Run the bundle again once the download has finished")
    os.replace(temp, target)


# -- the build: plan, resolve, assemble, commit -----------------------------------------------------------------
def build_bundle(inputs: BundleInputs, settings: BundleSettings, client, progress=None) -> dict:
    """Resolve and fetch every profile; write the bundle unless in check mode. Returns the bundle action's result.

    Plan the profiles, then, one build at a time per bundle directory: resolve them (while sdist builds wait for
    builder hosts nothing is written, and the result lists ``pending_builds`` for the ``sdist_build`` action: then
    build again), assemble the new bundle in memory (a check that fails stops there), commit it. ``inputs.kept``
    (inventory hosts outside this run) keep their entries of the previous bundle. ``progress`` (a callable taking
    one line) hears what the build is doing."""
    progress = progress or (lambda line: None)
    plan = plan_bundle(inputs, settings, progress)
    with _locked_work_dir(settings) as work_dir:
        settled = _settled_build(plan, settings, client, progress) if _unchanged.eligible(plan, settings) else None
        if settled is not None:
            return settled
        if plan.images is not None:
            plan.images.work_dir = work_dir  # the run's work directory exists only now
        previous = _previous_bundle(settings.bundle_dir, client)
        resolution = resolve_bundle(plan, settings, client, _sdist_builder(plan, settings, client, work_dir), progress)
        if resolution.pending:
            return _waiting_result(resolution, previous, settings)
        assembly = assemble(plan, resolution, settings, client, previous, progress)
        result = summarize(plan, resolution, assembly, settings, progress)
        result["serial"] = commit(plan, resolution, assembly, settings, client, progress)
        if not settings.check_mode and not settings.lock_only:  # what the next build with the same inputs returns
            _record_build(plan, settings, client, result)
        return result


def _settled_build(plan: Plan, settings: BundleSettings, client, progress) -> dict | None:
    """The result of the previous build, when this one has nothing to do (its lock holds, its inputs are those the
    bundle was built from, the bundle is still complete: _unchanged.py); None otherwise."""
    key = _unchanged.build_key(plan, settings, [redact(index.base) for index in client.indexes])
    result = _unchanged.settled_result(settings.bundle_dir, key)
    if result is not None:
        progress("lock: unchanged, it holds for every environment of this run")
        progress("nothing changed: the lock holds and the bundle at serial %s was built from these inputs (no index "
                 "asked)" % result.get("serial"))
    return result


def _record_build(plan: Plan, settings: BundleSettings, client, result: dict) -> None:
    """Record what a re-run with the same inputs returns (its key taken after the lock was written: a lock this
    build wrote holds for the next), or forget the record when no re-run can skip its build."""
    if _unchanged.recordable(plan, settings):
        key = _unchanged.build_key(plan, settings, [redact(index.base) for index in client.indexes])
        _unchanged.record(settings.bundle_dir, key, result)
    else:
        _unchanged.forget(settings.bundle_dir)


def plan_bundle(inputs: BundleInputs, settings: BundleSettings, progress) -> Plan:
    """Step 1, plan: host environments grouped into profiles (an environment carried by an image is resolved for its
    base image's interpreter, which the image builder asks the engine for), builder hosts matched to them."""
    images = None
    if any(env.carrier for item in inputs.hosts for env in item.envs.values()):
        images = ImageBuilder(settings.bundle_dir, settings.bundle_dir, progress=progress)
    profiles, members = plan_profiles(inputs.hosts, image_target=images.target if images else None)
    return Plan(profiles, members, match_builders(inputs.builders, profiles), list(inputs.kept), images,
                plan_locks(profiles, inputs.kept, settings, progress),
                {item.host: dict(item.absent) for item in inputs.hosts})


def plan_locks(profiles: t.Sequence[Profile], kept: t.Sequence[str], settings: BundleSettings,
               progress) -> Locking | None:
    """What the lock says of each profile (docs/lock-format.md): it holds (its pins are taken as they are), or its
    versions are preferred while the profile resolves. Under version policy uniform a lock holds only when it
    holds for every profile (a profile resolved anew may move a version the others share)."""
    if settings.lock_mode == "ignore":
        return None
    lock_dir = t.cast(str, settings.lock_dir)
    existing = _lockdir.read(lock_dir)
    if settings.lock_mode == "frozen" and not existing:
        raise PyMigrateError("there is no lock in %s to hold the build to" % lock_dir, var="pymigrate_lock_mode",
                             value="frozen", hint="Write the lock first (playbooks/lock.yml, lock mode update), "
                                                  "review and commit it")
    if settings.lock_mode == "update" and not settings.check_mode:
        _lockdir.check_writable(lock_dir)
    plans = _lockdir.plan(profiles, existing, kept, settings.upgrade, settings.installer)
    if settings.version_policy == "uniform" and any(item.holds is None for item in plans.values()):
        plans = {name: dataclasses.replace(item, holds=None, prefer=item.holds.preferences()) if item.holds else item
                 for name, item in plans.items()}
    held = sum(1 for item in plans.values() if item.holds is not None)
    progress("lock %s (%s): holds for %d of %d profile(s)" % (lock_dir, settings.lock_mode, held, len(plans)))
    return Locking(existing, plans)


def resolve_bundle(plan: Plan, settings: BundleSettings, client, sdists: SdistBuilder | None, progress) -> Resolution:
    """Step 2, resolve: every profile of the plan for the settings' cutoff, with its installer, and every file's
    size. The sdists that compile are left to builder hosts (``sdists.pending``): they wait for them, or travel in
    the bundle (``defer_builds``)."""
    resolved = held_pins(plan, settings, client)
    to_resolve = [profile for profile in plan.profiles if profile.name not in resolved]
    if to_resolve:
        progress("resolving %d profile(s) for %d host environment(s)" % (len(to_resolve), sum(
            len(profile.members) for profile in to_resolve)))
        resolver = resolve_uniform if settings.version_policy == "uniform" else resolve_profiles
        prefer = {name: item.prefer for name, item in plan.locking.plans.items()} if plan.locking else None
        resolved.update(resolver(to_resolve, client, settings, sdists=sdists, prefer=prefer, progress=progress))
    if sdists is not None and sdists.builds:
        progress("%d sdist(s) built into pure wheels on the control node, %s" % (sdists.builds, _sandbox.DESCRIPTION))
    builds = _builder_builds(sdists, settings, client, progress)
    if builds and not settings.defer_builds:
        return Resolution({}, pending=builds)
    return Resolution(_with_sizes(resolved, settings.bundle_dir, client, fetch=not settings.check_mode,
                                  workers=settings.workers), deferred=builds)


def held_pins(plan: Plan, settings: BundleSettings, client) -> dict:
    """{profile name: (pins, installer pin)} of the profiles whose lock holds, as the lock states them. Each file is
    taken as the index lists it when the index answers (the same provenance URL, yanked state and sizes as a
    resolution would see); without the index, as the lock states it (a rollback by lock needs no index). Metadata
    (licences, summaries for the SBOM) comes from the store's copy when it has one."""
    plans = plan.locking.plans if plan.locking is not None else {}
    holders = [(profile, lock) for profile in plan.profiles
               for lock in [plans[profile.name].holds if profile.name in plans else None] if lock is not None]
    client.prefetch_projects(name for _profile, lock in holders for name in list(lock.packages) + [
        lock.installer.name if lock.installer else ""] if name)
    held = {}
    for profile, lock in holders:
        pins, installer = _lockdir.locked_pins(lock, profile.wanted.requirements)
        held[profile.name] = ([_as_listed(pin, settings.bundle_dir, client) for pin in pins],
                              _as_listed(installer, settings.bundle_dir, client))
    return held


def _as_listed(pin, bundle_dir: str, client):
    """A pin from the lock with its file as the index lists it (when it answers) and its metadata."""
    try:
        listed = next((dist for dist in client.version_files(pin.name, pin.version)
                       if dist.sha256 == pin.file.sha256), None)
    except PyMigrateError:  # the index does not answer: the lock says what is needed
        listed = None
    dist = listed or pin.file
    meta = None
    stored = store_path(bundle_dir, dist)
    if os.path.isfile(stored) and dist.filename.endswith(".whl"):
        try:
            meta = wheel_file_metadata(stored)
        except (OSError, zipfile.BadZipFile, PyMigrateError):
            meta = None  # the index's copy below
    meta = meta or client.metadata(dist)
    return dataclasses.replace(pin, file=dist, license=meta.license, license_expression=meta.license_expression,
                               license_classifiers=license_classifiers(meta), summary=meta.summary)


def assemble(plan: Plan, resolution: Resolution, settings: BundleSettings, client, previous: dict | None,
             progress) -> Assembly:
    """Step 3, assemble: the new manifest with its checks (vulnerability policy fail, or a provenance identity that
    changed, stops here: nothing written yet), the images built before, the hosts kept from the previous bundle,
    the locks and reports; compared with what the bundle directory holds. Writes nothing."""
    resolved, bundle_dir = resolution.resolved, settings.bundle_dir
    manifest = _new_manifest(plan, resolution, settings, client)
    lock = _lock_outcome(plan, resolved, settings, manifest, progress)
    vulnerabilities, provenance = _run_checks(manifest, resolved, settings, client, previous, progress)
    image_plans = _known_images(plan.images, plan.profiles, resolved, manifest, progress)
    dropped = _removals(plan, manifest, previous, settings, progress)
    carried = _manifest.carry_over(previous, manifest, plan.kept)
    if provenance is not None and carried:
        _provenance.carry_over(previous, manifest["provenance"],
                               [path for name in carried for path in manifest["profiles"][name]["files"]])
    files = [pin.file for pins, installer in resolved.values() for pin in list(pins) + [installer]]
    to_fetch = missing_files(files, bundle_dir)
    texts = lock_texts(plan.profiles, resolved, manifest)  # an image still to build: its lock is written after it
    if vulnerabilities is not None:
        texts.update(_vulns.report_texts(vulnerabilities))
    if lock is not None:  # the bundle carries the lock it was built from, for the other side of the gap
        texts.update({"%s/%s" % (_lockdir.BUNDLE_DIR, name): text for name, text in lock.texts.items()})
    _keep_carried_texts(texts, manifest, carried, previous, bundle_dir)
    stale = _stale_locks(bundle_dir, texts)
    unchanged = (_manifest.equivalent(previous, manifest) and not stale and not to_fetch
                 and _written(bundle_dir, texts, provenance["blobs"] if provenance is not None else {})
                 and _simple.current(bundle_dir, manifest) and _manifest.metadata_intact(bundle_dir, previous))
    return Assembly(previous, manifest, texts, stale, carried, files, to_fetch,
                    [image for image in image_plans if image["record"] is None], vulnerabilities, provenance,
                    unchanged, lock, dropped)


def _removals(plan: Plan, manifest: dict, previous: dict | None, settings: BundleSettings, progress) -> list:
    """The environments the inventory marks absent go into the manifest (each host's slice says what to remove); an
    environment the previous bundle gave a host of this run that the inventory no longer names is dropped: removed as
    if marked absent with ``dropped_envs`` remove (and kept in the manifest's removals while the inventory does not
    name it again), else left on the host and said. Returns [{host, env, path, removed}]."""
    _manifest.set_absent(manifest, plan.absent)
    remove = settings.dropped_envs == "remove"
    dropped = _manifest.dropped_envs(previous, manifest, plan.absent, removals=remove)
    if remove:
        _manifest.set_absent(manifest, dropped)
    old_absent = (previous or {}).get("absent") or {}
    found = [{"host": host, "env": env, "path": path, "removed": remove}
             for host, envs in sorted(dropped.items()) for env, path in sorted(envs.items())
             if env not in (old_absent.get(host) or {})]  # (a removal carried on is no news)
    for item in found:
        progress("environment %s of %s (%s) is no longer in the inventory: %s" % (
            item["env"], item["host"], item["path"], "it is removed (pymigrate_dropped_envs remove)" if remove
            else "it stays on the host"))
    return found


def _lock_outcome(plan: Plan, resolved: t.Mapping, settings: BundleSettings, manifest: dict,
                  progress) -> _lockdir.LockOutcome | None:
    """The lock after this build, said per environment; lock mode frozen refuses any change here, before any check
    runs or anything is written. The manifest names each profile's lock and the lock files the bundle carries."""
    if plan.locking is None:
        return None
    lock_dir = t.cast(str, settings.lock_dir)
    outcome = _lockdir.assemble(plan.locking.plans, plan.profiles, resolved, plan.locking.existing, plan.kept,
                                lock_dir)
    if settings.lock_mode == "frozen":
        _lockdir.refuse_changes(outcome, lock_dir)
    for line in _lockdir.describe_changes(outcome):
        progress("lock: " + line)
    if not outcome.changed_files:
        progress("lock: unchanged, it holds for every environment of this run")
    manifest["lock"] = {"profiles": dict(outcome.profile_locks),
                        "files": sorted("%s/%s" % (_lockdir.BUNDLE_DIR, name) for name in outcome.texts)}
    return outcome


def summarize(plan: Plan, resolution: Resolution, assembly: Assembly, settings: BundleSettings, progress) -> dict:
    """The bundle action's result: what changes for each host environment (and as a diff), the profiles, the files
    to fetch, the hosts kept, the versions that differ between profiles, the installers and the checks' summaries.
    Its serial is the previous bundle's until commit writes the next."""
    manifest, resolved = assembly.manifest, resolution.resolved
    changes, diff = changes_against(assembly.previous, manifest, plan.members)
    differing = differing_versions(resolved)
    if differing:
        progress("versions differ between profiles: %s" % "; ".join(
            "%s (%s)" % (project, ", ".join("%s in %s" % (v, p) for p, v in sorted(by.items())))
            for project, by in differing.items()))
    result = {"changed": assembly.changed, "serial": (assembly.previous or {}).get("serial"),
              "profiles": {p.name: {"members": p.members, "packages": manifest["profiles"][p.name]["packages"]}
                           for p in plan.profiles},
              "fetched": [d.filename for d in assembly.to_fetch], "changes": changes, "diff": diff,
              "bundle_dir": settings.bundle_dir, "kept_hosts": sorted(set(plan.kept) & set(manifest["hosts"])),
              "differing_versions": differing,
              "installers": {name: pair[1].name for name, pair in sorted(resolved.items())}}
    if assembly.vulnerabilities is not None:
        result["vulnerabilities"] = _vulns.result_summary(assembly.vulnerabilities)
    if assembly.provenance is not None:
        result["provenance"] = _provenance.result_summary(assembly.provenance)
    if assembly.dropped:
        result["dropped_envs"] = list(assembly.dropped)
    if assembly.lock is not None:
        lock = assembly.lock
        result["lock"] = {"dir": settings.lock_dir, "mode": settings.lock_mode, "held": list(lock.held),
                          "changed_files": list(lock.changed_files), "changes": dict(lock.changes),
                          "locks": dict(lock.profile_locks)}
        result["changed"] = assembly.lock_changed or (result["changed"] and not settings.lock_only)
        if assembly.lock_changed:  # --diff shows each lock file as it changes, after the bundle's own diff
            result["diff"] = [diff] + _lockdir.file_diffs(lock, t.cast(str, settings.lock_dir))
    return result


def commit(plan: Plan, resolution: Resolution, assembly: Assembly, settings: BundleSettings, client,
           progress) -> int | None:
    """Step 4, commit. Check mode: only the proposed manifest. Something changed: fetch what the store lacks, build
    the images still to build, write (the manifest last) under the next serial. Nothing changed: only the slices of
    a bundle from before slices. Returns the bundle's serial."""
    bundle_dir, previous = settings.bundle_dir, assembly.previous
    serial = (previous or {}).get("serial")
    if settings.lock_only:
        progress("lock only: the bundle in %s stays at serial %s" % (bundle_dir, serial))
    elif settings.check_mode:
        assembly.manifest["serial"], assembly.manifest["created"] = serial, format_time(utc_now())
        _manifest.write_proposal(bundle_dir, assembly.manifest)
    elif assembly.changed:
        serial = _write(plan, resolution, assembly, settings, client, progress)
        progress("bundle serial %d written to %s" % (serial, bundle_dir))
    else:
        progress("nothing changed: the bundle stays at serial %s" % serial)
        if previous and previous.get("serial") is not None:  # a bundle from before slices: written once now
            _manifest.write_slices(bundle_dir, previous)
            _manifest.publish_slices(bundle_dir, previous)
    if assembly.lock_changed and settings.lock_mode == "update" and not settings.check_mode:
        written = _lockdir.write(t.cast(str, settings.lock_dir), t.cast(_lockdir.LockOutcome, assembly.lock).texts)
        progress("lock: %d file(s) written to %s" % (len(written), settings.lock_dir))
    return serial


# -- the steps' helpers -----------------------------------------------------------------------------------------
@contextlib.contextmanager
def _locked_work_dir(settings: BundleSettings) -> t.Iterator[str]:
    """One build at a time per bundle directory (a second waits up to ``lock_timeout``, then fails naming the
    first), in a work directory removed at the end: inside the bundle directory, or a private one in check mode."""
    if not settings.check_mode:
        os.makedirs(settings.bundle_dir, exist_ok=True)
    lock = (FileLock(os.path.join(settings.bundle_dir, ".lock"), settings.lock_timeout, PyMigrateError)
            if os.path.isdir(settings.bundle_dir) else contextlib.nullcontext())
    with lock:
        work_dir = tempfile.mkdtemp(prefix=".work-", dir=None if settings.check_mode else settings.bundle_dir)
        try:
            yield work_dir
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)


def _previous_bundle(bundle_dir: str, client) -> dict | None:
    """The manifest the bundle directory holds (None before the first build); its projects are revalidated in
    parallel at once: a re-run with nothing new costs one round trip, not one per page."""
    previous = _manifest.read(bundle_dir, required=False)
    if previous:
        client.prefetch_projects([info["project"] for info in previous.get("files", {}).values()])
    return previous


def _sdist_builder(plan: Plan, settings: BundleSettings, client, work_dir: str) -> SdistBuilder | None:
    """The run's sdist builder (None without ``build_sdists``). Check mode builds sdists in the work directory only,
    never in the bundle's store, and keeps any build log in a private temporary directory."""
    if not settings.build_sdists:
        return None
    log_dir = None if settings.check_mode else os.path.join(settings.bundle_dir, ".build-logs")
    return SdistBuilder(client, work_dir if settings.check_mode else settings.bundle_dir, work_dir, log_dir,
                        settings.build_timeout, builders=plan.builders,
                        built_dir=os.path.join(settings.bundle_dir, BUILT_DIR), hidden=settings.build_hidden)


def _builder_builds(sdists: SdistBuilder | None, settings: BundleSettings, client, progress) -> list:
    """The sdist builds left to builder hosts, planned (their build requirements resolved, and fetched outside check
    mode). Nothing is written until the builders' wheels are in (the second pass resolves with them), unless the
    builders are out of reach (a survey from inside the enclave): then the bundle carries the builds."""
    if sdists is None or not sdists.pending:
        return []
    if settings.require_built:
        missing = ", ".join("%s on %s" % (entry["filename"], entry["builder"])
                            for entry, _target in sdists.pending.values())
        raise PyMigrateError("the builder hosts' wheels do not fit their profiles (still to build: %s)" % missing,
                             var="pymigrate_builders",
                             hint="Check that each builder's Python and platform equal its profile's")
    builds = plan_builds(sdists.pending, client, settings.bundle_dir, check_mode=settings.check_mode)
    named = ", ".join("%s on %s" % (build["filename"], build["builder"]) for build in builds)
    if settings.defer_builds:
        progress("%d sdist build(s) carried in the bundle for builder hosts inside: %s" % (len(builds), named))
    else:
        progress("%d sdist build(s) wait for builder hosts: %s" % (len(builds), named))
    return builds


def _waiting_result(resolution: Resolution, previous: dict | None, settings: BundleSettings) -> dict:
    """The result while sdist builds wait for builder hosts: nothing was written."""
    return {"changed": False, "pending_builds": [_manifest.build_entry(build) for build in resolution.pending],
            "serial": (previous or {}).get("serial"), "profiles": {}, "fetched": [], "changes": {}, "diff": {},
            "bundle_dir": settings.bundle_dir, "kept_hosts": []}


def _new_manifest(plan: Plan, resolution: Resolution, settings: BundleSettings, client) -> dict:
    """The new manifest with every resolved profile, and the builds each carries for builder hosts inside."""
    cutoff = settings.uploaded_prior_to
    manifest = _manifest.new([redact(index.base) for index in client.indexes], cutoff.isoformat() if cutoff else None)
    for profile in plan.profiles:
        pins, installer = resolution.resolved[profile.name]
        sdists = {pin.file.sha256 for pin in pins if not pin.file.filename.endswith(".whl")}
        _manifest.add_profile(manifest, profile, pins, installer, plan.members,
                              builds=[build for build in resolution.deferred if build["sdist_sha256"] in sdists
                                      and build["target_key"] == profile.target.key()])
    return manifest


def _run_checks(manifest: dict, resolved: t.Mapping, settings: BundleSettings, client, previous: dict | None,
                progress) -> tuple:
    """(vulnerability outcome, provenance outcome), None for a check not asked for; each recorded in the manifest.
    Policy fail, an identity that changed or policy require unmet raises: nothing is written yet."""
    pins_by_profile = {name: pins for name, (pins, _installer) in resolved.items()}
    vulnerabilities = provenance = None
    if settings.vulnerabilities is not None:
        vulnerabilities = _vulns.check(pins_by_profile, client, settings.vulnerabilities, workers=settings.workers,
                                       progress=progress)
        manifest["vulnerabilities"] = _vulns.manifest_record(vulnerabilities, settings.vulnerabilities.policy)
    if settings.provenance is not None:
        provenance = _provenance.check(pins_by_profile, client, settings.provenance, previous,
                                       workers=settings.workers, progress=progress)
        manifest["provenance"] = _provenance.manifest_record(provenance)
    return vulnerabilities, provenance


def _keep_carried_texts(texts: dict, manifest: dict, carried: t.Sequence[str], previous: dict | None,
                        bundle_dir: str) -> None:
    """The locks (and vulnerability reports, when this run checks) of the profiles carried over stay as the
    previous build wrote them."""
    for name in carried:
        for lock_name in (manifest["profiles"][name]["lock"], manifest["profiles"][name]["requirements"]):
            texts[lock_name] = _read_text(os.path.join(bundle_dir, lock_name)) or ""
        old_report = (((previous or {}).get("vulnerabilities") or {}).get("reports") or {}).get(name)
        if "vulnerabilities" in manifest and old_report:
            manifest["vulnerabilities"]["reports"][name] = old_report
            for report_name in (old_report["json"], old_report["text"]):
                texts[report_name] = _read_text(os.path.join(bundle_dir, report_name)) or ""


def _written(bundle_dir: str, texts: t.Mapping, blobs: t.Mapping) -> bool:
    """Whether the bundle directory holds these texts and provenance bytes already."""
    return (all(_read_text(os.path.join(bundle_dir, name)) == text for name, text in texts.items())
            and all(_read_bytes(os.path.join(bundle_dir, name)) == data for name, data in blobs.items()))


def _write(plan: Plan, resolution: Resolution, assembly: Assembly, settings: BundleSettings, client,
           progress) -> int:
    """Fetch every file the store lacks, build the images still to build, carry the OSV database and the provenance
    bytes verified, then write locks, SBOM and (last) the manifest; returns the new serial."""
    bundle_dir, files, outcome = settings.bundle_dir, assembly.files, assembly.vulnerabilities
    progress("fetching %d of %d file(s), %.1f MB" % (len(assembly.to_fetch), len({d.sha256 for d in files}),
                                                     sum(d.size or 0 for d in assembly.to_fetch) / 1e6))
    fetch_all(files, bundle_dir, client, max_workers=settings.workers, progress=progress)
    _build_images(plan, resolution, assembly)
    if outcome is not None and outcome["osv_db"] and settings.vulnerabilities is not None:
        _carry_osv_db(bundle_dir, t.cast(str, settings.vulnerabilities.osv_db), outcome["osv_db"]["sha256"])
    for name, data in sorted(assembly.blobs.items()):  # the exact bytes verified, next to their files
        os.makedirs(os.path.dirname(os.path.join(bundle_dir, name)), exist_ok=True)
        write_atomic(os.path.join(bundle_dir, name), data)
    return write_bundle(bundle_dir, assembly.manifest, assembly.texts, resolution.resolved, assembly.stale,
                        assembly.previous, assembly.carried, vulnerabilities=outcome)


def _build_images(plan: Plan, resolution: Resolution, assembly: Assembly) -> None:
    """The images still to build, from the wheels just fetched, in a build container with no network; their locks
    then name them."""
    if not assembly.to_build or plan.images is None:
        return
    for image in assembly.to_build:
        record = plan.images.build(image["key"], image["carrier"], image["files"], image["installer"])
        _manifest.add_image(assembly.manifest, image["profile"], record)
    built = {image["profile"] for image in assembly.to_build}
    assembly.texts.update(lock_texts([p for p in plan.profiles if p.name in built], resolution.resolved,
                                     assembly.manifest))


def _known_images(images: ImageBuilder | None, profiles: t.Sequence, resolved: t.Mapping, manifest: dict,
                  progress) -> list:
    """For each image profile, its build plan; the record of an image built earlier from the same key goes into the
    manifest at once (a re-run builds nothing)."""
    plans: list = []
    if images is None:
        return plans
    for profile in profiles:
        if not profile.carrier:
            continue
        pins, installer = resolved[profile.name]
        files = [{"path": store_relpath(p.file.sha256, p.file.filename), "sha256": p.file.sha256,
                  "filename": p.file.filename} for p in pins]
        tool = {"path": store_relpath(installer.file.sha256, installer.file.filename),
                "sha256": installer.file.sha256, "filename": installer.file.filename}
        key = images.key(profile.carrier, files, tool)
        record = images.known(key)
        if record is not None:  # the same content; the name is this run's (a renamed image is not built again)
            record = dict(record, name=profile.carrier["image_name"])
            _manifest.add_image(manifest, profile.name, record)
        else:
            progress("profile %s: its image (%s on %s) is to be built" % (
                profile.name, profile.carrier["image_name"], profile.carrier["base_image"]))
        plans.append({"profile": profile.name, "key": key, "carrier": profile.carrier, "files": files,
                      "installer": tool, "record": record})
    return plans


def _with_sizes(resolved: dict, bundle_dir: str, client, *, fetch: bool, workers: int) -> dict:
    """Pins whose index gave no size (a PEP 503 HTML page without PEP 700 data) get the size of the file in the
    store, fetched first if need be (outside check mode): locks and host pushes state every file's size."""
    unsized = [pin.file for pins, installer in resolved.values() for pin in list(pins) + [installer]
               if pin.file.size is None]
    if not unsized:
        return resolved
    if fetch:
        fetch_all(unsized, bundle_dir, client, max_workers=workers)

    def sized(pin):
        path = store_path(bundle_dir, pin.file)
        if pin.file.size is not None or not os.path.isfile(path):
            return pin
        return dataclasses.replace(pin, file=dataclasses.replace(pin.file, size=os.path.getsize(path)))
    return {name: ([sized(pin) for pin in pins], sized(installer)) for name, (pins, installer) in resolved.items()}


def _carried_components(bundle_dir: str, sbom: dict, carried: set) -> None:
    """Add to the new SBOM the components (and the images' dependencies) of the previous SBOM that belong to
    profiles carried over."""
    components = sbom["components"]
    try:
        with open(os.path.join(bundle_dir, SBOM_FILE)) as handle:
            document = json.load(handle)
        previous = document.get("components") or []
        previous_dependencies = document.get("dependencies") or []
    except (OSError, ValueError, AttributeError):
        previous, previous_dependencies = [], []
    by_ref = {component["bom-ref"]: component for component in components}
    for component in previous:
        properties = [p for p in component.get("properties", []) if p.get("value") in carried]
        if properties:
            entry = by_ref.setdefault(component["bom-ref"], dict(component, properties=[]))
            entry["properties"] = entry["properties"] + [p for p in properties if p not in entry["properties"]]
    sbom["components"] = [by_ref[ref] for ref in sorted(by_ref)]
    dependencies = {item["ref"]: item for item in sbom.get("dependencies", [])}
    for item in previous_dependencies:
        if isinstance(item, dict) and item.get("ref") in by_ref:
            dependencies.setdefault(item["ref"], item)
        elif isinstance(item, dict) and item.get("ref") == BUNDLE_REF and BUNDLE_REF in dependencies:
            # The bundle keeps its edges to what the carried profiles asked for.
            kept = {ref for ref in item.get("dependsOn") or [] if ref in by_ref}
            root = dependencies[BUNDLE_REF]
            dependencies[BUNDLE_REF] = dict(root, dependsOn=sorted(set(root["dependsOn"]) | kept))
    if dependencies:
        sbom["dependencies"] = [dependencies[ref] for ref in sorted(dependencies)]


def _write_cyclonedx(bundle_dir: str, sbom: dict, vulnerabilities: t.Mapping | None) -> None:
    """The SBOM and, when vulnerabilities were checked, the VEX beside it (whose BOM-Links name the SBOM's
    components); a VEX of an earlier build that checked them is removed when this one did not."""
    vex_path = os.path.join(bundle_dir, VEX_FILE)
    if vulnerabilities is not None:
        link_vex(sbom)
        vex = render_vex(sbom, _vulns.sbom_vulnerabilities(vulnerabilities, sbom["components"]))
        write_atomic(vex_path, (json.dumps(vex, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    elif os.path.exists(vex_path):
        os.unlink(vex_path)
    write_atomic(os.path.join(bundle_dir, SBOM_FILE),
                 (json.dumps(sbom, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def write_bundle(bundle_dir: str, manifest: dict, texts: t.Mapping, resolved: t.Mapping, stale: t.Sequence,
                 previous: dict | None, carried: t.Sequence[str] = (), vulnerabilities: t.Mapping | None = None) -> int:
    """Write locks, SBOM and (last) the manifest under the next serial; returns the serial."""
    serial = int((previous or {}).get("serial") or 0) + 1
    manifest["serial"], manifest["created"] = serial, format_time(utc_now())
    for name, text in texts.items():
        os.makedirs(os.path.dirname(os.path.join(bundle_dir, name)), exist_ok=True)
        write_atomic(os.path.join(bundle_dir, name), text.encode("utf-8"))
    images = {name: manifest["profiles"][name]["image"] for name in resolved
              if manifest["profiles"].get(name, {}).get("image")}
    sbom = render_sbom({name: pins for name, (pins, _installer) in resolved.items()}, serial, manifest["created"],
                       images)
    if carried:
        _carried_components(bundle_dir, sbom, set(carried))
    _write_cyclonedx(bundle_dir, sbom, vulnerabilities)
    _simple.write(bundle_dir, manifest)  # the bundle as a static index, over the store just complete
    _manifest.record_metadata(bundle_dir, manifest)  # what the export may sign, as written now
    _manifest.write(bundle_dir, manifest)
    for name in stale:
        os.unlink(os.path.join(bundle_dir, name))
    return serial
