"""Issue 11: a version is a candidate only with a wheel that fits the target or an sdist this run may build;
otherwise resolution falls back to older versions. Each sdist is fetched and built once per run, pure wheels only,
with its log in a file."""

import dataclasses
import json
import os

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _bundle, _index, _resolve
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._build import SdistBuilder
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._inventory import BundleInputs
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._profiles import HostInput
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._wanted import EnvSpec
from tests.component.test_resolve import target, wanted
from tests.index.catalog import release

PYTHONS = ("39", "311", "312", "313")


def cp_wheels(platforms, pythons=PYTHONS):
    return [tuple("cp%s-cp%s-%s" % (py, py, plat) for plat in platforms) for py in pythons]


def releases():
    glibc_2_17 = ("manylinux_2_17_x86_64", "manylinux2014_x86_64")
    return [
        # The newest release ships only an sdist with a C extension.
        release("fallback", "1.0"),
        release("fallback", "2.0", wheel=False, sdist=True, platform_sdist=True),
        # The newest release ships wheels for a newer glibc only (the duckdb-on-glibc-2.17 case).
        release("glibcnew", "1.0", tags=cp_wheels(glibc_2_17)),
        release("glibcnew", "2.0", tags=cp_wheels(("manylinux_2_28_x86_64",)), sdist=True, platform_sdist=True),
        # The newest release has no wheel for Python 3.12 (numpy 1.24.4 on cp312).
        release("newpy", "1.0", tags=[("cp39-abi3-manylinux_2_17_x86_64",)]),
        release("newpy", "2.0", tags=cp_wheels(glibc_2_17, ("39", "311")), sdist=True, platform_sdist=True),
        # Requires-Python only in the wheel's METADATA, not on the index page.
        release("metapy", "1.0"),
        release("metapy", "2.0", requires_python=">=3.12", index_requires_python=False),
        # A pure sdist newer than the last wheel.
        release("purenew", "1.0"),
        release("purenew", "2.0", wheel=False, sdist=True),
        release("hiddenc", "1.0", wheel=False, sdist=True, platform_sdist="hidden"),
        release("brokenbuild", "1.0", wheel=False, sdist=True, sdist_fails=True),
    ]


@pytest.fixture
def index(make_index):
    return make_index(releases(), include_pip=True)  # the bundle carries pip for every profile


@pytest.fixture
def client(index):
    client = _index.IndexClient([_index.IndexConfig(index.url)])
    yield client
    client.close()


@pytest.fixture
def builder(client, tmp_path):
    return SdistBuilder(client, str(tmp_path / "store"), str(tmp_path), str(tmp_path / "logs"))


def resolve(tgt, want, client, sdists=None):
    return {p.name: p for p in _resolve.resolve(tgt, want, client, sdists=sdists)}


def test_newest_release_with_only_a_compiling_sdist_falls_back_to_the_last_wheel(client, builder):
    assert resolve(target(), wanted("fallback"), client, builder)["fallback"].version == "1.0"
    assert resolve(target(), wanted("fallback"), client)["fallback"].version == "1.0"  # sdist builds off
    assert builder.builds == 0  # known to compile before any build was tried


