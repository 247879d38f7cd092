# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 3, sdist-only releases: decide before building whether an sdist can be built here, and build each
pure one once per run for every profile.

The control node builds only pure-Python wheels (``*-none-any``): a compiled wheel built here would be for the
control node's interpreter, not the target's. An sdist is read before any build: C, C++, Cython, Fortran or Rust
sources, a ``setup.py`` with ``ext_modules`` or a compiling build backend mark it platform-specific, and it is
never compiled here (the resolver then falls back to an older release). The built wheel is still checked after
the build. Each sdist is fetched, inspected and built once per run, whichever profiles ask (single-flight), with
build dependencies from the bundle's own indexes, as wheels only, within a time limit; the build log goes to a
file whose path the error names.

An sdist that compiles is built on a *builder host* whose facts equal the profile's target (``pymigrate_builders``):
a first pass resolves with the sdist's own metadata (PKG-INFO, when PEP 643 says its dependencies are static) and
lists the builds it needs (``pending``); the role runs them on the builders (the ``sdist_build`` action), which
record each wheel under ``built/<sdist sha256>.json`` beside the store; the second pass takes those wheels.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import typing as t
import urllib.parse
import zipfile

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import (
    FileLock,
    file_sha256,
    store_relpath,
    write_atomic,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _sandbox
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._fetch import fetch_all, store_path
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._index import parse_metadata
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import (
    Requirement,
    canonicalize_name,
    default_environment,
    parse_email,
    parse_wheel_filename,
    sys_tags,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import (
    DistFile,
    PyMigrateError,
    Target,
    WantedSet,
    format_time,
    utc_now,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._resolve import resolve

DEFAULT_BUILD_TIMEOUT = 600
COMPILED_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".pyx", ".f", ".f90", ".rs", ".cu")
# Build backends and build requirements that exist to compile code.
COMPILING_BACKENDS = ("mesonpy", "scikit_build_core", "maturin", "enscons", "cmeel", "py_build_cmake")
COMPILING_BUILD_REQUIRES = ("cython", "pybind11", "nanobind", "setuptools-rust", "cffi", "maturin", "meson-python",
                            "scikit-build", "scikit-build-core", "numpy", "oldest-supported-numpy", "cmake", "ninja")
_REQUIRES = re.compile(r"^\s*requires\s*=\s*\[(.*?)\]", re.S | re.M)
_BACKEND = re.compile(r"""^\s*build-backend\s*=\s*["']([^"']+)["']""", re.M)


BUILT_DIR = "built"
DEFAULT_BUILD_REQUIRES = ("setuptools>=40.8.0", "wheel")  # PEP 518's default for an sdist without [build-system]


@dataclasses.dataclass(frozen=True)
class SdistVerdict:
    """What an sdist gives a target: ``wheel`` (built here or on a builder, ``built_from`` says where), or a build
    still ``pending`` on a builder (resolution goes on with ``metadata`` from PKG-INFO), or ``reason`` why neither."""

    wheel: DistFile | None = None
    reason: str | None = None
    compiles: bool = False
    pending: bool = False
    metadata: t.Any = None
    built_from: dict | None = None


@dataclasses.dataclass(frozen=True)
class Builder:
    """A host that may compile for the profiles whose target equals its own facts."""

    host: str
    python: str


@dataclasses.dataclass(frozen=True)
class BuilderInput:
    """A builder host as the inventory names it: its facts' target and interpreter, and the profile it was named
    for (``pymigrate_builders`` as a map), if any."""

    host: str
    target: t.Any
    python: str
    profile: str | None = None


def match_builders(builders: t.Sequence[BuilderInput], profiles: t.Sequence) -> dict:
    """{Target.key(): Builder}: each builder serves the profiles whose target equals its own facts."""
    by_name = {profile.name: profile for profile in profiles}
    matched: dict = {}
    for item in builders:
        if item.profile is not None:
            profile = by_name.get(item.profile)
            if profile is None:
                raise PyMigrateError("no profile of this run is named %s" % item.profile, var="pymigrate_builders",
                                     value={item.profile: item.host},
                                     hint="The profiles are: %s" % ", ".join(sorted(by_name)))
            if profile.target.key() != item.target.key():
                raise PyMigrateError("builder %s cannot build for profile %s: its own facts (interpreter, ABI, "
                                     "platform) differ from the profile's target" % (item.host, item.profile),
                                     host=item.host, var="pymigrate_builders", value={item.profile: item.host},
                                     hint="Name a builder host with the same Python and platform as the profile")
        matched.setdefault(item.target.key(), Builder(item.host, item.python))
    return matched


def plan_builds(pending: t.Mapping, client, bundle_dir: str, *, check_mode: bool) -> list:
    """What each builder host needs for each pending build: the sdist, its build requirements resolved as wheels
    for the builder's own target, and a pip wheel to run (builders need no pip of their own). Fetched into the
    bundle's store, except in check mode."""
    builds = []
    for (_sha256, _host), (entry, target) in sorted(pending.items(), key=lambda item: item[0]):
        build = dict(entry)
        requested: dict[str, str] = {canonicalize_name(Requirement(text).name): text
                                     for text in entry["build_requires"]}
        wanted = dict({"pip": "pip"}, **requested)
        try:
            pins = resolve(target, WantedSet(wanted), client, profile="builder %s" % entry["builder"])
        except PyMigrateError as exc:
            raise PyMigrateError("cannot resolve the build requirements of %s (%s) for builder %s: %s"
                                 % (entry["filename"], ", ".join(entry["build_requires"]) or "none", entry["builder"],
                                    exc.message), host=entry["builder"], var="pymigrate_builders")
        paths = {pin.name: store_relpath(pin.file.sha256, pin.file.filename) for pin in pins}
        build["pip"] = paths["pip"]
        build["build_files"] = sorted(path for name, path in paths.items() if name != "pip" or "pip" in requested)
        # Without build requirements there is nothing to isolate the build from.
        build["isolated"] = bool(entry["build_requires"])
        build["dists"] = [pin.file for pin in pins]  # their manifest records, for a manifest that carries the build
        build["target_key"] = target.key()
        if not check_mode:
            fetch_all([p.file for p in pins], bundle_dir, client)
        builds.append(build)
    return builds


def controller_target() -> Target:
    """The control node's own interpreter as a target: what a build here runs its build requirements on."""
    markers = {str(key): str(value) for key, value in default_environment().items()}
    return Target(markers=markers, tags=tuple(str(tag) for tag in sys_tags()), source="controller")


def _build_env(home: str, deps_dir: str) -> dict:
    """All the environment a build gets: no index (its requirements are in ``deps_dir``, fetched before by the run's
    client, which alone holds the index credentials), no configuration, a home of its own."""
    return {"PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INPUT": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1", "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": deps_dir, "PIP_ONLY_BINARY": ":all:"}


def _sdist_members(path: str) -> tuple:
    """(member names without the top directory, {name: text} of its PKG-INFO, pyproject.toml and setup.py)."""
    names, texts = [], {}
    wanted = ("PKG-INFO", "pyproject.toml", "setup.py")
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                inner = name.split("/", 1)[1] if "/" in name else name
                names.append(inner)
                if inner in wanted:
                    texts[inner] = archive.read(name).decode("utf-8", "replace")
        return names, texts
    with tarfile.open(path) as archive:
        for member in archive:
            inner = member.name.split("/", 1)[1] if "/" in member.name else member.name
            names.append(inner)
            if inner in wanted and member.isfile():
                handle = archive.extractfile(member)
                if handle is not None:
                    texts[inner] = handle.read().decode("utf-8", "replace")
    return names, texts


def _build_system(pyproject: str) -> str:
    """The text of pyproject.toml's [build-system] table (read without a TOML parser: the control node may run a
    Python without tomllib), so that other tables' keys are never taken for its own."""
    match = re.search(r"^\[build-system\][ \t]*$(.*?)(?=^\[)", pyproject + "\n[", re.S | re.M)
    return match.group(1) if match else ""


def build_requires(path: str) -> tuple:
    """The sdist's ``[build-system] requires`` (PEP 518), or the default when it has none."""
    _names, texts = _sdist_members(path)
    match = _REQUIRES.search(_build_system(texts.get("pyproject.toml", "")))
    if not match:
        return DEFAULT_BUILD_REQUIRES
    return tuple(re.findall(r"""["']([^"']+)["']""", match.group(1)))


def static_metadata(path: str):
    """Core metadata from the sdist's PKG-INFO when PEP 643 makes its dependencies trustworthy (Metadata-Version
    2.2 or later, Requires-Dist and Requires-Python not Dynamic); else None."""
    try:
        data = _sdist_members(path)[1].get("PKG-INFO")
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError):
        return None
    if not data:
        return None
    raw, _unparsed = parse_email(data)
    version = tuple(int(part) for part in re.findall(r"\d+", raw.get("metadata_version", "0"))[:2])
    dynamic = {field.lower() for field in raw.get("dynamic", [])}
    if version < (2, 2) or {"requires-dist", "requires-python"} & dynamic:
        return None
    return parse_metadata(data.encode("utf-8"), os.path.basename(path))


def compiled_reason(path: str) -> str | None:
    """Why the sdist at ``path`` would build a platform-specific wheel, read from its contents; None if pure."""
    try:
        names, texts = _sdist_members(path)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise PyMigrateError("cannot read the sdist %s: %s" % (os.path.basename(path), exc))
    sources = [name for name in names if name.lower().endswith(COMPILED_SUFFIXES)]
    if sources:
        return "it ships sources to compile (%s%s)" % (sources[0], " and %d more" % (len(sources) - 1)
                                                       if len(sources) > 1 else "")
    if "Cargo.toml" in names:
        return "it ships a Rust crate (Cargo.toml)"
    pyproject = _build_system(texts.get("pyproject.toml", ""))
    backend = _BACKEND.search(pyproject)
    if backend and backend.group(1).split(".")[0] in COMPILING_BACKENDS:
        return "its build backend %s compiles" % backend.group(1)
    requires = _REQUIRES.search(pyproject)
    if requires:
        for item in re.findall(r"""["']([^"']+)["']""", requires.group(1)):
            name = re.split(r"[\s<>=!~;\[]", item.strip(), maxsplit=1)[0].lower().replace("_", "-")
            if name in COMPILING_BUILD_REQUIRES:
                return "it needs %s to build" % name
    if re.search(r"\bext_modules\b|\bExtension\(", texts.get("setup.py", "")):
        return "its setup.py declares extension modules"
    return None


class SdistBuilder:
    """Shared by every profile of one bundle build: each sdist is fetched, inspected and built at most once."""

    def __init__(self, client, store_dir: str, work_dir: str, log_dir: str | None = None,
                 timeout: float = DEFAULT_BUILD_TIMEOUT, builders: t.Mapping[tuple, Builder] | None = None,
                 built_dir: str | None = None, hidden: t.Sequence[str] = ()):
        """``log_dir`` None: build logs go to a private temporary directory made at the first build. ``builders``:
        {Target.key(): Builder}; ``built_dir``: where builders' wheels are recorded, in ``<bundle>/built/`` of the
        bundle whose store holds them (default: beside ``store_dir``). ``hidden``: secrets of this run the build must
        not see (the signing key, vault password files), besides the home's (``_sandbox``)."""
        self.client, self.store_dir, self.work_dir, self.log_dir = client, store_dir, work_dir, log_dir
        self.timeout = timeout
        self.builders = dict(builders or {})
        self.built_dir = built_dir or os.path.join(store_dir, BUILT_DIR)
        self.hidden = tuple(hidden)
        self.builds = 0  # how many builds ran (the single-flight promise, for tests and progress)
        # (sdist sha256, builder host) -> (what the builder must build, the builder's target)
        self.pending: dict[tuple, tuple] = {}
        self._lock = threading.Lock()
        self._verdicts: dict[str, concurrent.futures.Future] = {}

    def verdict(self, sdist: DistFile, target=None, ships_platform_wheels: bool = False) -> SdistVerdict:
        """What ``sdist`` gives ``target``: a pure wheel built here (the same for every target), a wheel a builder
        made for this target, a build pending on a builder, or why none. ``ships_platform_wheels``: the release has
        compiled wheels for other targets, so its sdist compiles too; without a builder for ``target`` nothing is
        downloaded to find that out."""
        if ships_platform_wheels and target is not None:
            built = self._built_wheel(sdist, target)  # a builder's wheel from an earlier run needs no download
            if built is not None:
                return built
            if target.key() not in self.builders:
                return SdistVerdict(reason="only an sdist for this target, and the release's other wheels are "
                                           "compiled: it compiles; no builder host has this profile's facts "
                                           "(pymigrate_builders)", compiles=True)
        shared = self._shared_verdict(sdist)
        if not shared.compiles or target is None:
            return shared
        built = self._built_wheel(sdist, target)
        if built is not None:
            return built
        builder = self.builders.get(target.key())
        if builder is None:
            return dataclasses.replace(shared, reason="%s; no builder host has this profile's facts "
                                                      "(pymigrate_builders)" % shared.reason)
        metadata = static_metadata(store_path(self.store_dir, sdist))
        if metadata is None:
            return dataclasses.replace(shared, reason="%s; its PKG-INFO does not declare static dependencies "
                                                      "(PEP 643), so they are only known after a build" % shared.reason)
        with self._lock:
            self.pending.setdefault((sdist.sha256, builder.host), ({
                "builder": builder.host, "python": builder.python, "sdist": store_relpath(sdist.sha256, sdist.filename),
                "sdist_sha256": sdist.sha256, "filename": sdist.filename, "project": sdist.project,
                "version": sdist.version,
                "build_requires": list(build_requires(store_path(self.store_dir, sdist)))}, target))
        return SdistVerdict(pending=True, compiles=True, metadata=metadata)

    def _built_wheel(self, sdist: DistFile, target) -> SdistVerdict | None:
        """A wheel a builder made from ``sdist`` that fits ``target`` and is in the store with its recorded hash."""
        supported = set(target.tags)
        for wheel in built_wheels(os.path.dirname(self.built_dir), t.cast(str, sdist.sha256)):
            try:
                tags = {str(tag) for tag in parse_wheel_filename(wheel["filename"])[3]}
                path = os.path.join(os.path.dirname(self.built_dir), store_relpath(wheel["sha256"], wheel["filename"]))
            except (KeyError, ValueError, TypeError):
                continue
            if tags & supported and os.path.isfile(path) and file_sha256(path) == wheel["sha256"]:
                dist = DistFile(project=sdist.project, version=sdist.version, filename=wheel["filename"],
                                url="file://" + urllib.parse.quote(path), sha256=wheel["sha256"],
                                size=os.path.getsize(path), upload_time=sdist.upload_time, index_url=sdist.index_url)
                return SdistVerdict(wheel=dist, compiles=True, built_from={
                    "sdist": sdist.filename, "sdist_sha256": sdist.sha256, "builder": wheel.get("builder"),
                    "built_at": wheel.get("built_at")})
        return None

    def _shared_verdict(self, sdist: DistFile) -> SdistVerdict:
        """The pure wheel built from ``sdist``, or why there is none; the first caller works, the others wait."""
        with self._lock:
            future = self._verdicts.get(sdist.url)
            owner = future is None
            if owner:
                future = self._verdicts[sdist.url] = concurrent.futures.Future()
        if owner:
            try:
                t.cast(concurrent.futures.Future, future).set_result(self._verdict(sdist))
            except BaseException as exc:
                t.cast(concurrent.futures.Future, future).set_exception(exc)
        return t.cast(concurrent.futures.Future, future).result()

    def _verdict(self, sdist: DistFile) -> SdistVerdict:
        fetch_all([sdist], self.store_dir, self.client)
        path = store_path(self.store_dir, sdist)
        reason = compiled_reason(path)
        if reason:
            return SdistVerdict(reason="only an sdist, which compiles (%s) and is never built on the control node"
                                       % reason, compiles=True)
        return self._build(sdist, path)

    def _sandboxed(self, path: str, out_dir: str) -> list:
        """The command that builds the sdist at ``path`` into ``out_dir``: its build requirements fetched first (as
        wheels for the control node's interpreter) into a folder pip reads instead of an index, then pip in the
        sandbox (``_sandbox``: no network, no credentials, no secrets)."""
        deps_dir, home = os.path.join(out_dir, "requires"), os.path.join(out_dir, "home")
        os.makedirs(deps_dir)
        os.makedirs(home)
        requires = {str(canonicalize_name(Requirement(text).name)): text for text in build_requires(path)}
        if requires:
            try:
                pins = resolve(controller_target(), WantedSet(requires), self.client, profile="build requirements")
            except PyMigrateError as exc:
                raise PyMigrateError("cannot fetch the build requirements of %s (%s): %s"
                                     % (os.path.basename(path), ", ".join(sorted(requires.values())), exc.message),
                                     hint=exc.hint)
            fetch_all([pin.file for pin in pins], self.store_dir, self.client)
            for pin in pins:
                shutil.copyfile(store_path(self.store_dir, pin.file), os.path.join(deps_dir, pin.file.filename))
        sdist = os.path.join(out_dir, os.path.basename(path))
        shutil.copyfile(path, sdist)
        keep = [out_dir, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))]
        return _sandbox.command([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out_dir, sdist],
                                _build_env(home, deps_dir), _sandbox.hidden_paths(self.hidden, keep))

    def _build(self, sdist: DistFile, path: str) -> SdistVerdict:
        with self._lock:
            self.builds += 1
            if self.log_dir is None:
                self.log_dir = tempfile.mkdtemp(prefix="pymigrate-build-logs-")
            os.makedirs(self.log_dir, exist_ok=True)
        log_path = os.path.join(self.log_dir, "%s.log" % sdist.filename)
        out_dir = tempfile.mkdtemp(prefix="build-", dir=self.work_dir)
        argv = self._sandboxed(path, out_dir)
        with open(log_path, "w") as log:
            try:
                result = subprocess.run(argv, check=False, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, timeout=self.timeout)
            except subprocess.TimeoutExpired:
                raise PyMigrateError("building %s did not finish within %d s; the build log is %s"
                                     % (sdist.filename, self.timeout, log_path), var="pymigrate_build_timeout",
                                     value=self.timeout, hint="Raise pymigrate_build_timeout, or pin a release "
                                                              "that ships a wheel")
        if result.returncode != 0:
            raise PyMigrateError("building %s into a wheel failed (pip exit %d); the build log is %s"
                                 % (sdist.filename, result.returncode, log_path),
                                 hint="Read the log, or pin a release that ships a wheel")
        built = [name for name in os.listdir(out_dir) if name.endswith(".whl")]  # (requires/ holds the others)
        if len(built) != 1:
            raise PyMigrateError("building %s produced %d wheels, expected one; the build log is %s"
                                 % (sdist.filename, len(built), log_path))
        tags = parse_wheel_filename(built[0])[3]
        if any(tag.platform != "any" or tag.abi != "none" for tag in tags):
            return SdistVerdict(reason="only an sdist, whose build on the control node gave a platform-specific "
                                       "wheel (%s, not for this target)" % built[0], compiles=True)
        sha256 = file_sha256(os.path.join(out_dir, built[0]))
        final = os.path.join(self.store_dir, store_relpath(sha256, built[0]))
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.replace(os.path.join(out_dir, built[0]), final)
        return SdistVerdict(wheel=DistFile(project=sdist.project, version=sdist.version, filename=built[0],
                                           url="file://" + urllib.parse.quote(final), sha256=sha256,
                                           size=os.path.getsize(final), upload_time=sdist.upload_time,
                                           index_url=sdist.index_url),
                            built_from={"sdist": sdist.filename, "sdist_sha256": sdist.sha256,
                                        "builder": "control node", "built_at": None})


