# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Feed an inside package index from an imported bundle (playbooks/mirror.yml, action mirror_publish).

One run publishes the bundle's distributions (every wheel and sdist of its signed manifest) to one mirror:

* ``static``: a directory a web server serves: the files under ``files/sha256/...`` with the METADATA and verified
  provenance beside them, and the bundle's own index pages (``simple/``, _simple.py) over them;
* ``devpi``: an index of a devpi-server (``http://host:3141/<user>/<index>``), over its upload API;
* ``pypiserver``: a pypiserver (``http://host:8080``), over its upload endpoint.

Three steps: **verify** (every file's sha256 against the manifest the import accepted: one that differs is refused,
named, and nothing is published), **compare** (what the mirror holds: a file there with the same sha256 is skipped,
one with another sha256 is refused, named, and nothing is published), **publish** what is missing (a live index is
read again after the upload: it must list each file with its sha256). Check mode stops after compare. A re-run
publishes nothing. With a locks directory (for a static mirror, ``locks/`` in it when its URL is known) each
environment's lock the bundle carries (``lock/``) is written with every file's URL on the mirror, so that
``uv pip install -r pylock.<env>.toml`` installs exactly what the fleet holds from the mirror.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html.parser
import os
import shutil
import typing as t
import urllib.parse

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import file_sha256, write_atomic
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _lockdir, _manifest, _simple
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._index import redact
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import canonicalize_name, requests
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

KINDS = ("static", "devpi", "pypiserver")
LOCKS_DIR = "locks"  # a static mirror's locks, when its URL is known


@dataclasses.dataclass(frozen=True)
class MirrorSettings:
    """Where and how to publish (the mirror_publish action's arguments). ``url``: a live index's URL, or the URL at
    which the web server serves a static mirror's ``path`` (for the locks' URLs)."""

    bundle_dir: str
    kind: str
    path: str | None = None
    url: str | None = None
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    locks_dir: str | None = None
    timeout: float = 60
    check_mode: bool = False

    @classmethod
    def from_params(cls, params: t.Mapping, check_mode: bool = False) -> MirrorSettings:
        settings = cls(bundle_dir=params["bundle_dir"], kind=params["kind"], path=params.get("path") or None,
                       url=params.get("url") or None, username=params.get("username") or None,
                       password=params.get("password") or None, locks_dir=params.get("locks_dir") or None,
                       timeout=params.get("timeout") or 60, check_mode=check_mode)
        if settings.kind == "static" and not settings.path:
            raise PyMigrateError("a static mirror needs the directory its web server serves",
                                 var="pymigrate_mirror_dir")
        if settings.kind != "static" and not settings.url:
            raise PyMigrateError("a %s mirror needs its index URL" % settings.kind, var="pymigrate_mirror_url",
                                 hint="For devpi http://host:3141/<user>/<index>, for pypiserver http://host:8080")
        return settings

    @property
    def lock_target(self) -> str | None:
        """Where the mirror's locks go: the locks directory given, else a static mirror's ``locks/`` when its URL is
        known (its files' URLs are then too); None: no locks."""
        if self.locks_dir:
            return self.locks_dir
        if self.kind == "static" and self.url and self.path:
            return os.path.join(self.path, LOCKS_DIR)
        return None


@dataclasses.dataclass(frozen=True)
class Item:
    """One distribution of the bundle: its store path and what the signed manifest says of it."""

    relpath: str
    filename: str
    project: str
    version: str
    sha256: str
    size: int


# -- verify -----------------------------------------------------------------------------------------------------
def verify(bundle_dir: str, manifest: t.Mapping) -> list:
    """Every distribution of the manifest whose file in the store has the manifest's size and sha256; any other is
    refused, each named, and nothing is published."""
    items, refused = [], []
    for project, entries in _simple.distributions(manifest).items():
        for relpath, entry in entries:
            path = os.path.join(bundle_dir, relpath)
            try:
                sha256 = file_sha256(path) if os.path.getsize(path) == entry["size"] else None
            except OSError as exc:
                refused.append("%s (%s)" % (relpath, exc.strerror))
                continue
            if sha256 != entry["sha256"]:
                found = sha256 or "of a file of another size"
                refused.append("%s (sha256 %s, the signed manifest says %s)" % (relpath, found, entry["sha256"]))
                continue
            items.append(Item(relpath, entry["filename"], project, entry["version"], entry["sha256"], entry["size"]))
    if refused:
        raise PyMigrateError("refused, their bytes are not those of the signed manifest: %s; nothing was published"
                             % "; ".join(refused), hint="Import the archive again (deploy.yml) to restore the store")
    return items


# -- a static directory -----------------------------------------------------------------------------------------
class StaticMirror:
    """A directory a web server serves: the store's layout and the bundle's index pages."""

    def __init__(self, settings: MirrorSettings):
        self.settings, self.root = settings, t.cast(str, settings.path)

    def present(self, items: t.Sequence[Item]) -> dict:
        """{filename: sha256} of the items already there (by their path)."""
        found = {}
        for item in items:
            path = os.path.join(self.root, item.relpath)
            if os.path.isfile(path):
                found[item.filename] = file_sha256(path)
        return found

    def publish(self, items: t.Sequence[Item], manifest: t.Mapping) -> None:
        """Copy each file (made complete beside its place, then renamed into it) and the provenance verified for it,
        checked against the manifest's sha256 as it is copied."""
        provenance = (manifest.get("provenance") or {}).get("files") or {}
        for item in items:
            _copy_checked(os.path.join(self.settings.bundle_dir, item.relpath), os.path.join(self.root, item.relpath),
                          item.sha256)
            record = provenance.get(item.relpath) or {}
            if record.get("provenance") and record.get("provenance_sha256"):
                _copy_checked(os.path.join(self.settings.bundle_dir, record["provenance"]),
                              os.path.join(self.root, record["provenance"]), record["provenance_sha256"])

    def pages_current(self, manifest: t.Mapping) -> bool:
        return os.path.isdir(self.root) and _simple.current(self.root, manifest)

    def write_pages(self, manifest: t.Mapping) -> int:
        return _simple.write(self.root, manifest)

    def urls(self, items: t.Sequence[Item]) -> dict:
        """{sha256: URL} of each item on the mirror (needs the mirror's URL)."""
        base = (self.settings.url or "").rstrip("/") + "/"
        return {item.sha256: base + urllib.parse.quote(item.relpath) for item in items}


def _copy_checked(source: str, target: str, sha256: str) -> None:
    if os.path.isfile(target) and file_sha256(target) == sha256:
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temp = "%s.tmp-%d" % (target, os.getpid())
    shutil.copyfile(source, temp)
    if file_sha256(temp) != sha256:
        os.unlink(temp)
        raise PyMigrateError("%s changed while it was copied to the mirror: nothing more was published" % source)
    os.replace(temp, target)


# -- a live index over its upload API ---------------------------------------------------------------------------
class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list = []

    def handle_starttag(self, tag, attrs):
        if tag == "a" and dict(attrs).get("href"):
            self.links.append(dict(attrs)["href"])


class LiveIndex:
    """devpi-server or pypiserver: what it lists is read from its simple pages; files go in over its upload API
    (the form twine posts: ``:action=file_upload``, name, version, the file as ``content``)."""

    def __init__(self, settings: MirrorSettings, session=None):
        self.settings = settings
        base = t.cast(str, settings.url).rstrip("/")
        self.simple_url = base + ("/+simple/" if settings.kind == "devpi" else "/simple/")
        self.upload_url = base + "/"
        self.session = session or requests.Session()
        if settings.username:
            self.session.auth = (settings.username, settings.password or "")
        self._listed: dict = {}

    def _get(self, url: str):
        """GET on the index itself: a redirect elsewhere (pypiserver's fallback to the public index for a project it
        does not hold) is not followed - it is answered as 404, that project is not there."""
        try:
            response = self.session.get(url, headers={"Accept": "text/html"}, timeout=self.settings.timeout,
                                        allow_redirects=False)
            location = urllib.parse.urljoin(url, response.headers.get("Location", "")) if response.is_redirect else ""
            if location and urllib.parse.urlsplit(location)[:2] == urllib.parse.urlsplit(url)[:2]:
                response = self.session.get(location, headers={"Accept": "text/html"}, timeout=self.settings.timeout,
                                            allow_redirects=False)
            if response.is_redirect:
                response.status_code = 404
            return response
        except requests.RequestException as exc:
            raise PyMigrateError("the %s index %s cannot be read: %s" % (self.settings.kind, redact(url), exc),
                                 var="pymigrate_mirror_url", value=redact(t.cast(str, self.settings.url)))

    def listed(self, project: str, again: bool = False) -> dict:
        """{filename: (sha256 or None, absolute URL)} of what the index lists for a project (nothing when it does not
        know the project)."""
        if project in self._listed and not again:
            return self._listed[project]
        url = self.simple_url + canonicalize_name(project) + "/"
        response = self._get(url)
        found: dict = {}
        if response.status_code == 200:
            parser = _Links()
            parser.feed(response.text)
            for href in parser.links:
                absolute, _sep, fragment = urllib.parse.urljoin(response.url, href).partition("#")
                filename = urllib.parse.unquote(absolute.rsplit("/", 1)[-1])
                sha256 = fragment[len("sha256="):] if fragment.startswith("sha256=") else None
                found[filename] = (sha256, absolute)
        elif response.status_code != 404:
            raise PyMigrateError("the %s index answered HTTP %d for %s"
                                 % (self.settings.kind, response.status_code, redact(url)), var="pymigrate_mirror_url")
        self._listed[project] = found
        return found

    def present(self, items: t.Sequence[Item]) -> dict:
        found = {}
        for item in items:
            listed = self.listed(item.project).get(item.filename)
            if listed is not None:
                found[item.filename] = listed[0] or self._hash_of(listed[1])
        return found

    def _hash_of(self, url: str) -> str:
        """A file the index lists without a hash: its sha256, downloaded."""
        return hashlib.sha256(self._get(url).content).hexdigest()

    def publish(self, items: t.Sequence[Item], manifest: t.Mapping) -> None:
        for item in items:
            self._upload(item)
        for item in items:  # the index must now list each file with its sha256
            listed = self.listed(item.project, again=True).get(item.filename)
            if listed is None or (listed[0] or self._hash_of(listed[1])) != item.sha256:
                raise PyMigrateError("the %s index accepted %s but does not list it with its sha256 %s"
                                     % (self.settings.kind, item.filename, item.sha256), var="pymigrate_mirror_url")

    def _upload(self, item: Item) -> None:
        wheel = item.filename.endswith(".whl")
        fields = {":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1", "name": item.project,
                  "version": item.version, "filetype": "bdist_wheel" if wheel else "sdist",
                  "pyversion": item.filename.split("-")[-3] if wheel else "source", "sha256_digest": item.sha256}
        with open(os.path.join(self.settings.bundle_dir, item.relpath), "rb") as handle:
            try:
                response = self.session.post(self.upload_url, data=fields, timeout=self.settings.timeout,
                                             files={"content": (item.filename, handle, "application/octet-stream")})
            except requests.RequestException as exc:
                raise PyMigrateError("uploading %s to the %s index failed: %s"
                                     % (item.filename, self.settings.kind, exc), var="pymigrate_mirror_url")
        if response.status_code not in (200, 201):
            raise PyMigrateError("the %s index refused the upload of %s: HTTP %d %s"
                                 % (self.settings.kind, item.filename, response.status_code,
                                    response.text.strip()[:300]), var="pymigrate_mirror_username"
                                 if response.status_code in (401, 403) else "pymigrate_mirror_url")

    def pages_current(self, manifest: t.Mapping) -> bool:
        return True  # the index makes its own pages

    def write_pages(self, manifest: t.Mapping) -> int:
        return 0

    def urls(self, items: t.Sequence[Item]) -> dict:
        return {item.sha256: self.listed(item.project)[item.filename][1] for item in items
                if item.filename in self.listed(item.project)}

    def close(self) -> None:
        self.session.close()


# -- the whole run ----------------------------------------------------------------------------------------------
def compare(items: t.Sequence[Item], present: t.Mapping) -> tuple:
    """(to publish, already there) ; a file there with another sha256 is refused, each named, nothing published."""
    conflicts = ["%s (the mirror has sha256 %s, the signed manifest says %s)" % (item.filename, present[item.filename],
                                                                                 item.sha256)
                 for item in items if item.filename in present and present[item.filename] != item.sha256]
    if conflicts:
        raise PyMigrateError("refused, the mirror holds other bytes under these names: %s; nothing was published"
                             % "; ".join(conflicts), hint="Remove them from the mirror if they are not to be kept")
    return ([item for item in items if item.filename not in present],
            [item for item in items if item.filename in present])


def mirror_locks(bundle_dir: str, urls: t.Mapping[str, str]) -> tuple:
    """({file name: text} of each environment's lock the bundle carries, every file by its URL on the mirror; [lock
    names left out, with why])."""
    texts, left_out = {}, []
    for name, lock in sorted(_lockdir.read(os.path.join(bundle_dir, _lockdir.BUNDLE_DIR)).items()):
        missing = sorted(p.filename for p in list(lock.packages.values()) + [lock.installer]
                         if p is not None and p.sha256 not in urls)
        if missing:
            left_out.append("%s (not on the mirror: %s)" % (name, ", ".join(missing)))
            continue
        texts[lock.filename] = _lockdir.render(_lockdir.relocated(lock, urls))
    return texts, left_out


def _write_locks(directory: str, texts: t.Mapping[str, str], check_mode: bool) -> list:
    changed = []
    for name, text in sorted(texts.items()):
        path = os.path.join(directory, name)
        try:
            with open(path) as handle:
                if handle.read() == text:
                    continue
        except OSError:
            pass
        changed.append(name)
        if not check_mode:
            os.makedirs(directory, exist_ok=True)
            write_atomic(path, text.encode("utf-8"))
    return changed


def publish(settings: MirrorSettings, session=None, progress=None) -> dict:
    """Verify, compare, publish (not in check mode), then the locks; the action's result."""
    progress = progress or (lambda line: None)
    manifest = _manifest.read(settings.bundle_dir)
    items = verify(settings.bundle_dir, manifest)
    mirror = StaticMirror(settings) if settings.kind == "static" else LiveIndex(settings, session)
    try:
        to_publish, skipped = compare(items, mirror.present(items))
        progress("mirror (%s): %d of %d file(s) to publish, %d there already"
                 % (settings.kind, len(to_publish), len(items), len(skipped)))
        pages = not mirror.pages_current(manifest)
        if not settings.check_mode:
            mirror.publish(to_publish, manifest)
            if pages:
                mirror.write_pages(manifest)
        locks, left_out = {}, []
        if settings.lock_target and (not settings.check_mode or not to_publish):  # (URLs of files not there: none)
            locks, left_out = mirror_locks(settings.bundle_dir, mirror.urls(items))
        written = _write_locks(t.cast(str, settings.lock_target), locks, settings.check_mode) if locks else []
    finally:
        if isinstance(mirror, LiveIndex):
            mirror.close()
    return {"changed": bool(to_publish) or pages or bool(written), "serial": manifest.get("serial"),
            "published": [item.filename for item in to_publish], "skipped": len(skipped), "pages": pages,
            "locks": sorted(locks), "locks_written": written, "locks_left_out": left_out,
            "locks_dir": settings.lock_target, "mirror": redact(settings.url) if settings.url else settings.path}
