"""Benchmark: which process of a `migrate.yml` run holds the most memory, and which task makes it grow per host.

    .venv/bin/python benchmarks/task_memory.py [--sizes 100,300] [--installer uv|pip] [--keep DIR] [--first]

Local hosts, no fleet, no root: N inventory hosts sim0001..simN with ansible_connection=local, each with its own
pymigrate_store_dir and pymigrate_venv_path under a work directory (so each is a target of its own, as in
benchmarks/fleet_scale.py), the synthetic index (tests/index) on loopback, the set alpha and netio.

A callback (written into the work directory, enabled for these runs only) logs at every task start and at the end
of the run: the main process's VmRSS and VmHWM (/proc/self/status) and resource.getrusage(RUSAGE_CHILDREN)
.ru_maxrss, the largest RSS of the workers reaped so far. A jump of the latter at a task means one of its workers
became the largest process; a run_once worker over every host (the bundle, the report) starts from the main
process's pages and adds its own per-host working set.

One first run over the largest size installs every host; then, per size (ascending), a no-op that settles that
size's bundle (each size has its own bundle directory) and the measured no-op. With --first, the first runs are
measured instead: per size, fresh hosts, bundle and report directory, one first run. Prints per size the measured rows,
then for each pair of consecutive sizes the per-host slope (KB per added host) of the main process's RSS at each
task start and of the workers' largest RSS, and which process peaked. The figures are the probe's, not
fleet_scale's: local hosts have a smaller inventory and no SSH, so the main process grows less per host there.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

BIN = os.path.join(ROOT, ".venv", "bin")

CALLBACK = '''
import json, os, resource, time
from ansible.plugins.callback import CallbackBase


def _status():
    out = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_memory"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.rows = []
        self.start = time.perf_counter()

    def _row(self, name):
        status = _status()
        self.rows.append({"task": name, "t": round(time.perf_counter() - self.start, 2), "rss_kb": status["VmRSS"],
                          "hwm_kb": status["VmHWM"],
                          "workers_max_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._row(task.get_name())

    def v2_playbook_on_stats(self, stats):
        self._row("(end of run)")
        with open(os.environ["TASK_MEMORY_OUT"], "w") as handle:
            json.dump(self.rows, handle)
'''


def inventory(work, size, common, hosts_dir=None):
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    hosts = {}
    for number in range(1, size + 1):
        name = "sim%04d" % number
        hosts[name] = {"ansible_connection": "local", "ansible_python_interpreter": python,
                       "pymigrate_store_dir": os.path.join(hosts_dir or work, "hosts", name, "store"),
                       "pymigrate_venv_path": os.path.join(hosts_dir or work, "hosts", name, "venv")}
    path = os.path.join(hosts_dir or work, "inventory-%d.json" % size)
    variables = dict(common, pymigrate_bundle_dir=os.path.join(work, "bundle-%d" % size))
    with open(path, "w") as handle:
        json.dump({"all": {"vars": variables, "children": {"sim": {"hosts": hosts}}}}, handle)
    return path


def run(work, path, label):
    out = os.path.join(work, "%s.json" % label)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), PIP_CONFIG_FILE=os.devnull,
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(work, "callbacks"), ANSIBLE_CALLBACKS_ENABLED="task_memory",
               TASK_MEMORY_OUT=out)
    result = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", path, "playbooks/migrate.yml",
                             "-e", '{"pymigrate_serial": ["100%"]}'], cwd=ROOT, env=env, check=False,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode:
        raise SystemExit("%s failed:\n%s" % (label, result.stdout[-4000:]))
    with open(out) as handle:
        return json.load(handle)


def slopes(low, high, low_size, high_size):
    span = high_size - low_size
    return [{"task": a["task"], "main_kb_per_host": round((b["rss_kb"] - a["rss_kb"]) / span, 1),
             "workers_max_kb_per_host": round((b["workers_max_kb"] - a["workers_max_kb"]) / span, 1)}
            for a, b in zip(low, high) if a["task"] == b["task"]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="100,300")
    parser.add_argument("--installer", choices=("uv", "pip"), default="uv")
    parser.add_argument("--keep", metavar="DIR", help="work directory to use and keep (default: a temporary one)")
    parser.add_argument("--first", action="store_true",
                        help="measure first runs instead: per size, fresh hosts and bundle, one first run")
    args = parser.parse_args()
    from tests.index import catalog
    from tests.index.server import IndexServer

    sizes = sorted(int(n) for n in args.sizes.split(","))
    work = os.path.abspath(args.keep) if args.keep else tempfile.mkdtemp(prefix="pymigrate-task-memory-")
    os.makedirs(os.path.join(work, "callbacks"), exist_ok=True)
    with open(os.path.join(work, "callbacks", "task_memory.py"), "w") as handle:
        handle.write(CALLBACK)
    index_dir = catalog.build(os.path.join(work, "index"))
    if args.installer == "uv" and not catalog.add_wheel_files(index_dir, os.path.join(ROOT, "build", "wheelhouse"),
                                                              names=("uv",)):
        raise SystemExit("no uv wheel in build/wheelhouse: run `make dev`, or pass --installer pip")
    server = IndexServer(index_dir)  # one server, one URL: a bundle stays the same from one run to the next
    common = {"pymigrate_index_url": server.url, "pymigrate_requirements": ["alpha", "netio"],
              "pymigrate_installer": args.installer, "pymigrate_report_dir": os.path.join(work, "report")}
    measured = {}
    try:
        for size in sizes if args.first else ():
            hosts_dir = os.path.join(work, "first-%d" % size)
            os.makedirs(hosts_dir, exist_ok=True)
            measured[size] = run(work, inventory(work, size, dict(common, pymigrate_report_dir=os.path.join(
                hosts_dir, "report")), hosts_dir), "first-%d" % size)
        if not args.first:
            run(work, inventory(work, sizes[-1], common), "first-%d" % sizes[-1])
        for size in sizes if not args.first else ():
            path = inventory(work, size, common)
            run(work, path, "settle-%d" % size)
            measured[size] = run(work, path, "noop-%d" % size)
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    for size, rows in measured.items():
        end = rows[-1]
        peak = "main process" if end["hwm_kb"] >= end["workers_max_kb"] else "a worker"
        print(json.dumps({"hosts": size, "main_peak_kb": end["hwm_kb"], "workers_max_kb": end["workers_max_kb"],
                          "peak": peak, "maxrss_kb": max(end["hwm_kb"], end["workers_max_kb"])}), flush=True)
    for low, high in zip(sizes, sizes[1:]):
        print(json.dumps({"from": low, "to": high, "tasks": slopes(measured[low], measured[high], low, high)}))
    print(json.dumps({"results": measured}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
