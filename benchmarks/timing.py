"""Where an ansible command's wall time goes: run it with the pymigrate_timing callback, print a per-task table.

    env = timing.env(base_env, out_path)      # before the command; then read(out_path, exit_epoch)
    rows = timing.table(timing.read(out_path, exit_epoch))
    print(timing.format_table("migrate.yml no-op, 16 hosts", rows))

Rows: "startup" (the command's start to its first task: Python imports, inventory, playbook parsing, role
argument specs), one row per task (its wall time from its start to the next task's start; the hosts it ran
on; the mean and the longest per-host time from the worker's start to its result; ok/changed/skipped
counts), "exit" (the last task's end to the process's exit). The wall times add up to the command's.
"""

import json
import os
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def env(base, out_path):
    """base plus what enables the callback and names its output; the start epoch is taken now."""
    enabled = [name for name in base.get("ANSIBLE_CALLBACKS_ENABLED", "").split(",") if name]
    return dict(base, ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"),
                ANSIBLE_CALLBACKS_ENABLED=",".join(enabled + ["pymigrate_timing"]),
                ANSIBLE_LOAD_CALLBACK_PLUGINS="1", PYMIGRATE_TIMING_OUT=out_path,
                PYMIGRATE_TIMING_T0=repr(time.time()))


def read(out_path, exit_epoch):
    with open(out_path) as handle:
        data = json.load(handle)
    data["exit"] = exit_epoch
    return data


def table(data):
    """[{name, play, wall, hosts, mean, max, counts}] in run order, with startup and exit rows."""
    tasks = data["tasks"]
    first = tasks[0]["start"] if tasks else data["end"]
    rows = [{"name": "startup (imports, inventory, playbook, specs)", "wall": first - (data["t0"] or first)}]
    for task in tasks:
        times = list(task["hosts"].values())
        counts = {}
        for status in task["status"].values():
            counts[status] = counts.get(status, 0) + 1
        rows.append({"name": task["name"], "play": task["play"], "wall": (task["end"] or data["end"]) - task["start"],
                     "hosts": len(times), "mean": sum(times) / len(times) if times else 0.0,
                     "max": max(times) if times else 0.0, "counts": counts})
    rows.append({"name": "exit (stats, callbacks, process end)", "wall": data["exit"] - data["end"]})
    return rows


def format_table(title, rows, limit=60):
    total = sum(row["wall"] for row in rows)
    lines = ["%s: %.2f s" % (title, total),
             "  %7s %5s  %5s %7s %7s  %-22s %s" % ("wall s", "%", "hosts", "mean s", "max s", "ok/chg/skip", "task")]
    for row in rows:
        counts = row.get("counts") or {}
        status = "%d/%d/%d" % (counts.get("ok", 0), counts.get("changed", 0), counts.get("skipped", 0)) \
            if "counts" in row else ""
        lines.append("  %7.3f %5.1f  %5s %7s %7s  %-22s %s" % (
            row["wall"], 100 * row["wall"] / total if total else 0, row.get("hosts", ""),
            "%.3f" % row["mean"] if "mean" in row else "", "%.3f" % row["max"] if "max" in row else "",
            status, row["name"][:limit]))
    return "\n".join(lines)


def rows_json(rows):
    """The table as compact JSON-able rows (for the results file)."""
    return [{key: (round(value, 3) if isinstance(value, float) else value) for key, value in row.items()}
            for row in rows]
