"""Issue 11: builder hosts for sdists that compile. A C-extension sdist (cext: only an sdist, cext/_speedups.c) is
built on a fleet host of each profile's Python, comes back into the bundle, installs on the other hosts of the
profile and imports there. A fleet of its own: two hosts of Python 3.11 (one the builder) and one of 3.12."""

import json
import os

import pytest
import yaml

from tests.fleet import fleetlib
from tests.fleet.fixtures import Fleet, ansible

pytestmark = pytest.mark.fleet

NAME = "pmb"
IMPORT_EXTENSION = "import cext._speedups as s; print(s.__file__)"


@pytest.fixture(scope="module")
def builder_fleet(fleet):  # after the session fleet's checks: root and namespaces are there
    try:
        inventory = fleetlib.up(NAME, 3, tmpfs_size="256M", pythons=("3.11", "3.11", "3.12"))
    except fleetlib.FleetError as exc:
        pytest.fail("the builder fleet did not come up: %s" % exc)
    try:
        yield Fleet(NAME, inventory)
    finally:
        fleetlib.down(NAME)


@pytest.fixture(scope="module")
def world(builder_fleet, local_index, tmp_path_factory):
    base = tmp_path_factory.mktemp("builders")
    hosts = [host["name"] for host in builder_fleet.hosts]
    assert [h["python_version"] for h in builder_fleet.hosts] == ["3.11", "3.11", "3.12"]
    extra = base / "vars.yml"
    extra.write_text(yaml.safe_dump({"all": {
        "vars": {"pymigrate_index_url": local_index.url, "pymigrate_bundle_dir": str(base / "bundle"),
                 "pymigrate_report_dir": str(base / "reports"), "pymigrate_requirements": {"cext": ""},
                 "pymigrate_smoke_imports": ["cext._speedups"], "pymigrate_builders": "builders"},
        "children": {"builders": {"hosts": {hosts[0]: {}, hosts[2]: {}}}}}}))
    return {"base": base, "extra": str(extra), "hosts": hosts}


def migrate(builder_fleet, world, *args, check=True):
    return ansible(["ansible-playbook", "-i", world["extra"], "playbooks/migrate.yml"] + list(args),
                   builder_fleet.inventory, check=check)


def test_compiled_sdist_built_on_a_builder_installs_and_imports_on_its_profile(builder_fleet, world):
    h1, h2, h3 = world["hosts"]
    first = migrate(builder_fleet, world)
    assert "Build on the builder hosts the sdists that compile" in first.stdout
    assert "cext-1.0.tar.gz on %s" % h1 in first.stdout and "cext-1.0.tar.gz on %s" % h3 in first.stdout
    for host, builder in ((h1, h1), (h2, h1), (h3, h3)):  # h2 is no builder: it runs the wheel h1 built
        out = builder_fleet.exec(host, ["/opt/pymigrate/venv/bin/python", "-c", IMPORT_EXTENSION], check=True).stdout
        assert out.strip().endswith(".so"), out
    manifest = json.loads((world["base"] / "bundle" / "manifest.json").read_text())
    built = {record["filename"]: record["built_from"] for record in manifest["files"].values() if "built_from" in record}
    assert sorted(built) == ["cext-1.0-cp311-cp311-linux_x86_64.whl", "cext-1.0-cp312-cp312-linux_x86_64.whl"]
    assert built["cext-1.0-cp311-cp311-linux_x86_64.whl"]["builder"] == h1
    assert built["cext-1.0-cp312-cp312-linux_x86_64.whl"]["builder"] == h3
    assert {record["sdist"] for record in built.values()} == {"cext-1.0.tar.gz"}
    locks = [name for name in os.listdir(str(world["base"] / "bundle")) if name.startswith("pylock.")]
    assert all("built-from" in (world["base"] / "bundle" / name).read_text() for name in locks) and len(locks) == 2
    sbom = (world["base"] / "bundle" / "sbom.cdx.json").read_text()
    assert "airgap.pymigrate:built-from:builder" in sbom

    # Nothing changed: the recorded wheels are taken, no build runs, nothing moves.
    again = migrate(builder_fleet, world)
    assert "cext-1.0.tar.gz on" not in again.stdout
    assert "changed: [" not in again.stdout, again.stdout[-3000:]


def test_without_a_builder_the_bundle_refuses_the_compiled_sdist_naming_why(builder_fleet, world):
    result = migrate(builder_fleet, world, "-e", "pymigrate_builders=''", "-e",
                     "pymigrate_bundle_dir=%s" % (world["base"] / "nobuilder"), check=False)
    assert result.returncode != 0
    assert "cext 1.0 cannot be used: only an sdist, which compiles" in result.stdout
    assert "no builder host has this profile's facts (pymigrate_builders)" in result.stdout
