"""The registry side of the image strategy on its own: the reference an image gets in the registry, and the
question whether the registry holds it, asked of a real HTTP server on 127.0.0.1 speaking the registry API."""

import http.server
import json
import threading

import pytest

from ansible_collections.airgap.pymigrate.plugins.module_utils import _image

IMAGE = {"name": "localhost/pymigrate-web", "image_id": "1f" * 32, "index": {}, "blobs": []}


def test_the_reference_is_the_images_id_as_tag_under_the_namespace():
    assert _image.registry_reference({"url": "reg:5000"}, IMAGE) == "reg:5000/pymigrate/pymigrate-web:" + "1f" * 32
    assert _image.registry_reference({"url": "reg:5000/", "namespace": "/site/envs/"}, IMAGE) == \
        "reg:5000/site/envs/pymigrate-web:" + "1f" * 32
    assert _image.registry_reference({"url": "reg", "namespace": ""}, IMAGE) == "reg/pymigrate-web:" + "1f" * 32


@pytest.fixture
def registry():
    """A registry API on 127.0.0.1 (plain HTTP) holding one manifest per path; records what was asked."""
    manifests, asked = {}, []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append((self.path, self.headers.get("Accept")))
            body = manifests.get(self.path)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": "127.0.0.1:%d" % server.server_address[1], "manifests": manifests, "asked": asked}
    finally:
        server.shutdown()
        server.server_close()


def test_the_registry_is_asked_for_the_tag_and_must_name_the_images_config(registry):
    setting = {"url": registry["url"], "tls_verify": False}
    path = "/v2/pymigrate/pymigrate-web/manifests/" + "1f" * 32
    assert _image.registry_has(setting, IMAGE) is False  # 404: not there
    assert registry["asked"][-1][0] == path and "application/vnd.oci.image.manifest.v1+json" in registry["asked"][-1][1]
    registry["manifests"][path] = {"config": {"digest": "sha256:" + "1f" * 32}, "layers": []}
    assert _image.registry_has(setting, IMAGE) is True
    # Another image under the tag is not ours: it is pushed again (and a pull of it would be refused by its ID).
    registry["manifests"][path] = {"config": {"digest": "sha256:" + "2e" * 32}, "layers": []}
    assert _image.registry_has(setting, IMAGE) is False


def test_with_tls_verified_a_plain_http_registry_is_not_trusted(registry):
    with pytest.raises(_image.ImageError, match="cannot reach the registry 127.0.0.1"):
        _image.registry_has({"url": registry["url"], "tls_verify": True}, IMAGE, timeout=5)


# -- smoke runs and tags: what the engine is asked (a recording stand-in for podman) --------------------------------
class Engine:
    """Records every engine command; ``images`` maps a reference (tag or ID) to an image ID."""

    def __init__(self, images=None):
        self.images, self.calls = dict(images or {}), []

    def run(self, argv, what, stdin=None):
        self.calls.append(list(argv))
        if argv[1] == "tag":
            self.images[argv[3]] = self.images.get(argv[2], argv[2])
        return ""

    def image_id(self, engine, reference):
        return self.images.get(reference)


@pytest.fixture
def engine(monkeypatch, tmp_path):
    fake = Engine()
    monkeypatch.setattr(_image, "_run", fake.run)
    monkeypatch.setattr(_image, "image_id", fake.image_id)
    monkeypatch.setattr(_image, "find_engine", lambda choice: "podman")
    monkeypatch.setattr(_image, "HISTORY_DIR", str(tmp_path / "history"))
    return fake


def test_a_smoke_import_is_a_module_name_passed_as_an_argument_never_code(engine):
    _image.smoke_run("podman", "img", "/opt/venv/bin/python", ["yaml", "email.mime"])
    assert engine.calls[-1][-4:] == ["-c", _image.SMOKE_RUNNER, "yaml", "email.mime"]
    with pytest.raises(_image.ImageError, match="not a dotted module name"):
        _image.smoke_run("podman", "img", "/opt/venv/bin/python", ["os; import os; os.system('id')"])
    assert len(engine.calls) == 1  # nothing ran for the refused one


def test_a_site_image_under_the_same_tag_is_never_taken_over(engine):
    engine.images.update({"localhost/siteapp:current": "sha256:site", "sha256:new": "sha256:new"})
    image = {"image_id": "sha256:new", "blobs": []}
    with pytest.raises(_image.ImageError, match="did not install"):
        _image.ensure("/store", "localhost/siteapp", 3, image)
    assert engine.images["localhost/siteapp:current"] == "sha256:site"
    engine.images.pop("localhost/siteapp:current")
    result = _image.ensure("/store", "localhost/siteapp", 3, image)  # no such tag: ours from now on
    assert result["changed"] and engine.images["localhost/siteapp:current"] == "sha256:new"
    engine.images["sha256:newer"] = "sha256:newer"
    assert _image.ensure("/store", "localhost/siteapp", 4, dict(image, image_id="sha256:newer"))["changed"]


def test_after_a_rollback_the_run_forward_again_retags_its_own_image_and_a_second_rollback_never_goes_forward(engine):
    """CI: migrate, rollback, migrate again refused the image of serial 2 as another's ("did not install"): the
    rollback had forgotten it while its serial's tag stayed on the host."""
    engine.images.update({"sha256:one": "sha256:one", "sha256:two": "sha256:two"})
    _image.ensure("/store", "localhost/app", 1, {"image_id": "sha256:one", "blobs": []})
    _image.ensure("/store", "localhost/app", 2, {"image_id": "sha256:two", "blobs": []})
    assert _image.rollback("localhost/app")["image_id"] == "sha256:one"
    again = _image.rollback("localhost/app")  # nothing older than serial 1: never forward to serial 2
    assert not again["changed"] and engine.images["localhost/app:current"] == "sha256:one"
    assert _image.ensure("/store", "localhost/app", 2, {"image_id": "sha256:two", "blobs": []})["changed"]
    assert engine.images["localhost/app:current"] == "sha256:two"
    assert _image.rollback("localhost/app")["image_id"] == "sha256:one"
