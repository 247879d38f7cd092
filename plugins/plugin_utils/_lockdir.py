# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lock directory (``pymigrate_lock_dir``, docs/lock-format.md): the desired state, kept in version control beside
the inventory, that says exactly what every host environment gets.

One PEP 751 ``pylock.<name>.toml`` per distinct (target, wanted set): its packages with the URL, size and hash of the
one file each, and in ``[tool.airgap-pymigrate]`` the environments (``host:env``) it is for and digests of the facts
and the wanted set it was resolved for; ``README.md`` says the same for people. The bundle build reads it before it
resolves (``plan``): a profile whose wanted set and target are those of a lock takes its pins as they are (the lock
*holds*); any other profile resolves with the versions of the lock it replaces preferred, so that a change moves only
what it requires. Names are stable: a lock keeps its name while its environments keep their wanted set's place, so
that ``git diff`` shows what changed and nothing else.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import write_atomic
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _lockfile
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._index import redact
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import DistFile, Pin, Profile, PyMigrateError

SUMMARY = "README.md"
BUNDLE_DIR = "lock"  # where a bundle (and so its signed archive) carries the lock it was built from
LOCK_FILE = re.compile(r"^pylock\.([^.]+)\.toml$")  # PEP 751: pylock.<name>.toml, the name without dots
MODES = ("update", "frozen", "ignore")
TOOL = "airgap-pymigrate"


@dataclasses.dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    filename: str
    url: str
    sha256: str
    size: int | None = None
    upload_time: str | None = None
    dependencies: tuple = ()
    built_from: dict | None = dataclasses.field(default=None, compare=False, hash=False)


@dataclasses.dataclass(frozen=True)
class Lock:
    """One lock file of the lock directory, as read (or about to be written)."""

    name: str
    members: tuple            # ("host:env", ...) sorted
    target: str               # digest of the target facts it was resolved for
    inputs: str               # digest of the wanted set (and the image carrier) it was resolved for
    packages: t.Mapping[str, LockedPackage]
    installer: LockedPackage | None = None
    # What it says of itself, for people and for PEP 751 installers: written back as read.
    environment: str = ""     # PEP 751 environments marker
    requires_python: str = ""
    python: str = ""          # the full version surveyed (or declared)
    platform: str = ""
    requirements: tuple = ()
    constraints: tuple = ()

    @property
    def filename(self) -> str:
        return "pylock.%s.toml" % self.name

    def versions(self) -> dict:
        return {name: package.version for name, package in self.packages.items()}

    def preferences(self) -> dict:
        """The versions a resolution prefers from this lock: its packages' and its installer's."""
        installer = {self.installer.name: self.installer.version} if self.installer else {}
        return dict(self.versions(), **installer)

    def hosts(self) -> set:
        return {member.split(":", 1)[0] for member in self.members}


@dataclasses.dataclass(frozen=True)
class LockPlan:
    """What the build does with one profile: the lock name it writes, the lock that holds for it (its pins are
    taken as they are) or the versions it prefers while it resolves, and the lock it replaces (for the diff)."""

    name: str
    holds: Lock | None
    prefer: t.Mapping[str, str]
    replaces: Lock | None
    inputs: str = ""  # what a lock written for it records as its inputs (``inputs_digest`` with the installer asked)


# -- digests and names ------------------------------------------------------------------------------------------
def _digest(value: t.Any) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(value, sort_keys=True, default=list).encode()).hexdigest()


def target_digest(profile: Profile) -> str:
    return _digest(profile.target.key())


def inputs_digest(profile: Profile, installer: str = "pip") -> str:
    """The digest of what the profile's lock is made from: its wanted set and carrier and, when uv is asked for it,
    that (pip, the default, adds nothing: the digest of locks written before the installer counted stays)."""
    asked = [["installer", "uv"]] if uv_asked(profile, installer) else []
    return _digest([profile.wanted.key(), sorted((profile.carrier or {}).items())] + asked)


