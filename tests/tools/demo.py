"""`make demo`: the main job on an embedded default.

Brings up a demo fleet of air-gapped network-namespace hosts, surveys them with
airgap.pymigrate.target_facts, prints what decides which wheels fit each host, and takes the fleet
down again (DEMO_KEEP=1 keeps it up).
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".venv", "bin")
FLEET = os.path.join(ROOT, "tests", "fleet", "fleet")
NAME = os.environ.get("DEMO_FLEET_NAME", "pmdemo")
OUT = os.path.join(ROOT, "build", "demo")


def run(argv, **kwargs):
    print("+ " + " ".join(argv), file=sys.stderr, flush=True)
    return subprocess.run(argv, cwd=ROOT, check=True, **kwargs)


def main():
    if os.geteuid() != 0:
        sys.exit("make demo needs root: its hosts are Linux network namespaces with their own sshd. "
                 "Run it as root (CI does).")
    os.makedirs(OUT, exist_ok=True)
    inventory = run([FLEET, "up", "--name", NAME, "--hosts", "3", "--bare", NAME + "-h3"],
                    stdout=subprocess.PIPE, text=True).stdout.strip()
    try:
        survey = os.path.join(OUT, "survey.json")
        run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, "playbooks/survey.yml",
             "-e", "pymigrate_survey_file=" + survey])
        with open(survey) as handle:
            hosts = json.load(handle)["hosts"]
        print("\nSurveyed %d air-gapped hosts (%s):" % (len(hosts), survey))
        print("%-12s %-8s %-10s %-14s %-6s %s" % ("host", "python", "abi", "libc", "pip", "best wheel tag"))
        for host, facts in sorted(hosts.items()):
            python, platform = facts["python"], facts["platform"]
            print("%-12s %-8s %-10s %-14s %-6s %s" % (
                host, python["version"], ",".join(python["abi_tags"][:1]),
                "%s %s" % (platform["libc"], platform["libc_version"]),
                "yes" if facts["tooling"]["pip"] else "no", facts["tags"][0]))
    finally:
        if os.environ.get("DEMO_KEEP") != "1":
            run([FLEET, "down", "--name", NAME])
        else:
            print("Fleet kept up; inventory: %s; take it down with: %s down --name %s" % (inventory, FLEET, NAME))


if __name__ == "__main__":
    main()
