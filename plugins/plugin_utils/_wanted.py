# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 1, inventory -> wanted set: requirements layered all -> group -> host, per environment.

Ansible already merges group_vars into hostvars (a host value replaces a group value of the SAME name),
which cannot express "a host pin overrides one package of the group's list". So each layer has its own
variable and the layers are merged here, per normalized project name:

    pymigrate_requirements (all) -> the group sets -> pymigrate_host_requirements

Values are version specifiers (">=2.31", "==1.26.4", "" for any); ``absent`` removes the package.
Several environments per host come from ``pymigrate_envs`` -> the group sets of environments ->
``pymigrate_host_envs`` (the same layering, per environment); without them the single-env variables
describe one environment named ``default`` at ``pymigrate_venv_path``.

A host is in many groups, and Ansible keeps one value per variable name. So the group level is not one variable
but a family: ``pymigrate_group_requirements`` and every ``pymigrate_group_requirements_<name>`` (each group its
own, e.g. ``..._web``, ``..._data``; likewise ``pymigrate_group_envs[_<name>]``), which all reach the host under
their own names and are combined here, the plain name first, then by name: a project in two sets must mean the
same (equal pins, or one of them "any"); two different pins, or a pin and ``absent``, fail naming both groups, the
project and both specifiers. Where two groups of a host set the same name, Ansible drops one of the sets; the bundle
action, which can read each group's own variables, warns naming them (``group_origins``). docs/inventory.md.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._venv import MODULE_NAME
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import (
    InvalidRequirement,
    InvalidSpecifier,
    Requirement,
    SpecifierSet,
    canonicalize_name,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError, WantedSet
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._reqfile import (
    as_layer,
    constraints_of,
    read_requirements_file,
)

GROUP_REQUIREMENTS = "pymigrate_group_requirements"
GROUP_ENVS = "pymigrate_group_envs"
ENV_KEYS = ("path", "python", "requirements", "requirements_file", "constraints", "smoke_imports",
            "allow_prereleases", "strategy", "base_image", "image_name", "state")
# An environment's state: present (built and kept as its lock says) or absent (removed from the host).
ENV_STATES = ("present", "absent")
STRATEGIES = ("venv", "image")
# Inside an image the environment's interpreter is the base image's; the venv lives at the usual path.
DEFAULT_IMAGE_PYTHON = "/usr/bin/python3"
IMAGE_NAME = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._/-][a-z0-9]+)*)*$")
DEFAULT_VENV_PATH = "/opt/pymigrate/venv"
# Environments never go here: the operating system's own trees (under /usr only /usr/local is for local software).
SYSTEM_DIRS = ("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/opt", "/proc", "/root",
               "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/local", "/var")
# Directories every user may write (sticky): an environment directly in one is refused by the host, whose rule
# (module_utils/_store.check_owned) wants its parent writable by root alone; the control node refuses it first.
SHARED_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/shm", "/run/lock", "/var/lock")
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr")
ABSENT = "absent"


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """One environment of one host: where it lives, which interpreter builds it, what it must hold."""

    name: str
    path: str
    python: str | None
    wanted: WantedSet
    smoke_imports: tuple = ()
    # None for a venv on the host; for the image strategy {"strategy": "image", "base_image", "image_name"}.
    carrier: t.Mapping | None = None


def _parse_entry(host: str, var: str, project: t.Any, spec: t.Any) -> tuple:
    """(normalized name, requirement string) or (name, None) for ``absent``."""
    where = dict(host=host, var="%s.%s" % (var, project), value=spec)
    if not isinstance(project, str) or not project.strip():
        raise PyMigrateError("project names must be non-empty strings", host=host, var=var, value=project)
    if isinstance(spec, bool) or isinstance(spec, (int, float)):
        raise PyMigrateError("a version specifier must be a string", hint='Quote it, e.g. "==%s"' % spec, **where)
    if spec is None:
        spec = ""
    if not isinstance(spec, str):
        raise PyMigrateError("a version specifier must be a string", **where)
    spec = spec.strip()
    try:
        requirement = Requirement(project.strip())
    except InvalidRequirement as exc:
        raise PyMigrateError("not a valid project name (extras allowed, as in uvicorn[standard]): %s" % exc,
                             host=host, var=var, value=project)
    if requirement.specifier or requirement.marker or requirement.url:
        raise PyMigrateError("put only the project name (and extras) in the key; the version goes in the value",
                             host=host, var=var, value=project)
    name = canonicalize_name(requirement.name)
    if spec.lower() == ABSENT:
        return name, None
    if ";" in spec:
        raise PyMigrateError("environment markers are not allowed in a pin: each host's own facts decide",
                             **where)
    try:
        specifier = SpecifierSet(spec)
    except InvalidSpecifier:
        hint = None
        if spec[:1].isdigit():
            hint = 'Did you mean "==%s"?' % spec
        elif spec.startswith("=>") or spec.startswith("=<"):
            hint = 'Did you mean "%s%s"?' % (spec[1], spec[0] + spec[2:])
        raise PyMigrateError("malformed version specifier", hint=hint or "Use PEP 440 specifiers such as \">=2.31,<3\"",
                             **where)
    extras = "[%s]" % ",".join(sorted(requirement.extras)) if requirement.extras else ""
    return name, "%s%s%s" % (name, extras, specifier)


