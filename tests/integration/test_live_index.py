"""Against the real public index (marked `network`; `make test` leaves it out): markers for the target."""

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _index, _resolve, _targets
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import WantedSet

pytestmark = pytest.mark.network


def public_index_url():
    # pip's own default index, so that no registry host is spelled out here.
    from pip._internal.models.index import PyPI  # pylint: disable=import-outside-toplevel
    return PyPI.simple_url


@pytest.mark.parametrize("python, backports", [("3.9", True), ("3.13", False)])
def test_anyio_backports_follow_the_target_python(python, backports):
    client = _index.IndexClient([_index.IndexConfig(public_index_url())])
    try:
        target = _targets.target_from_declaration({"python": python, "arch": "x86_64", "libc": "glibc",
                                                   "libc_version": "2.28"})
        pins = {p.name: p.version for p in _resolve.resolve(target, WantedSet({"anyio": "anyio==4.5.0"}), client)}
    finally:
        client.close()
    assert pins["anyio"] == "4.5.0" and "idna" in pins and "sniffio" in pins
    assert ("exceptiongroup" in pins) is backports
    assert ("typing-extensions" in pins) is backports


def _resolve_live(python, libc_version, requirement, tmp_path, cutoff=None):
    from ansible_collections.airgap.pymigrate.plugins.plugin_utils._build import SdistBuilder
    client = _index.IndexClient([_index.IndexConfig(public_index_url())])
    try:
        target = _targets.target_from_declaration({"python": python, "arch": "x86_64", "libc": "glibc",
                                                   "libc_version": libc_version})
        name = requirement.split("=")[0].split("[")[0]
        builder = SdistBuilder(client, str(tmp_path / "store"), str(tmp_path), str(tmp_path / "logs"))
        return {p.name: p for p in _resolve.resolve(target, WantedSet({name: requirement}), client, sdists=builder,
                                                    uploaded_prior_to=cutoff)}, builder
    finally:
        client.close()


def test_duckdb_on_glibc_2_17_falls_back_to_a_release_with_a_fitting_wheel(tmp_path):
    import datetime
    cutoff = datetime.datetime(2025, 6, 1, tzinfo=datetime.timezone.utc)  # 1.3.0 ships manylinux_2_27/2_28 only
    pins, builder = _resolve_live("3.11", "2.17", "duckdb", tmp_path, cutoff)
    assert pins["duckdb"].version == "1.2.2" and pins["duckdb"].file.filename.endswith(".whl")
    assert builder.builds == 0  # the 1.3.0 sdist compiles: known without building it


def test_numpy_1_24_4_on_python_3_12_is_refused_naming_cp312_without_compiling(tmp_path):
    import time

    from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
    started = time.monotonic()
    with pytest.raises(PyMigrateError) as err:
        _resolve_live("3.12", "2.28", "numpy==1.24.4", tmp_path)
    elapsed = time.monotonic() - started
    assert "no cp312 wheel" in str(err.value) and "compiles" in str(err.value)
    print("numpy==1.24.4 on cp312 refused in %.1f s" % elapsed)  # the figure (< 30 s), not asserted
