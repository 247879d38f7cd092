"""Every command shown in docs/*.md, run as written (as test_readme.py does for the README).

A command is a line of a ```sh block (continuation lines joined); a block whose first line starts with
``# not run here`` says in the doc why it is not (it needs something out of reach, such as a live AWX), and those
stay few. The docs' commands run in one journey over the shared fleet whose hosts take the docs' names (web1, web2),
in the order of JOURNEY, with only the placeholders pointed at the test world (the inventory, the index, the
removable medium, the key places, the bundle's directory). A doc that gains a block of commands fails this test until
it has its place in JOURNEY."""

import datetime
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import zipfile

import pytest
import yaml

from tests.component.test_index_readers import WHEELHOUSE
from tests.fleet.fixtures import ROOT, VENV, ansible
from tests.index import catalog

pytestmark = pytest.mark.fleet

NOT_RUN = "# not run here"
# The docs with commands, in the order their commands run (each doc's own in its order).
JOURNEY = ["hold-format.md", "state-format.md", "usage.md", "audit-format.md", "advisories-format.md",
           "index-format.md"]
VENV_PATH = "/opt/pymigrate/venv"  # the docs' environment path, the collection's default
CHECK = "import importlib.metadata as m; print(m.version('requests'))"


def docs_blocks():
    """{doc name: [[command, ...] per ```sh block]}, continuation lines joined, comment lines dropped."""
    blocks = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
        with open(path) as handle:
            text = handle.read()
        for body in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M):
            commands, current = [], ""
            for line in body.splitlines():
                if line.startswith("#") and not current:
                    if line.startswith(NOT_RUN) and not commands:
                        commands.append(NOT_RUN)
                    continue
                current += line[:-1].rstrip() + " " if line.endswith("\\") else line
                if not line.endswith("\\"):
                    commands.append(current.strip())
                    current = ""
            assert not current, "%s: a command ends with a backslash" % path
            blocks.setdefault(os.path.basename(path), []).append(commands)
    return blocks


def test_every_docs_block_is_run_or_says_why_not():
    blocks = docs_blocks()
    skipped = [name for name, items in blocks.items() for commands in items if commands[:1] == [NOT_RUN]]
    assert skipped == ["awx.md"], skipped  # a live AWX only; keep this list tiny
    assert sorted(set(blocks) - {"awx.md"}) == sorted(JOURNEY)
    for name in JOURNEY:  # full commands, never fragments of one (an `-e ...` line alone)
        for commands in blocks[name]:
            assert commands and all(re.match(r"^(ansible-playbook -i inventory |pip |uv )", c) for c in commands), (
                name, commands)


