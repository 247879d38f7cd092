"""A PEP 503 (HTML) / PEP 691 (JSON) simple index with PEP 658 metadata files, on 127.0.0.1 only.

Serves a directory made by ``catalog.build``: ``index.json`` describes the projects, ``files/`` holds the
files, and the JSON API ``/pypi/<name>/<version>/json`` (``info``, ``urls`` and ``vulnerabilities``, as
PyPI gives them), and PEP 740 provenance: the simple API's ``provenance`` key (JSON) or ``data-provenance``
(HTML), API version 1.3, and the integrity API ``/integrity/<project>/<version>/<filename>/provenance``.
Supports HTTP Range requests, optional basic auth, and fault switches for tests: corrupt bytes for a file, N
failures with 503, or 403 for everything (or for some paths). Every request is logged in ``.requests`` as
``(method, path, range header or None)``.

    server = IndexServer(root, host="127.0.0.1", port=0, auth=None)   # starts serving in a thread
    server.url          # http://127.0.0.1:PORT/simple/
    server.files_url    # http://127.0.0.1:PORT/files/
    server.corrupt.add("x-1.0-py3-none-any.whl")   # serve it with its last byte flipped
    server.fail_503["x-1.0-py3-none-any.whl"] = 2  # the next 2 requests (by file name or path) get 503
    server.forbidden = True                        # 403 for everything (or a set of paths / file names)
    server.ranges = False                          # ignore Range headers (200 with the whole file)
    server.legacy_metadata_key = True              # JSON also carries "dist-info-metadata" (PEP 714 old key)
    server.json_api = False                        # no JSON API (/pypi/<name>/<version>/json answers 404)
    server.provenance_key = False                  # pages without PEP 740 provenance (API 1.1: clients must ask the
                                                   # integrity API /integrity/<project>/<version>/<file>/provenance)
    server.downloads()                             # full-file GETs of wheels, in order
    server.stop()
"""

import base64
import hashlib
import html
import json
import os
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def negotiate(accept):
    """Pick JSON or HTML from an Accept header by q-value (PEP 691); HTML when nothing is said."""
    best, best_q = "text/html", -1.0
    for part in (accept or "").split(","):
        fields = [field.strip() for field in part.split(";")]
        kind = fields[0]
        q = 1.0
        for field in fields[1:]:
            if field.startswith("q="):
                try:
                    q = float(field[2:])
                except ValueError:
                    q = 0.0
        if kind in (JSON_TYPE, "application/vnd.pypi.simple.latest+json"):
            kind = JSON_TYPE
        elif kind in (HTML_TYPE, "application/vnd.pypi.simple.latest+html", "text/html", "*/*"):
            kind = HTML_TYPE if kind != "text/html" else "text/html"
        else:
            continue
        if q > best_q:
            best, best_q = kind, q
    return best


