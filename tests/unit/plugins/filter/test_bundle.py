"""The bundle_host_files and bundle_host_envs filters: a bundle directory or a parsed manifest in, the host's
part out; errors become filter errors that name the host."""

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
    with pytest.raises(AnsibleFilterError, match="expects the list bundle_host_envs returns"):
        FILTERS["bundle_env_refs"]("/srv/bundle")
