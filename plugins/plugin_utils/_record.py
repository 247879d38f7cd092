# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The migration record: every run's document kept as people read it, per run, per host and fleet-wide.

The one owner of the record's files in ``pymigrate_report_dir`` (docs/record-format.md)::

    <run id>/summary.json (or state.json), failed_hosts.retry, query.json   the run's document (_report.py)
    <run id>/report.html, <run id>/report.md                            the run's page and its Markdown twin
    summary.json, report.html, report.md, ...                           the newest run's files, again
    latest -> <run id>
    index.html, index.md                                                every run kept, newest first
    hosts/<host file>.html, .md                                         per host: what changed, when, by which run
    history.json                                                        what the index and host pages are made of

Pages are static and self-contained: no script, no external asset (a Content-Security-Policy forbids both), one
inline style sheet that also prints. Every text that comes from inventory, hosts or package metadata is escaped
(``_h`` for HTML, ``_md`` for Markdown): a host name or a package description never becomes markup.
``pymigrate_report_keep`` (a count of runs, or an age such as ``90d``) prunes the oldest run directories.
"""

from __future__ import annotations

import datetime
import hashlib
import html
import json
import os
import re
import shutil
import typing as t
import urllib.parse

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import FileLock, write_atomic
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _report
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

FORMAT = 1
HISTORY = "history.json"
INDEX = "index"
PAGE = "report"  # <run id>/report.html and report.md
HOSTS_DIR = "hosts"
LATEST = "latest"
LOCK = ".record.lock"
RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")
KEEP_AGE = re.compile(r"^(\d+)\s*([dw])$")
CHANGE_KINDS = ("added", "removed", "upgraded", "downgraded")
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:75em;padding:0 1em;color:#111;line-height:1.4}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #999;padding:.25em .6em;"
    "text-align:left;vertical-align:top}th{background:#eee}td.num{text-align:right}ul{margin:0;padding-left:1.2em}"
    ".changed{background:#fff4ce}.failed,.unreachable{background:#fde7e9}.held{background:#e6e6fa}"
    "code{font-family:ui-monospace,monospace;font-size:90%}nav{margin-bottom:1em}"
    "@media print{nav{display:none}a{color:inherit;text-decoration:none}body{margin:0;max-width:none}"
    "h2{page-break-after:avoid}tr{page-break-inside:avoid}}")
# No script may run and nothing may be fetched: the page reads the same from a file, a share, a print or an archive.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; form-action 'none'"


def _h(value: t.Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _md(value: t.Any) -> str:
    """Text for a Markdown cell or line: markup characters escaped, HTML's too (Markdown passes raw HTML on)."""
    text = html.escape("" if value is None else str(value), quote=False).replace("\n", " ")
    return re.sub(r"([\\`*_{}\[\]()#+!|~>-])", r"\\\1", text)


def host_file(host: str) -> str:
    """The file name (without extension) of a host's page: the name where it is plain, with a digest otherwise so
    that two names never share one and none leaves the hosts directory."""
    plain = re.sub(r"[^A-Za-z0-9_.-]", "_", host).lstrip(".") or "_"
    if plain == host:
        return host
    return "%s-%s" % (plain[:60], hashlib.sha256(host.encode("utf-8")).hexdigest()[:10])


def _href(*parts: str) -> str:
    return "/".join(urllib.parse.quote(part) for part in parts)


# -- what a run changed, as text ------------------------------------------------------------------------------
def env_changes(info: t.Mapping, mode: str) -> list:
    """The changes of one environment, a line each: ``upgraded alpha 1.0 -> 1.1`` (in the run's words)."""
    if "from" in info:
        return [_report.rollback_text(info, mode)]
    if mode == "state":
        lines = _report.state_changes(info.get("changes") or {})
    else:
        words = _report.CHANGE_WORDS[mode]
        lines = ["%s %s" % (words[kind], item) for kind in CHANGE_KINDS
                 for item in (info.get("changes") or {}).get(kind) or []]
    if info.get("drift"):
        lines.append("drift: " + ", ".join(sorted({("%s %s" % (d.get("kind"), d.get("distribution") or "")).strip()
                                                   for d in info["drift"]})))
    if info.get("reason"):
        lines.append(info["reason"])
    return lines