def uv_asked(profile: Profile, installer: str) -> bool:
    """Whether the build asks uv for the profile (an image's carrier always installs with pip)."""
    return installer == "uv" and not profile.carrier


def made_for(lock: Lock, profile: Profile, installer: str) -> bool:
    """Whether the lock was made for the profile's wanted set and the installer asked: a switch of
    pymigrate_installer in the inventory changes the lock (its installer only, the versions preferred)."""
    if uv_asked(profile, installer) and lock.inputs == inputs_digest(profile, installer):
        return True  # made while uv was asked: uv, or pip where no uv wheel fits the target
    # Made while pip was asked (or before the installer counted): it holds when its installer is the one asked.
    installer_name = lock.installer.name if lock.installer is not None else ""
    return lock.inputs == inputs_digest(profile) and (installer_name == "uv") == uv_asked(profile, installer)


def label(profile: Profile) -> str:
    """The lock's readable name: its environments' names, then the profile's interpreter and platform."""
    envs = sorted({member.split(":", 1)[1] for member in profile.members})
    kind = profile.name.rsplit("-", 1)[0]  # the profile name without its digest
    return re.sub(r"[^A-Za-z0-9_+-]", "_", "%s-%s" % ("+".join(envs), kind))


DEFAULT_NAME = ".pymigrate-lock"


def default_dir(inventory_sources: t.Sequence[str]) -> str:
    """``.pymigrate-lock`` in the directory of the first inventory source (the source itself when it is a directory:
    Ansible skips hidden entries of an inventory directory, so the locks are never read as inventory)."""
    source = os.path.abspath(os.path.expanduser(str(inventory_sources[0]))) if inventory_sources else ""
    if not source or not os.path.exists(source):
        raise PyMigrateError("the inventory (%s) is no file or directory to keep the lock beside"
                             % (inventory_sources[0] if inventory_sources else "none"), var="pymigrate_lock_dir",
                             hint="Set pymigrate_lock_dir to a folder kept in version control with the inventory, or "
                                  "pymigrate_lock_mode: ignore")
    return os.path.join(source if os.path.isdir(source) else os.path.dirname(source), DEFAULT_NAME)


# -- reading ----------------------------------------------------------------------------------------------------
def _toml():
    try:
        import tomllib  # pylint: disable=import-outside-toplevel
    except ImportError:  # Python < 3.11 on the control node
        try:
            import tomli as tomllib  # type: ignore[no-redef]  # pylint: disable=import-outside-toplevel
        except ImportError:
            raise PyMigrateError("reading the lock needs Python 3.11 or newer on the control node, or tomli",
                                 var="pymigrate_lock_dir", hint="pip install tomli, or set pymigrate_lock_mode: ignore")
    return tomllib


def validate(text: str, where: str) -> dict:
    """The TOML document of a lock, checked as PEP 751 by packaging.pylock; errors name the file."""
    try:
        document = _toml().loads(text)
    except ValueError as exc:
        raise PyMigrateError("%s is not valid TOML: %s" % (where, exc), var="pymigrate_lock_dir",
                             hint="Restore it from version control, or delete it to lock anew")
    try:
        from packaging.pylock import Pylock, PylockValidationError  # pylint: disable=import-outside-toplevel
    except ImportError:  # packaging older than 25.1: no validator, the reader below still checks what it uses
        return document
    try:
        Pylock.from_dict(document)
    except PylockValidationError as exc:
        raise PyMigrateError("%s is not a valid PEP 751 lock: %s" % (where, exc), var="pymigrate_lock_dir",
                             hint="Restore it from version control, or delete it to lock anew")
    return document


