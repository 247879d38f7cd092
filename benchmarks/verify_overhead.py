"""Benchmark: what installed-state verification adds to a no-op re-run on the fleet.

    .venv/bin/python benchmarks/verify_overhead.py [--hosts 4] [--rounds 3] [--baseline-rev REV]

The bundle benchmark's real projects (numpy, pandas, ... about 80 MB per profile, thousands of installed files)
are built once from the public index (network for that step only) and rolled out to a fleet of Python 3.11 and
3.12 hosts. Then, alternating, each a no-op re-run of playbooks/rollout.yml on the same hosts and bundle:
- ours with pymigrate_verify_installed=size (the default: interpreter runs, distributions, every RECORD file's size);
- ours with pymigrate_verify_installed=full (every RECORD file's sha256 as well: scheduled audits);
- the baseline: the same playbook of --baseline-rev (default: the commit before installed-state verification), run
  from a git worktree of that revision, which checks only the lock id and the distribution names.
Prints the median times and the ratios size/baseline and full/baseline. Needs root (the fleet).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from bundle_build import REQUIREMENTS, public_index_url  # noqa: E402  pylint: disable=wrong-import-position
from fleet_migrate import playbook  # noqa: E402  pylint: disable=wrong-import-position

from tests.fleet import fleetlib  # noqa: E402  pylint: disable=wrong-import-position

BASELINE_REV = "cb7b645"  # the restructure, before installed-state verification


def baseline_checkout(work, rev):
    checkout = os.path.join(work, "baseline")
    subprocess.run(["git", "worktree", "add", "--detach", checkout, rev], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.makedirs(os.path.join(checkout, ".collections", "ansible_collections", "airgap"))
    os.symlink(checkout, os.path.join(checkout, ".collections", "ansible_collections", "airgap", "pymigrate"))
    return checkout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-rev", default=BASELINE_REV)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="pymigrate-verify-bench-")
    baseline = baseline_checkout(work, args.baseline_rev)
    inventory = fleetlib.up("pmv", args.hosts, tmpfs_size="3G", pythons=["3.11", "3.12"])
    try:
        extra = os.path.join(work, "vars.yml")
        with open(extra, "w") as handle:
            json.dump({"all": {"vars": {
                "pymigrate_index_url": public_index_url(), "pymigrate_bundle_dir": os.path.join(work, "bundle"),
                "pymigrate_report_dir": os.path.join(work, "report"),
                "pymigrate_requirements": {r: "" for r in REQUIREMENTS}, "pymigrate_serial": ["100%"]}}}, handle)
        playbook(inventory, extra, "playbooks/bundle.yml")  # once, outside the timing (network)
        first, _out = playbook(inventory, extra, "playbooks/rollout.yml")
        with open(os.path.join(work, "report", "summary.json")) as handle:
            files = sum(1 for env in json.load(handle)["environments"] for _name in env["packages"])
        times = {"size": [], "full": [], "baseline": []}
        for _round in range(args.rounds):
            for kind in times:
                checkout = baseline if kind == "baseline" else ROOT
                options = [] if kind == "baseline" else ["-e", "pymigrate_verify_installed=%s" % kind]
                seconds, output = playbook(inventory, extra, "playbooks/rollout.yml", *options, checkout=checkout)
                if "changed=0" not in output.split("PLAY RECAP")[-1]:
                    raise SystemExit("the %s re-run was not a no-op:\n%s" % (kind, output[-3000:]))
                times[kind].append(seconds)
        medians = {kind: statistics.median(values) for kind, values in times.items()}
        print(json.dumps({"hosts": args.hosts, "first_s": round(first, 1), "distributions_verified": files,
                          "noop_size_s": round(medians["size"], 2), "noop_full_s": round(medians["full"], 2),
                          "noop_baseline_s": round(medians["baseline"], 2),
                          "size_over_baseline": round(medians["size"] / medians["baseline"], 3),
                          "full_over_baseline": round(medians["full"] / medians["baseline"], 3),
                          "rounds": args.rounds}), flush=True)
    finally:
        fleetlib.down("pmv")
        subprocess.run(["git", "worktree", "remove", "--force", baseline], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
