# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The offline rescan inside the enclave (issue 15, part 2; ``playbooks/audit.yml``): what the hosts really hold
(the fleet state, every environment verified against its lock) matched against the newest OSV database carried
in (``osv-db.zip`` of an imported bundle), with the matcher of ``_vulns.py``.

Fail closed: a database that is missing, unreadable, damaged (not the sha256 its manifest records), empty, undated
or older than ``pymigrate_osv_max_age_days`` is an error naming what, where and what to do, never a "clean" audit.
A host that could not be verified is "not audited", never "clean". The document's shape: docs/audit-format.md.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import file_sha256
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _advisories, _manifest, _vulns
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import (
    PyMigrateError,
    format_time,
    parse_time,
    utc_now,
)

AUDIT_FORMAT = 1
DEFAULT_MAX_AGE_DAYS = 30  # as long as a signed archive is valid by default: a monthly carry keeps it fresh
MAX_FUTURE_SKEW = datetime.timedelta(days=1)
HINT_CARRY = ("Export an advisory-only archive outside (playbooks/advisories.yml with pymigrate_osv_db, a fresh PyPI "
              "all.zip), carry it in and import it (playbooks/audit.yml -e pymigrate_advisory_archive=<path>), or a "
              "bundle built with pymigrate_osv_db (playbooks/deploy.yml), or give pymigrate_osv_db the path of a "
              "recent all.zip on this control node")


@dataclasses.dataclass(frozen=True)
class Located:
    """Where the database to audit against is: a carried ``osv-db.zip`` (``origin`` bundle) or pymigrate_osv_db."""

    path: str
    origin: str  # "bundle", "advisories" (an advisory-only archive) or "pymigrate_osv_db"
    bundle_dir: str | None = None
    serial: int | None = None
    record: t.Mapping | None = None  # the manifest's vulnerabilities.osv_db


def _bundle_record(bundle_dir: str) -> tuple:
    """(serial, manifest osv_db record or None) of one bundle directory; (None, None) when it holds no manifest."""
    try:
        manifest = _manifest.read(bundle_dir, required=False)
    except PyMigrateError as exc:
        raise PyMigrateError(exc.message, hint="An imported bundle is damaged: import its archive again")
    if manifest is None:
        return None, None
    record = (manifest.get("vulnerabilities") or {}).get("osv_db")
    return manifest.get("serial"), record if isinstance(record, dict) and record.get("sha256") else None


def _record_date(record: t.Mapping) -> str:
    return str(record.get("modified") or record.get("file_date") or "")


def carried_databases(import_dir: str, bundle_dirs: t.Sequence[str] = ()) -> tuple:
    """([Located] of every bundle that carries an OSV database, number of bundles looked at): the bundles imported
    into ``import_dir`` (``bundles/<serial>/``) and ``bundle_dirs`` (a bundle built on this control node)."""
    dirs = []
    root = os.path.join(os.path.expanduser(import_dir), "bundles") if import_dir else None
    if root and os.path.isdir(root):
        dirs += [os.path.join(root, name) for name in sorted(os.listdir(root)) if not name.startswith(".")]
    dirs += [os.path.expanduser(d) for d in bundle_dirs if d]
    found, looked, seen = [], 0, set()
    for bundle_dir in dirs:
        real = os.path.realpath(bundle_dir)
        if real in seen or not os.path.isdir(real):
            continue
        seen.add(real)
        serial, record = _bundle_record(bundle_dir)
        if serial is None and record is None:
            continue
        looked += 1
        if record:
            found.append(Located(os.path.join(bundle_dir, str(record.get("path") or _vulns.OSV_DB_FILE)), "bundle",
                                 bundle_dir, serial, record))
    return found, looked