def _package(entry: t.Mapping, where: str) -> LockedPackage:
    files = entry.get("wheels") or ([entry["sdist"]] if entry.get("sdist") else [])
    if len(files) != 1 or not (files[0].get("hashes") or {}).get("sha256"):
        raise PyMigrateError("%s: package %s must name exactly one file with a sha256" % (where, entry.get("name")),
                             var="pymigrate_lock_dir", hint="Restore it from version control, or delete it")
    found = files[0]
    uploaded = found.get("upload-time")
    built = (entry.get("tool") or {}).get(TOOL, {}).get("built-from")
    return LockedPackage(
        name=entry["name"], version=str(entry["version"]),
        filename=found.get("name") or str(found.get("url") or found.get("path")).rsplit("/", 1)[-1],
        url=found.get("url") or found.get("path"), sha256=found["hashes"]["sha256"], size=found.get("size"),
        upload_time=_lockfile.format_upload_time(uploaded) if uploaded is not None else None,
        dependencies=tuple(sorted(dep["name"] for dep in entry.get("dependencies") or [])),
        built_from={k.replace("-", "_"): v for k, v in built.items()} if built else None)


def parse(name: str, text: str, where: str) -> Lock:
    document = validate(text, where)
    tool = (document.get("tool") or {}).get(TOOL) or {}
    missing = [key for key in ("environments", "target", "inputs") if key not in tool]
    if missing:
        raise PyMigrateError("%s lacks [tool.%s] %s: it was not written by this collection" % (
            where, TOOL, ", ".join(missing)), var="pymigrate_lock_dir",
            hint="Keep only locks this collection wrote in the lock directory")
    installer = tool.get("installer")
    return Lock(name=name, members=tuple(sorted(tool["environments"])), target=tool["target"], inputs=tool["inputs"],
                packages={entry["name"]: _package(entry, where) for entry in document.get("packages") or []},
                installer=_package(installer, where) if installer else None,
                environment=(document.get("environments") or [""])[0],
                requires_python=document.get("requires-python", ""),
                python=tool.get("python", ""), platform=tool.get("platform", ""),
                requirements=tuple(tool.get("requirements") or ()), constraints=tuple(tool.get("constraints") or ()))


def read(lock_dir: str) -> dict:
    """{name: Lock} of every lock in the directory ({} when it does not exist yet)."""
    locks: dict = {}
    if not os.path.isdir(lock_dir):
        return locks
    for filename in sorted(os.listdir(lock_dir)):
        match = LOCK_FILE.match(filename)
        if match:
            path = os.path.join(lock_dir, filename)
            with open(path, encoding="utf-8") as handle:
                locks[match.group(1)] = parse(match.group(1), handle.read(), path)
    return locks


# -- planning ---------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Upgrade:
    """Which projects move on purpose (pymigrate_upgrade): every one, the named ones, or none."""

    everything: bool = False
    names: frozenset = frozenset()

    def __call__(self, name: str) -> bool:
        return self.everything or name in self.names


def upgrade_names(value: t.Any) -> Upgrade:
    """pymigrate_upgrade (``all``, a list of project names or their comma-separated text, or nothing)."""
    if value in (None, "", [], False):
        return Upgrade()
    if value == "all" or value is True:
        return Upgrade(everything=True)
    from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import (  # pylint: disable=C0415
        canonicalize_name,
    )
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) and item.strip() for item in items):
        raise PyMigrateError("must be all, or a list of project names", var="pymigrate_upgrade", value=value)
    return Upgrade(names=frozenset(canonicalize_name(item.strip()) for item in items))