class IndexServer:
    def __init__(self, root, host="127.0.0.1", port=0, auth=None):
        self.root = root
        self.auth = auth
        self.requests = []
        self.corrupt = set()      # filenames served with one byte flipped
        self.fail_503 = {}        # filename or path -> remaining failures
        self.forbidden = False    # True: 403 for everything; a set: 403 for those paths or file names
        self.ranges = True        # honour Range requests
        self.legacy_metadata_key = False  # JSON: also "dist-info-metadata" (pip < 23.1 chokes on its dict form)
        self.json_api = True      # serve /pypi/<name>/<version>/json
        self.provenance_key = True  # simple pages say which files have provenance (API 1.3)
        self.endless = set()      # paths or file names answered with bytes that never end (endless data)
        self.drip = set()         # paths or file names answered one byte every drip_seconds (slow retrieval)
        self.drip_seconds = 0.2
        self._lock = threading.Lock()
        self.reload()
        handler = type("Handler", (_Handler,), {"index": self})
        self._httpd = _QuietServer((host, port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base = "http://%s:%d" % (host, self.port)
        self.url = self.base + "/simple/"
        self.files_url = self.base + "/files/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="pymigrate-test-index", daemon=True)
        self._thread.start()

    def reload(self):
        with open(os.path.join(self.root, "index.json")) as handle:
            self.projects = json.load(handle)["projects"]

    def log(self, method, path, range_header):
        with self._lock:
            self.requests.append((method, path, range_header))

    def reset(self):
        """Clear the request log and every fault switch."""
        with self._lock:
            del self.requests[:]
            self.corrupt.clear()
            self.fail_503.clear()
            self.forbidden = False
            self.ranges = True
            self.json_api = True
            self.provenance_key = True

    def is_forbidden(self, path):
        forbidden = self.forbidden
        if forbidden is True:
            return True
        return bool(forbidden) and (path in forbidden or os.path.basename(path) in forbidden)

    def downloads(self, suffix=".whl"):
        """Full-file GETs (no Range) of files ending in ``suffix``."""
        with self._lock:
            return [path for method, path, rng in self.requests
                    if method == "GET" and path.startswith("/files/") and path.endswith(suffix) and not rng]

    def take_failure(self, key):
        with self._lock:
            remaining = self.fail_503.get(key, 0)
            if remaining > 0:
                self.fail_503[key] = remaining - 1
                return True
        return False

    def stop(self):
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hangs up mid-response (range reads, cancelled downloads) is not news


class _Handler(BaseHTTPRequestHandler):
    index = None  # set per server
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass  # quiet tests

    def _send(self, status, body=b"", content_type="text/plain", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    def _authorized(self):
        if not self.index.auth:
            return True
        expected = "Basic " + base64.b64encode(("%s:%s" % self.index.auth).encode()).decode()
        return self.headers.get("Authorization") == expected

    def do_HEAD(self):  # noqa: N802
        self.do_GET()

    def do_GET(self):  # noqa: N802
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path)
        query = urllib.parse.parse_qs(split.query)
        self.index.log(self.command, path, self.headers.get("Range"))
        if not self._authorized():
            return self._send(401, b"authentication required", headers={"WWW-Authenticate": 'Basic realm="test index"'})
        if self.index.is_forbidden(path):
            return self._send(403, b"forbidden")
        if self.index.take_failure(path) or self.index.take_failure(os.path.basename(path)):
            return self._send(503, b"try again")
        if path in self.index.endless or os.path.basename(path) in self.index.endless:
            return self._endless()
        if path in self.index.drip or os.path.basename(path) in self.index.drip:
            return self._drip()
        kind = JSON_TYPE if query.get("format") == ["json"] else negotiate(self.headers.get("Accept"))
        if path == "/simple/":
            return self._root_page(kind)
        match = re.match(r"^/simple/([^/]+)/?$", path)
        if match:
            name = match.group(1)
            if name != normalize(name) or not path.endswith("/"):
                location = "/simple/%s/" % normalize(name) + ("?" + split.query if split.query else "")
                return self._send(301, headers={"Location": location})
            return self._project_page(name, kind)
        match = re.match(r"^/files/([^/]+)$", path)
        if match:
            return self._file(match.group(1))
        match = re.match(r"^/pypi/([^/]+)/([^/]+)/json/?$", path)
        if match and self.index.json_api:
            return self._release_json(normalize(match.group(1)), match.group(2))
        match = re.match(r"^/integrity/([^/]+)/([^/]+)/([^/]+)/provenance/?$", path)
        if match:
            return self._integrity(normalize(match.group(1)), match.group(2), match.group(3))
        return self._send(404, b"not found")

    def _endless(self):
        """An answer that never ends: chunk after chunk until the client goes away."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        try:
            while True:
                self.wfile.write(b"<a>" * 20000)
        except OSError:
            pass

    def _drip(self):
        """An answer that comes a byte at a time, each within any read timeout, so that it takes for ever."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _byte in range(100000):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(self.index.drip_seconds)
        except OSError:
            pass

    def _page(self, body, content_type):
        """A simple-API page with an ETag; a matching If-None-Match gets 304 (as real indexes do)."""
        etag = '"%s"' % hashlib.sha256(body).hexdigest()[:20]
        if self.headers.get("If-None-Match") == etag:
            return self._send(304, headers={"ETag": etag, "Vary": "Accept"})
        return self._send(200, body, content_type, {"ETag": etag, "Vary": "Accept"})

    def _root_page(self, kind):
        names = sorted(self.index.projects)
        if kind == JSON_TYPE:
            body = {"meta": {"api-version": "1.1"},
                    "projects": [{"name": self.index.projects[n]["name"]} for n in names]}
            return self._send(200, json.dumps(body).encode(), JSON_TYPE, {"Vary": "Accept"})
        links = "".join('<a href="/simple/%s/">%s</a>\n' % (n, html.escape(self.index.projects[n]["name"]))
                        for n in names)
        body = ('<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.1"></head>'
                "<body>\n%s</body></html>" % links)
        return self._send(200, body.encode(), kind, {"Vary": "Accept"})

    def _project_page(self, name, kind):
        project = self.index.projects.get(name)
        if project is None:
            return self._send(404, b"no such project")
        if kind == JSON_TYPE:
            files = []
            for entry in project["files"]:
                item = {"filename": entry["filename"], "url": "../../files/%s" % entry["filename"],
                        "hashes": {"sha256": entry["sha256"]}, "requires-python": entry["requires_python"],
                        "yanked": entry["yanked"] or False, "size": entry["size"],
                        "upload-time": entry["upload_time"]}
                if self.index.provenance_key:  # PEP 740 (API 1.3): a URL, or null for a file without provenance
                    item["provenance"] = ("%s/files/%s" % (self.index.base, entry["provenance"])
                                          if entry.get("provenance") else None)
                if entry["metadata_sha256"]:
                    # PEP 714: only the new key in JSON; pip < 23.1 crashes on a dict under the old one.
                    item["core-metadata"] = {"sha256": entry["metadata_sha256"]}
                    if self.index.legacy_metadata_key:
                        item["dist-info-metadata"] = {"sha256": entry["metadata_sha256"]}
                files.append(item)
            body = {"meta": {"api-version": "1.3" if self.index.provenance_key else "1.1"},
                    "name": name, "files": files,
                    "versions": sorted({_version_of(e["filename"]) for e in project["files"]})}
            return self._page(json.dumps(body).encode(), JSON_TYPE)
        links = []
        for entry in project["files"]:
            attrs = ['href="../../files/%s#sha256=%s"' % (entry["filename"], entry["sha256"])]
            if entry["requires_python"]:
                attrs.append('data-requires-python="%s"' % html.escape(entry["requires_python"]))
            if entry["yanked"]:
                reason = entry["yanked"] if isinstance(entry["yanked"], str) else ""
                attrs.append('data-yanked="%s"' % html.escape(reason))
            if entry.get("provenance") and self.index.provenance_key:
                attrs.append('data-provenance="%s/files/%s"' % (self.index.base, html.escape(entry["provenance"])))
            if entry["metadata_sha256"]:
                attrs.append('data-dist-info-metadata="sha256=%s"' % entry["metadata_sha256"])
                attrs.append('data-core-metadata="sha256=%s"' % entry["metadata_sha256"])
            links.append("<a %s>%s</a><br/>" % (" ".join(attrs), html.escape(entry["filename"])))
        body = ('<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.1"></head>'
                "<body><h1>Links for %s</h1>\n%s\n</body></html>" % (name, "\n".join(links)))
        return self._page(body.encode(), kind)

    def _release_json(self, name, version):
        """PyPI's JSON API for one release: info, urls and the known vulnerabilities."""
        project = self.index.projects.get(name)
        files = [e for e in (project or {}).get("files", []) if _version_of(e["filename"]) == version]
        if not files:
            return self._send(404, b'{"message": "Not Found"}', "application/json")
        body = {"info": {"name": project["name"], "version": version},
                "urls": [{"filename": e["filename"], "url": "%s/files/%s" % (self.index.base, e["filename"]),
                          "digests": {"sha256": e["sha256"]}, "size": e["size"], "yanked": bool(e["yanked"]),
                          "upload_time_iso_8601": e["upload_time"]} for e in files],
                "vulnerabilities": project.get("vulnerabilities", {}).get(version, [])}
        return self._send(200, json.dumps(body).encode(), "application/json")

    def _integrity(self, name, version, filename):
        """PyPI's integrity API: the provenance object of one file, or 404 with PyPI's message."""
        project = self.index.projects.get(name) or {}
        entry = next((e for e in project.get("files", []) if e["filename"] == filename
                      and _version_of(filename) == version), None)
        if not entry or not entry.get("provenance"):
            body = json.dumps({"message": "No provenance available for %s" % filename}).encode()
            return self._send(404, body, "application/json")
        with open(os.path.join(self.index.root, "files", entry["provenance"]), "rb") as handle:
            return self._send(200, handle.read(), "application/vnd.pypi.integrity.v1+json")

    def _file(self, filename):
        full = os.path.join(self.index.root, "files", filename)
        if "/" in filename or not os.path.isfile(full):
            return self._send(404, b"no such file")
        with open(full, "rb") as handle:
            data = handle.read()
        if filename in self.index.corrupt:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        content_type = "application/octet-stream"
        range_header = self.headers.get("Range")
        match = re.match(r"^bytes=(\d*)-(\d*)$", range_header or "")
        if match and match.group(0) != "bytes=-" and self.index.ranges:
            start, end = match.groups()
            if start == "":
                start, end = max(0, len(data) - int(end)), len(data) - 1
            else:
                start, end = int(start), min(int(end) if end else len(data) - 1, len(data) - 1)
            if start >= len(data) or end < start:
                return self._send(416, headers={"Content-Range": "bytes */%d" % len(data)})
            return self._send(206, data[start:end + 1], content_type,
                              {"Content-Range": "bytes %d-%d/%d" % (start, end, len(data)), "Accept-Ranges": "bytes"})
        return self._send(200, data, content_type, {"Accept-Ranges": "bytes" if self.index.ranges else "none"})


def _version_of(filename):
    if filename.endswith(".whl"):
        return filename.split("-")[1]
    if filename.endswith(".tar.gz"):
        return filename[: -len(".tar.gz")].rsplit("-", 1)[1]
    if filename.endswith(".metadata"):
        return _version_of(filename[: -len(".metadata")])
    return ""
