# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PEP 740 provenance of the locked files, checked when the bundle is built (issue 15, part 3).

For every file a profile locks (a wheel built from an sdist: the sdist it came from, the file the index served),
the provenance URL comes from the index (simple JSON ``files[].provenance``, HTML ``data-provenance``); an index
page that does not say (an API before 1.3) is asked at the integrity API ``<root>/integrity/<project>/<version>/
<filename>/provenance`` beside ``<root>/simple/``. Every provenance is fetched through the bundle's IndexClient in
parallel, and each of its attestations is verified offline (no sigstore service is asked: the trust root is
``pymigrate_sigstore_trust_root``, else the production root the installed sigstore reads offline; _sigstore.py) with
``pypi-attestations`` against the **expected** identity of the project, not against the publisher the provenance
names:

1. ``pymigrate_trusted_publishers`` (project -> repository, or an email for Google, or a mapping of publisher
   keys), when it names the project;
2. else the identity the previous bundle recorded (trust on first use, then pinned);
3. else the one the provenance names (first use).

A claim that differs from the expected identity fails the build naming both, under either policy; so does
provenance that disappears for a project whose previous bundle had it, or provenance that is there but does not
verify. ``pymigrate_provenance: require`` makes a file without provenance an error too, and needs the verifier;
``record`` (default) records what it can, and without ``pypi-attestations`` records the files as *unverified*
(it never claims a verification that did not run).

The exact bytes verified travel next to the file in the store (``files/sha256/<2>/<64>/<name>.provenance``; their
sha256 in the manifest), so the signed archive carries them: provenance objects are mutable on the index. So does the
trust root verified with (``sigstore/trusted_root.json``), and the import inside verifies every one of them again
(:func:`reverify`, issue 31), offline, with it or with the inside's own.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import os
import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import store_relpath
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _libraries, _sigstore
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._index import index_root_url, redact
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import canonicalize_name
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

POLICIES = ("record", "require")
SUFFIX = ".provenance"
INTEGRITY_TYPE = "application/vnd.pypi.integrity.v1+json"
INSTALL_HINT = "pip install pypi-attestations"
# The key a plain string in pymigrate_trusted_publishers names, per publisher kind.
STRING_KEY = {"GitHub": "repository", "GitLab": "repository", "Google": "email"}
# Publisher keys compared case-insensitively (repository names on GitHub and GitLab are).
FOLDED = ("repository",)


def provenance_path(sha256: str, filename: str) -> str:
    """Where a file's provenance travels: next to the file in the store."""
    return store_relpath(sha256, filename) + SUFFIX


# -- settings ---------------------------------------------------------------------------------------------------
def parse_policy(value: t.Any) -> str:
    if value not in POLICIES:
        raise PyMigrateError("must be one of %s" % ", ".join(POLICIES), var="pymigrate_provenance", value=value)
    return value


def parse_trusted_publishers(value: t.Any, var: str = "pymigrate_trusted_publishers") -> dict:
    """{project: "owner/repo" | "email" | {kind?, repository?, workflow?, environment?, email?, ...}} ->
    {canonical project: {key: value}} (a string becomes {"*": string}: the kind's own key, see STRING_KEY)."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise PyMigrateError("must be a mapping of project to publisher (repository)", var=var, value=value,
                             hint='e.g. {"sampleproject": "pypa/sampleproject"}')
    pins = {}
    for project, pin in value.items():
        if isinstance(pin, str) and pin.strip():
            pins[canonicalize_name(str(project))] = {"*": pin.strip()}
        elif isinstance(pin, dict) and pin and all(isinstance(k, str) and isinstance(v, str) for k, v in pin.items()):
            pins[canonicalize_name(str(project))] = dict(pin)
        else:
            raise PyMigrateError("the publisher of %s must be a repository (owner/name), an email (Google) or a "
                                 "mapping of publisher keys to strings" % project, var=var, value={project: pin})
    return pins


@dataclasses.dataclass
class ProvenanceCheck:
    """The bundle's provenance settings."""

    policy: str = "record"
    trusted_publishers: t.Mapping[str, t.Mapping[str, str]] = dataclasses.field(default_factory=dict)
    # pymigrate_sigstore_trust_root: the trust root file to verify with (None: sigstore's production root offline)
    trust_root: str | None = None

    def __post_init__(self):
        parse_policy(self.policy)