def plan(profiles: t.Sequence[Profile], locks: t.Mapping[str, Lock], keep_hosts: t.Iterable[str] = (),
         upgrade: Upgrade = Upgrade(), installer: str = "pip") -> dict:
    """{profile name: LockPlan}. A lock holds for a profile of the same target, wanted set and installer asked
    (``made_for``) unless the upgrade names one of its projects. Any other profile prefers the versions of the lock
    most of its environments had (else of the locks of the same environment names), less those upgraded, and takes
    that lock's name unless the lock keeps environments of hosts outside this run."""
    kept = set(keep_hosts)
    claimed: dict = {}
    plans: dict = {}
    for profile in profiles:
        lock = next((lock for lock in locks.values() if lock.target == target_digest(profile)
                     and made_for(lock, profile, installer)), None)
        if lock is not None and _can_hold(lock) and not any(upgrade(name) for name in lock.versions()) \
                and not upgrade(t.cast(LockedPackage, lock.installer).name):
            plans[profile.name] = LockPlan(lock.name, lock, {}, lock, inputs_digest(profile, installer))
            claimed[lock.name] = profile.name
    persisting = {lock.name for lock in locks.values() if lock.hosts() & kept}
    for profile in sorted((p for p in profiles if p.name not in plans), key=lambda p: (-len(p.members), p.name)):
        source = _preferred_source(profile, locks)
        prefer: dict[str, str] = {}
        for lock in source:
            for name, version in lock.preferences().items():
                if not upgrade(name):
                    prefer.setdefault(name, version)
        replaces = source[0] if source and set(source[0].members) & set(profile.members) else None
        # The lock it replaces keeps its name when it was for the same kind of target (a patch release of Python may
        # have moved), so that its diff shows what changed.
        if replaces is not None and replaces.name not in claimed and replaces.name not in persisting \
                and (replaces.target == target_digest(profile) or replaces.name.startswith(label(profile))):
            name = replaces.name
        else:
            name = _free_name(label(profile), set(claimed) | persisting)
        claimed[name] = profile.name
        plans[profile.name] = LockPlan(name, None, prefer, replaces, inputs_digest(profile, installer))
    return plans


def _can_hold(lock: Lock) -> bool:
    """A lock's pins are taken as they are only when it names the installer and every package is a wheel (an sdist
    for a builder host is planned by a resolution)."""
    return lock.installer is not None and all(package.filename.endswith(".whl") for package in lock.packages.values())


def _preferred_source(profile: Profile, locks: t.Mapping[str, Lock]) -> list:
    """The locks whose versions a profile that does not hold prefers, best first: the lock that held most of its
    environments, then the other locks of its environment names (a new host, another Python or platform)."""
    members = set(profile.members)
    envs = {member.split(":", 1)[1] for member in members}

    def rank(lock):
        same_env = bool(envs & {member.split(":", 1)[1] for member in lock.members})
        return (-len(members & set(lock.members)), not same_env, lock.target != target_digest(profile),
                -len(lock.members), lock.name)
    ranked = sorted(locks.values(), key=rank)
    return [lock for lock in ranked if members & set(lock.members)
            or envs & {member.split(":", 1)[1] for member in lock.members}]


def _free_name(base: str, taken: set) -> str:
    if base not in taken:
        return base
    number = 2
    while "%s-%d" % (base, number) in taken:
        number += 1
    return "%s-%d" % (base, number)


# -- pins from a lock that holds ----------------------------------------------------------------------------------
def _dist(package: LockedPackage) -> DistFile:
    return DistFile(project=package.name, version=package.version, filename=package.filename, url=package.url,
                    sha256=package.sha256, size=package.size, upload_time=package.upload_time)


def locked_pins(lock: Lock, wanted_names: t.Iterable[str]) -> tuple:
    """(pins, installer pin) of a lock that holds, as resolution would give them (metadata comes later)."""
    required_by: dict = {name: {"<wanted>"} for name in wanted_names if name in lock.packages}
    for package in lock.packages.values():
        for dep in package.dependencies:
            required_by.setdefault(dep, set()).add(package.name)
    pins = [Pin(name=package.name, version=package.version, file=_dist(package), dependencies=package.dependencies,
                required_by=tuple(sorted(required_by.get(package.name, ()))), built_from=package.built_from,
                built_from_sdist=package.built_from is not None)
            for _name, package in sorted(lock.packages.items())]
    installer = lock.installer
    return pins, (Pin(name=installer.name, version=installer.version, file=_dist(installer))
                  if installer is not None else None)


