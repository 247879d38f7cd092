# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 5, install: one environment as a new generation, built in place, switched atomically.

Runs on target hosts: standard library only, Python 3.8+.

Layout, for a stable path ``/opt/app/venv``::

    /opt/app/venv                         -> symlink to the current generation
    /opt/app/.venv.generations/<N>-<id>/  a complete virtual environment (venvs cannot be moved, so each
                                          generation is built at its final path)
    /opt/app/.venv.lock                   flock: one run per environment at a time

pip is run from the bundle's pip wheel file as a tool (``python pip.whl/pip install``): hosts without pip
or ensurepip work, and the environment ends up holding exactly the lock, nothing else. The installer may
instead be the uv wheel from the package index (installer kind ``uv``): its static ``uv`` binary is
extracted into a private directory next to the generations for the build, and removed after it.
"""

import base64
import contextlib
import csv
import dataclasses
import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import typing
import zipfile

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import (
    FileLock,
    StoreError,
    check_owned,
    file_sha256,
    fsync_dir,
    hashed_unchanged,
    load_verified,
    register_environments,
    store_relpath,
    write_atomic,
)

GENERATION_FILE = "pymigrate-generation.json"
# Smoke imports run this fixed code with the module name as an argument: no inventory text ever becomes code.
SMOKE_RUNNER = "import importlib, sys; importlib.import_module(sys.argv[1])"
MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
INSTALLER_KINDS = ("pip", "uv")
# The uv wheel on the package index carries the binary as a wheel script: uv-<version>.data/scripts/uv.
UV_BINARY_MEMBER = re.compile(r"^uv-[^/]+\.data/scripts/uv$")
# The private directory the uv binary is extracted into, inside the generations directory (never a generation:
# generations() only lists names starting with a number).
UV_TOOL_PREFIX = ".pymigrate-uv-"


class VenvError(Exception):
    """Meant for the user: what failed, where, and what to do."""


def _normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _version_key(version):
    parts = []
    for piece in re.split(r"[.+-]", version):
        parts.append((0, int(piece), "") if piece.isdigit() else (-1, 0, piece))
    return parts


def diff_packages(old, new, version_key=None):
    """{added, removed, upgraded, downgraded} between two {name: version} maps, each a sorted list.

    ``version_key`` orders versions; the control node passes packaging's Version, the host (standard
    library only) a release-segment approximation.
    """
    version_key = version_key or _version_key
    changes = {"added": [], "removed": [], "upgraded": [], "downgraded": []}
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before is None:
            changes["added"].append("%s==%s" % (name, after))
        elif after is None:
            changes["removed"].append("%s==%s" % (name, before))
        elif before != after:
            kind = "upgraded" if version_key(after) > version_key(before) else "downgraded"
            changes[kind].append("%s %s -> %s" % (name, before, after))
    return changes


def packages_lock_id(packages):
    """The identity of a lock: what is installed (names, versions, file hashes), not where it came from."""
    text = json.dumps(sorted((_normalize(p["name"]), p["version"], p["sha256"]) for p in packages))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def installer_kind(installer):
    """``pip`` (the default) or ``uv``: which tool the installer wheel is."""
    kind = installer.get("kind") or "pip"
    if kind not in INSTALLER_KINDS:
        raise VenvError("installer kind %r of %s is neither pip nor uv; rebuild the bundle"
                        % (kind, installer.get("filename")))
    return kind


def wheel_platform(filename):
    """The platform tag of a wheel file name (``manylinux_2_17_x86_64.manylinux2014_x86_64``), or ``unknown``."""
    parts = filename[: -len(".whl")].split("-") if filename.endswith(".whl") else []
    return parts[-1] if len(parts) >= 5 else "unknown"


def uv_binary_member(names, filename, store_dir):
    """The member of the uv wheel ``filename`` that is the uv binary (``uv-<version>.data/scripts/uv``)."""
    found = [name for name in names if UV_BINARY_MEMBER.match(name)]
    if len(found) != 1:
        raise VenvError("%s in the store %s holds %s uv binary (uv-<version>.data/scripts/uv), so it is not the uv "
                        "wheel from the package index; rebuild the bundle with the uv wheel for this host's platform, "
                        "or use the pip installer" % (filename, store_dir, "no" if not found else "more than one"))
    return found[0]


# What every uv command gets: no configuration file (uv.toml, pyproject.toml: user, system or project) is read, no
# network is reached, no cache is kept (a temporary one, in the private directory, removed afterwards), no
# interpreter is ever downloaded, and its output stays plain text for the error messages.
UV_COMMON = ["--no-config", "--offline", "--no-cache", "--no-python-downloads", "--no-progress", "--color", "never"]


def uv_install_command(uv, python, requirements):
    """``uv pip install`` of exactly the requirements file (local wheel paths of the store, each with
    ``--hash=sha256:``) into the environment of ``python``.

    --no-index, --offline: the store's files only; --no-deps: nothing resolved beyond the lock (``uv pip check``
    afterwards finds what is missing); --require-hashes: uv checks each file's sha256 as pip does (it accepts
    local paths with --hash in a requirements file, and refuses a line without one); --no-build: a wheel or
    nothing, never a build; --link-mode hardlink: the files uv unpacks into its temporary cache (inside the
    private directory beside the generations, so on the same file system) are linked, not copied, into the
    generation, and become its own when that directory is removed (uv copies where links fail); no
    --compile-bytecode: no bytecode, as pip's --no-compile (uv compiles only when asked).
    """
    return [uv, "pip", "install", "--python", python, "--no-index", "--no-deps", "--require-hashes", "--no-build",
            "--link-mode", "hardlink", "-r", requirements] + UV_COMMON


def uv_check_command(uv, python):
    return [uv, "pip", "check", "--python", python] + UV_COMMON


# What every pip command gets: --isolated (no PIP_* variable, no user configuration file), no prompt, no version
# check, no cache.
PIP_COMMON = ["--isolated", "--disable-pip-version-check", "--no-input", "--no-cache-dir"]


def pip_install_command(python, pip, requirements):
    """pip (run from the pip wheel in the store: ``pip`` is ``<wheel>/pip``) installing exactly the requirements file
    (store paths, each with ``--hash=sha256:``) with no index, no dependency resolved beyond the lock and no bytecode.
    ``-E``: no PYTHON* variable of the host (PYTHONPATH, PYTHONSTARTUP, ...) reaches pip's own interpreter."""
    return [python, "-E", pip, "install", "--no-index", "--no-deps", "--require-hashes", "--no-compile", "-r",
            requirements] + PIP_COMMON