# -- identities -------------------------------------------------------------------------------------------------
def identity_of(publisher: t.Any) -> dict:
    """A publisher (a pypi_attestations model or the JSON mapping) as its identity: kind plus its keys, without the
    volatile ``claims`` and without unset keys."""
    data = publisher.model_dump(mode="json") if hasattr(publisher, "model_dump") else dict(publisher or {})
    return {key: value for key, value in sorted(data.items()) if key != "claims" and value is not None}


def describe(identity: t.Mapping | None) -> str:
    """``GitHub pypa/sampleproject (workflow release.yml, environment pypi)`` or ``none``."""
    if not identity:
        return "none"
    main = identity.get("repository") or identity.get("email") or identity.get("*") or "?"
    rest = ", ".join("%s %s" % (key, value) for key, value in sorted(identity.items())
                     if key not in ("kind", "repository", "email", "*"))
    return "%s %s%s" % (identity.get("kind", "publisher"), main, " (%s)" % rest if rest else "")


def _same(key: str, left: t.Any, right: t.Any) -> bool:
    if key in FOLDED and isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    return left == right


def matches_pin(claimed: t.Mapping, pin: t.Mapping) -> bool:
    """Whether a claimed identity has every key a pymigrate_trusted_publishers entry names."""
    for key, value in pin.items():
        if key == "*":
            own = STRING_KEY.get(str(claimed.get("kind")), "repository")
            if not _same(own, claimed.get(own), value):
                return False
        elif not _same(key, claimed.get(key), value):
            return False
    return True


def same_identity(left: t.Mapping, right: t.Mapping) -> bool:
    keys = set(left) | set(right)
    return all(_same(key, left.get(key), right.get(key)) for key in keys)


def expected_from_pin(claimed: t.Mapping, pin: t.Mapping) -> dict:
    """The identity to verify against: the claim with every pinned key put in (they are equal once matched; the
    verifier checks the certificate against these values)."""
    expected = dict(claimed)
    for key, value in pin.items():
        expected[STRING_KEY.get(str(claimed.get("kind")), "repository") if key == "*" else key] = value
    return expected


# -- fetching ---------------------------------------------------------------------------------------------------
def integrity_url(index_base: str, project: str, version: str, filename: str) -> str | None:
    """``<root>/simple/`` -> ``<root>/integrity/<project>/<version>/<filename>/provenance``; None for an index that
    has no such root (a local directory, a find-links directory)."""
    return index_root_url(index_base, "integrity", canonicalize_name(project), version, filename, "provenance")


@dataclasses.dataclass(frozen=True)
class Subject:
    """One file whose provenance is checked: the file the index served (for a wheel built from an sdist, the
    sdist), and the locked file it stands for."""

    project: str
    version: str
    filename: str
    sha256: str
    url: str | None        # the index's provenance URL ("" = the index says none; None = ask the integrity API)
    index_url: str
    locked: str             # store path of the locked file (the manifest's key)


def subjects(pins_by_profile: t.Mapping[str, t.Sequence], client=None) -> list:
    """Every locked file once, as a Subject; for a wheel built from an sdist, its sdist (found on the index page)."""
    found: dict = {}
    for pins in pins_by_profile.values():
        for pin in pins:
            locked = store_relpath(pin.file.sha256, pin.file.filename)
            if locked in found:
                continue
            built = getattr(pin, "built_from", None) or {}
            if built.get("sdist_sha256"):
                sdist = None
                if client is not None:
                    sdist = next((d for d in client.version_files(pin.name, pin.version)
                                  if d.sha256 == built["sdist_sha256"]), None)
                found[locked] = Subject(canonicalize_name(pin.name), pin.version, built.get("sdist") or
                                        pin.file.filename, built["sdist_sha256"],
                                        sdist.provenance_url if sdist else None,
                                        sdist.index_url if sdist else pin.file.index_url, locked)
            else:
                found[locked] = Subject(canonicalize_name(pin.name), pin.version, pin.file.filename,
                                        pin.file.sha256, pin.file.provenance_url, pin.file.index_url, locked)
    return [found[key] for key in sorted(found)]


