"""An inside mirror fed from the signed archive, on the fleet: survey inside -> bundle + signed archive outside ->
deploy inside with the index stopped -> playbooks/mirror.yml into a real devpi-server and a real pypiserver that the
test starts on the control node (on a control-side address the hosts get a route to, each host allowed that port
only). Each host's venv then installs its environment's lock, as the mirror serves it, with uv from that mirror (no
public index is reachable from a host); a second mirror.yml publishes nothing; a file tampered with in the import store
is refused, named, and nothing reaches a fresh index."""

import json
import os
import socket
import subprocess
import time
import tomllib
import urllib.request

import pytest
import requests
import yaml

from tests.component.test_index_readers import WHEELHOUSE
from tests.fleet import fleetlib
from tests.fleet.fixtures import ansible
from tests.index import catalog

pytestmark = pytest.mark.fleet

# The servers' own venv (`make dev` makes it from requirements-servers.txt).
VENV_BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".venv-servers",
                        "bin")
PASSWORD = "mirror-s3cret"
CHECK = ("import importlib.metadata as m, json; "
         "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))")


def free_port(address):
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def wait_for(url, process, log):
    # A server that exits fails at once; a live one may start slowly on a loaded machine (devpi-server took over 60 s
    # at a load of 14 on 2 cores), so the wait is long.
    deadline = time.time() + 300
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                pytest.fail("%s did not come up: %s" % (url, log.read_text()[-3000:]))
            time.sleep(0.3)