def test_wheels_for_a_newer_glibc_only_fall_back_and_a_pin_says_why(index, client, builder):
    assert resolve(target(libc_version="2.17"), wanted("glibcnew"), client, builder)["glibcnew"].version == "1.0"
    assert resolve(target(libc_version="2.28"), wanted("glibcnew"), client, builder)["glibcnew"].version == "2.0"
    with pytest.raises(PyMigrateError) as err:
        resolve(target(libc_version="2.17"), wanted("glibcnew==2.0"), client, builder)
    message = str(err.value)
    assert "glibcnew 2.0" in message
    assert "no wheel for a glibc 2.17 x86_64 target (only manylinux_2_28_x86_64)" in message
    assert "the release's other wheels are compiled: it compiles; no builder host" in message
    assert index.downloads(".tar.gz") == []  # its compiled wheels said so: the sdist was not even fetched
    with pytest.raises(PyMigrateError) as err:  # nothing fits: every version tried, newest first, with its reason
        resolve(target(libc="musl", libc_version="1.2"), wanted("glibcnew"), client, builder)
    assert ("no version of glibcnew fits this profile (glibcnew); newest tried: 2.0: no wheel for a musl 1.2 x86_64 "
            "target (only manylinux_2_28_x86_64); only an sdist for this target, and the release's other wheels are "
            "compiled") in str(err.value)
    assert "1.0: no wheel for a musl 1.2 x86_64 target (only manylinux2014_x86_64, manylinux_2_17_x86_64)" in str(
        err.value)
    assert builder.builds == 0


def test_no_wheel_for_the_targets_python_falls_back_and_a_pin_names_it(client, builder):
    assert resolve(target("3.12"), wanted("newpy"), client, builder)["newpy"].version == "1.0"
    assert resolve(target("3.11"), wanted("newpy"), client, builder)["newpy"].version == "2.0"
    with pytest.raises(PyMigrateError, match=r"newpy 2\.0.*no cp312 wheel \(wheels for cp311-cp311, cp39-cp39\)"):
        resolve(target("3.12"), wanted("newpy==2.0"), client, builder)


def test_requires_python_from_the_metadata_when_the_index_gives_none(client):
    assert resolve(target("3.11"), wanted("metapy"), client)["metapy"].version == "1.0"
    assert resolve(target("3.12"), wanted("metapy"), client)["metapy"].version == "2.0"
    with pytest.raises(PyMigrateError, match=r"metapy 2\.0 cannot be used: requires Python >=3\.12 \(from its meta"):
        resolve(target("3.11"), wanted("metapy==2.0"), client)


def test_a_pure_sdist_is_built_only_when_building_is_on(client, builder):
    built = resolve(target("3.9"), wanted("purenew"), client, builder)["purenew"]
    assert (built.version, built.file.filename, built.built_from_sdist) == ("2.0", "purenew-2.0-py3-none-any.whl",
                                                                            True)
    assert resolve(target("3.9"), wanted("purenew"), client)["purenew"].version == "1.0"
    with pytest.raises(PyMigrateError, match="only an sdist, and pymigrate_build_sdists is off"):
        resolve(target("3.9"), wanted("purenew==2.0"), client)


def test_a_build_that_turns_out_platform_specific_is_refused_after_it(client, builder):
    with pytest.raises(PyMigrateError, match=r"hiddenc 1\.0 cannot be used: only an sdist, whose build on the control "
                                             r"node gave a platform-specific wheel \(hiddenc-1\.0-cp"):
        resolve(target(), wanted("hiddenc"), client, builder)
    assert builder.builds == 1


def test_a_failed_build_names_its_log_and_keeps_the_noise_out_of_the_message(client, builder, tmp_path):
    with pytest.raises(PyMigrateError) as err:
        resolve(target(), wanted("brokenbuild"), client, builder)
    log = str(tmp_path / "logs" / "brokenbuild-1.0.tar.gz.log")
    assert "building brokenbuild-1.0.tar.gz into a wheel failed" in str(err.value) and log in str(err.value)
    assert "compiler noise" not in str(err.value)
    with open(log) as handle:
        assert "compiler noise line 199" in handle.read()


def test_a_build_past_its_time_limit_is_stopped_and_named(client, tmp_path):
    slow = SdistBuilder(client, str(tmp_path / "store"), str(tmp_path), str(tmp_path / "logs"), timeout=0.01)
    with pytest.raises(PyMigrateError, match="did not finish within 0 s.*pymigrate_build_timeout"):
        resolve(target(), wanted("purenew==2.0"), client, slow)


