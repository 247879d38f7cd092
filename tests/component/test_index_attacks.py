"""The index client against a hostile index (TUF's endless-data and slow-retrieval attacks), over real HTTP: an
answer that never ends is refused at its bound, one that drips bytes is given up at its deadline, and a file larger
than the index said is refused at the stated size; nothing is left in the store."""

import os
import time

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _fetch, _index
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
from tests.index import catalog


@pytest.fixture
def index(make_index):
    return make_index([catalog.release("alpha", "1.0"), catalog.release("beta", "1.0")])


def client_for(index, timeout=1):
    client = _index.IndexClient([_index.IndexConfig(index.url)], timeout=timeout, retries=0)
    client.min_rate = 1 << 20  # so that a deadline is seconds away, not minutes
    return client


def test_a_page_that_never_ends_is_refused_at_its_bound(index, monkeypatch):
    monkeypatch.setattr(_index, "MAX_PAGE_BYTES", 1 << 20)
    index.endless.add("/simple/alpha/")
    client = client_for(index)
    try:
        with pytest.raises(PyMigrateError, match="sent more than 1048576 bytes: refused .endless data."):
            client.project_files("alpha")
    finally:
        client.close()


def test_a_dripping_page_is_given_up_at_its_deadline(index, monkeypatch):
    monkeypatch.setattr(_index, "PAGE_SECONDS", 2)
    index.drip.add("/simple/alpha/")
    client = client_for(index)
    started = time.monotonic()
    try:
        with pytest.raises(PyMigrateError, match="given up as too slow .slow retrieval."):
            client.project_files("alpha")
    finally:
        client.close()
    assert time.monotonic() - started < 60  # (it dripped for 100000 * 0.2 s otherwise)


def test_a_dripping_or_overlong_download_leaves_nothing_in_the_store(index, tmp_path):
    client = client_for(index)
    try:
        (dist,) = client.version_files("beta", "1.0")
        index.drip.add(dist.filename)
        with pytest.raises(PyMigrateError, match="slow retrieval"):
            _fetch.fetch_all([dist], str(tmp_path / "store"), client)
        index.drip.clear()
        index.endless.add(dist.filename)
        with pytest.raises(PyMigrateError, match="its stated size"):
            _fetch.fetch_all([dist], str(tmp_path / "store"), client)
    finally:
        client.close()
    assert [name for _d, _s, names in os.walk(tmp_path / "store") for name in names] == []