def host_entry(item: t.Mapping, mode: str) -> dict:
    """What the history keeps of one host in one run: status, error or hold, and each environment's changes (of a
    read-only state report, only the drift it found: it changed nothing)."""
    changes = {name: env_changes(info, mode) for name, info in sorted((item.get("environments") or {}).items())}
    if mode == "state":
        changes = {name: [line for line in lines if line.startswith("drift: ")] for name, lines in changes.items()}
    held = item.get("held") or (("from now on " + item["hold_recorded"]) if item.get("hold_recorded") else None)
    return {"status": item["status"], "error": item.get("error"), "held": held,
            "changes": {name: lines for name, lines in changes.items() if lines}}


def history_entry(document: t.Mapping, document_name: str) -> dict:
    """One run of history.json: the run, its counts, and every host that did more than stay as it was."""
    run = document.get("run") or {}
    mode = _report.run_mode(run)
    hosts = {}
    for item in document.get("hosts") or []:
        entry = host_entry(item, mode)
        if entry["status"] != "ok" or entry["changes"]:
            hosts[item["host"]] = entry
    return {"id": run.get("id"), "playbook": run.get("playbook"), "document": document_name,
            "started": run.get("started"), "finished": run.get("finished"), "user": run.get("user"),
            "serial": run.get("serial"), "mode": mode, "counts": document.get("counts") or {},
            "host_count": len(document.get("hosts") or []), "hosts": hosts}


def glance(document: t.Mapping) -> list:
    """(label, number) of the fleet at a glance: hosts, each status, drifted and vulnerable hosts."""
    hosts = document.get("hosts") or []
    counts: dict = {}
    for item in hosts:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    drifted = {env["host"] for env in document.get("environments") or [] if env.get("drift")}
    vulnerable = {host for finding in document.get("vulnerabilities") or [] for host in finding.get("hosts") or []}
    rows = [("hosts", len(hosts))] + [(status, counts.get(status, 0))
                                      for status in ("ok", "changed", "failed", "unreachable", "held")]
    return rows + [("drifted", len(drifted)), ("vulnerable", len(vulnerable))]


def steps(document: t.Mapping) -> list:
    """(phase, hosts that passed it) in the order the run took them."""
    order = list((document.get("run") or {}).get("phases") or [])
    passed = {phase: 0 for phase in order}
    for item in document.get("hosts") or []:
        if item["status"] in ("ok", "changed") and item.get("phase") in order:
            for phase in order[:order.index(item["phase"]) + 1]:
                passed[phase] += 1
    return [(phase, passed[phase]) for phase in order]


# -- pages ----------------------------------------------------------------------------------------------------
def _page(title: str, body: t.Sequence[str], up: str) -> str:
    nav = '<nav><a href="%sindex.html">All runs</a></nav>' % up
    return "\n".join(['<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
                      '<meta http-equiv="Content-Security-Policy" content="%s">' % CSP,
                      '<meta name="viewport" content="width=device-width, initial-scale=1">',
                      '<title>%s</title>' % _h(title), '<style>%s</style>' % STYLE, '</head>', '<body>', nav]
                     + list(body) + ['</body>', '</html>', ''])


def _table(headers: t.Sequence[str], rows: t.Iterable[t.Sequence[str]], css: t.Sequence[str] = ()) -> str:
    """A table of cells already in HTML (escape what goes in); ``css`` gives each row a class."""
    out = ["<table><thead><tr>%s</tr></thead><tbody>" % "".join("<th>%s</th>" % _h(h) for h in headers)
           if headers else "<table><tbody>"]
    for number, row in enumerate(rows):
        klass = ' class="%s"' % _h(css[number]) if number < len(css) and css[number] else ""
        out.append("<tr%s>%s</tr>" % (klass, "".join("<td>%s</td>" % cell for cell in row)))
    return "".join(out) + "</tbody></table>"


def _list(lines: t.Sequence[str]) -> str:
    return "<ul>%s</ul>" % "".join("<li>%s</li>" % _h(line) for line in lines) if lines else "-"


def _run_facts(run: t.Mapping) -> list:
    """(label, value) of the run: who, when, what, the bundle serial and the mode."""
    mode = _report.run_mode(run)
    return [("Run", run.get("id")), ("Playbook", run.get("playbook")), ("Who", run.get("user") or "unknown"),
            ("Started", run.get("started") or "-"), ("Finished", run.get("finished")),
            ("Bundle serial", "-" if run.get("serial") is None else run.get("serial")),
            ("Mode", {"check": "check mode: nothing changed on any host", "state": "read-only state report",
                      "run": "changes made"}[mode]),
            ("Steps", ", ".join(run.get("phases") or []) or "-")]