# -- writing ----------------------------------------------------------------------------------------------------
def _locked(pin: Pin) -> LockedPackage:
    return LockedPackage(name=pin.name, version=pin.version, filename=pin.file.filename, url=redact(pin.file.url),
                         sha256=str(pin.file.sha256), size=pin.file.size, upload_time=pin.file.upload_time,
                         dependencies=tuple(pin.dependencies), built_from=pin.built_from)


def new_lock(name: str, profile: Profile, pins: t.Sequence[Pin], installer: Pin | None,
             members: t.Iterable[str], inputs: str = "") -> Lock:
    return Lock(name=name, members=tuple(sorted(set(members))), target=target_digest(profile),
                inputs=inputs or inputs_digest(profile), packages={pin.name: _locked(pin) for pin in pins},
                installer=_locked(installer) if installer is not None else None,
                environment=_lockfile.environment_marker(profile), requires_python=_lockfile.requires_python(profile),
                python=profile.target.markers.get("python_full_version", ""), platform=profile.name.rsplit("-", 1)[0],
                requirements=tuple(sorted(profile.wanted.requirements.values())),
                constraints=tuple("%s%s" % item for item in sorted(profile.wanted.constraints.items())))


def render(lock: Lock) -> str:
    """The lock file's text: PEP 751, every file by its URL (the lock directory holds no files), stable order, so
    that what is read and written again is the same text."""
    lines = ["# airgap.pymigrate lock: exactly what the environments below get. It changes when the inventory",
             "# changes or pymigrate_upgrade asks; do not edit it by hand (docs/lock-format.md)."]
    lines += _lockfile.header_lines(lock.environment, lock.requires_python)
    for _name, package in sorted(lock.packages.items()):
        lines += _lockfile.package_lines(_pin_of(package), {"url": package.url})
    table = {"environments": list(lock.members), "target": lock.target, "inputs": lock.inputs, "python": lock.python,
             "platform": lock.platform, "requirements": list(lock.requirements), "constraints": list(lock.constraints)}
    lines.append("[tool.%s]" % TOOL)
    lines += ["%s = %s" % (key, _lockfile.toml_value(value)) for key, value in table.items()]
    if lock.installer is not None:
        installer = lock.installer
        wheel = _lockfile.file_entry(_pin_of(installer), {"url": installer.url})
        lines += ["", "[tool.%s.installer]" % TOOL, "name = %s" % _lockfile.toml_value(installer.name),
                  "version = %s" % _lockfile.toml_value(installer.version),
                  "wheels = [%s]" % _lockfile.toml_value(wheel)]
    return "\n".join(lines) + "\n"


def relocated(lock: Lock, urls: t.Mapping[str, str]) -> Lock:
    """The same lock with every file (and the installer's) by another URL, ``urls`` {sha256: URL}: the lock an inside
    mirror serves (_mirror.py), whose files are the same bytes at the mirror's addresses."""
    installer = lock.installer
    return dataclasses.replace(
        lock, packages={name: dataclasses.replace(package, url=urls[package.sha256])
                        for name, package in lock.packages.items()},
        installer=dataclasses.replace(installer, url=urls[installer.sha256]) if installer is not None else None)


def _pin_of(package: LockedPackage) -> Pin:
    return Pin(name=package.name, version=package.version, file=_dist(package), dependencies=package.dependencies,
               built_from=package.built_from)


