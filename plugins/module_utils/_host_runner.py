# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs one function of the collection's module_utils on a host as a program read from the interpreter's standard
input (``python -``), without Ansible's module wrapper.

A module's start is most of what a call costs a host: its payload unpacked and Ansible's ``basic`` imported, about
0.14 s of Python on the test fleet against 0.03 s for the bare interpreter. With a pipelining connection the control
node (plugin_utils/_hostprogram.py) sends this file's source followed by a call of ``main`` with the module_utils
sources the function needs (JSON, zlib, base64), which are imported from memory (``SourceFinder``). The function
takes ``(params, check_mode)`` and returns the module's result; its output is that result as JSON, and a failure is
a result with ``failed``, never a traceback on standard error alone.

Standard library only, Python 3.8 or later: it runs on the host.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import json
import os
import sys
import traceback
import zlib

RUNNER_MODULE = "ansible_collections.airgap.pymigrate.plugins.module_utils._host_runner"


class SourceFinder(object):
    """Imports the modules of ``sources`` ({name: [is_package, source]}) from memory; ``blob`` is the same sources as
    the control node sent them, to run another interpreter of the host with them (``program``)."""

    def __init__(self, sources, blob):
        self.sources = sources
        self.blob = blob

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.sources:
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=bool(self.sources[fullname][0]))

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module):
        is_package, source = self.sources[module.__name__]
        if is_package:
            module.__path__ = []
        exec(compile(source, "<pymigrate %s>" % module.__name__, "exec"), module.__dict__)  # pylint: disable=exec-used

    def program(self, module, function, params):
        """The program that runs ``module.function(params, False)`` in another interpreter, with the same sources."""
        return program_text(self.sources[RUNNER_MODULE][1], self.blob, module, function, params, {}, False)


def active_finder():
    """The SourceFinder this program runs with, or None in an Ansible module (found by what it offers: the program's
    own copy of this file and the one imported from the sources are different modules)."""
    for finder in sys.meta_path:
        if hasattr(finder, "blob") and hasattr(finder, "program"):
            return finder
    return None


def program_text(runner_source, blob, module, function, params, paths, check_mode):
    """This file's source, then the call of ``main``: the whole program, as text."""
    arguments = (blob, module, function, json.dumps(params), json.dumps(paths), bool(check_mode))
    call = "\n\nmain(%r, %r, %r, %r, %r, %r)\n" % arguments
    return runner_source + call


def _expand(value):
    return os.path.expanduser(os.path.expandvars(value))  # what AnsibleModule does to a value of type path


def expand_paths(params, paths):
    """``params`` with the values named by ``paths`` expanded on this host, as AnsibleModule expands options of type
    path: ``paths`` is {option: true} for a path or a list of paths, {option: {suboption: ...}} for a dict or a list
    of dicts."""
    for key, inner in paths.items():
        value = params.get(key)
        if value is None:
            continue
        if inner is True:
            params[key] = [_expand(item) for item in value] if isinstance(value, list) else _expand(value)
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                expand_paths(item, inner)
    return params


def main(blob, module, function, params_json, paths_json, check_mode):
    """Imports ``module`` from the sources in ``blob``, calls ``function(params, check_mode)`` and writes its result to
    standard output as JSON."""
    try:
        sources = json.loads(zlib.decompress(base64.b64decode(blob)).decode("utf-8"))
        sys.meta_path.insert(0, SourceFinder(sources, blob))
        target = getattr(importlib.import_module(module), function)
        result = target(expand_paths(json.loads(params_json), json.loads(paths_json)), check_mode)
    except Exception as exc:  # pylint: disable=broad-except
        result = {"failed": True, "msg": "%s.%s failed on the host: %s: %s" % (module.rsplit(".", 1)[-1], function,
                                                                               type(exc).__name__, exc),
                  "exception": traceback.format_exc()}
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()
