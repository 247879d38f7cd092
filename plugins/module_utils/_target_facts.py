# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 2, target facts: what decides which wheels fit this host's Python.

Runs on target hosts: standard library only, Python 3.8+. The wheel tags come from packaging's own
``tags`` module, vendored in ``_vendor_packaging`` (the host has no packaging), so they are exactly
what pip computes there; the marker environment is packaging's ``default_environment()``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import sysconfig

from ansible_collections.airgap.pymigrate.plugins.module_utils._host_runner import active_finder
from ansible_collections.airgap.pymigrate.plugins.module_utils._rollout_check import ENVIRONMENTS_ARGUMENT_SPEC, check
from ansible_collections.airgap.pymigrate.plugins.module_utils._store import FILE_ARGUMENT_SPEC, StoreError
from ansible_collections.airgap.pymigrate.plugins.module_utils._vendor_packaging import tags as _tags

# The target_facts module's options, which its action plugin validates on the control node as well (bundle_dir is the
# action's; slice_id, files and environments are set by the action from it).
ARGUMENT_SPEC = dict(
    space_path=dict(type="path", default="/opt"), store_dir=dict(type="path"), bundle_dir=dict(type="path"),
    compact_tags=dict(type="bool", default=False),
    list_store=dict(type="bool", default=True),
    resolve_only=dict(type="bool", default=False),
    set_fact=dict(type="bool", default=True),
    slice_id=dict(type="str"),
    files=dict(type="list", elements="dict", default=[], options=FILE_ARGUMENT_SPEC),
    # The interpreters the host's environments name (the action reads them from the inventory): each surveyed too.
    absent_paths=dict(type="list", elements="path", default=[]),  # the slice's environments marked absent
    interpreters=dict(type="list", elements="dict", default=[],
                      options=dict(name=dict(type="str", required=True), python=dict(type="path", required=True))),
    **ENVIRONMENTS_ARGUMENT_SPEC,
)
# How long another interpreter may take to say its facts.
INTERPRETER_TIMEOUT = 120


def _format_full_version(info) -> str:
    # Same as packaging.markers._format_full_version.
    version = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version


def marker_environment() -> dict:
    """The PEP 508 marker environment, as packaging.markers.default_environment() gives it."""
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": _format_full_version(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def supported_tags() -> list:
    """Supported wheel tags, most preferred first (packaging.tags.sys_tags order)."""
    return [str(tag) for tag in _tags.sys_tags()]


def compact_tags(tags) -> dict:
    """The tag list, losslessly shorter: runs of tags that share interpreter and ABI, each run's platforms stored
    once (the same platform list recurs for every run). A host's ~700 tags become three strings, which is what the
    controller holds per host for the run (hundreds of hosts): ``platforms``, the distinct platform lists, each
    dot-joined like a compressed tag set (PEP 425); ``runs``, space-separated ``interpreter-abi-index`` into them."""
    platform_lists: list = []
    runs: list = []
    for tag in tags:
        interpreter, abi, platform_tag = tag.split("-")
        if not runs or runs[-1][0] != interpreter or runs[-1][1] != abi:
            runs.append([interpreter, abi, []])
        runs[-1][2].append(platform_tag)
    result = []
    for interpreter, abi, platforms in runs:
        joined = ".".join(platforms)
        if joined not in platform_lists:
            platform_lists.append(joined)
        result.append("%s-%s-%d" % (interpreter, abi, platform_lists.index(joined)))
    return {"platforms": platform_lists, "runs": " ".join(result)}


def expand_tags(compact) -> list:
    """The tag list ``compact_tags`` shortened, in its order."""
    platforms = [item.split(".") for item in compact["platforms"]]
    tags: list = []
    for run in compact["runs"].split():
        interpreter, abi, index = run.split("-")
        tags.extend("%s-%s-%s" % (interpreter, abi, platform_tag) for platform_tag in platforms[int(index)])
    return tags


def _abi_tags() -> list:
    if _tags.interpreter_name() == "cp":
        return _tags._cpython_abis(sys.version_info[:2])  # pylint: disable=protected-access
    return list(_tags._generic_abi())  # pylint: disable=protected-access


def libc() -> tuple:
    """(family, version): ('glibc', '2.36'), ('musl', '1.2') or ('unknown', '')."""
    if not sys.platform.startswith("linux"):
        return "unknown", ""
    glibc = _tags._manylinux._glibc_version_string()  # pylint: disable=protected-access
    if glibc:
        return "glibc", glibc
    musl = _tags._musllinux._get_musl_version(sys.executable)  # pylint: disable=protected-access
    if musl:
        return "musl", "%d.%d" % (musl.major, musl.minor)
    return "unknown", ""


def os_release(path: str = "/etc/os-release") -> dict:
    fields = {}
    try:
        with open(path) as handle:
            for line in handle:
                key, sep, value = line.strip().partition("=")
                if sep:
                    fields[key] = value.strip().strip("\"'")
    except OSError:
        pass
    return {"id": fields.get("ID", ""), "version_id": fields.get("VERSION_ID", ""),
            "pretty_name": fields.get("PRETTY_NAME", "")}


