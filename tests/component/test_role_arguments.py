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
