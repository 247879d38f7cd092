# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 1, inventory -> wanted set: requirements layered all -> group -> host, per environment.

Ansible already merges group_vars into hostvars (a host value replaces a group value of the SAME name),
which cannot express "a host pin overrides one package of the group's list". So each layer has its own
variable and the layers are merged here, per normalized project name:

    pymigrate_requirements (all) -> pymigrate_group_requirements -> pymigrate_host_requirements

Values are version specifiers (">=2.31", "==1.26.4", "" for any); ``absent`` removes the package.
Several environments per host come from ``pymigrate_envs`` -> ``pymigrate_group_envs`` ->
``pymigrate_host_envs`` (the same layering, per environment); without them the single-env variables
describe one environment named ``default`` at ``pymigrate_venv_path``.
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

LAYERS = ("requirements", "group_requirements", "host_requirements")
ENV_LAYERS = ("pymigrate_envs", "pymigrate_group_envs", "pymigrate_host_envs")
ENV_KEYS = ("path", "python", "requirements", "requirements_file", "constraints", "smoke_imports",
            "allow_prereleases", "strategy", "base_image", "image_name")
STRATEGIES = ("venv", "image")
# Inside an image the environment's interpreter is the base image's; the venv lives at the usual path.
DEFAULT_IMAGE_PYTHON = "/usr/bin/python3"
IMAGE_NAME = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._/-][a-z0-9]+)*)*$")
DEFAULT_VENV_PATH = "/opt/pymigrate/venv"
# Environments never go here: the operating system's own trees (under /usr only /usr/local is for local software).
SYSTEM_DIRS = ("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/opt", "/proc", "/root",
               "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/local", "/var")
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
        return dict(_split_requirement(host, var, item) for item in value)
    if not isinstance(value, t.Mapping):
        raise PyMigrateError("must be a dict of project name to version specifier, a list of requirements such as "
                             "\"requests>=2.31\", or one requirement a line", host=host, var=var, value=value)
    return dict(value)


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


def _with_files(host: str, hostvars: t.Mapping, layers: t.Sequence[str]) -> list:
    """Each level's requirements file (``<var>_file``) comes just before its inline variable: inventory entries
    override the file's, per package, at the same level."""
    result: list = []
    for var in layers:
        if hostvars.get(var + "_file"):
            result.append((var + "_file", read_file_layer(host, var + "_file", hostvars[var + "_file"])))
        result.append((var, hostvars.get(var)))
    return result


def merge_layers(host: str, layers: t.Sequence[tuple]) -> dict:
    """[(var, dict or FileLayer), ...] lowest first -> {normalized name: requirement string}; later layers win
    whole."""
    merged: dict[str, str] = {}
    for var, value in layers:
        if isinstance(value, FileLayer):
            merged.update(value.requirements)
            continue
        for project, spec in _layer_dict(host, var, value).items():
            name, requirement = _parse_entry(host, var, project, spec)
            if requirement is None:
                merged.pop(name, None)
            else:
                merged[name] = requirement
    return merged


def _wanted_set(host: str, layers: t.Sequence[tuple], files: t.Sequence[FileLayer], constraints: t.Mapping,
                prereleases: bool) -> WantedSet:
    """The merged layers, the constraints (plus -c lines of the requirements files) and the --hash values of the
    projects that are wanted or constrained."""
    requirements = merge_layers(host, layers)
    constraints = dict(constraints)
    hashes: dict = {}
    for layer in files:
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
    return path


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


def wanted_sets_for_host(host: str, hostvars: t.Mapping) -> dict:
    """{env name: EnvSpec} for one host, from its (already Ansible-merged) variables."""
    requirement_layers = _with_files(host, hostvars, ["pymigrate_" + layer for layer in LAYERS])
    files = [value for _var, value in requirement_layers if isinstance(value, FileLayer)]
    global_constraints = _constraints(host, "pymigrate_constraints", hostvars.get("pymigrate_constraints"))
    if hostvars.get("pymigrate_constraints_file"):
        # A constraints file's lines are constraints; the inline variable wins per package.
        constraint_file = read_file_layer(host, "pymigrate_constraints_file", hostvars["pymigrate_constraints_file"],
                                          constraints_only=True)
        files.append(constraint_file)
        global_constraints = dict(constraint_file.constraints, **global_constraints)
    global_prereleases = _bool(host, "pymigrate_allow_prereleases", hostvars.get("pymigrate_allow_prereleases", False))
    global_smoke = _module_names(host, "pymigrate_smoke_imports", hostvars.get("pymigrate_smoke_imports"))
    allow_empty = _bool(host, "pymigrate_allow_empty", hostvars.get("pymigrate_allow_empty", False))
    env_layers = [(var, hostvars.get(var)) for var in ENV_LAYERS if hostvars.get(var) is not None]
    if not env_layers:
        path = _env_path(host, "pymigrate_venv_path", hostvars.get("pymigrate_venv_path", DEFAULT_VENV_PATH))
        wanted = _wanted_set(host, requirement_layers, files, global_constraints, global_prereleases)
        _not_empty(host, "pymigrate_requirements", wanted, allow_empty)
        carrier = _carrier(host, "default", {}, hostvars)
        return {"default": EnvSpec("default", path, DEFAULT_IMAGE_PYTHON if carrier else None, wanted, global_smoke,
                                   carrier)}
    # Same layering for several environments: pymigrate_envs (all) -> pymigrate_group_envs ->
    # pymigrate_host_envs; per environment, settings are replaced key by key and requirements per package.
    merged: dict[str, dict] = {}
    for var, envs in env_layers:
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
            env = merged.setdefault(str(env_name), {"layers": [], "constraints": dict(global_constraints)})
            for key in ("path", "python", "smoke_imports", "allow_prereleases", "strategy", "base_image", "image_name"):
                if key in settings:
                    env[key] = (where + "." + key, settings[key])
            if settings.get("requirements_file"):
                file_var = where + ".requirements_file"
                env["layers"].append((file_var, read_file_layer(host, file_var, settings["requirements_file"])))
            env["layers"].append((where + ".requirements", settings.get("requirements")))
            env["constraints"].update(_constraints(host, where + ".constraints", settings.get("constraints")))
    result = {}
    for env_name, env in sorted(merged.items()):
        path = _env_path(host, *env.get("path", ("pymigrate_envs.%s.path" % env_name, None)))
        python_var, python = env.get("python", (None, None))
        if python is not None and (not isinstance(python, str) or not os.path.isabs(python)):
            raise PyMigrateError("python must be an absolute interpreter path on the host", host=host,
                                 var=python_var, value=python)
        prereleases = global_prereleases
        if "allow_prereleases" in env:
            prereleases = _bool(host, *env["allow_prereleases"])
        smoke = _module_names(host, *env["smoke_imports"]) if "smoke_imports" in env else global_smoke
        env_files = files + [value for _var, value in env["layers"] if isinstance(value, FileLayer)]
        wanted = _wanted_set(host, env["layers"], env_files, env["constraints"], prereleases)
        _not_empty(host, env["layers"][0][0], wanted, allow_empty)
        carrier = _carrier(host, env_name, {key: env[key] for key in ("strategy", "base_image", "image_name")
                                            if key in env}, hostvars)
        if carrier and python is None:
            python = DEFAULT_IMAGE_PYTHON
        result[env_name] = EnvSpec(env_name, path, python, wanted, smoke, carrier)
    paths = [spec.path for spec in result.values()]
    if len(set(paths)) != len(paths):
        raise PyMigrateError("two environments share one path", host=host, var="pymigrate_envs", value=sorted(paths))
    return result


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
