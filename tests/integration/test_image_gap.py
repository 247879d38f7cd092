"""The image strategy across the gap, over real SSH: survey.yml inside -> bundle.yml + signed archive outside (the
base images surveyed and the images built on the outside control node) -> deploy.yml inside with the index
stopped. The hosts end with ``<name>:current`` whose venv imports the locked modules; the same archive again
changes nothing; an archive whose image blob was altered (same tar format, same size, other bytes) is refused on
arrival naming the member, and nothing is installed. Two hosts with podman and different Pythons, a fleet of its
own (pmg)."""

import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import time
import tomllib
import urllib.request

import pytest
import yaml

from tests.fleet import containers, fleetlib
from tests.fleet.fixtures import _unavailable_reason, ansible, own_fleet
from tests.index import catalog
from tests.index.server import IndexServer

pytestmark = pytest.mark.fleet

NAME = os.environ.get("PYMIGRATE_FLEET_NAME", "pm")[:11] + "g"  # pmg by default
IMAGE = "localhost/pymigrate-default"
CHECK = ("import importlib.metadata as m, json, sys, alpha, netio; print(json.dumps({'python': '%d.%d' % "
         "sys.version_info[:2], 'packages': {d.metadata['Name'].lower(): d.version for d in m.distributions()}}))")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    reason = _unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail("CI must run the fleet tests: " + reason)
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("image-gap")
    engine_env = containers.control_env(str(base / "podman"))
    for version in ("3.11", "3.12"):
        containers.build_base_image(version, env=engine_env, cache_dir=str(base / "rootfs"))
    index = IndexServer(catalog.build(str(base / "index")))
    try:
        with own_fleet(NAME, 2, tmpfs_size="768M", containers=True, pythons=["3.11", "3.12"]) as fleet:
            h1, h2 = fleet.hosts[0]["name"], fleet.hosts[1]["name"]
            inventory = {"all": {"vars": {
                "pymigrate_strategy": "image", "pymigrate_requirements": {"alpha": "==1.1", "netio": ""},
                "pymigrate_smoke_imports": ["alpha", "netio"], "pymigrate_serial": ["100%"],
                "pymigrate_report_dir": str(base / "reports"), "pymigrate_import_dir": str(base / "inside-store")},
                "hosts": {h1: {"pymigrate_base_image": "localhost/pmtest-python:3.11"},
                          h2: {"pymigrate_base_image": "localhost/pmtest-python:3.12"}}}}
            extra = base / "vars.yml"
            extra.write_text(yaml.safe_dump(inventory))
            keys = base / "signing.key", base / "signing.pub"
            yield {"fleet": fleet, "base": base, "extra": str(extra), "env": engine_env, "index": index, "h1": h1,
                   "h2": h2, "keys": keys, "survey": base / "survey.json"}
    finally:
        index.stop()


def playbook(world, name, *args, check=True):
    return ansible(["ansible-playbook", "-i", world["extra"], "playbooks/%s.yml" % name] + list(args),
                   world["fleet"].inventory, env=world["env"], check=check)


def deploy(world, archive, check=True):
    return playbook(world, "deploy", "-e", "pymigrate_archive=%s" % archive, "-e",
                    json.dumps({"pymigrate_trusted_keys": [str(world["keys"][1])]}), check=check)


