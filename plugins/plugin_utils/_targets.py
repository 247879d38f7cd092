# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 2, target facts -> Target: from target_facts results, a survey file, or a short declaration.

A declaration (``pymigrate_target: {python: "3.12", arch: aarch64, libc: glibc, libc_version: "2.28"}``)
is for hosts the control node cannot reach: the full marker environment and the ordered tag list are
derived with packaging.tags, ordering manylinux/musllinux platforms as packaging does on such a host. Every kind
of interpreter the survey sees can be declared: CPython with the GIL (``abi: cp313``, the default) or without it
(``abi: cp313t``, free-threaded, 3.13 and later), and PyPy (``implementation: pypy``, ``implementation_version``
its release, the ABI ``pypy310_pp73`` derived from it).
Markers on platform_release and platform_version evaluate against "" for a declared target: a
declaration cannot know the kernel.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._target_facts import expand_tags
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import packaging_tags as ptags
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError, Target
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._registered import TARGET_FACTS, read

FACTS = "pymigrate_target_facts"
MARKER_KEYS = ("implementation_name", "implementation_version", "os_name", "platform_machine", "platform_release",
               "platform_system", "platform_version", "python_full_version", "platform_python_implementation",
               "python_version", "sys_platform")
DECLARATION_KEYS = ("python", "python_full", "arch", "libc", "libc_version", "implementation", "implementation_version",
                    "os", "abi")
# Accepted values of ``implementation``, with their platform_python_implementation marker.
IMPLEMENTATIONS = {"cpython": "CPython", "pypy": "PyPy"}
MANYLINUX_ARCHES = ("x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x", "riscv64", "loongarch64")
# Legacy manylinux aliases, by the glibc version they stand for (PEP 600).
LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}


def reported_facts(variables: t.Mapping) -> t.Mapping | None:
    """The facts airgap.pymigrate.target_facts reported for a host in this run, or None: its registered result
    (``__pymigrate_target_facts.target_facts``; migrate.yml sets no fact) or the fact ``pymigrate_target_facts``."""
    registered = variables.get(TARGET_FACTS)
    if isinstance(registered, t.Mapping) and isinstance(registered.get("target_facts"), t.Mapping):
        return registered["target_facts"]
    return (variables.get("ansible_facts") or {}).get(FACTS) or variables.get(FACTS)


REPORTED = (TARGET_FACTS, "ansible_facts", FACTS)  # the names reported_facts reads


def host_facts(every_host: t.Any, host: str) -> t.Mapping | None:
    """``reported_facts`` of ``host`` in ``hostvars``, read as stored (``_registered.read``): a fleet's readers take
    every host's facts, and Ansible would template (copy) each host's on every read."""
    return reported_facts(read(every_host, host, REPORTED))