def _lock_lines(run: t.Mapping) -> list:
    changes = run.get("lock_changes") or {}
    return ["%s: %s" % (member, "; ".join("%s %s" % (kind, ", ".join(values[kind]))
                                          for kind in CHANGE_KINDS if values.get(kind)))
            for member, values in sorted(changes.items()) if any(values.get(kind) for kind in CHANGE_KINDS)]


def _host_rows(document: t.Mapping, up: str) -> tuple:
    mode = _report.run_mode(document.get("run") or {})
    rows, css = [], []
    for item in document.get("hosts") or []:
        link = '<a href="%s%s">%s</a>' % (up, _href(HOSTS_DIR, host_file(item["host"]) + ".html"), _h(item["host"]))
        envs = sorted((item.get("environments") or {}).items())
        note = item.get("held") or item.get("error")
        if not envs or note:
            rows.append([link, _h(item["status"]), "-", "-", _h(note or "-")])
            css.append(item["status"])
        for name, info in envs if not note else ():
            generation = os.path.basename(info.get("generation") or "") or "-"
            rows.append([link, _h(item["status"]), _h(name), _h(generation), _list(env_changes(info, mode))])
            css.append(item["status"])
    return rows, css


def render_run_html(document: t.Mapping, up: str = "../") -> str:
    """The run's page; ``up`` leads from where it is written to the record's top (its index and host pages)."""
    run = document.get("run") or {}
    title = "pymigrate %s, run %s" % (run.get("playbook") or "run", run.get("id"))
    rows, css = _host_rows(document, up)
    failures = [item for item in document.get("hosts") or [] if item.get("error")]
    body = ["<h1>%s</h1>" % _h(title), "<h2>The run</h2>",
            _table([], [["<strong>%s</strong>" % _h(label), _h(value)] for label, value in _run_facts(run)]),
            "<h3>Lock changes</h3>", _list(_lock_lines(run)) if _lock_lines(run) else "<p>None in this run.</p>",
            "<h2>The fleet at a glance</h2>",
            _table([label for label, _n in glance(document)], [[str(n) for _l, n in glance(document)]]),
            "<h2>Per host and environment</h2>",
            _table(["Host", "Status", "Environment", "Generation", "What changed"], rows, css),
            "<h2>Steps taken</h2>", _table(["Step", "Hosts through it"], [[_h(p), str(n)] for p, n in steps(document)]),
            "<h2>Failures</h2>",
            _table(["Host", "Status", "Message"], [[_h(i["host"]), _h(i["status"]), _h(i["error"])] for i in failures])
            if failures else "<p>None.</p>"]
    return _page(title, body + _known_sections(document) + _files_section(document), up)


def _known_sections(document: t.Mapping) -> list:
    findings = document.get("vulnerabilities") or []
    vulns = _table(["Project", "Version", "Id", "Description", "Recommendation", "Hosts"],
                   [[_h(f.get("project")), _h(f.get("version")), _h(f.get("id")), _h(f.get("description")),
                     _h(f.get("recommendation")), _h(", ".join(f.get("hosts") or []))] for f in findings])
    packages = [[_h(name), _h(version), _h(text)] for name, versions in sorted((document.get("packages") or {}).items())
                for version, text in sorted(versions.items())]
    return ["<h2>Known vulnerabilities of what the hosts now hold</h2>",
            vulns if findings else "<p>None known to the bundle's SBOM.</p>",
            "<h2>Packages named above</h2>",
            _table(["Project", "Version", "Description"], packages) if packages else "<p>None.</p>"]


def _files_section(document: t.Mapping) -> list:
    name = (document.get("run") or {}).get("document") or "summary"
    return ["<h2>Files of this run</h2>",
            "<p><a href=\"%s.json\">%s.json</a> (the document), <a href=\"%s.md\">%s.md</a> (this page as "
            "Markdown), <a href=\"failed_hosts.retry\">failed_hosts.retry</a></p>" % (name, name, PAGE, PAGE)]