def locate(import_dir: str, bundle_dirs: t.Sequence[str] = (), explicit: str | None = None) -> Located:
    """The database to audit against: ``explicit`` (pymigrate_osv_db) when given, else the newest one carried (by
    its date, then by bundle serial). Raises when there is none."""
    if explicit:
        path = os.path.expanduser(explicit)
        if not os.path.isfile(path):
            raise PyMigrateError("the OSV database file does not exist on the control node", var="pymigrate_osv_db",
                                 value=explicit, hint="Give the path of a PyPI all.zip, or leave pymigrate_osv_db "
                                                      "empty to use the newest one carried in an imported bundle")
        return Located(path, "pymigrate_osv_db")
    found, looked = carried_databases(import_dir, bundle_dirs)
    advisory = _advisories.current(import_dir)
    if advisory:
        found.append(Located(advisory[0], "advisories", os.path.dirname(advisory[0]), advisory[2], advisory[1]))
    if not found:
        raise PyMigrateError(
            "no OSV database to audit against: none of the %d bundle(s) in %s%s carries one (osv-db.zip), and "
            "pymigrate_osv_db is not set; the audit fails closed rather than report the fleet clean"
            % (looked, os.path.join(import_dir, "bundles"), "".join(" or %s" % d for d in bundle_dirs if d)),
            var="pymigrate_import_dir", value=import_dir, hint=HINT_CARRY)
    # Newest by date; on the same date a bundle's before an advisory archive's (serials of two lines never compared).
    return max(found, key=lambda item: (_record_date(item.record or {}), item.origin == "bundle",
                                        item.serial or 0))


def _where(located: Located) -> str:
    if located.origin == "bundle":
        return "the OSV database carried in bundle serial %s (%s)" % (located.serial, located.path)
    if located.origin == "advisories":
        return "the OSV database of the advisory archive serial %s (%s)" % (located.serial, located.path)
    return "the OSV database %s (pymigrate_osv_db)" % located.path


def open_database(located: Located, max_age_days: t.Any = DEFAULT_MAX_AGE_DAYS,
                  now: datetime.datetime | None = None) -> tuple:
    """(OsvDatabase, description) of a located database, checked: present, the sha256 its manifest records,
    readable, not empty, dated, and not older than ``max_age_days``. Raises (fails closed) otherwise."""
    if isinstance(max_age_days, bool) or not isinstance(max_age_days, int) or max_age_days < 1:
        raise PyMigrateError("must be a whole number of days, at least 1", var="pymigrate_osv_max_age_days",
                             value=max_age_days)
    now = now or utc_now()
    where = _where(located)
    var = "pymigrate_osv_db" if located.origin == "pymigrate_osv_db" else "pymigrate_import_dir"
    if not os.path.isfile(located.path):
        raise PyMigrateError("%s is missing: the bundle's manifest records it but the file is not there" % where,
                             var=var, value=located.path, hint="Import the bundle's archive again. " + HINT_CARRY)
    try:
        sha256 = file_sha256(located.path)
    except OSError as exc:
        raise PyMigrateError("%s cannot be read: %s" % (where, exc), var=var, value=located.path, hint=HINT_CARRY)
    if located.record and located.record.get("sha256") != sha256:
        raise PyMigrateError("%s has sha256 %s, not the %s its bundle's manifest records: it was damaged or replaced "
                             "after the import" % (where, sha256, located.record.get("sha256")), var=var,
                             value=located.path, hint="Import the bundle's signed archive again")
    try:
        database = _vulns.OsvDatabase(located.path, var=var)
    except PyMigrateError as exc:
        raise PyMigrateError("%s is unreadable: %s" % (where, exc.message), var=var, value=located.path,
                             hint=HINT_CARRY)
    if database.records == 0:
        raise PyMigrateError("%s holds no vulnerability record (%d withdrawn, %d malformed): an empty database "
                             "cannot show the fleet clean" % (where, database.skipped["withdrawn_records"],
                                                              database.skipped["malformed_records"]),
                             var=var, value=located.path, hint=HINT_CARRY)
    date, date_source = database.modified, "newest record"
    if not date and located.record and located.record.get("file_date"):
        date, date_source = located.record["file_date"], "file date when bundled"
    if not date and located.origin == "pymigrate_osv_db":
        date = format_time(datetime.datetime.fromtimestamp(os.path.getmtime(located.path), datetime.timezone.utc))
        date_source = "file modification time"
    try:
        moment = parse_time(date)
    except ValueError:
        raise PyMigrateError("%s has no date (no record carries a readable modified time), so its age is unknown"
                             % where, var=var, value=located.path, hint=HINT_CARRY)
    age = now - moment
    if age < -MAX_FUTURE_SKEW:
        raise PyMigrateError("%s is dated %s, in the future of this control node's clock (%s)"
                             % (where, format_time(moment), format_time(now)), var=var, value=located.path,
                             hint="Check the control node's clock, or the database's origin")
    age_days = max(age.total_seconds(), 0.0) / 86400
    if age > datetime.timedelta(days=max_age_days):
        raise PyMigrateError(
            "%s is dated %s, %.1f days old, older than pymigrate_osv_max_age_days (%d): an audit against it could "
            "miss what has been published since, so it fails closed" % (where, format_time(moment), age_days,
                                                                        max_age_days),
            var="pymigrate_osv_max_age_days", value=max_age_days,
            hint=HINT_CARRY + "; raise pymigrate_osv_max_age_days only knowingly")
    description = {"origin": located.origin, "path": located.path, "bundle_serial": located.serial,
                   "sha256": sha256, "date": format_time(moment), "date_source": date_source,
                   "age_days": round(age_days, 2), "max_age_days": max_age_days, "records": database.records,
                   "skipped": dict(database.skipped)}
    return database, description


