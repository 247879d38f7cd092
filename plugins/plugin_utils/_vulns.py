# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Known vulnerabilities of the pinned versions, checked when the bundle is built (issue 15, part 1).

Two sources, one per build:

* the index's JSON API ``<root>/pypi/<name>/<version>/json``, field ``vulnerabilities`` (PyPI's format), read
  through the bundle's own IndexClient (auth, CA bundle, retries) in parallel; an index without it (404, not
  JSON) leaves that pin *skipped*, never "clean";
* an OSV database export (``pymigrate_osv_db``: the ecosystem's ``all.zip``, one ``<ID>.json`` per member),
  matched here: ECOSYSTEM ranges (``introduced``/``fixed``/``last_affected``/``limit``) and explicit
  ``versions``, ordered by ``packaging.version``. Lenient per record (malformed records, GIT/SEMVER ranges and
  unparsable versions are skipped and counted), strict per run (an unreadable file is an error).

Withdrawn reports never count. ``pymigrate_vulnerability_ignore`` entries (``id``, ``reason``, ``expires``)
ignore a finding by its id or an alias until their expiry date; ``pymigrate_vulnerability_policy: fail`` makes
any finding that is not ignored an error naming project, version, id and fixed versions, and fails closed: a pin
that could not be checked is an error too (naming it and why), unless ``pymigrate_vulnerability_unchecked: allow``.
Under ``report`` the pins not checked are counted (the bundle action warns) and no text calls them clean.

Files in the bundle (names at its top, so the signed archive carries them as metadata)::

    vulnerabilities.<profile>.json   the report of one profile (format 1)
    vulnerabilities.<profile>.txt    the same as a table
    osv-db.zip                       a copy of pymigrate_osv_db, when given (sha256 and date in the manifest)
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import json
import os
import typing as t
import urllib.parse
import zipfile

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import file_sha256
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._index import index_root_url
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import (
    InvalidVersion,
    Version,
    canonicalize_name,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

REPORT_FORMAT = 1
OSV_DB_FILE = "osv-db.zip"
POLICIES = ("report", "fail")
# pymigrate_vulnerability_unchecked: what policy fail does with a pin that could not be checked.
UNCHECKED = ("fail", "allow")
OSV_DB_URL = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
ECOSYSTEM = "PyPI"


def report_names(profile: str) -> tuple:
    """(JSON report, text table) file names of one profile."""
    return "vulnerabilities.%s.json" % profile, "vulnerabilities.%s.txt" % profile


# -- findings ---------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Finding:
    """One known vulnerability of one project version, as a source reports it (never a withdrawn one)."""

    project: str
    version: str
    id: str
    aliases: tuple = ()
    summary: str = ""
    details: str = ""
    fixed_in: tuple = ()
    link: str = ""
    source: str = ""

    def ids(self) -> set:
        return {self.id, *self.aliases}

    def description(self) -> str:
        return self.summary or (self.details or "").strip().split("\n")[0][:300] or "N/A"


def _sorted_versions(values: t.Iterable) -> tuple:
    parsed, raw = [], []
    for value in values:
        try:
            parsed.append((Version(str(value)), str(value)))
        except InvalidVersion:
            raw.append(str(value))
    return tuple(text for _v, text in sorted(set(parsed))) + tuple(sorted(set(raw)))


def _strings(value: t.Any) -> tuple:
    """(the strings of a list field, whether the field was malformed): a JSON field that should be a list of strings
    but is a string (or anything else) is no list - never its characters, one by one."""
    if value is None:
        return (), False
    if not isinstance(value, list):
        return (), True
    return tuple(item for item in value if isinstance(item, str)), not all(isinstance(item, str) for item in value)


def from_json_api(project: str, version: str, document: t.Any) -> list:
    """Findings of the JSON API's ``vulnerabilities`` list (withdrawn ones dropped)."""
    items = document.get("vulnerabilities") if isinstance(document, dict) else None
    findings = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or item.get("withdrawn"):
            continue
        aliases = tuple(sorted(a for a in _strings(item.get("aliases"))[0] if a != item["id"]))
        findings.append(Finding(project, version, item["id"], aliases, str(item.get("summary") or ""),
                                str(item.get("details") or ""), _sorted_versions(_strings(item.get("fixed_in"))[0]),
                                str(item.get("link") or ""), str(item.get("source") or "index")))
    return sorted(findings, key=lambda f: f.id)


def merge(findings: t.Iterable[Finding]) -> list:
    """One finding per vulnerability of a project version: findings whose ids or aliases meet (PYSEC, GHSA, CVE;
    the JSON API's and an OSV export's, or two records of one export) are merged, transitively. The merged finding
    keeps the first one's id (an OSV record before the JSON API's), every other id among its aliases, the union of
    fixed versions and sources, and the first summary, details and link found."""
    by_version: dict = {}
    for finding in findings:
        by_version.setdefault((finding.project, finding.version), []).append(finding)
    merged = []
    for _key, group in sorted(by_version.items()):
        group = sorted(group, key=lambda f: (f.source != "osv", f.id))
        sets: list = []
        for finding in group:
            meeting = [item for item in sets if item[0] & finding.ids()]
            joined = (set(finding.ids()), [finding])
            for item in meeting:
                sets.remove(item)
                joined = (joined[0] | item[0], item[1] + joined[1])
            sets.append(joined)
        for ids, members in sets:
            members = sorted(members, key=lambda f: (f.source != "osv", f.id))
            first = members[0]
            merged.append(dataclasses.replace(
                first, aliases=tuple(sorted(ids - {first.id})),
                summary=next((f.summary for f in members if f.summary), ""),
                details=next((f.details for f in members if f.details), ""),
                fixed_in=_sorted_versions(v for f in members for v in f.fixed_in),
                link=next((f.link for f in members if f.link), ""),
                source="+".join(sorted({f.source for f in members if f.source}))))
    return sorted(merged, key=lambda f: (f.project, f.version, f.id))


# -- OSV export -------------------------------------------------------------------------------------------------
class OsvDatabase:
    """An OSV export (``all.zip``) indexed by canonical project name; ``skipped`` counts what was left out."""

    def __init__(self, path: str, var: str = "pymigrate_osv_db"):
        self.path = path
        self.skipped = {"malformed_records": 0, "withdrawn_records": 0, "unsupported_ranges": 0,
                        "unparsable_versions": 0, "malformed_fields": 0}
        self.records = 0
        self.modified = ""  # the newest ``modified`` of any record: the snapshot's date
        self._by_name: dict = {}
        try:
            archive = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise PyMigrateError("the OSV database cannot be read as a zip file (%s)" % exc, var=var, value=path,
                                 hint="Give the path of an OSV export, e.g. PyPI/all.zip from "
                                      "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip")
        with archive:
            for member in archive.namelist():
                if not member.endswith(".json"):
                    continue
                try:
                    record = json.loads(archive.read(member))
                except (ValueError, UnicodeDecodeError):
                    self.skipped["malformed_records"] += 1
                    continue
                self._add(record)

    def _add(self, record: t.Any) -> None:
        if (not isinstance(record, dict) or not isinstance(record.get("id"), str)
                or not isinstance(record.get("affected", []), list)):
            self.skipped["malformed_records"] += 1
            return
        if isinstance(record.get("modified"), str) and record["modified"] > self.modified:
            self.modified = record["modified"]
        if record.get("withdrawn"):
            self.skipped["withdrawn_records"] += 1
            return
        self.records += 1
        aliases, malformed = _strings(record.get("aliases"))
        if malformed:  # the record still counts, without the aliases it does not state as a list
            self.skipped["malformed_fields"] += 1
        record = dict(record, aliases=list(aliases))
        for affected in record.get("affected") or []:
            package = affected.get("package") if isinstance(affected, dict) else None
            if not isinstance(package, dict) or not isinstance(package.get("name"), str):
                continue
            if package.get("ecosystem") != ECOSYSTEM:
                continue
            versions, malformed = _strings(affected.get("versions"))
            if malformed or not isinstance(affected.get("ranges", []), list):
                self.skipped["malformed_fields"] += 1  # counted, so the report says what it could not read
            affected = dict(affected, versions=list(versions),
                            ranges=affected["ranges"] if isinstance(affected.get("ranges"), list) else [])
            self._by_name.setdefault(canonicalize_name(package["name"]), []).append((record, affected))

    def _version(self, value: t.Any):
        try:
            return Version(str(value))
        except InvalidVersion:
            self.skipped["unparsable_versions"] += 1
            return None

    def _in_range(self, events: t.Any, version) -> tuple | None:
        """(affected, fixed versions named) for one ECOSYSTEM range; None when the range cannot be read."""
        if not isinstance(events, list):
            return None
        parsed = []
        for event in events:
            if not isinstance(event, dict) or len(event) != 1:
                return None
            (kind, value), = event.items()
            if kind not in ("introduced", "fixed", "last_affected", "limit"):
                return None
            if kind == "introduced" and str(value) == "0":
                parsed.append((None, kind, value))
                continue
            bound = self._version(value)
            if bound is None:
                return None
            parsed.append((bound, kind, value))
        affected = False
        # Events in version order ("introduced: 0" first); a version at or past each bound takes its state.
        for bound, kind, _value in sorted(parsed, key=lambda item: (item[0] is not None, item[0] or 0)):
            if kind == "introduced" and (bound is None or version >= bound):
                affected = True
            elif kind == "fixed" and version >= bound:
                affected = False
            elif kind == "last_affected" and version > bound:
                affected = False
        for bound, kind, _value in parsed:
            if kind == "limit" and version >= bound:
                affected = False
        return affected, [str(value) for _b, kind, value in parsed if kind == "fixed"]

    def match(self, project: str, version: str) -> list:
        """The findings for one project version."""
        try:
            wanted = Version(version)
        except InvalidVersion:
            return []
        findings: dict = {}
        for record, affected in self._by_name.get(canonicalize_name(project), []):
            hit = False
            fixed: list = []
            for listed in affected.get("versions") or []:
                candidate = self._version(listed)
                if candidate is not None and candidate == wanted:
                    hit = True
            for entry in affected.get("ranges") or []:
                if not isinstance(entry, dict) or entry.get("type") != "ECOSYSTEM":
                    self.skipped["unsupported_ranges"] += 1
                    continue
                outcome = self._in_range(entry.get("events"), wanted)
                if outcome is None:
                    self.skipped["unsupported_ranges"] += 1
                    continue
                hit = hit or outcome[0]
                fixed += outcome[1]
            if not hit:
                continue
            later = [f for f in fixed if self._later(f, wanted)]
            aliases = tuple(sorted(record["aliases"]))
            previous = findings.get(record["id"])
            fixed_in = _sorted_versions(later + list(previous.fixed_in if previous else ()))
            findings[record["id"]] = Finding(
                canonicalize_name(project), version, record["id"], aliases, str(record.get("summary") or ""),
                str(record.get("details") or ""), fixed_in, _advisory_link(record), "osv")
        return merge(findings[key] for key in sorted(findings))

    @staticmethod
    def _later(value: str, version) -> bool:
        try:
            return Version(value) > version
        except InvalidVersion:
            return False


def _advisory_link(record: t.Mapping) -> str:
    for reference in record.get("references") or []:
        if isinstance(reference, dict) and reference.get("type") == "ADVISORY" and reference.get("url"):
            return str(reference["url"])
    return "https://osv.dev/vulnerability/%s" % urllib.parse.quote(record["id"])


def describe_db(path: str, database: OsvDatabase) -> dict:
    """What the manifest says of the carried OSV export: sha256, size, dates and counts."""
    mtime = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    return {"path": OSV_DB_FILE, "sha256": file_sha256(path), "size": os.path.getsize(path),
            "modified": database.modified or None, "file_date": mtime.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "records": database.records, "skipped": dict(database.skipped)}


# -- the index's JSON API ---------------------------------------------------------------------------------------
def json_api_url(index_base: str, project: str, version: str) -> str | None:
    """``<root>/simple/`` -> ``<root>/pypi/<name>/<version>/json``; None for an index that has no such root (a
    local directory, a find-links directory)."""
    return index_root_url(index_base, "pypi", canonicalize_name(project), version, "json")


def _read_json_api(client, project: str, version: str, index_base: str) -> tuple:
    """(findings, None) or (None, reason skipped) for one pin from its index's JSON API."""
    url = json_api_url(index_base, project, version)
    if url is None:
        return None, "the index %s has no JSON API" % index_base
    try:
        response = client.get(url, headers={"Accept": "application/json"})
    except PyMigrateError as exc:
        return None, "JSON API unavailable: %s" % exc.message
    try:
        if response.status_code != 200:
            return None, "JSON API answered HTTP %d" % response.status_code
        body = client.body(response, "the vulnerability record of %s %s" % (project, version))
    except PyMigrateError as exc:
        return None, "JSON API answer refused: %s" % exc.message
    finally:
        response.close()
    try:
        document = json.loads(body)
    except ValueError:
        return None, "JSON API answered something that is not JSON"
    if not isinstance(document, dict) or "vulnerabilities" not in document:
        return None, "JSON API gives no vulnerabilities field"
    return from_json_api(canonicalize_name(project), version, document), None


# -- policy -----------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Ignore:
    id: str
    reason: str
    expires: datetime.date


def parse_policy(value: t.Any) -> str:
    if value not in POLICIES:
        raise PyMigrateError("must be one of %s" % ", ".join(POLICIES), var="pymigrate_vulnerability_policy",
                             value=value)
    return value


def parse_ignores(value: t.Any, var: str = "pymigrate_vulnerability_ignore") -> list:
    """[{id, reason, expires}] -> [Ignore]; a missing id or reason or a bad date names the entry."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise PyMigrateError("must be a list of {id, reason, expires}", var=var, value=value)
    ignores = []
    for entry in value:
        if not isinstance(entry, dict):
            raise PyMigrateError("each entry must be a mapping with id, reason and expires", var=var, value=entry)
        unknown = sorted(set(entry) - {"id", "reason", "expires"})
        if unknown:
            raise PyMigrateError("unknown key(s) %s in an entry" % ", ".join(map(str, unknown)), var=var, value=entry,
                                 hint="An entry has id, reason and expires")
        if not isinstance(entry.get("id"), str) or not entry["id"].strip():
            raise PyMigrateError("an entry has no id", var=var, value=entry,
                                 hint="Give the vulnerability id (e.g. PYSEC-2024-1, GHSA-..., CVE-...)")
        if not isinstance(entry.get("reason"), str) or not entry["reason"].strip():
            raise PyMigrateError("entry %s has no reason" % entry["id"], var=var, value=entry,
                                 hint="Say why this vulnerability does not matter here (it goes into the report)")
        expires = entry.get("expires")
        if isinstance(expires, datetime.datetime):
            expires = expires.date()
        elif not isinstance(expires, datetime.date):
            try:
                expires = datetime.date.fromisoformat(str(expires))
            except ValueError:
                raise PyMigrateError("entry %s: expires is not an ISO date" % entry["id"], var=var,
                                     value=entry.get("expires"), hint='Use e.g. "2026-12-31"')
        ignores.append(Ignore(entry["id"].strip(), entry["reason"].strip(), expires))
    return ignores


@dataclasses.dataclass
class VulnerabilityCheck:
    """The bundle's vulnerability settings: ``osv_db`` (a path) replaces the index's JSON API as the source;
    ``unchecked`` (fail, allow) says whether policy fail lets a pin that could not be checked pass."""

    policy: str = "report"
    ignores: t.Sequence[Ignore] = ()
    osv_db: str | None = None
    today: datetime.date | None = None
    unchecked: str = "fail"

    def __post_init__(self):
        parse_policy(self.policy)
        if self.unchecked not in UNCHECKED:
            raise PyMigrateError("must be one of %s" % ", ".join(UNCHECKED), var="pymigrate_vulnerability_unchecked",
                                 value=self.unchecked)
        if self.osv_db and not os.path.isfile(self.osv_db):
            raise PyMigrateError("the OSV database file does not exist", var="pymigrate_osv_db", value=self.osv_db,
                                 hint="Download the ecosystem's all.zip to the control node and give its path")


def finding_entry(finding: Finding, ignores: t.Sequence[Ignore], today: datetime.date) -> dict:
    """One finding as the reports write it (bundle time and playbooks/audit.yml): its fields and its state."""
    entry = {"project": finding.project, "version": finding.version, "id": finding.id,
             "aliases": list(finding.aliases), "summary": finding.summary, "details": finding.details,
             "fixed_in": list(finding.fixed_in), "link": finding.link, "source": finding.source}
    entry.update(_status(finding, ignores, today))
    return entry


def _status(finding: Finding, ignores: t.Sequence[Ignore], today: datetime.date) -> dict:
    """{"state": affected|ignored|ignore_expired, "ignore": {...}} of one finding."""
    state: dict = {"state": "affected"}
    for entry in ignores:
        if entry.id in finding.ids():
            if today <= entry.expires:
                return {"state": "ignored", "ignore": {"id": entry.id, "reason": entry.reason,
                                                       "expires": entry.expires.isoformat()}}
            state = {"state": "ignore_expired", "ignore": {"id": entry.id, "reason": entry.reason,
                                                           "expires": entry.expires.isoformat()}}
    return state


# -- the check --------------------------------------------------------------------------------------------------
def check(pins_by_profile: t.Mapping[str, t.Sequence], client, settings: VulnerabilityCheck, *,
          workers: int = 8, progress=None) -> dict:
    """Check every (project, version) pinned in any profile once. Returns {"source", "reports": {profile: report},
    "osv_db": manifest record or None}. Raises under policy ``fail`` when a finding is not ignored."""
    today = settings.today or datetime.date.today()
    pairs: dict = {}
    for pins in pins_by_profile.values():
        for pin in pins:
            pairs.setdefault((canonicalize_name(pin.name), pin.version), pin.file.index_url)
    results: dict = {}
    database, db_record = None, None
    if settings.osv_db:
        database = OsvDatabase(settings.osv_db)
        for (project, version) in sorted(pairs):
            results[(project, version)] = (database.match(project, version), None)
        db_record = describe_db(settings.osv_db, database)
        source = "osv"
    else:
        source = "index"
        fallback = client.indexes[0].base if getattr(client, "indexes", None) else ""
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(workers, len(pairs) or 1)),
                                                   thread_name_prefix="pymigrate-vulns") as pool:
            futures = {pool.submit(_read_json_api, client, project, version, index or fallback): (project, version)
                       for (project, version), index in pairs.items()}
            for future in concurrent.futures.as_completed(futures):
                results[futures[future]] = future.result()
    reports: dict = {}
    for profile, pins in sorted(pins_by_profile.items()):
        findings: list = []
        skipped: list = []
        for pin in sorted(pins, key=lambda p: canonicalize_name(p.name)):
            key = (canonicalize_name(pin.name), pin.version)
            found, reason = results[key]
            if found is None:
                skipped.append({"project": key[0], "version": key[1], "reason": reason})
                continue
            findings += [finding_entry(finding, settings.ignores, today) for finding in found]
        reports[profile] = {
            # No date of the check in it: a re-run the same day or later with the same findings changes nothing.
            "format": REPORT_FORMAT, "profile": profile, "source": source,
            "policy": settings.policy, "packages": len({(canonicalize_name(p.name), p.version) for p in pins}),
            "findings": findings, "skipped": skipped,
            "counts": {"affected": sum(1 for f in findings if f["state"] != "ignored"),
                       "ignored": sum(1 for f in findings if f["state"] == "ignored"), "skipped": len(skipped)},
            "osv_db": {k: db_record[k] for k in ("sha256", "modified", "records", "skipped")} if db_record else None,
        }
    outcome = {"source": source, "reports": reports, "osv_db": db_record, "checked_on": today.isoformat(),
               "pinned": len(pairs)}
    if progress:
        counted = {(f["project"], f["version"], f["id"]) for r in reports.values() for f in r["findings"]
                   if f["state"] != "ignored"}
        progress("vulnerabilities (%s): %d known in %d pinned version(s) checked, %d not checked"
                 % ("OSV database" if database else "index JSON API", len(counted),
                    len(pairs) - len(unchecked(outcome)), len(unchecked(outcome))))
    if settings.policy == "fail":
        enforce(outcome, settings.unchecked)
    return outcome


def unignored(outcome: t.Mapping) -> list:
    """Each finding not ignored, once per (project, version, id), sorted."""
    seen: dict = {}
    for report in outcome["reports"].values():
        for finding in report["findings"]:
            if finding["state"] != "ignored":
                seen.setdefault((finding["project"], finding["version"], finding["id"]), finding)
    return [seen[key] for key in sorted(seen)]


def unchecked(outcome: t.Mapping) -> list:
    """Each pin that could not be checked, once per (project, version), sorted: {project, version, reason}."""
    seen: dict = {}
    for report in outcome["reports"].values():
        for item in report["skipped"]:
            seen.setdefault((item["project"], item["version"]), item)
    return [seen[key] for key in sorted(seen)]


def describe_unchecked(items: t.Sequence[t.Mapping]) -> str:
    """``alpha 1.0, beta 2.0 (JSON API answered HTTP 404); ...``: the pins, grouped by why they were not checked."""
    by_reason: dict = {}
    for item in items:
        by_reason.setdefault(item["reason"], []).append("%s %s" % (item["project"], item["version"]))
    return "; ".join("%s (%s)" % (", ".join(pins), reason) for reason, pins in sorted(by_reason.items()))


def enforce(outcome: t.Mapping, allow_unchecked: str = "fail") -> None:
    """Policy fail: an error naming every project, version, id and fixed version not ignored; then, failing closed,
    one naming every pin that could not be checked and why, unless ``allow_unchecked`` is ``allow``."""
    found = unignored(outcome)
    if not found:
        missed = unchecked(outcome)
        if missed and allow_unchecked != "allow":
            raise PyMigrateError("%d of %d pinned version(s) could not be checked for known vulnerabilities, and "
                                 "policy fail lets no unchecked pin pass: %s"
                                 % (len(missed), outcome.get("pinned", len(missed)), describe_unchecked(missed)),
                                 var="pymigrate_vulnerability_policy", value="fail",
                                 hint="Carry an OSV database instead of asking the index: download %s to the control "
                                      "node and set pymigrate_osv_db to its path (it travels in the bundle); or set "
                                      "pymigrate_vulnerability_unchecked: allow to let unchecked pins pass"
                                      % OSV_DB_URL)
        return
    parts = []
    for finding in found:
        text = "%s %s: %s" % (finding["project"], finding["version"], finding["id"])
        text += " (fixed in %s)" % ", ".join(finding["fixed_in"]) if finding["fixed_in"] else " (no fixed version)"
        if finding["state"] == "ignore_expired":
            text += " [its ignore entry expired on %s]" % finding["ignore"]["expires"]
        parts.append(text)
    raise PyMigrateError("known vulnerabilities in pinned versions: %s" % "; ".join(parts),
                         var="pymigrate_vulnerability_policy", value="fail",
                         hint="Pin a fixed version, or add an entry {id, reason, expires} to "
                              "pymigrate_vulnerability_ignore")


# -- output -----------------------------------------------------------------------------------------------------
def render_json(report: t.Mapping) -> str:
    return json.dumps(report, indent=1, sort_keys=True) + "\n"


def _state_text(finding: t.Mapping) -> str:
    if finding["state"] == "ignored":
        return "ignored until %s: %s" % (finding["ignore"]["expires"], finding["ignore"]["reason"])
    if finding["state"] == "ignore_expired":
        return "AFFECTED (ignore expired %s)" % finding["ignore"]["expires"]
    return "AFFECTED"


def render_table(report: t.Mapping) -> str:
    """A readable table of one profile's report."""
    lines = ["Known vulnerabilities, profile %s (source: %s, policy %s)"
             % (report["profile"], report["source"], report["policy"]),
             "%d package(s) checked: %d affected, %d ignored, %d skipped"
             % (report["packages"], report["counts"]["affected"], report["counts"]["ignored"],
                report["counts"]["skipped"]), ""]
    header = ("PROJECT", "VERSION", "ID", "ALIASES", "FIXED IN", "STATUS")
    rows = [(f["project"], f["version"], f["id"], ", ".join(f["aliases"]) or "-", ", ".join(f["fixed_in"]) or "-",
             _state_text(f)) for f in report["findings"]]
    checked = report["packages"] - report["counts"]["skipped"]
    if rows:
        widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header) - 1)]
        for row in [header] + rows:
            lines.append("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1])
    elif not checked:
        lines.append("None of the %d package(s) could be checked: nothing is known about their vulnerabilities."
                     % report["packages"])
    else:
        lines.append("No known vulnerability in the %d package(s) checked%s." % (
            checked, "; %d not checked, see below" % report["counts"]["skipped"] if report["skipped"] else ""))
    if report["skipped"]:
        lines += ["", "Not checked (source unavailable), so not known to be free of vulnerabilities:"]
        lines += ["  %s %s: %s" % (s["project"], s["version"], s["reason"]) for s in report["skipped"]]
    if report.get("osv_db"):
        lines += ["", "OSV database sha256 %s, newest record %s, %d records"
                  % (report["osv_db"]["sha256"], report["osv_db"]["modified"], report["osv_db"]["records"])]
    return "\n".join(lines) + "\n"


def sbom_vulnerabilities(outcome: t.Mapping, components: t.Sequence[t.Mapping]) -> list:
    """The CycloneDX ``vulnerabilities`` section: one entry per id, affecting the components (bom-refs) of each
    project version it was found in."""
    refs: dict = {}
    for component in components:
        if component.get("type") == "library":
            refs.setdefault((canonicalize_name(component["name"]), component["version"]), set()).add(
                component["bom-ref"])
    entries: dict = {}
    for report in outcome["reports"].values():
        for finding in report["findings"]:
            entry = entries.setdefault(finding["id"], {"finding": finding, "affects": set(), "fixed": {},
                                                       "states": set()})
            entry["affects"] |= refs.get((finding["project"], finding["version"]), set())
            entry["fixed"].setdefault(finding["project"], set()).update(finding["fixed_in"])
            entry["states"].add((finding["state"], json.dumps(finding.get("ignore"), sort_keys=True)))
    section = []
    for vuln_id in sorted(entries):
        entry = entries[vuln_id]
        finding = entry["finding"]
        source = {"name": "OSV" if finding["source"] == "osv" else finding["source"]}
        if finding["link"]:
            source["url"] = finding["link"]
        recommendation = "; ".join(
            "Upgrade %s to %s" % (project, " or ".join(_sorted_versions(fixed))) if fixed
            else "No fixed version of %s is known" % project for project, fixed in sorted(entry["fixed"].items()))
        item = {"bom-ref": "vuln:%s" % vuln_id, "id": vuln_id, "source": source,
                "references": [{"id": alias, "source": {"name": source["name"]}} for alias in finding["aliases"]],
                "description": finding["summary"] or (finding["details"] or "").strip().split("\n")[0][:300] or "N/A",
                "recommendation": recommendation,
                "affects": [{"ref": ref} for ref in sorted(entry["affects"])]}
        if finding["details"]:
            item["detail"] = finding["details"]
        states = {state for state, _ignore in entry["states"]}
        if states == {"ignored"}:
            ignore = finding["ignore"]
            item["analysis"] = {"state": "not_affected",
                                "detail": "ignored until %s: %s" % (ignore["expires"], ignore["reason"])}
        elif "ignore_expired" in states:
            expired = [f for r in outcome["reports"].values() for f in r["findings"]
                       if f["id"] == vuln_id and f["state"] == "ignore_expired"][0]["ignore"]
            item["analysis"] = {"state": "in_triage", "detail": "the ignore entry expired on %s (%s)"
                                % (expired["expires"], expired["reason"])}
        else:
            item["analysis"] = {"state": "in_triage"}
        section.append(item)
    return section


# -- the bundle's record ----------------------------------------------------------------------------------------
def manifest_record(outcome: t.Mapping, policy: str) -> dict:
    """``manifest.vulnerabilities``: the source, the policy, each profile's report files and counts, and the
    carried OSV export (sha256, date) when one was used."""
    return {"source": outcome["source"], "policy": policy, "osv_db": outcome["osv_db"],
            "reports": {profile: {"json": report_names(profile)[0], "text": report_names(profile)[1],
                                  "counts": dict(report["counts"])}
                        for profile, report in sorted(outcome["reports"].items())}}


def report_texts(outcome: t.Mapping) -> dict:
    """{file name: text} of every profile's JSON report and table."""
    texts = {}
    for profile, report in outcome["reports"].items():
        json_name, text_name = report_names(profile)
        texts[json_name] = render_json(report)
        texts[text_name] = render_table(report)
    return texts


def result_summary(outcome: t.Mapping) -> dict:
    """The bundle result's ``vulnerabilities``: source, date, counts per profile, and the findings not ignored."""
    return {"source": outcome["source"], "checked_on": outcome["checked_on"],
            "osv_db_sha256": (outcome["osv_db"] or {}).get("sha256"),
            "profiles": {profile: dict(report["counts"]) for profile, report in sorted(outcome["reports"].items())},
            "findings": [{k: finding[k] for k in ("project", "version", "id", "aliases", "fixed_in", "state")}
                         for finding in unignored(outcome)],
            "pinned": outcome.get("pinned"), "unchecked": unchecked(outcome)}


def unchecked_warning(summary: t.Mapping) -> str | None:
    """The warning a build under policy report gives when pins were not checked (None when every pin was)."""
    missed = summary.get("unchecked") or []
    if not missed:
        return None
    return ("%d of %d pinned version(s) were not checked for known vulnerabilities, so nothing is known about them: "
            "%s. Carry an OSV database (pymigrate_osv_db, from %s) to check them"
            % (len(missed), summary.get("pinned") or len(missed), describe_unchecked(missed), OSV_DB_URL))
