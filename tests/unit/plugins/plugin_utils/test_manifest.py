"""The bundle manifest: its structure, what each host gets from it, and reading and writing it (check mode too)."""

import json
import os

import pytest

from ansible_collections.airgap.pymigrate.plugins.module_utils import _venv
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest, _model, _profiles, _targets, _wanted
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import DistFile, Pin, PyMigrateError

SHA = {"requests": "aa" * 32, "idna": "bb" * 32, "pip": "cc" * 32, "six": "dd" * 32}


def _dist(name, version):
    return DistFile(project=name, version=version, filename="%s-%s-py3-none-any.whl" % (name, version),
                    url="http://x/%s" % name, sha256=SHA[name], size=len(name) * 100)


def _pin(name, version):
    return Pin(name=name, version=version, file=_dist(name, version))


def _relpath(name, version):
    sha = SHA[name]
    return "files/sha256/%s/%s/%s-%s-py3-none-any.whl" % (sha[:2], sha, name, version)


R, IDNA, S, P = (_relpath("requests", "2.32.3"), _relpath("idna", "3.7"), _relpath("six", "1.16.0"),
                 _relpath("pip", "24.0"))


def build():
    """Two profiles: web1:default and web2:default share p_web (requests, idna); web1:tools gets p_tools (six, idna)."""
    t311 = _targets.target_from_declaration({"python": "3.11"})
    w_web = _wanted.WantedSet(requirements={"requests": "requests"})
    w_tools = _wanted.WantedSet(requirements={"six": "six"})
    env_default = _wanted.EnvSpec(name="default", path="/opt/pymigrate/venv", python="/usr/bin/python3.11",
                                  wanted=w_web, smoke_imports=("requests",))
    env_tools = _wanted.EnvSpec(name="tools", path="/opt/tools", python=None, wanted=w_tools)
    profiles = _profiles.build_profiles([("web1", "default", t311, w_web), ("web2", "default", t311, w_web),
                                         ("web1", "tools", t311, w_tools)])
    envs_by_member = {"web1:default": ("web1", env_default), "web2:default": ("web2", env_default),
                      "web1:tools": ("web1", env_tools)}
    manifest = _manifest.new(["https://pypi.org/simple"], "2026-11-01T00:00:00Z")
    installer = _pin("pip", "24.0")
    for profile in profiles:
        web = profile.wanted == w_web
        pins = ([_pin("requests", "2.32.3"), _pin("idna", "3.7")] if web
                else [_pin("six", "1.16.0"), _pin("idna", "3.7")])
        _manifest.add_profile(manifest, profile, pins, installer, envs_by_member)
    names = {("web" if p.wanted == w_web else "tools"): p.name for p in profiles}
    return manifest, names


def test_new_is_empty_and_unwritten():
    assert _manifest.new(("a", "b"), None) == {
        "format": 1, "serial": None, "created": None,
        "tool": {"name": "airgap.pymigrate", "version": _model.COLLECTION_VERSION},
        "indexes": ["a", "b"], "uploaded_prior_to": None, "profiles": {}, "hosts": {}, "files": {}}


def test_file_record():
    relpath, record = _manifest.file_record(_dist("requests", "2.32.3"))
    assert relpath == R
    assert record == {"size": 800, "sha256": "aa" * 32, "project": "requests", "version": "2.32.3",
                      "filename": "requests-2.32.3-py3-none-any.whl"}