def fetch(client, subject: Subject) -> tuple:
    """(raw bytes or None, where it was asked) of one subject's provenance. 404 from the integrity API means
    none; the index naming a URL that then does not answer is an error."""
    if subject.url == "":
        return None, "the index lists none"
    url = subject.url or integrity_url(subject.index_url, subject.project, subject.version, subject.filename)
    if url is None:
        return None, "the index %s has no integrity API" % redact(subject.index_url)
    response = client.get(url, headers={"Accept": INTEGRITY_TYPE})
    try:
        if response.status_code == 200:
            return client.body(response, "the provenance of %s" % subject.filename), redact(url)
        if response.status_code == 404 and not subject.url:
            return None, "the integrity API has none"
        raise PyMigrateError("the provenance of %s at %s answered HTTP %d"
                             % (subject.filename, redact(url), response.status_code),
                             var="pymigrate_provenance",
                             hint="The index lists provenance it does not serve: investigate before retrying")
    finally:
        response.close()


# -- verification -----------------------------------------------------------------------------------------------
def _publisher(module, identity: t.Mapping):
    classes = {"GitHub": "GitHubPublisher", "GitLab": "GitLabPublisher", "Google": "GooglePublisher",
               "CircleCI": "CircleCIPublisher"}
    name = classes.get(str(identity.get("kind")))
    cls = getattr(module, name, None) if name else None
    if cls is None:
        raise PyMigrateError("publisher kind %s is not one the installed pypi-attestations can verify"
                             % identity.get("kind"), var="pymigrate_provenance")
    return cls(**{key: value for key, value in identity.items() if key in cls.model_fields})


def parse(module, raw: bytes, subject: Subject):
    """The Provenance model of raw bytes (with the verifier), else the plain JSON (without it)."""
    if module is not None:
        try:
            return module.Provenance.model_validate_json(raw)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise PyMigrateError("the provenance of %s is not a PEP 740 provenance object: %s"
                                 % (subject.filename, str(exc).splitlines()[0]), var="pymigrate_provenance")
    import json  # pylint: disable=import-outside-toplevel
    try:
        document = json.loads(raw)
        bundles = document["attestation_bundles"]
        if not isinstance(bundles, list) or not all(isinstance(b, dict) and "publisher" in b for b in bundles):
            raise ValueError("attestation_bundles")
    except (ValueError, KeyError, TypeError):
        raise PyMigrateError("the provenance of %s is not a PEP 740 provenance object" % subject.filename,
                             var="pymigrate_provenance")
    return document


def claimed_identities(provenance) -> list:
    bundles = (provenance.attestation_bundles if hasattr(provenance, "attestation_bundles")
               else provenance["attestation_bundles"])
    seen: list = []
    for bundle in bundles:
        identity = identity_of(bundle.publisher if hasattr(bundle, "publisher") else bundle["publisher"])
        if not any(same_identity(identity, other) for other in seen):
            seen.append(identity)
    return seen


def verify(module, provenance, identity: t.Mapping, subject: Subject, verify_with) -> int:
    """Verify every attestation of every bundle against ``identity`` with the sigstore Verifier ``verify_with``
    (offline, over a trust root file: _sigstore.py); the number verified."""
    publisher = _publisher(module, identity)
    dist = module.Distribution(name=subject.filename, digest=subject.sha256)
    count = 0
    for bundle in provenance.attestation_bundles:
        for attestation in bundle.attestations:
            try:
                _sigstore.verify_attestation(module, verify_with, attestation, publisher, dist)
            except module.VerificationError as exc:
                raise PyMigrateError("the provenance of %s does not verify against %s: %s"
                                     % (subject.filename, describe(identity), exc), var="pymigrate_provenance",
                                     hint="The file or its attestations are not what the publisher signed: "
                                          "investigate before bundling it")
            count += 1
    if not count:
        raise PyMigrateError("the provenance of %s holds no attestation" % subject.filename,
                             var="pymigrate_provenance")
    return count