def render_run_markdown(document: t.Mapping) -> str:
    """The run's page as Markdown: the same sections, every value escaped."""
    run = document.get("run") or {}
    mode = _report.run_mode(run)
    lines = ["# pymigrate %s, run %s" % (_md(run.get("playbook") or "run"), _md(run.get("id"))), "", "## The run", ""]
    lines += ["- **%s:** %s" % (label, _md(value)) for label, value in _run_facts(run)]
    lines += ["- **Lock changes:** %s" % ("; ".join(_md(line) for line in _lock_lines(run)) or "none"), "",
              "## The fleet at a glance", "", "| %s |" % " | ".join(label for label, _n in glance(document)),
              "|%s" % ("---|" * len(glance(document))), "| %s |" % " | ".join(str(n) for _l, n in glance(document)),
              "", "## Per host and environment", "", "| Host | Status | Environment | What changed |",
              "|---|---|---|---|"]
    for item in document.get("hosts") or []:
        note = item.get("held") or item.get("error")
        envs = sorted((item.get("environments") or {}).items()) if not note else []
        for name, info in envs or [("-", None)]:
            text = "; ".join(env_changes(info, mode)) if info else note or "-"
            lines.append("| %s | %s | %s | %s |"
                         % (_md(item["host"]), _md(item["status"]), _md(name), _md(text or "-")))
    lines += ["", "## Steps taken", ""] + ["- %s: %d host(s) through it" % (_md(p), n) for p, n in steps(document)]
    failures = [item for item in document.get("hosts") or [] if item.get("error")]
    lines += ["", "## Failures", ""] + (["- %s (%s): %s" % (_md(i["host"]), _md(i["status"]), _md(i["error"]))
                                        for i in failures] or ["None."])
    lines += ["", "## Known vulnerabilities of what the hosts now hold", ""]
    lines += ["- %s %s: %s, %s (%s); hosts: %s" % (_md(f.get("project")), _md(f.get("version")), _md(f.get("id")),
                                                   _md(f.get("description")), _md(f.get("recommendation")),
                                                   _md(", ".join(f.get("hosts") or [])))
              for f in document.get("vulnerabilities") or []] or ["None known to the bundle's SBOM."]
    lines += ["", "## Packages named above", ""]
    lines += ["- %s %s: %s" % (_md(name), _md(version), _md(text))
              for name, versions in sorted((document.get("packages") or {}).items())
              for version, text in sorted(versions.items())] or ["None."]
    return "\n".join(lines) + "\n"


def render_index_html(history: t.Sequence[t.Mapping]) -> str:
    runs = sorted(history, key=lambda entry: (entry.get("finished") or "", entry.get("id") or ""), reverse=True)
    rows = [[_h(entry.get("finished")), '<a href="%s">%s</a>' % (_href(entry["id"], PAGE + ".html"), _h(entry["id"])),
             _h(entry.get("playbook")), _h(entry.get("mode")), _h(entry.get("user") or "-"),
             _h("-" if entry.get("serial") is None else entry["serial"]),
             _h(", ".join("%s=%s" % item for item in sorted((entry.get("counts") or {}).items())))] for entry in runs]
    hosts = sorted({host for entry in history for host in entry.get("hosts") or {}})
    links = ['<li><a href="%s">%s</a></li>' % (_href(HOSTS_DIR, host_file(host) + ".html"), _h(host)) for host in hosts]
    body = ["<h1>pymigrate: the migration record</h1>", "<h2>Runs, newest first</h2>",
            _table(["Finished", "Run", "Playbook", "Mode", "Who", "Serial", "Hosts"], rows) if rows else "<p>None.</p>",
            "<h2>Host histories</h2>", "<ul>%s</ul>" % "".join(links) if links else "<p>None yet.</p>"]
    return _page("pymigrate: the migration record", body, "")


def render_index_markdown(history: t.Sequence[t.Mapping]) -> str:
    runs = sorted(history, key=lambda entry: (entry.get("finished") or "", entry.get("id") or ""), reverse=True)
    lines = ["# pymigrate: the migration record", "", "## Runs, newest first", "",
             "| Finished | Run | Playbook | Mode | Who | Serial | Hosts |", "|---|---|---|---|---|---|---|"]
    lines += ["| %s | [%s](%s) | %s | %s | %s | %s | %s |" % (
        _md(e.get("finished")), _md(e["id"]), _href(e["id"], PAGE + ".md"), _md(e.get("playbook")), _md(e.get("mode")),
        _md(e.get("user") or "-"), _md("-" if e.get("serial") is None else e["serial"]),
        _md(", ".join("%s=%s" % item for item in sorted((e.get("counts") or {}).items())))) for e in runs]
    return "\n".join(lines) + "\n"


