"""Role argument specs really guard the playbooks: a missing required variable or a wrong type stops the run
before any work, naming the variable."""

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def playbook(path, *extra):
    return subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           path, "-e", '{"pymigrate_target": {"python": "3.11"}}'] + list(extra),
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
                          env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg")))


def test_a_wrong_type_is_named(tmp_path):
    result = playbook("playbooks/rollout.yml", "-e", "pymigrate_keep_generations=many", "--tags", "pymigrate_push")
    assert result.returncode != 0 and "pymigrate_keep_generations" in result.stdout, result.stdout[-2000:]


def test_keygen_makes_a_key_pair_once(tmp_path):
    """playbooks/keygen.yml as the README gives it: a key pair, then nothing on the second run."""
    key = str(tmp_path / "signing.key")
    first = playbook("playbooks/keygen.yml", "-e", "pymigrate_signing_key=%s" % key)
    assert first.returncode == 0 and "ssh-ed25519 " in first.stdout, first.stdout[-2000:]
    assert oct(os.stat(key).st_mode & 0o777) == "0o600" and os.path.exists(key + ".pub")
    again = playbook("playbooks/keygen.yml", "-e", "pymigrate_signing_key=%s" % key)
    assert again.returncode == 0 and "changed=0" in again.stdout


def test_a_bad_host_variable_is_named_with_its_host(tmp_path):
    """The rollout role is checked once for the batch (role_arguments), not by Ansible per host: a wrong value in
    one host's variables still stops the run before any work, naming that host and the variable."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text('all:\n  hosts:\n    good: {ansible_connection: local}\n'
                         '    bad: {ansible_connection: local, pymigrate_verify_installed: sometimes}\n')
    result = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", str(inventory),
                             "playbooks/rollout.yml",
                             "-e", '{"pymigrate_target": {"python": "3.11"}, "pymigrate_serial": ["100%"]}',
                             "--tags", "pymigrate_push"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
                            env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg")))
    assert result.returncode != 0, result.stdout[-2000:]
    assert "bad: " in result.stdout and "pymigrate_verify_installed" in result.stdout, result.stdout[-2000:]
    assert "good: " not in result.stdout
    assert "Push the wheels this host lacks" not in result.stdout  # stopped before any work


def test_migrate_checks_the_bundle_variables_of_every_host_before_the_build(tmp_path):
    """migrate.yml checks the bundle role once for every host (role_arguments, not Ansible's check of the first
    host): a wrong value in the second host's variables stops the run before the bundle is built, naming both; with
    pymigrate_build false there is no build, and so nothing of the bundle to check."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text('all:\n  hosts:\n    good: {ansible_connection: local}\n'
                         '    bad: {ansible_connection: local, pymigrate_version_policy: sometimes}\n')
    argv = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", str(inventory), "playbooks/migrate.yml",
            "-e", '{"pymigrate_target": {"python": "3.11"}, "pymigrate_bundle_dir": "%s"}' % (tmp_path / "bundle"),
            "--tags", "pymigrate_bundle"]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    result = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            check=False, env=env)
    assert result.returncode != 0, result.stdout[-2000:]
    assert "bad: " in result.stdout and "pymigrate_version_policy" in result.stdout, result.stdout[-2000:]
    assert "Resolve every profile" not in result.stdout  # stopped before any work
    skipped = subprocess.run(argv + ["-e", "pymigrate_build=false"], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, check=False, env=env)
    assert "pymigrate_version_policy" not in skipped.stdout, skipped.stdout[-2000:]
