"""An sdist's build code, run on the control node by the bundle build, sees none of the run's secrets.

The build backend of ``spyware`` (tests/index/wheels.py SPY_BACKEND) looks, before it builds, at its environment,
at every process's command line and environment it can see, at the signing key file and a key under the home, and
tries to open a connection to the index; what it found travels in the wheel it builds. The index asks for a password;
a process of the run holds a passphrase on its command line and a token in its environment.
"""

import json
import os
import subprocess
import sys
import zipfile

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import (
    _bundle,
    _index,
    _inventory,
    _manifest,
    _profiles,
    _sandbox,
    _targets,
    _wanted,
)
from tests.index import catalog

PASSWORD = "index-s3cret-pw"
PASSPHRASE = "passphrase-on-the-command-line"
TOKEN = "token-in-the-environment"


@pytest.fixture
def world(make_index, tmp_path, monkeypatch):
    if _sandbox.available():
        pytest.skip("this machine cannot make namespaces: %s" % _sandbox.available())
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("SSH-PRIVATE-KEY\n")
    key = tmp_path / "secure" / "pymigrate.key"
    key.parent.mkdir()
    key.write_text("SIGNING-PRIVATE-KEY\n")
    key.chmod(0o600)
    index = make_index([], auth=("pm", PASSWORD))
    release = catalog.release("spyware", "1.0", sdist=True, wheel=False, sdist_backend="spy",
                              spy_files=[str(key), str(home / ".ssh" / "id_ed25519")],
                              spy_connect="127.0.0.1:%d" % index.port)
    catalog.build(index.root, [release])
    index.reload()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PYMIGRATE_TEST_TOKEN", TOKEN)
    # Another process of the run, with a passphrase on its command line (as ansible-playbook -e ... has).
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", PASSPHRASE])
    yield {"index": index, "key": str(key), "tmp": tmp_path}
    holder.kill()
    holder.wait()


def test_an_sdist_build_sees_no_secret_of_the_run(world):
    wanted = _wanted.wanted_sets_for_host("web1", {"pymigrate_requirements": {"spyware": ""}})
    target = _targets.target_from_declaration({"python": "%d.%d" % sys.version_info[:2]})
    host = _profiles.HostInput("web1", wanted, target)
    settings = _bundle.BundleSettings(str(world["tmp"] / "bundle"), build_hidden=(world["key"],))
    config = _index.IndexConfig(world["index"].url, username="pm", password=PASSWORD)
    client = _index.IndexClient([config])
    lines = []
    try:
        _bundle.build_bundle(_inventory.BundleInputs([host]), settings, client, lines.append)
    finally:
        client.close()
    manifest = _manifest.read(settings.bundle_dir)
    (wheel,) = [path for path, info in manifest["files"].items() if info["filename"].endswith(".whl")
                and info["project"] == "spyware"]
    with zipfile.ZipFile(os.path.join(settings.bundle_dir, wheel)) as archive:
        found = json.loads(archive.read("spyware/spy.json"))
    text = json.dumps(found)
    for secret in (PASSWORD, PASSPHRASE, TOKEN, "SIGNING-PRIVATE-KEY", "SSH-PRIVATE-KEY"):
        assert secret not in text, (secret, text[:3000])
    assert not [name for name in found["env"] if name.startswith(("PYMIGRATE", "ANSIBLE", "SSH_"))]
    assert found["connect"].startswith("refused")  # no network at all: the index is out of reach
    assert all(content.startswith("refused") or content == "" for content in found["files"].values())


def test_pip_find_links_of_the_control_node_never_reaches_a_build_when_an_index_is_given(world, monkeypatch):
    # Issue 27: PIP_FIND_LINKS in the control node's environment was followed by sdist builds although
    # pymigrate_index_url was set, and the manifest named only the index. The build's environment is the run's own
    # (its build requirements fetched by the run's client into a directory of the build), and the manifest names the
    # one source every file came from.
    links = world["tmp"] / "links"
    links.mkdir()
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.invalid/simple")
    wanted = _wanted.wanted_sets_for_host("web1", {"pymigrate_requirements": {"spyware": ""}})
    target = _targets.target_from_declaration({"python": "%d.%d" % sys.version_info[:2]})
    settings = _bundle.BundleSettings(str(world["tmp"] / "bundle"), build_hidden=(world["key"],))
    client = _index.IndexClient([_index.IndexConfig(world["index"].url, username="pm", password=PASSWORD)])
    try:
        _bundle.build_bundle(_inventory.BundleInputs([_profiles.HostInput("web1", wanted, target)]), settings,
                             client, lambda line: None)
    finally:
        client.close()
    manifest = _manifest.read(settings.bundle_dir)
    (wheel,) = [path for path, info in manifest["files"].items() if info["filename"].endswith(".whl")
                and info["project"] == "spyware"]
    with zipfile.ZipFile(os.path.join(settings.bundle_dir, wheel)) as archive:
        env = json.loads(archive.read("spyware/spy.json"))["env"]
    assert str(links) not in json.dumps(env) and "pypi.invalid" not in json.dumps(env)
    assert env.get("PIP_NO_INDEX") == "1" and env.get("PIP_FIND_LINKS") != str(links)
    assert manifest["indexes"] == [world["index"].url]
