# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""JMESPath over the fleet documents (summary.json, state.json; docs/state-format.md), with functions that order
versions as packaging does: ``version_lt(a, b)``, ``version_le``, ``version_gt``, ``version_ge``, ``version_eq``.

    environments[?packages.requests && version_lt(packages.requests, '2.32')].host
"""

from __future__ import annotations

import operator
import typing as t

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import InvalidVersion, Version, jmespath
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

_COMPARISONS = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge, "eq": operator.eq}


def _version(value: str) -> t.Any:
    try:
        return Version(value)
    except InvalidVersion:
        raise PyMigrateError("not a version: %r" % (value,), var="pymigrate_query")


def _make_functions():
    def comparison(name, compare):
        @jmespath.functions.signature({"types": ["string"]}, {"types": ["string"]})
        def function(self, left, right):
            return compare(_version(left), _version(right))
        function.__name__ = "_func_version_%s" % name
        return function

    members = {"_func_version_%s" % name: comparison(name, compare) for name, compare in _COMPARISONS.items()}
    return type("VersionFunctions", (jmespath.functions.Functions,), members)


def evaluate(expression: str, document: t.Any) -> t.Any:
    """The JMESPath ``expression`` over ``document``; errors name the expression and what is wrong."""
    if jmespath is None:
        raise PyMigrateError("the jmespath library is missing on the control node", hint="pip install jmespath")
    try:
        return jmespath.search(expression, document, options=jmespath.Options(custom_functions=_make_functions()()))
    except jmespath.exceptions.JMESPathError as exc:
        raise PyMigrateError("cannot evaluate the JMESPath query: %s" % str(exc).strip(), var="pymigrate_query",
                             value=expression, hint="See docs/state-format.md for the document and examples")
