# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 3, index access: simple API pages (PEP 691 JSON, PEP 503 HTML fallback) and core metadata
(PEP 658/714 files, else the wheel's METADATA read with HTTP range requests).

One ``requests.Session`` with a pool sized for parallel work; proxies and netrc come from the environment
as requests handles them; credentials never appear in messages (URLs are shown without userinfo).
Indexes are consulted in order and the first one that knows a project supplies all of its files: a
later index can never slip in a package of the same name (dependency confusion).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import difflib
import hashlib
import html
import html.parser
import io
import json
import os
import random
import socket
import threading
import time
import typing as t
import urllib.parse
import zipfile

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import file_sha256
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import (
    InvalidVersion,
    Version,
    canonicalize_name,
    create_urllib3_context,
    parse_email,
    requests,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import DistFile, PyMigrateError

ACCEPT = ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
          "text/html;q=0.01")
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# Endless data: what an answer may hold at most (a file the index gave the size of, at most that size).
MAX_PAGE_BYTES = 64 << 20  # a project page (the largest real ones hold a few MB)
MAX_METADATA_BYTES = 16 << 20  # a METADATA file, a provenance object, a JSON API document
MAX_FILE_BYTES = 8 << 30  # a file the index states no size of
# Slow retrieval: a transfer must average this many bytes a second after its first ``timeout`` seconds, and a page or
# a small document must be done within ``timeout`` plus PAGE_SECONDS; slower ones are given up.
MIN_RATE = 16 << 10
PAGE_SECONDS = 300


@dataclasses.dataclass(frozen=True)
class IndexConfig:
    url: str
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    token: str | None = dataclasses.field(default=None, repr=False)
    flat: bool = False  # a find-links directory of files (file://), read as an index with one page per project

    @property
    def base(self) -> str:
        return self.url if self.url.endswith("/") else self.url + "/"


@dataclasses.dataclass(frozen=True)
class CoreMetadata:
    requires_dist: tuple
    requires_python: str | None
    provides_extra: tuple
    license: str | None
    license_expression: str | None
    summary: str | None
    classifiers: tuple = ()  # Trove classifiers (the SBOM takes the licence ones when no other licence is declared)


def index_config(url: str, username: str | None = None, password: str | None = None,
                 token: str | None = None) -> IndexConfig:
    """An index from user input: credentials written inside the URL (``https://user:pass@host/simple/``) become its
    auth (explicit ones win), so that the URL itself, which reaches cache keys, files and messages, holds none."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is not None or parts.password is not None:
        if username is None and token is None:
            username = urllib.parse.unquote(parts.username or "")
            password = urllib.parse.unquote(parts.password or "")
        url = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return IndexConfig(url, username, password, token)


def index_root_url(index_base: str, *parts: str) -> str | None:
    """A URL beside a simple index: ``<root>/simple/`` -> ``<root>/<part>/<part>/...`` (each part quoted), as the
    JSON API (``pypi/<name>/<version>/json``) and the integrity API (``integrity/.../provenance``) lie beside it; an
    index not ending in ``/simple`` has its last path segment taken as ``simple``. None for an index that has no such
    root (a local directory, a find-links directory)."""
    if not index_base.startswith(("http://", "https://")):
        return None
    base = index_base if index_base.endswith("/") else index_base + "/"
    split = urllib.parse.urlsplit(base)
    path = split.path.rstrip("/")
    root = path[: -len("/simple")] if path.endswith("/simple") else path.rsplit("/", 1)[0]
    target = "/".join([root] + [urllib.parse.quote(part) for part in parts])
    return urllib.parse.urlunsplit((split.scheme, split.netloc, target, "", ""))


def local_source(location: str, flat: bool = False) -> IndexConfig:
    """A local directory (a path or a file:// URL) as an index: a PEP 503 directory index, or with ``flat`` a
    find-links directory of wheels and sdists."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(location).path) if location.startswith("file:") else location
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(path):
        raise PyMigrateError("local %s %s is not a directory" % ("find-links" if flat else "index", location),
                             value=location, hint="Point it at a directory on the control node")
    return IndexConfig("file://" + urllib.parse.quote(path.rstrip("/") + "/"), flat=flat)


class _TlsAdapter(requests.adapters.HTTPAdapter if requests is not None else object):  # type: ignore[misc]
    """requests' adapter, with one TLS context per CA location, shared by every connection to the indexes: without it
    each new connection loads the CA bundle again (tens of ms of CPU each, and a build opens 16 at once). The checks
    are requests' own: a certificate required and its hostname matched, against the CA bundle requests picks (the
    one given, else REQUESTS_CA_BUNDLE, else its default)."""

    def __init__(self, **kwargs):
        self._contexts: dict = {}
        self._contexts_lock = threading.Lock()
        super().__init__(**kwargs)

    def tls_context(self, location: str):
        """The context trusting the CA bundle (file or directory) at ``location``: made once."""
        with self._contexts_lock:
            context = self._contexts.get(location)
            if context is None:
                context = create_urllib3_context()  # CERT_REQUIRED, as each connection's own would be
                if os.path.isdir(location):
                    context.load_verify_locations(capath=location)
                else:
                    context.load_verify_locations(cafile=location)
                self._contexts[location] = context
            return context

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params.get("scheme") == "https" and verify:
            location = verify if isinstance(verify, str) else requests.adapters.DEFAULT_CA_BUNDLE_PATH
            pool_kwargs["ssl_context"] = self.tls_context(location)
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
        return host_params, pool_kwargs

    def cert_verify(self, conn, url, verify, cert):
        super().cert_verify(conn, url, verify, cert)  # (a CA path that does not exist still fails here)
        if verify and (getattr(conn, "conn_kw", None) or {}).get("ssl_context") is not None:
            conn.ca_certs = conn.ca_cert_dir = None  # in the pool's shared context already: not loaded again


class _FileAdapter:
    """file:// for requests: files as they are; a project page of a directory index from its index.html or
    its file listing; a project page of a flat find-links directory made from the files named for the project.
    (requests needs only send() and close() of an adapter; no base class, so the module imports without requests.)"""

    def __init__(self, flat_roots: t.Iterable[str]):
        self.flat_roots = tuple(flat_roots)

    def send(self, request, **kwargs):
        response = requests.Response()
        response.request, response.url = request, request.url
        path = urllib.parse.unquote(urllib.parse.urlsplit(request.url).path)
        body, content_type = None, "text/html"
        flat = next((root for root in self.flat_roots if path.startswith(root)), None)
        if flat is not None and path != flat and path.endswith("/"):
            body = self._flat_page(flat, canonicalize_name(path[len(flat):].strip("/")))
        elif os.path.isfile(path):
            with open(path, "rb") as handle:
                body, content_type = handle.read(), "application/octet-stream"
        elif os.path.isfile(os.path.join(path, "index.html")):
            with open(os.path.join(path, "index.html"), "rb") as handle:
                body = handle.read()
        elif os.path.isdir(path):
            body = "".join('<a href="%s">%s</a>\n' % (urllib.parse.quote(name), html.escape(name))
                           for name in sorted(os.listdir(path))).encode()
        response.status_code = 200 if body is not None else 404
        response.headers["Content-Type"] = content_type
        response.raw = io.BytesIO(body or b"")
        return response

    @staticmethod
    def _flat_page(root: str, key: str) -> bytes | None:
        links = []
        for name in sorted(os.listdir(root)):
            if _version_of(name) is None or canonicalize_name(_project_of(name)) != key:
                continue
            digest = file_sha256(os.path.join(root, name))
            url = "file://" + urllib.parse.quote(os.path.join(root, name))  # beside the page, not below it
            links.append('<a href="%s#sha256=%s">%s</a>\n' % (url, digest, html.escape(name)))
        return "".join(links).encode() if links else None

    def close(self):
        pass


def _project_of(filename: str) -> str:
    """The project part of a wheel or sdist file name (a find-links directory holds many projects)."""
    if filename.endswith(".whl"):
        return filename.split("-")[0]
    stem = filename[: -len(".tar.gz")] if filename.endswith(".tar.gz") else filename.rsplit(".", 1)[0]
    return stem.rsplit("-", 1)[0]


def redact(url: str) -> str:
    """A URL without user:password@ (for messages)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += ":%d" % parts.port
        parts = parts._replace(netloc=netloc)
    return urllib.parse.urlunsplit(parts)


class _LinkParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs))


def _yanked(value: t.Any) -> str | None:
    if value is None or value is False:
        return None
    if value is True:
        return ""
    return str(value)


def _metadata_hash(value: t.Any) -> str | None:
    """PEP 658/714: True/'true' (no hash known: ''), {'sha256': h} or 'sha256=h'; None when absent."""
    if value is None or value is False or value == "false":
        return None
    if isinstance(value, dict):
        return value.get("sha256", "")
    if isinstance(value, str) and value.startswith("sha256="):
        return value[len("sha256="):]
    return ""


def _absolute(page_url: str, url: str) -> str:
    # Most indexes give absolute file URLs; urljoin for each of tens of thousands of files is the
    # single biggest cost of reading long release histories, so it runs only for relative ones.
    if url.startswith(("https://", "http://", "file://")):
        return url
    return urllib.parse.urljoin(page_url, url)


def _version_of(filename: str) -> str | None:
    """The version part of a wheel or sdist file name, unparsed: long release histories hold thousands of
    files, and only the few versions resolution looks at are parsed (by packaging) later."""
    if filename.endswith(".whl"):
        parts = filename.split("-")
        return parts[1] if len(parts) in (5, 6) else None
    for suffix in (".tar.gz", ".zip"):
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            return stem.rsplit("-", 1)[1] if "-" in stem else None
    return None


class IndexClient:
    def __init__(self, indexes: t.Sequence[IndexConfig], ca_bundle: str | None = None, timeout: float = 30,
                 retries: int = 3, session: requests.Session | None = None, workers: int = 8,
                 cache_dir: str | None = None, cache_ttl: float = 600):
        if not indexes:
            raise PyMigrateError("no package index configured", var="pymigrate_index_url")
        self.indexes = list(indexes)
        self.timeout = timeout
        self.min_rate = MIN_RATE
        self.retries = retries
        self.session = session or requests.Session()
        adapter = _TlsAdapter(pool_connections=8, pool_maxsize=max(16, workers * 2))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        file_adapter = _FileAdapter(urllib.parse.unquote(urllib.parse.urlsplit(index.base).path)
                                    for index in self.indexes if index.flat)
        self.session.mount("file://", t.cast(t.Any, file_adapter))  # an adapter by its methods, not its base
        self.session.headers["User-Agent"] = "airgap.pymigrate"
        # Passed with every request: a session-wide verify loses to REQUESTS_CA_BUNDLE in the environment.
        self.ca_bundle = ca_bundle
        self._projects: dict[str, concurrent.futures.Future] = {}
        self._versions: dict[str, t.Any] = {}
        self._metadata: dict[str, concurrent.futures.Future] = {}
        # On disk: project pages with their validators (revalidated, so a re-run costs one 304 per
        # project) and core metadata by the file's sha256 (immutable: same bytes, same metadata).
        self.cache_dir = cache_dir
        # Like an HTTP cache honouring max-age (PyPI-style simple pages say 600 s): a page read less than
        # cache_ttl seconds ago is reused without asking; older ones are revalidated or read again.
        self.cache_ttl = cache_ttl
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pymigrate-meta")
        self._page_pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers,
                                                                thread_name_prefix="pymigrate-page")

    def close(self):
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._page_pool.shutdown(wait=False, cancel_futures=True)
        self.session.close()

    # -- HTTP ---------------------------------------------------------------------------------------
    def _auth_for(self, url: str):
        for index in self.indexes:
            same_host = urllib.parse.urlsplit(url).netloc == urllib.parse.urlsplit(index.base).netloc
            if url.startswith(index.base) or same_host:
                if index.token:
                    return None, {"Authorization": "Bearer %s" % index.token}
                if index.username is not None:
                    return (index.username, index.password or ""), {}
        return None, {}

    def body(self, response, what: str, limit: int = MAX_METADATA_BYTES) -> bytes:
        """The whole body of a small answer (a page, metadata, a document), bounded in size and time."""
        return b"".join(self.chunks(response, what, limit))

    def chunks(self, response, what: str, limit: int, size: int | None = None) -> t.Iterator[bytes]:
        """The body in chunks, never more than ``size`` (the index's word) or ``limit`` bytes (endless data), and
        within ``timeout`` plus the time the expected bytes take at MIN_RATE (slow retrieval: a watchdog closes the
        connection, which ends a read the server drips bytes into)."""
        seconds = self.timeout + (size / self.min_rate if size is not None else PAGE_SECONDS)
        bound = size if size is not None else limit
        fired: list = []

        def give_up():
            fired.append(True)
            _shut(response)
        watchdog = threading.Timer(seconds, give_up)
        watchdog.daemon = True
        watchdog.start()
        received = 0
        try:
            for chunk in response.iter_content(1 << 16):
                received += len(chunk)
                if received > bound:
                    raise PyMigrateError("%s sent more than %d bytes%s: refused (endless data)"
                                         % (what, bound, " (its stated size)" if size is not None else ""))
                yield chunk
        except (requests.exceptions.RequestException, OSError, ValueError, AttributeError) as exc:
            if not fired:
                raise PyMigrateError("%s broke off after %d bytes (%s)" % (what, received, type(exc).__name__))
        finally:
            watchdog.cancel()
        if fired:
            raise PyMigrateError("%s did not arrive within %d s (%d bytes came): given up as too slow (slow "
                                 "retrieval)" % (what, seconds, received),
                                 hint="Check the index and the network; a mirror that drips bytes is refused")

    def get(self, url: str, headers: t.Mapping | None = None, stream: bool = False) -> requests.Response:
        """GET with retries (connection errors and 5xx, exponential backoff); errors say which index."""
        auth, extra = self._auth_for(url)
        all_headers = dict(extra, **(headers or {}))
        delay = 0.2
        for attempt in range(self.retries + 1):
            try:
                response = self.session.get(url, headers=all_headers, auth=auth, timeout=self.timeout,
                                            stream=stream, verify=self.ca_bundle or True)
            except requests.exceptions.SSLError as exc:
                raise PyMigrateError("TLS verification failed for %s: %s" % (redact(url), type(exc).__name__),
                                     hint="Set pymigrate_index_ca_bundle to the CA bundle of your index")
            except requests.exceptions.RequestException as exc:
                if attempt < self.retries:
                    time.sleep(delay + random.uniform(0, delay))
                    delay *= 2
                    continue
                raise PyMigrateError("package index unreachable at %s (%s)" % (redact(url), type(exc).__name__),
                                     hint="Check pymigrate_index_url, proxies (HTTPS_PROXY) and the network")
            if response.status_code >= 500 and attempt < self.retries:
                response.close()
                time.sleep(delay + random.uniform(0, delay))
                delay *= 2
                continue
            if response.status_code in (401, 403):
                response.close()
                meaning = "unauthorized" if response.status_code == 401 else "forbidden"
                raise PyMigrateError("package index %s answered %d %s" % (redact(url), response.status_code, meaning),
                                     hint="Check the index credentials (pymigrate_index_username/password or "
                                          "token, or ~/.netrc)")
            return response
        raise AssertionError("unreachable")

    # -- project pages ------------------------------------------------------------------------------
    def _page(self, name: str) -> dict:
        key = canonicalize_name(name)
        with self._lock:
            cached = self._projects.get(key)
        if cached is None:
            cached = self._page_future(key)
        return cached.result()

    def project_files(self, name: str) -> list:
        """Every usable file of a project (first index that knows it)."""
        page = self._page(name)
        return [dist for version in page["raw"] for dist in self.version_files(name, version)]

    def _page_future(self, key: str):
        """One fetch per project, shared: a prefetch in flight is awaited, not repeated."""
        with self._lock:
            future = self._projects.get(key)
            if future is None:
                future = self._projects[key] = self._page_pool.submit(self._fetch_project, key)
        return future

    def _fetch_project(self, key: str) -> dict:
        files = None
        for index in self.indexes:
            page_url = index.base + key + "/"
            # A local directory is read each time: it is as cheap as the cache and never stale.
            cached = None if index.base.startswith("file:") else self._cache_read("pages", page_url)
            if cached and time.time() - cached.get("fetched_at", 0) < self.cache_ttl:
                files = self._page_dict(key, cached["url"], index.base, cached["files"])
                break
            headers = {"Accept": ACCEPT}
            if cached and cached.get("etag"):
                headers["If-None-Match"] = cached["etag"]
            if cached and cached.get("last_modified"):
                headers["If-Modified-Since"] = cached["last_modified"]
            response = self.get(page_url, headers=headers, stream=True)
            if response.status_code == 304 and cached:
                self._cache_write("pages", page_url, dict(cached, fetched_at=time.time()))
                files = self._page_dict(key, cached["url"], index.base, cached["files"])
                break
            if response.status_code == 404:
                continue
            if response.status_code != 200:
                raise PyMigrateError("package index %s answered %d for project %s"
                                     % (redact(index.base), response.status_code, key))
            content_type = response.headers.get("Content-Type", "")
            text = self.body(response, "the page of %s at %s" % (key, redact(index.base)),
                             MAX_PAGE_BYTES).decode(response.encoding or "utf-8", "replace")
            files = self._parse_page(key, response.url, content_type, text, index.base)
            # The cache keeps the compact parsed form: reading it back is one json.loads, no parsing.
            if not index.base.startswith("file:"):
                self._cache_write("pages", page_url, {"etag": response.headers.get("ETag"),
                                                      "last_modified": response.headers.get("Last-Modified"),
                                                      "url": response.url, "files": files["raw"],
                                                      "fetched_at": time.time()})
            break
        if files is None:
            raise PyMigrateError("project %s was not found on any index (%s)"
                                 % (key, ", ".join(redact(i.base) for i in self.indexes)),
                                 hint=self._suggest(key))
        return files

    def _suggest(self, key: str) -> str | None:
        names = []
        for index in self.indexes:
            try:
                response = self.get(index.base, headers={"Accept": ACCEPT})
            except PyMigrateError:
                continue
            if response.status_code != 200:
                continue
            if response.headers.get("Content-Type", "").startswith(JSON_TYPE):
                names += [canonicalize_name(p["name"]) for p in response.json().get("projects", [])]
            else:
                parser = _LinkParser()
                parser.feed(response.text)
                names += [canonicalize_name(link.get("href", "").rstrip("/").rsplit("/", 1)[-1])
                          for link in parser.links]
        close = difflib.get_close_matches(key, sorted(set(names)), n=3, cutoff=0.6)
        return "Did you mean %s?" % " or ".join(close) if close else "Check the spelling and the index URLs"

    def _cache_path(self, kind: str, key: str) -> str | None:
        if not self.cache_dir:
            return None
        return os.path.join(self.cache_dir, kind, hashlib.sha256(key.encode()).hexdigest() + ".json")

    def _cache_read(self, kind: str, key: str):
        path = self._cache_path(kind, key)
        if not path:
            return None
        try:
            with open(path) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def _cache_write(self, kind: str, key: str, value) -> None:
        path = self._cache_path(kind, key)
        if not path:
            return
        try:
            # Private to the user who builds: pages may name internal projects and mirrors.
            for directory in (os.path.dirname(os.path.dirname(path)), os.path.dirname(path)):
                os.makedirs(directory, mode=0o700, exist_ok=True)
                os.chmod(directory, 0o700)
            temp = "%s.%d.tmp" % (path, threading.get_ident())
            with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
                handle.write(json.dumps(value))  # json.dump to a file encodes in pure Python: 10 times slower
            os.replace(temp, path)
        except OSError:
            pass  # a cache that cannot be written only costs speed

    def project_versions(self, name: str) -> list:
        """[(Version, version string)] newest first; parsed once and shared by every profile."""
        key = canonicalize_name(name)
        with self._lock:
            cached = self._versions.get(key)
        if cached is None:
            parsed = []
            for text in self._page(key)["raw"]:
                try:
                    parsed.append((Version(text), text))
                except InvalidVersion:
                    continue
            cached = sorted(parsed, key=lambda item: item[0], reverse=True)
            with self._lock:
                self._versions[key] = cached
        return cached

    def prefetch_projects(self, names: t.Iterable[str]) -> None:
        """Start fetching (or revalidating) project pages in parallel; errors surface when resolution asks."""
        for name in set(names):
            self._page_future(canonicalize_name(name))

    def _parse_page(self, key: str, page_url: str, content_type: str, body: str, index_base: str) -> dict:
        """{version string: [raw file entries]}; DistFiles are made only for the versions resolution reads."""
        if content_type.startswith(JSON_TYPE):
            items = json.loads(body).get("files", [])
        else:
            items = []
            parser = _LinkParser()
            parser.feed(body)
            for link in parser.links:
                href = link.get("href")
                if not href:
                    continue
                url, _sep, fragment = urllib.parse.urljoin(page_url, href).partition("#")
                items.append({
                    "filename": urllib.parse.unquote(url.rsplit("/", 1)[-1]), "url": url,
                    "hashes": {"sha256": fragment[len("sha256="):]} if fragment.startswith("sha256=") else {},
                    "requires-python": link.get("data-requires-python"),
                    # A valueless data-yanked attribute still means yanked (with no reason).
                    "yanked": (link["data-yanked"] or True) if "data-yanked" in link else False,
                    "core-metadata": link.get("data-core-metadata", link.get("data-dist-info-metadata")),
                    # PEP 740: an absolute URL; without the attribute the page does not say (older API).
                    "provenance": link["data-provenance"] if link.get("data-provenance") else None})
        by_version: dict[str, list] = {}
        for item in items:
            version = _version_of(item["filename"])
            if version is not None:  # eggs, .exe and other files no installer here can use
                by_version.setdefault(version, []).append([
                    item["filename"], item["url"], (item.get("hashes") or {}).get("sha256"), item.get("size"),
                    item.get("requires-python"), item.get("yanked"), item.get("upload-time"),
                    item.get("core-metadata", item.get("dist-info-metadata")),
                    # JSON: null means "none"; a missing key (API before 1.3) means the page does not say.
                    (item["provenance"] or "") if "provenance" in item else None])
        return self._page_dict(key, page_url, index_base, by_version)

    @staticmethod
    def _page_dict(key, page_url, index_base, by_version) -> dict:
        return {"key": key, "page_url": page_url, "index_base": index_base, "raw": by_version, "dists": {}}

    def version_files(self, name: str, version: str) -> list:
        """DistFiles of one version of a project (made on first use)."""
        page = self._page(name)
        with self._lock:
            dists = page["dists"].get(version)
        if dists is None:
            dists = [self._dist(page, item) for item in page["raw"].get(version, [])]
            with self._lock:
                page["dists"][version] = dists
        return dists

    @staticmethod
    def _dist(page, item) -> DistFile:
        filename, url, sha256, size, requires_python, yanked, upload_time, metadata = item[:8]
        provenance = item[8] if len(item) > 8 else None  # pages cached before provenance was read have 8 fields
        # Files are grouped by their version before they become DistFiles: one without a version never gets here.
        return DistFile(project=page["key"], version=t.cast(str, _version_of(filename)), filename=filename,
                        url=_absolute(page["page_url"], url), sha256=sha256, size=size,
                        requires_python=requires_python or None, yanked=_yanked(yanked), upload_time=upload_time,
                        metadata_sha256=_metadata_hash(metadata), index_url=page["index_base"],
                        provenance_url=_absolute(page["page_url"], provenance) if provenance else provenance)

    # -- metadata -----------------------------------------------------------------------------------
    def prefetch(self, dist: DistFile) -> None:
        """Start reading a file's metadata in the background (resolution asks for it soon)."""
        with self._lock:
            if dist.url not in self._metadata:
                self._metadata[dist.url] = self._pool.submit(self._read_metadata, dist)

    def metadata(self, dist: DistFile) -> CoreMetadata:
        self.prefetch(dist)
        with self._lock:
            future = self._metadata[dist.url]
        return future.result()

    def _read_metadata(self, dist: DistFile) -> CoreMetadata:
        cached = self._cache_read("metadata", dist.sha256) if dist.sha256 else None
        if cached and "classifiers" in cached:  # (entries cached before classifiers were kept are read again)
            fields: dict[str, t.Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in cached.items()}
            return CoreMetadata(**fields)
        meta = self._fetch_metadata(dist)
        if dist.sha256:
            self._cache_write("metadata", dist.sha256, dataclasses.asdict(meta))
        return meta

    def _fetch_metadata(self, dist: DistFile) -> CoreMetadata:
        if dist.url.startswith("file://"):  # a wheel built here from an sdist
            with zipfile.ZipFile(urllib.parse.unquote(dist.url[len("file://"):])) as archive:
                return parse_metadata(_wheel_metadata(archive, dist.filename), dist.filename)
        if dist.metadata_sha256 is not None:
            response = self.get(dist.url + ".metadata", stream=True)
            if response.status_code == 200:
                data = self.body(response, "the metadata of %s" % dist.filename)
                if dist.metadata_sha256 and hashlib.sha256(data).hexdigest() != dist.metadata_sha256:
                    raise PyMigrateError("metadata of %s from %s does not match its sha256 %s"
                                         % (dist.filename, redact(dist.index_url), dist.metadata_sha256))
                return parse_metadata(data, dist.filename)
        if not dist.filename.endswith(".whl"):
            raise PyMigrateError("no metadata for %s without building it" % dist.filename)
        return parse_metadata(self._wheel_metadata_by_range(dist), dist.filename)

    def _wheel_metadata_by_range(self, dist: DistFile) -> bytes:
        with zipfile.ZipFile(_RangeFile(self, dist)) as archive:
            return _wheel_metadata(archive, dist.filename)


def _shut(response) -> None:
    """End a transfer another thread is blocked reading: shut its socket down (a close alone does not wake a read
    blocked in recv), then close the response."""
    connection = getattr(getattr(response, "raw", None), "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    response.close()


def _wheel_metadata(archive: zipfile.ZipFile, filename: str) -> bytes:
    candidates = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1]
    if not candidates:
        raise PyMigrateError("%s has no .dist-info/METADATA" % filename)
    return archive.read(candidates[0])


def wheel_file_metadata(path: str) -> CoreMetadata:
    """The core metadata of a wheel on disk (a file of the bundle's store): no index needed."""
    filename = os.path.basename(path)
    with zipfile.ZipFile(path) as archive:
        return parse_metadata(_wheel_metadata(archive, filename), filename)


def parse_metadata(data: bytes, filename: str) -> CoreMetadata:
    raw, _unparsed = parse_email(data)
    return CoreMetadata(requires_dist=tuple(raw.get("requires_dist", ())), requires_python=raw.get("requires_python"),
                        provides_extra=tuple(raw.get("provides_extra", ())), license=raw.get("license"),
                        license_expression=raw.get("license_expression"), summary=raw.get("summary"),
                        classifiers=tuple(raw.get("classifiers", ())))


class _RangeFile(io.RawIOBase):
    """A seekable read-only view of a remote file via HTTP Range requests, for zipfile.

    Reads the tail first (central directory); when the server ignores ranges (200), the whole body
    is kept instead.
    """

    CHUNK = 64 * 1024

    def __init__(self, client: IndexClient, dist: DistFile):
        super().__init__()
        self.client, self.url, self.pos = client, dist.url, 0
        self.blocks = {}
        response = client.get(self.url, headers={"Range": "bytes=-%d" % self.CHUNK})
        if response.status_code == 206:
            total = int(response.headers["Content-Range"].rsplit("/", 1)[1])
            self.size = total
            self.blocks[total - len(response.content)] = response.content
        elif response.status_code == 200:
            self.size = len(response.content)
            self.blocks[0] = response.content
        else:
            raise PyMigrateError("could not read %s from %s (HTTP %d)"
                                 % (dist.filename, redact(dist.index_url), response.status_code))

    def seekable(self):
        return True

    def readable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def _cached(self, start, end):
        for block_start, data in self.blocks.items():
            if block_start <= start and end <= block_start + len(data):
                return data[start - block_start:end - block_start]
        return None

    def read(self, size=-1):
        if size is None or size < 0:
            size = self.size - self.pos
        end = min(self.size, self.pos + size)
        if self.pos >= end:
            return b""
        data = self._cached(self.pos, end)
        if data is None:
            fetch_end = min(self.size, max(end, self.pos + self.CHUNK))
            response = self.client.get(self.url, headers={"Range": "bytes=%d-%d" % (self.pos, fetch_end - 1)})
            if response.status_code != 206:
                raise PyMigrateError("range request refused for %s" % redact(self.url))
            self.blocks[self.pos] = response.content
            data = response.content[: end - self.pos]
        self.pos += len(data)
        return data

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