def start_devpi(directory, address):
    """devpi-server in its own server directory, offline (no upstream), with root's password and one index without
    bases (it serves only what is uploaded): root/pymigrate. Returns (process, index URL)."""
    subprocess.run([os.path.join(VENV_BIN, "devpi-init"), "--serverdir", str(directory / "server"), "--root-passwd",
                    PASSWORD], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = free_port(address)
    log = directory / "devpi.log"
    process = subprocess.Popen([os.path.join(VENV_BIN, "devpi-server"), "--serverdir", str(directory / "server"),
                                "--host", address, "--port", str(port), "--offline-mode"],
                               stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    wait_for("http://%s:%d/+api" % (address, port), process, log)
    for name in ("pymigrate", "fresh"):
        response = requests.put("http://%s:%d/root/%s" % (address, port, name), auth=("root", PASSWORD),
                                json={"bases": [], "volatile": False}, headers={"Accept": "application/json"})
        assert response.status_code == 200, response.text
    return process, port, "http://%s:%d/root/pymigrate" % (address, port)


HTPASSWD = ("import sys; from passlib.apache import HtpasswdFile; "
            "h = HtpasswdFile(sys.argv[1], new=True); h.set_password('uploader', sys.argv[2]); h.save()")


def start_pypiserver(directory, address):
    """pypiserver over its own package directory, uploads only with the password of an htpasswd file, no fallback
    to the public index. Returns (process, URL)."""
    (directory / "packages").mkdir()
    subprocess.run([os.path.join(VENV_BIN, "python"), "-c", HTPASSWD, str(directory / "htpasswd"), PASSWORD],
                   check=True)  # with the servers' passlib (libpass), not this venv's
    port = free_port(address)
    log = directory / "pypiserver.log"
    process = subprocess.Popen([os.path.join(VENV_BIN, "pypi-server"), "run", "-i", address, "-p", str(port), "-P",
                                str(directory / "htpasswd"), "-a", "update", "--disable-fallback",
                                str(directory / "packages")], stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    wait_for("http://%s:%d/simple/" % (address, port), process, log)
    return process, port, "http://%s:%d" % (address, port)


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def servers(fleet, tmp_path):
    """devpi-server and pypiserver on h1's control-side address; every host gets a route to it and that port."""
    address = fleet.hosts[0]["control_address"]
    (tmp_path / "devpi").mkdir()
    (tmp_path / "pypiserver").mkdir()
    started = []
    try:
        devpi, devpi_port, devpi_url = start_devpi(tmp_path / "devpi", address)
        started.append(devpi)
        pypiserver, pypi_port, pypi_url = start_pypiserver(tmp_path / "pypiserver", address)
        started.append(pypiserver)
        for host in fleet.hosts:
            if host["control_address"] != address:
                subprocess.run(["ip", "netns", "exec", host["name"], "ip", "route", "replace", address + "/32", "via",
                                host["control_address"]], check=True)
            for port in (devpi_port, pypi_port):
                fleetlib.allow_outgoing(host["name"], address, port)
        yield {"devpi": devpi_url, "pypiserver": pypi_url, "address": address,
               "packages": tmp_path / "pypiserver" / "packages"}
    finally:
        for process in started:
            stop(process)


def mirror(fleet, tmp_path, kind, url, username, check=True, **extra):
    variables = {"pymigrate_import_dir": str(tmp_path / "inside-store"), "pymigrate_mirror_kind": kind,
                 "pymigrate_mirror_url": url, "pymigrate_mirror_username": username,
                 "pymigrate_mirror_password": PASSWORD,
                 "pymigrate_mirror_locks_dir": str(tmp_path / ("locks-" + kind))}
    variables.update(extra)
    return ansible(["ansible-playbook", "playbooks/mirror.yml", "-e", json.dumps(variables)], fleet.inventory,
                   check=check)


def recap_changed(result):
    line = [line for line in result.stdout.split("PLAY RECAP")[1].splitlines() if line.startswith("localhost")][0]
    return int(line.split("changed=")[1].split()[0])


def put_file(fleet, host, path, data, mode="644"):
    fleet.exec(host, ["sh", "-c", "mkdir -p \"$(dirname %s)\" && cat > %s && chmod %s %s" % (path, path, mode, path)],
               input=data, text=False, check=True)


def uv_binary():
    import glob
    import zipfile
    (wheel,) = sorted(glob.glob(os.path.join(WHEELHOUSE, "uv-*-py3-none-*.whl")))[-1:]
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(next(name for name in archive.namelist() if name.endswith("/scripts/uv")))


def install_lock(fleet, host, lock_path, venv):
    """A new venv on the host, the lock installed into it by uv from the mirror the lock names; what it holds."""
    python = fleet.host(host)["python"]
    fleet.exec(host, [python, "-m", "venv", "--without-pip", venv], check=True)
    result = fleet.exec(host, ["/opt/mirror-tools/uv", "pip", "install", "--no-config", "--python",
                               venv + "/bin/python", "--cache-dir", "/opt/mirror-tools/cache", "-r", lock_path])
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(fleet.exec(host, [venv + "/bin/python", "-c", CHECK], check=True).stdout)


def test_deploy_then_mirror_into_devpi_and_pypiserver_and_install_the_locks_from_them(
        fleet, make_index, servers, tmp_path):
    index = make_index(catalog.default_catalog(), include_pip=True)
    common = {"pymigrate_requirements": {"netio": "", "webkit[http]": "", "alpha": "==1.0"},
              "pymigrate_venv_path": "/opt/mirror/venv", "pymigrate_serial": ["100%"],
              "pymigrate_report_dir": str(tmp_path / "reports"), "pymigrate_import_dir": str(tmp_path / "inside-store"),
              "pymigrate_lock_dir": str(tmp_path / "inside-lock")}
    (tmp_path / "vars.yml").write_text(yaml.safe_dump({"all": {"vars": common}}))
    survey, keys = tmp_path / "survey.json", (tmp_path / "signing.key", tmp_path / "signing.pub")

    def playbook(name, *args):
        return ansible(["ansible-playbook", "-i", str(tmp_path / "vars.yml"), "playbooks/%s.yml" % name] + list(args),
                       fleet.inventory)

    ansible(["ansible", "localhost", "-m", "airgap.pymigrate.bundle_archive", "-a",
             "state=keypair private_key_path=%s public_key_path=%s" % keys], fleet.inventory)
    playbook("survey", "-e", "pymigrate_survey_file=%s" % survey)
    playbook("bundle", "-e", "pymigrate_survey_file=%s" % survey, "-e", "pymigrate_index_url=" + index.url, "-e",
             "pymigrate_bundle_dir=%s" % (tmp_path / "outside"), "-e", "pymigrate_lock_dir=%s" % (tmp_path / "olock"),
             "-e", "pymigrate_archive=%s" % (tmp_path / "full.tar"), "-e", "pymigrate_signing_key=%s" % keys[0])
    index.stop()  # from here on, nothing can reach an index but the mirrors
    playbook("deploy", "-e", "pymigrate_archive=%s" % (tmp_path / "full.tar"), "-e",
             json.dumps({"pymigrate_trusted_keys": [str(keys[1])]}))
    current = tmp_path / "inside-store" / "current"
    assert (current / "simple" / "netio" / "index.html").exists()  # the index crossed with the archive
    manifest = json.loads((current / "manifest.json").read_text())
    distributions = sorted(entry["filename"] for entry in manifest["files"].values())

    first = {kind: mirror(fleet, tmp_path, kind, servers[kind], user)
             for kind, user in (("devpi", "root"), ("pypiserver", "uploader"))}
    for kind, result in first.items():
        assert recap_changed(result) == 1, result.stdout[-3000:]
        assert "%d file(s) published" % len(distributions) in result.stdout, result.stdout[-3000:]
        assert PASSWORD not in result.stdout
    assert sorted(os.listdir(servers["packages"])) == distributions
    listed = requests.get(servers["devpi"] + "/+simple/netio/").text
    netio = [entry for entry in manifest["files"].values() if entry["project"] == "netio"][0]
    assert "#sha256=%s" % netio["sha256"] in listed

    again = {kind: mirror(fleet, tmp_path, kind, servers[kind], user)
             for kind, user in (("devpi", "root"), ("pypiserver", "uploader"))}
    for kind, result in again.items():
        assert recap_changed(result) == 0 and "0 file(s) published" in result.stdout, result.stdout[-3000:]

    # Each environment's lock as the mirror serves it: a new venv on a host of that environment installs it from the
    # mirror, exactly what the fleet holds.
    uv = uv_binary()
    for host in fleet.hosts:
        put_file(fleet, host["name"], "/opt/mirror-tools/uv", uv, mode="755")
    installed = []
    for kind in ("devpi", "pypiserver"):
        for path in sorted((tmp_path / ("locks-" + kind)).glob("pylock.*.toml")):
            lock = tomllib.loads(path.read_text())
            urls = [wheel["url"] for package in lock["packages"] for wheel in package["wheels"]]
            assert all(url.startswith(servers[kind]) for url in urls), urls
            host = lock["tool"]["airgap-pymigrate"]["environments"][0].split(":")[0]
            put_file(fleet, host, "/opt/mirror-tools/%s" % path.name, path.read_bytes())
            found = install_lock(fleet, host, "/opt/mirror-tools/%s" % path.name, "/opt/mirror-tools/venv-" + kind)
            assert found == {package["name"]: package["version"] for package in lock["packages"]}, (kind, host)
            held = json.loads(fleet.exec(host, ["/opt/mirror/venv/bin/python", "-c", CHECK], check=True).stdout)
            assert {name: held[name] for name in found} == found  # what the fleet's environment holds
            installed.append((kind, host))
    assert {kind for kind, _host in installed} == {"devpi", "pypiserver"}, installed
    # No public index is within a host's reach.
    probe = fleet.exec(fleet.hosts[0]["name"], [fleet.hosts[0]["python"], "-c",
                                                "import urllib.request; urllib.request.urlopen("
                                                "'https://pypi.org/simple/', timeout=5)"])
    assert probe.returncode != 0

    # A file tampered with in the import store: refused by name, nothing published to a fresh index.
    alpha = [path for path, entry in manifest["files"].items() if entry["filename"].startswith("alpha-1.0")][0]
    target = tmp_path / "inside-store" / alpha
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    fresh = servers["devpi"].rsplit("/", 1)[0] + "/fresh"
    refused = mirror(fleet, tmp_path, "devpi", fresh, "root", check=False,
                     pymigrate_mirror_locks_dir=str(tmp_path / "locks-fresh"))
    assert refused.returncode != 0 and alpha in refused.stdout and "nothing was published" in refused.stdout, \
        refused.stdout[-3000:]
    assert PASSWORD not in refused.stdout
    assert requests.get(fresh + "/+simple/netio/").status_code == 404
    assert requests.get(fresh + "/+simple/alpha/").status_code == 404
    assert not (tmp_path / "locks-fresh").exists()