def test_add_profile_builds_the_documented_structure():
    manifest, names = build()
    web, tools = names["web"], names["tools"]
    assert set(manifest["profiles"]) == {web, tools}
    assert manifest["profiles"][web] == {
        "members": ["web1:default", "web2:default"],
        "target": _targets.describe(_targets.target_from_declaration({"python": "3.11"})),
        "lock": "pylock.%s.toml" % web, "requirements": "requirements.%s.txt" % web,
        "packages": {"requests": "2.32.3", "idna": "3.7"}, "files": sorted([R, IDNA]), "installer": P,
    }
    assert manifest["profiles"][tools]["files"] == sorted([S, IDNA])
    assert manifest["profiles"][tools]["members"] == ["web1:tools"]
    assert manifest["hosts"] == {
        "web1": {"default": {"profile": web, "path": "/opt/pymigrate/venv", "python": "/usr/bin/python3.11",
                             "smoke_imports": ["requests"]},
                 "tools": {"profile": tools, "path": "/opt/tools", "python": None, "smoke_imports": []}},
        "web2": {"default": {"profile": web, "path": "/opt/pymigrate/venv", "python": "/usr/bin/python3.11",
                             "smoke_imports": ["requests"]}},
    }
    assert sorted(manifest["files"]) == sorted([R, IDNA, S, P])
    assert manifest["files"][P] == {"size": 300, "sha256": "cc" * 32, "project": "pip", "version": "24.0",
                                    "filename": "pip-24.0-py3-none-any.whl"}


def test_host_files_each_once_sorted():
    manifest, _names = build()
    files = _manifest.host_files(manifest, "web1")
    assert [f["path"] for f in files] == sorted([R, IDNA, S, P])
    assert {f["path"]: (f["sha256"], f["size"]) for f in files}[IDNA] == ("bb" * 32, 400)
    assert set(files[0]) == {"path", "sha256", "size"}
    assert [f["path"] for f in _manifest.host_files(manifest, "web2")] == sorted([R, IDNA, P])


def test_host_envs_are_venv_install_arguments():
    manifest, names = build()
    envs = _manifest.host_envs(manifest, "web1")
    assert [env["name"] for env in envs] == ["default", "tools"]
    default = envs[0]
    assert default["path"] == "/opt/pymigrate/venv" and default["python"] == "/usr/bin/python3.11"
    assert default["profile"] == names["web"]
    assert default["smoke_imports"] == ["requests"]
    assert default["installer"] == {"filename": "pip-24.0-py3-none-any.whl", "sha256": "cc" * 32, "kind": "pip"}
    assert default["packages"] == [
        {"name": "idna", "version": "3.7", "filename": "idna-3.7-py3-none-any.whl", "sha256": "bb" * 32, "size": 400},
        {"name": "requests", "version": "2.32.3", "filename": "requests-2.32.3-py3-none-any.whl",
         "sha256": "aa" * 32, "size": 800},
    ]
    assert default["lock_id"] == _venv.packages_lock_id(default["packages"])
    assert envs[1]["lock_id"] == _venv.packages_lock_id(envs[1]["packages"])
    assert envs[1]["lock_id"] != default["lock_id"]
    assert envs[1]["python"] is None and envs[1]["smoke_imports"] == []
    assert _manifest.host_envs(manifest, "web2")[0]["lock_id"] == default["lock_id"]


def test_host_envs_without_installer():
    manifest, names = build()
    manifest["profiles"][names["tools"]]["installer"] = None
    envs = _manifest.host_envs(manifest, "web1")
    assert envs[1]["installer"] is None
    assert P in [f["path"] for f in _manifest.host_files(manifest, "web1")]  # still needed by default
    assert [f["path"] for f in _manifest.host_files(manifest, "web1")].count(P) == 1


def test_unknown_host_and_unknown_profile():
    manifest, names = build()
    manifest["serial"] = 12
    with pytest.raises(PyMigrateError, match=r"host db9 is not in the bundle \(serial 12\)"):
        _manifest.host_files(manifest, "db9")
    with pytest.raises(PyMigrateError, match="host db9"):
        _manifest.host_envs(manifest, "db9")
    manifest["hosts"]["web2"]["default"]["profile"] = "cp311-gone"
    with pytest.raises(PyMigrateError, match="host web2 refers to profile cp311-gone, which the bundle lacks"):
        _manifest.host_files(manifest, "web2")
    with pytest.raises(PyMigrateError, match="profile cp311-gone"):
        _manifest.host_envs(manifest, "web2")