def _layer_dict(host: str, var: str, value: t.Any) -> dict:
    """{project (with extras): specifier} from a dict (as written in inventory), a list of PEP 508 strings, or text:
    JSON, or one requirement a line with # comments (what an AWX survey sends)."""
    if value is None:
        return {}
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "["):
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise PyMigrateError("is not valid JSON (%s)" % exc, host=host, var=var, value=value)
        else:
            value = [line.split("#", 1)[0].strip() for line in text.splitlines()]
            value = [line for line in value if line]
    if isinstance(value, (list, tuple)):
        return _requirement_list(host, var, value)
    if not isinstance(value, t.Mapping):
        raise PyMigrateError("must be a dict of project name to version specifier, a list of requirements such as "
                             "\"requests>=2.31\", or one requirement a line", host=host, var=var, value=value)
    return dict(value)


def _requirement_list(host: str, var: str, items: t.Sequence) -> dict:
    """{project (with extras): specifier} of a list or text of requirements. A project listed twice with other
    specifiers is refused naming both lines, as pip refuses them (the last line silently won before); the same line
    twice, or the same project spelt otherwise with the same specifier, counts once."""
    found: dict = {}
    first: dict = {}
    for item in items:
        key, spec = _split_requirement(host, var, item)
        name, _bracket, extras = key.partition("[")
        canonical = (str(canonicalize_name(name)), extras)
        if canonical not in first:
            first[canonical] = (key, item)
            found[key] = spec
        elif found[first[canonical][0]] != spec:
            name = first[canonical][0].partition("[")[0]
            raise PyMigrateError("lists %s twice with different specifiers: %r and %r (pip refuses such a double "
                                 "requirement; only the last counted before)" % (name, first[canonical][1], item),
                                 host=host, var=var, value=[first[canonical][1], item],
                                 hint="Keep one line for %s, with the specifier you mean" % name)
    return found


def _split_requirement(host: str, var: str, item: t.Any) -> tuple:
    """``"uvicorn[standard]>=0.30"`` -> (``"uvicorn[standard]"``, ``">=0.30"``), checked as PEP 508."""
    if not isinstance(item, str):
        raise PyMigrateError("requirements in a list must be strings such as \"requests>=2.31\"", host=host, var=var,
                             value=item)
    try:
        requirement = Requirement(item)
    except InvalidRequirement as exc:
        raise PyMigrateError("not a valid requirement: %s" % exc, host=host, var=var, value=item)
    if requirement.marker or requirement.url:
        raise PyMigrateError("environment markers and URLs are not allowed in a pin: each host's own facts decide",
                             host=host, var=var, value=item)
    extras = "[%s]" % ",".join(sorted(requirement.extras)) if requirement.extras else ""
    return requirement.name + extras, str(requirement.specifier)


@dataclasses.dataclass(frozen=True)
class FileLayer:
    """A requirements file read in pip's format (_reqfile.py): its requirements (markers kept, for each target to
    decide), constraints and --hash values."""

    requirements: t.Mapping[str, str]
    constraints: t.Mapping[str, str]
    hashes: t.Mapping[str, tuple]