# -- the audit --------------------------------------------------------------------------------------------------
_KEPT = ("project", "version", "id", "aliases", "summary", "fixed_in", "link", "state", "ignore")


def audit(state: t.Mapping, database: _vulns.OsvDatabase, description: t.Mapping, ignores: t.Sequence = (),
          today: datetime.date | None = None, run: t.Mapping | None = None) -> dict:
    """The audit document from the fleet state (``_report.fleet_summary`` of playbooks/state.yml's phase) and an
    opened database: per host each environment's vulnerable packages, fleet-wide each vulnerability's hosts."""
    today = today or datetime.date.today()
    cache: dict = {}

    def findings_of(project: str, version: str) -> list:
        key = (project, version)
        if key not in cache:
            cache[key] = [{k: v for k, v in _vulns.finding_entry(f, ignores, today).items() if k in _KEPT}
                          for f in database.match(project, version)]
        return cache[key]

    hosts, environments, flat = [], [], []
    by_id: dict = {}
    for item in state.get("hosts") or []:
        audited = item["status"] not in ("failed", "unreachable")
        host = {"host": item["host"], "status": item["status"] if not audited else "clean", "error": item["error"],
                "environments": {}}
        for name, env in sorted((item.get("environments") or {}).items()) if audited else ():
            vulnerable = []
            for project, version in sorted((env.get("packages") or {}).items()):
                vulnerable += findings_of(project, str(version))
            record = {"path": env.get("path"), "generation": env.get("generation"), "lock_id": env.get("lock_id"),
                      "serial": env.get("serial"), "packages": dict(env.get("packages") or {}),
                      "drift": list(env.get("drift") or []), "vulnerable": vulnerable}
            host["environments"][name] = record
            environments.append(dict(record, host=item["host"], environment=name))
            for finding in vulnerable:
                flat.append(dict(finding, host=item["host"], environment=name))
                entry = by_id.setdefault(finding["id"], {
                    "id": finding["id"], "aliases": finding["aliases"], "summary": finding["summary"],
                    "link": finding["link"], "state": finding["state"], "packages": {}, "hosts": set()})
                entry["packages"][(finding["project"], finding["version"])] = finding["fixed_in"]
                entry["hosts"].add(item["host"])
                if finding["state"] != "ignored":
                    host["status"] = "vulnerable"
        hosts.append(host)
    vulnerabilities = []
    for vuln_id in sorted(by_id):
        entry = by_id[vuln_id]
        vulnerabilities.append(dict(
            entry, hosts=sorted(entry["hosts"]), host_count=len(entry["hosts"]),
            packages=[{"project": project, "version": version, "fixed_in": fixed}
                      for (project, version), fixed in sorted(entry["packages"].items())]))
    not_audited = sorted(h["host"] for h in hosts if h["status"] in ("failed", "unreachable"))
    counted = [v for v in vulnerabilities if v["state"] != "ignored"]
    counts = {"hosts": len(hosts), "audited": len(hosts) - len(not_audited), "not_audited": len(not_audited),
              "vulnerable": sum(1 for h in hosts if h["status"] == "vulnerable"),
              "clean": sum(1 for h in hosts if h["status"] == "clean"),
              "vulnerabilities": len(counted), "ignored": len(vulnerabilities) - len(counted),
              "findings": sum(1 for f in flat if f["state"] != "ignored")}
    return {"format": AUDIT_FORMAT, "run": dict(run or {}), "database": dict(description), "counts": counts,
            "hosts": hosts, "environments": environments, "findings": flat, "vulnerabilities": vulnerabilities,
            "not_audited": not_audited, "retry": not_audited}


