"""Removal on a host: an environment marked absent goes whole (symlink, generations, lock file) and only when it is the
collection's; the store keeps every file some generation of some environment references, and prunes the rest; the
registry of the environments the collection built there."""

import json
import os

import pytest

from ansible_collections.airgap.pymigrate.plugins.module_utils import _prune, _store
from ansible_collections.airgap.pymigrate.plugins.module_utils._venv import GENERATION_FILE, Environment, VenvError

SHA = {name: (("%02x" % index) * 32) for index, name in enumerate(("alpha1", "alpha2", "beta", "pip", "old"))}
FILES = {"alpha1": "alpha-1.0-py3-none-any.whl", "alpha2": "alpha-2.0-py3-none-any.whl",
         "beta": "beta-1.0-py3-none-any.whl", "pip": "pip-24.2-py3-none-any.whl", "old": "gamma-0.1-py3-none-any.whl"}


def relpath(key):
    return _store.store_relpath(SHA[key], FILES[key])


def make_store(tmp_path):
    store = tmp_path / "store"
    for key in FILES:
        path = store / relpath(key)
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x" * 10)
    return str(store)


def make_env(tmp_path, store, name, records):
    """An environment as the collection lays it out: generations with their records, the symlink, the lock file."""
    env = Environment(str(tmp_path / name / "venv"), store)
    os.makedirs(env.generations_dir)
    generation = None
    for number, record in enumerate(records, start=1):
        generation = os.path.join(env.generations_dir, "%d-abc" % number)
        os.makedirs(generation)
        with open(os.path.join(generation, GENERATION_FILE), "w") as handle:
            json.dump(record, handle)
    os.symlink(generation, env.path)
    open(env.lock_path, "w").close()
    return env


def test_an_absent_environment_is_removed_whole_and_only_once(tmp_path):
    store = make_store(tmp_path)
    env = make_env(tmp_path, store, "tools", [{"files": [relpath("beta")]}])
    wanted = [env.path, env.generations_dir, env.lock_path]
    assert _prune.remove_environment(env.path, store, check_mode=True) == wanted
    assert os.path.islink(env.path)  # check mode: nothing removed
    assert _prune.remove_environment(env.path, store) == wanted
    assert not any(os.path.lexists(path) for path in wanted) and os.path.isdir(tmp_path / "tools")
    assert _prune.remove_environment(env.path, store) == []  # gone: nothing to do, not changed


def test_what_a_failed_first_install_left_is_removed(tmp_path):
    env = Environment(str(tmp_path / "app" / "venv"), str(tmp_path / "store"))
    os.makedirs(env.generations_dir)
    open(env.lock_path, "w").close()
    assert _prune.remove_environment(env.path, env.store_dir) == [env.generations_dir, env.lock_path]
    assert os.listdir(tmp_path / "app") == []


def test_a_path_the_collection_does_not_manage_is_never_removed(tmp_path):
    store = make_store(tmp_path)
    (tmp_path / "mine" / "venv").mkdir(parents=True)
    with pytest.raises(VenvError, match="is not a pymigrate-managed symlink; it is never deleted"):
        _prune.remove_environment(str(tmp_path / "mine" / "venv"), store)
    (tmp_path / "other").mkdir()
    (tmp_path / "link").mkdir()
    os.symlink(str(tmp_path / "other"), str(tmp_path / "link" / "venv"))
    with pytest.raises(VenvError, match="not into its generations"):
        _prune.remove_environment(str(tmp_path / "link" / "venv"), store)
    assert (tmp_path / "mine" / "venv").is_dir() and (tmp_path / "other").is_dir()


def test_the_store_keeps_what_any_generation_references_and_prunes_the_rest(tmp_path):
    store = make_store(tmp_path)
    # One generation records its files; an older one (from before records did) lists its packages and installer.
    api = make_env(tmp_path, store, "api", [
        {"packages": {"Alpha": "1.0"}, "installer": {"filename": FILES["pip"], "sha256": SHA["pip"]}},
        {"files": [relpath("alpha2")]}])
    other = make_env(tmp_path, store, "other", [{"files": [relpath("beta")]}])  # another inventory's: registered
    _store.register_environments(store, add=[other.path])
    result = _prune.cleanup(store, [api.path], [], [], store_keep="referenced", check_mode=True)
    assert result["pruned"] == [relpath("old")] and result["changed"] and (tmp_path / "store" / relpath("old")).exists()
    result = _prune.cleanup(store, [api.path], [], [], store_keep="referenced")
    assert result["pruned"] == [relpath("old")] and result["pruned_bytes"] == 10
    assert not (tmp_path / "store" / relpath("old")).parent.exists()  # its directory went with it
    assert sorted(_prune._store_files(store)) == sorted(relpath(key) for key in ("alpha1", "alpha2", "beta", "pip"))
    assert _store.registered_environments(store) == sorted([api.path, other.path])
    # The other environment removed (marked absent): its files are referenced by nothing any more.
    result = _prune.cleanup(store, [api.path], [{"name": "other", "path": other.path}], [relpath("alpha2")],
                            store_keep="referenced")
    assert result["removed"] == [{"name": "other", "path": other.path,
                                  "removed": [other.path, other.generations_dir, other.lock_path]}]
    assert result["pruned"] == [relpath("beta")] and _store.registered_environments(store) == [api.path]
    assert _prune.cleanup(store, [api.path], [], [relpath("alpha2")], store_keep="referenced")["changed"] is False
    assert _prune.cleanup(store, [api.path], [], [], store_keep="all")["pruned"] == []  # all: nothing pruned


def test_the_registry_adds_and_removes_paths(tmp_path):
    store = str(tmp_path)
    assert _store.registered_environments(store) == []
    assert _store.register_environments(store, add=["/opt/a/venv", "/opt/b/venv"])
    assert not _store.register_environments(store, add=["/opt/a/venv"])
    assert _store.register_environments(store, remove=["/opt/a/venv"])
    assert _store.registered_environments(store) == ["/opt/b/venv"]
    (tmp_path / _store.REGISTRY).write_text("not json")
    assert _store.registered_environments(store) == []