def in_image(world, host):
    out = world["fleet"].exec(host, ["podman", "run", "--rm", "--network", "none", IMAGE + ":current",
                                     "/opt/pymigrate/venv/bin/python", "-c", CHECK], check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def host_images(world, host):
    return world["fleet"].exec(host, ["podman", "images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.Id}}"],
                               check=True).stdout.split("\n")


def recap(result, world):
    lines = result.stdout.split("PLAY RECAP")[-1].splitlines()
    return [line for line in lines if line.startswith(NAME + "-")]


def carried_in_lock_and_sbom(bundle_dir, manifest):
    """Each profile's lock names its image as the environment's carrier; the SBOM has the image as a container
    component that depends on the packages of the lock."""
    sbom = json.loads((bundle_dir / "sbom.cdx.json").read_text())
    by_ref = {c["bom-ref"]: c for c in sbom["components"]}
    for profile in manifest["profiles"].values():
        image = profile["image"]
        carrier = tomllib.loads((bundle_dir / profile["lock"]).read_text())["tool"]["airgap-pymigrate"]["carrier"]
        assert carrier["kind"] == "oci-image" and carrier["image-id"] == "sha256:" + image["image_id"]
        assert carrier["manifest-digest"] == "sha256:" + image["manifest_digest"]
        assert carrier["base-image"] == image["base_image"] and carrier["layers"][-1] == "sha256:" + image["layers"][-1]
        component = [c for c in sbom["components"] if c["type"] == "container"
                     and c["hashes"] == [{"alg": "SHA-256", "content": image["manifest_digest"]}]][0]
        assert component["purl"].startswith("pkg:oci/pymigrate-default@sha256%3A" + image["manifest_digest"])
        depends = [d["dependsOn"] for d in sbom["dependencies"] if d["ref"] == component["bom-ref"]][0]
        assert {by_ref[ref]["name"]: by_ref[ref]["version"] for ref in depends} == profile["packages"]


def test_survey_bundle_archive_deploy_carries_the_image(world):
    fleet = world["fleet"]
    ansible(["ansible", "localhost", "-m", "airgap.pymigrate.bundle_archive", "-a",
             "state=keypair private_key_path=%s public_key_path=%s" % world["keys"]], fleet.inventory)
    playbook(world, "survey", "-e", "pymigrate_survey_file=%s" % world["survey"])
    assert set(json.loads(world["survey"].read_text())["hosts"]) == {world["h1"], world["h2"]}
    # Outside: no host is contacted; the base images are in the outside control node's store.
    playbook(world, "bundle", "-e", "pymigrate_survey_file=%s" % world["survey"], "-e",
             "pymigrate_index_url=" + world["index"].url, "-e", "pymigrate_bundle_dir=%s" % (world["base"] / "outside"),
             "-e", "pymigrate_lock_dir=%s" % (world["base"] / "outside-lock"),
             "-e", "pymigrate_archive=%s" % (world["base"] / "full.tar"), "-e",
             "pymigrate_signing_key=%s" % world["keys"][0])
    manifest = json.loads((world["base"] / "outside" / "manifest.json").read_text())
    images = {name: profile["image"] for name, profile in manifest["profiles"].items()}
    assert len(images) == 2 and all(image["blobs"] for image in images.values())
    with tarfile.open(world["base"] / "full.tar") as tar:
        names = tar.getnames()
    for image in images.values():  # every blob of both images crosses in the archive
        assert set(image["blobs"]) <= set(names)
    carried_in_lock_and_sbom(world["base"] / "outside", manifest)
    world["index"].stop()  # from here on, nothing can reach an index

    first = deploy(world, world["base"] / "full.tar")
    assert all("failed=0" in line and "changed=0" not in line for line in recap(first, world)), first.stdout[-3000:]
    for host, python in ((world["h1"], "3.11"), (world["h2"], "3.12")):
        found = in_image(world, host)
        assert found["python"] == python
        assert found["packages"]["alpha"] == "1.1" and "netio" in found["packages"]
        assert any(line.startswith(IMAGE + ":current ") for line in host_images(world, host))
    carried_in_lock_and_sbom(world["base"] / "inside-store" / "current", manifest)  # they crossed with it
    summary = json.loads((world["base"] / "reports" / "summary.json").read_text())
    assert summary["counts"] == {"changed": 2} and summary["run"]["playbook"] == "deploy.yml"

    before = {host: host_images(world, host) for host in (world["h1"], world["h2"])}
    again = deploy(world, world["base"] / "full.tar")
    assert all("changed=0" in line and "failed=0" in line for line in recap(again, world)), again.stdout[-3000:]
    summary = json.loads((world["base"] / "reports" / "summary.json").read_text())
    assert all(item["bytes_sent"] == 0 and item["status"] == "ok" for item in summary["hosts"])
    assert {host: host_images(world, host) for host in before} == before


def tampered_copy(source, dest, member):
    """``source`` with ``member``'s bytes changed (same size, same tar layout): archive.json and its signature
    untouched, so only the member's own sha256 can tell."""
    with open(source, "rb") as handle:
        data = bytearray(handle.read())
    with tarfile.open(source) as tar:
        info = tar.getmember(member)
    offset = info.offset_data + info.size // 2
    data[offset] ^= 0xFF
    with open(dest, "wb") as handle:
        handle.write(bytes(data))
    with tarfile.open(dest) as tar:  # still a well-formed tar with the same members
        assert tar.getnames() and tar.getmember(member).size == info.size


def test_an_archive_with_a_tampered_image_blob_is_refused_and_nothing_is_installed(world):
    fleet = world["fleet"]
    manifest = json.loads((world["base"] / "outside" / "manifest.json").read_text())
    image = [p["image"] for p in manifest["profiles"].values() if "3.12" in json.dumps(p["target"])][0]
    layer = [path for path in image["blobs"] if image["layers"][-1] in path][0]
    # The archive already accepted, with its environment layer changed: a copy of an accepted archive is read
    # and verified again, so only that member's sha256 can stop it.
    tampered_copy(world["base"] / "full.tar", world["base"] / "tampered.tar", layer)
    accepted = (world["base"] / "inside-store" / "accepted.json").read_text()
    for host in (world["h1"], world["h2"]):  # the hosts have no image: only a refused archive keeps them so
        fleet.exec(host, ["sh", "-c", "podman rmi -af >/dev/null"], check=True)
    refused = deploy(world, world["base"] / "tampered.tar", check=False)
    assert refused.returncode != 0
    assert "archive member %s" % layer in refused.stdout and "it was changed" in refused.stdout, refused.stdout[-3000:]
    for host in (world["h1"], world["h2"]):
        assert not [line for line in host_images(world, host) if line.strip()]  # nothing loaded
    assert (world["base"] / "inside-store" / "accepted.json").read_text() == accepted


def can_connect(world, host, address, port):
    """Can the host open a TCP connection to address:port (from inside its namespaces)?"""
    code = "import socket; socket.create_connection((%r, %d), timeout=5).close()" % (address, port)
    return world["fleet"].python(host, code).returncode == 0


def require(tool, hint):
    """Skip (in CI: fail) when ``tool`` is not installed, naming how to get it."""
    if not (shutil.which(tool) or fleetlib._which(tool)):
        message = "%s is not installed; install it (as root): %s" % (tool, hint)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def open_exception(world, host, address, port, tool):
    """Make the host's outgoing-connection rule again with ``tool`` and open its one exception, address:port: the
    host is refused before it and gets through after it, and the tool that made the rule lists the exception."""
    fleetlib.set_firewall(world["fleet"].name, host, tool)
    assert fleetlib.host_firewall(host) == tool
    assert not can_connect(world, host, address, port)  # the rule this tool made is in force
    fleetlib.allow_outgoing(host, address, port)
    assert str(port) in fleetlib.outgoing_rules(host)  # listed by the tool that made it
    assert can_connect(world, host, address, port)


@pytest.fixture(scope="module")
def registry(world):
    """Debian's docker-registry on the control node, listening on h1's control-side veth address (a local address
    the hosts can be given a route to; nothing outside reaches it), with its own config and storage in the test's
    temporary directory; started and stopped by its pid. The hosts' outgoing-connection rule (made by the tool the
    fleet chose) gets one exception: that address and port."""
    require("docker-registry", "apt-get install -y docker-registry")
    binary = shutil.which("docker-registry")
    fleet = world["fleet"]
    address = fleet.host(world["h1"])["control_address"]
    with socket.socket() as probe:  # a free port on that address
        probe.bind((address, 0))
        port = probe.getsockname()[1]
    directory = world["base"] / "registry"
    (directory / "storage").mkdir(parents=True)
    config = directory / "config.yml"
    config.write_text(yaml.safe_dump({"version": 0.1, "log": {"level": "warn"},
                                      "storage": {"filesystem": {"rootdirectory": str(directory / "storage")}},
                                      "http": {"addr": "%s:%d" % (address, port)}}))
    log = open(directory / "registry.log", "wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen("http://%s:%d/v2/" % (address, port), timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.time() > deadline:
                    pytest.fail("docker-registry did not come up: %s" % (directory / "registry.log").read_text())
                time.sleep(0.2)
        for host in (world["h1"], world["h2"]):
            item = fleet.host(host)
            if item["control_address"] != address:  # h2's only peer is its own veth end: a route to h1's
                subprocess.run(["ip", "netns", "exec", host, "ip", "route", "replace", address + "/32", "via",
                                item["control_address"]], check=True)
            if fleetlib.host_firewall(host):  # without nft and iptables the route alone decides
                open_exception(world, host, address, port, fleetlib.host_firewall(host))
        yield {"url": "%s:%d" % (address, port), "address": address, "port": port, "storage": directory / "storage",
               "log": directory / "registry.log"}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def publish_lines(result):
    """ok or changed, per image, of the task that pushes the batch's images to the registry (on the control node)."""
    sections = [part.split("TASK [")[0] for part in result.stdout.split("Push the batch's images to the registry")[1:]]
    return [line.split(":", 1)[0] for section in sections for line in section.splitlines()
            if re.match(r"^(ok|changed): \[.* -> localhost\]", line)]  # one section per batch


def test_with_a_registry_inside_each_image_is_pushed_once_and_the_hosts_pull_it(world, registry):
    fleet = world["fleet"]
    manifest = json.loads((world["base"] / "inside-store" / "current" / "manifest.json").read_text())
    images = {profile["image"]["image_id"] for profile in manifest["profiles"].values()}
    # The hosts start without the images and without their blobs: only the registry can give them.
    for host in (world["h1"], world["h2"]):
        fleet.exec(host, ["sh", "-c", "podman rmi -af >/dev/null; rm -rf /var/lib/pymigrate/store/files"], check=True)
    setting = json.dumps({"pymigrate_registry": {"url": registry["url"], "tls_verify": False}})
    first = playbook(world, "deploy", "-e", "pymigrate_archive=%s" % (world["base"] / "full.tar"), "-e",
                     json.dumps({"pymigrate_trusted_keys": [str(world["keys"][1])]}), "-e", setting)
    assert publish_lines(first).count("changed") == len(images) == 2, first.stdout[-6000:]
    tag_dir = registry["storage"] / "docker" / "registry" / "v2" / "repositories" / "pymigrate" / "pymigrate-default" \
        / "_manifests" / "tags"
    tags = {path.name: (path / "current" / "link").stat().st_mtime_ns for path in tag_dir.iterdir()}
    assert set(tags) == images  # one tag per image content, its ID
    summary = json.loads((world["base"] / "reports" / "summary.json").read_text())
    assert all(item["bytes_sent"] == 0 and item["status"] == "changed" for item in summary["hosts"])
    for host, python in ((world["h1"], "3.11"), (world["h2"], "3.12")):
        assert fleet.exec(host, ["ls", "/var/lib/pymigrate/store/files"]).returncode != 0  # no blob was sent
        found = in_image(world, host)
        assert found["python"] == python and found["packages"]["alpha"] == "1.1"
        names = [line.split()[0] for line in host_images(world, host) if line.strip()]
        assert IMAGE + ":current" in names and not [name for name in names if registry["url"] in name]

    again = playbook(world, "deploy", "-e", "pymigrate_archive=%s" % (world["base"] / "full.tar"), "-e",
                     json.dumps({"pymigrate_trusted_keys": [str(world["keys"][1])]}), "-e", setting)
    assert publish_lines(again) == ["ok", "ok"], again.stdout[-6000:]  # the registry was asked, nothing pushed
    assert {path.name: (path / "current" / "link").stat().st_mtime_ns for path in tag_dir.iterdir()} == tags
    assert all("changed=0" in line and "failed=0" in line for line in recap(again, world)), again.stdout[-3000:]


def test_a_host_refuses_another_image_under_its_tag_in_the_registry(world, registry):
    fleet, h1 = world["fleet"], world["h1"]
    manifest = json.loads((world["base"] / "inside-store" / "current" / "manifest.json").read_text())
    profile = [p for p in manifest["profiles"].values() if "3.11" in json.dumps(p["target"])][0]
    files = manifest["files"]
    image = {"name": profile["image"]["name"], "image_id": profile["image"]["image_id"],
             "index": profile["image"]["index"],
             "blobs": [{"path": path, "sha256": files[path]["sha256"], "size": files[path]["size"]}
                       for path in profile["image"]["blobs"]]}
    # Someone with access to the registry puts another image (the 3.12 base) under h1's image's tag.
    reference = "%s/pymigrate/%s:%s" % (registry["url"], image["name"].rsplit("/", 1)[1], image["image_id"])
    containers.podman(["push", "-q", "--tls-verify=false", "localhost/pmtest-python:3.12", reference], world["env"])
    fleet.exec(h1, ["sh", "-c", "podman rmi -af >/dev/null"], check=True)
    args = {"name": image["name"], "serial": manifest["serial"], "image": image, "smoke_imports": ["alpha"],
            "registry": {"url": registry["url"], "tls_verify": False}}
    refused = ansible(["ansible", h1, "-m", "airgap.pymigrate.image_install", "-a", json.dumps(args)],
                      fleet.inventory, check=False)
    assert refused.returncode != 0
    assert "the registry holds another image under its tag" in refused.stdout, refused.stdout[-2000:]
    names = [line.split()[0] for line in host_images(world, h1) if line.strip()]
    assert IMAGE + ":current" not in names  # nothing was tagged


@pytest.mark.parametrize("tool", fleetlib.FIREWALLS)
def test_either_firewall_tool_refuses_the_registry_until_its_exception_opens(world, registry, tool):
    """A machine may have nft or iptables: the hosts' outgoing-connection rule made by each, in turn, refuses the
    registry; the one exception lets the hosts reach it (the registry tests above pulled through the fleet's own
    tool's); the tool that made the rule lists it. The last tool's rule and exception stay for the tests after."""
    require(tool, "tests/tools/system-deps")
    for host in (world["h1"], world["h2"]):
        open_exception(world, host, registry["address"], registry["port"], tool)
