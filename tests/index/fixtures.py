"""pytest fixtures for the local package index (see catalog.py for what it holds)."""

import pytest

from tests.index import catalog
from tests.index.server import IndexServer

AUTH = ("pm", "s3cret")


@pytest.fixture(scope="session")
def local_index_dir(tmp_path_factory):
    return catalog.build(str(tmp_path_factory.mktemp("index")))


@pytest.fixture(scope="session")
def local_index(local_index_dir):
    server = IndexServer(local_index_dir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def local_index_auth(local_index_dir):
    server = IndexServer(local_index_dir, auth=AUTH)
    yield server
    server.stop()


@pytest.fixture
def make_index(tmp_path):
    """Factory: make_index([catalog.release(...), ...]) -> a running IndexServer over just those."""
    servers = []

    def factory(releases, include_pip=False, **kwargs):
        directory = tmp_path / ("index%d" % len(servers))
        server = IndexServer(catalog.build(str(directory), releases, include_pip=include_pip), **kwargs)
        servers.append(server)
        return server
    yield factory
    for server in servers:
        server.stop()
