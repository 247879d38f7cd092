"""`ansible-galaxy collection build` gives a clean artifact: code, roles, playbooks, docs and the licence (GPL-3.0,
as galaxy.yml declares); no tests or dev files."""

import os
import subprocess
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_build_is_clean(tmp_path):
    subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-galaxy"), "collection", "build", "--force",
                    "--output-path", str(tmp_path)], cwd=ROOT, check=True, stdout=subprocess.PIPE)
    with tarfile.open(next(tmp_path.glob("airgap-pymigrate-*.tar.gz"))) as tar:
        tops = {name.split("/")[0] for name in tar.getnames()}
    assert tops == {"FILES.json", "LICENSE", "MANIFEST.json", "README.md", "changelogs", "docs", "meta", "playbooks",
                    "plugins", "roles"}
