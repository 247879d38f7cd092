"""Benchmark: a bundle build whose lock already holds, against today's re-run and against the floor.

    .venv/bin/python benchmarks/lock_rerun.py [--rounds N] [--index-url URL]

Set and profiles as benchmarks/bundle_build.py (about 15 popular projects, four profiles). After one cold build that
writes the bundle and the lock, each round runs, in fresh processes and alternating:
- baseline: the re-run before the lock existed (``lock_mode: ignore``: every profile resolved again);
- ours: the re-run whose lock holds (``lock_mode: update``: pins taken from the lock, nothing resolved);
- floor: what any re-run must do at least - read and validate the lock and stat every file it names in the store.
- settled: the re-run whose lock holds and whose inputs are those of the bundle it built (``lock_mode: update`` again,
  the record the last build left: _unchanged.py): the index is not asked at all.
Prints each time, the medians and the ratios. The index is the public one unless --index-url names another, or
--local-catalog serves the test catalog on 127.0.0.1 (tests/index: small pure and platform wheels, no network; the
set then is its projects); not part of `make test`.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, ".collections"))
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _unchanged  # noqa: E402
from benchmarks.bundle_build import GLIBC, PROFILES, REQUIREMENTS, public_index_url  # noqa: E402
from tests.index import catalog  # noqa: E402
from tests.index.server import IndexServer  # noqa: E402

# The test catalog's projects that fit every profile (pure wheels, fastcore's abi3 wheels for both machines).
CATALOG_REQUIREMENTS = ["alpha", "netio", "crawler", "webkit", "fastcore", "modernlib", "shared"]
BUILD = r"""
import json, os, sys, time
sys.path.insert(0, os.path.join(%(root)r, ".collections"))
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _bundle, _index, _inventory, _profiles
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _targets, _wanted
bundle_dir, lock_dir, index_url, mode = sys.argv[1:5]
reqs = json.loads(sys.argv[5])
start = time.perf_counter()
hosts = []
for number, (python, arch) in enumerate(%(profiles)r):
    target = _targets.target_from_declaration({"python": python, "arch": arch, "libc": "glibc",
                                               "libc_version": %(glibc)r})
    envs = _wanted.wanted_sets_for_host("bench%%d" %% number, {"pymigrate_requirements": {r: "" for r in reqs}})
    hosts.append(_profiles.HostInput("bench%%d" %% number, envs, target))
client = _index.IndexClient([_index.IndexConfig(index_url)], workers=16, cache_dir=os.path.join(bundle_dir, ".cache"))
settings = _bundle.BundleSettings(bundle_dir, workers=16, lock_dir=lock_dir, lock_mode=mode)
result = _bundle.build_bundle(_inventory.BundleInputs(hosts), settings, client)
client.close()
print(json.dumps({"seconds": time.perf_counter() - start, "changed": result["changed"],
                  "held": len((result.get("lock") or {}).get("held") or [])}))
"""

FLOOR = r"""
import json, os, sys, time
sys.path.insert(0, os.path.join(%(root)r, ".collections"))
start = time.perf_counter()
from ansible_collections.airgap.pymigrate.plugins.module_utils._store import store_relpath
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _lockdir
bundle_dir, lock_dir = sys.argv[1:3]
locks = _lockdir.read(lock_dir)
present = sum(os.path.isfile(os.path.join(bundle_dir, store_relpath(package.sha256, package.filename)))
              for lock in locks.values() for package in list(lock.packages.values()) + [lock.installer])
print(json.dumps({"seconds": time.perf_counter() - start, "files": present}))
"""


def run(code, *args):
    out = subprocess.run([sys.executable, "-c", code] + list(args), check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--index-url", default=None)
    parser.add_argument("--local-catalog", action="store_true")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="pymigrate-lock-bench-")
    server = None
    if args.local_catalog:
        server = IndexServer(catalog.build(os.path.join(work, "index"), include_pip=True))
    index_url = server.url if server else args.index_url or public_index_url()
    requirements = CATALOG_REQUIREMENTS if server else REQUIREMENTS
    build = BUILD % {"root": ROOT, "profiles": PROFILES, "glibc": GLIBC}
    floor_code = FLOOR % {"root": ROOT}
    # Two bundles of the same set: one built as before the lock, one with it (each mode's re-run leaves its own as
    # it is).
    plain, locked, lock_dir = (os.path.join(work, name) for name in ("bundle-plain", "bundle-locked", "lock"))
    try:
        for bundle_dir, mode in ((plain, "ignore"), (locked, "update")):
            cold = run(build, bundle_dir, lock_dir, index_url, mode, json.dumps(requirements))
            print("cold build (lock mode %s): %.1fs" % (mode, cold["seconds"]), flush=True)
        times: dict = {"baseline": [], "ours": [], "settled": [], "floor": []}
        for number in range(args.rounds):
            baseline = run(build, plain, lock_dir, index_url, "ignore", json.dumps(requirements))
            os.unlink(os.path.join(locked, _unchanged.RECORD))  # the build whose lock holds, without the record
            ours = run(build, locked, lock_dir, index_url, "update", json.dumps(requirements))
            settled = run(build, locked, lock_dir, index_url, "update", json.dumps(requirements))
            floor = run(floor_code, locked, lock_dir)
            for row in (ours, settled):
                assert not row["changed"] and row["held"] == len(PROFILES), row
            assert not baseline["changed"], baseline
            for name, row in (("baseline", baseline), ("ours", ours), ("settled", settled), ("floor", floor)):
                times[name].append(row["seconds"])
            print("round %d: today's re-run %.2fs, lock holds %.2fs, settled %.3fs, floor %.3fs"
                  % (number + 1, baseline["seconds"], ours["seconds"], settled["seconds"], floor["seconds"]),
                  flush=True)
        medians = {name: statistics.median(values) for name, values in times.items()}
        print(json.dumps({"profiles": len(PROFILES), "projects": len(requirements), "index": "local catalog" if server
                          else "as given", "rounds": args.rounds, "baseline_rerun_s": round(medians["baseline"], 3),
                          "lock_holds_s": round(medians["ours"], 3), "settled_s": round(medians["settled"], 3),
                          "floor_s": round(medians["floor"], 3),
                          "ours_over_baseline": round(medians["ours"] / medians["baseline"], 3),
                          "ours_over_floor": round(medians["ours"] / medians["floor"], 1)}))
    finally:
        if server:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