def summary(locks: t.Iterable[Lock]) -> str:
    """README.md of the lock directory: what each environment gets, for people."""
    lines = ["# Python package lock", "",
             "Written by airgap.pymigrate (docs/lock-format.md); keep it in version control with the inventory.",
             "Each `pylock.<name>.toml` below is a PEP 751 lock: exactly what its environments get.", ""]
    for lock in sorted(locks, key=lambda item: item.name):
        lines += ["## %s" % lock.filename, "",
                  "Python %s, %s; %d environment(s): %s"
                  % (lock.python, lock.platform, len(lock.members), ", ".join(lock.members)),
                  "", "| project | version |", "|---|---|"]
        lines += ["| %s | %s |" % (name, package.version) for name, package in sorted(lock.packages.items())]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def changes(before: t.Mapping[str, Lock], after: t.Mapping[str, Lock]) -> dict:
    """{"host:env": {added, removed, upgraded, downgraded}} for every environment whose locked versions differ
    (an environment new to the lock has everything added; one that left it, everything removed)."""
    def by_member(locks):
        return {member: lock.versions() for lock in locks.values() for member in lock.members}
    old, new = by_member(before), by_member(after)
    result = {}
    for member in sorted(set(old) | set(new)):
        diff = _lockfile.diff_pins(old.get(member, {}), new.get(member, {}))
        if any(diff.values()):
            result[member] = diff
    return result


def check_writable(lock_dir: str) -> None:
    """pymigrate_lock_mode update writes the lock: say so before anything is done when it cannot."""
    where = lock_dir if os.path.isdir(lock_dir) else os.path.dirname(os.path.abspath(lock_dir))
    while not os.path.exists(where):
        where = os.path.dirname(where)
    if not os.access(where, os.W_OK | os.X_OK):
        raise PyMigrateError("the lock directory %s cannot be written here (%s is read-only for this user)"
                             % (lock_dir, where), var="pymigrate_lock_dir", value=lock_dir,
                             hint="Point pymigrate_lock_dir at a writable checkout, or use pymigrate_lock_mode frozen "
                                  "where the lock is only read (scheduled jobs)")


def write(lock_dir: str, texts: t.Mapping[str, str]) -> list:
    """Write the lock directory's files whose text changed and remove the locks no longer written; the names
    changed."""
    os.makedirs(lock_dir, exist_ok=True)
    changed = []
    for filename, text in sorted(texts.items()):
        path = os.path.join(lock_dir, filename)
        if _read(path) != text:
            write_atomic(path, text.encode("utf-8"))
            changed.append(filename)
    for filename in sorted(os.listdir(lock_dir)):
        if LOCK_FILE.match(filename) and filename not in texts:
            os.unlink(os.path.join(lock_dir, filename))
            changed.append(filename)
    return changed


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


# -- after resolution ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LockOutcome:
    """The lock directory as this build leaves it: its locks, their files' texts (with README.md), what changed
    per environment, which files differ from what is on disk, and each profile's lock name."""

    locks: t.Mapping[str, Lock]
    texts: t.Mapping[str, str]
    changes: t.Mapping[str, dict]
    changed_files: t.Sequence[str]
    profile_locks: t.Mapping[str, str]
    held: t.Sequence[str]


def assemble(plans: t.Mapping[str, LockPlan], profiles: t.Sequence[Profile], resolved: t.Mapping,
             existing: t.Mapping[str, Lock], keep_hosts: t.Iterable[str], lock_dir: str) -> LockOutcome:
    """The locks after this build: one per profile (``resolved``: {profile name: (pins, installer pin)}), the
    environments of hosts outside this run kept where they were."""
    kept = set(keep_hosts)
    locks: dict = {}
    for profile in profiles:
        item = plans[profile.name]
        if item.holds is not None:  # as read; its environments of hosts outside the run stay in it
            staying = {member for member in item.holds.members if member.split(":", 1)[0] in kept}
            locks[item.name] = dataclasses.replace(item.holds, members=tuple(sorted(staying | set(profile.members))))
        else:
            pins, installer = resolved[profile.name]
            locks[item.name] = new_lock(item.name, profile, pins, installer, profile.members, item.inputs)
    for name, lock in existing.items():
        if name in locks:
            continue
        remaining = tuple(member for member in lock.members if member.split(":", 1)[0] in kept)
        if remaining:
            locks[name] = dataclasses.replace(lock, members=remaining)
    texts = {lock.filename: render(lock) for lock in locks.values()}
    texts[SUMMARY] = summary(locks.values())
    changed = sorted(name for name, text in texts.items() if _read(os.path.join(lock_dir, name)) != text)
    changed += sorted(lock.filename for name, lock in existing.items() if name not in locks)
    changed.sort(key=lambda name: (name == SUMMARY, name))  # the locks first, their summary last
    return LockOutcome(locks=locks, texts=texts, changes=changes(existing, locks), changed_files=changed,
                       profile_locks={profile.name: plans[profile.name].name for profile in profiles},
                       held=sorted(item.name for item in plans.values() if item.holds is not None))


