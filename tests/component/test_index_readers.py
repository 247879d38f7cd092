"""The bundle's own index (simple/, docs/index-format.md) as real clients read it, offline, for every profile of a
bundle of four (CPython 3.9 and 3.11 on x86_64 glibc, 3.12 on aarch64 glibc, 3.13 on x86_64 musl): pip's finder
downloads exactly the locked files from ``file://``, uv installs each profile's pins (resolving their dependencies
from the metadata files) for its platform, and over HTTP both resolve from the metadata files alone, never
downloading a wheel; a rebuild with nothing new rewrites nothing. A static mirror published from it (mirror_publish,
a web server's directory) serves every profile to uv. The bundle's SBOM is valid CycloneDX 1.6 and has an edge for
every dependency its locks record."""

import glob
import http.server
import json
import os
import shutil
import subprocess
import threading
import tomllib
import zipfile

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import (
    _bundle,
    _index,
    _mirror,
    _profiles,
    _targets,
    _wanted,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._inventory import BundleInputs
from tests.fleet.fixtures import ROOT
from tests.unit.plugins.plugin_utils.test_sbom import validate

WHEELHOUSE = os.path.join(ROOT, "build", "wheelhouse")
REQUIREMENTS = {"netio": "", "webkit[http]": "", "fastcore": "==1.0", "modernlib": "", "yankee": "==1.1",
                "Foo_Bar.baz": "", "nometa": ""}
TARGETS = {"py39": {"python": "3.9", "libc_version": "2.28"}, "py311": {"python": "3.11", "libc_version": "2.28"},
           "arm312": {"python": "3.12", "arch": "aarch64", "libc_version": "2.28"},
           "musl313": {"python": "3.13", "libc": "musl", "libc_version": "1.2"}}
UV_PLATFORMS = {"py39": "x86_64-manylinux_2_28", "py311": "x86_64-manylinux_2_28", "arm312": "aarch64-manylinux_2_28",
                "musl313": "x86_64-unknown-linux-musl"}
CLEAN_ENV = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", UV_NO_CONFIG="1",
                 PIP_NO_INDEX="", PIP_INDEX_URL="", PIP_FIND_LINKS="", UV_INDEX_URL="", UV_DEFAULT_INDEX="",
                 UV_FIND_LINKS="")


def build(index, directory):
    hosts = [_profiles.HostInput(name, _wanted.wanted_sets_for_host(name, {"pymigrate_requirements": REQUIREMENTS}),
                                 _targets.target_from_declaration(target)) for name, target in TARGETS.items()]
    client = _index.IndexClient([_index.IndexConfig(index.url)])
    try:
        return _bundle.build_bundle(BundleInputs(hosts), _bundle.BundleSettings(str(directory), build_sdists=False),
                                    client)
    finally:
        client.close()


@pytest.fixture(scope="module")
def bundle(local_index, tmp_path_factory):
    directory = tmp_path_factory.mktemp("index-readers") / "bundle"
    build(local_index, directory)
    with open(directory / "manifest.json") as handle:
        manifest = json.load(handle)
    assert len(manifest["profiles"]) == len(TARGETS)
    return directory, manifest


def test_a_rebuild_with_nothing_new_rewrites_no_page_and_no_metadata_file(bundle, local_index):
    directory, manifest = bundle
    written = sorted(glob.glob(str(directory / "simple" / "**" / "*"), recursive=True)
                     + glob.glob(str(directory / "files" / "sha256" / "*" / "*" / "*.metadata")))
    assert len([path for path in written if path.endswith(".metadata")]) == len(
        [entry for entry in manifest["files"].values() if entry["filename"].endswith(".whl")])
    before = {path: os.stat(path).st_mtime_ns for path in written}
    again = build(local_index, directory)
    assert not again["changed"] and again["serial"] == manifest["serial"]
    assert before == {path: os.stat(path).st_mtime_ns for path in written}


