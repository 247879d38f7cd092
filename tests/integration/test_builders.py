"""Issue 11: builder hosts for sdists that compile. A C-extension sdist (cext: only an sdist, cext/_speedups.c) is
built on a fleet host of each profile's Python, comes back into the bundle, installs on the other hosts of the
profile and imports there. A fleet of its own: two hosts of Python 3.11 (one the builder) and one of 3.12."""

import json
import os

import pytest
import yaml

from tests.fleet.fixtures import ansible, own_fleet

pytestmark = pytest.mark.fleet

NAME = "pmc"
IMPORT_EXTENSION = "import cext._speedups as s; print(s.__file__)"


@pytest.fixture(scope="module")
def builder_fleet(fleet):
    with own_fleet(NAME, 3, tmpfs_size="256M", pythons=("3.11", "3.11", "3.12")) as builders:
        yield builders


@pytest.fixture(scope="module")
def world(builder_fleet, local_index, tmp_path_factory):
    base = tmp_path_factory.mktemp("builders")
    hosts = [host["name"] for host in builder_fleet.hosts]
    assert [h["python_version"] for h in builder_fleet.hosts] == ["3.11", "3.11", "3.12"]
    extra = base / "vars.yml"
    extra.write_text(yaml.safe_dump({"all": {
        "vars": {"pymigrate_index_url": local_index.url, "pymigrate_bundle_dir": str(base / "bundle"),
                 "pymigrate_lock_dir": str(base / "lock"),
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
    built = {record["filename"]: record["built_from"]
             for record in manifest["files"].values() if "built_from" in record}
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
                     "pymigrate_bundle_dir=%s" % (world["base"] / "nobuilder"), "-e",
                     "pymigrate_lock_dir=%s" % (world["base"] / "nobuilder-lock"), check=False)
    assert result.returncode != 0
    assert "cext 1.0 cannot be used: only an sdist, which compiles" in result.stdout
    assert "no builder host has this profile's facts (pymigrate_builders)" in result.stdout


def test_across_the_gap_the_archive_carries_the_sdist_and_builders_inside_build_it(builder_fleet, make_index,
                                                                                   tmp_path):
    """survey inside -> bundle outside from the survey (the builders are out of its reach: the bundle carries the
    sdist, its build requirements and pip) -> deploy inside with the index stopped: the builders build, every host
    of each profile installs the wheel its builder made; the same archive again builds and changes nothing."""
    from tests.index import catalog  # pylint: disable=import-outside-toplevel
    h1, h2, h3 = [host["name"] for host in builder_fleet.hosts]
    index = make_index([r for r in catalog.default_catalog() if r["name"] == "cext"], include_pip=True)
    inventory_vars = tmp_path / "vars.yml"
    inventory_vars.write_text(yaml.safe_dump({"all": {
        "vars": {"pymigrate_requirements": {"cext": ""}, "pymigrate_venv_path": "/opt/gap/venv",
                 "pymigrate_smoke_imports": ["cext._speedups"], "pymigrate_builders": "builders",
                 "pymigrate_serial": ["100%"], "pymigrate_report_dir": str(tmp_path / "reports"),
                 "pymigrate_import_dir": str(tmp_path / "inside-store")},
        "children": {"builders": {"hosts": {h1: {}, h3: {}}}}}}))
    survey, keys = tmp_path / "survey.json", (tmp_path / "signing.key", tmp_path / "signing.pub")

    def playbook(name, *args, check=True):
        return ansible(["ansible-playbook", "-i", str(inventory_vars), "playbooks/%s.yml" % name] + list(args),
                       builder_fleet.inventory, check=check)

    ansible(["ansible", "localhost", "-m", "airgap.pymigrate.bundle_archive", "-a",
             "state=keypair private_key_path=%s public_key_path=%s" % keys], builder_fleet.inventory)
    playbook("survey", "-e", "pymigrate_survey_file=%s" % survey)
    outside = playbook("bundle", "-e", "pymigrate_survey_file=%s" % survey, "-e", "pymigrate_index_url=" + index.url,
                       "-e", "pymigrate_bundle_dir=%s" % (tmp_path / "outside"), "-e",
                       "pymigrate_lock_dir=%s" % (tmp_path / "outside-lock"), "-e",
                       "pymigrate_archive=%s" % (tmp_path / "full.tar"), "-e", "pymigrate_signing_key=%s" % keys[0])
    assert "2 sdist build(s) carried in the bundle for builder hosts inside" in outside.stdout, outside.stdout[-3000:]
    lock = [p for p in (tmp_path / "outside").iterdir() if p.name.startswith("pylock.")][0].read_text()
    assert 'sdist = { name = "cext-1.0.tar.gz"' in lock
    index.stop()  # from here on, nothing can reach an index

    trusted = json.dumps({"pymigrate_trusted_keys": [str(keys[1])]})
    first = playbook("deploy", "-e", "pymigrate_archive=%s" % (tmp_path / "full.tar"), "-e", trusted)
    assert "cext-1.0.tar.gz on %s" % h1 in first.stdout and "cext-1.0.tar.gz on %s" % h3 in first.stdout
    for host in (h1, h2, h3):
        out = builder_fleet.exec(host, ["/opt/gap/venv/bin/python", "-c", IMPORT_EXTENSION], check=True).stdout
        assert out.strip().endswith(".so"), out
    records = list((tmp_path / "inside-store" / "built").glob("*.json"))
    assert len(records) == 1 and sorted(w["builder"] for w in json.loads(records[0].read_text())["wheels"]) == [h1, h3]

    again = playbook("deploy", "-e", "pymigrate_archive=%s" % (tmp_path / "full.tar"), "-e", trusted)
    assert "changed: [" not in again.stdout, again.stdout[-3000:]