def host_history(host: str, history: t.Sequence[t.Mapping]) -> list:
    """(run entry, host entry) of every run that did more to ``host`` than leave it as it was, newest first."""
    runs = sorted(history, key=lambda entry: (entry.get("finished") or "", entry.get("id") or ""), reverse=True)
    return [(entry, entry["hosts"][host]) for entry in runs if host in (entry.get("hosts") or {})]


def _host_lines(item: t.Mapping) -> list:
    lines = ["%s: %s" % (env, line) for env, changes in sorted((item.get("changes") or {}).items()) for line in changes]
    return ([item["held"]] if item.get("held") else []) + ([item["error"]] if item.get("error") else []) + lines


def render_host_html(host: str, history: t.Sequence[t.Mapping]) -> str:
    entries = host_history(host, history)
    rows = [[_h(run.get("finished")), '<a href="../%s">%s</a>' % (_href(run["id"], PAGE + ".html"), _h(run["id"])),
             _h(run.get("playbook")), _h(item["status"]), _list(_host_lines(item))] for run, item in entries]
    title = "pymigrate: history of %s" % host
    body = ["<h1>%s</h1>" % _h(title), "<p>What changed on this host, when, and by which run, newest first (runs that "
            "left it as it was are not listed).</p>",
            _table(["When", "Run", "Playbook", "Status", "What changed"], rows, [i["status"] for _r, i in entries])
            if rows else "<p>No change recorded.</p>"]
    return _page(title, body, "../")


def render_host_markdown(host: str, history: t.Sequence[t.Mapping]) -> str:
    lines = ["# pymigrate: history of %s" % _md(host), "", "| When | Run | Playbook | Status | What changed |",
             "|---|---|---|---|---|"]
    lines += ["| %s | [%s](../%s) | %s | %s | %s |" % (
        _md(run.get("finished")), _md(run["id"]), _href(run["id"], PAGE + ".md"), _md(run.get("playbook")),
        _md(item["status"]), "; ".join(_md(line) for line in _host_lines(item)) or "-")
        for run, item in host_history(host, history)]
    return "\n".join(lines) + "\n"


# -- retention --------------------------------------------------------------------------------------------------
def keep_policy(value: t.Any) -> tuple:
    """``pymigrate_report_keep``: (``count``, n) for a number of runs, (``age``, timedelta) for ``<n>d`` or ``<n>w``,
    (None, None) to keep every run (0 or an empty value)."""
    if value is None or value == "" or value == 0 or value == "0":
        return None, None
    if isinstance(value, bool):
        raise PyMigrateError("a number of runs, or an age such as 90d or 12w", var="pymigrate_report_keep", value=value)
    text = str(value).strip().lower()
    if text.isdigit():
        return "count", int(text)
    match = KEEP_AGE.match(text)
    if not match:
        raise PyMigrateError("a number of runs, or an age such as 90d or 12w", var="pymigrate_report_keep", value=value)
    days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
    return "age", datetime.timedelta(days=days)


def pruned(history: t.Sequence[t.Mapping], keep: t.Any, now: datetime.datetime) -> tuple:
    """(runs kept, runs pruned): the newest ``count`` runs, or those finished within ``age`` of ``now``; the newest
    run is always kept."""
    kind, limit = keep_policy(keep)
    runs = sorted(history, key=lambda entry: (entry.get("finished") or "", entry.get("id") or ""), reverse=True)
    if kind == "count":
        kept = runs[:max(int(limit), 1)]
    elif kind == "age":
        cutoff = (now - limit).strftime("%Y-%m-%dT%H:%M:%SZ")
        kept = runs[:1] + [entry for entry in runs[1:] if (entry.get("finished") or "") >= cutoff]
    else:
        kept = runs
    ids = {entry["id"] for entry in kept}
    return list(reversed(kept)), [entry for entry in runs if entry["id"] not in ids]