# -- the check --------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _History:
    """What the previous bundle recorded: each project's identity (without its trust), each locked file's record,
    and the projects some of whose files had no provenance (partial coverage, as within some releases): for those,
    only a file that had provenance and lost it counts as a disappearance."""

    identities: t.Mapping[str, t.Mapping]
    files: t.Mapping[str, t.Mapping]
    partial: frozenset

    @classmethod
    def of(cls, previous: t.Mapping | None) -> _History:
        record = (previous or {}).get("provenance") or {}
        identities = {project: {k: v for k, v in identity.items() if k != "trust"}
                      for project, identity in (record.get("identities") or {}).items() if identity}
        files = record.get("files") or {}
        return cls(identities, files,
                   frozenset(entry.get("project") for entry in files.values() if entry.get("state") == "absent"))

    def disappeared(self, item: Subject) -> bool:
        return bool(self.identities.get(item.project)) and bool(
            item.project not in self.partial or (self.files.get(item.locked) or {}).get("publisher"))


def check(pins_by_profile: t.Mapping[str, t.Sequence], client, settings: ProvenanceCheck,
          previous: t.Mapping | None = None, *, workers: int = 8, progress=None) -> dict:
    """Fetch and verify the provenance of every locked file. Returns {"files": {locked: record}, "identities":
    {project: identity}, "blobs": {provenance path: bytes}, "verifier", "counts"}. Raises on an identity that is not
    the expected one, provenance that disappeared or does not verify, and under ``require`` on a file without it or
    a missing verifier."""
    module = _required_verifier(settings)
    history = _History.of(previous)
    items = subjects(pins_by_profile, client)
    fetched = _fetch_every(client, items, workers)
    if module is None and any(raw is not None for raw, _where in fetched.values()):
        module = _libraries.pypi_attestations()
    root = None
    if module is not None:  # the trust root verified with travels in the bundle (blobs, manifest)
        root = _sigstore.read(settings.trust_root) if settings.trust_root else _sigstore.default_root()
    verify_with = _sigstore.verifier(root) if root is not None else None
    files: dict = {}
    identities: dict = {}
    problems: list = []
    for item in items:
        raw, where = fetched[item.locked]
        if raw is None:
            problem, record = _absent(item, where, settings, history)
        else:
            problem, record = _attested((module, verify_with), item, raw,
                                        settings.trusted_publishers.get(item.project),
                                        history.identities.get(item.project), identities)
        if problem:
            problems.append(problem)
        if record is not None:
            files[item.locked] = record
    if problems:
        raise PyMigrateError("provenance check failed: %s" % "; ".join(problems), var="pymigrate_provenance",
                             value=settings.policy,
                             hint="A changed publisher must be confirmed: pin it in pymigrate_trusted_publishers "
                                  "once you know the new one is the project's own")
    blobs = {record["provenance"]: fetched[locked][0] for locked, record in files.items() if "provenance" in record}
    if root is not None:
        blobs[_sigstore.TRUST_ROOT_PATH] = root.data
    outcome = _outcome(settings, module, files, identities, blobs, progress)
    outcome["trust_root"] = trust_root_record(root)
    return outcome


def trust_root_record(root) -> dict | None:
    """``manifest.provenance.trust_root``: where the bundle carries the trust root verified with, its sha256, and
    where it came from; None when nothing was verified."""
    if root is None:
        return None
    return {"path": _sigstore.TRUST_ROOT_PATH, "sha256": root.sha256, "source": root.source}


def _required_verifier(settings: ProvenanceCheck):
    """pypi-attestations under policy require (an error without it), else None: it is imported only when something
    needs it (it brings sigstore and pydantic, several MB in the bundle's process), here or once a file has
    provenance."""
    module = _libraries.pypi_attestations() if settings.policy == "require" else None
    if module is None and settings.policy == "require":
        raise PyMigrateError("pymigrate_provenance require needs the PEP 740 verifier pypi-attestations on the "
                             "control node", var="pymigrate_provenance", value="require",
                             hint="Install it into the Python that runs Ansible (%s), or use record" % INSTALL_HINT)
    return module


