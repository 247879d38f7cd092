"""Issue 12: without pymigrate_index_url the bundle uses the indexes pip would use on the control node (its
configuration files and PIP_* variables: index-url, a file:// directory index, a find-links directory, a
constraint file), says which, and refuses by name what it does not follow."""

import hashlib
import json
import os
import subprocess

import yaml

from tests.index import catalog

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def directory_index(root, releases):
    """A PEP 503 index as plain files: <root>/<project>/index.html linking to ../files/<file>#sha256=..."""
    catalog.build(str(root), releases, include_pip=False)
    projects = json.loads((root / "index.json").read_text())["projects"]
    for key, project in projects.items():
        (root / key).mkdir()
        links = "".join('<a href="../files/%s#sha256=%s">%s</a>\n' % (f["filename"], f["sha256"], f["filename"])
                        for f in project["files"])
        (root / key / "index.html").write_text("<html><body>\n%s</body></html>\n" % links)
    return root


def find_links_dir(root, releases):
    catalog.build(str(root / "built"), releases, include_pip=False)
    (root / "wheels").mkdir()
    for name in os.listdir(str(root / "built" / "files")):
        if name.endswith(".whl"):
            os.rename(str(root / "built" / "files" / name), str(root / "wheels" / name))
    return root / "wheels"


def bundle(tmp_path, pip_conf, requirements, extra_env=None):
    """playbooks/bundle.yml for a declared target, with pip's configuration under the test's control only."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}  # this machine's own pip settings
    env.update(ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), HOME=str(home), PIP_CONFIG_FILE=str(pip_conf),
               XDG_CONFIG_DIRS=str(tmp_path / "xdg"), XDG_CONFIG_HOME=str(home / ".config"), **(extra_env or {}))
    extra = tmp_path / "vars.yml"
    extra.write_text(yaml.safe_dump({"pymigrate_target": {"python": "3.11"}, "pymigrate_requirements": requirements,
                                     "pymigrate_bundle_dir": str(tmp_path / "bundle"),
                                     "pymigrate_lock_dir": str(tmp_path / "lock")}))
    return subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "playbooks/bundle.yml", "-e", "@%s" % extra], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=False)


def test_without_an_index_url_the_bundle_uses_what_pip_would(local_index, tmp_path):
    local_dir = directory_index(tmp_path / "dirindex", [catalog.release("dironly", "1.0")])
    wheels = find_links_dir(tmp_path / "links",
                            [catalog.release("flatonly", "2.0"), catalog.release("flatonly", "1.5")])
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("# the site's caps\nalpha<2\nflatonly<2\n")
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text("[global]\nindex-url = %s\nextra-index-url = file://%s\nfind-links = %s\nconstraint = %s\n"
                        "timeout = 60\n" % (local_index.url, local_dir, wheels, constraints))
    result = bundle(tmp_path, pip_conf, ["alpha", "dironly", "flatonly"])
    assert result.returncode == 0, result.stdout[-3000:]
    assert ("using index %s, extra indexes file://%s, find-links %s, constraints %s (from %s [global]"
            % (local_index.url, local_dir, wheels, constraints, pip_conf)) in result.stdout
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    (profile,) = manifest["profiles"].values()
    assert profile["packages"] == {"alpha": "1.1", "dironly": "1.0", "flatonly": "1.5"}
    for relpath, record in manifest["files"].items():  # every file came through its sha256, wherever it lay
        with open(str(tmp_path / "bundle" / relpath), "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == record["sha256"]


def test_the_environment_beats_pip_conf_and_pip_settings_not_followed_are_refused_by_name(local_index, tmp_path):
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text("[global]\nindex-url = http://127.0.0.1:9/simple/\n")
    result = bundle(tmp_path, pip_conf, ["alpha"], {"PIP_INDEX_URL": local_index.url})
    assert result.returncode == 0, result.stdout[-3000:]
    assert "using index %s (from PIP_INDEX_URL in the environment" % local_index.url in result.stdout
    pip_conf.write_text("[install]\ntrusted-host = mirror.example.invalid\n")
    refused = bundle(tmp_path, pip_conf, ["alpha"], {"PIP_INDEX_URL": local_index.url})
    assert refused.returncode != 0
    assert "sets trusted-host in %s [install]" % pip_conf in refused.stdout, refused.stdout[-3000:]
    assert "pymigrate_index_ca_bundle" in refused.stdout
