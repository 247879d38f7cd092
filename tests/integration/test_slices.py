"""Issue 13 (AWX job slicing): a bundle job, then three concurrent rollouts, each migrate.yml over its own --limit
slice with pymigrate_build: false. None rebuilds or rewrites the bundle; every host ends holding the lock; each
slice's report speaks of its own hosts, truly."""

import hashlib
import json
import os
import subprocess

import pytest
import yaml

from tests.fleet.fixtures import ROOT, VENV, ansible

pytestmark = pytest.mark.fleet
CHECK = "import importlib.metadata as m; print(m.version('alpha'), m.version('netio'))"


def test_three_concurrent_slices_over_one_bundle(fleet, local_index, tmp_path):
    inventory_vars = tmp_path / "vars.yml"
    inventory_vars.write_text(yaml.safe_dump({"all": {"vars": {
        "pymigrate_requirements": {"alpha": "==1.1", "netio": ""}, "pymigrate_venv_path": "/opt/slices/venv",
        "pymigrate_bundle_dir": str(tmp_path / "bundle"),
        "pymigrate_lock_dir": str(tmp_path / "lock"), "pymigrate_report_dir": str(tmp_path / "reports"),
        "pymigrate_serial": ["100%"], "pymigrate_index_url": local_index.url}}}))
    ansible(["ansible-playbook", "-i", str(inventory_vars), "playbooks/bundle.yml"], fleet.inventory)  # the bundle job
    manifest = tmp_path / "bundle" / "manifest.json"
    before = hashlib.sha256(manifest.read_bytes()).hexdigest()

    names = [host["name"] for host in fleet.hosts]
    slices = [names[:1], names[1:2], names[2:]]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    runs = [subprocess.Popen([os.path.join(VENV, "bin", "ansible-playbook"), "-i", fleet.inventory, "-i",
                              str(inventory_vars), "playbooks/migrate.yml", "-e", "pymigrate_build=false", "--limit",
                              ",".join(part)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True) for part in slices]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    for run, output in zip(runs, outputs):
        assert run.returncode == 0, output[-3000:]
        assert "pymigrate bundle: resolving" not in output  # no slice builds (the bundle tasks are skipped)
    assert hashlib.sha256(manifest.read_bytes()).hexdigest() == before  # ... nor rewrites the bundle

    for host in names:
        out = fleet.exec(host, ["/opt/slices/venv/bin/python", "-c", CHECK], check=True).stdout
        assert out.split() == ["1.1", "4.0"], (host, out)
    reports = [json.loads((tmp_path / "reports" / run_dir / "summary.json").read_text())
               for run_dir in os.listdir(str(tmp_path / "reports"))
               if (tmp_path / "reports" / run_dir / "summary.json").exists() and run_dir != "latest"]
    assert sorted(sorted(item["host"] for item in report["hosts"]) for report in reports) == sorted(
        sorted(part) for part in slices)
    for report in reports:
        assert all(item["status"] == "changed" for item in report["hosts"]) and report["retry"] == []


def _alpha(fleet, host, venv):
    return fleet.exec(host, [venv + "/bin/python", "-c", "import importlib.metadata as m; print(m.version('alpha'))"],
                      check=True).stdout.strip()


def test_a_rollout_pinned_to_an_older_serial_installs_it_with_the_push_skipped(fleet, local_index, tmp_path):
    """Issue 23: with the push skipped by tag (its files already in the host store), the install reads the host's
    slice itself, for the serial the run pinned; not the newest serial, not another task's registered result."""
    host, venv = fleet.hosts[0]["name"], "/opt/pinned/venv"
    inventory_vars = tmp_path / "vars.yml"
    inventory_vars.write_text(yaml.safe_dump({"all": {"vars": {
        "pymigrate_requirements": {"alpha": "==1.1"}, "pymigrate_venv_path": venv,
        "pymigrate_bundle_dir": str(tmp_path / "bundle"),
        "pymigrate_lock_dir": str(tmp_path / "lock"), "pymigrate_report_dir": str(tmp_path / "reports"),
        "pymigrate_serial": ["100%"], "pymigrate_index_url": local_index.url}}}))

    def play(playbook, *args):
        return ansible(["ansible-playbook", "-i", str(inventory_vars), playbook, "--limit", host] + list(args),
                       fleet.inventory)

    play("playbooks/migrate.yml")  # serial 1 (alpha 1.1), pushed and installed
    play("playbooks/migrate.yml", "-e", '{"pymigrate_requirements": {"alpha": "==2.0"}}')  # serial 2 (alpha 2.0)
    assert sorted(os.listdir(str(tmp_path / "bundle" / "manifests"))) == ["1.json", "2.json"]
    assert _alpha(fleet, host, venv) == "2.0"

    play("playbooks/rollout.yml", "-e", "pymigrate_bundle_serial=1", "--skip-tags", "pymigrate_push")
    assert _alpha(fleet, host, venv) == "1.1"  # serial 1's lock, from the store the earlier push filled
    # With the push of the same serial (the same slice), its answer spares the install a call: nothing changes.
    again = play("playbooks/rollout.yml", "-e", "pymigrate_bundle_serial=1")
    assert "changed: [" not in again.stdout, again.stdout[-3000:]
    assert _alpha(fleet, host, venv) == "1.1"
