"""A set that cannot fit fails at once, naming the project that cannot fit, why, and the shortest chain to it;
pruning never drops a version that could be part of a solution; the round limit says what it was exploring."""

import dataclasses
import re

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _resolve, _targets
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import WantedSet
from tests.unit.plugins.plugin_utils.fake_index import FakeIndexClient

FREE_THREADED = {"python": "3.13", "abi": "cp313t"}


def _client(releases, wheel_tags=None):
    """FakeIndexClient whose projects named in ``wheel_tags`` ({name: "cp312-cp312-manylinux_2_17_x86_64"}) offer
    only that platform wheel instead of a pure one."""
    client = FakeIndexClient(releases)
    for name, tags in (wheel_tags or {}).items():
        files = []
        for dist in client._files[name]:
            filename = "%s-%s-%s.whl" % (name.replace("-", "_"), dist.version, tags)
            moved = dataclasses.replace(dist, filename=filename, url=dist.url.rsplit("/", 1)[0] + "/" + filename)
            client._meta[moved.url] = client._meta[dist.url]
            client._data[moved.url] = client._data[dist.url]
            files.append(moved)
        client._files[name] = files
    return client


def _fail(releases, wanted, decl=None, wheel_tags=None, **kwargs):
    with pytest.raises(_resolve.ResolutionFailed) as err:
        _resolve.resolve(_targets.target_from_declaration(decl or FREE_THREADED), WantedSet(wanted),
                         _client(releases, wheel_tags), profile="p1", **kwargs)
    return err.value


CHAIN = {
    "app": {"1.0": ["mid>=2.0", "other"]},
    "mid": dict(("2.%d" % i, ["leaf>=1.0"]) for i in range(25)),
    "leaf": dict(("1.%d" % i, []) for i in range(10)),
    "other": dict(("1.%d" % i, ["mid"]) for i in range(10)),
    "ipy": dict(("3.%d" % i, ["dep"]) for i in range(30)),
    "dep": {"1.0": []},
}
LEAF_CP312 = {"leaf": "cp312-cp312-manylinux_2_17_x86_64"}


def test_a_dependency_without_a_fitting_wheel_fails_at_once_naming_it_the_profile_and_the_chain():
    """The old resolver backtracked over mid's 25 versions and ipy's 30 until 2000 rounds ran out."""
    err = _fail(CHAIN, {"app": "app==1.0", "ipy": "ipy"}, wheel_tags=LEAF_CP312)
    message = str(err)
    assert err.causes == ("leaf",)
    assert err.rounds <= 1  # refused while the wanted set was read: no backtracking at all
    assert err.explored <= 28  # app 1.0 and mid's 25 versions; then ipy 3.29 and dep 1.0, found live: none of the rest
    assert message.startswith("cannot satisfy the wanted set for profile p1: no version of leaf fits this profile "
                              "(leaf>=1.0, 10 versions); newest tried: 1.9 to 1.0: no cp313t wheel (wheels for "
                              "cp312-cp312)")
    assert message.count("no cp313t wheel") == 1
    assert ("needed through app==1.0 (wanted) -> mid>=2.0 (from app 1.0) -> leaf>=1.0 (from mid 2.24 and 24 older "
            "versions)") in message
    assert "conflicts with" not in message and "did not finish" not in message


def test_pruning_keeps_older_versions_that_do_not_need_the_dead_project():
    releases = {"app": {"1.0": ["mid"]}, "mid": {"1.0": [], "1.5": [], "2.0": ["leaf"], "2.1": ["leaf"]},
                "leaf": {"1.0": []}}
    pins = _resolve.resolve(_targets.target_from_declaration(FREE_THREADED), WantedSet({"app": "app"}),
                            _client(releases, LEAF_CP312))
    assert {pin.name: pin.version for pin in pins} == {"app": "1.0", "mid": "1.5"}
    # on a cp312 target leaf fits: the newest mid and leaf are taken
    pins = _resolve.resolve(_targets.target_from_declaration({"python": "3.12"}), WantedSet({"app": "app"}),
                            _client(releases, LEAF_CP312))
    assert {pin.name: pin.version for pin in pins} == {"app": "1.0", "mid": "2.1", "leaf": "1.0"}


def test_a_deep_chain_is_printed_once_without_repeats():
    depth = 40
    releases = {"c%d" % i: {"1.0": ["c%d" % (i + 1)], "1.1": ["c%d>=1.0" % (i + 1)]} for i in range(depth)}
    releases["c%d" % depth] = {"1.0": ["leaf"]}
    releases["c3"]["1.2"] = ["c4", "c1"]  # a cycle back up the chain: no endless recursion, no repeat
    releases["leaf"] = {"1.0": []}
    err = _fail(releases, {"c0": "c0"}, wheel_tags=LEAF_CP312)
    message = str(err)
    assert err.causes == ("leaf",) and err.rounds <= 1
    chain = message.split("needed through ")[1].split(". Relax")[0]
    steps = chain.split(" -> ")
    assert [re.split(r"[>=< ]", step)[0] for step in steps] == ["c%d" % i for i in range(depth + 1)] + ["leaf"]
    assert len(steps) == len(set(steps)) == depth + 2
    assert message.count("no cp313t wheel") == 1 and len(message) < 4000


def test_every_wanted_requirement_that_cannot_fit_is_named_in_one_run():
    releases = {"left": {"1.0": ["leaf"]}, "right": {"1.0": ["leaf2"]}, "fine": {"1.0": []},
                "leaf": {"1.0": []}, "leaf2": {"1.0": []}}
    err = _fail(releases, {"left": "left", "fine": "fine", "right": "right"},
                wheel_tags=dict(LEAF_CP312, leaf2="cp39-abi3-manylinux_2_17_x86_64"))
    assert sorted(err.causes) == ["leaf", "leaf2"]
    message = str(err)
    assert "no wheel of leaf 1.0 fits this profile (no cp313t wheel (wheels for cp312-cp312))" in message
    assert "no wheel of leaf2 1.0 fits this profile (no cp313t wheel (wheels for cp39-abi3))" in message
    assert "needed through left (wanted) -> leaf (from left 1.0)" in message
    assert "needed through right (wanted) -> leaf2 (from right 1.0)" in message
    assert "fine" not in message


def test_glibc_too_new_is_said_in_those_words():
    err = _fail({"app": {"1.0": ["leaf"]}, "leaf": {"1.0": []}}, {"app": "app"},
                decl={"python": "3.12", "libc_version": "2.17"},
                wheel_tags={"leaf": "cp312-cp312-manylinux_2_28_x86_64"})
    assert ("no wheel for a glibc 2.17 x86_64 target (only manylinux_2_28_x86_64), glibc too new: the oldest wheel "
            "for x86_64 needs glibc 2.28") in str(err)
    assert err.causes == ("leaf",)


def test_the_round_limit_is_a_last_resort_that_says_what_it_was_exploring():
    releases = {"x": dict(("1.%d" % i, ["z<2"]) for i in range(20)), "y": {"1.0": ["z>=2"]},
                "z": {"1.0": [], "2.0": []}}
    err = _fail(releases, {"x": "x", "y": "y"}, decl={"python": "3.12"}, max_rounds=4)
    assert err.rounds == 4
    assert str(err).startswith("resolution for profile p1 did not finish within 4 rounds; it was backtracking over ")
    assert "candidates rejected" in str(err) and "the last pins were" in str(err)
    assert "Pin the projects named above more tightly" in str(err)
