"""The bundle filters: a bundle directory (read for the serial the run pinned) or a parsed manifest in, the host's
part out; the bundle a run uses, built here or imported; errors become filter errors that name the host."""

import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.pymigrate.plugins.filter.bundle import FilterModule
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest
from tests.unit.plugins.plugin_utils.test_bundle import build, host

FILTERS = FilterModule().filters()


@pytest.fixture
def bundle_dir(tmp_path):
    build(tmp_path, [host("web1")])
    return str(tmp_path)


def test_a_directory_and_a_parsed_manifest_give_the_same(bundle_dir):
    manifest = _manifest.read(bundle_dir)
    assert FILTERS["bundle_host_files"](bundle_dir, "web1") == FILTERS["bundle_host_files"](manifest, "web1")
    envs = FILTERS["bundle_host_envs"](bundle_dir, "web1")
    assert envs == _manifest.host_envs(manifest, "web1") and envs[0]["path"] == "/opt/pymigrate/venv"


def test_check_mode_reads_the_proposal(bundle_dir):
    build(bundle_dir, [host("web1", alpha="==1.0")], check_mode=True)
    names = [(p["name"], p["version"]) for p in FILTERS["bundle_host_envs"](bundle_dir, "web1", True)[0]["packages"]]
    assert names == [("alpha", "1.0")]
    assert len(FILTERS["bundle_host_envs"](bundle_dir, "web1")[0]["packages"]) == 2  # the real bundle


@pytest.mark.parametrize("value, host_name, text", [
    ("/nonexistent/bundle", "web1", "no bundle at /nonexistent/bundle"),
    (42, "web1", "expects a bundle directory or a parsed bundle manifest"),
    ({"hosts": {}}, "web1", "host web1 is not in the bundle"),
    ({"hosts": {"web1": {"default": {"profile": "p"}}}, "profiles": {}}, "web1", "refers to profile p"),
])
def test_errors_are_filter_errors_naming_what_is_wrong(value, host_name, text):
    with pytest.raises(AnsibleFilterError, match=text):
        FILTERS["bundle_host_files"](value, host_name)


def test_env_refs_name_each_environment_without_its_packages(bundle_dir):
    envs = FILTERS["bundle_host_envs"](bundle_dir, "web1")
    refs = FILTERS["bundle_env_refs"](envs)
    assert refs == [{"name": "default", "path": "/opt/pymigrate/venv", "lock_id": envs[0]["lock_id"],
                     "serial": envs[0]["serial"], "strategy": "venv", "profile": envs[0]["profile"]}]
    assert "packages" in envs[0] and all("packages" not in ref and "installer" not in ref for ref in refs)
    assert FILTERS["bundle_env_refs"](bundle_dir, "web1") == refs  # read from the host's slice
    with pytest.raises(AnsibleFilterError, match="needs the host with a bundle directory"):
        FILTERS["bundle_env_refs"]("/srv/bundle")
    with pytest.raises(AnsibleFilterError, match="expects a bundle directory or the list bundle_host_envs returns"):
        FILTERS["bundle_env_refs"](42)


def test_every_slice_reader_takes_the_pinned_serial(bundle_dir):
    build(bundle_dir, [host("web1", alpha="==1.0")])  # serial 2; the fixture's is serial 1
    serial_1, serial_2 = (_manifest.host_slice(bundle_dir, "web1", serial=n) for n in (1, 2))
    assert serial_1["envs"] != serial_2["envs"]
    for serial, wanted in ((1, serial_1), ("1", serial_1), (2, serial_2), (None, serial_2), ("", serial_2)):
        assert FILTERS["bundle_host_envs"](bundle_dir, "web1", serial=serial) == wanted["envs"], serial
        assert FILTERS["bundle_host_files"](bundle_dir, "web1", False, serial) == wanted["files"], serial
        assert FILTERS["bundle_env_refs"](bundle_dir, "web1", serial=serial) == _manifest.env_refs(wanted["envs"])
    manifest_1 = _manifest.read(bundle_dir, serial=1)
    assert FILTERS["bundle_host_envs"](manifest_1, "web1", serial=1) == serial_1["envs"]
    # A parsed manifest or list of environments is one serial: another pinned is an error, not a silent mix.
    with pytest.raises(AnsibleFilterError, match="pinned bundle serial 2, but the manifest given is serial 1"):
        FILTERS["bundle_host_files"](manifest_1, "web1", serial=2)
    with pytest.raises(AnsibleFilterError, match="pinned bundle serial 1, but the environment default given is "
                                                 "serial 2"):
        FILTERS["bundle_env_refs"](serial_2["envs"], serial=1)
    with pytest.raises(AnsibleFilterError, match="a bundle serial is a whole number"):
        FILTERS["bundle_host_envs"](bundle_dir, "web1", serial="newest")
    assert FILTERS["bundle_batch_images"](bundle_dir, ["web1"], serial="1") == []


def test_the_bundle_in_use_is_the_one_built_here_else_the_last_import(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    in_use = FILTERS["bundle_in_use"]
    assert in_use(None, None) == str(tmp_path / ".cache/airgap.pymigrate/import/current")
    assert in_use("~/built", "~/imports") == str(tmp_path / "imports" / "current")
    build(tmp_path / "built", [host("web1")])
    assert in_use("~/built", "~/imports") == str(tmp_path / "built")
    os.makedirs(str(tmp_path / ".cache/airgap.pymigrate/bundle"))
    assert in_use(None, None).endswith("/import/current")  # a directory without a manifest is no bundle
    build(tmp_path / ".cache/airgap.pymigrate/bundle", [host("web1")])
    assert in_use(None, None) == str(tmp_path / ".cache/airgap.pymigrate/bundle")
    with pytest.raises(AnsibleFilterError, match="expects the import directory as a path, got int"):
        in_use("~/built", 3)