def _module_available(name: str) -> bool:
    import importlib.util
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def tooling_facts() -> dict:
    """Whether pip, venv and ensurepip are usable, without running pip (cheap, no side effects)."""
    import importlib.util
    pip_version = ""
    spec = None
    try:
        spec = importlib.util.find_spec("pip")
    except (ImportError, ValueError):
        pass
    if spec is not None and spec.origin and os.path.isfile(spec.origin):
        with open(spec.origin) as handle:
            for line in handle:
                if line.startswith("__version__"):
                    pip_version = line.split("=", 1)[1].strip().strip("\"'")
                    break
    # A namespace package left behind (e.g. an emptied directory) is not a working pip or ensurepip.
    ensurepip_spec = importlib.util.find_spec("ensurepip") if _module_available("ensurepip") else None
    ensurepip = ensurepip_spec is not None and os.path.isfile(
        os.path.join(os.path.dirname(ensurepip_spec.origin or "/"), "__init__.py"))
    return {"pip": bool(pip_version), "pip_version": pip_version, "venv": _module_available("venv"),
            "ensurepip": ensurepip}


def free_space(path: str) -> dict:
    """Free bytes under ``path``, measured at its nearest existing ancestor (it may not exist yet)."""
    measured = os.path.abspath(path)
    while not os.path.exists(measured):
        parent = os.path.dirname(measured)
        if parent == measured:
            break
        measured = parent
    stat = os.statvfs(measured)
    return {"path": path, "measured_path": measured, "free_bytes": stat.f_bavail * stat.f_frsize}


def store_have(store_dir: str | None) -> list:
    """sha256 of every file in the host's wheel store (its directory names say it: no hashing here)."""
    root = os.path.join(store_dir or "", "files", "sha256")
    if not store_dir or not os.path.isdir(root):
        return []
    return sorted(entry for prefix in os.listdir(root) if os.path.isdir(os.path.join(root, prefix))
                  for entry in os.listdir(os.path.join(root, prefix)))


def collect(space_path: str = "/opt", store_dir: str | None = None, compact: bool = False) -> dict:
    """Everything the control node needs to resolve for this interpreter, JSON-serialisable. ``compact`` gives
    the tags as ``tags_compact`` (see compact_tags) instead of ``tags``."""
    family, version = libc()
    tags = supported_tags()
    machine = platform.machine()
    abis = _abi_tags()
    return {
        "python": {
            "executable": sys.executable,
            "version": platform.python_version(),
            "version_info": list(sys.version_info[:3]),
            "implementation": sys.implementation.name,
            "implementation_version": _format_full_version(sys.implementation.version),
            "interpreter_tag": _tags.interpreter_name() + _tags.interpreter_version(),
            "abi_tags": abis,
            "debug_build": bool(sysconfig.get_config_var("Py_DEBUG")),
            "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
            "pointer_bits": 32 if sys.maxsize <= 2 ** 32 else 64,
        },
        "platform": {
            "system": platform.system(),
            "sys_platform": sys.platform,
            "machine": machine,
            "arch": _tags._normalize_string(sysconfig.get_platform()).split("_", 1)[-1],  # pylint: disable=protected-access
            "libc": family,
            "libc_version": version,
            "byteorder": sys.byteorder,
            "os_release": os_release(),
        },
        "markers": marker_environment(),
        ("tags_compact" if compact else "tags"): compact_tags(tags) if compact else tags,
        "tooling": tooling_facts(),
        "space": free_space(space_path),
        "store_have": store_have(store_dir),
    }


def interpreter_facts(compact: bool = False) -> dict:
    """What decides which wheels fit this interpreter, for an environment built on it: its python facts, marker
    environment, tags and tooling (``collect`` without what is the host's rather than the interpreter's)."""
    facts = collect(compact=compact)
    return {key: facts[key] for key in ("python", "markers", "tags", "tags_compact", "tooling") if key in facts}


class InterpreterError(Exception):
    """An environment's interpreter that does not exist or does not run; says which environment and path."""


# Run by another interpreter of the host: this very file (from the module's payload, whose path is argv[1]), asked for
# that interpreter's facts. -I: nothing of the host's environment (PYTHONPATH, user site) takes part.
SURVEY_RUNNER = ("import json, sys; sys.path.insert(0, sys.argv[1]); "
                 "from ansible_collections.airgap.pymigrate.plugins.module_utils import _target_facts as facts; "
                 "print(json.dumps(facts.interpreter_facts(sys.argv[2] == 'compact')))")


def _payload_root() -> str:
    """The directory (or zip file, as AnsiballZ ships it) that holds ``ansible_collections``."""
    path = os.path.abspath(__file__)
    for _level in range(6):  # _target_facts.py, module_utils, plugins, pymigrate, airgap, ansible_collections
        path = os.path.dirname(path)
    return path