@pytest.fixture(scope="module")
def uv(tmp_path_factory):
    found = sorted(glob.glob(os.path.join(WHEELHOUSE, "uv-*-py3-none-*.whl")))
    if not found:
        pytest.fail("no uv wheel in %s: run `make dev`" % WHEELHOUSE)
    with zipfile.ZipFile(found[-1]) as archive:
        member = next(name for name in archive.namelist() if name.endswith("/scripts/uv"))
        path = archive.extract(member, str(tmp_path_factory.mktemp("uv")))
    os.chmod(path, 0o755)
    return path


def profiles(manifest):
    """(host, profile) for each declared host."""
    for host in TARGETS:
        yield host, manifest["profiles"][manifest["hosts"][host]["default"]["profile"]]


def run(argv, **kwargs):
    result = subprocess.run(argv, env=CLEAN_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            check=False, **kwargs)
    assert result.returncode == 0, "%s\n%s" % (" ".join(argv), result.stdout[-4000:])
    return result.stdout


def platforms(manifest, profile):
    """pip's --platform values for a profile: every platform tag its wheels claim."""
    found = set()
    for relpath in profile["files"]:
        filename = manifest["files"][relpath]["filename"]
        found.update(filename[:-len(".whl")].split("-")[-1].split("."))
    return sorted(found - {"any"}) or ["any"]


def test_pip_downloads_exactly_the_locked_files_of_every_profile_from_file_url(bundle, tmp_path):
    directory, manifest = bundle
    for host, profile in profiles(manifest):
        target = tmp_path / host
        python = TARGETS[host]["python"].replace(".", "")
        argv = [os.path.join(ROOT, ".venv", "bin", "python"), "-m", "pip", "download", "--no-deps", "--no-cache-dir",
                "--index-url", "file://%s/simple" % directory, "--only-binary=:all:", "--python-version", python,
                "--implementation", "cp", "--abi", "cp" + python, "-d", str(target)]
        argv += ["--platform=" + platform for platform in platforms(manifest, profile)]
        run(argv + ["%s==%s" % item for item in sorted(profile["packages"].items())])
        locked = sorted(manifest["files"][relpath]["filename"] for relpath in profile["files"])
        assert sorted(os.listdir(target)) == locked, host


def installed(target):
    found = {}
    for dist_info in glob.glob(os.path.join(str(target), "*.dist-info")):
        name, version = os.path.basename(dist_info)[:-len(".dist-info")].rsplit("-", 1)
        found[name.lower().replace("_", "-")] = version
    return found


def test_uv_installs_each_profile_offline_for_its_platform_from_file_url(bundle, uv, tmp_path):
    directory, manifest = bundle
    for host, profile in profiles(manifest):
        requirements = tmp_path / ("%s.txt" % host)
        requirements.write_text("".join("%s==%s\n" % item for item in sorted(profile["packages"].items())))
        target = tmp_path / ("site-%s" % host)
        run([uv, "pip", "install", "--offline", "--no-cache", "--index-url", "file://%s/simple" % directory,
             "--python-version", TARGETS[host]["python"], "--python-platform", UV_PLATFORMS[host],
             "--target", str(target), "-r", str(requirements)])
        assert installed(target) == profile["packages"], host
        assert profile["packages"]["yankee"] == "1.1"  # yanked: a pin with == still installs it
    assert 'data-yanked="broken build"' in (directory / "simple" / "yankee" / "index.html").read_text()


class LoggingHandler(http.server.SimpleHTTPRequestHandler):
    """A static server of the bundle (as ``python -m http.server`` serves it) that keeps every path asked for."""

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        self.server.paths.append(self.path)


def serve(copy):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: LoggingHandler(*a, directory=str(copy)))
    server.paths = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def served(bundle, tmp_path):
    copy = tmp_path / "served"
    shutil.copytree(bundle[0], copy, symlinks=False, ignore=shutil.ignore_patterns(".cache", ".lock"))
    server = serve(copy)
    yield "http://127.0.0.1:%d/simple/" % server.server_address[1], server.paths
    server.shutdown()
    server.server_close()


