"""The lock against a real local index over HTTP (the real index client): adding one pin changes only the projects
that pin requires, and a re-run whose lock holds takes its pins without resolving, whatever the index publishes."""

import json
import os

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import (
    _bundle,
    _index,
    _inventory,
    _profiles,
    _targets,
    _unchanged,
    _wanted,
)
from tests.index import catalog

FIRST = [catalog.release("app", "1.0", requires=["core>=1.0", "util"]), catalog.release("core", "1.0"),
         catalog.release("core", "1.2"), catalog.release("util", "1.0"),
         catalog.release("extra", "1.0", requires=["core>=1.1"])]
LATER = FIRST + [catalog.release("app", "1.1", requires=["core>=1.0", "util"]), catalog.release("core", "2.0"),
                 catalog.release("util", "1.1"), catalog.release("extra", "1.1", requires=["core>=1.1"])]


def build(index, tmp_path, requirements):
    host = _profiles.HostInput("web1", _wanted.wanted_sets_for_host("web1", {"pymigrate_requirements": requirements}),
                               _targets.target_from_declaration({"python": "3.11"}))
    settings = _bundle.BundleSettings(str(tmp_path / "bundle"), lock_dir=str(tmp_path / "lock"), lock_mode="update",
                                      build_sdists=False)
    lines = []
    client = _index.IndexClient([_index.IndexConfig(index.url)], cache_dir=None)
    try:
        result = _bundle.build_bundle(_inventory.BundleInputs([host]), settings, client, lines.append)
    finally:
        client.close()
    (profile,) = result["profiles"].values()
    return profile["packages"], result, lines


@pytest.fixture
def index(make_index, tmp_path):
    server = make_index(FIRST, include_pip=True)
    return server


def test_an_added_pin_changes_only_what_it_requires(index, tmp_path):
    before, _result, _lines = build(index, tmp_path, {"app": ""})
    assert before == {"app": "1.0", "core": "1.2", "util": "1.0"}
    catalog.build(index.root, LATER, include_pip=True)  # the index publishes newer releases of everything
    index.reload()
    held, result, lines = build(index, tmp_path, {"app": ""})
    assert held == before and result["lock"]["changed_files"] == [] and not result["changed"]
    assert not [line for line in lines if line.startswith("resolving")]
    after, result, _lines = build(index, tmp_path, {"app": "", "extra": ""})
    # extra's newest (1.1) needs core>=1.1, which the locked core 1.2 meets: nothing else moves.
    assert after == dict(before, extra="1.1")
    assert result["lock"]["changes"] == {"web1:default": {"added": ["extra==1.1"], "removed": [], "upgraded": [],
                                                          "downgraded": []}}


def test_a_rerun_with_nothing_changed_asks_no_index_and_returns_what_a_build_would(index, tmp_path):
    """The fast path (_unchanged.py): the lock holds and the inputs are the bundle's, so the build is skipped; its
    result is the one a full re-run returns. A file gone from the store, or a lock edited, builds again."""
    _packages, first, _lines = build(index, tmp_path, {"app": ""})
    assert first["changed"] and first["serial"] == 1
    index.reset()
    _packages, settled, lines = build(index, tmp_path, {"app": ""})
    assert index.requests == [] and any("no index asked" in line for line in lines)
    assert not settled["changed"] and settled["serial"] == 1 and settled["fetched"] == []
    os.unlink(tmp_path / "bundle" / _unchanged.RECORD)  # the same re-run, built in full
    _packages, full, lines = build(index, tmp_path, {"app": ""})
    assert index.requests and not any("no index asked" in line for line in lines)
    assert json.loads(json.dumps(full)) == settled

    store = tmp_path / "bundle"
    wheel = next(path for path in store.rglob("core-*.whl") if ".cache" not in path.parts)
    wheel.unlink()
    index.reset()
    _packages, repaired, _lines = build(index, tmp_path, {"app": ""})
    assert index.downloads() and wheel.is_file() and repaired["fetched"] == [wheel.name]

    lock = next((tmp_path / "lock").glob("pylock.*.toml"))
    lock.write_text(lock.read_text() + "# reviewed\n")  # any edit of the lock: the build reads it again
    index.reset()
    _packages, _result, lines = build(index, tmp_path, {"app": ""})
    assert index.requests and not any("no index asked" in line for line in lines)


def test_a_build_without_a_lock_records_nothing(index, tmp_path):
    settings = _bundle.BundleSettings(str(tmp_path / "bundle"), build_sdists=False)
    host = _profiles.HostInput("web1", _wanted.wanted_sets_for_host("web1", {"pymigrate_requirements": {"app": ""}}),
                               _targets.target_from_declaration({"python": "3.11"}))
    client = _index.IndexClient([_index.IndexConfig(index.url)], cache_dir=None)
    try:
        for _round in range(2):
            _bundle.build_bundle(_inventory.BundleInputs([host]), settings, client)
    finally:
        client.close()
    assert not (tmp_path / "bundle" / _unchanged.RECORD).exists()