def enforce(document: t.Mapping) -> None:
    """pymigrate_vulnerability_policy fail: an error naming each vulnerability not ignored, its package versions,
    fixed versions and hosts."""
    counted = [v for v in document["vulnerabilities"] if v["state"] != "ignored"]
    if not counted:
        return
    parts = []
    for vuln in counted:
        packages = ", ".join("%s %s%s" % (p["project"], p["version"], " (fixed in %s)" % ", ".join(p["fixed_in"])
                                          if p["fixed_in"] else " (no fixed version)") for p in vuln["packages"])
        parts.append("%s: %s on %s" % (vuln["id"], packages, ", ".join(vuln["hosts"])))
    raise PyMigrateError("the fleet holds known-vulnerable versions: %s" % "; ".join(parts),
                         var="pymigrate_vulnerability_policy", value="fail",
                         hint="Roll out a bundle with fixed versions, or add an entry {id, reason, expires} to "
                              "pymigrate_vulnerability_ignore")


def _state_text(finding: t.Mapping) -> str:
    if finding["state"] == "ignored":
        return "ignored until %s" % finding["ignore"]["expires"]
    if finding["state"] == "ignore_expired":
        return "AFFECTED (ignore expired %s)" % finding["ignore"]["expires"]
    return "AFFECTED"


def render_table(document: t.Mapping) -> str:
    """audit.txt: the database, the fleet counts, a row per finding, each vulnerability's hosts, hosts not audited."""
    db, counts = document["database"], document["counts"]
    origin = {"bundle": "bundle serial %s" % db["bundle_serial"],
              "advisories": "advisory archive serial %s" % db["bundle_serial"]}.get(db["origin"], db["path"])
    lines = ["Vulnerability audit against the OSV database of %s" % origin,
             "database sha256 %s, dated %s (%s), %.1f days old (max %d), %d records"
             % (db["sha256"], db["date"], db["date_source"], db["age_days"], db["max_age_days"], db["records"]),
             "fleet: %d host(s) audited: %d vulnerable, %d clean; %d not audited; %d vulnerability(ies), %d ignored"
             % (counts["audited"], counts["vulnerable"], counts["clean"], counts["not_audited"],
                counts["vulnerabilities"], counts["ignored"]), ""]
    header = ("HOST", "ENVIRONMENT", "PROJECT", "VERSION", "ID", "ALIASES", "FIXED IN", "STATUS")
    rows = [(f["host"], f["environment"], f["project"], f["version"], f["id"], ", ".join(f["aliases"]) or "-",
             ", ".join(f["fixed_in"]) or "-", _state_text(f)) for f in document["findings"]]
    if rows:
        widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header) - 1)]
        lines += ["  ".join(str(c).ljust(widths[i]) for i, c in enumerate(row[:-1])) + "  " + row[-1]
                  for row in [header] + rows]
        lines += ["", "By vulnerability:"]
        for vuln in document["vulnerabilities"]:
            lines.append("  %s%s: %s on %d host(s): %s" % (
                vuln["id"], " (%s)" % ", ".join(vuln["aliases"]) if vuln["aliases"] else "",
                ", ".join("%s %s" % (p["project"], p["version"]) for p in vuln["packages"]), vuln["host_count"],
                ", ".join(vuln["hosts"])))
    elif counts["audited"]:
        lines.append("No known vulnerability in what the audited hosts hold.")
    if document["not_audited"]:
        lines += ["", "Not audited (their state could not be read; they are not clean):"]
        lines += ["  %s: %s" % (h["host"], h["error"]) for h in document["hosts"]
                  if h["host"] in document["not_audited"]]
    lines += changes_lines(document)
    return "\n".join(lines) + "\n"


def render_json(document: t.Mapping) -> str:
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