def test_a_static_mirror_published_from_the_bundle_serves_each_profile(bundle, uv, tmp_path):
    directory, manifest = bundle
    root = tmp_path / "www"
    server = serve(root)
    try:
        settings = _mirror.MirrorSettings(bundle_dir=str(directory), kind="static", path=str(root),
                                          url="http://127.0.0.1:%d/" % server.server_address[1])
        result = _mirror.publish(settings)
        assert len(result["published"]) == len(manifest["files"]) and result["pages"]
        assert not _mirror.publish(settings)["changed"]
        for host, profile in profiles(manifest):
            requirements = tmp_path / ("%s.txt" % host)
            requirements.write_text("".join("%s==%s\n" % item for item in sorted(profile["packages"].items())))
            run([uv, "pip", "install", "--no-cache", "--index-url", settings.url + "simple/", "--python-version",
                 TARGETS[host]["python"], "--python-platform", UV_PLATFORMS[host], "--target",
                 str(tmp_path / ("site-" + host)), "-r", str(requirements)])
            assert installed(tmp_path / ("site-" + host)) == profile["packages"], host
    finally:
        server.shutdown()
        server.server_close()


def test_over_http_the_metadata_files_suffice_no_wheel_is_downloaded(bundle, uv, served, tmp_path):
    url, paths = served
    _directory, manifest = bundle
    wanted = ["netio", "webkit[http]", "fastcore==1.0", "nometa"]
    lock = run([uv, "pip", "compile", "--no-cache", "--index-url", url, "--python-version", "3.11",
                "--python-platform", "x86_64-manylinux_2_28", "-"], input="\n".join(wanted) + "\n")
    assert "netio==4.0" in lock and "idna-lite==3.0" in lock and "httpish==1.0" in lock
    pip = [os.path.join(ROOT, ".venv", "bin", "python"), "-m", "pip", "install", "--dry-run", "--no-cache-dir",
           "--ignore-installed", "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
           "--abi", "cp311", "--target", str(tmp_path / "never"), "--index-url", url, "--report",
           str(tmp_path / "report.json")]
    pip += ["--platform=" + platform for platform in platforms(manifest, manifest["profiles"][
        manifest["hosts"]["py311"]["default"]["profile"]])]
    run(pip + wanted)
    with open(tmp_path / "report.json") as handle:
        chosen = {item["metadata"]["name"].lower() for item in json.load(handle)["install"]}
    assert {"netio", "idna-lite", "webkit", "alpha", "httpish", "fastcore", "nometa"} <= chosen
    assert not [path for path in paths if path.endswith(".whl")], paths  # metadata only
    metadata = [path for path in paths if path.endswith(".whl.metadata")]
    assert len(metadata) >= 2 * 6 and any("nometa" in path for path in metadata), paths  # both clients read them
    assert not (tmp_path / "never").exists()


def test_the_sbom_is_valid_and_has_an_edge_for_every_locked_dependency(bundle):
    directory, manifest = bundle
    with open(directory / "sbom.cdx.json") as handle:
        sbom = json.load(handle)
    validate(sbom)
    edges = {(item["ref"], target) for item in sbom["dependencies"] for target in item["dependsOn"]}
    by_file = {component["purl"].split("file_name=")[1]: component["bom-ref"] for component in sbom["components"]
               if component["type"] == "library"}
    count = 0
    for _host, profile in profiles(manifest):
        with open(directory / profile["lock"], "rb") as handle:
            lock = tomllib.load(handle)
        files = {package["name"]: package["wheels"][0]["name"] for package in lock["packages"]}
        for package in lock["packages"]:
            for dependency in package.get("dependencies", []):
                assert (by_file[files[package["name"]]], by_file[files[dependency["name"]]]) in edges
                count += 1
    assert count >= 3 * len(TARGETS)  # netio -> idna-lite, webkit -> alpha and httpish, in every profile
