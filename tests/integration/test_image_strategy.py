"""pymigrate_strategy image over real SSH: each profile an OCI image built on the control node (base image + one
layer with the environment, installed from the bundle's wheels with no network), its blobs pushed into the hosts'
stores, loaded, smoke-run with --network none and tagged; a re-run sends and changes nothing, a pin change sends
only the new layer, rollback.yml switches the tag back, a tampered blob is refused. Two hosts with podman, two
base images of different Pythons (3.11 and 3.12), a fleet of its own (pmi)."""

import json
import os

import pytest
import yaml

from tests.fleet import containers, fleetlib
from tests.fleet.fixtures import _unavailable_reason, ansible, own_fleet

pytestmark = pytest.mark.fleet

NAME = "pmi"
IMAGE = "localhost/pymigrate-default"
VERSIONS = ("import importlib.metadata as m, json, sys; print(json.dumps({'python': '%d.%d' % sys.version_info[:2], "
            "'packages': {d.metadata['Name'].lower(): d.version for d in m.distributions()}}))")


@pytest.fixture(scope="module")
def world(local_index, tmp_path_factory):
    reason = _unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail("CI must run the fleet tests: " + reason)
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("image")
    engine_env = containers.control_env(str(base / "podman"))
    bases = {version: containers.build_base_image(version, env=engine_env, cache_dir=str(base / "rootfs"))
             for version in ("3.11", "3.12")}
    with own_fleet(NAME, 2, tmpfs_size="768M", containers=True, pythons=["3.11", "3.12"]) as fleet:
        h1, h2 = fleet.hosts[0]["name"], fleet.hosts[1]["name"]
        inventory = {"all": {"vars": {
            "pymigrate_index_url": local_index.url, "pymigrate_bundle_dir": str(base / "bundle"),
            "pymigrate_lock_dir": str(base / "lock"),
            "pymigrate_report_dir": str(base / "reports"), "pymigrate_strategy": "image",
            "pymigrate_requirements": {"alpha": "==1.1", "netio": ""}, "pymigrate_smoke_imports": ["alpha", "netio"],
            "pymigrate_serial": ["100%"]},
            "hosts": {h1: {"pymigrate_base_image": "localhost/pmtest-python:3.11"},
                      h2: {"pymigrate_base_image": "localhost/pmtest-python:3.12"}}}}
        extra = base / "vars.yml"
        extra.write_text(yaml.safe_dump(inventory))
        yield {"fleet": fleet, "base": base, "extra": str(extra), "env": engine_env, "bases": bases, "h1": h1,
               "h2": h2}


def run(world, playbook, *args, check=True):
    return ansible(["ansible-playbook", "-i", world["extra"], playbook] + list(args), world["fleet"].inventory,
                   env=world["env"], check=check)


def in_image(world, host, code=VERSIONS):
    out = world["fleet"].exec(host, ["podman", "run", "--rm", "--network", "none", IMAGE + ":current",
                                     "/opt/pymigrate/venv/bin/python", "-c", code], check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def image_id(world, host, ref):
    return world["fleet"].exec(host, ["podman", "image", "inspect", "--format", "{{.Id}}", ref],
                               check=True).stdout.strip()


def summary(world):
    hosts = json.loads((world["base"] / "reports" / "summary.json").read_text())["hosts"]
    return {item["host"]: item for item in hosts}


def manifest(world):
    return json.loads((world["base"] / "bundle" / "manifest.json").read_text())


def test_each_host_runs_its_profile_image_and_a_rerun_changes_nothing(world):
    first = run(world, "playbooks/migrate.yml")
    for host, python in ((world["h1"], "3.11"), (world["h2"], "3.12")):
        found = in_image(world, host)
        assert found["python"] == python  # the base image's interpreter decided the profile
        assert found["packages"]["alpha"] == "1.1" and "netio" in found["packages"]
    bundle = manifest(world)
    images = {name: profile["image"] for name, profile in bundle["profiles"].items()}
    assert len(images) == 2 and all(image["layers"][0] for image in images.values())
    assert {summary(world)[h]["status"] for h in (world["h1"], world["h2"])} == {"changed"}
    assert "changed: [" in first.stdout

    again = run(world, "playbooks/migrate.yml")
    assert "changed: [" not in again.stdout, again.stdout[-3000:]
    assert all(item["bytes_sent"] == 0 and item["status"] == "ok" for item in summary(world).values())


def test_a_pin_change_sends_only_the_new_layer_and_rollback_switches_back(world):
    h1 = world["h1"]
    before = image_id(world, h1, IMAGE + ":current")
    base_layer = {name: profile["image"]["layers"][0] for name, profile in manifest(world)["profiles"].items()}
    sizes = {path: info["size"] for path, info in manifest(world)["files"].items()}
    change = ["-e", '{"pymigrate_requirements": {"alpha": "==2.0", "netio": ""}}']
    run(world, "playbooks/migrate.yml", *change)
    assert in_image(world, h1)["packages"]["alpha"] == "2.0"
    after = image_id(world, h1, IMAGE + ":current")
    assert after != before
    # The base image's layer was on the host already: only the new environment layer, config and manifest travel.
    base_bytes = min(size for path, size in sizes.items() if any(layer in path for layer in base_layer.values()))
    assert 0 < summary(world)[h1]["bytes_sent"] < base_bytes

    run(world, "playbooks/rollback.yml", *change)
    assert image_id(world, h1, IMAGE + ":current") == before
    assert in_image(world, h1)["packages"]["alpha"] == "1.1"
    run(world, "playbooks/migrate.yml", *change)  # forward again for the next test
    assert image_id(world, h1, IMAGE + ":current") == after


def test_a_tampered_blob_in_the_host_store_is_refused(world):
    h2 = world["h2"]
    bundle = manifest(world)
    profile = [p for p in bundle["profiles"].values() if "3.12" in json.dumps(p["target"])][0]
    layer = [path for path in profile["image"]["blobs"] if profile["image"]["layers"][-1] in path][0]
    fleet = world["fleet"]
    # The host must load the image again (remove it), and its environment layer in the store is altered.
    fleet.exec(h2, ["sh", "-c", "podman rmi -f $(podman images -q) >/dev/null"], check=True)
    fleet.exec(h2, ["sh", "-c", "printf x >> /var/lib/pymigrate/store/%s" % layer], check=True)
    refused = run(world, "playbooks/rollout.yml", "--skip-tags", "pymigrate_push", check=False)
    assert refused.returncode != 0
    assert "was altered" in refused.stdout and layer.split("/")[3] in refused.stdout
    # The push repairs it (the store is checked by sha256), and the image loads again.
    run(world, "playbooks/rollout.yml")
    assert in_image(world, h2)["packages"]["alpha"] == "2.0"


def test_the_hosts_keep_their_own_image_stores(world):
    fleet = world["fleet"]
    for host in (world["h1"], world["h2"]):
        names = fleet.exec(host, ["podman", "images", "--format", "{{.Repository}}:{{.Tag}}"], check=True).stdout
        assert "pmtest-python" not in names  # only the environment's image, not the control node's base tags
    assert fleetlib.load_status(NAME)["hosts"]
