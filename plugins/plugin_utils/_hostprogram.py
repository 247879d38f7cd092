# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The control node's half of module_utils/_host_runner.py: the program that runs one module_utils function on a
host from the interpreter's standard input, its parameters, and its answer.

The program carries the function's module and every module_utils module it imports (found by reading their
imports, not by importing them), so the host needs nothing but its Python. Parameters are validated here against
the module's own argument spec, except that values of type path stay as the task gave them and are expanded on the
host (``~`` is the host user's home), as the module would expand them.
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import os
import re
import typing as t
import zlib

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.airgap.pymigrate.plugins.module_utils import _host_runner
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

MODULE_UTILS = "ansible_collections.airgap.pymigrate.plugins.module_utils"


# "from <module_utils...> import a, b" (names in parentheses may span lines) and "import <module_utils...>": read as
# text, not parsed (the collection's module_utils import absolutely; parsing them cost each host's worker 50 ms).
_IMPORTS = re.compile(r"^[ \t]*(?:from[ \t]+(%s(?:\.\w+)*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)"
                      r"|import[ \t]+(%s(?:\.\w+)*))" % ((re.escape(MODULE_UTILS),) * 2), re.MULTILINE)


def _imported(source: str) -> set:
    """The module_utils modules ``source`` imports, and the names it imports from them (which may be modules)."""
    found = set()
    for package, names, module in _IMPORTS.findall(source):
        if module:
            found.add(module)
            continue
        found.add(package)
        for name in re.sub(r"#[^\n]*", "", names).strip("()").split(","):  # (a comment may follow a name)
            words = name.split()  # "a" or "a as b"
            if words:
                found.add("%s.%s" % (package, words[0]))
    return found


def _module_file(name: str) -> tuple:
    """(path, is_package) of module_utils module ``name`` on this control node; (None, False) for a namespace package
    (a directory without ``__init__.py``) or a name that is no module (imported from one)."""
    base = os.path.join(os.path.dirname(_host_runner.__file__), *name[len(MODULE_UTILS) + 1:].split("."))
    if os.path.isfile(base + ".py"):
        return base + ".py", False
    if os.path.isfile(os.path.join(base, "__init__.py")):
        return os.path.join(base, "__init__.py"), True
    return None, False


@functools.lru_cache(maxsize=None)
def sources(module: str) -> dict:
    """{name: [is_package, source]} of ``module``, every module_utils module it imports (transitively), the runner,
    and the packages above them (empty when they have no ``__init__.py``)."""
    found: dict = {}
    pending = [module, _host_runner.RUNNER_MODULE]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        path, is_package = _module_file(name)
        if path is None:
            continue  # a name imported from a module; or a namespace package (added below)
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
        found[name] = [is_package, source]
        pending.extend(_imported(source))
    for name in list(found):
        parts = name.split(".")
        for depth in range(1, len(parts)):
            found.setdefault(".".join(parts[:depth]), [True, ""])
    return found


@functools.lru_cache(maxsize=None)
def _blob(module: str) -> str:
    return base64.b64encode(zlib.compress(json.dumps(sources(module), sort_keys=True).encode("utf-8"))).decode()


def _as_str(spec: t.Mapping, paths: dict) -> dict:
    """``spec`` with type path (and elements path) turned into str, recording in ``paths`` which options they were."""
    converted = {}
    for name, option in spec.items():
        option = dict(option)
        if option.get("type") == "path" or option.get("elements") == "path":
            paths[name] = True
            option.update({key: "str" for key in ("type", "elements") if option.get(key) == "path"})
        if option.get("options"):
            inner: dict = {}
            option["options"] = _as_str(option["options"], inner)
            if inner:
                paths[name] = inner
        converted[name] = option
    return converted


@functools.lru_cache(maxsize=None)
def _validator(spec_json: str) -> tuple:
    paths: dict = {}
    return ArgumentSpecValidator(_as_str(json.loads(spec_json), paths)), paths


def host_params(spec: t.Mapping, args: t.Mapping) -> tuple:
    """(params, paths): ``args`` validated against ``spec`` as the module would validate them, except that paths are
    left for the host to expand (``paths`` names them, for _host_runner.expand_paths). PyMigrateError when invalid."""
    validator, paths = _validator(json.dumps(spec, sort_keys=True))
    validation = validator.validate(dict(args))
    if validation.error_messages:
        raise PyMigrateError("invalid arguments for the host: %s" % "; ".join(validation.error_messages))
    return validation.validated_parameters, paths


def program(module: str, function: str, params: t.Mapping, paths: t.Mapping, check_mode: bool) -> bytes:
    """The program ``python -`` runs on the host: ``module.function(params, check_mode)``, its result as JSON."""
    return _host_runner.program_text(inspect.getsource(_host_runner), _blob(module), module, function, dict(params),
                                     dict(paths), check_mode).encode("utf-8")


def parse_result(res: t.Mapping, python: str, what: str) -> dict:
    """The function's result from the command's output (``res`` of _low_level_execute_command); a failed result
    with what the host said when the program did not answer (an interpreter that does not exist, a crash)."""
    stdout = (res.get("stdout") or "").strip()
    for text in [stdout] + [line for line in reversed(stdout.splitlines()) if line.startswith("{")]:
        try:
            result = json.loads(text)
        except ValueError:
            continue
        if isinstance(result, dict):
            return result
    said = (res.get("stderr") or "").strip() or stdout
    return dict(failed=True, rc=res.get("rc"), msg="%s (%s on the host) exited %s without an answer: %s"
                % (what, python, res.get("rc"), said[-2000:] or "no output"))