def read_file_layer(host: str, var: str, path: t.Any, constraints_only: bool = False) -> FileLayer:
    """A requirements file, or with ``constraints_only`` a constraints file (pip's ``-c``: every line a constraint)."""
    if not isinstance(path, str) or not path.strip():
        raise PyMigrateError("must be the path of a requirements file on the control node", host=host, var=var,
                             value=path)
    rf = read_requirements_file(os.path.expanduser(path), host=host, var=var)
    requirements, constraints = ({}, constraints_of(rf)) if constraints_only else as_layer(rf)
    hashes = {name: tuple(sorted(h.split(":", 1)[1] for h in found))
              for name, _text, found in list(rf.requirements) + list(rf.constraints) if found}
    return FileLayer(requirements, constraints, hashes)


# -- one level of layering: all, group (several sets), host -----------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Level:
    """One level of the layering as parsed entries, {normalized name: requirement string, or None for ``absent``
    (removes the project from the levels below)}, and the requirements files it read (their constraints and hashes
    apply too)."""

    entries: t.Mapping[str, str | None]
    files: t.Sequence[FileLayer] = ()


def group_sets(hostvars: t.Mapping, base: str, files: bool = True) -> list:
    """The group-level sets of one kind among a host's variables: ``base`` itself and every ``<base>_<name>`` (one
    group's own set, such as pymigrate_group_requirements_web), the plain name first, then by name. With ``files``
    a name ending in ``_file`` is the requirements file of the set named without it."""
    names = set()
    for key in hostvars:
        if isinstance(key, str) and (key == base or key.startswith(base + "_")):
            names.add(key[:-len("_file")] if files and key.endswith("_file") else key)
    present = [name for name in names
               if hostvars.get(name) is not None or (files and hostvars.get(name + "_file"))]
    return sorted(present, key=lambda name: (name != base, name))


def _entries(host: str, var: str, value: t.Any) -> dict:
    """{normalized name: requirement string or None (absent)} of one inline set."""
    entries: dict = {}
    for project, spec in _layer_dict(host, var, value).items():
        name, requirement = _parse_entry(host, var, project, spec)
        entries[name] = requirement
    return entries


def _who(var: str, origins: t.Mapping) -> str:
    """How a message names a set: its groups when the inventory says which define it, else the variable."""
    base = var.split(".", 1)[0]
    groups = origins.get(base) or ()
    return "group %s" % " and ".join(groups) if groups else base


def _agree(first: str | None, second: str | None) -> str | None:
    """The one requirement two sets of a level mean for a project, or raises ValueError when they differ: equal
    texts, or one without a specifier (any version) and the other with one; extras are joined."""
    if first == second:
        return first
    if first is None or second is None:
        raise ValueError("absent")
    one, two = Requirement(first), Requirement(second)
    if str(one.marker) != str(two.marker) or (one.specifier and two.specifier and one.specifier != two.specifier):
        raise ValueError("differ")
    extras = sorted(set(one.extras) | set(two.extras))
    marker = one.marker or two.marker
    return "%s%s%s%s" % (canonicalize_name(one.name), "[%s]" % ",".join(extras) if extras else "",
                         one.specifier or two.specifier, "; %s" % marker if marker else "")


def combine_sets(host: str, sets: t.Sequence[tuple], origins: t.Mapping, what: str = "") -> dict:
    """The entries of several sets of one level ([(variable, entries)], in order) as one: a project in two sets must
    mean the same (see ``_agree``); two different pins, or a pin and ``absent``, fail naming both groups (or
    variables), the project and both specifiers. ``what`` says whose requirements (an environment)."""
    combined: dict = {}
    source: dict = {}
    for var, entries in sets:
        for name, requirement in entries.items():
            if name not in combined:
                combined[name], source[name] = requirement, var
                continue
            try:
                before, combined[name] = combined[name], _agree(combined[name], requirement)
                if before is not None and not Requirement(before).specifier:
                    source[name] = var  # the set that pins it speaks for it from now on
            except ValueError:
                first = source[name]
                raise PyMigrateError(
                    "%s and %s give %s%s different pins: %s (%s) and %s (%s); a group's set adds to the others, it "
                    "cannot override them" % (
                        _who(first, origins), _who(var, origins), name, what, combined[name] or "absent", first,
                        requirement or "absent", var),
                    host=host, var=var, value=requirement or ABSENT,
                    hint="Pin %s once, in a set that all these hosts share (or per host in "
                         "pymigrate_host_requirements)" % name)
    return combined