# -- against the last audit (issue 31, item 2) ------------------------------------------------------------------
CHANGE_KINDS = ("new", "withdrawn", "fixed")
_CHANGE_KEYS = ("host", "environment", "project", "version", "id", "aliases", "state")


def _ids(finding: t.Mapping) -> set:
    return {finding["id"], *(finding.get("aliases") or ())}


def bundle_findings(import_dir: str, bundle_dirs: t.Sequence[str] = ()) -> dict:
    """{serial: [finding]} of the bundle-time reports (``vulnerabilities.<profile>.json``, every profile) of every
    bundle imported into ``import_dir`` and of ``bundle_dirs``; a bundle built without a check has no entry."""
    found: dict = {}
    for bundle_dir in _bundle_dirs(import_dir, bundle_dirs):
        try:
            manifest = _manifest.read(bundle_dir, required=False)
        except PyMigrateError:
            continue
        if manifest is None:
            continue
        reports = (manifest.get("vulnerabilities") or {}).get("reports") or {}
        if not isinstance(manifest.get("serial"), int) or not reports:
            continue
        findings = found.setdefault(manifest["serial"], [])
        for entry in reports.values():
            try:
                with open(os.path.join(bundle_dir, entry["json"])) as handle:
                    findings += json.load(handle)["findings"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
    return found


def _bundle_dirs(import_dir: str, bundle_dirs: t.Sequence[str]) -> list:
    dirs = []
    root = os.path.join(os.path.expanduser(import_dir), "bundles") if import_dir else None
    if root and os.path.isdir(root):
        dirs += [os.path.join(root, name) for name in sorted(os.listdir(root)) if not name.startswith(".")]
    return dirs + [os.path.expanduser(d) for d in bundle_dirs if d and os.path.isdir(os.path.expanduser(d))]


def bundle_baseline(document: t.Mapping, by_serial: t.Mapping) -> dict:
    """The bundle-time baseline of an audit: for each audited environment, the findings its bundle's report (by the
    environment's serial) gave for the versions it holds. Environments whose bundle carries no report are left out
    of the comparison (``uncovered``)."""
    findings, covered, uncovered, serials = [], [], [], set()
    for env in document["environments"]:
        serial = env.get("serial")
        if serial not in by_serial:
            uncovered.append([env["host"], env["environment"]])
            continue
        serials.add(serial)
        covered.append([env["host"], env["environment"]])
        held = env.get("packages") or {}
        findings += [dict(f, host=env["host"], environment=env["environment"]) for f in by_serial[serial]
                     if str(held.get(f["project"])) == str(f["version"])]
    return {"baseline": {"serials": sorted(serials), "uncovered": uncovered}, "findings": findings,
            "covered": covered}


def read_previous(dest: str) -> dict | None:
    """The previous audit's baseline: the newest ``audit.json`` in the report directory (None when there is none or
    it cannot be read: the comparison then says so, it is never taken as empty)."""
    try:
        with open(os.path.join(os.path.expanduser(dest), "audit.json")) as handle:
            previous = json.load(handle)
        findings, hosts = previous["findings"], previous["hosts"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    covered = [[h["host"], name] for h in hosts if h.get("host") not in (previous.get("not_audited") or [])
               for name in sorted(h.get("environments") or {})]
    return {"baseline": {"run": (previous.get("run") or {}).get("id"),
                         "database_sha256": (previous.get("database") or {}).get("sha256"),
                         "database_date": (previous.get("database") or {}).get("date")},
            "findings": findings, "covered": covered}


def compare(current: t.Sequence[t.Mapping], baseline: t.Sequence[t.Mapping], held: t.Mapping) -> dict:
    """{new, withdrawn, fixed} between the findings of an audit and those of a baseline, both flat (host,
    environment, project, version, id, aliases). One finding when host, environment, project and version are the
    same and their ids or aliases meet. A baseline finding gone from the audit is *fixed* when the environment no
    longer holds that version (a later bundle), else *withdrawn* (the database no longer reports it). ``held``:
    {(host, environment): {project: version}} of what the audit saw, for the environments compared."""
    def key(finding):
        return (finding["host"], finding["environment"], finding["project"], str(finding["version"]))

    base_by: dict = {}
    now_by: dict = {}
    for finding in baseline:
        base_by.setdefault(key(finding), []).append(finding)
    for finding in current:
        now_by.setdefault(key(finding), []).append(finding)
    out: dict = {kind: [] for kind in CHANGE_KINDS}
    for finding in current:
        if not any(_ids(finding) & _ids(other) for other in base_by.get(key(finding), [])):
            out["new"].append({k: finding.get(k) for k in _CHANGE_KEYS})
    seen = set()
    for finding in baseline:
        if any(_ids(finding) & _ids(other) for other in now_by.get(key(finding), [])):
            continue
        marker = (key(finding), finding["id"])
        if marker in seen:
            continue
        seen.add(marker)
        now = (held.get((finding["host"], finding["environment"])) or {}).get(finding["project"])
        entry = {k: finding.get(k) for k in _CHANGE_KEYS}
        if now is not None and str(now) == str(finding["version"]):
            out["withdrawn"].append(entry)
        else:
            out["fixed"].append(dict(entry, now=None if now is None else str(now)))
    return out


def add_changes(document: dict, bundle: t.Mapping | None, previous: t.Mapping | None) -> dict:
    """``changes`` of an audit document: fleet-wide ``since_bundle`` and ``since_previous`` ({baseline, new,
    withdrawn, fixed, counts}, or {baseline: null, reason} without one), the same per host (ids), and each flat
    finding's ``new_since_bundle`` / ``new_since_previous`` (null when its environment had no baseline)."""
    held = {(env["host"], env["environment"]): env.get("packages") or {} for env in document["environments"]}
    changes: dict = {}
    for name, base in (("since_bundle", bundle), ("since_previous", previous)):
        flag = "new_" + name
        for finding in document["findings"]:
            finding[flag] = None
        for host in document["hosts"]:
            host.setdefault("changes", {})[name] = None
        if not base:
            changes[name] = {"baseline": None, "reason": "no bundle-time report of the environments' bundles"
                             if name == "since_bundle" else "no previous audit in the report directory"}
            continue
        covered = {tuple(pair) for pair in base["covered"]} & set(held)
        current = [f for f in document["findings"] if (f["host"], f["environment"]) in covered]
        found = compare(current, [f for f in base["findings"] if (f["host"], f["environment"]) in covered],
                        {pair: held[pair] for pair in covered})
        new = {(f["host"], f["environment"], f["project"], f["version"], f["id"]) for f in found["new"]}
        for finding in current:
            finding[flag] = (finding["host"], finding["environment"], finding["project"], finding["version"],
                             finding["id"]) in new
        for host in document["hosts"]:
            if any(pair[0] == host["host"] for pair in covered):
                host["changes"][name] = {kind: sorted({f["id"] for f in found[kind] if f["host"] == host["host"]})
                                         for kind in CHANGE_KINDS}
        changes[name] = dict(found, baseline=dict(base["baseline"]),
                             counts={kind: len(found[kind]) for kind in CHANGE_KINDS})
    document["changes"] = changes
    return document


def changes_lines(document: t.Mapping) -> list:
    """audit.txt's section on what changed since the bundle-time report and since the previous audit."""
    changes = document.get("changes")
    if not changes:
        return []
    lines = []
    for name, title in (("since_bundle", "Since the bundle-time report"),
                        ("since_previous", "Since the previous audit")):
        change = changes[name]
        if change["baseline"] is None:
            lines += ["", "%s: not compared (%s)." % (title, change["reason"])]
            continue
        base = change["baseline"]
        what = ("bundle serial(s) %s" % ", ".join(map(str, base["serials"])) if name == "since_bundle"
                else "run %s" % base["run"])
        lines += ["", "%s (%s): %d new, %d withdrawn, %d fixed by a later bundle" % (
            title, what, change["counts"]["new"], change["counts"]["withdrawn"], change["counts"]["fixed"])]
        for kind in CHANGE_KINDS:
            for f in change[kind]:
                lines.append("  %s %s%s: %s %s on %s/%s%s" % (
                    kind.upper(), f["id"], " (%s)" % ", ".join(f["aliases"]) if f.get("aliases") else "",
                    f["project"], f["version"], f["host"], f["environment"],
                    " (now %s)" % (f["now"] or "not installed") if kind == "fixed" else ""))
    return lines
