"""The bundle as a static index: the pages of every project (HTML and JSON) with relative links, the metadata files
byte for byte, yanked state, upload times and provenance; a second write changes nothing; a project gone loses its
pages."""

import hashlib
import html.parser
import io
import json
import os
import zipfile

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import store_relpath
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _simple

METADATA = b"Metadata-Version: 2.4\nName: Foo_Bar\nVersion: 1.0\nRequires-Python: >=3.9,<4\n\nA description.\n"


def wheel_bytes(metadata=METADATA, dist_info="foo_bar-1.0.dist-info"):
    """The same bytes on every call: members dated alike (writestr with a name dates them now, and two calls a
    second apart differed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in (("foo_bar/__init__.py", ""), (dist_info + "/METADATA", metadata),
                           (dist_info + "/RECORD", "")):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def add(bundle, files, filename, data, project, version, **extra):
    sha256 = hashlib.sha256(data).hexdigest()
    relpath = store_relpath(sha256, filename)
    os.makedirs(os.path.dirname(os.path.join(bundle, relpath)), exist_ok=True)
    with open(os.path.join(bundle, relpath), "wb") as handle:
        handle.write(data)
    files[relpath] = dict({"filename": filename, "sha256": sha256, "size": len(data), "project": project,
                           "version": version}, **extra)
    return relpath


def bundle_with_files(tmp_path):
    bundle, files = str(tmp_path), {}
    wheel = add(bundle, files, "foo_bar-1.0-py3-none-any.whl", wheel_bytes(), "foo-bar", "1.0",
                upload_time="2024-02-01T00:00:00Z")
    yanked = add(bundle, files, "foo_bar-0.9-py3-none-any.whl", wheel_bytes(METADATA.replace(b"1.0", b"0.9")),
                 "foo-bar", "0.9", yanked="broken <build>")
    sdist = add(bundle, files, "other-2.0.tar.gz", b"not really a tarball", "other", "2.0", yanked="")
    add(bundle, files, "oci-blob", b"layer", "localhost/img", "oci-layer")  # an image's blob: no distribution
    provenance = {wheel: {"state": "verified", "provenance": wheel + ".provenance",
                          "filename": "foo_bar-1.0-py3-none-any.whl"},
                  yanked: {"state": "verified", "provenance": yanked + ".provenance",
                           "filename": "foo_bar-0.9.tar.gz"}}  # (of the sdist the wheel was built from: not named)
    return {"files": files, "provenance": {"files": provenance}}, wheel, yanked, sdist


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.meta = [], {}

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs))
        elif tag == "meta":
            self.meta[dict(attrs)["name"]] = dict(attrs)["content"]


def parse(path):
    parser = Links()
    with open(path) as handle:
        parser.feed(handle.read())
    return parser


def test_the_pages_link_every_file_relatively_with_its_hashes_metadata_and_state(tmp_path):
    manifest, wheel, yanked, sdist = bundle_with_files(tmp_path)
    assert _simple.write(str(tmp_path), manifest) > 0
    root = parse(tmp_path / "simple" / "index.html")
    assert [link["href"] for link in root.links] == ["foo-bar/", "other/"]
    assert root.meta == {"pypi:repository-version": "1.3"}
    assert (tmp_path / "simple" / "index.v1_html").read_bytes() == (tmp_path / "simple" / "index.html").read_bytes()
    assert json.loads((tmp_path / "simple" / "index.v1_json").read_text()) == {
        "meta": {"api-version": "1.3"}, "projects": [{"name": "foo-bar"}, {"name": "other"}]}

    page = parse(tmp_path / "simple" / "foo-bar" / "index.html")
    by_name = {link["href"].split("#")[0].rsplit("/", 1)[1]: link for link in page.links}
    metadata_sha = hashlib.sha256(METADATA).hexdigest()
    current = by_name["foo_bar-1.0-py3-none-any.whl"]
    assert current == {"href": "../../%s#sha256=%s" % (wheel, manifest["files"][wheel]["sha256"]),
                       "data-requires-python": ">=3.9,<4", "data-core-metadata": "sha256=" + metadata_sha,
                       "data-dist-info-metadata": "sha256=" + metadata_sha,
                       "data-provenance": "../../%s.provenance" % wheel}
    assert by_name["foo_bar-0.9-py3-none-any.whl"]["data-yanked"] == "broken <build>"
    # The metadata file beside the wheel is the wheel's METADATA, byte for byte, where the link says it is.
    assert (tmp_path / (wheel + ".metadata")).read_bytes() == METADATA
    assert os.path.normpath(os.path.join("simple", "foo-bar", current["href"].split("#")[0])) == wheel

    document = json.loads((tmp_path / "simple" / "foo-bar" / "index.v1_json").read_text())
    assert document["meta"] == {"api-version": "1.3"} and document["name"] == "foo-bar"
    assert document["versions"] == ["0.9", "1.0"]
    newest = [f for f in document["files"] if f["filename"] == "foo_bar-1.0-py3-none-any.whl"][0]
    assert newest == {"filename": "foo_bar-1.0-py3-none-any.whl", "url": "../../" + wheel,
                      "hashes": {"sha256": manifest["files"][wheel]["sha256"]}, "requires-python": ">=3.9,<4",
                      "core-metadata": {"sha256": metadata_sha}, "yanked": False,
                      "size": manifest["files"][wheel]["size"], "upload-time": "2024-02-01T00:00:00Z",
                      "provenance": "../../%s.provenance" % wheel}
    older = [f for f in document["files"] if f["filename"] == "foo_bar-0.9-py3-none-any.whl"][0]
    assert older["yanked"] == "broken <build>" and older["provenance"] is None and "upload-time" not in older

    other = json.loads((tmp_path / "simple" / "other" / "index.v1_json").read_text())["files"][0]
    assert other["yanked"] is True and other["core-metadata"] is False and other["url"] == "../../" + sdist
    link = parse(tmp_path / "simple" / "other" / "index.html").links[0]
    assert link["data-yanked"] == "" and "data-core-metadata" not in link  # yanked, no reason given


def test_a_second_write_changes_nothing_and_a_project_gone_loses_its_pages(tmp_path):
    manifest, wheel, _yanked, sdist = bundle_with_files(tmp_path)
    _simple.write(str(tmp_path), manifest)
    assert _simple.current(str(tmp_path), manifest)
    before = {path: os.path.getmtime(tmp_path / path) for path in _simple.index_files(manifest)}
    assert _simple.write(str(tmp_path), manifest) == 0
    assert before == {path: os.path.getmtime(tmp_path / path) for path in _simple.index_files(manifest)}
    del manifest["files"][sdist]
    assert not _simple.current(str(tmp_path), manifest)
    assert _simple.write(str(tmp_path), manifest) == 4  # the project list's 3 pages, and the project's folder
    assert not (tmp_path / "simple" / "other").exists() and _simple.current(str(tmp_path), manifest)
    (tmp_path / (wheel + ".metadata")).write_bytes(METADATA + b"\n")  # a metadata file altered: written again
    assert not _simple.current(str(tmp_path), manifest)
    _simple.write(str(tmp_path), manifest)
    assert (tmp_path / (wheel + ".metadata")).read_bytes() == METADATA


def test_a_file_that_is_no_readable_wheel_is_listed_without_metadata(tmp_path):
    bundle, files = str(tmp_path), {}
    broken = add(bundle, files, "broken-1.0-py3-none-any.whl", b"not a zip", "broken", "1.0")
    manifest = {"files": files}
    _simple.write(bundle, manifest)
    assert not os.path.exists(os.path.join(bundle, broken + ".metadata"))
    link = parse(tmp_path / "simple" / "broken" / "index.html").links[0]
    assert "data-core-metadata" not in link and "data-requires-python" not in link
    assert _simple.index_files(manifest)[-1] == broken + ".metadata"  # named, but the archive carries what exists
    assert _simple.current(bundle, manifest)
