"""What an sdist tells before any build: whether it compiles (and why), its build requirements, and whether its
PKG-INFO may stand in for the built wheel's metadata (PEP 643)."""

import io
import tarfile

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _build, _profiles, _targets
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
from tests.index import wheels
from tests.unit.plugins.plugin_utils.test_profiles import host


def sdist(tmp_path, members, name="demo-1.0"):
    path = tmp_path / ("%s.tar.gz" % name)
    with tarfile.open(str(path), "w:gz") as archive:
        for member, text in members.items():
            info = tarfile.TarInfo("%s/%s" % (name, member))
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    return str(path)


def test_compiled_reason_reads_sources_backends_build_requirements_and_setup_py(tmp_path):
    pure = tmp_path / "pure.tar.gz"
    pure.write_bytes(wheels.sdist_bytes("pure", "1.0"))
    assert _build.compiled_reason(str(pure)) is None
    ext = tmp_path / "ext.tar.gz"
    ext.write_bytes(wheels.sdist_bytes("ext", "1.0", platform_specific=True))
    assert _build.compiled_reason(str(ext)) == "it ships sources to compile (ext/_speedups.c)"
    assert "build backend maturin compiles" in _build.compiled_reason(sdist(tmp_path, {
        "pyproject.toml": '[build-system]\nrequires = ["maturin>=1"]\nbuild-backend = "maturin"\n'}))
    assert _build.compiled_reason(sdist(tmp_path, {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools", "Cython>=3"]\n'})) == "it needs cython to build"
    assert _build.compiled_reason(sdist(tmp_path, {
        "setup.py": "from setuptools import Extension, setup\nsetup(ext_modules=[Extension('a', ['a.c'])])\n",
        "a/__init__.py": ""})) is not None
    assert (_build.compiled_reason(sdist(tmp_path, {"Cargo.toml": "[package]\n"}))
            == "it ships a Rust crate (Cargo.toml)")
    # Another table's `requires` is not the build system's.
    assert _build.compiled_reason(sdist(tmp_path, {
        "pyproject.toml": '[tool.envs]\nrequires = ["cython"]\n[build-system]\nrequires = ["hatchling"]\n'})) is None


def test_build_requires_and_the_pep_518_default(tmp_path):
    assert _build.build_requires(sdist(tmp_path, {
        "pyproject.toml": '[project]\nname = "x"\n\n[build-system]\nrequires = ["flit_core >=3.2,<4"]\n'})) == (
        "flit_core >=3.2,<4",)
    assert _build.build_requires(sdist(tmp_path, {"setup.py": "..."})) == _build.DEFAULT_BUILD_REQUIRES


def test_pkg_info_stands_in_only_when_pep_643_makes_it_static(tmp_path):
    static = wheels.metadata_text("demo", "1.0", requires=["alpha>=1"], license_expression="MIT")  # 2.4
    meta = _build.static_metadata(sdist(tmp_path, {"PKG-INFO": static}))
    assert meta is not None and meta.requires_dist == ("alpha>=1",)
    legacy = wheels.metadata_text("demo", "1.0", requires=["alpha>=1"])  # 2.1: nothing is promised
    assert _build.static_metadata(sdist(tmp_path, {"PKG-INFO": legacy})) is None
    dynamic = static.replace("Name: demo\n", "Name: demo\nDynamic: Requires-Dist\n")
    assert _build.static_metadata(sdist(tmp_path, {"PKG-INFO": dynamic})) is None


def test_builders_serve_the_profiles_of_their_own_facts_and_a_map_is_checked():
    profiles, _members = _profiles.plan_profiles([host("a"), host("b", python="3.12")])
    by_python = {p.target.markers["python_version"]: p for p in profiles}
    target_311 = _targets.target_from_declaration({"python": "3.11"})
    grouped = _build.match_builders([_build.BuilderInput("b1", target_311, "/usr/bin/python3.11")], profiles)
    assert list(grouped) == [by_python["3.11"].target.key()] and grouped[target_311.key()].host == "b1"
    named = _build.match_builders([_build.BuilderInput("b1", target_311, "/usr/bin/python3.11",
                                                       by_python["3.11"].name)], profiles)
    assert named == grouped
    with pytest.raises(PyMigrateError, match="no profile of this run is named nope") as err:
        _build.match_builders([_build.BuilderInput("b1", target_311, "/p", "nope")], profiles)
    assert err.value.var == "pymigrate_builders" and by_python["3.12"].name in str(err.value)
    with pytest.raises(PyMigrateError, match="builder b1 cannot build for profile %s" % by_python["3.12"].name):
        _build.match_builders([_build.BuilderInput("b1", target_311, "/p", by_python["3.12"].name)], profiles)
