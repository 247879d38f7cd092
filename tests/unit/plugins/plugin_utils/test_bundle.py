"""The bundle build, step by step, against an in-memory index: profiles, resolution, what is written (and what
check mode writes), no-op re-runs, pin changes, and errors that leave the previous bundle intact."""

import dataclasses
import difflib
import hashlib
import json
import os
import tomllib

import pytest

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import write_atomic
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import (
    _bundle,
    _image,
    _inventory,
    _lockdir,
    _manifest,
    _profiles,
    _targets,
    _wanted,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
from tests.unit.plugins.plugin_utils.fake_index import FakeIndexClient

RELEASES = {"alpha": {"1.0": [], "2.0": ["beta>=1"]}, "beta": {"1.0": []}, "pip": {"24.2": []}}


def host(name, python="3.11", **requirements):
    variables = {"pymigrate_requirements": requirements or {"alpha": ""}}
    return _profiles.HostInput(name, _wanted.wanted_sets_for_host(name, variables),
                               _targets.target_from_declaration({"python": python}))


def build(bundle_dir, hosts, client=None, keep_hosts=(), progress=None, **settings):
    client = client or FakeIndexClient(RELEASES)
    settings = _bundle.BundleSettings(str(bundle_dir), **dict({"build_sdists": False}, **settings))
    return _bundle.build_bundle(_inventory.BundleInputs(hosts, kept=keep_hosts), settings, client, progress), client


def listing(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _s, files in os.walk(root) for f in files)


def test_first_build_writes_locks_sbom_manifest_and_files(tmp_path):
    result, client = build(tmp_path, [host("a"), host("b", python="3.12")])
    assert result["changed"] and result["serial"] == 1
    assert sorted(result["fetched"]) == ["alpha-2.0-py3-none-any.whl", "beta-1.0-py3-none-any.whl",
                                         "pip-24.2-py3-none-any.whl"]
    assert len(client.downloads) == 3  # each file once, shared by both profiles
    manifest = _manifest.read(str(tmp_path))
    assert manifest["serial"] == 1 and sorted(manifest["hosts"]) == ["a", "b"]
    assert all(p["packages"] == {"alpha": "2.0", "beta": "1.0"} for p in manifest["profiles"].values())
    names = set(os.listdir(tmp_path))
    assert {"manifest.json", "sbom.cdx.json", "files", "simple"} <= names
    assert sorted(os.listdir(tmp_path / "simple")) == ["alpha", "beta", "index.html", "index.v1_html", "index.v1_json",
                                                       "pip"]
    assert len([n for n in names if n.startswith("pylock.")]) == 2
    assert not any(n.startswith(".work-") for n in names)  # the work directory is gone


def test_rerun_with_nothing_new_changes_and_fetches_nothing(tmp_path):
    build(tmp_path, [host("a")])
    before = {name: os.path.getmtime(os.path.join(tmp_path, name)) for name in os.listdir(tmp_path) if name != ".lock"}
    pages = {path: os.path.getmtime(tmp_path / "simple" / path) for path in listing(tmp_path / "simple")}
    result, client = build(tmp_path, [host("a")])
    assert not result["changed"] and result["serial"] == 1 and result["fetched"] == []
    assert client.downloads == []
    assert pages == {path: os.path.getmtime(tmp_path / "simple" / path) for path in listing(tmp_path / "simple")}
    assert before == {name: os.path.getmtime(os.path.join(tmp_path, name)) for name in os.listdir(tmp_path)
                      if name != ".lock"}


def test_check_mode_writes_only_the_proposal(tmp_path):
    bundle_dir = tmp_path / "bundle"
    result, client = build(bundle_dir, [host("a")], check_mode=True)
    assert result["changed"] and result["serial"] is None and client.downloads == []
    assert listing(bundle_dir) == [".check/manifest.json"]
    assert json.loads((bundle_dir / ".check" / "manifest.json").read_text())["hosts"]["a"]["default"]["profile"]
    # The real build after it removes the proposal: a stale one would mislead the next check-mode rollout.
    build(bundle_dir, [host("a")])
    assert not (bundle_dir / ".check" / "manifest.json").exists()


def test_a_pin_change_bumps_the_serial_reports_changes_and_drops_stale_locks(tmp_path):
    build(tmp_path, [host("a"), host("b", python="3.12")])
    result, _client = build(tmp_path, [host("a", alpha="==1.0")])  # b left the inventory
    assert result["changed"] and result["serial"] == 2
    assert result["changes"] == {"a:default": {"added": [], "removed": ["beta==1.0"], "upgraded": [],
                                               "downgraded": ["alpha 2.0 -> 1.0"]}}
    assert sorted(_manifest.read(str(tmp_path))["hosts"]) == ["a"]
    assert len([n for n in os.listdir(tmp_path) if n.startswith("pylock.")]) == 1
    assert "a:default alpha==1.0" in result["diff"]["after"]


def test_errors_leave_the_previous_bundle_intact(tmp_path):
    build(tmp_path, [host("a")])
    manifest = (tmp_path / "manifest.json").read_text()
    with pytest.raises(PyMigrateError, match="nosuch.*hosts: a:default"):
        build(tmp_path, [host("a", nosuch="")])
    client = FakeIndexClient(RELEASES)
    client.corrupt.add("alpha-1.0-py3-none-any.whl")
    with pytest.raises(PyMigrateError, match="does not match the index"):
        build(tmp_path, [host("a", alpha="==1.0")], client=client)
    assert (tmp_path / "manifest.json").read_text() == manifest
    assert not any(name.endswith(".part") for name in listing(tmp_path))
    assert not any(name.startswith(".work-") for name in os.listdir(tmp_path))  # no leftovers


def test_a_limited_run_keeps_every_other_host(tmp_path):
    """--limit a: b keeps its entry, profile, lock file and SBOM components; a gets its new pins."""
    build(tmp_path, [host("a"), host("b", python="3.12", alpha="==1.0")])
    before = _manifest.read(str(tmp_path))
    b_profile = before["hosts"]["b"]["default"]["profile"]
    b_lock = (tmp_path / before["profiles"][b_profile]["lock"]).read_text()
    result, _client = build(tmp_path, [host("a", alpha="==1.0", beta="")], keep_hosts=["b", "gone"])
    after = _manifest.read(str(tmp_path))
    assert result["serial"] == 2 and result["kept_hosts"] == ["b"]
    assert after["hosts"]["b"] == before["hosts"]["b"] and after["profiles"][b_profile] == before["profiles"][b_profile]
    assert (tmp_path / after["profiles"][b_profile]["lock"]).read_text() == b_lock
    a_profile = after["profiles"][after["hosts"]["a"]["default"]["profile"]]
    assert a_profile["packages"] == {"alpha": "1.0", "beta": "1.0"}
    sbom = json.loads((tmp_path / "sbom.cdx.json").read_text())
    assert any(p["value"] == b_profile for c in sbom["components"] for p in c["properties"])
    again, _client = build(tmp_path, [host("a", alpha="==1.0", beta="")], keep_hosts=["b"])
    assert not again["changed"]  # the same limited run again changes nothing


def test_one_build_at_a_time(tmp_path):
    from ansible_collections.airgap.pymigrate.plugins.module_utils._store import FileLock
    build(tmp_path, [host("a")])
    with FileLock(str(tmp_path / ".lock"), 0):
        with pytest.raises(PyMigrateError, match=r"another run holds .*\.lock \(pid \d+ on .* since .*; waited 0.3s\)"):
            build(tmp_path, [host("a", alpha="==1.0")], lock_timeout=0.3)
    assert _manifest.read(str(tmp_path))["serial"] == 1
    assert build(tmp_path, [host("a", alpha="==1.0")])[0]["serial"] == 2  # free again


def test_progress_says_what_the_build_does(tmp_path):
    lines = []
    build(tmp_path, [host("a"), host("b", python="3.12")], progress=lines.append)
    assert lines[0] == "resolving 2 profile(s) for 2 host environment(s)"
    assert sorted(line.split(" (")[1] for line in lines[1:3]) == ["1 of 2): 2 packages", "2 of 2): 2 packages"]
    assert lines[3].startswith("fetching 3 of 3 file(s), ") and lines[3].endswith(" MB")
    fetched = [line for line in lines if line.startswith("fetched ")]  # a line per 10 % of the bytes, at most
    assert 1 <= len(fetched) <= 10 and fetched[-1].startswith("fetched 100 % (3 of 3 file(s), ")
    assert lines[4 + len(fetched)] == "bundle serial 1 written to %s" % tmp_path
    again = []
    build(tmp_path, [host("a"), host("b", python="3.12")], progress=again.append)
    assert again[-1] == "nothing changed: the bundle stays at serial 1"


def _with_uv_wheel(client, tag):
    """Serve one uv wheel with the platform ``tag`` (uv is a binary: its wheels are platform wheels)."""
    import dataclasses
    dist = client.project_files("pip")[0]
    filename = "uv-0.13.9-py3-none-%s.whl" % tag
    uv = dataclasses.replace(dist, project="uv", version="0.13.9", filename=filename,
                             url=dist.url.rsplit("/", 1)[0] + "/" + filename)
    client._files["uv"] = [uv]
    client._meta[uv.url] = client._meta[dist.url]
    client._data[uv.url] = client._data[dist.url]
    return client


def test_installer_uv_carries_the_uv_wheel_that_fits_each_profile(tmp_path):
    client = _with_uv_wheel(FakeIndexClient(RELEASES), "manylinux_2_17_x86_64.manylinux2014_x86_64")
    lines = []
    result, _client = build(tmp_path, [host("a")], client=client, installer="uv", progress=lines.append)
    assert list(result["installers"].values()) == ["uv"]
    manifest = _manifest.read(str(tmp_path))
    assert sorted(f["project"] for f in manifest["files"].values()) == ["alpha", "beta", "uv"]  # no pip
    env = _manifest.host_envs(manifest, "a")[0]
    assert env["installer"]["kind"] == "uv" and env["installer"]["filename"].startswith("uv-0.13.9-")
    assert not any("installs with pip" in line for line in lines)


def test_a_profile_no_uv_wheel_fits_installs_with_pip_and_the_run_says_so(tmp_path):
    client = _with_uv_wheel(FakeIndexClient(RELEASES), "musllinux_1_1_x86_64")  # the declared targets are glibc
    lines = []
    result, _client = build(tmp_path, [host("a")], client=client, installer="uv", progress=lines.append)
    assert list(result["installers"].values()) == ["pip"]
    assert [line for line in lines if "installs with pip: no uv wheel (uv) fits it" in line]
    env = _manifest.host_envs(_manifest.read(str(tmp_path)), "a")[0]
    assert env["installer"]["kind"] == "pip" and env["installer"]["filename"] == "pip-24.2-py3-none-any.whl"


def _image_host(name, python="3.11"):
    variables = {"pymigrate_requirements": {"alpha": ""}, "pymigrate_strategy": "image",
                 "pymigrate_base_image": "localhost/python:%s" % python}
    return _profiles.HostInput(name, _wanted.wanted_sets_for_host(name, variables),
                               _targets.target_from_declaration({"python": python}))


@pytest.fixture
def no_engine(monkeypatch):
    """The image builder without podman: the base image's facts are the declared target's, and a build saves a
    small OCI layout (config, one layer, manifest) whose digests depend on what went into it, through the
    builder's own code that stores the blobs and records the image. Returns the list of keys built."""
    built = []

    def target(self, base_image, python):
        declared = _targets.target_from_declaration({"python": base_image.rsplit(":", 1)[1]})
        return hashlib.sha256(base_image.encode()).hexdigest(), declared

    def build(self, key, carrier, files, installer):
        layout = os.path.join(str(self.work_dir), "oci-" + key[:8])
        blobs = os.path.join(layout, "blobs", "sha256")
        os.makedirs(blobs)

        def blob(data):
            digest = hashlib.sha256(data).hexdigest()
            with open(os.path.join(blobs, digest), "wb") as handle:
                handle.write(data)
            return {"digest": "sha256:" + digest, "size": len(data)}
        layer = blob(json.dumps([f["sha256"] for f in files]).encode())
        config = blob(json.dumps({"rootfs": {"diff_ids": [layer["digest"]]}, "key": key}).encode())
        manifest = blob(json.dumps({"config": config, "layers": [layer]}).encode())
        with open(os.path.join(layout, "index.json"), "w") as handle:
            json.dump({"manifests": [manifest]}, handle)
        record = self._store_layout(layout, key, carrier)
        os.makedirs(os.path.join(self.bundle_dir, _image.IMAGES_DIR), exist_ok=True)
        write_atomic(os.path.join(self.bundle_dir, _image.IMAGES_DIR, key + ".json"), json.dumps(record).encode())
        built.append(key)
        return record
    monkeypatch.setattr(_image.ImageBuilder, "target", target)
    monkeypatch.setattr(_image.ImageBuilder, "build", build)
    return built


def test_the_lock_and_sbom_of_an_image_profile_name_the_image_built_and_a_rerun_changes_nothing(tmp_path, no_engine):
    result, _client = build(tmp_path, [_image_host("a"), _image_host("b", python="3.12")])
    assert result["changed"] and len(no_engine) == 2
    manifest = _manifest.read(str(tmp_path))
    sbom = json.loads((tmp_path / "sbom.cdx.json").read_text())
    containers = {c["bom-ref"]: c for c in sbom["components"] if c["type"] == "container"}
    assert len(containers) == 2
    for name, profile in manifest["profiles"].items():
        image = profile["image"]
        carrier = tomllib.loads((tmp_path / profile["lock"]).read_text())["tool"]["airgap-pymigrate"]["carrier"]
        assert carrier["kind"] == "oci-image" and carrier["image-id"] == "sha256:" + image["image_id"]
        assert carrier["manifest-digest"] == "sha256:" + image["manifest_digest"]
        assert carrier["layers"] == ["sha256:" + layer for layer in image["layers"]]
        assert carrier["base-image"] == image["base_image"] and carrier["base-image-id"] == "sha256:" + image["base_id"]
        component = [c for c in containers.values() if c["hashes"][0]["content"] == image["manifest_digest"]][0]
        assert {"name": "airgap.pymigrate:profile", "value": name} in component["properties"]
        depends = [d["dependsOn"] for d in sbom["dependencies"] if d["ref"] == component["bom-ref"]][0]
        assert sorted(c["name"] for c in sbom["components"] if c["bom-ref"] in depends) == ["alpha", "beta"]
    before = {name: (tmp_path / name).read_text() for name in os.listdir(tmp_path) if name.endswith((".toml", ".json"))}
    again, _client = build(tmp_path, [_image_host("a"), _image_host("b", python="3.12")])
    assert not again["changed"] and again["serial"] == 1 and len(no_engine) == 2  # nothing built, nothing written
    assert before == {name: (tmp_path / name).read_text() for name in before}


def test_a_host_carried_over_keeps_its_image_in_the_sbom(tmp_path, no_engine):
    build(tmp_path, [_image_host("a"), _image_host("b", python="3.12")])
    sbom = json.loads((tmp_path / "sbom.cdx.json").read_text())
    kept = [c["bom-ref"] for c in sbom["components"] if c["type"] == "container" and "3.12" in json.dumps(c)]
    newer = dict(RELEASES, alpha={"1.0": [], "2.0": ["beta>=1"], "3.0": []})  # host a only gets alpha 3.0
    result, _client = build(tmp_path, [_image_host("a")], keep_hosts=["b"], client=FakeIndexClient(newer))
    assert result["changed"] and result["kept_hosts"] == ["b"]
    sbom = json.loads((tmp_path / "sbom.cdx.json").read_text())
    refs = {c["bom-ref"] for c in sbom["components"]}
    assert len([c for c in sbom["components"] if c["type"] == "container"]) == 2 and set(kept) <= refs
    assert set(kept) <= {d["ref"] for d in sbom["dependencies"]}


# -- the lock (docs/lock-format.md) -------------------------------------------------------------------------------
LOCKED = {"app": {"1.0": ["lib>=1"]}, "lib": {"1.0": [], "1.5": []}, "tool": {"1.0": []}, "pip": {"24.2": []}}
NEWER = {"app": {"1.0": ["lib>=1"], "1.1": ["lib>=1"]}, "lib": {"1.0": [], "1.5": [], "1.7": [], "2.0": []},
         "tool": {"1.0": [], "2.0": []}, "pip": {"24.2": [], "25.0": []}, "plugin": {"1.0": ["lib>=1.5"]}}


def locked_build(tmp_path, releases, hosts=None, **settings):
    lines = []
    settings = dict({"lock_dir": str(tmp_path / "lock"), "lock_mode": "update"}, **settings)
    result, client = build(tmp_path / "bundle", hosts or [host("web1", app="", tool="")], FakeIndexClient(releases),
                           progress=lines.append, **settings)
    return result, lines


def lock_text(tmp_path):
    (path,) = [p for p in (tmp_path / "lock").iterdir() if p.name.startswith("pylock.")]
    return path.read_text()


def versions(result):
    (profile,) = result["profiles"].values()
    return profile["packages"]


def test_update_writes_the_lock_and_the_bundle_carries_it(tmp_path):
    result, _lines = locked_build(tmp_path, LOCKED)
    assert versions(result) == {"app": "1.0", "lib": "1.5", "tool": "1.0"}
    assert sorted(p.name for p in (tmp_path / "lock").iterdir()) == [
        "README.md", "pylock.default-cp311-manylinux_2_17_x86_64.toml"]
    assert result["lock"]["changed_files"] == ["pylock.default-cp311-manylinux_2_17_x86_64.toml", "README.md"]
    assert result["lock"]["changes"] == {"web1:default": {"added": ["app==1.0", "lib==1.5", "tool==1.0"],
                                                          "removed": [], "upgraded": [], "downgraded": []}}
    manifest = _manifest.read(str(tmp_path / "bundle"))
    assert manifest["lock"]["files"] == ["lock/README.md", "lock/pylock.default-cp311-manylinux_2_17_x86_64.toml"]
    assert (tmp_path / "bundle" / "lock" / "README.md").read_text() == (tmp_path / "lock" / "README.md").read_text()
    assert "lock/README.md" in _manifest.metadata_files(manifest)  # the signed archive carries it


def test_an_unchanged_inventory_never_changes_a_locked_version_whatever_the_index_published(tmp_path):
    locked_build(tmp_path, LOCKED)
    text = lock_text(tmp_path)
    result, lines = locked_build(tmp_path, NEWER)
    assert not result["changed"] and versions(result) == {"app": "1.0", "lib": "1.5", "tool": "1.0"}
    assert lock_text(tmp_path) == text and result["lock"]["held"] and result["lock"]["changed_files"] == []
    assert "lock: unchanged, it holds for every environment of this run" in lines
    assert not [line for line in lines if line.startswith("resolving")]  # nothing was resolved
    ignored, _lines = locked_build(tmp_path, NEWER, lock_mode="ignore")  # today's behaviour: the newest each run
    assert versions(ignored) == {"app": "1.1", "lib": "2.0", "tool": "2.0"} and "lock" not in ignored
    assert lock_text(tmp_path) == text


def test_an_upgrade_of_one_project_moves_only_it_and_its_lock_diff_only_its_entry(tmp_path):
    locked_build(tmp_path, LOCKED)
    before = lock_text(tmp_path)
    result, _lines = locked_build(tmp_path, NEWER, upgrade=_lockdir.upgrade_names(["tool"]))
    assert versions(result) == {"app": "1.0", "lib": "1.5", "tool": "2.0"}
    assert result["lock"]["changes"] == {"web1:default": {"added": [], "removed": [], "upgraded": ["tool 1.0 -> 2.0"],
                                                          "downgraded": []}}
    after = lock_text(tmp_path)
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines())
    changed = [(tag, i1, i2, j1, j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]
    assert changed
    for _tag, i1, i2, j1, j2 in changed:  # every changed line (either side) is in tool's [[packages]] entry
        assert {package_of(before, i) for i in range(i1, i2)} | {package_of(after, j) for j in range(j1, j2)} == {
            "tool"}, changed


def package_of(text, index):
    """The [[packages]] entry (its name) a line of a lock is in, None outside every entry."""
    name, entry = None, False
    for line in text.splitlines()[:index + 1]:
        if line.startswith("["):
            name, entry = None, line == "[[packages]]"
        elif entry and name is None and line.startswith("name = "):
            name = line.split('"')[1]
    return name


def test_an_added_pin_changes_only_what_it_requires(tmp_path):
    locked_build(tmp_path, {**LOCKED, "lib": {"1.0": [], "1.5": [], "1.7": []}, "plugin": {"1.0": ["lib>=1.5"]}})
    result, _lines = locked_build(tmp_path, NEWER, hosts=[host("web1", app="", tool="", plugin="")])
    # lib 1.7 (the newest when locked) stays: plugin's >=1.5 allows it; nothing else moves either.
    assert versions(result) == {"app": "1.0", "lib": "1.7", "tool": "1.0", "plugin": "1.0"}
    assert result["lock"]["changes"]["web1:default"]["added"] == ["plugin==1.0"]


def test_frozen_refuses_a_change_naming_it_and_writes_nothing(tmp_path):
    locked_build(tmp_path, LOCKED)
    text, serial = lock_text(tmp_path), _manifest.read(str(tmp_path / "bundle"))["serial"]
    held, _lines = locked_build(tmp_path, NEWER, lock_mode="frozen")
    assert not held["changed"] and versions(held) == {"app": "1.0", "lib": "1.5", "tool": "1.0"}
    with pytest.raises(PyMigrateError, match=r"would change .*web1:default: \+plugin==1\.0"):
        locked_build(tmp_path, NEWER, hosts=[host("web1", app="", tool="", plugin="")], lock_mode="frozen")
    assert lock_text(tmp_path) == text and _manifest.read(str(tmp_path / "bundle"))["serial"] == serial


def test_frozen_without_a_lock_says_how_to_make_one(tmp_path):
    with pytest.raises(PyMigrateError, match="no lock in .* to hold the build to"):
        locked_build(tmp_path, LOCKED, lock_mode="frozen")


def test_check_mode_shows_the_lock_diff_and_writes_no_lock(tmp_path):
    locked_build(tmp_path, LOCKED)
    text = lock_text(tmp_path)
    result, _lines = locked_build(tmp_path, NEWER, upgrade=_lockdir.upgrade_names("all"), check_mode=True)
    assert result["changed"] and lock_text(tmp_path) == text
    diffs = list(result["diff"])
    assert len(diffs) == 3  # the bundle's, then the lock file's, then its README's
    lock_diff = diffs[1]
    assert 'version = "2.0"' in lock_diff["after"] and 'version = "2.0"' not in lock_diff["before"]
    assert lock_diff["before_header"].endswith(".toml")


def test_lock_only_writes_the_lock_and_nothing_of_the_bundle(tmp_path):
    result, lines = locked_build(tmp_path, LOCKED, lock_only=True)
    assert result["changed"] and result["serial"] is None
    assert (tmp_path / "lock" / "README.md").exists() and not (tmp_path / "bundle" / "manifest.json").exists()
    again, _lines = locked_build(tmp_path, NEWER, lock_only=True)
    assert not again["changed"]


def test_a_store_file_with_other_bytes_of_the_same_size_is_fetched_again(tmp_path):
    build(tmp_path, [host("a")])
    manifest = _manifest.read(str(tmp_path))
    relpath = next(path for path, info in manifest["files"].items() if info["filename"].startswith("alpha-"))
    path = tmp_path / relpath
    good = path.read_bytes()
    path.write_bytes(bytes(len(good)))  # same size, other bytes: every later run failed at the export or the host
    result, client = build(tmp_path, [host("a")])
    assert [os.path.basename(url) for url in client.downloads] == [os.path.basename(relpath)]
    assert path.read_bytes() == good


def test_a_renamed_image_takes_its_new_name_without_a_rebuild(tmp_path, no_engine):
    build(tmp_path, [_image_host("a")])
    renamed = _image_host("a")
    renamed.envs["default"] = dataclasses.replace(renamed.envs["default"], carrier=dict(
        renamed.envs["default"].carrier, image_name="localhost/renamed"))
    result, _client = build(tmp_path, [renamed])
    (profile,) = _manifest.read(str(tmp_path))["profiles"].values()
    assert profile["image"]["name"] == "localhost/renamed" and len(no_engine) == 1  # the cached image, renamed


def test_removals_travel_in_the_manifest_and_dropped_environments_are_said_or_removed(tmp_path):
    """Issue 26: state absent removes an environment; one dropped from the inventory stays (said) or goes (remove)."""
    def envs_host(name, **envs):
        present, absent = _wanted.host_environments(name, {"pymigrate_host_envs": envs})
        return _profiles.HostInput(name, present, _targets.target_from_declaration({"python": "3.11"}), absent=absent)
    api = {"path": "/opt/api/venv", "requirements": {"alpha": ""}}
    tools = {"path": "/opt/tools/venv", "requirements": {"alpha": ""}}
    build(tmp_path, [envs_host("a", api=api, tools=tools), envs_host("b", api=api)])
    result, _client = build(tmp_path, [envs_host("a", api=api, tools=dict(tools, state="absent")),
                                       envs_host("b", api=api)])
    manifest = _manifest.read(str(tmp_path))
    assert manifest["absent"] == {"a": {"tools": {"path": "/opt/tools/venv"}}} and "dropped_envs" not in result
    assert _manifest.host_slice(str(tmp_path), "a")["absent"] == [{"name": "tools", "path": "/opt/tools/venv"}]
    lines = []
    result, _client = build(tmp_path, [envs_host("a", api=api), envs_host("b")], progress=lines.append)
    assert result["dropped_envs"] == [{"host": "b", "env": "api", "path": "/opt/api/venv", "removed": False}]
    assert "environment api of b (/opt/api/venv) is no longer in the inventory: it stays on the host" in lines
    assert "absent" not in _manifest.read(str(tmp_path))  # a's tools is no longer named: nothing more to remove
    build(tmp_path, [envs_host("a", api=api), envs_host("b", api=api)])
    result, _client = build(tmp_path, [envs_host("a", api=api), envs_host("b")], dropped_envs="remove")
    assert result["dropped_envs"] == [{"host": "b", "env": "api", "path": "/opt/api/venv", "removed": True}]
    assert _manifest.read(str(tmp_path))["absent"] == {"b": {"api": {"path": "/opt/api/venv"}}}
    result, _client = build(tmp_path, [envs_host("a", api=api), envs_host("b")], dropped_envs="remove")
    assert _manifest.read(str(tmp_path))["absent"] == {"b": {"api": {"path": "/opt/api/venv"}}}  # kept while unnamed


def test_switching_the_installer_in_the_inventory_moves_the_lock_to_it_and_nothing_else(tmp_path):
    """Found by benchmarks/fleet_migrate.py: a lock written under pip held under pymigrate_installer: uv, so the
    hosts kept installing with pip."""
    client = _with_uv_wheel(FakeIndexClient(RELEASES), "manylinux_2_17_x86_64.manylinux2014_x86_64")
    locked = {"lock_dir": str(tmp_path / "lock"), "lock_mode": "update"}
    first, _client = build(tmp_path / "b", [host("a")], client=client, **locked)
    assert list(first["installers"].values()) == ["pip"]
    switched, _client = build(tmp_path / "b", [host("a")], client=client, installer="uv", **locked)
    assert list(switched["installers"].values()) == ["uv"]
    assert switched["lock"]["changes"] == {}  # the environment's packages are the same: only the installer moved
    lock_text = "".join(path.read_text() for path in (tmp_path / "lock").glob("pylock.*.toml"))
    assert 'name = "uv"' in lock_text and 'name = "pip"' not in lock_text
    again, _client = build(tmp_path / "b", [host("a")], client=client, installer="uv", **locked)
    assert not again["changed"] and list(again["installers"].values()) == ["uv"]
    back, _client = build(tmp_path / "b", [host("a")], client=client, **locked)
    assert list(back["installers"].values()) == ["pip"]