def _requirement_level(host: str, hostvars: t.Mapping, names: t.Sequence[str], origins: t.Mapping) -> Level:
    """One level of the single-environment form: each set's requirements file, then its inline entries (which win
    per package within the set), the sets combined."""
    sets, files = [], []
    for var in names:
        own: dict = {}
        if hostvars.get(var + "_file"):
            layer = read_file_layer(host, var + "_file", hostvars[var + "_file"])
            files.append(layer)
            own.update(layer.requirements)
        own.update(_entries(host, var, hostvars.get(var)))
        sets.append((var, own))
    return Level(combine_sets(host, sets, origins), files)


def merge_layers(host: str, levels: t.Sequence[Level]) -> dict:
    """Levels lowest first -> {normalized name: requirement string}; a later level wins per package, and its
    ``absent`` removes the package."""
    del host  # (named in the errors the levels raise when they are read)
    merged: dict[str, str] = {}
    for level in levels:
        for name, requirement in level.entries.items():
            if requirement is None:
                merged.pop(name, None)
            else:
                merged[name] = requirement
    return merged


def _wanted_set(host: str, levels: t.Sequence[Level], files: t.Sequence[FileLayer], constraints: t.Mapping,
                prereleases: bool) -> WantedSet:
    """The merged levels, the constraints (plus -c lines of the requirements files) and the --hash values of the
    projects that are wanted or constrained."""
    requirements = merge_layers(host, levels)
    constraints = dict(constraints)
    hashes: dict = {}
    for layer in list(files) + [layer for level in levels for layer in level.files]:
        for name, spec in layer.constraints.items():
            constraints.setdefault(name, spec)
        hashes.update((name, found) for name, found in layer.hashes.items()
                      if name in requirements or name in constraints)
    return WantedSet(requirements, constraints, prereleases, hashes)


def _constraints(host: str, var: str, value: t.Any) -> dict:
    constraints = {}
    for project, spec in _layer_dict(host, var, value).items():
        name, requirement = _parse_entry(host, var, project, spec)
        if requirement is not None:
            constraints[name] = str(Requirement(requirement).specifier)
    return constraints


