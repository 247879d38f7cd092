"""`make demo`: the main job on an embedded default.

Brings up a demo fleet of air-gapped network-namespace hosts (Python 3.9, 3.11 and a 3.12 without pip),
serves the embedded synthetic package index on 127.0.0.1 (the hosts cannot reach it), runs
playbooks/migrate.yml (survey -> bundle -> push (verified by hash) -> install -> report), then runs it again to show
that nothing changes, and takes everything down (DEMO_KEEP=1 keeps the fleet up).
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tests.fleet import fleetlib  # noqa: E402  pylint: disable=wrong-import-position
from tests.index import catalog  # noqa: E402  pylint: disable=wrong-import-position
from tests.index.server import IndexServer  # noqa: E402  pylint: disable=wrong-import-position

BIN = os.path.join(ROOT, ".venv", "bin")
NAME = os.environ.get("DEMO_FLEET_NAME", "pmdemo")
OUT = os.path.join(ROOT, "build", "demo")
REQUIREMENTS = {"netio": "", "webkit[http]": "", "fastcore": "==1.0"}


def migrate(inventory, extra):
    argv = [os.path.join(BIN, "ansible-playbook"), "-i", inventory, "-i", extra, "playbooks/migrate.yml"]
    print("+ " + " ".join(argv), flush=True)
    result = subprocess.run(argv, cwd=ROOT, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg")))
    recap = result.stdout.split("PLAY RECAP", 1)[-1]
    print("PLAY RECAP" + recap, flush=True)
    if result.returncode != 0:
        print(result.stdout[-4000:])
        sys.exit("the demo migration failed (exit %d)" % result.returncode)
    return recap


def main():
    if os.geteuid() != 0:
        sys.exit("make demo needs root: its hosts are Linux network namespaces with their own sshd. "
                 "Run it as root (CI does).")
    os.makedirs(OUT, exist_ok=True)
    index_dir = catalog.build(os.path.join(OUT, "index"))
    index = IndexServer(index_dir)
    inventory = fleetlib.up(NAME, 3, bare=[NAME + "-h3"])
    try:
        extra = os.path.join(OUT, "demo-vars.yml")
        with open(extra, "w") as handle:
            json.dump({"all": {"vars": {
                "pymigrate_index_url": index.url, "pymigrate_requirements": REQUIREMENTS,
                "pymigrate_bundle_dir": os.path.join(OUT, "bundle"),
                "pymigrate_report_dir": os.path.join(OUT, "report"),
                "pymigrate_smoke_imports": ["netio", "webkit"]}}}, handle)
        print("\n== First run: survey, bundle, push, install\n", flush=True)
        migrate(inventory, extra)
        with open(os.path.join(OUT, "report", "summary.json")) as handle:
            summary = json.load(handle)
        print("Installed per host:")
        for item in summary["hosts"]:
            for env, info in item["environments"].items():
                packages = ", ".join("%s==%s" % p for p in sorted(info["packages"].items()))
                print("  %-10s %-8s %s" % (item["host"], env, packages))
        print("\n== Second run: nothing changed, so nothing is sent or installed\n", flush=True)
        recap = migrate(inventory, extra)
        hosts = [line for line in recap.splitlines() if line.startswith(NAME)]
        if not hosts or any("changed=0" not in line for line in hosts):
            sys.exit("the second run changed something: %s" % hosts)
        print("Second run: changed=0 on every host. Bundle: %s" % os.path.join(OUT, "bundle"))
    finally:
        index.stop()
        if os.environ.get("DEMO_KEEP") == "1":
            print("Fleet kept up; inventory: %s; take it down with: tests/fleet/fleet down --name %s"
                  % (inventory, NAME))
        else:
            fleetlib.down(NAME)


if __name__ == "__main__":
    main()