# -- the files --------------------------------------------------------------------------------------------------
def read_history(dest: str) -> list:
    """The runs history.json holds; without it (a record from before it), the runs' own documents."""
    try:
        with open(os.path.join(dest, HISTORY), encoding="utf-8") as handle:
            return list(json.load(handle).get("runs") or [])
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        raise PyMigrateError("cannot read %s: %s" % (os.path.join(dest, HISTORY), exc), var="pymigrate_report_dir",
                             value=dest, hint="Move the damaged file away: it is made again from the runs kept")
    return _rebuilt_history(dest)


def _rebuilt_history(dest: str) -> list:
    runs = []
    for name in sorted(os.listdir(dest)) if os.path.isdir(dest) else []:
        for document_name in ("summary", "state"):
            path = os.path.join(dest, name, document_name + ".json")
            if RUN_ID.match(name) and os.path.isfile(path):
                try:
                    with open(path, encoding="utf-8") as handle:
                        entry = history_entry(json.load(handle), document_name)
                except (OSError, ValueError, KeyError, TypeError, AttributeError):
                    continue  # a damaged old run is left out of the index, not fatal
                if entry["id"] == name:
                    runs.append(entry)
    return runs


def _write_text(path: str, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))


def write(dest: str, document: t.Mapping, files: t.Mapping[str, str], keep: t.Any = None) -> dict:
    """Record one run: its files into ``<dest>/<run id>/`` and, as the newest, into ``<dest>``; ``latest``; the
    run's pages; history.json, the index and the pages of the hosts it touched; then the oldest runs pruned as
    ``keep`` says. One run at a time (a lock file in ``dest``). Returns the paths written."""
    run_id = document["run"]["id"]
    name = (document["run"].get("document") or "summary")
    try:
        os.makedirs(os.path.join(dest, run_id))
        with FileLock(os.path.join(dest, LOCK), 300, PyMigrateError):
            return _record(dest, document, dict(files, **_run_pages(document)), name, keep)
    except OSError as exc:
        raise PyMigrateError("cannot write the report into %s: %s" % (dest, exc), var="pymigrate_report_dir",
                             value=dest)


def _run_pages(document: t.Mapping) -> dict:
    return {PAGE + ".html": render_run_html(document), PAGE + ".md": render_run_markdown(document)}


def _record(dest: str, document: t.Mapping, files: t.Mapping[str, str], name: str, keep: t.Any) -> dict:
    run_id = document["run"]["id"]
    for file_name, text in files.items():
        _write_text(os.path.join(dest, run_id, file_name), text)
        # The newest copy at the top: its links lead from there.
        _write_text(os.path.join(dest, file_name), render_run_html(document, up="") if file_name == PAGE + ".html"
                    else text)
    temp = os.path.join(dest, ".latest-%s" % run_id)
    os.symlink(run_id, temp)
    os.replace(temp, os.path.join(dest, LATEST))
    history = [entry for entry in read_history(dest) if entry.get("id") != run_id]
    history.append(history_entry(document, name))
    kept, gone = pruned(history, keep, datetime.datetime.now(datetime.timezone.utc))
    for entry in gone:
        if RUN_ID.match(entry["id"] or "") and entry["id"] != run_id:
            shutil.rmtree(os.path.join(dest, entry["id"]), ignore_errors=True)
    _write_text(os.path.join(dest, HISTORY), json.dumps({"format": FORMAT, "runs": kept}, indent=1, sort_keys=True)
                + "\n")
    _write_text(os.path.join(dest, INDEX + ".html"), render_index_html(kept))
    _write_text(os.path.join(dest, INDEX + ".md"), render_index_markdown(kept))
    os.makedirs(os.path.join(dest, HOSTS_DIR), exist_ok=True)
    touched = {item["host"] for item in document.get("hosts") or []}
    touched |= {host for entry in gone for host in entry.get("hosts") or {}}
    for host in sorted(touched):
        _write_text(os.path.join(dest, HOSTS_DIR, host_file(host) + ".html"), render_host_html(host, kept))
        _write_text(os.path.join(dest, HOSTS_DIR, host_file(host) + ".md"), render_host_markdown(host, kept))
    return {"run_dir": os.path.join(dest, run_id), "page": os.path.join(dest, run_id, PAGE + ".html"),
            "markdown": os.path.join(dest, run_id, PAGE + ".md"), "index": os.path.join(dest, INDEX + ".html"),
            "pruned": [entry["id"] for entry in gone]}