def test_read_missing(tmp_path):
    assert _manifest.read(str(tmp_path), required=False) is None
    with pytest.raises(PyMigrateError) as info:
        _manifest.read(str(tmp_path))
    assert "no bundle at %s (manifest.json is missing)" % tmp_path in str(info.value)
    assert info.value.var == "pymigrate_bundle_dir" and info.value.value == str(tmp_path)
    assert _manifest.read(str(tmp_path / "nowhere"), check_mode=True, required=False) is None


def test_read_invalid_json(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(PyMigrateError, match="cannot read the bundle manifest .*manifest.json"):
        _manifest.read(str(tmp_path))
    with pytest.raises(PyMigrateError):  # required or not: a broken manifest is never "no bundle"
        _manifest.read(str(tmp_path), required=False)


@pytest.mark.parametrize("content", [{"format": 2, "hosts": {}}, {"hosts": {}}, [1], "text"])
def test_read_wrong_format(tmp_path, content):
    (tmp_path / "manifest.json").write_text(json.dumps(content))
    with pytest.raises(PyMigrateError, match="is not a format 1 bundle manifest"):
        _manifest.read(str(tmp_path))


def test_write_read_round_trip_and_stale_proposal_removed(tmp_path):
    manifest, _names = build()
    manifest.update(serial=3, created="2026-11-25T12:00:00Z")
    bundle = str(tmp_path)
    proposal = tmp_path / ".check" / "manifest.json"
    proposal.parent.mkdir()
    proposal.write_text(json.dumps({"format": 1, "serial": 99}))
    _manifest.write(bundle, manifest)
    assert not proposal.exists()
    assert _manifest.read(bundle) == manifest
    assert _manifest.read(bundle, check_mode=True) == manifest
    assert sorted(os.listdir(bundle)) == [".check", "manifest.json", "manifests", "slices"]
    text = (tmp_path / "manifest.json").read_text()
    assert text.endswith("}\n") and json.loads(text) == manifest
    # Every serial is kept: a rollout that started on serial 3 reads it even after serial 4 is written.
    assert (tmp_path / "manifests" / "3.json").read_text() == text
    _manifest.write(bundle, dict(manifest, serial=4))
    assert _manifest.read(bundle, serial=3) == manifest and _manifest.read(bundle)["serial"] == 4
    os.unlink(tmp_path / "manifests" / "3.json")
    with pytest.raises(PyMigrateError, match="no longer holds serial 3"):
        _manifest.read(bundle, serial=3)


def test_write_proposal_writes_only_the_check_manifest(tmp_path):
    manifest, _names = build()
    manifest["serial"] = 4
    written = _manifest.write_proposal(str(tmp_path), manifest)
    assert written == str(tmp_path / ".check" / "manifest.json")
    assert os.listdir(str(tmp_path)) == [".check"]
    assert os.listdir(str(tmp_path / ".check")) == ["manifest.json"]
    assert _manifest.read(str(tmp_path), check_mode=True) == manifest
    assert _manifest.read(str(tmp_path), required=False) is None


def test_path_prefers_the_proposal_only_in_check_mode_and_when_it_exists(tmp_path):
    bundle = str(tmp_path)
    main, proposal = os.path.join(bundle, "manifest.json"), os.path.join(bundle, ".check", "manifest.json")
    assert _manifest.path(bundle) == main
    assert _manifest.path(bundle, check_mode=True) == main
    old = {"format": 1, "serial": 1}
    _manifest.write(bundle, old)
    _manifest.write_proposal(bundle, {"format": 1, "serial": 2})
    assert _manifest.path(bundle) == main
    assert _manifest.path(bundle, check_mode=True) == proposal
    assert _manifest.read(bundle)["serial"] == 1
    assert _manifest.read(bundle, check_mode=True)["serial"] == 2


def test_equivalent_ignores_serial_and_created_only():
    manifest, _names = build()
    old = json.loads(json.dumps(manifest))
    old.update(serial=1, created="2026-01-01T00:00:00Z")
    new = json.loads(json.dumps(manifest))
    new.update(serial=2, created="2026-11-25T00:00:00Z")
    assert _manifest.equivalent(old, new)
    assert not _manifest.equivalent(None, new)
    assert not _manifest.equivalent({}, new)
    for key, value in (("uploaded_prior_to", "2026-11-02T00:00:00Z"), ("indexes", []),
                       ("tool", {"name": "airgap.pymigrate", "version": "9.9.9"})):
        changed = dict(new, **{key: value})
        assert not _manifest.equivalent(old, changed), key
    changed = json.loads(json.dumps(new))
    changed["hosts"]["web2"]["default"]["path"] = "/elsewhere"
    assert not _manifest.equivalent(old, changed)


def test_packages_by_member():
    manifest, names = build()
    assert _manifest.packages_by_member(manifest) == {
        "web1:default": {"requests": "2.32.3", "idna": "3.7"},
        "web1:tools": {"six": "1.16.0", "idna": "3.7"},
        "web2:default": {"requests": "2.32.3", "idna": "3.7"},
    }
    assert _manifest.packages_by_member(None) == {}
    del manifest["profiles"][names["tools"]]
    assert _manifest.packages_by_member(manifest)["web1:tools"] == {}


def test_metadata_files_order():
    manifest = {"profiles": {"z": {"lock": "pylock.b.toml", "requirements": "requirements.b.txt"},
                             "a": {"lock": "pylock.c.toml", "requirements": "requirements.c.txt"},
                             "m": {"lock": "pylock.a.toml", "requirements": "requirements.a.txt"}}}
    pages = ["simple/index.html", "simple/index.v1_html", "simple/index.v1_json"]
    assert _manifest.metadata_files(manifest) == [
        "manifest.json", "sbom.cdx.json", "pylock.a.toml", "requirements.a.txt", "pylock.b.toml",
        "requirements.b.txt", "pylock.c.toml", "requirements.c.txt"] + pages
    assert _manifest.metadata_files({"profiles": {}}) == ["manifest.json", "sbom.cdx.json"] + pages


def test_the_signed_archive_carries_the_index_pages_and_each_wheel_s_metadata_file():
    wheel = "files/sha256/%s/%s/a-1.0-py3-none-any.whl" % ("a" * 2, "a" * 64)
    sdist = "files/sha256/%s/%s/b-2.0.tar.gz" % ("b" * 2, "b" * 64)
    files = {wheel: {"filename": "a-1.0-py3-none-any.whl", "project": "A", "sha256": "a" * 64, "size": 1,
                     "version": "1.0"},
             sdist: {"filename": "b-2.0.tar.gz", "project": "b", "sha256": "b" * 64, "size": 1, "version": "2.0"}}
    names = _manifest.metadata_files({"profiles": {}, "files": files})
    assert names[2:] == ["simple/index.html", "simple/index.v1_html", "simple/index.v1_json",
                         "simple/a/index.html", "simple/a/index.v1_html", "simple/a/index.v1_json",
                         "simple/b/index.html", "simple/b/index.v1_html", "simple/b/index.v1_json",
                         wheel + ".metadata"]


def test_each_host_slice_is_written_once_with_the_manifest_and_read_alone(tmp_path):
    manifest, _names = build()
    manifest.update(serial=3, created="2026-11-25T12:00:00Z")
    bundle = str(tmp_path)
    _manifest.write(bundle, manifest)
    assert (tmp_path / "slices" / "current").read_text() == "3\n"
    assert len(os.listdir(tmp_path / "slices" / "3")) == len(manifest["hosts"])
    for host_name in manifest["hosts"]:
        expected = _manifest.make_slice(manifest, host_name)
        assert expected["files"] == _manifest.host_files(manifest, host_name)
        assert expected["envs"] == _manifest.host_envs(manifest, host_name)
        assert _manifest.host_slice(bundle, host_name) == expected
    # The slice is what a rollout reads: the fleet's manifest is not parsed for it (a broken one goes unnoticed).
    (tmp_path / "manifest.json").write_text("not json")
    assert _manifest.host_slice(bundle, "web1") == _manifest.make_slice(manifest, "web1")
    with pytest.raises(PyMigrateError, match="host db9 is not in the bundle .serial 3."):
        _manifest.host_slice(bundle, "db9")


def test_a_slice_id_ignores_the_serial_but_not_the_content(tmp_path):
    manifest, _names = build()
    first = _manifest.make_slice(dict(manifest, serial=3), "web1")
    assert first["slice_id"] == _manifest.make_slice(dict(manifest, serial=4), "web1")["slice_id"]
    assert first["slice_id"] != _manifest.make_slice(manifest, "web2")["slice_id"]  # web2 lacks web1's tools env


def test_old_serials_and_proposals_are_computed_from_their_manifest(tmp_path):
    manifest, _names = build()
    bundle = str(tmp_path)
    for serial in range(1, 8):
        _manifest.write(bundle, dict(manifest, serial=serial))
    assert sorted(os.listdir(tmp_path / "slices")) == ["3", "4", "5", "6", "7", "current"]  # the newest five kept
    assert _manifest.host_slice(bundle, "web1", serial=1)["serial"] == 1  # from manifests/1.json
    proposal = dict(manifest, serial=7, hosts={"web1": manifest["hosts"]["web2"]})
    _manifest.write_proposal(bundle, proposal)
    assert _manifest.host_slice(bundle, "web1", check_mode=True) == _manifest.make_slice(proposal, "web1")
    assert _manifest.host_slice(bundle, "web1") == _manifest.make_slice(dict(manifest, serial=7), "web1")


def test_the_batch_images_come_from_the_slices_each_once_without_hosts_the_bundle_lacks(tmp_path):
    """What the control node publishes to a registry for a batch: read from the hosts' slices (the push need not have
    run, as with --skip-tags pymigrate_push), each image once, a host outside the bundle left out."""
    manifest, names = build()
    blob = sorted(manifest["files"])[0]
    image = {"name": "localhost/pymigrate-web", "image_id": "sha256:" + "1" * 64, "index": {"schemaVersion": 2},
             "blobs": [blob]}
    manifest["profiles"][names["web"]]["image"] = image
    manifest.update(serial=4, created="2026-11-25T12:00:00Z")
    _manifest.write(str(tmp_path), manifest)
    images = _manifest.batch_images(str(tmp_path), ["web1", "web2", "db9"])
    assert [image["name"] for image in images] == ["localhost/pymigrate-web"]  # web1 and web2 share it; db9 is out
    assert images[0]["blobs"][0]["path"] == blob and images[0]["image_id"] == "sha256:" + "1" * 64
    assert _manifest.batch_images(str(tmp_path), ["web2"], serial=4) == images
    assert _manifest.batch_images(str(tmp_path), []) == []


def test_an_environment_of_a_slice_by_name():
    manifest, _names = build()
    host_slice = _manifest.make_slice(dict(manifest, serial=4), "web1")
    assert _manifest.slice_env(host_slice, "tools") == _manifest.host_envs(dict(manifest, serial=4), "web1")[1]
    with pytest.raises(PyMigrateError, match="host web1 has no environment api in the bundle .serial 4 holds "
                                             "default, tools for it."):
        _manifest.slice_env(host_slice, "api")


@pytest.mark.parametrize("value, serial", [(None, None), ("", None), (3, 3), ("3", 3), (" 12 ", 12)])
def test_a_pinned_serial_is_a_whole_number_or_unset(value, serial):
    assert _manifest.pinned_serial(value) == serial


@pytest.mark.parametrize("value", [0, -1, "0", "newest", 1.5, True, [1]])
def test_a_pinned_serial_that_is_not_one_is_refused_by_name(value):
    with pytest.raises(PyMigrateError, match="a bundle serial is a whole number from 1 .variable "
                                             "pymigrate_bundle_serial"):
        _manifest.pinned_serial(value)


def test_the_bundle_in_use_is_the_one_built_here_else_the_last_import(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    imported = str(tmp_path / "import" / _manifest.IMPORTED_CURRENT)
    assert _manifest.in_use(str(tmp_path / "bundle"), str(tmp_path / "import")) == imported
    os.makedirs(str(tmp_path / "bundle"))  # a directory is not a bundle: its manifest is
    assert _manifest.in_use(str(tmp_path / "bundle"), str(tmp_path / "import")) == imported
    manifest, _names = build()
    _manifest.write(str(tmp_path / "bundle"), dict(manifest, serial=1))
    assert _manifest.in_use(str(tmp_path / "bundle"), str(tmp_path / "import")) == str(tmp_path / "bundle")
    assert _manifest.in_use("~/bundle") == str(tmp_path / "bundle")  # expanded
    # Unset, each takes its default (pymigrate_bundle_dir's, pymigrate_import_dir's).
    assert _manifest.in_use() == os.path.join(os.path.expanduser(_manifest.DEFAULT_IMPORT_DIR), "current")
    _manifest.write(os.path.expanduser(_manifest.DEFAULT_BUNDLE_DIR), dict(manifest, serial=1))
    assert _manifest.in_use(None, None) == os.path.expanduser(_manifest.DEFAULT_BUNDLE_DIR)


def test_removals_are_in_the_manifest_and_the_slice_and_dropped_environments_are_found():
    manifest, _names = build()
    _manifest.set_absent(manifest, {"web2": {"old": "/opt/old/venv"}, "gone": {"old": "/opt/old/venv"}})
    assert manifest["absent"] == {"web2": {"old": {"path": "/opt/old/venv"}},
                                  "gone": {"old": {"path": "/opt/old/venv"}}}
    assert manifest["hosts"]["gone"] == {}  # a host with nothing left but removals still has a slice
    found = _manifest.make_slice(manifest, "web2")
    assert found["absent"] == [{"name": "old", "path": "/opt/old/venv"}]
    plain = dict(manifest, absent={})
    assert "absent" not in _manifest.make_slice(plain, "web2")
    assert found["slice_id"] != _manifest.make_slice(plain, "web2")["slice_id"]
    gone = _manifest.make_slice(manifest, "gone")
    assert gone["files"] == [] and gone["envs"] == [] and gone["absent"] == [{"name": "old", "path": "/opt/old/venv"}]
    # The next build's inventory no longer names web1's tools, nor web2's old (it was to be removed): both dropped.
    new, _names = build()
    del new["hosts"]["web1"]["tools"]
    assert _manifest.dropped_envs(manifest, new, ["web1", "web2"]) == {"web1": {"tools": "/opt/tools"}}
    assert _manifest.dropped_envs(manifest, new, ["web1", "web2"], removals=True) == {
        "web1": {"tools": "/opt/tools"}, "web2": {"old": "/opt/old/venv"}}
    renamed = json.loads(json.dumps(new))
    renamed["hosts"]["web1"]["renamed"] = dict(manifest["hosts"]["web1"]["tools"])
    assert _manifest.dropped_envs(manifest, renamed, ["web1"]) == {}  # its path is kept under another name
    assert _manifest.dropped_envs(None, new, ["web1"]) == {}


def test_a_host_outside_the_run_keeps_its_removals():
    previous, _names = build()
    _manifest.set_absent(previous, {"web2": {"old": "/opt/old/venv"}})
    new = _manifest.new([], None)
    _manifest.carry_over(previous, new, ["web2"])
    assert new["absent"] == {"web2": {"old": {"path": "/opt/old/venv"}}} and new["hosts"]["web2"]
