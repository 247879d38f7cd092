"""JMESPath over the fleet documents, with versions ordered as packaging orders them."""

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _query
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

DOCUMENT = {"environments": [
    {"host": "a", "environment": "default", "packages": {"requests": "2.31.0", "numpy": "1.26.4"}, "drift": []},
    {"host": "b", "environment": "default", "packages": {"requests": "2.32.3"}, "drift": [{"kind": "missing file"}]},
    {"host": "c", "environment": "api", "packages": {"requests": "2.4.0"}, "drift": []},
    {"host": "d", "environment": "default", "packages": {}, "drift": []},
]}


@pytest.mark.parametrize("expression, expected", [
    # 2.4.0 < 2.31.0 < 2.32: versions, not strings ("2.4.0" > "2.32" as text)
    ("environments[?packages.requests && version_lt(packages.requests, '2.32')].host", ["a", "c"]),
    ("environments[?packages.requests && version_ge(packages.requests, '2.32')].host", ["b"]),
    ("environments[?packages.requests && version_le(packages.requests, '2.31')].host", ["a", "c"]),  # 2.31.0 == 2.31
    ("environments[?packages.requests && version_gt(packages.requests, '2.4')].host", ["a", "b"]),
    ("environments[?packages.numpy && version_eq(packages.numpy, '1.26.4.0')].host", ["a"]),
    ("environments[?drift].host", ["b"]),
    ("length(environments)", 4),
])
def test_version_functions_order_as_packaging(expression, expected):
    assert _query.evaluate(expression, DOCUMENT) == expected


@pytest.mark.parametrize("expression, text", [
    ("environments[?", "cannot evaluate the JMESPath query"),
    ("environments[?version_lt(host, '2')]", "not a version: 'a'"),
    ("environments[?version_lt(packages, '2')]", "cannot evaluate the JMESPath query"),
])
def test_bad_queries_are_named(expression, text):
    with pytest.raises(PyMigrateError, match=text) as err:
        _query.evaluate(expression, DOCUMENT)
    assert err.value.var == "pymigrate_query"
