"""Feeding an inside index from an imported bundle: only files whose sha256 the manifest states, skip what is there
with the same sha256, refuse what is there with another (naming it, publishing nothing), a re-run publishes nothing,
check mode writes nothing; the locks name each file by its URL on the mirror. A static directory for real, a live index
(devpi, pypiserver) through a stand-in session that keeps what is uploaded and lists it as their simple pages do."""

import hashlib
import json
import os
import tomllib
import urllib.parse

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _lockdir, _mirror
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import DistFile, Pin, PyMigrateError
from tests.unit.plugins.plugin_utils.test_lockdir import _profile
from tests.unit.plugins.plugin_utils.test_simple import METADATA, add, wheel_bytes

URL = "http://mirror.invalid/root/pymigrate"


def make_bundle(tmp_path):
    """An imported bundle: two wheels (one of them the installer) and an sdist, the manifest, the lock it carries."""
    bundle, files = str(tmp_path / "current"), {}
    wheel = add(bundle, files, "foo_bar-1.0-py3-none-any.whl", wheel_bytes(), "foo-bar", "1.0")
    pip = add(bundle, files, "pip-24.0-py3-none-any.whl", wheel_bytes(METADATA.replace(b"Foo_Bar", b"pip")), "pip",
              "24.0")
    add(bundle, files, "other-2.0.tar.gz", b"sdist bytes", "other", "2.0")
    manifest = {"format": 1, "serial": 3, "created": "2026-12-01T00:00:00Z", "files": files, "profiles": {},
                "hosts": {}}
    with open(os.path.join(bundle, "manifest.json"), "w") as handle:
        json.dump(manifest, handle)

    def pin(relpath):
        entry = files[relpath]
        dist = DistFile(project=entry["project"], version=entry["version"], filename=entry["filename"],
                        url="https://outside.invalid/" + entry["filename"], sha256=entry["sha256"], size=entry["size"])
        return Pin(name=entry["project"], version=entry["version"], file=dist)
    lock = _lockdir.new_lock("default-cp311", _profile(["web1:default"], {"foo-bar": "foo-bar"}), [pin(wheel)],
                             pin(pip), ["web1:default"])
    os.makedirs(os.path.join(bundle, "lock"))
    with open(os.path.join(bundle, "lock", lock.filename), "w") as handle:
        handle.write(_lockdir.render(lock))
    return bundle, manifest, wheel


def settings(bundle, **kwargs):
    return _mirror.MirrorSettings(bundle_dir=bundle, **kwargs)


def test_a_static_mirror_gets_the_files_the_index_and_the_locks_and_a_rerun_publishes_nothing(tmp_path):
    bundle, manifest, wheel = make_bundle(tmp_path)
    mirror = tmp_path / "www"
    static = settings(bundle, kind="static", path=str(mirror), url="https://pypi.enclave/")
    planned = _mirror.publish(settings(bundle, kind="static", path=str(mirror), url="https://pypi.enclave/",
                                       check_mode=True))
    assert planned["changed"] and len(planned["published"]) == 3 and not mirror.exists()  # check mode: nothing
    result = _mirror.publish(static)
    assert result["changed"] and sorted(result["published"]) == [
        "foo_bar-1.0-py3-none-any.whl", "other-2.0.tar.gz", "pip-24.0-py3-none-any.whl"]
    assert (mirror / wheel).read_bytes() == wheel_bytes() and (mirror / (wheel + ".metadata")).read_bytes() == METADATA
    assert (mirror / "simple" / "foo-bar" / "index.html").exists() and result["pages"]
    lock = tomllib.loads((mirror / "locks" / "pylock.default-cp311.toml").read_text())
    assert lock["packages"][0]["wheels"][0]["url"] == "https://pypi.enclave/" + wheel
    assert result["locks_written"] == ["pylock.default-cp311.toml"]
    again = _mirror.publish(static)
    assert not again["changed"] and again["published"] == [] and again["skipped"] == 3 and not again["locks_written"]
    assert not _mirror.publish(settings(bundle, kind="static", path=str(mirror), url="https://pypi.enclave/",
                                        check_mode=True))["changed"]


def test_a_tampered_store_file_is_refused_by_name_and_nothing_is_published(tmp_path):
    bundle, _manifest, wheel = make_bundle(tmp_path)
    with open(os.path.join(bundle, wheel), "r+b") as handle:
        handle.seek(10)
        handle.write(b"X")
    with pytest.raises(PyMigrateError, match="refused, their bytes are not those of the signed manifest: %s"
                       % wheel.replace(".", r"\.")) as err:
        _mirror.publish(settings(bundle, kind="static", path=str(tmp_path / "www")))
    assert "nothing was published" in str(err.value) and not (tmp_path / "www").exists()


