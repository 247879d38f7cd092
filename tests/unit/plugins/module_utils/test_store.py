"""The host store: compare finds exactly what is right, receive verifies before a file counts."""

import hashlib
import io
import os
import tarfile

import pytest

from ansible_collections.airgap.pymigrate.plugins.module_utils import _store


def _item(data, name="demo-1.0-py3-none-any.whl"):
    sha = hashlib.sha256(data).hexdigest()
    return {"path": _store.store_relpath(sha, name), "sha256": sha, "size": len(data)}


def _place(store, item, data):
    full = os.path.join(store, item["path"])
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as handle:
        handle.write(data)
    return full


def _stream(tmp_path, members):
    path = tmp_path / "push.tar"
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def test_store_relpath_layout_and_refusals():
    sha = "ab" + "0" * 62
    assert _store.store_relpath(sha, "x-1-py3-none-any.whl") == "files/sha256/ab/%s/x-1-py3-none-any.whl" % sha
    with pytest.raises(_store.StoreError):
        _store.store_relpath("nothex", "x.whl")
    with pytest.raises(_store.StoreError):
        _store.store_relpath(sha, "../x.whl")
    # No space, newline or option ever reaches pip's requirements file or a command line through a file name.
    for bad in ("x 1.whl", "x.whl\n--index-url=http://x", "x.whl --hash=sha256:0", "-x.whl", ".x.whl", ""):
        with pytest.raises(_store.StoreError, match="not a plain wheel or sdist file name"):
            _store.store_relpath(sha, bad)
    assert _store.store_relpath(sha, "Foo_Bar.baz-1!2.0+local-py3-none-any.whl").endswith(
        "1!2.0+local-py3-none-any.whl")
    for bad in ("../files/sha256/ab/%s/x.whl" % sha, "files/sha256/cd/%s/x.whl" % sha, "/etc/passwd"):
        with pytest.raises(_store.StoreError):
            _store.check_relpath(bad)


def test_compare_sorts_present_missing_corrupt_and_repairs(tmp_path):
    store = str(tmp_path / "store")
    good, bad, absent = _item(b"good"), _item(b"bad", "b-1-py3-none-any.whl"), _item(b"absent", "c.whl")
    _place(store, good, b"good")
    corrupt_path = _place(store, bad, b"BAD")  # same size, other bytes
    partial = _place(store, absent, b"abs") + _store.PART_SUFFIX
    os.rename(partial[: -len(_store.PART_SUFFIX)], partial)

    result = _store.compare(store, [good, bad, absent], repair=False)
    assert result["present"] == [good["path"]]
    assert result["missing"] == [absent["path"]]
    assert result["corrupt"] == [{"path": bad["path"], "problem": "sha256 differs"}]
    assert os.path.exists(corrupt_path) and os.path.exists(partial)  # read-only without repair

    result = _store.compare(store, [good, bad, absent], repair=True)
    assert result["removed_partials"] == [absent["path"]]
    assert not os.path.exists(corrupt_path) and not os.path.exists(partial)


def test_receive_verifies_each_file(tmp_path):
    store = str(tmp_path / "store")
    one, two = _item(b"one", "one.whl"), _item(b"two", "two.whl")
    received = _store.receive(store, _stream(tmp_path, [(one["path"], b"one"), (two["path"], b"two")]), [one, two])
    assert received == [one["path"], two["path"]]
    assert _store.compare(store, [one, two], repair=True)["present"] == [one["path"], two["path"]]


@pytest.mark.parametrize("members, message", [
    ([("files/sha256/00/%s/x.whl" % ("0" * 64), b"x")], "not asked for"),
    (None, "sha256"),
    ([], "ended before"),
])
def test_receive_refuses_bad_streams(tmp_path, members, message):
    store = str(tmp_path / "store")
    item = _item(b"data", "d.whl")
    if members is None:
        members = [(item["path"], b"DATA")]  # right size, wrong bytes
    with pytest.raises(_store.StoreError, match=message):
        _store.receive(store, _stream(tmp_path, members), [item])
    full = os.path.join(store, item["path"])
    assert not os.path.exists(full) and not os.path.exists(full + _store.PART_SUFFIX)


def test_receive_refuses_links(tmp_path):
    item = _item(b"data", "d.whl")
    path = tmp_path / "push.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo(item["path"])
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(_store.StoreError, match="not a regular file"):
        _store.receive(str(tmp_path / "store"), str(path), [item])


# -- StrictModes (issue 10): what root installs from, or into, belongs to root alone

def test_a_path_writable_or_owned_by_another_user_is_refused(tmp_path):
    safe = tmp_path / "safe"
    safe.mkdir(mode=0o755)
    os.chmod(safe, 0o755)
    assert _store.check_owned(str(safe / "venv")) == str(safe / "venv")  # /tmp above it: root's and sticky
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(_store.StoreError, match=r"%s is owned by .* with mode 0777" % shared):
        _store.check_owned(str(shared / "venv"))
    planted = safe / ".venv.generations"
    planted.mkdir()
    os.chown(planted, 65534, 65534)
    with pytest.raises(_store.StoreError, match=r"\.venv\.generations is owned by .*uid 65534.* mode 0755"):
        _store.check_owned(str(planted))
    link = safe / "link"
    os.symlink(str(shared), link)
    with pytest.raises(_store.StoreError, match="%s is owned by" % shared):
        _store.check_owned(str(link))  # a link is followed to where it leads
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    with pytest.raises(_store.StoreError, match="mode 1777"):
        _store.check_owned(str(sticky))  # sticky is fine above a path, never as the path itself


def test_a_file_hashed_before_and_not_written_since_is_not_hashed_again(tmp_path, monkeypatch):
    store = str(tmp_path)
    data = b"wheel bytes"
    item = _item(data)
    full = _place(store, item, data)
    hashed = []
    real = _store.file_sha256
    monkeypatch.setattr(_store, "file_sha256", lambda path: hashed.append(path) or real(path))
    assert _store.compare(store, [item], repair=True)["present"] == [item["path"]] and len(hashed) == 1
    assert _store.compare(store, [item], repair=True)["present"] == [item["path"]] and len(hashed) == 1  # trusted
    found = _store.compare(store, [item], repair=True, trust_verified=False)
    assert found["present"] == [item["path"]] and len(hashed) == 2
    # The same size written over, even with its old mtime put back: the ctime moved, so it is hashed and found.
    before = os.stat(full)
    with open(full, "r+b") as handle:
        handle.write(b"W")
    os.utime(full, ns=(before.st_atime_ns, before.st_mtime_ns))
    found = _store.compare(store, [item], repair=True)
    assert found["corrupt"] == [{"path": item["path"], "problem": "sha256 differs"}] and len(hashed) == 3
    assert not os.path.exists(full)  # repaired: removed for the next push


def test_files_received_are_trusted_by_the_next_comparison(tmp_path, monkeypatch):
    store = str(tmp_path / "store")
    os.makedirs(store)
    data = b"pushed wheel"
    item = _item(data)
    assert _store.receive(store, _stream(tmp_path, [(item["path"], data)]), [item]) == [item["path"]]
    monkeypatch.setattr(_store, "file_sha256", lambda path: pytest.fail("hashed again: %s" % path))
    assert _store.compare(store, [item], repair=True)["present"] == [item["path"]]
