"""The lock as the fleet lives with it (docs/lock-format.md), over real SSH, with the lock directory in git.

The index publishes newer releases of a pinned project's unpinned dependency (dep) and of an unpinned top-level project
(tool) after the first migration: a re-run changes nothing and says the lock holds; pymigrate_upgrade [dep] moves dep
only, and the git diff of the lock touches dep's entry only; lock mode frozen with a changed inventory fails naming
what would change and changes no host; a git revert of the lock, then migrate.yml with the index stopped, reinstalls
the earlier versions from the store.
"""

import json
import os
import shutil
import subprocess

import pytest
import yaml

from tests.fleet.fixtures import ansible
from tests.index import catalog
from tests.index.server import IndexServer

pytestmark = pytest.mark.fleet

ENV_PATH = "/opt/locktest/venv"
FIRST = [catalog.release("app", "1.0", requires=["dep>=1.0"]), catalog.release("dep", "1.0"),
         catalog.release("tool", "1.0")]
LATER = FIRST + [catalog.release("dep", "1.1"), catalog.release("tool", "1.1")]
VERSIONS = ("import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))")


def git(world, *args):
    return subprocess.run(["git", "-C", str(world["lock"])] + list(args), check=True, stdout=subprocess.PIPE,
                          text=True, env=dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
                                              GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")).stdout


@pytest.fixture(scope="module")
def world(fleet, tmp_path_factory):
    base = tmp_path_factory.mktemp("lock")
    index = IndexServer(catalog.build(str(base / "index"), FIRST))
    hosts = [host["name"] for host in fleet.hosts[:2]]
    inventory = {"all": {"vars": {
        "pymigrate_index_url": index.url, "pymigrate_bundle_dir": str(base / "bundle"),
        "pymigrate_report_dir": str(base / "reports"), "pymigrate_lock_dir": str(base / "lock"),
        "pymigrate_venv_path": ENV_PATH,
        "pymigrate_requirements": {"app": "==1.0", "tool": ""}}}}
    (base / "vars.yml").write_text(yaml.safe_dump(inventory))
    try:
        yield {"base": base, "index": index, "hosts": hosts, "lock": base / "lock",
               "args": ["-i", str(base / "vars.yml"), "--limit", ",".join(hosts)]}
    finally:
        index.stop()


def migrate(fleet, world, *args, check=True):
    return ansible(["ansible-playbook"] + world["args"] + ["playbooks/migrate.yml"] + list(args), fleet.inventory,
                   check=check)


def installed(fleet, world):
    return {host: json.loads(fleet.exec(host, [ENV_PATH + "/bin/python", "-c", VERSIONS], check=True).stdout)
            for host in world["hosts"]}


def publish(world, releases):
    catalog.build(str(world["base"] / "index"), releases)
    world["index"].reload()


def changed_hosts(output):
    recap = output.split("PLAY RECAP", 1)[1]
    return {line.split()[0] for line in recap.splitlines() if "changed=" in line and "changed=0" not in line}


def test_the_lock_holds_moves_on_purpose_refuses_when_frozen_and_rolls_back(fleet, world):
    first = migrate(fleet, world)
    assert "lock " in first.stdout and installed(fleet, world) == {
        host: {"app": "1.0", "dep": "1.0", "tool": "1.0"} for host in world["hosts"]}
    git(world, "init", "-q")
    git(world, "add", "-A")
    git(world, "commit", "-qm", "first lock")
    locked = git(world, "rev-parse", "HEAD").strip()

    publish(world, LATER)  # dep 1.1 (app's unpinned dependency) and tool 1.1 (unpinned, top level)
    shutil.rmtree(world["base"] / "bundle" / ".cache", ignore_errors=True)  # no cached page hides the releases
    again = migrate(fleet, world)
    assert "lock: unchanged, it holds for every environment of this run" in again.stdout
    assert not changed_hosts(again.stdout) & set(world["hosts"]), again.stdout[-3000:]
    assert git(world, "status", "--porcelain") == ""
    assert all(versions["dep"] == "1.0" and versions["tool"] == "1.0" for versions in installed(fleet, world).values())

    predicted = migrate(fleet, world, "--check", "--diff", "-e", '{"pymigrate_upgrade": ["dep"]}')
    assert "dep 1.0 -> 1.1" in predicted.stdout and git(world, "status", "--porcelain") == ""
    moved = migrate(fleet, world, "-e", '{"pymigrate_upgrade": ["dep"]}')
    assert "dep 1.0 -> 1.1" in moved.stdout
    assert installed(fleet, world) == {host: {"app": "1.0", "dep": "1.1", "tool": "1.0"} for host in world["hosts"]}
    diff = git(world, "diff", "-U0", "--", "*.toml")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed and all("dep" in line or line[1:].startswith("version = ") for line in changed), diff
    locks = len(list(world["lock"].glob("pylock.*.toml")))  # one per Python of the two hosts
    assert locks == 2 and [line for line in changed if line[1:].startswith("version = ")] == [
        '-version = "1.0"', '+version = "1.1"'] * locks
    git(world, "commit", "-qam", "upgrade dep")

    refused = migrate(fleet, world, "-e", '{"pymigrate_lock_mode": "frozen"}',
                      "-e", '{"pymigrate_requirements": {"app": "==1.0", "tool": "==1.1"}}', check=False)
    assert refused.returncode != 0 and "tool 1.0 -> 1.1" in refused.stdout and "frozen" in refused.stdout
    assert installed(fleet, world) == {host: {"app": "1.0", "dep": "1.1", "tool": "1.0"} for host in world["hosts"]}
    assert git(world, "status", "--porcelain") == ""

    git(world, "revert", "--no-edit", "HEAD")  # back to the first lock, as a reviewed change
    assert git(world, "rev-parse", "HEAD:") == git(world, "rev-parse", locked + ":")
    world["index"].stop()  # the rollback needs no index: the lock holds and the store has the files
    rolled = migrate(fleet, world)
    assert "dep 1.1 -> 1.0" in rolled.stdout or "downgraded" in rolled.stdout, rolled.stdout[-3000:]
    assert installed(fleet, world) == {host: {"app": "1.0", "dep": "1.0", "tool": "1.0"} for host in world["hosts"]}
    assert git(world, "status", "--porcelain") == ""