def _fetch_every(client, items: t.Sequence[Subject], workers: int) -> dict:
    """{locked: (raw bytes or None, where it was asked)} of every subject, fetched in parallel."""
    fetched: dict = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(workers, len(items) or 1)),
                                               thread_name_prefix="pymigrate-provenance") as pool:
        futures = {pool.submit(fetch, client, item): item for item in items}
        for future in concurrent.futures.as_completed(futures):
            fetched[futures[future].locked] = future.result()
    return fetched


def _record(item: Subject, **fields) -> dict:
    return dict({"project": item.project, "version": item.version, "filename": item.filename,
                 "sha256": item.sha256}, **fields)


def _absent(item: Subject, where: str, settings: ProvenanceCheck, history: _History) -> tuple:
    """(problem or None, record) of a file without provenance: a problem when a pin names its publisher, when the
    previous bundle had provenance for it, or under policy require."""
    pin = settings.trusted_publishers.get(item.project)
    problem = None
    if pin is not None:
        problem = ("%s (%s): no provenance, but pymigrate_trusted_publishers pins %s"
                   % (item.project, item.filename, describe(dict(pin, kind=pin.get("kind", "publisher")))))
    elif history.disappeared(item):
        problem = ("%s (%s): provenance disappeared; the previous bundle recorded %s, now none"
                   % (item.project, item.filename, describe(history.identities[item.project])))
    elif settings.policy == "require":
        problem = "%s (%s): no provenance (%s)" % (item.project, item.filename, where)
    return problem, _record(item, state="absent", reason=where)


def _attested(verifiers: tuple, item: Subject, raw: bytes, pin: t.Mapping | None, before: t.Mapping | None,
              identities: dict) -> tuple:
    """(problem or None, record or None) of a file with provenance: its one claimed identity against the expected
    one, the project's identity (recorded in ``identities`` for its other files), verified when the verifier is
    installed (``verifiers``: pypi_attestations or None, and the sigstore Verifier over the trust root)."""
    module, verify_with = verifiers
    provenance = parse(module, raw, item)
    claimed = claimed_identities(provenance)
    if len(claimed) != 1:
        raise PyMigrateError("the provenance of %s names %d publishers (%s); one identity per project is "
                             "expected" % (item.filename, len(claimed), "; ".join(map(describe, claimed))),
                             var="pymigrate_trusted_publishers",
                             hint="Pin the project's publisher in pymigrate_trusted_publishers")
    problem, expected, trust = _expected(item, claimed[0], pin, before)
    if problem:
        return problem, None
    other = identities.get(item.project)
    if other is not None and not same_identity({k: v for k, v in other.items() if k != "trust"}, expected):
        return "%s: its files name different publishers, %s and %s" % (
            item.project, describe(other), describe(expected)), None
    # How it came to be trusted: pinned (pymigrate_trusted_publishers), or tofu (first use, then the previous
    # bundle's): the same on a re-run, so a re-run with nothing new rewrites nothing.
    identities[item.project] = dict(expected, trust=trust) if other is None else other
    record = _record(item, provenance=provenance_path(item.sha256, item.filename),
                     provenance_sha256=hashlib.sha256(raw).hexdigest(), publisher=expected)
    if module is None:
        record.update(state="unverified", reason="pypi-attestations is not installed (%s)" % INSTALL_HINT)
    else:
        record.update(state="verified", attestations=verify(module, provenance, expected, item, verify_with))
    return None, record


def _expected(item: Subject, identity: t.Mapping, pin: t.Mapping | None, before: t.Mapping | None) -> tuple:
    """(problem or None, expected identity, trust): the pin's (pinned), else the previous bundle's, else the claim's
    (both tofu); a claim that differs from the pin or from the previous bundle's identity is a problem."""
    if pin is not None:
        if not matches_pin(identity, pin):
            return ("%s (%s): the provenance names %s, but pymigrate_trusted_publishers pins %s"
                    % (item.project, item.filename, describe(identity),
                       describe(dict(pin, kind=pin.get("kind", identity.get("kind"))))), None, None)
        return None, expected_from_pin(identity, pin), "pinned"
    if before:
        if not same_identity(identity, before):
            return ("%s (%s): the publisher identity changed: the previous bundle recorded %s, the provenance now "
                    "names %s" % (item.project, item.filename, describe(before), describe(identity)), None, None)
        return None, dict(before), "tofu"
    return None, identity, "tofu"