def test_a_file_the_mirror_holds_with_other_bytes_is_refused_by_name(tmp_path):
    bundle, _manifest, wheel = make_bundle(tmp_path)
    (tmp_path / "www" / os.path.dirname(wheel)).mkdir(parents=True)
    (tmp_path / "www" / wheel).write_bytes(b"someone else's wheel")
    with pytest.raises(PyMigrateError, match="refused, the mirror holds other bytes under these names: "
                                             "foo_bar-1.0-py3-none-any.whl"):
        _mirror.publish(settings(bundle, kind="static", path=str(tmp_path / "www")))
    assert not (tmp_path / "www" / "simple").exists()


class Response:
    def __init__(self, url, status_code=200, text="", content=b"", location=None):
        self.url, self.status_code, self.text, self.content = url, status_code, text, content
        self.headers = {"Location": location} if location else {}
        self.is_redirect = location is not None


class FakeIndex:
    """A session against a devpi-like index: uploads kept, listed on ``+simple/<project>/`` with their sha256."""

    def __init__(self, base=URL, simple="/+simple/"):
        self.base, self.simple, self.files, self.uploads, self.auth = base, simple, {}, [], None

    def get(self, url, headers=None, timeout=None, allow_redirects=True):
        assert not allow_redirects
        project = url[len(self.base + self.simple):].strip("/")
        if project not in {proj for proj, _sha, _data in self.files.values()}:  # pypiserver's fallback
            return Response(url, 303, location="https://pypi.org/simple/%s/" % project)
        links = ['<a href="../../+f/%s/%s#sha256=%s">%s</a>' % (sha[:3], name, sha, name)
                 for name, (proj, sha, _data) in sorted(self.files.items()) if proj == project]
        return Response(url, 200 if links else 404, "\n".join(links))

    def post(self, url, data=None, files=None, timeout=None):
        assert url == self.base + "/" and data[":action"] == "file_upload" and self.auth == ("root", "pw")
        name, handle, _kind = files["content"]
        content = handle.read()
        assert hashlib.sha256(content).hexdigest() == data["sha256_digest"]
        self.files[name] = (data["name"], data["sha256_digest"], content)
        self.uploads.append((name, data["filetype"], data["pyversion"]))
        return Response(url, 200)

    def close(self):
        pass


def test_a_live_index_gets_what_it_lacks_over_its_upload_api_and_the_locks_its_urls(tmp_path):
    bundle, _manifest, wheel = make_bundle(tmp_path)
    index = FakeIndex()
    live = settings(bundle, kind="devpi", url=URL, username="root", password="pw", locks_dir=str(tmp_path / "locks"))
    result = _mirror.publish(live, session=index)
    assert sorted(index.uploads) == [("foo_bar-1.0-py3-none-any.whl", "bdist_wheel", "py3"),
                                     ("other-2.0.tar.gz", "sdist", "source"),
                                     ("pip-24.0-py3-none-any.whl", "bdist_wheel", "py3")]
    assert result["changed"] and result["mirror"] == URL
    lock = tomllib.loads((tmp_path / "locks" / "pylock.default-cp311.toml").read_text())
    sha = os.path.basename(os.path.dirname(wheel))
    assert lock["packages"][0]["wheels"][0]["url"] == urllib.parse.urljoin(
        URL + "/+simple/foo-bar/", "../../+f/%s/foo_bar-1.0-py3-none-any.whl" % sha[:3])
    assert lock["tool"]["airgap-pymigrate"]["installer"]["wheels"][0]["url"].endswith("/pip-24.0-py3-none-any.whl")
    index.uploads = []
    again = _mirror.publish(live, session=index)
    assert not again["changed"] and index.uploads == [] and again["skipped"] == 3
    index.files["other-2.0.tar.gz"] = ("other", "ab" * 32, b"x")  # someone uploaded other bytes under its name
    with pytest.raises(PyMigrateError, match=r"other-2.0.tar.gz \(the mirror has sha256 abab"):
        _mirror.publish(live, session=index)
    assert index.uploads == []


def test_an_index_that_does_not_list_what_it_accepted_fails(tmp_path):
    bundle, _manifest, _wheel = make_bundle(tmp_path)
    index = FakeIndex(simple="/simple/")
    index.get = lambda url, headers=None, timeout=None, allow_redirects=True: Response(url, 404)
    with pytest.raises(PyMigrateError, match="accepted .* but does not list it with its sha256"):
        _mirror.publish(settings(bundle, kind="pypiserver", url=URL, username="root", password="pw"), session=index)


def test_settings_name_what_is_missing():
    with pytest.raises(PyMigrateError, match="pymigrate_mirror_dir"):
        _mirror.MirrorSettings.from_params({"bundle_dir": "/b", "kind": "static"})
    with pytest.raises(PyMigrateError, match="a devpi mirror needs its index URL"):
        _mirror.MirrorSettings.from_params({"bundle_dir": "/b", "kind": "devpi"})
    assert _mirror.MirrorSettings.from_params({"bundle_dir": "/b", "kind": "static", "path": "/w"}).lock_target is None
