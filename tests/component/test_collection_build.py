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
    assert tops == {"CHANGELOG.md", "FILES.json", "LICENSE", "MANIFEST.json", "README.md", "changelogs", "docs",
                    "examples", "meta", "playbooks", "plugins", "roles"}


def test_ansible_builder_takes_the_shipped_execution_environment_files(tmp_path):
    """execution-environment.yml makes a build context; installed, the collection's meta/execution-environment.yml
    gives ansible-builder exactly its controller dependencies (the AWX execution environment of docs/awx.md)."""
    bin_dir = os.path.join(ROOT, ".venv", "bin")
    subprocess.run([os.path.join(bin_dir, "ansible-galaxy"), "collection", "build", "--force", "--output-path",
                    str(tmp_path / "build")], cwd=ROOT, check=True, stdout=subprocess.PIPE)
    built = next((tmp_path / "build").glob("airgap-pymigrate-*.tar.gz"))
    os.rename(str(built), str(tmp_path / "build" / "airgap-pymigrate.tar.gz"))
    with open(os.path.join(ROOT, "execution-environment.yml")) as source:
        (tmp_path / "execution-environment.yml").write_text(source.read())
    subprocess.run([os.path.join(bin_dir, "ansible-builder"), "create",
                    "-f", str(tmp_path / "execution-environment.yml"), "-c", str(tmp_path / "context")],
                   cwd=str(tmp_path), check=True, stdout=subprocess.PIPE)
    assert (tmp_path / "context" / "_build" / "airgap-pymigrate.tar.gz").exists()
    # ansible-builder names it after the container runtime it finds (Containerfile with podman, else Dockerfile).
    build_file = [tmp_path / "context" / name for name in ("Containerfile", "Dockerfile")
                  if (tmp_path / "context" / name).exists()]
    assert build_file and "ansible-galaxy" in build_file[0].read_text()
    subprocess.run([os.path.join(bin_dir, "ansible-galaxy"), "collection", "install", "--force", "-p",
                    str(tmp_path / "installed"),
                    str(tmp_path / "build" / "airgap-pymigrate.tar.gz")], check=True, stdout=subprocess.PIPE)
    found = subprocess.run([os.path.join(bin_dir, "ansible-builder"), "introspect", "--sanitize",
                            str(tmp_path / "installed")], check=True, stdout=subprocess.PIPE, text=True).stdout
    for requirement in ("packaging>=24.0", "requests>=2.31", "resolvelib>=1.0.1", "jmespath>=1.0", "bcrypt>=4.0",
                        "openssh-client [platform:dpkg]"):
        assert requirement in found, found
