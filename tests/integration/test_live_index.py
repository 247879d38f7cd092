"""Against the real public index (marked `network`; `make test` leaves it out): markers for the target."""

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _index, _resolve, _targets
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import WantedSet

pytestmark = pytest.mark.network


def public_index_url():
    # pip's own default index, so that no registry host is spelled out here.
    from pip._internal.models.index import PyPI  # pylint: disable=import-outside-toplevel
    return PyPI.simple_url


@pytest.mark.parametrize("python, backports", [("3.9", True), ("3.13", False)])
def test_anyio_backports_follow_the_target_python(python, backports):
    client = _index.IndexClient([_index.IndexConfig(public_index_url())])
    try:
        target = _targets.target_from_declaration({"python": python, "arch": "x86_64", "libc": "glibc",
                                                   "libc_version": "2.28"})
        pins = {p.name: p.version for p in _resolve.resolve(target, WantedSet({"anyio": "anyio==4.5.0"}), client)}
    finally:
        client.close()
    assert pins["anyio"] == "4.5.0" and "idna" in pins and "sniffio" in pins
    assert ("exceptiongroup" in pins) is backports
    assert ("typing-extensions" in pins) is backports