def osv_export(path, days_ago=1):
    """An OSV export of yesterday (or ``days_ago``) that knows requests before 2.32.0 as vulnerable (the record the
    docs query for)."""
    modified = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days_ago)
    record = {"id": "GHSA-9wx4-h78v-vm56", "modified": modified.strftime("%Y-%m-%dT%H:%M:%SZ"),
              "aliases": ["CVE-2024-35195"],
              "summary": "requests Session verify=False persists",
              "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
                            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.32.0"}]}]}]}
    with zipfile.ZipFile(str(path), "w") as archive:
        archive.writestr(record["id"] + ".json", json.dumps(record))


def test_docs_commands_as_written(fleet, make_index, tmp_path):
    blocks = docs_blocks()
    assert len(fleet.hosts) >= 2
    names = {"web1": fleet.hosts[0]["name"], "web2": fleet.hosts[1]["name"]}
    index = make_index([catalog.release("requests", "2.31.0"), catalog.release("requests", "2.32.3"),
                        catalog.release("numpy", "1.26.4")], include_pip=True)
    with open(fleet.inventory) as handle:
        fleet_vars = yaml.safe_load(handle)["all"]["children"]["fleet"]["hosts"]
    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "host_vars").mkdir()
    # The docs' hosts at the fleet's addresses; web2 keeps requests before 2.32 (what the queries look for).
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {
        name: fleet_vars[host] for name, host in names.items()}}}))
    (inventory / "host_vars" / "web2.yml").write_text(yaml.safe_dump({
        "pymigrate_host_requirements": {"requests": "==2.31.0"}}))

    def pin(requests):  # the inventory the operator edits
        (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump({
            "pymigrate_requirements": {"requests": "==" + requests, "numpy": ""}, "pymigrate_serial": ["100%"],
            "pymigrate_index_url": index.url}))

    for directory in ("usb", "secure", "inside-etc", "work"):
        (tmp_path / directory).mkdir()
    osv_export(tmp_path / "usb" / "all.zip")
    keys = tmp_path / "secure" / "pymigrate.key", tmp_path / "inside-etc" / "pymigrate.key.pub"
    home = tempfile.mkdtemp(prefix="pmd-")  # every default (bundle, import, reports) under it; short for ssh
    bundle, reports = os.path.join(home, ".cache/airgap.pymigrate/bundle"), os.path.join(
        home, ".cache/airgap.pymigrate/reports")
    places = {" -i inventory ": " -i %s " % inventory, "https://mirror.example/simple/": index.url,
              "/media/usb/": str(tmp_path / "usb") + "/", "/secure/": str(tmp_path / "secure") + "/",
              "/etc/pymigrate/": str(tmp_path / "inside-etc") + "/", "/path/to/bundle": bundle}
    env = dict(os.environ, HOME=home, PATH=os.pathsep.join([str(tmp_path / "bin"), os.path.join(VENV, "bin"),
                                                            os.environ["PATH"]]),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1", PIP_CONFIG_FILE=os.devnull)
    _uv(tmp_path / "bin")
    subprocess.run([os.path.join(VENV, "bin", "python"), "-m", "venv", "--without-pip", ".venv"],
                   cwd=str(tmp_path / "work"), check=True)  # the environment `uv pip install` finds

    def held():
        return {name: fleet.exec(host, [VENV_PATH + "/bin/python", "-c", CHECK], check=True).stdout.strip()
                for name, host in names.items()}

    def run(doc, number, command):
        for placeholder, real in places.items():
            command = command.replace(placeholder, real)
        cwd = str(tmp_path / "work") if command.split()[0] in ("pip", "uv") else ROOT
        result = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=900, check=False)
        assert result.returncode == 0, "%s command %d failed: %s\n%s" % (doc, number, command, result.stdout[-4000:])
        return result.stdout

    def query():
        with open(os.path.join(reports, "query.json")) as handle:
            return json.load(handle)["result"]

    try:
        # Before the docs' commands: the signing key pair, and two generations on every host (for the rollback).
        ansible(["ansible", "localhost", "-m", "airgap.pymigrate.bundle_archive", "-a",
                 "state=keypair private_key_path=%s public_key_path=%s" % keys], str(inventory), env={"HOME": home})
        for version in ("2.31.0", "2.32.3"):
            pin(version)
            ansible(["ansible-playbook", "playbooks/migrate.yml"], str(inventory), env={"HOME": home})
        assert held() == {"web1": "2.32.3", "web2": "2.31.0"}
        for doc in JOURNEY:
            if doc == "advisories-format.md":  # a database newer than the bundle's, carried in alone
                osv_export(tmp_path / "usb" / "all.zip", days_ago=0)
            commands = [c for block in blocks[doc] for c in block]
            for number, command in enumerate(commands):
                out = run(doc, number, command)
                if doc == "hold-format.md":  # rolled back and held; held through a run; lifted and rolled out
                    assert held()["web1"] == ("2.31.0", "2.31.0", "2.32.3")[number], (number, out[-3000:])
                    assert number != 1 or "held" in out, out[-3000:]
                if command.startswith("ansible-playbook") and "pymigrate_query" in command and number == 0 \
                        and doc in ("state-format.md", "audit-format.md"):
                    assert query() == ["web2"], out[-3000:]  # requests before 2.32, and CVE-2024-35195
                if "audit.yml" in command and doc == "usage.md":
                    assert query() == [{"id": "GHSA-9wx4-h78v-vm56", "hosts": ["web2"]}], out[-3000:]
                if "audit.yml" in command and doc == "advisories-format.md":  # the carried-in database is used
                    assert "against the OSV database of advisory archive serial" in out, out[-3000:]
        assert held() == {"web1": "2.32.3", "web2": "2.31.0"}
        assert os.path.exists(str(tmp_path / "work" / "requests-2.32.3-py3-none-any.whl"))  # pip download
        installed = subprocess.run([str(tmp_path / "work" / ".venv" / "bin" / "python"), "-c", CHECK], check=True,
                                   stdout=subprocess.PIPE, text=True)
        assert installed.stdout.strip() == "2.32.3"  # uv pip install --offline
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _uv(directory):
    """The uv binary of the wheel make dev downloads, as `uv` on PATH."""
    (wheel,) = sorted(glob.glob(os.path.join(WHEELHOUSE, "uv-*-py3-none-*.whl")))[-1:]
    directory.mkdir()
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(next(name for name in archive.namelist() if name.endswith("/scripts/uv")))
    (directory / "uv").write_bytes(data)
    (directory / "uv").chmod(0o755)