def _outcome(settings: ProvenanceCheck, module, files: dict, identities: dict, blobs: dict, progress) -> dict:
    """The check's outcome, said."""
    share = counts(files)
    if progress:
        progress("provenance (%s): %s" % (settings.policy, what_happened(share, module is not None)))
    return {"policy": settings.policy, "files": files, "identities": identities, "blobs": blobs,
            "verifier": verifier_version(module), "counts": share}


def what_happened(share: t.Mapping, verifier: bool) -> str:
    """What the check did, said as it happened: the verifier is only imported (and only missing) when a file has
    provenance, so "not installed" is said only then."""
    if not share["files"]:
        return "no locked file; nothing to verify"
    if not share["with_provenance"]:
        return "no file had provenance (%d locked file(s)); nothing to verify" % share["files"]
    text = "%d of %d locked file(s) had provenance, %d verified" % (
        share["with_provenance"], share["files"], share["verified"])
    if not verifier:
        text += "; %d not verified: pypi-attestations is not installed (%s)" % (share["unverified"], INSTALL_HINT)
    return text


def verifier_version(module) -> str | None:
    if module is None:
        return None
    try:
        import importlib.metadata  # pylint: disable=import-outside-toplevel
        return "pypi-attestations %s" % importlib.metadata.version("pypi-attestations")
    except Exception:  # pylint: disable=broad-except
        return "pypi-attestations"


def counts(files: t.Mapping) -> dict:
    states = [record["state"] for record in files.values()]
    return {"files": len(states), "with_provenance": sum(1 for s in states if s != "absent"),
            "verified": states.count("verified"), "unverified": states.count("unverified"),
            "absent": states.count("absent")}


# -- inside: verified again before anything is installed (issue 31 item 4) -----------------------------------------
@dataclasses.dataclass(frozen=True)
class InsideCheck:
    """The inside's provenance settings on import: the policy, its own pinned publishers (the bundle's recorded
    identity must match them), and its own trust root file (instead of the one the bundle carries)."""

    policy: str = "record"
    trusted_publishers: t.Mapping[str, t.Mapping[str, str]] = dataclasses.field(default_factory=dict)
    trust_root: str | None = None

    def __post_init__(self):
        parse_policy(self.policy)


def reverify(roots: t.Sequence[str], manifest: t.Mapping, settings: InsideCheck) -> dict:
    """Verify again, offline, every provenance the bundle carries against the identity it recorded (and the inside's
    own pins), with the trust root it carries or the inside's own. ``roots``: the directories its files are read
    from, first found (the import's staging directory, then the store). Returns {policy, files, with_provenance,
    verified, trust_root, skipped}; raises naming every problem. Without the verifier or a trust root it fails
    under require or for a project the inside pins, else says why it skipped (never claims a verification)."""
    record = manifest.get("provenance") or {}
    entries = record.get("files") or {}
    problems = _inside_pins_and_policy(entries, settings)
    attested = {locked: entry for locked, entry in sorted(entries.items()) if entry.get("provenance")}
    summary: dict[str, t.Any] = {"policy": settings.policy, "files": len(entries), "with_provenance": len(attested),
                                 "verified": 0, "trust_root": None, "skipped": None}
    strict = settings.policy == "require" or any(e["project"] in settings.trusted_publishers for e in attested.values())
    module = _libraries.pypi_attestations() if attested else None
    root = _inside_root(roots, record, settings) if module is not None else None
    if not attested:
        summary["skipped"] = "no file of the bundle has provenance"
    elif module is None or root is None:
        reason = ("pypi-attestations is not installed (%s)" % INSTALL_HINT if module is None else
                  "the bundle carries no Sigstore trust root and pymigrate_sigstore_trust_root names none")
        if strict:
            problems.append("the provenance cannot be verified inside: %s" % reason)
        summary["skipped"] = reason
    else:
        summary["trust_root"] = {"source": root.source, "sha256": root.sha256}
        verifiers = (module, _sigstore.verifier(root))
        known = _carried_subjects(manifest)
        for locked, entry in attested.items():
            problem = _reverify_one(roots, locked, entry, settings.trusted_publishers.get(entry["project"]),
                                    verifiers, known)
            if problem:
                problems.append(problem)
            else:
                summary["verified"] += 1
    if problems:
        raise PyMigrateError("provenance verified inside failed: %s; nothing was imported" % "; ".join(problems),
                             var="pymigrate_provenance", value=settings.policy,
                             hint="Install pypi-attestations (%s) and set pymigrate_sigstore_trust_root, or "
                                  "investigate the bundle before installing it" % INSTALL_HINT)
    return summary


