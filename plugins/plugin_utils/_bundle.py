# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 3, the bundle: inventory + facts -> profiles -> one resolution each -> parallel fetch -> locks,
manifest and SBOM in one directory.

Nothing in the bundle directory changes before every profile has resolved and every file has been
fetched and verified: an error leaves the previous bundle intact. The manifest is written last.
In check mode the only file written is the proposed manifest (``_manifest.write_proposal``).

Bundle directory (docs/bundle-format.md)::

    manifest.json                 serial, created, profiles, hosts, files (owned by _manifest.py)
    sbom.cdx.json                 CycloneDX SBOM (with the known vulnerabilities found, _vulns.py)
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
import glob
import json
import os
import shutil
import tempfile
import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import (
    FileLock,
    file_sha256,
    store_relpath,
    write_atomic,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest, _provenance, _vulns
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._build import (
    BUILT_DIR,
    DEFAULT_BUILD_TIMEOUT,
    BuilderInput,
    SdistBuilder,
    match_builders,
    plan_builds,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._fetch import fetch_all, missing_files, store_path
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._image import ImageBuilder
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._index import redact
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import Version
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._lockfile import (
    diff_pins,
    render_pylock,
    render_requirements,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import (
    PyMigrateError,
    WantedSet,
    format_time,
    utc_now,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._profiles import HostInput, plan_profiles
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._resolve import resolve
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._sbom import SBOM_FILE, render_sbom


def resolve_installer(profile, client, installer: str = "pip", installer_requirement: str = "pip",
                      uv_requirement: str = "uv", progress=None):
    """The installer wheel for the profile's target: uv when asked for and a wheel of it fits the target (uv is a
    binary: never built from its sdist), else pip (pure Python, for any target), saying why uv was not taken."""
    if installer == "uv":
        try:
            return [p for p in resolve(profile.target, WantedSet({"uv": uv_requirement}), client,
                                       profile=profile.name) if p.name == "uv"][0]
        except PyMigrateError as exc:
            if progress:
                progress("profile %s installs with pip: no uv wheel (%s) fits it: %s"
                         % (profile.name, uv_requirement, exc.message))
    try:
        return [p for p in resolve(profile.target, WantedSet({"pip": installer_requirement}), client,
                                   profile=profile.name) if p.name == "pip"][0]
    except PyMigrateError as exc:
        raise PyMigrateError("cannot bundle an installer (%s) for profile %s: %s"
                             % (installer_requirement, profile.name, exc.message),
                             var="pymigrate_installer_requirement", value=installer_requirement,
                             hint="The bundle carries pip so hosts without pip can install; make it available "
                                  "on the index")


def resolve_profiles(profiles: t.Sequence, client, *, uploaded_prior_to=None, sdists=None,
                     installer_requirement: str = "pip", installer: str = "pip", uv_requirement: str = "uv",
                     progress=None) -> dict:
    """{profile name: (pins, installer pin)}; profiles resolve in parallel and share the client's reads."""

    def resolve_one(profile):
        try:
            pins = resolve(profile.target, profile.wanted, client, uploaded_prior_to=uploaded_prior_to,
                           sdists=sdists, profile=profile.name)
        except PyMigrateError as exc:
            # A new error: the one caught may be shared by every profile that read the same failed page.
            raise PyMigrateError("%s (hosts: %s)" % (exc.message, ", ".join(profile.members)), host=exc.host,
                                 var=exc.var, value=exc.value, hint=exc.hint) from None
        # The installer is resolved for each profile's target: it must run on the target's interpreter and platform.
        # An image is built with pip (in its build container).
        return profile.name, (pins, resolve_installer(profile, client, "pip" if profile.carrier else installer,
                                                      installer_requirement, uv_requirement, progress))

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


def resolve_uniform(profiles: t.Sequence, client, *, rounds: int = 5, **kwargs) -> dict:
    """One version of each project across every profile where one fits all (pymigrate_version_policy: uniform).

    Each round pins the projects that still differ to the lowest version chosen for any profile (the newest the most
    constrained profile can take) as a constraint for all, and resolves again; a profile that then cannot resolve
    shows that no single version fits it and the others, and the error names the project and the profiles."""
    resolved = resolve_profiles(profiles, client, **kwargs)
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
            resolved = resolve_profiles(constrained, client, **dict(kwargs, progress=None))
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
    existing = (glob.glob(os.path.join(bundle_dir, "pylock.*.toml"))
                + glob.glob(os.path.join(bundle_dir, "requirements.*.txt"))
                + glob.glob(os.path.join(bundle_dir, "vulnerabilities.*.json"))
                + glob.glob(os.path.join(bundle_dir, "vulnerabilities.*.txt")))
    return sorted({os.path.basename(p) for p in existing} - set(texts))


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


def build_bundle(hosts: t.Sequence[HostInput], bundle_dir: str, client, *, check_mode: bool = False,
                 uploaded_prior_to=None, build_sdists: bool = True, installer_requirement: str = "pip",
                 workers: int = 8, keep_hosts: t.Iterable[str] = (), lock_timeout: float = 300,
                 build_timeout: float = DEFAULT_BUILD_TIMEOUT, builders: t.Sequence[BuilderInput] = (),
                 require_built: bool = False, version_policy: str = "per_profile", defer_builds: bool = False,
                 installer: str = "pip", uv_requirement: str = "uv", vulnerabilities=None, provenance=None,
                 progress=None) -> dict:
    """Resolve and fetch every profile; write the bundle unless in check mode. Returns a result dict.

    ``keep_hosts`` (inventory hosts outside this run) keep their entries of the previous bundle. One build at a
    time per bundle directory: a second waits up to ``lock_timeout`` seconds for the first, then fails naming it.
    ``progress`` (a callable taking one line) hears what the build is doing. sdist builds (pure wheels only) log
    into ``<bundle_dir>/.build-logs/`` and stop after ``build_timeout`` seconds. ``builders`` may compile sdists for
    the profiles of their own target: while any such build is still to be done, nothing is written and the result
    lists ``pending_builds`` for the ``sdist_build`` action (then build again; ``require_built`` makes a build
    still missing then an error). ``version_policy`` "uniform" gives every profile the same version of each project
    where one fits all (resolve_uniform); either way the result lists the projects whose versions differ.
    ``defer_builds`` (builders out of reach of this control node): the bundle is written with the pending builds in
    its manifest and their files in its store, for deploy.yml to run inside. ``installer`` "uv" carries uv
    (``uv_requirement``) for every profile a uv wheel fits, pip for the others (said, and listed in the result).
    ``vulnerabilities`` (a _vulns.VulnerabilityCheck) checks every pin for known vulnerabilities before anything is
    written: the reports go into the bundle and its SBOM, and policy ``fail`` stops the build. ``provenance`` (a
    _provenance.ProvenanceCheck) fetches and verifies the PEP 740 provenance of every locked file before anything is
    written: identities go into the manifest and the pylocks, the verified bytes next to the files.
    """
    images = None
    if any(env.carrier for item in hosts for env in item.envs.values()):
        images = ImageBuilder(bundle_dir, bundle_dir, progress=progress)  # its work dir is set once there is one
    profiles, envs_by_member = plan_profiles(hosts, image_target=images.target if images else None)
    if not check_mode:
        os.makedirs(bundle_dir, exist_ok=True)
    lock = (FileLock(os.path.join(bundle_dir, ".lock"), lock_timeout, PyMigrateError) if os.path.isdir(bundle_dir)
            else contextlib.nullcontext())
    with lock:
        return _build_locked(profiles, envs_by_member, bundle_dir, client, check_mode=check_mode,
                             builders=match_builders(builders, profiles), require_built=require_built,
                             uploaded_prior_to=uploaded_prior_to, build_sdists=build_sdists,
                             installer_requirement=installer_requirement, workers=workers, keep_hosts=keep_hosts,
                             build_timeout=build_timeout, version_policy=version_policy, defer_builds=defer_builds,
                             installer=installer, uv_requirement=uv_requirement, images=images,
                             vulnerabilities=vulnerabilities, provenance=provenance,
                             progress=progress or (lambda line: None))


def _build_locked(profiles, envs_by_member, bundle_dir, client, *, check_mode, uploaded_prior_to, build_sdists,
                  installer_requirement, workers, keep_hosts, build_timeout, builders, require_built,
                  version_policy, defer_builds, installer, uv_requirement, images, progress,
                  vulnerabilities=None, provenance=None) -> dict:
    work_dir = tempfile.mkdtemp(prefix=".work-", dir=None if check_mode else bundle_dir)
    try:
        # Check mode builds sdists in the work directory only, never in the bundle's store, and keeps any build
        # log in a private temporary directory.
        log_dir = None if check_mode else os.path.join(bundle_dir, ".build-logs")
        sdists = (SdistBuilder(client, work_dir if check_mode else bundle_dir, work_dir, log_dir, build_timeout,
                               builders=builders, built_dir=os.path.join(bundle_dir, BUILT_DIR))
                  if build_sdists else None)
        previous = _manifest.read(bundle_dir, required=False)
        if previous:
            # Known projects, revalidated in parallel: a re-run with nothing new costs one round trip, not one per page.
            client.prefetch_projects([info["project"] for info in previous.get("files", {}).values()])
        progress("resolving %d profile(s) for %d host environment(s)" % (len(profiles), len(envs_by_member)))
        resolver = resolve_uniform if version_policy == "uniform" else resolve_profiles
        resolved = resolver(profiles, client, uploaded_prior_to=uploaded_prior_to, sdists=sdists,
                            installer_requirement=installer_requirement, installer=installer,
                            uv_requirement=uv_requirement, progress=progress)
        deferred: list = []
        if sdists is not None and sdists.pending:
            # Nothing is written until the builders' wheels are in (the second pass resolves with them), unless the
            # builders are out of reach (a survey from inside the enclave): then the bundle carries the builds.
            if require_built:
                missing = ", ".join("%s on %s" % (entry["filename"], entry["builder"])
                                    for entry, _target in sdists.pending.values())
                raise PyMigrateError("the builder hosts' wheels do not fit their profiles (still to build: %s)"
                                     % missing, var="pymigrate_builders",
                                     hint="Check that each builder's Python and platform equal its profile's")
            builds = plan_builds(sdists.pending, client, bundle_dir, check_mode=check_mode)
            named = ", ".join("%s on %s" % (build["filename"], build["builder"]) for build in builds)
            if not defer_builds:
                progress("%d sdist build(s) wait for builder hosts: %s" % (len(builds), named))
                return {"changed": False, "pending_builds": [_manifest.build_entry(build) for build in builds],
                        "serial": (previous or {}).get("serial"), "profiles": {}, "fetched": [], "changes": {},
                        "diff": {}, "bundle_dir": bundle_dir, "kept_hosts": []}
            deferred = builds
            progress("%d sdist build(s) carried in the bundle for builder hosts inside: %s" % (len(builds), named))
        resolved = _with_sizes(resolved, bundle_dir, client, fetch=not check_mode, workers=workers)
        manifest = _manifest.new([redact(index.base) for index in client.indexes],
                                 uploaded_prior_to.isoformat() if uploaded_prior_to else None)
        for profile in profiles:
            pins, installer = resolved[profile.name]
            sdists_of_profile = {pin.file.sha256 for pin in pins if not pin.file.filename.endswith(".whl")}
            _manifest.add_profile(manifest, profile, pins, installer, envs_by_member,
                                  builds=[build for build in deferred if build["sdist_sha256"] in sdists_of_profile
                                          and build["target_key"] == profile.target.key()])
        outcome = None
        if vulnerabilities is not None:  # policy fail stops here: nothing written yet
            outcome = _vulns.check({name: pins for name, (pins, _installer) in resolved.items()}, client,
                                   vulnerabilities, workers=workers, progress=progress)
            manifest["vulnerabilities"] = _vulns.manifest_record(outcome, vulnerabilities.policy)
        attested = None
        if provenance is not None:  # an identity that changed, or policy require unmet, stops here: nothing written
            attested = _provenance.check({name: pins for name, (pins, _installer) in resolved.items()}, client,
                                         provenance, previous, workers=workers, progress=progress)
            manifest["provenance"] = _provenance.manifest_record(attested)
        image_plans = _known_images(images, profiles, resolved, manifest, work_dir, progress)
        carried = _manifest.carry_over(previous, manifest, keep_hosts)
        if attested is not None and carried:
            _provenance.carry_over(previous, manifest["provenance"],
                                   [path for name in carried for path in manifest["profiles"][name]["files"]])
        all_files = [pin.file for pins, installer in resolved.values() for pin in list(pins) + [installer]]
        to_fetch = missing_files(all_files, bundle_dir)
        texts = lock_texts(profiles, resolved, manifest)  # an image still to build: its lock is written after it
        if outcome is not None:
            texts.update(_vulns.report_texts(outcome))
        for name in carried:  # their locks (and vulnerability reports) stay as the previous build wrote them
            for lock_name in (manifest["profiles"][name]["lock"], manifest["profiles"][name]["requirements"]):
                texts[lock_name] = _read_text(os.path.join(bundle_dir, lock_name)) or ""
            old_report = (((previous or {}).get("vulnerabilities") or {}).get("reports") or {}).get(name)
            if outcome is not None and old_report:
                manifest["vulnerabilities"]["reports"][name] = old_report
                for report_name in (old_report["json"], old_report["text"]):
                    texts[report_name] = _read_text(os.path.join(bundle_dir, report_name)) or ""
        stale = _stale_locks(bundle_dir, texts)
        blobs = attested["blobs"] if attested is not None else {}
        unchanged = (_manifest.equivalent(previous, manifest) and not stale
                     and all(_read_text(os.path.join(bundle_dir, name)) == text for name, text in texts.items())
                     and all(_read_bytes(os.path.join(bundle_dir, name)) == data for name, data in blobs.items()))
        changes, diff = changes_against(previous, manifest, envs_by_member)
        differing = differing_versions(resolved)
        if differing:
            progress("versions differ between profiles: %s" % "; ".join(
                "%s (%s)" % (project, ", ".join("%s in %s" % (v, p) for p, v in sorted(by.items())))
                for project, by in differing.items()))
        to_build = [plan for plan in image_plans if plan["record"] is None]
        result = {"changed": bool(to_fetch) or bool(to_build) or not unchanged,
                  "serial": (previous or {}).get("serial"),
                  "profiles": {p.name: {"members": p.members, "packages": manifest["profiles"][p.name]["packages"]}
                               for p in profiles},
                  "fetched": [d.filename for d in to_fetch], "changes": changes, "diff": diff, "bundle_dir": bundle_dir,
                  "kept_hosts": sorted(set(keep_hosts) & set(manifest["hosts"])), "differing_versions": differing,
                  "installers": {name: pair[1].name for name, pair in sorted(resolved.items())}}
        if outcome is not None:
            result["vulnerabilities"] = _vulns.result_summary(outcome)
        if attested is not None:
            result["provenance"] = _provenance.result_summary(attested)
        if check_mode:
            manifest["serial"], manifest["created"] = result["serial"], format_time(utc_now())
            _manifest.write_proposal(bundle_dir, manifest)
        elif result["changed"]:
            progress("fetching %d of %d file(s), %.1f MB" % (len(to_fetch), len({d.sha256 for d in all_files}),
                                                             sum(d.size or 0 for d in to_fetch) / 1e6))
            fetch_all(all_files, bundle_dir, client, max_workers=workers)
            for plan in to_build:  # from the wheels just fetched, in a build container with no network
                record = images.build(plan["key"], plan["carrier"], plan["files"], plan["installer"])
                _manifest.add_image(manifest, plan["profile"], record)
            if to_build:  # their locks name the images just built
                texts.update(lock_texts([p for p in profiles if p.name in {plan["profile"] for plan in to_build}],
                                        resolved, manifest))
            if outcome is not None and outcome["osv_db"]:
                _carry_osv_db(bundle_dir, vulnerabilities.osv_db, outcome["osv_db"]["sha256"])
            for name, data in sorted(blobs.items()):  # the exact bytes verified, next to their files
                os.makedirs(os.path.dirname(os.path.join(bundle_dir, name)), exist_ok=True)
                write_atomic(os.path.join(bundle_dir, name), data)
            result["serial"] = write_bundle(bundle_dir, manifest, texts, resolved, stale, previous, carried,
                                            vulnerabilities=outcome)
            progress("bundle serial %d written to %s" % (result["serial"], bundle_dir))
        else:
            progress("nothing changed: the bundle stays at serial %s" % result["serial"])
            if previous and previous.get("serial") is not None:  # a bundle from before slices: written once now
                _manifest.write_slices(bundle_dir, previous)
                _manifest.publish_slices(bundle_dir, previous)
        return result
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _known_images(images, profiles, resolved, manifest, work_dir, progress) -> list:
    """For each image profile, its build plan; the record of an image built earlier from the same key goes into the
    manifest at once (a re-run builds nothing)."""
    plans: list = []
    if images is None:
        return plans
    images.work_dir = work_dir  # the run's work directory exists only now
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
        if record is not None:
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
    if dependencies:
        sbom["dependencies"] = [dependencies[ref] for ref in sorted(dependencies)]


def write_bundle(bundle_dir: str, manifest: dict, texts: t.Mapping, resolved: t.Mapping, stale: t.Sequence,
                 previous: dict | None, carried: t.Sequence[str] = (), vulnerabilities: t.Mapping | None = None) -> int:
    """Write locks, SBOM and (last) the manifest under the next serial; returns the serial."""
    serial = int((previous or {}).get("serial") or 0) + 1
    manifest["serial"], manifest["created"] = serial, format_time(utc_now())
    for name, text in texts.items():
        write_atomic(os.path.join(bundle_dir, name), text.encode("utf-8"))
    images = {name: manifest["profiles"][name]["image"] for name in resolved
              if manifest["profiles"].get(name, {}).get("image")}
    sbom = render_sbom({name: pins for name, (pins, _installer) in resolved.items()}, serial, manifest["created"],
                       images)
    if carried:
        _carried_components(bundle_dir, sbom, set(carried))
    if vulnerabilities is not None:
        found = _vulns.sbom_vulnerabilities(vulnerabilities, sbom["components"])
        if found:
            sbom["vulnerabilities"] = found
    write_atomic(os.path.join(bundle_dir, SBOM_FILE),
                 (json.dumps(sbom, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    _manifest.write(bundle_dir, manifest)
    for name in stale:
        os.unlink(os.path.join(bundle_dir, name))
    return serial
