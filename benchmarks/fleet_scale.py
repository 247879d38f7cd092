"""Benchmark: the controller's cost of a large inventory - 100, 200 and 500 hosts simulated over a few real ones.

    .venv/bin/python benchmarks/fleet_scale.py [--sizes 100,200,500] [--real-hosts 4] [--forks N]
                                               [--requirements alpha,netio] [--installer uv|pip] [--keep-state]

Needs root (the fleet: tests/fleet/fleetlib.py, name pms, Python 3.11 and 3.12 hosts).

Inventory: N hosts sim0001..simN spread round robin over --real-hosts fleet hosts. Each inventory host
carries its real host's connection variables as the fleet inventory sets them (ansible_host, ansible_user,
ansible_ssh_private_key_file, ansible_ssh_common_args, ansible_python_interpreter, ansible_remote_tmp,
ansible_become) and its own pymigrate_store_dir (/opt/sim/<host>/store) and pymigrate_venv_path
(/opt/sim/<host>/venv), so each is a separate target for the collection: surveyed, bundled, pushed,
installed and reported on its own. (Several inventory hosts with the same address, port and user share
ansible's SSH control master, so the connection set-up is the real hosts', not N's; the controller's
per-host work - templating, task queueing, results, the bundle's and the report's per-host entries - is N's.)

Packages: the synthetic test index (tests/index, the default catalog, with the bundled pip wheel) served
on 127.0.0.1 by tests/index/server.py; the default set, alpha and netio (pure wheels, with netio's
dependencies), keeps the first runs cheap, and so does the installer, uv by default (the real uv wheel that
`make dev` downloads into build/wheelhouse, served by the same index). No other network.

Per size, from clean hosts (/opt/sim/* removed on the real hosts) and a fresh bundle and report dir:
`ansible-playbook -i INVENTORY playbooks/migrate.yml` (all hosts in one batch) first run, then its no-op
re-run, then `ansible all -m ansible.builtin.ping` over the same inventory (the floor of a no-op: one module round
trip per host), all timed and printed; the no-op's and the ping's per-task tables (benchmarks/timing.py: where
their time goes, tasks the strategy starts once per host merged into one row) are printed too. Each command runs
under a fresh measuring child process
(this script with --measure), which
- takes the wall time around the run;
- after ansible-playbook exits, reads resource.getrusage(RUSAGE_CHILDREN).ru_maxrss: the peak RSS of the
  largest single process of that run (ansible-playbook itself or one of its forks, whichever peaked
  higher; in practice the main process), belonging to that run alone because the measuring process
  starts nothing else;
- also samples, every 0.25 s, the PSS of the whole process tree (ansible-playbook, its forks, their ssh
  clients) from /proc/<pid>/smaps_rollup, and reports its peak (shared pages counted once; a sampled
  figure, so a peak shorter than 0.25 s can be missed). Below --forks hosts it grows with the number of
  forks that run at once, so its slope means something only between sizes above --forks).

Prints one JSON row per size and run (seconds, seconds per host, peak RSS KB, tree peak PSS KB, recap
changed count), then for each pair of consecutive sizes the slopes (rss(N2) - rss(N1)) / (N2 - N1) KB per
host and (time(N2) - time(N1)) / (N2 - N1) seconds per host, and the flatness ratio: per-host time at the
largest size over per-host time at the smallest (1.0 = flat), for the first run, the no-op and the ping; and per
size the no-op's time over the ping's. Then
{"results": ...}. No timing is asserted.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timing  # noqa: E402 (benchmarks/timing.py, beside this file)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

NAME = "pms"
PYTHONS = ["3.11", "3.12"]
BIN = os.path.join(ROOT, ".venv", "bin")
CONNECTION_VARS = ("ansible_host", "ansible_port", "ansible_user", "ansible_ssh_private_key_file",
                   "ansible_ssh_common_args", "ansible_python_interpreter", "ansible_remote_tmp", "ansible_become",
                   "fleet_python_version")


def _tree(pid):
    """pid and all its descendants (from /proc/<pid>/task/*/children)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            for task in os.listdir("/proc/%d/task" % current):
                with open("/proc/%d/task/%s/children" % (current, task)) as handle:
                    todo.extend(int(child) for child in handle.read().split())
        except OSError:
            pass
    return pids


def _pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def measure(argv):
    """The --measure mode: run argv once, print {seconds, rc, maxrss_kb, tree_pss_peak_kb} as the last line."""
    peak = [0]
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=sys.stdout, stderr=subprocess.STDOUT)
    done = threading.Event()

    def sample():
        while not done.wait(0.25):
            peak[0] = max(peak[0], sum(_pss_kb(pid) for pid in _tree(process.pid)))
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rc = process.wait()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    sys.stdout.flush()
    print("\n" + json.dumps({"seconds": seconds, "rc": rc, "tree_pss_peak_kb": peak[0],
                             "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}), flush=True)
    return 0


def run_measured(argv, forks, timing_out=None):
    """Run argv under --measure; with ``timing_out``, the pymigrate_timing callback writes its per-task times there
    and the figures carry the table (benchmarks/timing.py)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), PIP_CONFIG_FILE=os.devnull)
    if forks:
        env["ANSIBLE_FORKS"] = str(forks)
    if timing_out:
        env = timing.env(env, timing_out)
    result = subprocess.run([sys.executable, os.path.abspath(__file__), "--measure", "--"] + argv, cwd=ROOT, env=env,
                            check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = result.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    if figures["rc"] != 0:
        raise SystemExit("%s failed:\n%s" % (" ".join(argv[:4]), "\n".join(lines[-60:])))
    recap = result.stdout.rsplit("PLAY RECAP", 1)[-1] if "PLAY RECAP" in result.stdout else ""
    figures["changed"] = sum(int(part.split("=")[1]) for part in recap.split() if part.startswith("changed="))
    if timing_out:
        figures["tasks"] = merged_rows(timing.table(timing.read(timing_out, time.time())))
    return figures


def merged_rows(rows):
    """The timing table with consecutive rows of one task merged (the strategy starts a meta task once per host)."""
    merged = []
    for row in rows:
        last = merged[-1] if merged else None
        if last is not None and last["name"] == row["name"] and last.get("play") == row.get("play"):
            last["wall"] += row["wall"]
            last["hosts"] = last.get("hosts", 0) + row.get("hosts", 0)
            last["starts"] += 1
            continue
        merged.append(dict(row, starts=1))
    return merged


def real_hosts(inventory):
    with open(inventory) as handle:
        hosts = yaml.safe_load(handle)["all"]["children"]["fleet"]["hosts"]
    return [(name, {key: value for key, value in hostvars.items() if key in CONNECTION_VARS})
            for name, hostvars in hosts.items()]


def sim_inventory(path, size, reals, common):
    hosts = {}
    for number in range(1, size + 1):
        name = "sim%04d" % number
        _real, connection = reals[(number - 1) % len(reals)]
        hosts[name] = dict(connection, pymigrate_store_dir="/opt/sim/%s/store" % name,
                           pymigrate_venv_path="/opt/sim/%s/venv" % name)
    with open(path, "w") as handle:
        yaml.safe_dump({"all": {"vars": common, "children": {"sim": {"hosts": hosts}}}}, handle)
    return path


def clean(reals):
    from tests.fleet import fleetlib
    for name, _vars in reals:
        subprocess.run(fleetlib.exec_argv(NAME, name, ["sh", "-c", "rm -rf /opt/sim /var/tmp/.ansible-tmp/*"]),
                       check=False)


def slopes(rows, run):
    chosen = [row for row in rows if row["run"] == run]
    out = []
    for low, high in zip(chosen, chosen[1:]):
        span = high["hosts"] - low["hosts"]
        out.append({"run": run, "from": low["hosts"], "to": high["hosts"],
                    "rss_kb_per_host": round((high["maxrss_kb"] - low["maxrss_kb"]) / span, 1),
                    "tree_pss_kb_per_host": round((high["tree_pss_peak_kb"] - low["tree_pss_peak_kb"]) / span, 1),
                    "seconds_per_added_host": round((high["seconds"] - low["seconds"]) / span, 3)})
    if len(chosen) > 1:
        out.append({"run": run, "per_host_time_ratio_%d_vs_%d" % (chosen[-1]["hosts"], chosen[0]["hosts"]):
                    round(chosen[-1]["seconds_per_host"] / chosen[0]["seconds_per_host"], 3)})
    return out


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--measure":
        return measure(sys.argv[3:] if sys.argv[2] == "--" else sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="100,200,500")
    parser.add_argument("--real-hosts", type=int, default=4)
    parser.add_argument("--forks", type=int, default=None, help="ANSIBLE_FORKS (default: ansible.cfg's)")
    parser.add_argument("--requirements", default="alpha,netio", help="comma-separated, from the synthetic index")
    parser.add_argument("--installer", choices=("uv", "pip"), default="uv",
                        help="pymigrate_installer of the runs (uv: the wheel `make dev` puts in build/wheelhouse is "
                             "served by the index; it makes the first runs of hundreds of hosts short)")
    parser.add_argument("--keep-state", action="store_true",
                        help="keep the hosts' stores and environments from one size to the next (sizes ascending: "
                             "sim0001.. are the same hosts), so that a size's first run installs only the hosts new "
                             "at that size; its no-op run is the same as without it")
    args = parser.parse_args()
    from tests.fleet import fleetlib
    from tests.index import catalog
    from tests.index.server import IndexServer

    sizes = [int(n) for n in args.sizes.split(",")]
    requirements = [item.strip() for item in args.requirements.split(",") if item.strip()]
    work = tempfile.mkdtemp(prefix="pymigrate-scale-bench-")
    index_dir = catalog.build(os.path.join(work, "index"))
    if args.installer == "uv":
        wheelhouse = os.path.join(ROOT, "build", "wheelhouse")
        if not catalog.add_wheel_files(index_dir, wheelhouse, names=("uv",)):
            raise SystemExit("no uv wheel in %s: run `make dev`, or pass --installer pip" % wheelhouse)
    server = IndexServer(index_dir)
    # Per simulated host: a store with the installer wheel (uv's is 17.6 MB, pip's 1.8 MB) and the set, and a small
    # venv; plus room for the installs that run at once (uv's binary, 40 MB, is unpacked for each build).
    per_real = -(-max(sizes) // args.real_hosts)
    per_host_mb = 20 if args.installer == "uv" else 8
    tmpfs = "%dM" % max(256, per_real * per_host_mb + (1024 if args.installer == "uv" else 0))
    rows = []
    try:
        inventory = fleetlib.up(NAME, args.real_hosts, tmpfs_size=tmpfs, pythons=PYTHONS)
        reals = real_hosts(inventory)
        for size in sizes:
            if not args.keep_state:
                clean(reals)
            base = os.path.join(work, "size-%d" % size)
            os.makedirs(base)
            common = {"pymigrate_index_url": server.url, "pymigrate_requirements": requirements,
                      "pymigrate_installer": args.installer,
                      "pymigrate_bundle_dir": os.path.join(base, "bundle"),
                      "pymigrate_report_dir": os.path.join(base, "report")}
            sim = sim_inventory(os.path.join(base, "inventory.yml"), size, reals, common)
            argv = [os.path.join(BIN, "ansible-playbook"), "-i", sim, "playbooks/migrate.yml",
                    "-e", '{"pymigrate_serial": ["100%"]}']
            ping = [os.path.join(BIN, "ansible"), "-i", sim, "all", "-m", "ansible.builtin.ping"]
            for run, command in (("first", argv), ("noop", argv), ("ping", ping)):
                figures = run_measured(command, args.forks,
                                       os.path.join(base, "timing-%s.json" % run) if run != "first" else None)
                if "tasks" in figures:
                    print(timing.format_table("%s, %d hosts" % (run, size), figures["tasks"]), flush=True)
                row = {"hosts": size, "real_hosts": args.real_hosts, "run": run,
                       "seconds": round(figures["seconds"], 2),
                       "seconds_per_host": round(figures["seconds"] / size, 4),
                       "maxrss_kb": figures["maxrss_kb"], "tree_pss_peak_kb": figures["tree_pss_peak_kb"],
                       "changed": figures["changed"]}
                rows.append(row)
                print(json.dumps(row), flush=True)
        clean(reals)
    finally:
        server.stop()
        fleetlib.down(NAME)
        shutil.rmtree(work, ignore_errors=True)
    slope_rows = slopes(rows, "first") + slopes(rows, "noop") + slopes(rows, "ping")
    for size in sizes:
        noop, ping = ([row for row in rows if row["hosts"] == size and row["run"] == run][0]
                      for run in ("noop", "ping"))
        slope_rows.append({"hosts": size, "noop_vs_ping": round(noop["seconds"] / ping["seconds"], 3)})
    for row in slope_rows:
        print(json.dumps(row), flush=True)
    print(json.dumps({"results": rows, "slopes": slope_rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