def _inside_pins_and_policy(entries: t.Mapping, settings: InsideCheck) -> list:
    """Files without provenance that the inside's pins or policy require to have it."""
    problems = []
    for locked, entry in sorted(entries.items()):
        if entry.get("provenance"):
            continue
        pin = settings.trusted_publishers.get(entry.get("project"))
        if pin is not None:
            problems.append("%s (%s): no provenance, but this side's pymigrate_trusted_publishers pins %s"
                            % (entry.get("project"), entry.get("filename"),
                               describe(dict(pin, kind=pin.get("kind", "publisher")))))
        elif settings.policy == "require":
            problems.append("%s (%s): no provenance" % (entry.get("project"), entry.get("filename") or locked))
    return problems


def _inside_root(roots: t.Sequence[str], record: t.Mapping, settings: InsideCheck):
    """The inside's own trust root when set, else the one the bundle carries (its sha256 as recorded), else None."""
    if settings.trust_root:
        return _sigstore.read(settings.trust_root, "the pinned Sigstore trust root")
    carried = record.get("trust_root") or {}
    if not carried.get("path"):
        return None
    path = _first(roots, carried["path"])
    if path is None:
        raise PyMigrateError("the bundle names the Sigstore trust root %s but does not carry it: nothing was "
                             "imported" % carried["path"], var="pymigrate_sigstore_trust_root")
    root = _sigstore.read(path, "the carried Sigstore trust root")
    if root.sha256 != carried.get("sha256"):
        raise PyMigrateError("the carried Sigstore trust root %s is not the one the manifest records (sha256 %s, "
                             "recorded %s): nothing was imported" % (carried["path"], root.sha256,
                                                                     carried.get("sha256")),
                             var="pymigrate_sigstore_trust_root")
    return _sigstore.TrustRoot(root.data, "carried in the bundle (%s)" % carried.get("source"), root.sha256)


def _first(roots: t.Sequence[str], relpath: str) -> str | None:
    return next((os.path.join(root, relpath) for root in roots if os.path.isfile(os.path.join(root, relpath))), None)


def _carried_subjects(manifest: t.Mapping) -> set:
    """The sha256 of every file an attestation may name: each file the bundle carries, and each sdist a carried wheel
    was built from (or a builder host inside builds)."""
    known = set()
    for info in (manifest.get("files") or {}).values():
        known.add(info.get("sha256"))
        known.add((info.get("built_from") or {}).get("sdist_sha256"))
    for profile in (manifest.get("profiles") or {}).values():
        known.update(build.get("sdist_sha256") for build in profile.get("builds") or ())
    return known - {None}


def _reverify_one(roots: t.Sequence[str], locked: str, entry: t.Mapping, pin: t.Mapping | None, verifiers: tuple,
                  known: set) -> str | None:
    """A problem with one carried provenance, or None once every attestation of it verified against the identity the
    bundle recorded (that the inside's pin, if any, must name)."""
    module, verify_with = verifiers
    item = Subject(entry["project"], entry.get("version", ""), entry["filename"], entry["sha256"], None, "", locked)
    path = _first(roots, entry["provenance"])
    if path is None:
        return "%s (%s): the bundle does not carry its provenance %s" % (
            item.project, item.filename, entry["provenance"])
    with open(path, "rb") as handle:
        raw = handle.read()
    if hashlib.sha256(raw).hexdigest() != entry.get("provenance_sha256"):
        return "%s (%s): its provenance is not the one the manifest records" % (item.project, item.filename)
    if item.sha256 not in known:
        return "%s (%s): its provenance attests a file the bundle does not carry" % (item.project, item.filename)
    expected = dict(entry.get("publisher") or {})
    if pin is not None:
        if not matches_pin(expected, pin):
            return ("%s (%s): the bundle recorded %s, but this side's pymigrate_trusted_publishers pins %s"
                    % (item.project, item.filename, describe(expected),
                       describe(dict(pin, kind=pin.get("kind", expected.get("kind"))))))
        expected = expected_from_pin(expected, pin)
    try:
        provenance = parse(module, raw, item)
        claimed = claimed_identities(provenance)
        if len(claimed) != 1 or not same_identity(claimed[0], expected):
            return "%s (%s): the provenance names %s, the bundle recorded %s" % (
                item.project, item.filename, "; ".join(map(describe, claimed)), describe(expected))
        verify(module, provenance, expected, item, verify_with)
    except PyMigrateError as exc:
        return exc.message
    return None