def test_eight_profiles_fetch_and_build_one_sdist_once(index, client, tmp_path):
    targets = [target(py, arch) for py in ("3.9", "3.11", "3.12", "3.13") for arch in ("x86_64", "aarch64")]
    env = EnvSpec("default", "/opt/pymigrate/venv", None, wanted("purenew"))
    hosts = BundleInputs([HostInput("host%d" % n, {"default": env}, tgt) for n, tgt in enumerate(targets)])
    builds = []
    original = SdistBuilder._build

    def counting(self, sdist, path):
        builds.append(sdist.filename)
        return original(self, sdist, path)
    SdistBuilder._build = counting
    try:
        result = _bundle.build_bundle(hosts, _bundle.BundleSettings(str(tmp_path / "bundle")), client)
    finally:
        SdistBuilder._build = original
    assert len(result["profiles"]) == 8
    assert builds == ["purenew-2.0.tar.gz"]
    assert index.downloads(".tar.gz") == ["/files/purenew-2.0.tar.gz"]
    assert all(profile["packages"]["purenew"] == "2.0" for profile in result["profiles"].values())
    assert os.listdir(str(tmp_path / "bundle" / ".build-logs")) == ["purenew-2.0.tar.gz.log"]
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    built = [r["built_from"] for r in manifest["files"].values() if r["filename"] == "purenew-2.0-py3-none-any.whl"]
    sdist_sha256 = [f.sha256 for f in client.project_files("purenew") if f.filename.endswith(".tar.gz")][0]
    assert built == [{"sdist": "purenew-2.0.tar.gz", "sdist_sha256": sdist_sha256, "builder": "control node"}]
    lock = next(p for p in (tmp_path / "bundle").iterdir() if p.name.startswith("pylock.")).read_text()
    assert 'tool.airgap-pymigrate.built-from = { sdist = "purenew-2.0.tar.gz"' in lock


def test_uniform_gives_every_profile_one_version_where_one_fits_and_names_the_project_where_none_does(
        make_index, tmp_path):
    index = make_index([release("modern", "1.0", requires_python=">=3.8"),
                        release("modern", "2.0", requires_python=">=3.11"),
                        release("split", "1.0", requires_python="<3.10"),
                        release("split", "2.0", requires_python=">=3.11"),
                        release("pip", "24.2")])
    client = _index.IndexClient([_index.IndexConfig(index.url)])
    env = EnvSpec("default", "/opt/pymigrate/venv", None, wanted("modern"))
    hosts = [HostInput("old", {"default": env}, target("3.9")), HostInput("new", {"default": env}, target("3.12"))]
    try:
        per_profile = _bundle.build_bundle(BundleInputs(hosts), _bundle.BundleSettings(
            str(tmp_path / "a"), check_mode=True), client)
        assert sorted(p["packages"]["modern"] for p in per_profile["profiles"].values()) == ["1.0", "2.0"]
        assert sorted(per_profile["differing_versions"]["modern"].values()) == ["1.0", "2.0"]  # said either way
        uniform = _bundle.build_bundle(BundleInputs(hosts), _bundle.BundleSettings(
            str(tmp_path / "b"), check_mode=True, version_policy="uniform"), client)
        assert [p["packages"]["modern"] for p in uniform["profiles"].values()] == ["1.0", "1.0"]
        assert uniform["differing_versions"] == {}
        split = EnvSpec("default", "/opt/pymigrate/venv", None, wanted("split"))
        with pytest.raises(PyMigrateError) as err:
            _bundle.build_bundle(BundleInputs([dataclasses.replace(h, envs={"default": split}) for h in hosts]),
                                 _bundle.BundleSettings(str(tmp_path / "c"), check_mode=True,
                                                        version_policy="uniform"), client)
    finally:
        client.close()
    message = str(err.value)
    assert "no single version of split fits every profile" in message and "gets 1.0" in message
    assert "gets 2.0" in message and "split==1.0" in message and "(hosts: new:default)" in message
