"""playbooks/bundle.yml through ansible-playbook: declared targets (not contacted), idempotence, check and
diff mode, and an error that leaves the previous bundle intact."""

import json
import os
import subprocess

import yaml

from tests.fleet.fixtures import ROOT

INVENTORY = {
    "all": {
        "vars": {"pymigrate_requirements": {"netio": "", "webkit[http]": ">=1", "fastcore": "==1.0"}},
        "children": {
            "py39": {"vars": {"pymigrate_group_requirements": {"alpha": "==1.1"}},
                     "hosts": {"a1": {"pymigrate_target": {"python": "3.9", "libc_version": "2.28"}},
                               "a2": {"pymigrate_target": {"python": "3.9", "libc_version": "2.28"},
                                      "pymigrate_host_requirements": {"alpha": "==1.0"}}}},
            "arm": {"hosts": {"c1": {"pymigrate_target": {"python": "3.12", "arch": "aarch64", "libc_version": "2.28"},
                                     # unreachable on purpose: a declared host must not be contacted
                                     "ansible_host": "192.0.2.254"}}},
        },
    }
}


def run(tmp_path, index, *extra, check=True):
    inventory = tmp_path / "inventory.yml"
    if not inventory.exists():
        inventory.write_text(yaml.safe_dump(INVENTORY))
    argv = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", str(inventory), "playbooks/bundle.yml",
            "-e", "pymigrate_index_url=" + index.url, "-e", "pymigrate_bundle_dir=" + str(tmp_path / "bundle")]
    result = subprocess.run(argv + list(extra), cwd=ROOT, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg")))
    if check:
        assert result.returncode == 0, result.stdout[-5000:]
    return result


def manifest(tmp_path):
    return json.loads((tmp_path / "bundle" / "manifest.json").read_text())


def test_bundle_playbook(local_index, tmp_path):
    predicted = run(tmp_path, local_index, "--check", "--diff")
    assert "+a1:default alpha==1.1" in predicted.stdout and not (tmp_path / "bundle" / "manifest.json").exists()

    first = run(tmp_path, local_index)
    assert "changed: [" in first.stdout  # the bundle task, run once on the control node
    # Progress at default verbosity while the bundle task runs, not only a result at its end.
    assert "pymigrate bundle: resolving 3 profile(s) for 3 host environment(s)" in first.stdout
    assert "pymigrate bundle: fetching " in first.stdout and "pymigrate bundle: bundle serial 1 written" in first.stdout
    data = manifest(tmp_path)
    assert data["serial"] == 1 and len(data["profiles"]) == 3
    packages = {host: data["profiles"][envs["default"]["profile"]]["packages"] for host, envs in data["hosts"].items()}
    assert packages["a1"]["alpha"] == "1.1" and packages["a2"]["alpha"] == "1.0"  # host pin beats group pin
    assert "backport-eg" in packages["a1"] and "backport-eg" not in packages["c1"]
    for relpath, meta in data["files"].items():
        assert os.path.getsize(tmp_path / "bundle" / relpath) == meta["size"]
    for profile in data["profiles"].values():
        assert (tmp_path / "bundle" / profile["lock"]).exists() and profile["installer"] in data["files"]
    sbom = json.loads((tmp_path / "bundle" / "sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX" and any(c["name"] == "fastcore" and c["licenses"]
                                                    for c in sbom["components"])

    again = run(tmp_path, local_index)
    assert "changed: [" not in again.stdout and manifest(tmp_path)["serial"] == 1

    upgraded = run(tmp_path, local_index, "--diff", "-e", '{"pymigrate_group_requirements": {"alpha": "==2.0"}}')
    assert "-a1:default alpha==1.1" in upgraded.stdout and "+a1:default alpha==2.0" in upgraded.stdout
    assert manifest(tmp_path)["serial"] == 2

    before = (tmp_path / "bundle" / "manifest.json").read_text()
    broken = run(tmp_path, local_index, "-e", '{"pymigrate_requirements": {"conflict-a": "", "conflict-b": ""}}',
                 check=False)
    assert broken.returncode != 0
    assert "shared==1.0 (required by conflict-a 1.0) conflicts with shared==2.0" in broken.stdout
    assert "Traceback" not in broken.stdout
    assert (tmp_path / "bundle" / "manifest.json").read_text() == before


def test_bad_pin_names_host_variable_and_value(local_index, tmp_path):
    result = run(tmp_path, local_index, "-e", '{"pymigrate_host_requirements": {"alpha": "=>2"}}', check=False)
    assert result.returncode != 0
    host = result.stdout.split("error_host: ", 1)[1].split()[0]
    assert host in ("a1", "a2", "c1")
    for line in ("error_var: pymigrate_host_requirements.alpha", "error_value: =>2",
                 "msg: malformed version specifier (host %s" % host):
        assert line in result.stdout, result.stdout[-3000:]