def _bool(host: str, var: str, value: t.Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.lower() in ("true", "yes", "1")
    raise PyMigrateError("must be a boolean", host=host, var=var, value=value)


def _string_list(host: str, var: str, value: t.Any) -> tuple:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise PyMigrateError("must be a list of strings", host=host, var=var, value=value)
    return tuple(value)


def _module_names(host: str, var: str, value: t.Any) -> tuple:
    """Smoke imports: module names only; the host imports them by name, no inventory text becomes code."""
    names = _string_list(host, var, value)
    bad = [name for name in names if not MODULE_NAME.match(name)]  # the host checks again with the same pattern
    if bad:
        raise PyMigrateError("smoke imports must be dotted module names such as yaml or email.mime", host=host,
                             var=var, value=bad[0])
    return names


def _env_path(host: str, var: str, path: t.Any) -> str:
    """An environment path the host can safely own: absolute, normalised, outside the system's own trees."""
    if not isinstance(path, str) or not os.path.isabs(path):
        raise PyMigrateError("must be an absolute path on the host", host=host, var=var, value=path)
    if os.path.normpath(path) != path or "//" in path:
        raise PyMigrateError("must be normalised (no '..', '.', '//' or trailing '/')", host=host, var=var,
                             value=path, hint="Did you mean %s?" % os.path.normpath(path))
    in_tree = any(path.startswith(tree + "/") for tree in SYSTEM_TREES) and not path.startswith("/usr/local/")
    if path in SYSTEM_DIRS or in_tree:
        raise PyMigrateError("is a system directory or lies in one; environments get a directory of their own",
                             host=host, var=var, value=path, hint="Use a path such as /opt/<app>/venv")
    if os.path.dirname(path) in SHARED_DIRS:
        raise PyMigrateError("lies directly in %s, which every user may write: the host refuses it (another user "
                             "could replace what is installed there)" % os.path.dirname(path), host=host, var=var,
                             value=path, hint="Use a directory of its own, such as /opt/<app>/venv")
    if any(ord(char) < 32 or char == "\x7f" for char in path):
        raise PyMigrateError("has a control character", host=host, var=var, value=path)
    return path


def _not_nested(host: str, paths: t.Sequence[str]) -> None:
    """No environment of a host lies inside another's directory (its symlink leads into that one's generations)."""
    for inner in paths:
        outer = [other for other in paths if inner.startswith(other + "/")]
        if outer:
            raise PyMigrateError("one environment lies inside another (%s inside %s)" % (inner, outer[0]),
                                 host=host, var="pymigrate_envs", value=sorted(paths),
                                 hint="Give each environment a directory of its own")


def _not_empty(host: str, var: str, wanted: WantedSet, allow_empty: bool) -> WantedSet:
    if not wanted.requirements and not allow_empty:
        raise PyMigrateError("no requirement: installing it would empty the environment", host=host, var=var,
                             hint="Set pymigrate_allow_empty: true if an empty environment is what you mean")
    return wanted


def _carrier(host: str, env_name: str, settings: t.Mapping, hostvars: t.Mapping) -> dict | None:
    """The image strategy's settings of one environment (``settings``: {key: (variable, value)} of the environment,
    else the pymigrate_ variable), or None for a venv built on the host."""
    def setting(key):
        return settings.get(key) or ("pymigrate_" + key, hostvars.get("pymigrate_" + key))
    var, strategy = setting("strategy")
    strategy = strategy or "venv"
    if strategy not in STRATEGIES:
        raise PyMigrateError("must be venv or image", host=host, var=var, value=strategy)
    if strategy == "venv":
        return None
    base_var, base = setting("base_image")
    if not isinstance(base, str) or not base.strip():
        raise PyMigrateError("the image strategy needs a base image the site trusts: an image in the control node's "
                             "image store or an OCI/docker archive file", host=host, var=base_var, value=base,
                             hint="Set pymigrate_base_image, for example registry.example.com/python:3.11")
    name_var, name = setting("image_name")
    name = name or "localhost/pymigrate-%s" % env_name
    if not isinstance(name, str) or not IMAGE_NAME.match(name):
        raise PyMigrateError("must be an image repository name without a tag, such as localhost/app-env",
                             host=host, var=name_var, value=name)
    return {"strategy": "image", "base_image": base.strip(), "image_name": name}


SETTING_KEYS = ("path", "python", "smoke_imports", "allow_prereleases", "strategy", "base_image", "image_name",
                "state")


@dataclasses.dataclass(frozen=True)
class Globals:
    """What every environment of a host starts from: the single-environment levels, the files read for them (their
    constraints and hashes apply to every environment), the constraints and the defaults."""

    levels: t.Sequence[Level]
    files: t.Sequence[FileLayer]
    constraints: t.Mapping[str, str]
    prereleases: bool
    smoke: tuple
    allow_empty: bool


def _globals(host: str, hostvars: t.Mapping, origins: t.Mapping) -> Globals:
    levels = [_requirement_level(host, hostvars, names, origins) for names in (
        ["pymigrate_requirements"], group_sets(hostvars, GROUP_REQUIREMENTS), ["pymigrate_host_requirements"])]
    files = [layer for level in levels for layer in level.files]
    constraints = _constraints(host, "pymigrate_constraints", hostvars.get("pymigrate_constraints"))
    if hostvars.get("pymigrate_constraints_file"):
        # A constraints file's lines are constraints; the inline variable wins per package.
        constraint_file = read_file_layer(host, "pymigrate_constraints_file", hostvars["pymigrate_constraints_file"],
                                          constraints_only=True)
        files.append(constraint_file)
        constraints = dict(constraint_file.constraints, **constraints)
    return Globals(levels, files, constraints,
                   _bool(host, "pymigrate_allow_prereleases", hostvars.get("pymigrate_allow_prereleases", False)),
                   _module_names(host, "pymigrate_smoke_imports", hostvars.get("pymigrate_smoke_imports")),
                   _bool(host, "pymigrate_allow_empty", hostvars.get("pymigrate_allow_empty", False)))


def env_levels(host: str, hostvars: t.Mapping) -> list:
    """The environment sets of a host by level, each a list of (variable, {env name: settings}): pymigrate_envs
    (all), the group sets (pymigrate_group_envs and every pymigrate_group_envs_<name>), pymigrate_host_envs; each
    set checked for its shape."""
    levels = []
    for names in (["pymigrate_envs"], group_sets(hostvars, GROUP_ENVS, files=False), ["pymigrate_host_envs"]):
        level = []
        for var in names:
            envs = hostvars.get(var)
            if envs is None:
                continue
            if not isinstance(envs, t.Mapping):
                raise PyMigrateError("must be a dict of environment name to settings", host=host, var=var, value=envs)
            for env_name, settings in envs.items():
                where = "%s.%s" % (var, env_name)
                if not isinstance(settings, t.Mapping):
                    raise PyMigrateError("must be a dict of settings such as path and requirements", host=host,
                                         var=where, value=settings)
                unknown = sorted(set(settings) - set(ENV_KEYS))
                if unknown:
                    raise PyMigrateError("unknown key(s) %s" % ", ".join(unknown), host=host, var=where,
                                         value=dict(settings), hint="Allowed keys: %s" % ", ".join(ENV_KEYS))
            level.append((var, envs))
        if level:
            levels.append(level)
    return levels


def _env_settings(host: str, env_name: str, sets: t.Sequence[tuple], origins: t.Mapping) -> dict:
    """{key: (variable, value)} of the settings one level's sets give an environment; two sets giving one key two
    values fail naming both."""
    settings: dict = {}
    for var, given in sets:
        where = "%s.%s" % (var, env_name)
        for key in SETTING_KEYS:
            if key not in given:
                continue
            if key in settings and settings[key][1] != given[key]:
                first, value = settings[key]
                raise PyMigrateError("%s and %s give environment %s different %s: %r (%s) and %r (%s)"
                                     % (_who(first, origins), _who(where, origins), env_name, key, value, first,
                                        given[key], where + "." + key),
                                     host=host, var=where + "." + key, value=given[key],
                                     hint="Set it once, in a set that all these hosts share")
            settings.setdefault(key, (where + "." + key, given[key]))
    return settings


def _env_level(host: str, env_name: str, sets: t.Sequence[tuple], origins: t.Mapping) -> tuple:
    """(settings, Level, constraints) one level gives an environment: its sets' settings, requirements (each set's
    file, then its inline entries) and constraints (every set's apply, as pip applies every constraint)."""
    requirement_sets: list = []
    files: list = []
    constraints: dict = {}
    for var, given in sets:
        where = "%s.%s" % (var, env_name)
        own: dict = {}
        if given.get("requirements_file"):
            layer = read_file_layer(host, where + ".requirements_file", given["requirements_file"])
            files.append(layer)
            own.update(layer.requirements)
        own.update(_entries(host, where + ".requirements", given.get("requirements")))
        requirement_sets.append((where + ".requirements", own))
        for project, spec in _constraints(host, where + ".constraints", given.get("constraints")).items():
            constraints[project] = spec if constraints.get(project) in (None, spec) else "%s,%s" % (
                constraints[project], spec)
    level = Level(combine_sets(host, requirement_sets, origins, what=" in environment %s" % env_name), files)
    return _env_settings(host, env_name, sets, origins), level, constraints


def _by_env(level: t.Sequence[tuple]) -> list:
    """[(env name, [(variable, settings), ...])] of one level's sets, by environment name."""
    names = sorted({str(name) for _var, envs in level for name in envs})
    return [(env_name, [(var, envs[name]) for var, envs in level for name in envs if str(name) == env_name])
            for env_name in names]


def _python(host: str, env: t.Mapping) -> str | None:
    python_var, python = env.get("python", (None, None))
    if python is not None and (not isinstance(python, str) or not os.path.isabs(python)):
        raise PyMigrateError("python must be an absolute interpreter path on the host", host=host,
                             var=python_var, value=python)
    return python


def _state(host: str, env: t.Mapping) -> str:
    var, state = env.get("state", (None, "present"))
    if state not in ENV_STATES:
        raise PyMigrateError("state must be present or absent", host=host, var=var, value=state)
    return state


def _absent_path(host: str, env_name: str, env: t.Mapping, hostvars: t.Mapping) -> str:
    """The path of an environment marked absent: removed from the host, so it must be one the host builds."""
    var, strategy = env.get("strategy", ("pymigrate_strategy", hostvars.get("pymigrate_strategy")))
    if (strategy or "venv") != "venv":
        raise PyMigrateError("state absent removes an environment built on the host (strategy venv); an image "
                             "environment stays in the host's image store", host=host, var=var, value=strategy)
    return _env_path(host, *env.get("path", ("pymigrate_envs.%s.path" % env_name, None)))


def env_interpreters(host: str, hostvars: t.Mapping) -> dict:
    """{env name: interpreter path} of the host's environments that name their interpreter and are built on the host
    (an image's interpreter is the image's): what the survey asks the host about too. Reads the environments'
    settings only, never a requirements file."""
    merged: dict[str, dict] = {}
    for level in env_levels(host, hostvars):
        for env_name, sets in _by_env(level):
            merged.setdefault(env_name, {}).update(_env_settings(host, env_name, sets, {}))
    found = {}
    for env_name, env in sorted(merged.items()):
        python = _python(host, env)
        strategy = env.get("strategy", (None, hostvars.get("pymigrate_strategy")))[1] or "venv"
        if python is not None and strategy != "image" and _state(host, env) == "present":
            found[env_name] = python
    return found


def _merged_envs(host: str, levels: t.Sequence[list], origins: t.Mapping, constraints: t.Mapping) -> dict:
    """{env name: {settings key: (variable, value), "levels": [Level], "constraints", "first"}}: per environment,
    settings replaced key by key from level to level, requirements layered per package."""
    merged: dict[str, dict] = {}
    for level in levels:
        for env_name, sets in _by_env(level):
            settings, requirements, own_constraints = _env_level(host, env_name, sets, origins)
            env = merged.setdefault(env_name, {"levels": [], "constraints": dict(constraints),
                                               "first": "%s.%s.requirements" % (sets[0][0], env_name)})
            env.update(settings)
            env["levels"].append(requirements)
            env["constraints"].update(own_constraints)
    return merged


def _env_spec(host: str, env_name: str, env: t.Mapping, base: Globals, hostvars: t.Mapping) -> EnvSpec:
    path = _env_path(host, *env.get("path", ("pymigrate_envs.%s.path" % env_name, None)))
    python = _python(host, env)
    prereleases = _bool(host, *env["allow_prereleases"]) if "allow_prereleases" in env else base.prereleases
    smoke = _module_names(host, *env["smoke_imports"]) if "smoke_imports" in env else base.smoke
    wanted = _wanted_set(host, env["levels"], base.files, env["constraints"], prereleases)
    _not_empty(host, env["first"], wanted, base.allow_empty)
    carrier = _carrier(host, env_name, {key: env[key] for key in ("strategy", "base_image", "image_name")
                                        if key in env}, hostvars)
    if carrier and python is None:
        python = DEFAULT_IMAGE_PYTHON
    return EnvSpec(env_name, path, python, wanted, smoke, carrier)


def wanted_sets_for_host(host: str, hostvars: t.Mapping, origins: t.Mapping | None = None) -> dict:
    """{env name: EnvSpec} for one host, from its (already Ansible-merged) variables: the environments it keeps (see
    ``host_environments``)."""
    return host_environments(host, hostvars, origins)[0]


def host_environments(host: str, hostvars: t.Mapping, origins: t.Mapping | None = None) -> tuple:
    """({env name: EnvSpec}, {env name: path}) for one host, from its (already Ansible-merged) variables: the
    environments it keeps, and those the inventory marks ``state: absent`` (removed from the host; their path is all
    they need). ``origins`` ({variable: [group, ...]}, see ``group_origins``) lets a conflict between group sets name
    their groups."""
    origins = origins or {}
    base = _globals(host, hostvars, origins)
    levels = env_levels(host, hostvars)
    if not levels:
        path = _env_path(host, "pymigrate_venv_path", hostvars.get("pymigrate_venv_path", DEFAULT_VENV_PATH))
        wanted = _wanted_set(host, base.levels, base.files, base.constraints, base.prereleases)
        _not_empty(host, "pymigrate_requirements", wanted, base.allow_empty)
        carrier = _carrier(host, "default", {}, hostvars)
        return {"default": EnvSpec("default", path, DEFAULT_IMAGE_PYTHON if carrier else None, wanted, base.smoke,
                                   carrier)}, {}
    # Same layering for several environments: pymigrate_envs (all) -> the group sets -> pymigrate_host_envs; per
    # environment, settings are replaced key by key and requirements per package.
    merged = _merged_envs(host, levels, origins, base.constraints)
    absent = {env_name: _absent_path(host, env_name, env, hostvars) for env_name, env in sorted(merged.items())
              if _state(host, env) == "absent"}
    result = {env_name: _env_spec(host, env_name, env, base, hostvars) for env_name, env in sorted(merged.items())
              if env_name not in absent}
    paths = [spec.path for spec in result.values()] + list(absent.values())
    if len(set(paths)) != len(paths):
        raise PyMigrateError("two environments share one path", host=host, var="pymigrate_envs", value=sorted(paths))
    _not_nested(host, paths)
    return result, absent


# Variables that hold a set (requirements, environments, constraints): a group that sets one of them while another
# group of the same host sets it too loses its set to Ansible's precedence (one value per name) without a word.
SET_VARIABLE = re.compile(r"^pymigrate_(group_|host_)?(requirements|envs|constraints)(_[A-Za-z0-9_]+)?$")


def group_origins(host_groups: t.Sequence[str], group_vars: t.Mapping[str, t.Mapping], hostvars: t.Mapping) -> tuple:
    """(origins, dropped) for one host. ``group_vars``: {group: {variable: value}}, each group's own set variables
    (inventory and group_vars files, before Ansible merges them); ``host_groups``: the host's groups.

    ``origins``: {variable: [groups]} whose value the host holds (a variable's value that no group gave, from host
    or extra vars, has none). ``dropped``: [(variable, [groups that set it], [groups whose value was kept])] for each
    set variable that two or more of the host's groups set to different values: Ansible keeps one, the others are
    lost."""
    defining: dict = {}
    for group in host_groups:
        for var, value in (group_vars.get(group) or {}).items():
            if SET_VARIABLE.match(var):
                defining.setdefault(var, []).append((group, value))
    origins, dropped = {}, []
    for var, found in sorted(defining.items()):
        current = hostvars.get(var)
        kept = sorted(group for group, value in found if value == current)
        if kept:
            origins[var] = kept
        if kept and any(value != found[0][1] for _group, value in found):
            dropped.append((var, sorted(group for group, _value in found), kept))
    return origins, dropped


def unused_requirements(hostvars: t.Mapping) -> tuple:
    """The requirement variables set for a host that has environments (pymigrate_envs and the like): its environments
    take their requirements from their own sets only, so these reach none of them. Empty for a host without
    environments, whose one environment they describe."""
    if not env_levels("", hostvars):
        return ()
    names = ["pymigrate_requirements", "pymigrate_requirements_file", "pymigrate_host_requirements",
             "pymigrate_host_requirements_file"] + group_sets(hostvars, GROUP_REQUIREMENTS)
    return tuple(sorted(name for name in set(names) if hostvars.get(name)))


def unused_warnings(unused: t.Mapping[tuple, t.Sequence[str]]) -> list:
    """One warning per set of unused requirement variables: {variables: [host, ...]} -> lines naming them and the
    hosts (see ``unused_requirements``)."""
    lines = []
    for names, hosts in sorted(unused.items()):
        named = ", ".join(sorted(hosts)[:5]) + (", ..." if len(hosts) > 5 else "")
        lines.append("%s set for %d host(s) with environments (%s): an environment's requirements are its own "
                     "(pymigrate_envs.<name>.requirements), so these reach none of them; name them in the "
                     "environment that should get them (docs/inventory.md)" % (" and ".join(names), len(hosts), named))
    return lines


def dropped_warnings(dropped: t.Mapping[tuple, t.Sequence[str]]) -> list:
    """The warnings for sets Ansible's precedence dropped: {(variable, groups, kept groups): [host, ...]} -> one
    line each, naming the groups, the group kept and the hosts."""
    lines = []
    for (var, groups, kept), hosts in sorted(dropped.items()):
        base = GROUP_ENVS if "envs" in var else GROUP_REQUIREMENTS
        lost = [group for group in groups if group not in kept]
        named = ", ".join(sorted(hosts)[:5]) + (", ..." if len(hosts) > 5 else "")
        lines.append("%s is set by the groups %s of %d host(s) (%s): Ansible keeps one value (group %s's) and drops "
                     "the set of group %s; give each group a set of its own, %s_<group>, and they combine "
                     "(docs/inventory.md)" % (var, " and ".join(groups), len(hosts), named, " and ".join(kept),
                                              " and ".join(lost), base))
    return lines


def with_constraints(envs: t.Mapping, constraints: t.Mapping[str, str]) -> dict:
    """Environments with ``constraints`` ({name: specifier}, e.g. pip's constraint files) added to their own:
    both apply, as pip applies every constraint it is given."""
    merged = {}
    for name, env in envs.items():
        own = dict(env.wanted.constraints)
        for project, spec in constraints.items():
            own[project] = ",".join(filter(None, [own.get(project, ""), spec]))
        merged[name] = dataclasses.replace(env, wanted=dataclasses.replace(env.wanted, constraints=own))
    return merged