def survey_interpreter(name: str, python: str, compact: bool = False) -> dict:
    """The facts of environment ``name``'s interpreter ``python`` (run once, in isolated mode); InterpreterError
    naming the environment and the path when it does not exist, cannot run, or does not answer."""
    where = "environment %s: its interpreter %s" % (name, python)
    if not os.path.isabs(python) or not os.path.exists(python):
        raise InterpreterError("%s does not exist on this host; install it or set the environment's python to one "
                               "that does" % where)
    if not os.path.isfile(python) or not os.access(python, os.X_OK):
        raise InterpreterError("%s is not an executable file" % where)
    runner = active_finder()  # run from the control node's program (_host_runner): the other one runs the same
    if runner is not None:
        argv = [python, "-I", "-"]
        program = runner.program(__name__, "other_interpreter_facts", {"compact": compact}).encode("utf-8")
    else:  # in the module: this file from the module's payload
        argv = [python, "-I", "-c", SURVEY_RUNNER, _payload_root(), "compact" if compact else "full"]
        program = b""
    try:
        result = subprocess.run(argv, input=program, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                timeout=INTERPRETER_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise InterpreterError("%s did not answer within %d s" % (where, INTERPRETER_TIMEOUT))
    except OSError as exc:
        raise InterpreterError("%s cannot run: %s" % (where, exc.strerror or exc))
    try:
        facts = json.loads(result.stdout.decode("utf-8", "replace")) if result.returncode == 0 else None
    except ValueError:
        facts = None
    if not isinstance(facts, dict) or "markers" not in facts:
        error = result.stderr.decode("utf-8", "replace").strip().splitlines()
        if isinstance(facts, dict) and facts.get("failed"):  # the runner's answer: the error it caught
            error = [str(facts.get("msg"))]
        raise InterpreterError("%s does not run as a Python 3.8 or later (exit %d: %s)"
                               % (where, result.returncode, error[-1] if error else "no output"))
    return facts


def other_interpreter_facts(params, check_mode):
    """interpreter_facts() as _host_runner calls it (another interpreter of the host, run by survey_interpreter)."""
    del check_mode
    return interpreter_facts(params["compact"])


def survey_interpreters(interpreters, own: dict, compact: bool = False) -> dict:
    """{path: facts} of every interpreter the host's environments name (``interpreters``: [{name, python}]); the one
    running this module is not run again (``own``: its facts)."""
    found: dict = {}
    for item in interpreters:
        python = item["python"]
        if python in found:
            continue
        if os.path.exists(python) and os.path.realpath(python) == os.path.realpath(sys.executable):
            found[python] = {key: own[key] for key in ("python", "markers", "tags", "tags_compact", "tooling")
                             if key in own}
            continue
        found[python] = survey_interpreter(item["name"], python, compact)
    return found


RESOLVE_KEYS = ("markers", "tags", "tags_compact")


def for_resolving(facts: dict) -> dict:
    """Only what the control node resolves and builds with: the marker environment, the tags (either form) and the
    interpreter's path (a builder host's), and the same of each environment's own interpreter; the controller keeps
    this per host for the whole run."""
    kept = {key: facts[key] for key in RESOLVE_KEYS if key in facts}
    kept["python"] = {"executable": facts["python"]["executable"]}
    if facts.get("interpreters"):
        kept["interpreters"] = {path: for_resolving(found) for path, found in facts["interpreters"].items()}
    return kept


def survey(params, check_mode):
    """The target_facts module's result for its options ``params`` (validated): the facts, each environment's own
    interpreter's, and with ``slice_id`` what the host holds of its slice of the bundle. Run by the module and, with
    a pipelining connection, by _host_runner (the action's program). A failure is a result with ``failed``."""
    try:
        facts = collect(params["space_path"], params["store_dir"] if params["list_store"] else None,
                        compact=params["compact_tags"])
    except (OSError, ValueError, RuntimeError) as exc:
        return dict(failed=True, msg="could not collect target facts: %s" % exc)
    try:  # each environment's own interpreter, in the same call: one that does not run fails here, before any push
        if params["interpreters"]:
            facts["interpreters"] = survey_interpreters(params["interpreters"], facts, compact=params["compact_tags"])
    except InterpreterError as exc:
        return dict(failed=True, msg=str(exc))
    if params["resolve_only"]:
        facts = for_resolving(facts)
    result = dict(changed=False, target_facts=facts)
    if params["set_fact"]:
        result["ansible_facts"] = {"pymigrate_target_facts": facts}
    if params["slice_id"]:
        # A slice that cannot be checked is no failure of the survey: the push asks again and says why.
        try:
            found = check(params["store_dir"] or "/var/lib/pymigrate/store", params["files"], params["environments"],
                          params["verify_installed"], repair=not check_mode, absent=params["absent_paths"])
            # The push needs how many files are present, not their names: the controller keeps this per host.
            found["store"]["present"] = len(found["store"]["present"])
            result["rollout_check"] = dict(found, slice_id=params["slice_id"], verify=params["verify_installed"])
            # Files with wrong bytes and partial files of an interrupted push were removed (in check mode: would be).
            result["changed"] = bool(found["store"]["corrupt"] or found["store"]["removed_partials"])
        except (StoreError, OSError) as exc:
            result["rollout_check"] = {"slice_id": params["slice_id"], "error": str(exc)}
    return result
