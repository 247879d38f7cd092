"""The index client over real TLS (a local HTTPS server with its own CA): one TLS context for all its connections,
and the same checks as requests' own - an unknown CA and a certificate for another name are refused."""

import concurrent.futures
import datetime
import http.server
import ipaddress
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _index
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError


def _certificate(subject, issuer, public_key, signing_key, ca=False, names=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = b'{"meta": {"api-version": "1.0"}, "name": "alpha", "files": []}'
        self.send_response(200)
        self.send_header("Content-Type", _index.JSON_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(name="https_index")
def fixture_https_index(tmp_path):
    """(URL of a simple index on 127.0.0.1 over HTTPS, path of its CA bundle, start(names) for another server)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("test CA", "test CA", ca_key.public_key(), ca_key, ca=True)
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    servers = []

    def start(names):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate("index", "test CA", key.public_key(), ca_key, names=names)
        (tmp_path / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tmp_path / "server.pem"))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)  # HTTP/1.0: a connection per request
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return "https://127.0.0.1:%d/simple/" % server.server_address[1]

    url = start([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    yield url, str(tmp_path / "ca.pem"), start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_every_connection_shares_one_tls_context_that_trusts_the_ca_bundle_given(https_index, monkeypatch):
    url, ca_bundle, _start = https_index
    made = []
    real = _index.create_urllib3_context
    monkeypatch.setattr(_index, "create_urllib3_context", lambda: made.append(1) or real())
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    client = _index.IndexClient([_index.index_config(url)], ca_bundle=ca_bundle, workers=8)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _n: client.get(url + "alpha/").status_code, range(16)))
    assert answers == [200] * 16
    assert len(made) == 1  # 16 connections (the server closes each), one CA bundle loaded
    assert client.project_versions("alpha") == []


def test_the_checks_stay_requests_own(https_index, monkeypatch):
    url, ca_bundle, start = https_index
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    # The default CA bundle does not know this CA.
    with pytest.raises(PyMigrateError, match="TLS verification failed"):
        _index.IndexClient([_index.index_config(url)], retries=0).get(url + "alpha/")
    # REQUESTS_CA_BUNDLE in the environment is honoured, as requests does.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_bundle)
    assert _index.IndexClient([_index.index_config(url)], retries=0).get(url + "alpha/").status_code == 200
    # A certificate from the trusted CA, but for another name, is refused.
    other = start([x509.DNSName("other.invalid")])
    with pytest.raises(PyMigrateError, match="TLS verification failed"):
        _index.IndexClient([_index.index_config(other)], ca_bundle=ca_bundle, retries=0).get(other + "alpha/")
