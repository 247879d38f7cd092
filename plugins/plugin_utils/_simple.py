# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bundle as a static package index, ``simple/`` (docs/index-format.md): the only code that writes or reads it.

Per project of the bundle's manifest (every wheel and sdist of every profile, one union index), in bandersnatch's
names so that a banderx-style web server configuration serves it unchanged::

    simple/index.html, index.v1_html, index.v1_json                the project list (PEP 503 HTML, PEP 691 JSON)
    simple/<canonical name>/index.html, index.v1_html, index.v1_json   the project's files
    files/sha256/<2>/<64>/<filename>.metadata                      the wheel's METADATA, byte for byte (PEP 658)

Every link is relative (``../../files/...``): the tree works from ``file://``, from ``python -m http.server`` and from
any static web server, wherever it is mounted. A file link carries its ``#sha256=``, ``data-requires-python`` (the
wheel's own Requires-Python), ``data-core-metadata`` with the legacy ``data-dist-info-metadata`` (PEP 714: both
``sha256=`` of the metadata file), ``data-yanked`` when the index had yanked it, and ``data-provenance`` when the
bundle verified the file's PEP 740 provenance (the ``.provenance`` file beside it). The JSON pages add PEP 700's
``size``, ``upload-time`` and ``versions``.

Written by hand on ``html.escape`` and ``json`` rather than with a generator library: simple-repository (the one
that renders both HTML and JSON) needs Python 3.11 and httpx on the control node and emits neither the legacy
metadata attribute nor provenance; dumb-pypi has no PEP 691 JSON, simple503 only the legacy attribute. The pages are
small, and real clients check them in the tests (pip and uv from ``file://``, a served copy counting requests).
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import html
import json
import os
import shutil
import typing as t
import urllib.parse
import zipfile

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import write_atomic
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import (
    InvalidVersion,
    Version,
    canonicalize_name,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError, format_time, parse_time

SIMPLE_DIR = "simple"
PAGES = ("index.html", "index.v1_html", "index.v1_json")
METADATA_SUFFIX = ".metadata"
# 1.3: PEP 740's provenance; the HTML pages say the same version (their content is that of 1.0 plus the attributes).
API_VERSION = "1.3"
DISTRIBUTIONS = (".whl", ".tar.gz", ".zip")
# From simple/<project>/ back to the bundle's root, where files/ is.
UP = "../../"


def distributions(manifest: t.Mapping) -> dict:
    """{canonical project name: [(store path, manifest entry)]} of every wheel and sdist the manifest lists (an
    image's blobs are files of the store too, but no distributions), sorted by file name."""
    found: dict = {}
    for relpath, entry in (manifest.get("files") or {}).items():
        if entry.get("filename", "").endswith(DISTRIBUTIONS):
            found.setdefault(canonicalize_name(entry["project"]), []).append((relpath, entry))
    return {name: sorted(items, key=lambda item: item[1]["filename"]) for name, items in sorted(found.items())}


def page_paths(project: str | None = None) -> list:
    """The three pages of the project list (None) or of one project, relative to the bundle."""
    folder = SIMPLE_DIR if project is None else "%s/%s" % (SIMPLE_DIR, project)
    return ["%s/%s" % (folder, page) for page in PAGES]


def index_files(manifest: t.Mapping) -> list:
    """Every file of the index a bundle with this manifest holds: the pages, then each wheel's metadata file (a wheel
    whose METADATA could not be read has none: the signed archive carries the files that exist)."""
    projects = distributions(manifest)
    names = page_paths()
    for project, items in projects.items():
        names += page_paths(project)
    names += [relpath + METADATA_SUFFIX for items in projects.values() for relpath, entry in items
              if entry["filename"].endswith(".whl")]
    return names


# -- the wheels' metadata ---------------------------------------------------------------------------------------
def wheel_metadata(path: str) -> bytes | None:
    """The exact bytes of a wheel's ``<name>-<version>.dist-info/METADATA``; None when the file is no wheel that has
    one (a damaged or foreign file: it is listed without metadata, and clients download it to read it)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1]
            if len(names) != 1:
                return None
            return archive.read(names[0])
    except (OSError, zipfile.BadZipFile, KeyError, ValueError):
        return None


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _metadata_of(bundle_dir: str, relpath: str) -> bytes | None:
    """A wheel's metadata file as written, else read from the wheel (not written: see ``write_metadata``)."""
    if not relpath.endswith(".whl"):
        return None
    written = _read(os.path.join(bundle_dir, relpath + METADATA_SUFFIX))
    return written if written is not None else wheel_metadata(os.path.join(bundle_dir, relpath))


def write_metadata(bundle_dir: str, manifest: t.Mapping) -> int:
    """Write each wheel's METADATA beside it, byte for byte, where it is missing or differs; each is read back and
    its sha256 checked against the bytes taken from the wheel. Returns how many were written."""
    written = 0
    for items in distributions(manifest).values():
        for relpath, _entry in items:
            if not relpath.endswith(".whl"):
                continue
            data = wheel_metadata(os.path.join(bundle_dir, relpath))
            target = os.path.join(bundle_dir, relpath + METADATA_SUFFIX)
            if data is None or _read(target) == data:
                continue
            write_atomic(target, data)
            written += 1
            if hashlib.sha256(_read(target) or b"").hexdigest() != hashlib.sha256(data).hexdigest():
                raise PyMigrateError("the metadata file %s does not hold the bytes of its wheel's METADATA after "
                                     "writing it" % target, hint="Check the disk of the bundle directory")
    return written


def _requires_python(metadata: bytes | None) -> str | None:
    if metadata is None:
        return None
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(metadata, headersonly=True)
    value = message.get("Requires-Python")
    return str(value).strip() or None if value is not None else None


# -- the pages --------------------------------------------------------------------------------------------------
def _file_record(bundle_dir: str, relpath: str, entry: t.Mapping, provenance: t.Mapping) -> dict:
    """What both pages say of one file: URL, hashes, Requires-Python, metadata hash, yanked, size, upload time,
    provenance URL (all URLs relative to the project's page)."""
    metadata = _metadata_of(bundle_dir, relpath)
    record = {"filename": entry["filename"], "url": UP + urllib.parse.quote(relpath),
              "hashes": {"sha256": entry["sha256"]}, "size": entry["size"],
              "requires-python": _requires_python(metadata),
              "core-metadata": {"sha256": hashlib.sha256(metadata).hexdigest()} if metadata is not None else False,
              "yanked": entry["yanked"] or True if entry.get("yanked") is not None else False,
              "upload-time": _upload_time(entry.get("upload_time")), "provenance": None}
    verified = provenance.get(relpath) or {}
    # Only a provenance of this very file: that of the sdist a wheel was built from attests the sdist, not the wheel.
    if (verified.get("state") == "verified" and verified.get("provenance")
            and verified.get("filename", entry["filename"]) == entry["filename"]):
        record["provenance"] = UP + urllib.parse.quote(verified["provenance"])
    return record


def _upload_time(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return format_time(parse_time(value))
    except ValueError:
        return None


def _html(title: str, links: t.Sequence[str]) -> bytes:
    lines = ["<!DOCTYPE html>", "<html>", "  <head>",
             '    <meta name="pypi:repository-version" content="%s">' % API_VERSION,
             "    <title>%s</title>" % html.escape(title), "  </head>", "  <body>",
             "    <h1>%s</h1>" % html.escape(title)]
    lines += ["    %s<br />" % link for link in links]
    return ("\n".join(lines + ["  </body>", "</html>"]) + "\n").encode("utf-8")


def _anchor(record: t.Mapping) -> str:
    attributes = [("href", "%s#sha256=%s" % (record["url"], record["hashes"]["sha256"]))]
    if record["requires-python"]:
        attributes.append(("data-requires-python", record["requires-python"]))
    if record["core-metadata"]:
        value = "sha256=" + record["core-metadata"]["sha256"]
        attributes += [("data-core-metadata", value), ("data-dist-info-metadata", value)]
    if record["yanked"] is not False:
        attributes.append(("data-yanked", "" if record["yanked"] is True else record["yanked"]))
    if record["provenance"]:
        attributes.append(("data-provenance", record["provenance"]))
    text = " ".join('%s="%s"' % (key, html.escape(value, quote=True)) for key, value in attributes)
    return "<a %s>%s</a>" % (text, html.escape(record["filename"]))


def _json(document: t.Mapping) -> bytes:
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode("utf-8")


def _version_key(version: str) -> tuple:
    try:
        return (1, Version(version), version)
    except InvalidVersion:
        return (0, version, version)


def project_pages(bundle_dir: str, project: str, items: t.Sequence, provenance: t.Mapping) -> dict:
    """{path: bytes} of one project's three pages."""
    records = [_file_record(bundle_dir, relpath, entry, provenance) for relpath, entry in items]
    page = _html("Links for %s" % project, [_anchor(record) for record in records])
    versions = sorted({entry["version"] for _relpath, entry in items}, key=_version_key)
    document = {"meta": {"api-version": API_VERSION}, "name": project, "versions": versions,
                "files": [{key: value for key, value in record.items()
                           if value is not None or key == "provenance"} for record in records]}
    html_path, v1_html_path, json_path = page_paths(project)
    return {html_path: page, v1_html_path: page, json_path: _json(document)}


def render(bundle_dir: str, manifest: t.Mapping) -> dict:
    """{path relative to the bundle: bytes} of every page of the index of this manifest (the metadata files are read
    as written, or from the wheels)."""
    projects = distributions(manifest)
    provenance = (manifest.get("provenance") or {}).get("files") or {}
    root = _html("Simple index", ['<a href="%s/">%s</a>' % (urllib.parse.quote(name), html.escape(name))
                                  for name in projects])
    html_path, v1_html_path, json_path = page_paths()
    pages = {html_path: root, v1_html_path: root,
             json_path: _json({"meta": {"api-version": API_VERSION},
                               "projects": [{"name": name} for name in projects]})}
    for project, items in projects.items():
        pages.update(project_pages(bundle_dir, project, items, provenance))
    return pages


def current(bundle_dir: str, manifest: t.Mapping) -> bool:
    """Whether the bundle directory holds this manifest's index already, every page and metadata file as it would
    be written, and no page of a project the manifest lacks."""
    pages = render(bundle_dir, manifest)
    if any(_read(os.path.join(bundle_dir, path)) != data for path, data in pages.items()):
        return False
    wheels = [relpath for items in distributions(manifest).values() for relpath, _entry in items
              if relpath.endswith(".whl")]
    if any(not os.path.isfile(os.path.join(bundle_dir, relpath + METADATA_SUFFIX))
           and wheel_metadata(os.path.join(bundle_dir, relpath)) is not None for relpath in wheels):
        return False
    return not _stale_projects(bundle_dir, manifest)


def _stale_projects(bundle_dir: str, manifest: t.Mapping) -> list:
    root = os.path.join(bundle_dir, SIMPLE_DIR)
    if not os.path.isdir(root):
        return []
    wanted = set(distributions(manifest))
    return sorted(name for name in os.listdir(root) if os.path.isdir(os.path.join(root, name)) and name not in wanted)


def write(bundle_dir: str, manifest: t.Mapping) -> int:
    """Write the index of this manifest: the metadata files first, then each page that differs from what is there;
    the pages of projects no longer in the bundle are removed. Returns how many files were written or removed."""
    changed = write_metadata(bundle_dir, manifest)
    for path, data in sorted(render(bundle_dir, manifest).items()):
        target = os.path.join(bundle_dir, path)
        if _read(target) == data:
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        write_atomic(target, data)
        changed += 1
    for name in _stale_projects(bundle_dir, manifest):
        shutil.rmtree(os.path.join(bundle_dir, SIMPLE_DIR, name))
        changed += 1
    return changed
