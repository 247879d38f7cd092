"""Index configuration and the on-disk cache: credentials never reach a file or a message (the client's HTTP
behaviour is tested against the local index in tests/component/test_resolve.py)."""

import os
import stat

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _index


def test_credentials_in_an_index_url_become_auth():
    config = _index.index_config("https://ops:s3cr%40t@mirror.example.invalid/simple/")
    assert config.base == "https://mirror.example.invalid/simple/"
    assert (config.username, config.password) == ("ops", "s3cr@t")
    assert "s3cr" not in repr(config)
    explicit = _index.index_config("https://ops:inline@mirror.example.invalid/simple/", "admin", "given")
    assert (explicit.username, explicit.password, explicit.base) == ("admin", "given",
                                                                     "https://mirror.example.invalid/simple/")
    assert _index.index_config("https://mirror.example.invalid/simple").base == "https://mirror.example.invalid/simple/"


def test_the_index_root_url_lies_beside_simple():
    # The JSON API and the integrity API both sit beside <root>/simple/ (the one place that derives the root).
    assert (_index.index_root_url("https://mirror.example/pypi-proxy/simple/", "pypi", "foo-bar", "1.0", "json")
            == "https://mirror.example/pypi-proxy/pypi/foo-bar/1.0/json")
    assert _index.index_root_url("http://127.0.0.1:8080/simple", "a b") == "http://127.0.0.1:8080/a%20b"
    assert _index.index_root_url("https://mirror.example/devpi/", "x") == "https://mirror.example/x"
    assert _index.index_root_url("file:///srv/index/", "x") is None


def test_cache_files_are_private_and_hold_no_secret(tmp_path):
    config = _index.index_config("https://ops:s3cret@mirror.example.invalid/simple/")
    client = _index.IndexClient([config], cache_dir=str(tmp_path / "cache"))
    try:
        client._cache_write("pages", config.base + "alpha/", {"url": config.base + "alpha/", "files": {}})
    finally:
        client.close()
    files = [os.path.join(root, name) for root, _dirs, names in os.walk(tmp_path / "cache") for name in names]
    assert len(files) == 1
    assert stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600
    for directory in (tmp_path / "cache", tmp_path / "cache" / "pages"):
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert "s3cret" not in open(files[0]).read()


class _RecordingAdapter(_index.requests.adapters.BaseAdapter):
    """Answers every request with 404 and remembers the TLS verification each was sent with."""

    def __init__(self):
        super().__init__()
        self.verify = []

    def send(self, request, verify=True, **kwargs):
        self.verify.append(verify)
        response = _index.requests.Response()
        response.status_code, response.url, response.request = 404, request.url, request
        return response

    def close(self):
        pass


def test_the_ca_bundle_given_wins_over_requests_ca_bundle_in_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "environment-ca.pem"))
    client = _index.IndexClient([_index.index_config("https://mirror.example.invalid/simple/")],
                                ca_bundle=str(tmp_path / "given-ca.pem"))
    adapter = _RecordingAdapter()
    client.session.mount("https://mirror.example.invalid/", adapter)
    try:
        client.get("https://mirror.example.invalid/simple/alpha/")
    finally:
        client.close()
    assert adapter.verify == [str(tmp_path / "given-ca.pem")]


def test_core_metadata_keeps_the_classifiers_and_pins_take_the_licence_ones():
    from ansible_collections.airgap.pymigrate.plugins.plugin_utils._resolve import license_classifiers
    meta = _index.parse_metadata(b"Metadata-Version: 2.1\nName: x\nVersion: 1\nClassifier: Topic :: Utilities\n"
                                 b"Classifier: License :: OSI Approved :: MIT License\n\n", "x-1-py3-none-any.whl")
    assert meta.classifiers == ("Topic :: Utilities", "License :: OSI Approved :: MIT License")
    assert license_classifiers(meta) == ("License :: OSI Approved :: MIT License",) and license_classifiers(None) == ()