def describe_changes(outcome: LockOutcome, most: int = 20) -> list:
    """Lines that name each environment whose versions change, and each lock file that changes otherwise."""
    lines = []
    for member, diff in sorted(outcome.changes.items()):
        parts = [("+" + item) for item in diff["added"]] + [("-" + item) for item in diff["removed"]]
        parts += diff["upgraded"] + diff["downgraded"]
        lines.append("%s: %s" % (member, ", ".join(parts)))
    if not lines and outcome.changed_files:
        lines.append("no version changes; lock file(s) to rewrite (environments or the wanted set they record): %s"
                     % ", ".join(outcome.changed_files))
    return lines[:most] + (["... and %d more" % (len(lines) - most)] if len(lines) > most else [])


def refuse_changes(outcome: LockOutcome, lock_dir: str) -> None:
    """pymigrate_lock_mode frozen: any change to the lock fails the build, naming what would change."""
    if not [name for name in outcome.changed_files if LOCK_FILE.match(name)]:
        return  # (README.md is the lock's summary for people: not the lock)
    raise PyMigrateError("the lock in %s would change (pymigrate_lock_mode frozen): %s"
                         % (lock_dir, "; ".join(describe_changes(outcome))), var="pymigrate_lock_mode",
                         value="frozen", hint="Update the lock where it is reviewed (playbooks/lock.yml, then commit "
                                              "it), or revert the inventory change")


def file_diffs(outcome: LockOutcome, lock_dir: str) -> list:
    """Ansible diffs (before/after text) of each lock file that changes, for --diff."""
    diffs = []
    for name in outcome.changed_files:
        path = os.path.join(lock_dir, name)
        diffs.append({"before": _read(path) or "", "after": outcome.texts.get(name, ""),
                      "before_header": path, "after_header": path})
    return diffs


# -- across the gap -----------------------------------------------------------------------------------------------
def compare(carried_dir: str, lock_dir: str) -> dict:
    """How the lock a bundle carries (``carried_dir``: its ``lock/``) differs from the lock an inventory holds
    (``lock_dir``), per environment: {"same", "changes" (as ``changes``: carried -> inventory's), "only_carried",
    "only_inventory", "lines"}. Inside the gap this says whether what was deployed is what the inside inventory's
    reviewed lock says."""
    carried, held = read(carried_dir), read(lock_dir)
    by_member = {member: lock for lock in carried.values() for member in lock.members}
    held_members = {member for lock in held.values() for member in lock.members}
    differences = changes(carried, held)
    only_carried = sorted(set(by_member) - held_members)
    only_inventory = sorted(held_members - set(by_member))
    lines = ["%s: from the bundle's lock to the inventory's: %s" % (member, ", ".join(
        [("+" + item) for item in diff["added"]] + [("-" + item) for item in diff["removed"]]
        + diff["upgraded"] + diff["downgraded"])) for member, diff in sorted(differences.items())
        if member not in only_carried and member not in only_inventory]
    lines += ["%s: in the bundle's lock only" % member for member in only_carried]
    lines += ["%s: in the inventory's lock only" % member for member in only_inventory]
    return {"same": not lines, "changes": {member: diff for member, diff in differences.items()
                                           if member not in only_carried and member not in only_inventory},
            "only_carried": only_carried, "only_inventory": only_inventory, "lines": lines}