def pip_check_command(python, pip):
    return [python, "-E", pip, "check"] + PIP_COMMON[:3]


def pip_environment(environ):
    """The environment pip runs with: the caller's without any PIP_* setting or activated environment, and
    PIP_CONFIG_FILE set to the null device, which makes pip read no configuration file at all: --isolated alone
    still reads the global ones (/etc/pip.conf, /etc/xdg/pip/pip.conf) and the environment's own."""
    env = dict((key, value) for key, value in environ.items()
               if not key.startswith("PIP_") and key not in ("VIRTUAL_ENV", "CONDA_PREFIX"))
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def uv_environment(environ, tool_dir):
    """The environment uv runs with: the caller's without any UV_* setting (they would change what uv installs
    or where it looks) nor an activated environment, configuration files off, temporary files in ``tool_dir``."""
    env = dict((key, value) for key, value in environ.items()
               if not key.startswith("UV_") and key not in ("VIRTUAL_ENV", "CONDA_PREFIX"))
    env.update(UV_NO_CONFIG="1", UV_OFFLINE="1", UV_PYTHON_DOWNLOADS="never", TMPDIR=tool_dir)
    return env


def _check_uv_runs(binary, filename, tool_dir):
    """``uv --version``, so that a binary for another platform fails here, saying so, before anything is built."""
    host = "%s %s" % (os.uname().sysname, os.uname().machine)
    advice = ("rebuild the bundle with the uv wheel for this host's platform, or use the pip installer")
    try:
        result = subprocess.run([binary, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=uv_environment(os.environ, tool_dir), cwd=tool_dir, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        raise VenvError("the uv binary from %s did not answer uv --version in 120 s on this host (%s); %s"
                        % (filename, host, advice))
    except OSError as exc:
        hint = ""
        if exc.errno in (errno.EACCES, errno.EPERM):
            hint = " (is %s on a file system mounted noexec?)" % os.path.dirname(tool_dir)
        raise VenvError("the uv binary from %s (built for %s) cannot run on this host (%s): %s%s; %s"
                        % (filename, wheel_platform(filename), host, exc.strerror or exc, hint, advice))
    if result.returncode != 0:
        raise VenvError("the uv binary from %s (built for %s) does not run on this host (%s): uv --version exited "
                        "%d: %s; %s" % (filename, wheel_platform(filename), host, result.returncode,
                                        result.stdout.decode("utf-8", "replace").strip()[-600:], advice))


class Environment(object):
    """One managed environment at ``path`` (the stable symlink)."""

    def __init__(self, path, store_dir="/var/lib/pymigrate/store"):
        self.path = os.path.abspath(path)
        self.parent = os.path.dirname(self.path)
        base = os.path.basename(self.path)
        self.generations_dir = os.path.join(self.parent, ".%s.generations" % base)
        self.lock_path = os.path.join(self.parent, ".%s.lock" % base)
        self.store_dir = store_dir

    # -- reading -----------------------------------------------------------------------------------
    def current(self):
        """Path of the current generation, or None; fails if ``path`` is something we do not manage."""
        if os.path.islink(self.path):
            return os.path.realpath(self.path)
        if os.path.lexists(self.path):
            raise VenvError("%s exists and is not a pymigrate-managed symlink; move it away (it is never deleted "
                            "by pymigrate) and run again" % self.path)
        return None

    def generations(self):
        """Generation directories, oldest first (by their number)."""
        if not os.path.isdir(self.generations_dir):
            return []
        found = []
        for entry in os.listdir(self.generations_dir):
            match = re.match(r"^(\d+)-", entry)
            if match and not entry.endswith(".partial"):
                found.append((int(match.group(1)), os.path.join(self.generations_dir, entry)))
        return [path for _number, path in sorted(found)]

    @staticmethod
    def record(generation):
        try:
            with open(os.path.join(generation, GENERATION_FILE)) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    @staticmethod
    def installed(generation):
        """{normalized name: version} from the generation's dist-info directories (cheap, no pip run)."""
        return dict((name, found[0]) for name, found in _dist_infos(generation).items())

    def check_owned(self):
        """The environment's parent and its generations belong to root (or this user) alone, or nothing happens."""
        for path in (self.parent, self.generations_dir, self.lock_path):
            check_owned(path, VenvError)

    def lock(self, timeout):
        """One run per environment at a time."""
        _makedirs_private(self.parent)
        return FileLock(self.lock_path, timeout, VenvError)

    def holds_lock(self, generation, lock_id):
        """Whether ``generation`` was built from the lock ``lock_id`` (what it holds now is verify_generation's
        question)."""
        record = self.record(generation) if generation else None
        return bool(record) and record.get("lock_id") == lock_id

    # -- building ----------------------------------------------------------------------------------
    def store_path(self, sha256, filename):
        return os.path.join(self.store_dir, store_relpath(sha256, filename))

    def verify_files(self, packages, installer):
        """Names a missing or wrong file before a build starts. A file hashed and found right on arrival (or by the
        push's check) and not written since is not hashed again: the installer checks every file's sha256 itself
        (--require-hashes), so hashing it here too was only a third pass over every byte of a first run."""
        verified = load_verified(self.store_dir)
        for item in list(packages) + [installer]:
            relpath = store_relpath(item["sha256"], item["filename"])
            path = os.path.join(self.store_dir, relpath)
            if not os.path.isfile(path):
                raise VenvError("%s is missing from the store %s; run the push again"
                                % (item["filename"], self.store_dir))
            if hashed_unchanged(verified, relpath, os.lstat(path)):
                continue
            actual = file_sha256(path)
            if actual != item["sha256"]:
                raise VenvError("%s in the store %s has sha256 %s, expected %s; run the push again to replace it"
                                % (item["filename"], self.store_dir, actual, item["sha256"]))

    def _next_generation(self, lock_id):
        numbers = [int(os.path.basename(g).split("-")[0]) for g in self.generations()]
        return os.path.join(self.generations_dir, "%d-%s" % ((max(numbers) + 1) if numbers else 1, lock_id[:12]))

    def build(self, python, packages, installer, lock_id, smoke_imports=(), force_manual_venv=False, serial=None):
        """Build and check a new generation; returns its path. Removes it on any failure. Its record names the lock,
        the bundle ``serial`` it came from, what it holds and what built it."""
        kind = installer_kind(installer)
        _makedirs_private(self.generations_dir)
        generation = self._next_generation(lock_id)
        # The uv binary is extracted (and shown to run) before the generation exists, and removed whatever happens.
        with self._uv_tool(installer) if kind == "uv" else contextlib.nullcontext() as uv:
            try:
                _create_venv(python, generation, force_manual_venv)
                gen_python = os.path.join(generation, "bin", "python")
                requirements = os.path.join(generation, "pymigrate-requirements.txt")
                with open(requirements, "w") as handle:
                    for item in packages:
                        handle.write("%s --hash=sha256:%s\n"
                                     % (self.store_path(item["sha256"], item["filename"]), item["sha256"]))
                if kind == "uv":
                    binary, tool_dir = uv
                    env = uv_environment(os.environ, tool_dir)
                    _run(uv_install_command(binary, gen_python, requirements), "uv pip install into %s" % generation,
                         generation, env=env, cwd=tool_dir)
                    _run(uv_check_command(binary, gen_python), "uv pip check in %s" % generation, generation,
                         env=env, cwd=tool_dir)
                else:
                    pip = os.path.join(self.store_path(installer["sha256"], installer["filename"]), "pip")
                    env = pip_environment(os.environ)  # no configuration of the host's reaches pip
                    _run(pip_install_command(gen_python, pip, requirements), "pip install into %s" % generation,
                         generation, env=env)
                    _run(pip_check_command(gen_python, pip), "pip check in %s" % generation, generation, env=env)
                for module in smoke_imports:
                    if not MODULE_NAME.match(module):
                        raise VenvError("smoke import %r is not a dotted module name such as yaml or email.mime"
                                        % module)
                    _run([gen_python, "-c", SMOKE_RUNNER, module], "smoke import of %s in %s" % (module, generation),
                         generation)
                installed = self.installed(generation)
                wanted = dict((_normalize(p["name"]), p["version"]) for p in packages)
                if installed != wanted:
                    raise VenvError("%s holds %s after install, not the lock"
                                    % (generation, diff_packages(wanted, installed)))
                # files: the store files it was built from, which the store keeps while the generation exists.
                record = {"lock_id": lock_id, "serial": serial, "packages": wanted, "python": python,
                          "files": sorted(store_relpath(item["sha256"], item["filename"])
                                          for item in list(packages) + [installer]),
                          "installer": {"kind": kind, "filename": installer["filename"],
                                        "sha256": installer["sha256"]},
                          "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                write_atomic(os.path.join(generation, GENERATION_FILE),
                             json.dumps(record, indent=1, sort_keys=True).encode("utf-8"))
            except OSError as exc:
                shutil.rmtree(generation, ignore_errors=True)
                raise VenvError(_oserror_text(exc, self.parent))
            except BaseException:
                shutil.rmtree(generation, ignore_errors=True)
                raise
        return generation

    @contextlib.contextmanager
    def _uv_tool(self, installer):
        """The uv binary of the (verified) uv wheel ``installer``, extracted into a private directory (0700, the
        binary 0755) inside the generations directory: yields (binary, directory); the directory is removed
        afterwards whatever happens. Directories left by a run that was killed are removed first (the caller
        holds the environment's lock, so no other run is using them)."""
        for entry in os.listdir(self.generations_dir):
            if entry.startswith(UV_TOOL_PREFIX):
                shutil.rmtree(os.path.join(self.generations_dir, entry), ignore_errors=True)
        wheel = self.store_path(installer["sha256"], installer["filename"])
        try:
            tool_dir = tempfile.mkdtemp(prefix=UV_TOOL_PREFIX, dir=self.generations_dir)
        except OSError as exc:
            raise VenvError(_oserror_text(exc, self.generations_dir))
        try:
            os.chmod(tool_dir, 0o700)
            binary = os.path.join(tool_dir, "uv")
            try:
                with zipfile.ZipFile(wheel) as archive:
                    member = uv_binary_member(archive.namelist(), installer["filename"], self.store_dir)
                    with archive.open(member) as source:
                        with os.fdopen(os.open(binary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700), "wb") as target:
                            shutil.copyfileobj(source, target, 1024 * 1024)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
                raise VenvError("%s in the store %s is not a readable wheel (%s); run the push again to replace it"
                                % (installer["filename"], self.store_dir, exc))
            os.chmod(binary, 0o755)
            _check_uv_runs(binary, installer["filename"], tool_dir)
            yield binary, tool_dir
        except OSError as exc:
            raise VenvError(_oserror_text(exc, self.generations_dir))
        finally:
            shutil.rmtree(tool_dir, ignore_errors=True)

    def switch(self, generation):
        """Point ``path`` at ``generation`` atomically: a new symlink renamed over the old one."""
        temp = "%s.pymigrate-%d" % (self.path, os.getpid())
        if os.path.lexists(temp):
            os.unlink(temp)
        os.symlink(generation, temp)
        os.replace(temp, self.path)
        fsync_dir(self.parent)

    def prune(self, keep):
        """Keep the newest ``keep`` generations (at least the current one and the previous, for rollback)."""
        current = self.current()
        generations = self.generations()
        keep = max(int(keep), 2)
        removed = []
        for generation in generations[:-keep]:
            if generation != current:
                shutil.rmtree(generation, ignore_errors=True)
                removed.append(generation)
        return removed

    def forget_empty(self):
        """After a first install failed: its empty generations directory and its lock file go, nothing else was
        there (the caller holds the lock)."""
        for path in (self.generations_dir, self.lock_path):
            try:
                if os.path.isdir(path):
                    os.rmdir(path)
                else:
                    os.unlink(path)
            except OSError:
                pass  # not empty, or gone already

    def rollback_target(self, current, full=False):
        """(the generation to roll back to, or None; the earlier ones passed over, each with why): the newest
        generation older than ``current`` that was built from another lock than the current one's and that verifies
        clean against its own record, as state.yml verifies the current one. Never one a repair replaced for its
        drift, one whose interpreter does not run, nor one a killed build left without its record."""
        number = generation_number(current)
        current_lock = (self.record(current) or {}).get("lock_id")
        skipped = []
        for candidate in reversed(self.generations()):
            found = generation_number(candidate)
            if number is None or found is None or found >= number:
                continue
            reason = self._unfit(candidate, current_lock, full)
            if reason is None:
                return candidate, skipped
            skipped.append({"generation": candidate, "number": found, "reason": reason})
        return None, skipped

    def _unfit(self, candidate, current_lock, full):
        """Why ``candidate`` is no rollback target, or None."""
        record = self.record(candidate)
        if not record:
            return "incomplete: it has no %s (its build never finished)" % GENERATION_FILE
        if current_lock and record.get("lock_id") == current_lock:
            return "built from the same lock as the current generation (lock %s)" % short_lock(current_lock)
        if record.get("drift"):
            return "drifted: %s replaced it to repair %s" % (record.get("replaced_by") or "a repair", record["drift"])
        lock = [{"name": name, "version": version} for name, version in sorted((record.get("packages") or {}).items())]
        findings = verify_generation(candidate, lock, full=full)
        if findings:
            return "does not verify clean: %s" % describe_findings(findings, limit=3)
        return None

    def mark_drifted(self, generation, findings, replaced_by):
        """Record in ``generation`` that a repair replaced it for its drift: a rollback never goes back to it."""
        record = self.record(generation)
        if record is None:
            return  # no record: a rollback passes it over as incomplete already
        record.update(drift=describe_findings(findings, limit=3), replaced_by=os.path.basename(replaced_by))
        write_atomic(os.path.join(generation, GENERATION_FILE),
                     json.dumps(record, indent=1, sort_keys=True).encode("utf-8"))

    def describe(self, generation):
        """What names a generation in a rollback's words: path, number, lock id and bundle serial (from its record;
        None where a generation built before they were recorded lacks them)."""
        record = self.record(generation) or {}
        return {"generation": generation, "number": generation_number(generation), "lock_id": record.get("lock_id"),
                "serial": record.get("serial")}


def generation_number(generation):
    """The number a generation directory's name starts with (``3`` for ``3-1a2b3c4d5e6f``), or None."""
    match = re.match(r"^(\d+)-", os.path.basename(generation or ""))
    return int(match.group(1)) if match else None


def short_lock(lock_id):
    return (lock_id or "unknown")[:12]


def generation_text(info, word=True):
    """``generation 3 (lock 1a2b3c4d5e6f, serial 7)`` from Environment.describe() (``3 (...)`` without ``word``)."""
    serial = info.get("serial")
    return "%s%s (lock %s, serial %s)" % ("generation " if word else "", info.get("number") or "?",
                                          short_lock(info.get("lock_id")), "unknown" if serial is None else serial)


def _makedirs_private(path):
    """Create ``path`` (and parents) as 0755, whatever the umask, and check what was already there."""
    if not os.path.isdir(path):
        os.makedirs(path, mode=0o755, exist_ok=True)
        os.chmod(path, 0o755)
    check_owned(path, VenvError)


def _finding(kind, distribution=None, path=None, detail=None):
    return {"kind": kind, "distribution": distribution, "file": path, "detail": detail}


def _dist_infos(generation):
    """{normalized name: (version, dist-info directory, site-packages directory)}."""
    found = {}
    for root in _site_packages_dirs(generation):
        for entry in os.listdir(root):
            if entry.endswith(".dist-info"):
                name, _sep, version = entry[: -len(".dist-info")].rpartition("-")
                if name:
                    found[_normalize(name)] = (version, os.path.join(root, entry), root)
    return found


def _record_findings(name, dist_info, site_packages, full):
    """Every file the distribution's RECORD lists must exist with its size (and, ``full``, its sha256)."""
    record = os.path.join(dist_info, "RECORD")
    try:
        with open(record, newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, csv.Error) as exc:
        return [_finding("missing file", name, record, str(exc))]
    findings = []
    # Each listed file is stat'ed relative to site-packages (thousands per environment on every survey): no path
    # is joined and normalized unless it is named or hashed.
    try:
        site_fd = os.open(site_packages, os.O_RDONLY) if os.stat in os.supports_dir_fd else None
    except OSError:
        site_fd = None  # each file is then missing, and named so

    def full_path(relative):
        return os.path.normpath(os.path.join(site_packages, relative))

    try:
        for row in rows:
            if not row or not row[0]:
                continue
            digest, size = (row + ["", ""])[1:3]
            try:
                actual_size = (os.stat(row[0], dir_fd=site_fd) if site_fd is not None
                               else os.stat(os.path.join(site_packages, row[0]))).st_size
            except OSError:
                findings.append(_finding("missing file", name, full_path(row[0])))
                continue
            if size and actual_size != int(size):
                findings.append(_finding("modified file", name, full_path(row[0]),
                                         "size %d, RECORD says %s" % (actual_size, size)))
            elif full and digest.startswith("sha256="):
                path = full_path(row[0])
                actual = base64.urlsafe_b64encode(bytes.fromhex(file_sha256(path))).rstrip(b"=").decode()
                if actual != digest[len("sha256="):]:
                    findings.append(_finding("modified file", name, path, "sha256 differs from RECORD"))
    finally:
        if site_fd is not None:
            os.close(site_fd)
    return findings


def interpreter_runs(python):
    """Whether ``python`` starts. The interpreter running this code does, so an environment's link to it (the usual
    case: built with the Python Ansible runs) is not started again - on a survey with nothing to do, that start
    was a fifth of the host's work."""
    try:
        if os.access(python, os.X_OK) and os.path.realpath(python) == os.path.realpath(sys.executable):
            return True
        return subprocess.call([python, "-c", "import sys"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=120) == 0
    except (OSError, subprocess.SubprocessError):
        return False


def verify_generation(generation, packages, full=False):
    """What ``generation`` holds that differs from the lock ``packages`` (as ``rpm -V`` does for system packages):
    a broken interpreter, missing, extra or wrong-version distributions, and every RECORD file missing or of
    another size (``full``: also another sha256). An empty list: it holds exactly the lock."""
    findings = []
    python = os.path.join(generation, "bin", "python")
    if not interpreter_runs(python):
        findings.append(_finding("broken interpreter", path=python))
    wanted = dict((_normalize(p["name"]), p["version"]) for p in packages)
    dists = _dist_infos(generation)
    findings += [_finding("missing distribution", name, detail=wanted[name])
                 for name in sorted(set(wanted) - set(dists))]
    findings += [_finding("extra distribution", name, detail=dists[name][0])
                 for name in sorted(set(dists) - set(wanted))]
    for name in sorted(set(wanted) & set(dists)):
        version, dist_info, site_packages = dists[name]
        if version != wanted[name]:
            findings.append(_finding("wrong version", name, detail="%s, the lock says %s" % (version, wanted[name])))
        findings += _record_findings(name, dist_info, site_packages, full)
    return findings


def describe_findings(findings, limit=5):
    texts = ["%s%s%s%s" % (item["kind"], " " + item["distribution"] if item["distribution"] else "",
                           " " + item["file"] if item["file"] else "",
                           " (%s)" % item["detail"] if item["detail"] else "") for item in findings[:limit]]
    more = " and %d more" % (len(findings) - limit) if len(findings) > limit else ""
    return "; ".join(texts) + more


def _site_packages_dirs(generation):
    lib = os.path.join(generation, "lib")
    found = []
    if os.path.isdir(lib):
        for entry in os.listdir(lib):
            candidate = os.path.join(lib, entry, "site-packages")
            if entry.startswith("python") and os.path.isdir(candidate):
                found.append(candidate)
    return found


def _create_venv(python, generation, force_manual):
    """``python -m venv --without-pip``, or by hand where the venv module is missing (minimal images)."""
    has_venv = not force_manual and subprocess.call(
        [python, "-c", "import venv"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0
    if has_venv:
        _run([python, "-m", "venv", "--without-pip", generation], "creating the environment %s" % generation,
             generation)
        return
    info = json.loads(subprocess.check_output([python, "-c", (
        "import json, sys, sysconfig; print(json.dumps({'version': '%d.%d.%d' % sys.version_info[:3], "
        "'short': '%d.%d' % sys.version_info[:2], 'executable': sys.executable}))")]).decode())
    bindir = os.path.join(generation, "bin")
    os.makedirs(bindir)
    os.makedirs(os.path.join(generation, "lib", "python" + info["short"], "site-packages"))
    executable = os.path.realpath(info["executable"])
    with open(os.path.join(generation, "pyvenv.cfg"), "w") as handle:
        handle.write("home = %s\ninclude-system-site-packages = false\nversion = %s\nexecutable = %s\n"
                     % (os.path.dirname(executable), info["version"], executable))
    for name in ("python", "python3", "python" + info["short"]):
        os.symlink(executable, os.path.join(bindir, name))


def _run(argv, what, where, env=None, cwd=None):
    try:
        result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd, check=False)
    except OSError as exc:
        raise VenvError("%s failed: %s" % (what, exc))
    if result.returncode != 0:
        output = result.stdout.decode("utf-8", "replace")
        if "No space left on device" in output:
            raise VenvError("disk full under %s during %s: %s" % (os.path.dirname(where), what, output.strip()[-600:]))
        raise VenvError("%s failed (exit %d): %s" % (what, result.returncode, output.strip()[-1500:]))


def _oserror_text(exc, where):
    if exc.errno == errno.ENOSPC:
        try:
            stat = os.statvfs(where)
            free = stat.f_bavail * stat.f_frsize
        except OSError:
            free = -1
        return "disk full under %s (%d bytes free): %s" % (where, free, exc)
    return "%s: %s" % (where, exc)


def check_environment(path, python=None, store_dir="/var/lib/pymigrate/store"):
    """Before anything moves for an environment: its directories belong to root alone, its path is absent or ours,
    and its interpreter can run. Returns the Environment."""
    env = Environment(path, store_dir)
    env.check_owned()
    env.current()
    if python and not os.access(python, os.X_OK):
        raise VenvError("the interpreter %s does not exist or cannot run; install it or set the environment's python "
                        "to one that does" % python)
    return env


@dataclasses.dataclass(frozen=True)
class InstallOptions:
    """How ensure() checks, builds and keeps generations: venv_install's options besides the lock itself.

    ``verify`` (``size`` or ``full``) is how a current generation built from the same lock is checked; what differs
    (its drift) is repaired with a new generation, only reported, or fails, as ``drift_action`` (``repair``,
    ``report``, ``fail``) says; a generation replaced by a repair is marked drifted, so that no rollback goes back to
    it. ``smoke_imports`` are imported in a new generation before it is switched to. ``serial``, the bundle serial
    the lock came from, is recorded in a new generation (a rollback names it)."""

    keep_generations: int = 3
    smoke_imports: typing.Sequence[str] = ()
    lock_timeout: int = 300
    force_manual_venv: bool = False
    verify: str = "size"
    drift_action: str = "repair"
    serial: typing.Optional[int] = None


def ensure(path, python, store_dir, packages, installer, lock_id=None, check_mode=False, options=InstallOptions()):
    """Make ``path`` hold exactly ``packages``. Returns a result dict (changed, generation, changes, drift, ...).

    ``options`` (InstallOptions) says how the current generation is checked and a new one built and kept.
    """
    # Refused before a lock file or a directory is made: a path the collection does not manage, a missing interpreter.
    env = check_environment(path, python, store_dir)
    lock_id = lock_id or packages_lock_id(packages)
    wanted = dict((_normalize(p["name"]), p["version"]) for p in packages)
    with env.lock(options.lock_timeout) if not check_mode else contextlib.nullcontext():
        current = env.current()
        before = env.installed(current) if current else {}
        result = {"changed": False, "generation": current, "previous_generation": None, "packages": wanted,
                  "changes": diff_packages(before, wanted), "pip_ran": False, "before": before, "drift": [],
                  "installed": before}
        if env.holds_lock(current, lock_id):
            result["drift"] = verify_generation(current, packages, full=options.verify == "full")
            if not result["drift"] or options.drift_action == "report":
                return result
            if options.drift_action == "fail":
                raise VenvError("%s does not hold what its lock says: %s"
                                % (current, describe_findings(result["drift"])))
            result["reason"] = "repaired drift: %s" % describe_findings(result["drift"])
        result["changed"] = True
        if check_mode:
            return result
        if not installer:
            raise VenvError("no installer (pip or uv wheel) given for %s; rebuild the bundle" % path)
        installer_kind(installer)
        try:
            env.verify_files(packages, installer)
            generation = env.build(python or sys.executable, packages, installer, lock_id, options.smoke_imports,
                                   options.force_manual_venv, options.serial)
        except BaseException:
            if current is None:
                env.forget_empty()  # a first install that failed leaves nothing behind
            raise
        env.switch(generation)
        if result["drift"]:
            env.mark_drifted(current, result["drift"], generation)
        env.prune(options.keep_generations)
        _register(store_dir, env.path)
        result.update(generation=generation, previous_generation=current, pip_ran=True, installed=wanted)
        return result


def _register(store_dir, path):
    """Record the environment in the store's registry (best effort: host_prune also registers the environments of
    the host's slice)."""
    try:
        if store_dir and os.path.isdir(store_dir):
            register_environments(store_dir, add=[path])
    except (OSError, StoreError):
        pass


def rollback(path, check_mode=False, lock_timeout=300, verify="size"):
    """Switch ``path`` back to the newest earlier generation fit to go back to (Environment.rollback_target), saying
    which ones it passed over and why. With none, nothing changes and ``msg`` says why."""
    env = Environment(path)
    env.check_owned()
    with env.lock(lock_timeout) if not check_mode else contextlib.nullcontext():
        current = env.current()
        if current is None:
            raise VenvError("%s is not installed; there is nothing to roll back" % path)
        target, skipped = env.rollback_target(current, full=verify == "full")
        before = env.installed(current)
        result = {"changed": False, "generation": current, "previous_generation": None, "packages": before,
                  "changes": diff_packages(before, before), "pip_ran": False, "before": before,
                  "from": env.describe(current), "to": None, "skipped": skipped}
        passed = "; ".join("generation %s: %s" % (item["number"], item["reason"]) for item in skipped)
        if target is None:
            # Left as it is (a fleet rollback goes on with the other hosts), saying why.
            result["msg"] = "nothing to roll back to from %s: %s" % (
                generation_text(result["from"]), passed or "no earlier generation is kept")
            return result
        after = env.installed(target)
        if not check_mode:
            env.switch(target)
        result.update(changed=True, generation=target, previous_generation=current, packages=after,
                      changes=diff_packages(before, after), to=env.describe(target))
        result["msg"] = "%s -> %s%s" % (generation_text(result["from"]), generation_text(result["to"], word=False),
                                        "; passed over %s" % passed if passed else "")
        return result