def built_wheels(bundle_dir: str, sdist_sha256: str) -> list:
    """The wheels recorded as built from the sdist ``sdist_sha256`` in ``<bundle_dir>/built/`` (newest last)."""
    try:
        with open(os.path.join(bundle_dir, BUILT_DIR, "%s.json" % sdist_sha256)) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return []
    return [wheel for wheel in record.get("wheels", []) if isinstance(wheel, dict)
            and {"filename", "sha256", "size", "builder"} <= set(wheel)]


def record_built_wheel(bundle_dir: str, build: dict, filename: str, local_path: str) -> dict:
    """Move a wheel a builder made (verified already) into the bundle's store and record it for the next pass:
    ``built/<sdist sha256>.json`` lists every wheel built from that sdist, with builder and time."""
    parse_wheel_filename(filename)  # a wheel's name, or InvalidWheelFilename before anything moves
    sha256 = file_sha256(local_path)
    final = os.path.join(bundle_dir, store_relpath(sha256, filename))
    os.makedirs(os.path.dirname(final), exist_ok=True)
    shutil.move(local_path, final)
    os.chmod(final, 0o644)
    entry = {"filename": filename, "sha256": sha256, "size": os.path.getsize(final), "builder": build["builder"],
             "built_at": format_time(utc_now())}
    records = os.path.join(bundle_dir, BUILT_DIR)
    os.makedirs(records, exist_ok=True)
    path = os.path.join(records, "%s.json" % build["sdist_sha256"])
    with FileLock(path + ".lock", 300, PyMigrateError):
        try:
            with open(path) as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            record = {"sdist": build["filename"], "sdist_sha256": build["sdist_sha256"], "wheels": []}
        record["wheels"] = [w for w in record["wheels"] if w.get("filename") != filename] + [entry]
        write_atomic(path, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    return entry
