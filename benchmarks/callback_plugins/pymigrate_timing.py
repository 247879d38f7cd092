"""Timing callback for the benchmarks: where a run's wall time goes, per task and per host.

Enabled by benchmarks/timing.py (ANSIBLE_CALLBACK_PLUGINS=benchmarks/callback_plugins, ANSIBLE_CALLBACKS_ENABLED
=pymigrate_timing, and ANSIBLE_LOAD_CALLBACK_PLUGINS=1 so that ad-hoc `ansible -m ping` reports too). It writes one
JSON file at PYMIGRATE_TIMING_OUT when the run ends:

    {"t0": epoch the benchmark started the command (PYMIGRATE_TIMING_T0), "loaded": epoch this plugin loaded,
     "playbook_start": epoch, "end": epoch of the stats,
     "tasks": [{"play", "name", "action", "start", "end", "hosts": {host: seconds from runner start to result},
                "status": {host: ok|changed|skipped|failed|unreachable}}]}

A task's end is the next task's start (or the play's end): the strategy's own cost between tasks is in it.
Nothing here changes a result; benchmark use only.
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: pymigrate_timing
    type: aggregate
    short_description: per-task, per-host wall times as JSON (benchmarks only)
    description: Writes the times to the file named by the PYMIGRATE_TIMING_OUT environment variable.
    requirements:
      - enabled in callbacks_enabled
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "pymigrate_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._out = os.environ.get("PYMIGRATE_TIMING_OUT")
        self._data = {"t0": float(os.environ.get("PYMIGRATE_TIMING_T0") or 0) or None, "loaded": time.time(),
                      "playbook_start": None, "end": None, "tasks": []}
        self._play = None
        self._current = None
        self._started = {}

    def _close(self, now):
        if self._current is not None and self._current["end"] is None:
            self._current["end"] = now
        self._current = None

    def _task(self, task, kind=""):
        now = time.time()
        self._close(now)
        self._current = {"play": self._play, "name": kind + (task.get_name() or task.action), "action": task.action,
                         "start": now, "end": None, "hosts": {}, "status": {}}
        self._data["tasks"].append(self._current)
        self._started = {}

    def v2_playbook_on_start(self, playbook):
        self._data["playbook_start"] = time.time()

    def v2_playbook_on_play_start(self, play):
        self._close(time.time())
        self._play = play.get_name()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task(task, "handler: ")

    def v2_runner_on_start(self, host, task):
        self._started[host.get_name()] = time.time()

    def _result(self, result, status):
        if self._current is None:  # ad-hoc: no task start event
            self._task(result._task)  # pylint: disable=protected-access
        host = result._host.get_name()  # pylint: disable=protected-access
        begun = self._started.get(host, self._current["start"])
        self._current["hosts"][host] = round(time.time() - begun, 4)
        if status == "ok" and result._result.get("changed"):  # pylint: disable=protected-access
            status = "changed"
        self._current["status"][host] = status

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        now = time.time()
        self._close(now)
        self._data["end"] = now
        if self._out:
            with open(self._out, "w") as handle:
                json.dump(self._data, handle)
