"""The README's journeys, run as written: every command of its "Using it" block, in order, with only the
placeholders pointed at the test world (inventory, index, removable medium, key places, the public key carried
inside); the last one from the collection installed with ansible-galaxy, by FQCN, outside this checkout."""

import os
import re
import shutil
import subprocess
import tempfile

import pytest
import yaml

from tests.fleet.fixtures import ROOT, VENV

pytestmark = pytest.mark.fleet
CHECK = "import importlib.metadata as m; print(m.version('alpha'))"


def readme_commands():
    """The commands of the README's `Using it` block, continuation lines joined, comments dropped."""
    with open(os.path.join(ROOT, "README.md")) as handle:
        text = handle.read()
    block = text.split("## Using it", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands, current = [], ""
    for line in block.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        current += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            commands.append(re.sub(r"\s+#[^'\"]*$", "", current).strip())
            current = ""
    return commands


def test_readme_commands_as_written(fleet, local_index, tmp_path):
    commands = readme_commands()
    assert [c.split()[0] for c in commands] == ["ansible-playbook"] * len(commands) and len(commands) == 10
    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    shutil.copy(fleet.inventory, str(inventory / "fleet.yml"))

    def pin(alpha):  # the inventory the operator edits between the journeys
        (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump({
            "pymigrate_requirements": {"alpha": "==" + alpha, "netio": ""}, "pymigrate_venv_path": "/opt/readme/venv",
            "pymigrate_serial": ["100%"]}))
    pin("1.0")
    # After each playbook: the alpha every host's environment holds (migrate 1.0; a new pin carried across the gap;
    # rollback to the generation before; the installed collection's migrate takes the inventory's pin again).
    expected = {"migrate.yml": "1.0", "deploy.yml": "1.1", "rollback.yml": "1.0", "airgap.pymigrate.migrate": "1.1"}
    places = {" -i inventory ": " -i %s " % inventory, "https://mirror.example/simple/": local_index.url,
              "/media/usb/": str(tmp_path / "usb") + "/", "/secure/": str(tmp_path / "secure") + "/",
              "/etc/pymigrate/": str(tmp_path / "inside-etc") + "/"}
    for directory in ("usb", "secure", "inside-etc"):
        (tmp_path / directory).mkdir()
    home = tempfile.mkdtemp(prefix="pmh-")  # every default (bundle, import, reports) under it; short for ssh
    env = dict(os.environ, HOME=home, PATH=os.path.join(VENV, "bin") + os.pathsep + os.environ["PATH"],
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1", PIP_CONFIG_FILE=os.devnull)
    try:
        for number, command in enumerate(commands):
            for placeholder, real in places.items():
                command = command.replace(placeholder, real)
            cwd = ROOT
            if "bundle.yml" in command:
                pin("1.1")
            if "airgap.pymigrate.migrate" in command:  # from an installed collection, not from this checkout
                cwd = _installed_collection(tmp_path, env)
            result = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, timeout=900, check=False)
            assert result.returncode == 0, "README command %d failed: %s\n%s" % (
                number, command, result.stdout[-4000:])
            if "keygen.yml" in command:  # what the operator carries inside
                shutil.copy(str(tmp_path / "secure" / "pymigrate.key.pub"), str(tmp_path / "inside-etc"))
            for playbook, alpha in expected.items():
                if any(token.endswith(playbook) for token in command.split()):
                    for host in fleet.hosts:
                        out = fleet.exec(host["name"], ["/opt/readme/venv/bin/python", "-c", CHECK], check=True).stdout
                        assert out.strip() == alpha, (command, host["name"], out)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _installed_collection(tmp_path, env):
    """Build the collection and install it with ansible-galaxy into a collections path of its own; returns a
    working directory without this checkout's ansible.cfg."""
    build, collections, work = tmp_path / "build", tmp_path / "collections", tmp_path / "elsewhere"
    work.mkdir()
    subprocess.run([os.path.join(VENV, "bin", "ansible-galaxy"), "collection", "build", "--force", "--output-path",
                    str(build), ROOT], check=True, stdout=subprocess.PIPE, env=env)
    subprocess.run([os.path.join(VENV, "bin", "ansible-galaxy"), "collection", "install", "--force", "-p",
                    str(collections), str(next(build.glob("airgap-pymigrate-*.tar.gz")))], check=True,
                   stdout=subprocess.PIPE, env=env)
    env.pop("ANSIBLE_CONFIG", None)
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    env["ANSIBLE_HOST_KEY_CHECKING"] = "True"
    return str(work)
