"""Benchmark: roll a real bundle out to 4 and 8 air-gapped fleet hosts, against the plain playbook users write.

    .venv/bin/python benchmarks/fleet_migrate.py [--sizes 4,8]

The bundle: the bundle benchmark's set for the fleet's two profiles (Python 3.11 and 3.12), built once from the
public index (network needed for that step only). Then, on the same hosts, alternating:
- ours: playbooks/rollout.yml (push, install) - first run, then a no-op re-run;
- plain: ansible.builtin.copy of the profile's wheel directory plus pip with --no-index --find-links into a
  venv (the venv's pip through ansible.builtin.command: ansible.builtin.pip needs packaging importable by
  the host's Python, which these hosts lack) - first run, then its re-run.
Prints the times, the ratios and the bytes our re-run sent. Needs root (the fleet).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from bundle_build import REQUIREMENTS, public_index_url  # noqa: E402  pylint: disable=wrong-import-position

from tests.fleet import fleetlib  # noqa: E402  pylint: disable=wrong-import-position

PLAIN = """
- name: Plain offline install (what users do today)
  hosts: fleet
  gather_facts: false
  tasks:
    - name: Copy the wheel directory
      ansible.builtin.copy:
        src: "{{ wheel_root }}/{{ fleet_python_version }}/"
        dest: /opt/plain-wheels/
        mode: "0644"
    # ansible.builtin.pip needs packaging importable by the host's Python, which a bare server Python lacks,
    # so the venv's own pip is called the way users then fall back to.
    - name: Create the virtual environment
      ansible.builtin.command: "{{ ansible_python_interpreter }} -m venv /opt/plain/venv"
      args:
        creates: /opt/plain/venv/bin/pip
    - name: Install with pip from the copied directory
      ansible.builtin.command: >-
        /opt/plain/venv/bin/pip install --no-index --find-links /opt/plain-wheels {{ requirements | join(' ') }}
      register: plain_pip
      changed_when: "'Successfully installed' in plain_pip.stdout"
"""


def playbook(inventory, extra_inventory, path, *extra, checkout=ROOT):
    """(seconds, output) of one ansible-playbook run of ``checkout``'s playbook (another revision's for baselines)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(checkout, "ansible.cfg"), PIP_CONFIG_FILE=os.devnull)
    start = time.perf_counter()
    result = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", inventory, "-i",
                             extra_inventory, path] + list(extra), cwd=checkout, env=env, check=False,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise SystemExit("%s failed:\n%s" % (path, result.stdout[-3000:]))
    return time.perf_counter() - start, result.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="4,8")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="pymigrate-fleet-bench-")
    rows = []
    for size in [int(n) for n in args.sizes.split(",")]:
        name = "pmb"
        inventory = fleetlib.up(name, size, tmpfs_size="3G", pythons=["3.11", "3.12"])
        try:
            extra = os.path.join(work, "vars-%d.yml" % size)
            bundle_dir = os.path.join(work, "bundle")
            with open(extra, "w") as handle:
                json.dump({"all": {"vars": {
                    "pymigrate_index_url": public_index_url(), "pymigrate_bundle_dir": bundle_dir,
                    "pymigrate_report_dir": os.path.join(work, "report"),
                    "pymigrate_requirements": {r: "" for r in REQUIREMENTS},
                    "requirements": REQUIREMENTS, "wheel_root": os.path.join(work, "wheels")}}}, handle)
            playbook(inventory, extra, "playbooks/bundle.yml")  # once, outside the timing (network)
            with open(os.path.join(bundle_dir, "manifest.json")) as handle:
                manifest = json.load(handle)
            for profile in manifest["profiles"].values():
                version = profile["target"]["python"].rsplit(".", 1)[0]
                target = os.path.join(work, "wheels", version)
                os.makedirs(target, exist_ok=True)
                for relpath in profile["files"]:
                    link = os.path.join(target, relpath.rsplit("/", 1)[1])
                    if not os.path.exists(link):
                        os.link(os.path.join(bundle_dir, relpath), link)
            plain_path = os.path.join(work, "plain.yml")
            with open(plain_path, "w") as handle:
                handle.write(PLAIN)
            one_batch = ["-e", '{"pymigrate_serial": ["100%"]}']  # like the plain playbook: all hosts at once
            ours_first, _out = playbook(inventory, extra, "playbooks/rollout.yml", *one_batch)
            ours_again, _out = playbook(inventory, extra, "playbooks/rollout.yml", *one_batch)
            with open(os.path.join(work, "report", "summary.json")) as handle:
                sent = sum(item["bytes_sent"] for item in json.load(handle)["hosts"])
            plain_first, _out = playbook(inventory, extra, plain_path)
            plain_again, _out = playbook(inventory, extra, plain_path)
            row = {"hosts": size, "ours_first_s": round(ours_first, 1), "plain_first_s": round(plain_first, 1),
                   "first_ratio": round(ours_first / plain_first, 3), "ours_rerun_s": round(ours_again, 1),
                   "plain_rerun_s": round(plain_again, 1), "rerun_ratio": round(ours_again / plain_again, 3),
                   "rerun_bytes_sent": sent}
            rows.append(row)
            print(json.dumps(row), flush=True)
        finally:
            fleetlib.down(name)
    print(json.dumps({"results": rows}))


if __name__ == "__main__":
    main()
