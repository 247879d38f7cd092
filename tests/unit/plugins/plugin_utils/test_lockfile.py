"""Lock files: PEP 751 pylock.toml and hashed requirements per profile; diffs between locks."""

import tomllib

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _lockfile, _profiles, _targets, _wanted
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import DistFile, Pin


def _pin(name, version, sha="ab" * 32):
    dist = DistFile(project=name, version=version, filename="%s-%s-py3-none-any.whl" % (name, version),
                    url="http://x/%s" % name, sha256=sha, size=10, upload_time="2024-01-01T00:00:00Z")
    return Pin(name=name, version=version, file=dist, dependencies=("idna",) if name == "req" else ())


def test_pylock_is_valid_pep751_toml_and_requirements_are_hashed():
    target = _targets.target_from_declaration({"python": "3.9"})
    wanted = _wanted.wanted_sets_for_host("a", {"pymigrate_allow_empty": True})["default"].wanted
    profile = _profiles.build_profiles([("a", "default", target, wanted)])[0]
    pins = [_pin("req", "2.0"), _pin("idna", "3.0", "cd" * 32)]
    lock = tomllib.loads(_lockfile.render_pylock(profile, pins))
    assert lock["lock-version"] == "1.0" and lock["created-by"] == "airgap.pymigrate"
    assert [p["name"] for p in lock["packages"]] == ["idna", "req"]
    wheel = lock["packages"][1]["wheels"][0]
    assert wheel["path"] == "files/sha256/ab/%s/req-2.0-py3-none-any.whl" % ("ab" * 32)
    assert wheel["hashes"] == {"sha256": "ab" * 32} and wheel["size"] == 10
    assert lock["packages"][1]["dependencies"] == [{"name": "idna"}]
    text = _lockfile.render_requirements(profile, pins)
    assert "req==2.0 \\\n    --hash=sha256:%s" % ("ab" * 32) in text


def test_diff_pins():
    assert _lockfile.diff_pins({"a": "1.0", "b": "2.0", "c": "1.0"}, {"a": "1.1", "b": "1.9", "d": "1"}) == {
        "added": ["d==1"], "removed": ["c==1.0"], "upgraded": ["a 1.0 -> 1.1"], "downgraded": ["b 2.0 -> 1.9"]}


IMAGE = {"key": "k" * 64, "name": "localhost/pymigrate-web", "image_id": "1f" * 32, "manifest_digest": "2e" * 32,
         "index": {}, "layers": ["3d" * 32, "4c" * 32], "base_image": "localhost/python:3.11", "base_id": "5b" * 32,
         "path": "/opt/pymigrate/venv", "python": "/usr/bin/python3", "blobs": []}


def test_the_image_of_a_profile_is_its_carrier_in_a_tool_table_of_the_lock():
    target = _targets.target_from_declaration({"python": "3.11"})
    wanted = _wanted.wanted_sets_for_host("a", {"pymigrate_allow_empty": True})["default"].wanted
    profile = _profiles.build_profiles([("a", "default", target, wanted)])[0]
    pins = [_pin("req", "2.0"), _pin("idna", "3.0", "cd" * 32)]
    plain = tomllib.loads(_lockfile.render_pylock(profile, pins))
    assert "carrier" not in plain["tool"]["airgap-pymigrate"]
    lock = tomllib.loads(_lockfile.render_pylock(profile, pins, IMAGE))
    assert lock["packages"] == plain["packages"]  # the packages stay what pip or uv would install
    assert lock["tool"]["airgap-pymigrate"]["profile"] == profile.name
    assert lock["tool"]["airgap-pymigrate"]["carrier"] == {
        "kind": "oci-image", "name": "localhost/pymigrate-web", "image-id": "sha256:" + "1f" * 32,
        "manifest-digest": "sha256:" + "2e" * 32, "base-image": "localhost/python:3.11",
        "base-image-id": "sha256:" + "5b" * 32, "layers": ["sha256:" + "3d" * 32, "sha256:" + "4c" * 32],
        "environment-path": "/opt/pymigrate/venv", "python": "/usr/bin/python3"}
    # No interpreter named: the key is left out (TOML has no null).
    assert "python" not in tomllib.loads(_lockfile.render_pylock(profile, pins, dict(IMAGE, python=None)))[
        "tool"]["airgap-pymigrate"]["carrier"]


def test_publisher_identities_are_each_package_s_pep751_attestation_identities():
    """PEP 751: ``[[packages.attestation-identities]]``, ``kind`` plus the publisher's own keys; a package without a
    verified identity has none, and a key without a value is left out."""
    target = _targets.target_from_declaration({"python": "3.9"})
    wanted = _wanted.wanted_sets_for_host("a", {"pymigrate_allow_empty": True})["default"].wanted
    profile = _profiles.build_profiles([("a", "default", target, wanted)])[0]
    pins = [_pin("req", "2.0"), _pin("idna", "3.0", "cd" * 32)]
    identities = {"req": [{"kind": "GitHub", "repository": "psf/requests", "workflow": "publish.yml",
                           "environment": None}]}
    lock = tomllib.loads(_lockfile.render_pylock(profile, pins, identities=identities))
    by_name = {package["name"]: package for package in lock["packages"]}
    assert by_name["req"]["attestation-identities"] == [
        {"kind": "GitHub", "repository": "psf/requests", "workflow": "publish.yml"}]
    assert "attestation-identities" not in by_name["idna"]