def target_from_facts(facts: t.Mapping, host: str | None = None, shared: dict | None = None) -> Target:
    """A Target from a target_facts result (or the same dict from a survey file).

    ``shared``, a dict the caller keeps over a fleet's hosts, makes the hosts with the same facts share one Target
    (a Target is immutable): a host's tag list is hundreds of strings (about 80 KB), and a fleet has few distinct
    ones."""
    try:
        key = (tuple(sorted(facts["markers"].items())),
               tuple(facts["tags"]) if "tags" in facts
               else (tuple(facts["tags_compact"]["platforms"]), facts["tags_compact"]["runs"]))
        hash(key)
    except (KeyError, TypeError, AttributeError):
        key = None  # reported below, as without ``shared``
    if shared is not None and key is not None and key in shared:
        return shared[key]
    try:
        markers = dict(facts["markers"])
        tags = list(facts["tags"]) if "tags" in facts else expand_tags(facts["tags_compact"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        raise PyMigrateError("target facts lack 'markers' and 'tags'", host=host,
                             hint="Run airgap.pymigrate.target_facts on the host or re-create the survey file")
    missing = [name for name in MARKER_KEYS if name not in markers]
    if missing or not tags:
        raise PyMigrateError("target facts are incomplete (missing %s)" % (", ".join(missing) or "tags"), host=host)
    target = Target(markers=markers, tags=tuple(tags), source="facts")
    if shared is not None and key is not None:
        shared[key] = target
    return target


def _glibc_platforms(arch: str, major: int, minor: int) -> list:
    """manylinux tags newest first, as packaging._manylinux.platform_tags orders them for this glibc."""
    platforms = []
    # Every glibc minor from the host's down to the oldest manylinux supports for the arch (2.5 on x86,
    # 2.17 elsewhere), each followed by its legacy alias.
    floor = 5 if arch in ("x86_64", "i686") else 17
    for glibc_minor in range(minor, floor - 1, -1):
        platforms.append("manylinux_%d_%d_%s" % (major, glibc_minor, arch))
        legacy = LEGACY_MANYLINUX.get((major, glibc_minor))
        if legacy:
            platforms.append("%s_%s" % (legacy, arch))
    return platforms


def _musl_platforms(arch: str, major: int, minor: int) -> list:
    return ["musllinux_%d_%d_%s" % (major, musl_minor, arch) for musl_minor in range(minor, -1, -1)]


def target_from_declaration(decl: t.Mapping, host: str | None = None, var: str = "pymigrate_target",
                            shared: dict | None = None) -> Target:
    """A Target from a declaration; ``shared`` as for target_from_facts (the same declaration, the same Target)."""
    try:
        key = ("declared",) + tuple(sorted((str(name), repr(value)) for name, value in decl.items()))
    except AttributeError:
        key = None
    if shared is not None and key is not None and key in shared:
        return shared[key]
    target = _declared(decl, host, var)
    if shared is not None and key is not None:
        shared[key] = target
    return target


def _declared(decl: t.Mapping, host: str | None, var: str) -> Target:
    if not isinstance(decl, t.Mapping):
        raise PyMigrateError("must be a dict such as {python: '3.12', arch: x86_64, libc: glibc, libc_version: '2.28'}",
                             host=host, var=var, value=decl)
    unknown = sorted(set(decl) - set(DECLARATION_KEYS))
    if unknown:
        raise PyMigrateError("unknown key(s) %s" % ", ".join(unknown), host=host, var=var, value=dict(decl),
                             hint="Allowed keys: %s" % ", ".join(DECLARATION_KEYS))
    python, minor, full = _declared_python(decl, host, var)
    platforms, arch = _declared_platforms(decl, host, var)
    implementation = str(decl.get("implementation", "cpython"))
    if implementation not in IMPLEMENTATIONS:
        raise PyMigrateError("implementation must be %s (other interpreters: survey them with target_facts)"
                             % " or ".join(IMPLEMENTATIONS), host=host, var=var + ".implementation",
                             value=decl.get("implementation"))
    if str(decl.get("os", "linux")) != "linux":
        raise PyMigrateError("os must be linux: only linux targets can be declared", host=host, var=var + ".os",
                             value=decl.get("os"))
    version = (3, minor)
    if implementation == "pypy":
        abi, implementation_version = _declared_pypy(decl, minor, host, var)
        interpreter = "pp3%d" % minor
        tag_list = [str(tag) for tag in ptags.generic_tags(interpreter, [abi], platforms)]
        tag_list += [str(tag) for tag in ptags.compatible_tags(version, "pp3", platforms)]
    else:
        abi, implementation_version = _declared_cpython_abi(decl, minor, host, var), full
        interpreter = "cp3%d" % minor
        tag_list = [str(tag) for tag in ptags.cpython_tags(version, [abi], platforms)]
        tag_list += [str(tag) for tag in ptags.compatible_tags(version, interpreter, platforms)]
    markers = {
        "implementation_name": implementation,
        "implementation_version": implementation_version,
        "os_name": "posix",
        "platform_machine": arch,
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": full,
        "platform_python_implementation": IMPLEMENTATIONS[implementation],
        "python_version": python,
        "sys_platform": "linux",
    }
    return Target(markers=markers, tags=tuple(tag_list), source="declared")


def _declared_python(decl: t.Mapping, host: str | None, var: str) -> tuple:
    """(python "3.12", minor 12, python_full "3.12.0") of a declaration."""
    if isinstance(decl.get("python"), float):
        raise PyMigrateError("python must be a string: YAML reads an unquoted version as a number (3.10 becomes "
                             "3.1); quote it", host=host, var=var + ".python", value=decl["python"],
                             hint='Write python: "%s0" or python: "%s"' % (decl["python"], decl["python"]))
    python = str(decl.get("python", ""))
    match = re.match(r"^3\.(\d+)$", python)
    if not match:
        raise PyMigrateError('python must look like "3.12"', host=host, var=var + ".python", value=decl.get("python"))
    full = str(decl.get("python_full") or "%s.0" % python)
    if not re.match(r"^%s\.\d+([abc]|rc)?\d*$" % re.escape(python), full):
        raise PyMigrateError('python_full must start with python and look like "%s.4"' % python, host=host,
                             var=var + ".python_full", value=full)
    return python, int(match.group(1)), full


def _declared_platforms(decl: t.Mapping, host: str | None, var: str) -> tuple:
    """(platform tags newest first, arch) for the declared arch, libc and libc_version."""
    arch = str(decl.get("arch", "x86_64"))
    if arch not in MANYLINUX_ARCHES:
        raise PyMigrateError("unknown arch", host=host, var=var + ".arch", value=arch,
                             hint="Known: %s" % ", ".join(MANYLINUX_ARCHES))
    libc = str(decl.get("libc", "glibc"))
    if libc not in ("glibc", "musl"):
        raise PyMigrateError("libc must be glibc or musl", host=host, var=var + ".libc", value=libc)
    libc_version = str(decl.get("libc_version", "2.17" if libc == "glibc" else "1.2"))
    lmatch = re.match(r"^(\d+)\.(\d+)$", libc_version)
    if not lmatch:
        raise PyMigrateError('libc_version must look like "2.28"', host=host, var=var + ".libc_version",
                             value=libc_version)
    major_l, minor_l = int(lmatch.group(1)), int(lmatch.group(2))
    if libc == "glibc":
        platforms = _glibc_platforms(arch, major_l, minor_l)
    else:
        platforms = _musl_platforms(arch, major_l, minor_l)
    platforms.append("linux_%s" % arch)
    return platforms, arch


def _declared_cpython_abi(decl: t.Mapping, minor: int, host: str | None, var: str) -> str:
    """``cp312``, or ``cp313t`` for a free-threaded build (3.13 and later); implementation_version is python_full."""
    if decl.get("implementation_version") is not None:
        raise PyMigrateError("implementation_version is only for pypy (CPython's is python_full)", host=host,
                             var=var + ".implementation_version", value=decl.get("implementation_version"))
    abi = str(decl.get("abi") or "cp3%d" % minor)
    accepted = ["cp3%d" % minor] + (["cp3%dt" % minor] if minor >= 13 else [])
    if abi not in accepted:
        raise PyMigrateError("abi must be %s for a CPython 3.%d target%s" % (
            " or ".join(accepted), minor, " (free-threaded builds begin with 3.13)" if minor < 13 else
            " (%s: the free-threaded build, without the GIL)" % accepted[-1]),
            host=host, var=var + ".abi", value=decl.get("abi"))
    return abi


def _declared_pypy(decl: t.Mapping, minor: int, host: str | None, var: str) -> tuple:
    """(abi ``pypy310_pp73``, implementation_version ``7.3.17``) of a PyPy declaration: the ABI follows the PyPy
    release (7.3 -> pp73) as PyPy's own EXT_SUFFIX does."""
    implementation_version = str(decl.get("implementation_version") or "7.3.0")
    match = re.match(r"^(\d+)\.(\d+)\.\d+$", implementation_version)
    if not match:
        raise PyMigrateError('implementation_version must be a PyPy release such as "7.3.17"', host=host,
                             var=var + ".implementation_version", value=decl.get("implementation_version"))
    expected = "pypy3%d_pp%s%s" % (minor, match.group(1), match.group(2))
    abi = str(decl.get("abi") or expected)
    if abi != expected:
        raise PyMigrateError("abi must be %s for PyPy %s (Python 3.%d)" % (expected, implementation_version, minor),
                             host=host, var=var + ".abi", value=decl.get("abi"))
    return abi, implementation_version


def interpreter_label(target: Target) -> str:
    """The interpreter as profile names and messages call it: ``cp312``, ``cp313t`` (free-threaded: its ABI, not
    ``cp313``, whose wheels it cannot load), ``pp310``; from the target's best tag, else from its markers."""
    if target.tags:
        interpreter, abi = (target.tags[0].split("-") + [""])[:2]
        return abi if abi.startswith(interpreter) and abi[len(interpreter):] in ("t", "d", "td") else interpreter
    markers = target.markers
    implementation = {"cpython": "cp", "pypy": "pp"}.get(markers.get("implementation_name", ""), "py")
    return implementation + markers.get("python_version", "").replace(".", "")


def describe(target: Target) -> dict:
    """A short summary of a target for manifests and messages."""
    return {"python": target.markers.get("python_full_version"),
            "implementation": target.markers.get("implementation_name"),
            "machine": target.markers.get("platform_machine"), "best_tags": list(target.tags[:3]),
            "source": target.source}