def inside_text(summary: t.Mapping) -> str:
    """What the re-verification inside did, in one line."""
    if summary["skipped"]:
        return "provenance not verified inside: %s" % summary["skipped"]
    return "provenance verified inside: %d of %d file(s) with provenance, against the recorded identities, with the " \
           "Sigstore trust root %s (sha256 %s)" % (summary["verified"], summary["with_provenance"],
                                                   summary["trust_root"]["source"],
                                                   summary["trust_root"]["sha256"][:12])


# -- the bundle's record ----------------------------------------------------------------------------------------
def manifest_record(outcome: t.Mapping) -> dict:
    """``manifest.provenance``: policy, verifier, each locked file's record, each project's identity, counts."""
    return {"policy": outcome["policy"], "verifier": outcome["verifier"], "files": dict(outcome["files"]),
            "identities": dict(outcome["identities"]), "counts": dict(outcome["counts"]),
            "trust_root": outcome.get("trust_root")}


def carry_over(previous: t.Mapping | None, record: dict, relpaths: t.Iterable[str]) -> None:
    """Keep the previous bundle's provenance records of files of profiles carried over (hosts outside this run)."""
    old = ((previous or {}).get("provenance") or {})
    for relpath in relpaths:
        if relpath in (old.get("files") or {}) and relpath not in record["files"]:
            entry = old["files"][relpath]
            record["files"][relpath] = entry
            if entry.get("publisher") and entry["project"] not in record["identities"]:
                record["identities"][entry["project"]] = (old.get("identities") or {}).get(entry["project"])
            if entry.get("state") == "verified" and not record.get("trust_root"):
                record["trust_root"] = old.get("trust_root")  # (its file stays in the bundle directory)
    record["counts"] = counts(record["files"])


def lock_identities(record: t.Mapping | None, pins: t.Sequence) -> dict:
    """{project: [identity]} for a profile's pylock ``attestation-identities``: the publisher of each pinned file
    that has provenance (PEP 751: kind plus the publisher's keys)."""
    found: dict = {}
    for pin in pins:
        entry = ((record or {}).get("files") or {}).get(store_relpath(pin.file.sha256, pin.file.filename))
        if entry and entry.get("publisher"):
            found[pin.name] = [dict(entry["publisher"])]
    return found


def files_of(manifest: t.Mapping) -> list:
    """The provenance files the bundle carries (metadata files of the signed archive)."""
    record = manifest.get("provenance") or {}
    names = {entry["provenance"] for entry in (record.get("files") or {}).values() if entry.get("provenance")}
    if (record.get("trust_root") or {}).get("path"):
        names.add(record["trust_root"]["path"])
    return sorted(names)


def result_summary(outcome: t.Mapping) -> dict:
    """The bundle result's ``provenance``: the share of locked files with provenance and verified, the identities."""
    share = outcome["counts"]
    total = share["files"] or 1
    return {"policy": outcome["policy"], "verifier": outcome["verifier"], "counts": dict(share),
            "share_with_provenance": round(share["with_provenance"] / total, 4),
            "share_verified": round(share["verified"] / total, 4),
            "verification_skipped": outcome["verifier"] is None and share["with_provenance"] > 0,
            "identities": {project: dict(identity) for project, identity
                           in sorted(outcome["identities"].items())},
            "absent": sorted(record["filename"] for record in outcome["files"].values() if record["state"] == "absent")}
