"""A user's own playbook composed of the collection's roles (tests/fixtures/user-playbook/site.yml), in a project of
their own with the collection installed by ansible-galaxy, passes ansible-lint's production profile with no rule
skipped: the roles' variables carry their role's prefix, as ansible-lint asks of roles (issue 26)."""

import os
import shutil
import subprocess

from tests.fleet.fixtures import ROOT, VENV

USER_PLAYBOOK = os.path.join(ROOT, "tests", "fixtures", "user-playbook", "site.yml")


def install_collection(tmp_path, collections):
    """``ansible-galaxy collection build`` of this checkout, then ``install`` into ``collections``."""
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull)
    env.pop("ANSIBLE_CONFIG", None)
    subprocess.run([os.path.join(VENV, "bin", "ansible-galaxy"), "collection", "build", "--force", "--output-path",
                    str(tmp_path / "build"), ROOT], check=True, stdout=subprocess.PIPE, env=env)
    subprocess.run([os.path.join(VENV, "bin", "ansible-galaxy"), "collection", "install", "--force", "-p",
                    str(collections), str(next((tmp_path / "build").glob("airgap-pymigrate-*.tar.gz")))],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)


def test_a_users_playbook_of_the_roles_passes_ansible_lint_production_with_no_rule_skipped(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    # The collection where a project keeps what its requirements.yml installs, linted with the project's own files.
    install_collection(tmp_path, project / "collections")
    shutil.copy(USER_PLAYBOOK, str(project / "site.yml"))
    (project / "ansible.cfg").write_text("[defaults]\ncollections_path = ./collections\n")
    assert not list(project.glob(".ansible-lint*")) and not (project / ".config").exists()  # no skips anywhere
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "ANSIBLE_LINT"))}
    env.update(HOME=str(tmp_path / "home"), PATH=os.path.join(VENV, "bin") + os.pathsep + os.environ["PATH"],
               NO_COLOR="1", PIP_CONFIG_FILE=os.devnull)
    result = subprocess.run([os.path.join(VENV, "bin", "ansible-lint"), "--profile", "production", "--offline",
                             "--nocolor"], cwd=str(project), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-6000:]
    assert "Profile 'production' was required, and it passed" in result.stdout, result.stdout[-3000:]
    # The collection's roles were linted too, not only the playbook.
    processed = int(result.stdout.split(" files processed")[0].rsplit(" in ", 1)[1])
    assert processed > 50, result.stdout[-2000:]
