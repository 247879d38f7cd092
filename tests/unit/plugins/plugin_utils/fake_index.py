"""An in-memory stand-in for _index.IndexClient: the same methods the resolver, the fetcher and the bundle
build call, over a dict of releases, with no network. Counts downloads so tests can prove what was fetched."""

import hashlib

from packaging.version import Version

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._index import CoreMetadata, IndexConfig
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import DistFile, PyMigrateError

BASE = "http://index.invalid/simple/"


class _Response:
    def __init__(self, status_code, data):
        self.status_code, self._data = status_code, data

    def iter_content(self, chunk_size):
        for start in range(0, len(self._data), chunk_size):
            yield self._data[start:start + chunk_size]

    def close(self):
        pass


class FakeIndexClient:
    """``releases``: {name: {version: [requires_dist strings]}}; each release has one py3-none-any wheel."""

    def __init__(self, releases):
        self.indexes = [IndexConfig(BASE)]
        self.downloads = []
        self.corrupt = set()  # file names served with other bytes than listed
        self._files, self._meta, self._data = {}, {}, {}
        for name, versions in releases.items():
            for version, requires in versions.items():
                filename = "%s-%s-py3-none-any.whl" % (name.replace("-", "_"), version)
                data = ("wheel %s %s" % (name, version)).encode()
                dist = DistFile(project=name, version=version, filename=filename, url=BASE + "files/" + filename,
                                sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                                upload_time="2024-01-01T00:00:00Z", index_url=BASE)
                self._files.setdefault(name, []).append(dist)
                self._meta[dist.url] = CoreMetadata(tuple(requires), None, (), None, "MIT", "fake %s" % name)
                self._data[dist.url] = data

    def project_files(self, name):
        if name not in self._files:
            raise PyMigrateError("project %s was not found on any index (%s)" % (name, BASE))
        return list(self._files[name])

    def project_versions(self, name):
        versions = {dist.version for dist in self.project_files(name)}
        return sorted(((Version(v), v) for v in versions), reverse=True)

    def version_files(self, name, version):
        return [dist for dist in self.project_files(name) if dist.version == version]

    def metadata(self, dist):
        return self._meta[dist.url]

    def prefetch(self, dist):
        pass

    def prefetch_projects(self, names):
        pass

    def close(self):
        self.closed = True

    def chunks(self, response, what, limit, size=None):  # the real client bounds them (endless data, slow retrieval)
        return response.iter_content(1 << 16)

    def body(self, response, what, limit=None):
        return b"".join(response.iter_content(1 << 16))

    def get(self, url, headers=None, stream=False):
        if "/pypi/" in url and url.endswith("/json"):  # no JSON API here: the vulnerability check skips
            return _Response(404, b"")
        if "/integrity/" in url:  # no integrity API either: the provenance check records the files as absent
            return _Response(404, b'{"message": "No provenance available"}')
        self.downloads.append(url)
        data = self._data[url]
        return _Response(200, data + b"!" if url.rsplit("/", 1)[-1] in self.corrupt else data)
