"""`make demo`: the main job on an embedded default.

Brings up a demo fleet of air-gapped network-namespace hosts (Python 3.9, 3.11 and a 3.12 without pip),
serves the embedded synthetic package index on 127.0.0.1 (the hosts cannot reach it) and shows, with the real output
of each run: the first playbooks/migrate.yml (survey -> bundle -> push (verified by hash) -> install -> report, its
progress and the fleet summary), a `--check --diff` after a pin change, the change itself, the re-run with changed=0,
a rollback, and where to look (the report page, a state query). Takes everything down at the end.
DEMO_FLEET_NAME names the fleet (default pmdemo), DEMO_KEEP=1 keeps it up.
"""

import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tests.fleet import fleetlib  # noqa: E402  pylint: disable=wrong-import-position
from tests.index import catalog  # noqa: E402  pylint: disable=wrong-import-position
from tests.index.server import IndexServer  # noqa: E402  pylint: disable=wrong-import-position

BIN = os.path.join(ROOT, ".venv", "bin")
NAME = os.environ.get("DEMO_FLEET_NAME", "pmdemo")
OUT = os.path.join(ROOT, "build", "demo")
REQUIREMENTS = {"netio": "", "webkit[http]": "", "fastcore": "==1.0"}


def playbook(inventory, extra, name, *args):
    """Runs a playbook and prints its output as the operator sees it (task headers and ok lines of the per-host
    steps folded, everything the collection itself prints kept)."""
    argv = [os.path.join(BIN, "ansible-playbook"), "-i", inventory, "-i", extra, "playbooks/%s.yml" % name] + list(args)
    print("$ ansible-playbook -i inventory playbooks/%s.yml %s" % (name, " ".join(args)), flush=True)
    started = time.monotonic()
    result = subprocess.run(argv, cwd=ROOT, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1"))
    took = time.monotonic() - started
    shown = [line for line in result.stdout.splitlines()
             if line.strip() and not line.startswith(("ok: [", "skipping: [", "TASK [", "PLAY [", "included: "))
             and not set(line.strip()) <= {"*"}]
    print("\n".join(shown), flush=True)
    print("(%s took %.0f s)" % (name, took), flush=True)
    if result.returncode != 0:
        print(result.stdout[-4000:])
        sys.exit("the demo's %s failed (exit %d)" % (name, result.returncode))
    return result.stdout.split("PLAY RECAP", 1)[-1]


def write_vars(path, index, requirements):
    with open(path, "w") as handle:
        json.dump({"all": {"vars": {
            "pymigrate_index_url": index.url, "pymigrate_requirements": requirements,
            "pymigrate_bundle_dir": os.path.join(OUT, "bundle"), "pymigrate_lock_dir": os.path.join(OUT, "lock"),
            "pymigrate_report_dir": os.path.join(OUT, "report"), "pymigrate_serial": ["100%"],
            "pymigrate_smoke_imports": ["netio", "webkit"]}}}, handle)


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
        write_vars(extra, index, REQUIREMENTS)
        started = time.monotonic()
        print("\n== 1. First run: survey, bundle, push (each file verified by hash), install, report\n", flush=True)
        playbook(inventory, extra, "migrate")
        print("\n== 2. A pin changes (fastcore ==1.0 -> ==1.1): what would the run do? --check --diff\n", flush=True)
        write_vars(extra, index, dict(REQUIREMENTS, fastcore="==1.1"))
        playbook(inventory, extra, "migrate", "--check", "--diff")
        print("\n== 3. The change, then the same run again: nothing to send or install\n", flush=True)
        playbook(inventory, extra, "migrate")
        recap = playbook(inventory, extra, "migrate")
        hosts = [line for line in recap.splitlines() if line.startswith(NAME)]
        if not hosts or any("changed=0" not in line for line in hosts):
            sys.exit("the re-run changed something: %s" % hosts)
        print("\n== 4. Undo: every environment back to its previous generation (fastcore 1.0 again)\n", flush=True)
        playbook(inventory, extra, "rollback")
        print("\n== 5. Where to look\n", flush=True)
        query = "environments[].[host, environment, packages.fastcore]"
        playbook(inventory, extra, "state", "-e", "pymigrate_query='%s'" % query)
        report = os.path.join(OUT, "report")
        print("The run's page:         %s" % os.path.join(report, "latest", "report.html"))
        print("Every run, newest first: %s" % os.path.join(report, "index.html"))
        print("Per host:               %s" % os.path.join(report, "hosts", "<host>.html"))
        print("The fleet's state:      %s (docs/state-format.md)" % os.path.join(report, "state.json"))
        print("The lock to commit:     %s (docs/lock-format.md)" % os.path.join(OUT, "lock"))
        print("\nThe demo's playbooks took %.0f s." % (time.monotonic() - started))
    finally:
        index.stop()
        if os.environ.get("DEMO_KEEP") == "1":
            print("Fleet kept up; inventory: %s; take it down with: tests/fleet/fleet down --name %s"
                  % (inventory, NAME))
        else:
            fleetlib.down(NAME)


if __name__ == "__main__":
    main()
