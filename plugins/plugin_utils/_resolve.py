# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 3, resolution: one profile, resolved with resolvelib against the TARGET's facts.

Every marker is evaluated with the target's marker environment (never the control node's: the classic
``pip download --platform`` trap), requires-python against the target's Python, and the wheel of each
version is the one whose tag ranks best in the target's tag list. Yanked files are skipped unless
pinned exactly (PEP 592); prereleases only when asked or named (packaging's rules, as pip); an optional
``uploaded_prior_to`` cut-off drops files uploaded later (PEP 700; files without an upload time stay).
Versions a lock already holds are preferred (``prefer``): each is tried first while it still fits, as uv and
pip-tools keep a lock's pins, so that a change to the wanted set moves only what it requires.

Dead ends are pruned before resolvelib sees them: a version is a candidate only if its files fit the target and
every one of its dependencies, on its own, still has such a version (``_Provider.live``, memoized). A project that
cannot fit (no cp314 wheel, glibc too new, only an sdist that compiles) thus makes every version that needs it
vanish at once, instead of being rediscovered by backtracking for thousands of rounds; the failure names that
project first, then the shortest chain of requirements that leads to it.
"""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import (
    AbstractProvider,
    BaseReporter,
    InvalidRequirement,
    InvalidSpecifier,
    InvalidVersion,
    InvalidWheelFilename,
    Requirement,
    ResolutionImpossible,
    ResolutionTooDeep,
    Resolver,
    SpecifierSet,
    Version,
    canonicalize_name,
    parse_wheel_filename,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import (
    DistFile,
    Pin,
    PyMigrateError,
    Target,
    WantedSet,
    parse_time,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._targets import interpreter_label

WANTED = "<wanted>"
MAX_ROUNDS = 2000


class ResolutionFailed(PyMigrateError):
    """No set fits the profile. ``rounds``: resolvelib rounds run; ``explored``: versions whose dependencies were
    read; ``causes``: the projects named as the root cause (what a test checks instead of a time)."""

    def __init__(self, message: str, hint: str, rounds: int, explored: int, causes: t.Sequence[str] = ()):
        super().__init__(message, hint=hint)
        self.rounds = rounds
        self.explored = explored
        self.causes = tuple(causes)


class _Reporter(BaseReporter):
    """Counts what resolvelib did: rounds, and candidates rejected per project (for the round limit's message)."""

    def __init__(self) -> None:
        self.rounds = 0
        self.rejected: dict[str, int] = {}
        self.pinned: list = []

    def starting_round(self, index):
        self.rounds = index + 1

    def rejecting_candidate(self, criterion, candidate):
        self.rejected[candidate.name] = self.rejected.get(candidate.name, 0) + 1

    def pinning(self, candidate):
        self.pinned = (self.pinned + ["%s %s" % (candidate.name, candidate.version)])[-3:]


def license_classifiers(meta) -> tuple:
    """The licence classifiers ("License :: ...") of core metadata (None: none)."""
    return tuple(c for c in getattr(meta, "classifiers", ()) or () if c.startswith("License ::"))


@dataclasses.dataclass(frozen=True)
class Req:
    name: str
    extras: frozenset
    specifier: SpecifierSet
    text: str
    parent: "Cand | None" = None

    @property
    def identifier(self) -> str:
        return _identifier(self.name, self.extras)


@dataclasses.dataclass(frozen=True)
class Cand:
    name: str
    version: Version
    extras: frozenset
    dist: DistFile

    @property
    def identifier(self) -> str:
        return _identifier(self.name, self.extras)


def _req(requirement, text: str, parent) -> Req:
    extras = frozenset(canonicalize_name(extra) for extra in requirement.extras)
    return Req(canonicalize_name(requirement.name), extras, requirement.specifier, text, parent)


def _req_key(req: Req) -> tuple:
    return (req.identifier, str(req.specifier))


def _identifier(name: str, extras: frozenset) -> str:
    return "%s[%s]" % (name, ",".join(sorted(extras))) if extras else name


class _Provider(AbstractProvider):
    def __init__(self, target: Target, wanted: WantedSet, client, uploaded_prior_to=None, sdists=None,
                 prefer: t.Mapping[str, str] | None = None):
        self.target = target
        self.prefer = prefer or {}
        self.wanted = wanted
        self.client = client
        self.cutoff = uploaded_prior_to
        self.sdists = sdists  # an _build.SdistBuilder shared by the run's profiles, or None: no sdist builds
        self.python = Version(target.markers["python_full_version"])
        self.tag_rank = {tag: rank for rank, tag in enumerate(target.tags)}
        self.labels = target_labels(target)
        self.constraints = {name: SpecifierSet(spec) for name, spec in wanted.constraints.items()}
        self.rejections: dict[str, dict] = {}  # name -> {version: reason}
        self.built: dict[str, t.Any] = {}  # sdist url -> _build.SdistVerdict (a wheel, or a build pending)
        self._deps: dict[tuple, list] = {}
        self._best: dict[tuple, tuple] = {}  # (name, version, pinned exactly) -> (DistFile or None, reason)
        self._live: dict[tuple, bool] = {}  # requirement key -> some version of it can be part of a solution
        self._checking: set = set()  # requirement keys whose liveness is being decided (a cycle counts as live)
        self.dead: dict[tuple, tuple] = {}  # requirement key -> (Req, [(version, the dead Req it needs)])
        self.explored = 0  # versions whose dependencies were read

    # -- resolvelib interface ---------------------------------------------------------------------
    def identify(self, requirement_or_candidate):
        return requirement_or_candidate.identifier

    def get_preference(self, identifier, resolutions, candidates, information, backtrack_causes):
        infos = list(information[identifier])
        pinned = any(any(s.operator in ("==", "===") for s in info.requirement.specifier) for info in infos)
        direct = any(info.parent is None for info in infos)
        causes = {cause.requirement.name for cause in backtrack_causes}
        # Pinned and direct requirements first, then backtrack causes, then by name for stable output.
        return (not pinned, identifier.split("[")[0] not in causes, not direct, identifier)

    def find_matches(self, identifier, requirements, incompatibilities):
        reqs = list(requirements[identifier])
        name = identifier.split("[")[0]
        extras = frozenset(identifier[len(name) + 1:-1].split(",")) if "[" in identifier else frozenset()
        bad_versions = {cand.version for cand in incompatibilities[identifier]}

        def candidates():
            # Lazy: most of a long release history is never looked at once a newer version fits.
            first = True
            for version, dist in self._viable(name, reqs):
                if version in bad_versions:
                    continue
                if self.dead_dependency(Cand(name, version, extras, dist)) is not None:
                    continue  # it needs a project that cannot fit: never a candidate
                if first and dist.filename.endswith(".whl"):
                    self.client.prefetch(dist)
                    first = False
                yield Cand(name, version, extras, dist)
        return candidates

    def is_satisfied_by(self, requirement, candidate):
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate):
        key = (candidate.identifier, str(candidate.version), candidate.dist.url)
        if key not in self._deps:
            self._deps[key] = self._dependencies(candidate)
        return self._deps[key]

    # -- pruning ------------------------------------------------------------------------------------
    def live(self, req: Req) -> bool:
        """Whether some version within ``req``'s own specifier (and the constraints) fits the target and has every
        dependency live in turn: necessary for any solution that holds ``req``. Memoized per (identifier,
        specifier); a requirement met again while its own liveness is being decided (a cycle) counts as live, which
        prunes less but never wrongly. A dead one is recorded in ``dead`` with what each version needs."""
        key = _req_key(req)
        if key in self._live:
            return self._live[key]
        if key in self._checking:
            return True
        self._checking.add(key)
        try:
            blocked: list = []
            for version, dist in self._viable(req.name, [req]):
                blocker = self.dead_dependency(Cand(req.name, version, req.extras, dist))
                if blocker is None:
                    self._live[key] = True
                    return True
                if not blocked:
                    self._prefetch_older(req, version)
                blocked.append((version, blocker))
            self._live[key] = False
            self.dead[key] = (req, blocked)
            return False
        finally:
            self._checking.discard(key)

    def _prefetch_older(self, req: Req, below: Version, most: int = 200) -> None:
        """Start reading the metadata of older versions' fitting wheels in parallel: once a version of a requirement
        is dead, the older ones are read next, one by one, and are usually dead for the same reason."""
        for version, text in self.client.project_versions(req.name):
            if most <= 0:
                return
            if version >= below or not req.specifier.contains(version, prereleases=True):
                continue
            for dist in self.client.version_files(req.name, text):
                try:
                    fits = dist.filename.endswith(".whl") and any(
                        str(tag) in self.tag_rank for tag in parse_wheel_filename(dist.filename)[3])
                except InvalidWheelFilename:
                    fits = False
                if fits:
                    self.client.prefetch(dist)
                    most -= 1
                    break

    def dead_dependency(self, candidate: Cand) -> Req | None:
        """The first dependency of ``candidate`` that is not live, or None."""
        for dep in self.get_dependencies(candidate):
            if not self.live(dep):
                return dep
        return None

    # -- helpers ------------------------------------------------------------------------------------
    def _exact_versions(self, reqs) -> set:
        exact = set()
        for req in reqs:
            for spec in req.specifier:
                if spec.operator in ("==", "===") and "*" not in spec.version:
                    try:
                        exact.add(Version(spec.version))
                    except InvalidVersion:
                        pass
        return exact

    def _viable(self, name: str, reqs):
        """(version, best file) newest first, for the target, within every requirement's specifier; the version the
        lock prefers (if any) first."""
        versions = self.client.project_versions(name)
        preferred = self.prefer.get(name)
        if preferred is not None:
            first = [item for item in versions if item[1] == preferred]
            versions = first + [item for item in versions if item[1] != preferred]
        specifier = SpecifierSet()
        for req in reqs:
            specifier &= req.specifier
        if name in self.constraints:
            specifier &= self.constraints[name]
        exact = self._exact_versions(reqs)
        rejections = self.rejections.setdefault(name, {})
        # packaging's (and pip's) rule: prereleases when asked or named, or when nothing else matches.
        prereleases = True if self.wanted.allow_prereleases else specifier.prereleases
        if not prereleases and not any(specifier.contains(v, prereleases=False) for v, _t in versions):
            prereleases = True
        for version, text in versions:
            if not specifier.contains(version, prereleases=bool(prereleases)):
                continue
            key = (name, version, version in exact)
            if key not in self._best:
                self._best[key] = self._best_file(self.client.version_files(name, text), version in exact)
            dist, reason = self._best[key]
            if dist is None:
                rejections[str(version)] = reason
                continue
            yield version, dist

    def _best_file(self, dists, pinned_exactly: bool):
        """(file, None) for the version's best file for this target, or (None, why the version is skipped).

        A version is a candidate only with a wheel that fits, or an sdist this run builds into a pure wheel:
        otherwise the resolver moves on to older versions, as pip and uv do with binary-only resolution."""
        reasons, misfits = [], []
        best, best_rank, sdist = None, None, None
        for dist in dists:
            allowed = self.wanted.hashes.get(dist.project)
            if allowed is not None and (dist.sha256 or "").lower() not in allowed:
                reasons.append("its sha256 is not among the --hash values of the requirements file")
                continue
            if dist.yanked is not None and not pinned_exactly:
                reasons.append("yanked" + (" (%s)" % dist.yanked if dist.yanked else ""))
                continue
            reason = self._excluded_python(dist.requires_python)
            if reason:
                reasons.append(reason)
                continue
            if self.cutoff is not None and dist.upload_time:
                try:
                    uploaded = parse_time(dist.upload_time)
                except ValueError:  # an upload time the index wrote wrongly is no time
                    uploaded = None
                if uploaded is not None and uploaded >= self.cutoff:
                    reasons.append("uploaded %s, after the cut-off" % dist.upload_time)
                    continue
            if dist.filename.endswith(".whl"):
                try:
                    tags = parse_wheel_filename(dist.filename)[3]
                except InvalidWheelFilename:
                    continue
                ranks = [self.tag_rank[str(tag)] for tag in tags if str(tag) in self.tag_rank]
                if not ranks:
                    misfits.append(tags)
                    continue
                if best_rank is None or min(ranks) < best_rank:
                    best, best_rank = dist, min(ranks)
            elif sdist is None:
                sdist = dist
        if best is not None:
            # The index's requires-python may be missing; the wheel's own METADATA has the last word.
            reason = None if best.requires_python else self._excluded_python(self.client.metadata(best).requires_python,
                                                                             " (from its metadata)")
            return (best, None) if reason is None else (None, reason)
        misfit = self._misfit(misfits) if misfits else None
        if sdist is not None:
            if self.sdists is None:
                return None, "; ".join(filter(None, [misfit, "only an sdist, and pymigrate_build_sdists is off"]))
            compiled = any(tag.abi != "none" or tag.platform != "any" for tags in misfits for tag in tags)
            verdict = self.sdists.verdict(sdist, self.target, ships_platform_wheels=compiled)
            if verdict.wheel is not None or verdict.pending:
                metadata = verdict.metadata if verdict.pending else self.client.metadata(verdict.wheel)
                reason = self._excluded_python(metadata.requires_python, " (from its metadata)")
                if reason is None:
                    self.built[sdist.url] = verdict
                    return sdist, None
                return None, reason
            return None, "; ".join(filter(None, [misfit, verdict.reason]))
        if misfit:
            return None, misfit
        return None, sorted(set(reasons), key=reasons.index)[0] if reasons else "no usable file"

    def _excluded_python(self, requires_python: str | None, source: str = "") -> str | None:
        if not requires_python:
            return None
        try:
            if SpecifierSet(requires_python).contains(self.python, prereleases=True):
                return None
            return "requires Python %s%s" % (requires_python, source)
        except InvalidSpecifier:
            return "invalid requires-python %r%s" % (requires_python, source)

    def _misfit(self, wheel_tags: list) -> str:
        """Why no wheel fits, in the target's terms: 'no cp312 wheel' or 'only manylinux_2_28_x86_64 for a
        glibc 2.17 x86_64 target'."""
        python, platform = self.labels
        wanted_pairs = {tag.rsplit("-", 1)[0] for tag in self.target.tags}
        offered = [tag for tags in wheel_tags for tag in tags]
        same_python = sorted({tag.platform for tag in offered if "%s-%s" % (tag.interpreter, tag.abi) in wanted_pairs})
        if not same_python:
            pythons = sorted({"%s-%s" % (tag.interpreter, tag.abi) for tag in offered})
            return "no %s wheel (wheels for %s)" % (python, _short_list(pythons))
        return "no wheel for a %s target (only %s)%s" % (platform, _short_list(same_python),
                                                         _glibc_too_new(platform, same_python))

    def _metadata(self, candidate: Cand):
        dist = candidate.dist
        if not dist.filename.endswith(".whl"):
            verdict = self.built[dist.url]  # every sdist candidate was built, or its build planned, when it became one
            return verdict.metadata if verdict.pending else self.client.metadata(verdict.wheel)
        return self.client.metadata(dist)

    def _dependencies(self, candidate: Cand) -> list:
        self.explored += 1
        meta = self._metadata(candidate)
        deps = []
        if candidate.extras:
            # An extras candidate depends on its base at the same version, plus the extras' own deps.
            deps.append(Req(candidate.name, frozenset(), SpecifierSet("==%s" % candidate.version),
                            "%s==%s" % (candidate.name, candidate.version), candidate))
        for text in meta.requires_dist:
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                raise PyMigrateError("%s %s declares an invalid requirement %r"
                                     % (candidate.name, candidate.version, text))
            if requirement.url:
                raise PyMigrateError("%s %s depends on a direct URL (%s), which an offline bundle cannot carry"
                                     % (candidate.name, candidate.version, requirement.name))
            if not self._applies(requirement, candidate.extras):
                continue
            deps.append(_req(requirement, text, candidate))
        # Their pages will be needed next: fetch them in parallel while resolution goes on.
        self.client.prefetch_projects(dep.name for dep in deps)
        return deps

    def _applies(self, requirement: Requirement, extras: frozenset) -> bool:
        if requirement.marker is None:
            return not extras  # an extras candidate adds only what its extras bring
        env = dict(self.target.markers)
        base = requirement.marker.evaluate(dict(env, extra=""))
        if not extras:
            return base
        return not base and any(requirement.marker.evaluate(dict(env, extra=extra)) for extra in extras)


LEGACY_GLIBC = {"manylinux2014": (2, 17), "manylinux2010": (2, 12), "manylinux1": (2, 5)}


def _glibc_too_new(platform: str, offered: list) -> str:
    """", glibc too new: the oldest wheel needs glibc 2.28" when every wheel for the target's machine is a manylinux
    one for a newer glibc than the target's (``platform``: "glibc 2.17 x86_64"); else ""."""
    parts = platform.split()
    if len(parts) != 3 or parts[0] != "glibc":
        return ""
    have = tuple(int(number) for number in parts[1].split(".")[:2])
    needed = []
    for tag in offered:
        if not tag.endswith("_" + parts[2]):
            continue
        legacy = LEGACY_GLIBC.get(tag[:-len(parts[2]) - 1])
        fields = tag.split("_")
        if legacy is None and not (tag.startswith("manylinux_") and fields[1].isdigit() and fields[2].isdigit()):
            return ""
        needed.append(legacy or (int(fields[1]), int(fields[2])))
    if not needed or min(needed) <= have:
        return ""
    return ", glibc too new: the oldest wheel for %s needs glibc %d.%d" % ((parts[2],) + min(needed))


def _short_list(items: list, most: int = 6) -> str:
    return ", ".join(items[:most]) + (" and %d more" % (len(items) - most) if len(items) > most else "")


def target_labels(target: Target) -> tuple:
    """('cp312', 'glibc 2.17 x86_64'): the interpreter and platform of a target, as messages name them."""
    markers = target.markers
    python = interpreter_label(target)
    machine = markers.get("platform_machine", "")
    for tag in target.tags:
        platform = tag.rsplit("-", 1)[-1]
        for prefix, libc in (("manylinux_", "glibc"), ("musllinux_", "musl")):
            if platform.startswith(prefix):
                major, minor = platform[len(prefix):].split("_")[:2]
                return python, "%s %s.%s %s" % (libc, major, minor, machine)
    return python, (target.tags[0].rsplit("-", 1)[-1] if target.tags else machine)


def wanted_requirements(wanted: WantedSet, target: Target | None = None) -> list:
    """The wanted set as resolver requirements; one whose marker (from a requirements file) is false for the
    target is left out, as pip leaves it out on that interpreter."""
    reqs = []
    for text in wanted.requirements.values():
        requirement = Requirement(text)
        if requirement.marker is not None and target is not None and \
                not requirement.marker.evaluate(dict(target.markers, extra="")):
            continue
        reqs.append(_req(requirement, text, None))
    return reqs


def _describe(info) -> str:
    requirement = info.requirement
    if info.parent is None:
        return "%s (wanted in inventory)" % requirement.text
    return "%s (required by %s %s)" % (requirement.text, info.parent.name, info.parent.version)


def _offered_platforms(provider: _Provider, name: str, version: str) -> str:
    platforms = set()
    for dist in provider.client.project_files(name):
        if dist.filename.endswith(".whl") and dist.version == version:
            try:
                for tag in parse_wheel_filename(dist.filename)[3]:
                    platforms.add("%s-%s" % (tag.interpreter, tag.platform))
            except InvalidWheelFilename:
                continue
    return ", ".join(sorted(platforms)) or "no wheel at all"


def _leaf_message(provider: _Provider, req: Req) -> str:
    """Why no version within ``req`` fits the profile, from what the provider rejected and why."""
    name = req.name
    rejected = provider.rejections.get(name, {})
    matching = sorted(((Version(v), r) for v, r in rejected.items() if req.specifier.contains(v, prereleases=True)),
                      reverse=True)
    late = [version for version, reason in matching if reason.startswith("uploaded ")]
    if late and len(late) < len(matching):  # the reasons of the versions before the cut-off are the news
        earlier = [(version, reason) for version, reason in matching if not reason.startswith("uploaded ")]
        return "%s; %d newer versions were uploaded after the cut-off" % (_matching_text(provider, req, earlier),
                                                                          len(late))
    return _matching_text(provider, req, matching)


def _matching_text(provider: _Provider, req: Req, matching: list) -> str:
    name = req.name
    if len(matching) == 1 and matching[0][1].startswith("no "):
        version, reason = str(matching[0][0]), matching[0][1]
        return ("no wheel of %s %s fits this profile (%s); its best tags are %s; the index offers %s"
                % (name, version, reason, ", ".join(provider.target.tags[:3]),
                   _offered_platforms(provider, name, version)))
    if len(matching) == 1:
        return "%s %s cannot be used: %s" % (name, matching[0][0], matching[0][1])
    if matching:
        tried = "; ".join("%s: %s" % (versions, reason) for versions, reason in _grouped(matching)[:4])
        return ("no version of %s fits this profile (%s%s); newest tried: %s"
                % (name, _short_text(req), "" if len(matching) <= 4 else ", %d versions" % len(matching), tried))
    released = [text for _version, text in provider.client.project_versions(name)]
    return "no release of %s matches %s (the index has %s)" % (name, _short_text(req), _short_list(released, 4))


def _grouped(matching: list) -> list:
    """[(version, reason)] newest first -> [("1.9 to 1.0", reason)]: neighbours with the same reason said once."""
    groups: list = []
    for version, reason in matching:
        if groups and groups[-1][1] == reason:
            groups[-1][0].append(version)
        else:
            groups.append(([version], reason))
    return [(str(versions[0]) if len(versions) == 1 else "%s to %s" % (versions[0], versions[-1]), reason)
            for versions, reason in groups]


def _short_text(req: Req) -> str:
    """``cffi>=1.12`` for ``cffi>=1.12; platform_python_implementation != "PyPy"``: the marker was already met."""
    return "%s%s" % (req.identifier, req.specifier) if req.parent is not None else req.text


def _chains(provider: _Provider, root: Req) -> list:
    """The shortest chain of requirements (keys) from a dead ``root`` to each project that has no version fitting
    the profile at all, breadth first: each requirement once, each such project once."""
    start = _req_key(root)
    paths = {start: [start]}
    queue, leaves, named = [start], [], set()
    while queue:
        key = queue.pop(0)
        req, blocked = provider.dead[key]
        if not blocked:
            if req.name not in named:
                named.add(req.name)
                leaves.append(paths[key])
            continue
        for _version, blocker in blocked:
            following = _req_key(blocker)
            if following not in paths and following in provider.dead:
                paths[following] = paths[key] + [following]
                queue.append(following)
    return leaves


def _chain_text(provider: _Provider, chain: list) -> str:
    """``app==1.0 (wanted) -> mid>=2.0 (from app 1.0) -> leaf>=1.0 (from mid 2.9 and 9 older versions)``."""
    steps = []
    for position, key in enumerate(chain):
        req = provider.dead[key][0]
        if position == 0:
            who = "wanted" if req.parent is None else "from %s %s" % (req.parent.name, req.parent.version)
        else:
            previous = provider.dead[chain[position - 1]][1]
            versions = [version for version, blocker in previous if _req_key(blocker) == key]
            who = "from %s %s%s" % (provider.dead[chain[position - 1]][0].name, versions[0],
                                    " and %d older versions" % (len(versions) - 1) if len(versions) > 1 else "")
        steps.append("%s (%s)" % (_short_text(req), who))
    return " -> ".join(steps)


def _dead_message(provider: _Provider, root: Req) -> tuple:
    """(message, [project names]): each project that cannot fit, with why, then the chain that leads to it."""
    chains = _chains(provider, root)
    parts, names = [], []
    for chain in chains[:3]:
        leaf = provider.dead[chain[-1]][0]
        names.append(leaf.name)
        text = _leaf_message(provider, leaf)
        parts.append(text if len(chain) == 1 else "%s; needed through %s" % (text, _chain_text(provider, chain)))
    if len(chains) > 3:
        parts.append("and %d more projects that cannot fit" % (len(chains) - 3))
    return "; also ".join(parts), names


def _impossible_message(provider: _Provider, exc: ResolutionImpossible, roots: list) -> tuple:
    """(message, root-cause project names): projects that cannot fit the profile first (those of every wanted
    requirement, not only of the one resolvelib stopped at, so that one run names them all), then conflicts."""
    causes = list(exc.causes)
    dead = [cause.requirement for cause in causes if not provider.live(cause.requirement)]
    if dead:
        dead += [req for req in roots if not provider.live(req)]
        messages, names = [], []
        for key in dict.fromkeys(_req_key(req) for req in dead):
            message, found = _dead_message(provider, provider.dead[key][0])
            messages.append(message)
            names += [name for name in found if name not in names]
        return "; ".join(messages), names
    lines = []
    for name in sorted({cause.requirement.name for cause in causes}):
        described = dict.fromkeys(_describe(cause) for cause in causes if cause.requirement.name == name)
        lines.append("%s: %s" % (name, " conflicts with ".join(described)))
    return "; ".join(lines), []


def _too_deep_message(reporter: _Reporter, rounds: int, where: str) -> str:
    busiest = sorted(reporter.rejected.items(), key=lambda item: (-item[1], item[0]))[:4]
    exploring = ", ".join("%s (%d candidates rejected)" % item for item in busiest) or "no rejected candidate"
    return ("resolution%s did not finish within %d rounds; it was backtracking over %s; the last pins were %s"
            % (where, rounds, exploring, ", ".join(reporter.pinned) or "none"))


def resolve(target: Target, wanted: WantedSet, client, *, uploaded_prior_to=None, sdists=None,
            profile: str | None = None, prefer: t.Mapping[str, str] | None = None,
            max_rounds: int = MAX_ROUNDS) -> list:
    """Pins for one profile: exactly one version and one file per project, for this target. ``sdists``: the
    run's shared _build.SdistBuilder, or None to use wheels only. ``prefer`` ({normalized name: version}, a lock's
    pins): those versions first, while they fit. ``max_rounds``: resolvelib's limit, a last resort (pruning
    makes a set that cannot fit fail long before it)."""
    provider = _Provider(target, wanted, client, uploaded_prior_to, sdists, prefer)
    reporter = _Reporter()
    resolver = Resolver(provider, reporter)
    where = " for profile %s" % profile if profile else ""
    roots = wanted_requirements(wanted, target)
    try:
        result = resolver.resolve(roots, max_rounds=max_rounds)
    except ResolutionImpossible as exc:
        message, names = _impossible_message(provider, exc, roots)
        raise ResolutionFailed("cannot satisfy the wanted set%s: %s" % (where, message),
                               "Relax or change the pins named above, or choose another target for these hosts"
                               if names else "Relax or change the pins named above",
                               reporter.rounds, provider.explored, names) from None
    except ResolutionTooDeep:
        raise ResolutionFailed(_too_deep_message(reporter, max_rounds, where),
                               "Pin the projects named above more tightly", reporter.rounds,
                               provider.explored) from None
    required_by: dict[str, set] = {}
    for identifier, criterion in result.criteria.items():
        name = identifier.split("[")[0]
        for info in criterion.information:
            required_by.setdefault(name, set()).add(info.parent.name if info.parent else WANTED)
    pins: dict[str, Pin] = {}
    for identifier, cand in result.mapping.items():
        name, extras = cand.name, cand.extras
        verdict = provider.built.get(cand.dist.url)
        dist = verdict.wheel if verdict is not None and verdict.wheel is not None else cand.dist
        deps = tuple(sorted({dep.name for dep in provider.get_dependencies(cand)} - {name}))
        if name in pins:
            old = pins[name]
            pins[name] = dataclasses.replace(old, extras=tuple(sorted(set(old.extras) | extras)),
                                             dependencies=tuple(sorted(set(old.dependencies) | set(deps))))
            continue
        meta = client.metadata(dist) if dist.filename.endswith(".whl") else getattr(verdict, "metadata", None)
        pins[name] = Pin(name=name, version=str(cand.version), file=dist, extras=tuple(sorted(extras)),
                         dependencies=deps, required_by=tuple(sorted(required_by.get(name, set()) - {name})),
                         license=meta.license if meta else None,
                         license_expression=meta.license_expression if meta else None,
                         license_classifiers=license_classifiers(meta),
                         summary=meta.summary if meta else None, built_from_sdist=dist is not cand.dist,
                         built_from=verdict.built_from if verdict is not None else None)
    return [pins[name] for name in sorted(pins)]
