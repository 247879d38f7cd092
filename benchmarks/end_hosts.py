"""Benchmark: what ending a settled batch costs the strategy, host by host (meta end_host) or in one step (end_batch).

    .venv/bin/python benchmarks/end_hosts.py [--sizes 100,1000]

The rollout ends the hosts the survey found settled before the push (roles/rollout/tasks/push.yml). Ansible's
linear strategy evaluates a `meta: end_host` once per host, and builds each host's variables with its play host
lists filtered by the hosts ended so far (a list): ending N hosts one by one costs about N x N^2 / 2 comparisons.
The probe isolates that: N inventory hosts that need no connection, one run_once task marking them all settled (as
the hold task does), then either the rollout's per-host end, its batch end, or no end at all (the floor: the
same play's other tasks). Prints the wall time of each, per size. No timing is asserted.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".venv", "bin")

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Mark every host settled, once (as the batch's hold task does)
      ansible.builtin.set_fact:
        settled: "{{ dict(ansible_play_hosts_all | product([true])) }}"
      run_once: true
      register: hold
    - name: End the batch in one step
      ansible.builtin.meta: end_batch
      when: mode == 'batch'
    - name: End each settled host
      ansible.builtin.meta: end_host
      when: mode == 'host' and (hold.ansible_facts.settled[inventory_hostname] | default(false))
    - name: A task no ended host reaches
      ansible.builtin.meta: noop
"""


def run(work, size, mode):
    inventory = os.path.join(work, "inventory-%d.json" % size)
    if not os.path.exists(inventory):
        hosts = {"h%04d" % number: {"ansible_connection": "local"} for number in range(size)}
        with open(inventory, "w") as handle:
            json.dump({"all": {"hosts": hosts}}, handle)
    start = time.perf_counter()
    subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, os.path.join(work, "play.yml"),
                    "-e", "mode=%s" % mode], check=True, stdout=subprocess.DEVNULL, cwd=work,
                   env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg")))
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="100,1000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pymigrate-end-hosts-") as work:
        with open(os.path.join(work, "play.yml"), "w") as handle:
            handle.write(PLAYBOOK)
        for size in (int(n) for n in args.sizes.split(",")):
            row = {"hosts": size}
            for mode in ("none", "host", "batch"):
                row[{"none": "no_end_s", "host": "end_host_each_s", "batch": "end_batch_s"}[mode]] = round(
                    run(work, size, mode), 2)
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
