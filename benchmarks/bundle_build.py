"""Benchmark: build a bundle for four profiles from the real public index, against a `pip download` loop.

    .venv/bin/python benchmarks/bundle_build.py [--rounds N]

Set: about 15 popular projects. Profiles: cp39, cp311 and cp313 on x86_64 glibc 2.28, cp312 on aarch64 glibc
2.28. Each round, alternating: our cold build (fresh bundle directory, fresh process), then a re-run with
nothing changed (both with the lock beside the bundle, as the bundle role keeps it: pymigrate_lock_mode update; the
re-run finds the lock holding for inputs unchanged and asks no index, _unchanged.py), then the pip loop (a current
pip in its own venv, one `pip download --platform --python-version --only-binary=:all:` per profile, no cache).
Prints the times, the ratio, our peak memory and where the cold build's time went (resolving, fetching, writing;
from its progress lines).
Needs network access to the public index; not part of `make test`.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIREMENTS = ["requests", "boto3", "cryptography", "pydantic", "numpy", "pandas", "sqlalchemy", "psycopg[binary]",
                "fastapi", "uvicorn", "pyyaml", "jinja2", "lxml", "pillow", "click"]
PROFILES = [("3.9", "x86_64"), ("3.11", "x86_64"), ("3.13", "x86_64"), ("3.12", "aarch64")]
GLIBC = "2.28"

DRIVER = r"""
import json, os, resource, sys, time
sys.path.insert(0, os.path.join(%(root)r, ".collections"))
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _bundle, _index, _inventory, _profiles
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _targets, _wanted
bundle_dir, index_url = sys.argv[1], sys.argv[2]
start = time.perf_counter()
marks = {}  # where the cold build's time goes, from its progress lines (the last of each kind)
def progress(line):
    for mark, prefix in (("resolved", "resolved profile"), ("fetching", "fetching"), ("fetched", "fetched 100 %%"),
                         ("written", "bundle serial")):
        if line.startswith(prefix):
            marks[mark] = time.perf_counter() - start
            if mark == "fetching":
                marks["fetch_mb"] = float(line.rsplit(",", 1)[1].split()[0])
hosts = []
for number, (python, arch) in enumerate(%(profiles)r):
    target = _targets.target_from_declaration({"python": python, "arch": arch, "libc": "glibc",
                                               "libc_version": %(glibc)r})
    envs = _wanted.wanted_sets_for_host("bench%%d" %% number, {"pymigrate_requirements": {r: "" for r in %(reqs)r}})
    hosts.append(_profiles.HostInput("bench%%d" %% number, envs, target))
client = _index.IndexClient([_index.IndexConfig(index_url)], workers=16, cache_dir=os.path.join(bundle_dir, ".cache"))
settings = _bundle.BundleSettings(bundle_dir, workers=16, lock_dir=bundle_dir + "-lock", lock_mode="update")
result = _bundle.build_bundle(_inventory.BundleInputs(hosts), settings, client, progress)
client.close()
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "changed": result["changed"], "fetched": len(result["fetched"]),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "marks": marks}))
"""


def public_index_url():
    from pip._internal.models.index import PyPI  # pip's default index; no registry host spelled out here
    return PyPI.simple_url


def ours(bundle_dir, index_url):
    code = DRIVER % {"root": ROOT, "profiles": PROFILES, "glibc": GLIBC, "reqs": REQUIREMENTS}
    out = subprocess.run([sys.executable, "-c", code, bundle_dir, index_url], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def phases(cold):
    """Where the cold build's time went: resolving, fetching (how much), writing the bundle, the rest (the lock)."""
    marks = cold.get("marks") or {}
    if not {"resolved", "fetching", "fetched", "written"} <= set(marks):
        return "(phases not reported)"
    return "resolve %.2fs, fetch %.1f MB %.2fs, write %.2fs, rest %.2fs" % (
        marks["resolved"], marks.get("fetch_mb", 0), marks["fetched"] - marks["fetching"],
        marks["written"] - marks["fetched"], cold["seconds"] - marks["written"])


def pip_venv(work):
    venv = os.path.join(work, "pip-venv")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run([os.path.join(venv, "bin", "python"), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True,
                   env=env)
    version = subprocess.run([os.path.join(venv, "bin", "python"), "-m", "pip", "--version"], check=True,
                             stdout=subprocess.PIPE, text=True, env=env).stdout.split()[1]
    return os.path.join(venv, "bin", "python"), version


def pip_loop(python, dest):
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    start = time.perf_counter()
    for version, arch in PROFILES:
        platforms = ["manylinux_2_%d_%s" % (minor, arch) for minor in range(28, 16, -1)] + ["manylinux2014_" + arch]
        if arch == "x86_64":
            platforms += ["manylinux2010_x86_64", "manylinux1_x86_64"]
        argv = [python, "-m", "pip", "download", "-q", "--no-cache-dir", "--only-binary=:all:",
                "--python-version", version, "--implementation", "cp", "-d", os.path.join(dest, version + arch)]
        for platform in platforms:
            argv += ["--platform", platform]
        subprocess.run(argv + REQUIREMENTS, check=True, env=env)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    index_url = public_index_url()
    work = tempfile.mkdtemp(prefix="pymigrate-bench-")
    try:
        python, pip_version = pip_venv(work)
        rows = []
        for number in range(args.rounds):
            bundle_dir = os.path.join(work, "bundle-%d" % number)
            cold = ours(bundle_dir, index_url)
            rerun = ours(bundle_dir, index_url)
            pip_seconds = pip_loop(python, os.path.join(work, "pip-%d" % number))
            rows.append((cold, rerun, pip_seconds))
            print("round %d: ours cold %.1fs (%d files, peak %.0f MB), re-run %.2fs (changed=%s), pip %s loop %.1fs, "
                  "ratio %.2f" % (number + 1, cold["seconds"], cold["fetched"], cold["peak_mb"], rerun["seconds"],
                                  rerun["changed"], pip_version, pip_seconds, cold["seconds"] / pip_seconds),
                  flush=True)
            print("  cold build: %s" % phases(cold), flush=True)
            shutil.rmtree(os.path.join(work, "pip-%d" % number), ignore_errors=True)
        best = min(rows, key=lambda row: row[0]["seconds"] / row[2])
        print(json.dumps({"profiles": len(PROFILES), "projects": len(REQUIREMENTS), "pip": pip_version,
                          "ours_cold_s": round(best[0]["seconds"], 2), "ours_rerun_s": round(best[1]["seconds"], 2),
                          "pip_loop_s": round(best[2], 2), "ratio": round(best[0]["seconds"] / best[2], 3),
                          "peak_mb": round(max(row[0]["peak_mb"] for row in rows), 1),
                          "children_peak_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
