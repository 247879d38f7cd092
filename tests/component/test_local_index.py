"""The local test index is a real index: pip resolves and installs from it, hashes and metadata agree."""

import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile

import pytest

from tests.index import catalog, wheels
from tests.index.fixtures import AUTH

PIP_ENV = dict(os.environ, PIP_CONFIG_FILE="/dev/null", PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
PY39 = os.path.expanduser("~/.pyenv/versions/3.9.18/bin/python3")


def _get(url, accept=None, headers=None):
    request = urllib.request.Request(url, headers=dict(headers or {}, **({"Accept": accept} if accept else {})))
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def _pip(python, *args):
    return subprocess.run([python, "-m", "pip"] + list(args), env=PIP_ENV, check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _dry_run(python, index, *requirements):
    result = _pip(python, "install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-",
                  "--index-url", index.url, *requirements)
    assert result.returncode == 0, result.stderr
    return {item["metadata"]["name"]: item["metadata"]["version"] for item in json.loads(result.stdout)["install"]}


def test_json_and_html_agree_and_hashes_match_files(local_index):
    _status, headers, body = _get(local_index.url + "fastcore/", accept="application/vnd.pypi.simple.v1+json")
    assert headers["Content-Type"] == "application/vnd.pypi.simple.v1+json"
    page = json.loads(body)
    assert page["meta"]["api-version"] == "1.3"  # PEP 740: every file says whether it has provenance
    assert {item["provenance"] for item in page["files"]} == {None}
    assert len(page["files"]) == 4 * 5 + 2
    for item in page["files"][:3]:
        _status, _headers, data = _get(urllib.parse.urljoin(local_index.url + "fastcore/", item["url"]))
        assert hashlib.sha256(data).hexdigest() == item["hashes"]["sha256"] and len(data) == item["size"]
        metadata_url = urllib.parse.urljoin(local_index.url + "fastcore/", item["url"]) + ".metadata"
        _status, _headers, metadata = _get(metadata_url)
        assert hashlib.sha256(metadata).hexdigest() == item["core-metadata"]["sha256"]
        path = os.path.join(local_index.root, "files", item["filename"])
        assert wheels.read_wheel_metadata(path) == metadata
    _status, headers, html_body = _get(local_index.url + "fastcore/", accept="text/html")
    assert headers["Content-Type"].startswith("text/html")
    assert html_body.decode().count("#sha256=") == len(page["files"])
    # q-values decide: HTML preferred over JSON when its q is higher.
    accept = "application/vnd.pypi.simple.v1+json;q=0.1, application/vnd.pypi.simple.v1+html;q=0.9"
    assert _get(local_index.url + "alpha/", accept=accept)[1]["Content-Type"] == "application/vnd.pypi.simple.v1+html"


def test_yanked_requires_python_and_nometa_are_exposed(local_index):
    files = json.loads(_get(local_index.url + "yankee/?format=json")[2])["files"]
    expected = {"yankee-1.0-py3-none-any.whl": False, "yankee-1.1-py3-none-any.whl": "broken build"}
    assert {f["filename"]: f["yanked"] for f in files} == expected
    html_body = _get(local_index.url + "modernlib/")[2].decode()
    assert 'data-requires-python="&gt;=3.11"' in html_body
    nometa = json.loads(_get(local_index.url + "nometa/?format=json")[2])["files"][0]
    assert "core-metadata" not in nometa
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(urllib.parse.urljoin(local_index.url + "nometa/", nometa["url"]) + ".metadata")
    assert err.value.code == 404


def test_range_requests_and_redirect_to_normalized_name(local_index):
    name = "alpha-1.0-py3-none-any.whl"
    size = os.path.getsize(os.path.join(local_index.root, "files", name))
    status, headers, data = _get(local_index.files_url + name, headers={"Range": "bytes=-100"})
    assert (status == 206 and len(data) == 100
            and headers["Content-Range"] == "bytes %d-%d/%d" % (size - 100, size - 1, size))
    status, _headers, body = _get(local_index.url + "Foo_Bar.baz/", accept="application/vnd.pypi.simple.v1+json")
    assert status == 200 and json.loads(body)["name"] == "foo-bar-baz"


def test_basic_auth(local_index_auth):
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(local_index_auth.url)
    assert err.value.code == 401
    token = __import__("base64").b64encode(("%s:%s" % AUTH).encode()).decode()
    assert _get(local_index_auth.url, headers={"Authorization": "Basic " + token})[0] == 200


def test_pip_resolves_per_interpreter_from_the_index(local_index):
    # requires-python: 3.11 gets modernlib 2.0, 3.9 gets 1.0; the marker brings backport-eg to 3.9 only.
    assert _dry_run(sys.executable, local_index, "modernlib", "netio") == {
        "modernlib": "2.0", "netio": "4.0", "idna-lite": "3.0"}
    if not os.path.exists(PY39):
        pytest.skip("no Python 3.9 on this machine")
    assert _dry_run(PY39, local_index, "modernlib", "netio") == {
        "modernlib": "1.0", "netio": "4.0", "idna-lite": "3.0", "backport-eg": "1.2"}
    assert _dry_run(sys.executable, local_index, "webkit[http]", "fastcore==1.0", "yankee")["yankee"] == "1.0"


def test_wheels_install_and_sdists_build(local_index, tmp_path):
    target = tmp_path / "target"
    result = _pip(sys.executable, "install", "--no-deps", "--target", str(target), "--index-url", local_index.url,
                  "alpha==1.1", "foo-bar-baz")
    assert result.returncode == 0, result.stderr
    assert (target / "alpha" / "__init__.py").read_text() == "__version__ = '1.1'\n"
    out = tmp_path / "built"
    result = _pip(sys.executable, "wheel", "--no-deps", "-w", str(out), "--index-url", local_index.url,
                  "sdistonly", "cext")
    assert result.returncode == 0, result.stderr
    built = sorted(os.listdir(out))
    assert built[1] == "sdistonly-1.0-py3-none-any.whl"
    assert built[0].startswith("cext-1.0-cp%d%d-" % sys.version_info[:2]) and "linux" in built[0]
    with zipfile.ZipFile(out / built[1]) as archive:
        assert "sdistonly/__init__.py" in archive.namelist()


def test_fault_switches(make_index):
    index = make_index([catalog.release("solo", "1.0")])
    name = "solo-1.0-py3-none-any.whl"
    index.fail_503[name] = 1
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(index.files_url + name)
    assert err.value.code == 503
    good = _get(index.files_url + name)[2]
    index.corrupt.add(name)
    assert _get(index.files_url + name)[2] != good
    index.forbidden = True
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(index.url)
    assert err.value.code == 403
    assert index.downloads() == ["/files/" + name] * 3  # the 503, the good and the corrupt one
