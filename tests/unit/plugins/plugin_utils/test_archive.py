"""The signed archive: exported, imported, and every tampering refused with the store left untouched."""

import base64
import datetime
import hashlib
import io
import json
import os
import re
import tarfile
import threading

import pytest

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import store_relpath
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _archive, _manifest
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.timezone.utc)

# A valid PEP 751 lock (the session checks every lock the tests write with packaging.pylock).
MINIMAL_LOCK = 'lock-version = "1.0"\ncreated-by = "tests"\npackages = []\n'


def make_bundle(root, serial, contents):
    files = {}
    for name, data in contents.items():
        sha = hashlib.sha256(data).hexdigest()
        relpath = store_relpath(sha, name)
        os.makedirs(os.path.dirname(os.path.join(root, relpath)), exist_ok=True)
        with open(os.path.join(root, relpath), "wb") as handle:
            handle.write(data)
        files[relpath] = {"sha256": sha, "size": len(data), "project": name.split("-")[0], "version": "1"}
    manifest = {"format": 1, "serial": serial, "created": "2026-11-25T11:00:00Z", "files": files,
                "profiles": {"p": {"lock": "pylock.p.toml", "requirements": "requirements.p.txt"}}, "hosts": {}}
    for name, text in (("pylock.p.toml", MINIMAL_LOCK), ("requirements.p.txt", "x==1\n")):
        with open(os.path.join(root, name), "w") as handle:
            handle.write(text)
    return seal(root, manifest)


def seal(root, manifest):
    """Write the manifest as the build does: last, with the sha256 of every metadata file beside it."""
    _manifest.record_metadata(str(root), manifest)
    with open(os.path.join(root, "manifest.json"), "w") as handle:
        handle.write(json.dumps(manifest))
    return manifest


@pytest.fixture
def keys(tmp_path):
    _archive.generate_keypair(str(tmp_path / "key"), str(tmp_path / "key.pub"))
    _archive.generate_keypair(str(tmp_path / "other"), str(tmp_path / "other.pub"))
    return {"private": _archive.load_private_key(str(tmp_path / "key")), "trusted": [str(tmp_path / "key.pub")],
            "other": _archive.load_private_key(str(tmp_path / "other"))}


@pytest.fixture
def outside(tmp_path):
    bundle = str(tmp_path / "bundle")
    make_bundle(bundle, 1, {"a-1-py3-none-any.whl": b"A" * 100, "b-1-py3-none-any.whl": b"B" * 50})
    return bundle


def snapshot(store):
    found = {}
    for root, _dirs, names in os.walk(store):
        for name in names:
            path = os.path.join(root, name)
            content = open(path, "rb").read() if not os.path.islink(path) else os.readlink(path)
            found[os.path.relpath(path, store)] = content
    return found


def export(bundle, path, keys, **kwargs):
    kwargs.setdefault("now", NOW)
    return _archive.create_archive(bundle, str(path), kwargs.pop("key", keys["private"]), **kwargs)


def do_import(path, store, keys, **kwargs):
    kwargs.setdefault("now", NOW + datetime.timedelta(minutes=1))
    return _archive.import_archive(str(path), str(store), keys["trusted"], **kwargs)


def test_export_import_reimport(outside, keys, tmp_path):
    archive = tmp_path / "b1.tar"
    info = export(outside, archive, keys)
    assert info["kind"] == "full" and info["members"] == 5
    store = tmp_path / "store"
    result = do_import(archive, store, keys)
    assert result["changed"] and result["files_added"] == 2 and result["serial"] == 1
    assert json.load(open(store / "current" / "manifest.json"))["serial"] == 1
    assert os.path.isfile(store / "current" / list(json.load(open(store / "current" / "manifest.json"))["files"])[0])
    before = snapshot(store)
    assert do_import(archive, store, keys)["changed"] is False  # same archive again: nothing
    assert snapshot(store) == before


def rewrite(archive, out, change):
    """Copy a tar member by member, letting change(name, data) return new (name, data, type) tuples."""
    with tarfile.open(archive) as src, tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            for name, new_data, kind in change(member.name, data):
                info = tarfile.TarInfo(name)
                info.type = kind
                info.size = len(new_data) if kind == tarfile.REGTYPE else 0
                if kind == tarfile.SYMTYPE:
                    info.linkname = "/etc/passwd"
                dst.addfile(info, io.BytesIO(new_data) if kind == tarfile.REGTYPE else None)
    return out


def keep(name, data):
    return [(name, data, tarfile.REGTYPE)]


def _first_wheel(name):
    return name.endswith("a-1-py3-none-any.whl")


CASES = {
    "one byte changed": (lambda n, d: keep(n, d[:-1] + b"X" if _first_wheel(n) else d), "it was changed"),
    "manifest edited": (lambda n, d: keep(n, d.replace(b'"kind"', b'"kinD"') if n == "archive.json" else d),
                        "altered after signing"),
    "signature removed": (lambda n, d: [] if n == "archive.sig" else keep(n, d), "no signature"),
    "dotdot entry": (lambda n, d: keep(n, d) + ([("../x", b"x", tarfile.REGTYPE)] if n == "manifest.json" else []),
                     "unsafe path"),
    "absolute entry": (lambda n, d: keep(n, d) + ([("/etc/x", b"x", tarfile.REGTYPE)] if n == "manifest.json" else []),
                       "unsafe path"),
    "symlink": (lambda n, d: [(n, b"", tarfile.SYMTYPE)] if _first_wheel(n) else keep(n, d), "not a regular file"),
    "device file": (lambda n, d: [(n, b"", tarfile.CHRTYPE)] if _first_wheel(n) else keep(n, d), "not a regular file"),
    "larger than declared": (lambda n, d: keep(n, d + b"more" if _first_wheel(n) else d), "declares"),
    "unlisted member": (lambda n, d: keep(n, d) + ([("extra.txt", b"x", tarfile.REGTYPE)]
                                                   if n == "manifest.json" else []),
                        "not listed"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampered_archives_are_refused_and_change_nothing(outside, keys, tmp_path, case):
    change, message = CASES[case]
    store = tmp_path / "store"
    store.mkdir()
    before = snapshot(store)
    bad = rewrite(export(outside, tmp_path / "b.tar", keys)["path"], tmp_path / "bad.tar", change)
    with pytest.raises(PyMigrateError, match=message):
        do_import(bad, store, keys)
    assert snapshot(store) == before


def test_swapped_wheel_truncated_untrusted_expired_future_replay(outside, keys, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    good = export(outside, tmp_path / "good.tar", keys)["path"]
    other = tmp_path / "other-bundle"
    make_bundle(str(other), 1, {"a-1-py3-none-any.whl": b"Z" * 100, "b-1-py3-none-any.whl": b"B" * 50})
    swapped_data = open(os.path.join(other, [p for p in json.load(open(other / "manifest.json"))["files"]
                                             if p.endswith("a-1-py3-none-any.whl")][0]), "rb").read()
    swapped = rewrite(good, tmp_path / "swapped.tar", lambda n, d: keep(n, swapped_data if _first_wheel(n) else d))
    with open(good, "rb") as handle:
        data = handle.read()
    truncated = tmp_path / "truncated.tar"
    with tarfile.open(good) as tar:
        cut = tar.getmembers()[-1].offset_data + 10  # inside the last member's data
    truncated.write_bytes(data[:cut])
    untrusted = export(outside, tmp_path / "untrusted.tar", keys, key=keys["other"])["path"]
    expired = export(outside, tmp_path / "expired.tar", keys, now=NOW - datetime.timedelta(days=31))["path"]
    future = export(outside, tmp_path / "future.tar", keys, now=NOW + datetime.timedelta(hours=2))["path"]
    for path, message in ((swapped, "it was changed"), (truncated, "truncated"), (untrusted, "not trusted"),
                          (expired, "expired"), (future, "in the future")):
        with pytest.raises(PyMigrateError, match=message):
            do_import(path, store, keys)
        assert snapshot(store) == {}
    do_import(good, store, keys)
    newer = tmp_path / "bundle2"
    make_bundle(str(newer), 2, {"a-1-py3-none-any.whl": b"A" * 100})
    do_import(export(str(newer), tmp_path / "b2.tar", keys)["path"], store, keys)
    before = snapshot(store)
    with pytest.raises(PyMigrateError, match="not higher than the last accepted 2"):
        do_import(good, store, keys)
    assert snapshot(store) == before
    assert do_import(good, store, keys, allow_downgrade=True)["serial"] == 1


def test_delta_carries_only_new_files_and_needs_its_base(outside, keys, tmp_path):
    store = tmp_path / "store"
    do_import(export(outside, tmp_path / "b1.tar", keys)["path"], store, keys)
    newer = tmp_path / "bundle2"
    make_bundle(str(newer), 2, {"a-1-py3-none-any.whl": b"A" * 100, "c-1-py3-none-any.whl": b"C" * 10})
    delta = export(str(newer), tmp_path / "d.tar", keys, have=_archive.read_have_list(str(store)), base_serial=1)
    assert delta["kind"] == "delta" and delta["carried_elsewhere"] == 1
    empty = tmp_path / "empty-store"
    with pytest.raises(PyMigrateError, match="builds on serial 1.*import its base first"):
        do_import(delta["path"], empty, keys)
    assert do_import(delta["path"], store, keys)["files_added"] == 1
    manifest = json.load(open(store / "current" / "manifest.json"))
    assert manifest["serial"] == 2 and all(os.path.isfile(store / "current" / p) for p in manifest["files"])


# -- hardening (issue 10): what is signed is checked first, a tampered copy of an accepted archive is refused,
#    the keys people already have work, and messages say what is wrong.

def test_export_verifies_every_file_before_it_signs(outside, keys, tmp_path):
    manifest = json.load(open(os.path.join(outside, "manifest.json")))
    wheel = os.path.join(outside, sorted(manifest["files"])[0])
    with open(wheel, "ab") as handle:
        handle.write(b"!")  # corrupted in the outside bundle, after it was built
    with pytest.raises(PyMigrateError, match="does not match the bundle manifest.*nothing was signed"):
        export(outside, tmp_path / "b.tar", keys)
    assert os.listdir(tmp_path) == [name for name in os.listdir(tmp_path) if not name.startswith("b.tar")]


@pytest.mark.parametrize("name, change", [
    ("osv-db.zip", b"another database"),  # an OSV database replaced after the build
    ("sbom.cdx.json", b'{"components": []}'),  # an SBOM edited after the build
    ("vulnerabilities/p.json", b'{"findings": []}'),  # a vulnerability report cleaned after the build
    ("requirements.p.txt", None),  # a metadata file removed after the build
])
def test_export_signs_no_metadata_file_changed_after_the_build(keys, tmp_path, name, change):
    # Issue 27: an OSV database, SBOM or vulnerability report changed after the build was signed into the archive
    # (inside, the audit then blamed "replaced after the import"); now each is proven against the sha256 the build
    # recorded in the manifest, and the export refuses naming the file.
    bundle = str(tmp_path / "bundle")
    manifest = make_bundle(bundle, 1, {"a-1-py3-none-any.whl": b"A" * 10})
    manifest["vulnerabilities"] = {"osv_db": {"path": "osv-db.zip", "sha256": "0" * 64},
                                   "reports": {"p": {"json": "vulnerabilities/p.json",
                                                     "text": "vulnerabilities/p.txt"}}}
    os.makedirs(os.path.join(bundle, "vulnerabilities"))
    for path, data in (("osv-db.zip", b"database"), ("sbom.cdx.json", b"{}"), ("vex.cdx.json", b"{}"),
                       ("vulnerabilities/p.json", b'{"findings": [1]}'), ("vulnerabilities/p.txt", b"one\n")):
        with open(os.path.join(bundle, path), "wb") as handle:
            handle.write(data)
    seal(bundle, manifest)
    assert export(bundle, tmp_path / "good.tar", keys)["members"] == 9  # as built: signed
    if change is None:
        os.unlink(os.path.join(bundle, name))
    else:
        with open(os.path.join(bundle, name), "wb") as handle:
            handle.write(change)
    with pytest.raises(PyMigrateError, match=r"^%s of the bundle .* (has sha256 .*, the build wrote|is missing).* "
                       r"changed after the build; nothing was signed" % re.escape(name)):
        export(bundle, tmp_path / "b.tar", keys)
    assert not os.path.exists(tmp_path / "b.tar") and not os.path.exists(tmp_path / "b.tar.partial")


def test_export_refuses_a_metadata_file_the_build_did_not_write_or_a_manifest_without_the_record(keys, tmp_path):
    bundle = str(tmp_path / "bundle")
    manifest = make_bundle(bundle, 1, {"a-1-py3-none-any.whl": b"A" * 10})
    with open(os.path.join(bundle, "sbom.cdx.json"), "w") as handle:
        handle.write("{}")  # added after the build
    with pytest.raises(PyMigrateError, match="sbom.cdx.json of the bundle .* was not written by the build"):
        export(bundle, tmp_path / "b.tar", keys)
    del manifest["metadata"]
    with open(os.path.join(bundle, "manifest.json"), "w") as handle:
        handle.write(json.dumps(manifest))
    with pytest.raises(PyMigrateError, match="records no hash of its metadata files"):
        export(bundle, tmp_path / "b.tar", keys)


def test_a_tampered_copy_of_an_accepted_archive_is_refused(outside, keys, tmp_path):
    store = tmp_path / "store"
    good = export(outside, tmp_path / "b1.tar", keys)["path"]
    do_import(good, store, keys)
    before = snapshot(store)
    copy = rewrite(good, tmp_path / "copy.tar", CASES["one byte changed"][0])
    with pytest.raises(PyMigrateError, match="it was changed"):
        do_import(copy, store, keys)
    assert snapshot(store) == before
    assert do_import(good, store, keys)["changed"] is False


def _ssh_keygen(path, passphrase=""):
    import subprocess
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "ops", "-f", str(path)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return str(path), str(path) + ".pub"


def test_keys_from_ssh_keygen_sign_and_verify(outside, tmp_path):
    private, public = _ssh_keygen(tmp_path / "id_ed25519")
    archive = _archive.create_archive(outside, str(tmp_path / "b.tar"), _archive.load_private_key(private), now=NOW)
    result = _archive.import_archive(archive["path"], str(tmp_path / "store"), [public],
                                     now=NOW + datetime.timedelta(minutes=1))
    assert result["changed"] and archive["key_id"] == _archive.key_id(_archive.load_public_key(public))
    locked, _public = _ssh_keygen(tmp_path / "locked", passphrase="s3cret")
    assert _archive.load_private_key(locked, "s3cret")


@pytest.mark.parametrize("passphrase, text", [(None, "needs a passphrase"), ("wrong", "wrong passphrase")])
def test_key_passphrase_messages(tmp_path, passphrase, text):
    _archive.generate_keypair(str(tmp_path / "k"), str(tmp_path / "k.pub"), passphrase="right")
    locked, _public = _ssh_keygen(tmp_path / "ssh", passphrase="right")
    for path in (str(tmp_path / "k"), locked):
        with pytest.raises(PyMigrateError, match=text) as err:
            _archive.load_private_key(path, passphrase)
        assert err.value.var == "pymigrate_signing_key_passphrase" and "Traceback" not in str(err.value)


def test_a_private_key_given_as_trusted_key_is_named(tmp_path):
    _archive.generate_keypair(str(tmp_path / "k"), str(tmp_path / "k.pub"))
    for path in (str(tmp_path / "k"), _ssh_keygen(tmp_path / "ssh")[0]):
        with pytest.raises(PyMigrateError, match="is a private key; trust its public key"):
            _archive.load_public_key(path)


def test_an_archive_or_store_with_a_non_integer_serial_is_named(outside, keys, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "accepted.json").write_text(json.dumps({"serial": "7"}))
    with pytest.raises(PyMigrateError, match="accepted.json.*serial must be an integer, not '7'"):
        do_import(export(outside, tmp_path / "b.tar", keys)["path"], store, keys)


def test_the_lock_a_bundle_carries_travels_in_its_folder(keys, tmp_path):
    bundle = str(tmp_path / "bundle")
    manifest = make_bundle(bundle, 1, {"a-1-py3-none-any.whl": b"A" * 10})
    manifest["lock"] = {"profiles": {"p": "default-cp311"}, "files": ["lock/README.md", "lock/pylock.default.toml"]}
    os.makedirs(os.path.join(bundle, "lock"))
    for name, text in (("README.md", "# lock\n"), ("pylock.default.toml", MINIMAL_LOCK)):
        with open(os.path.join(bundle, "lock", name), "w") as handle:
            handle.write(text)
    seal(bundle, manifest)
    export(bundle, tmp_path / "l.tar", keys)
    do_import(tmp_path / "l.tar", tmp_path / "store", keys)
    assert (tmp_path / "store" / "current" / "lock" / "README.md").read_text() == "# lock\n"
    assert (tmp_path / "store" / "current" / "lock" / "pylock.default.toml").exists()


def test_an_import_names_the_archive_and_says_how_far_its_verification_is(outside, keys, tmp_path):
    archive = tmp_path / "b1.tar"
    info = export(outside, archive, keys)
    lines = []
    result = do_import(archive, tmp_path / "store", keys, hooks=_archive.ImportHooks(progress=lines.append))
    assert {key: result[key] for key in ("serial", "kind", "key_id", "expires", "path", "bytes")} == {
        "serial": 1, "kind": "full", "key_id": info["key_id"], "expires": info["expires"], "path": str(archive),
        "bytes": os.path.getsize(archive)}
    assert 1 <= len(lines) <= 10 and lines[-1].startswith("verified 100 % (")  # a line per 10 %, not per file
    assert [int(line.split()[1]) for line in lines] == sorted(int(line.split()[1]) for line in lines)


def test_a_trusted_archive_whose_metadata_takes_a_name_the_store_keeps_is_refused_whole(keys, tmp_path):
    # Signed by a trusted key, but its manifest names a metadata file "built" (the store's own folder): the import
    # went halfway before (bundles/<serial>/ left behind, a raw errno); now it is refused before anything is placed.
    bundle = str(tmp_path / "bundle")
    manifest = make_bundle(bundle, 1, {"a-1-py3-none-any.whl": b"A" * 10})
    manifest["vulnerabilities"] = {"osv_db": {"path": "built", "sha256": "0" * 64}}
    with open(os.path.join(bundle, "built"), "w") as handle:
        handle.write("x")
    seal(bundle, manifest)
    export(bundle, tmp_path / "r.tar", keys)
    store = tmp_path / "store"
    store.mkdir()
    with pytest.raises(PyMigrateError, match="archive member built is no metadata file .* nothing was imported"):
        do_import(tmp_path / "r.tar", store, keys)
    assert snapshot(store) == {}


def test_two_imports_at_once_never_leave_an_older_serial_accepted(keys, tmp_path, monkeypatch):
    old, new = str(tmp_path / "b150"), str(tmp_path / "b160")
    make_bundle(old, 150, {"a-1-py3-none-any.whl": b"A" * 10})
    make_bundle(new, 160, {"a-2-py3-none-any.whl": b"B" * 10})
    export(old, tmp_path / "150.tar", keys)
    export(new, tmp_path / "160.tar", keys)
    store = tmp_path / "store"
    slow, started = threading.Event(), threading.Event()
    receive = _archive._receive_members

    def receive_slowly(tar, index, work, *rest):  # the 150 import pauses after reading the state, before it commits
        if index["serial"] == 150:
            started.set()
            slow.wait(1)
        return receive(tar, index, work, *rest)
    monkeypatch.setattr(_archive, "_receive_members", receive_slowly)
    errors = []

    def run(name):
        try:
            do_import(tmp_path / name, store, keys)
        except PyMigrateError as exc:
            errors.append(str(exc))
    first = threading.Thread(target=run, args=("150.tar",))
    first.start()
    started.wait(5)
    second = threading.Thread(target=run, args=("160.tar",))
    second.start()
    second.join(10)
    first.join(10)
    assert _archive.read_accepted(str(store))["serial"] == 160
    assert json.load(open(store / "current" / "manifest.json"))["serial"] == 160


def test_the_bundle_s_index_crosses_with_it_and_works_from_the_imported_store(keys, tmp_path):
    from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _simple
    from tests.unit.plugins.plugin_utils.test_simple import METADATA, wheel_bytes
    bundle = str(tmp_path / "bundle")
    manifest = make_bundle(bundle, 1, {"foo_bar-1.0-py3-none-any.whl": wheel_bytes()})
    relpath = list(manifest["files"])[0]
    manifest["files"][relpath].update(filename="foo_bar-1.0-py3-none-any.whl", project="foo-bar")
    _simple.write(bundle, manifest)
    seal(bundle, manifest)
    export(bundle, tmp_path / "i.tar", keys)
    with tarfile.open(tmp_path / "i.tar") as tar:
        names = tar.getnames()
    assert "simple/foo-bar/index.v1_json" in names and relpath + ".metadata" in names
    do_import(tmp_path / "i.tar", tmp_path / "store", keys)
    current = tmp_path / "store" / "current"
    page = (current / "simple" / "index.html").read_bytes()
    assert page == (tmp_path / "bundle" / "simple" / "index.html").read_bytes()
    # The page's relative link leads to the wheel (and its metadata file) of the imported store.
    href = json.loads((current / "simple" / "foo-bar" / "index.v1_json").read_text())["files"][0]["url"]
    target = current / "simple" / "foo-bar" / href
    assert target.read_bytes() == wheel_bytes() and target.with_name(target.name + ".metadata").read_bytes() == METADATA


def test_check_mode_stages_the_archive_being_checked_as_a_proposal(outside, keys, tmp_path):
    # Issue 27: deploy.yml --check previewed the store's current bundle (or failed with an empty store). The import's
    # check mode now gives the verified archive as a bundle directory of its own, and changes nothing of the store.
    store = tmp_path / "store"
    export(outside, tmp_path / "b1.tar", keys)
    result = do_import(tmp_path / "b1.tar", store, keys, check_mode=True)
    proposal = result["bundle_dir"]
    assert os.path.dirname(proposal) == str(store / "proposals") and result["changed"]
    assert json.load(open(os.path.join(proposal, "manifest.json")))["serial"] == 1
    assert all(os.path.isfile(os.path.join(proposal, path))
               for path in json.load(open(os.path.join(proposal, "manifest.json")))["files"])
    assert sorted(os.listdir(store)) == ["proposals"]  # no current, no accepted serial, no file in the store
    do_import(tmp_path / "b1.tar", store, keys)
    assert not os.path.exists(store / "proposals")  # a real import drops the stale proposal
    # A delta checked against the store: the files it leaves out are the store's, linked; the store is unchanged.
    make_bundle(str(tmp_path / "b2"), 2, {"a-1-py3-none-any.whl": b"A" * 100, "c-1-py3-none-any.whl": b"C" * 5})
    have = _archive.read_have_list(str(store))
    export(str(tmp_path / "b2"), tmp_path / "d2.tar", keys, have=have, base_serial=1)
    before = snapshot(store)
    checked = do_import(tmp_path / "d2.tar", store, keys, check_mode=True)
    manifest = json.load(open(os.path.join(checked["bundle_dir"], "manifest.json")))
    assert manifest["serial"] == 2 and all(
        open(os.path.join(checked["bundle_dir"], path), "rb").read() in (b"A" * 100, b"C" * 5)
        for path in manifest["files"])
    assert {k: v for k, v in snapshot(store).items() if not k.startswith("proposals/")} == before
    assert os.readlink(store / "current").endswith("1")


def _signed(path, key, contents, serial=1):
    """An archive signed by a trusted key whose members are ``contents`` ({name: bytes}), as an attacker holding
    that key, or a buggy exporter, could make it: every check of the signature passes."""
    members = [{"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
               for name, data in contents.items()]
    index = {"format": 1, "kind": "full", "serial": serial, "bundle_created": "2026-11-25T11:00:00Z",
             "created": "2026-11-25T11:00:00Z", "expires": "2026-12-25T11:00:00Z", "members": members,
             "carried_elsewhere": [], "base_serial": None}
    index_bytes = json.dumps(index).encode()
    signature = json.dumps({"algorithm": "ed25519", "key_id": _archive.key_id(key.public_key()),
                            "signature": base64.b64encode(key.sign(index_bytes)).decode()}).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in [("archive.json", index_bytes), ("archive.sig", signature)] + list(contents.items()):
            tar.addfile(_archive._tarinfo(name, len(data), 0), io.BytesIO(data))


@pytest.mark.parametrize("osv_path", [
    "pylock.p.toml/inner.zip",  # nested under another metadata file: a raw ENOTDIR before
    "bundles/1/manifest.json",  # a name the store keeps for itself
    "current",
    "proposals",
])
def test_a_trusted_archive_with_a_nested_or_reserved_metadata_member_is_refused_whole(keys, tmp_path, osv_path):
    # Issue 27: such an archive was committed halfway, with a raw errno and bundles/<serial>/ left in the store.
    data = b"A" * 10
    relpath = store_relpath(hashlib.sha256(data).hexdigest(), "a-1-py3-none-any.whl")
    manifest = {"format": 1, "serial": 1, "created": "2026-11-25T11:00:00Z", "hosts": {},
                "files": {relpath: {"sha256": hashlib.sha256(data).hexdigest(), "size": 10}},
                "profiles": {"p": {"lock": "pylock.p.toml", "requirements": "requirements.p.txt"}},
                "vulnerabilities": {"osv_db": {"path": osv_path, "sha256": "0" * 64}}}
    contents = {"manifest.json": json.dumps(manifest).encode(), "pylock.p.toml": MINIMAL_LOCK.encode(),
                "requirements.p.txt": b"x==1\n", osv_path: b"database", relpath: data}
    _signed(tmp_path / "n.tar", keys["private"], contents)
    store = tmp_path / "store"
    store.mkdir()
    with pytest.raises(PyMigrateError) as err:
        do_import(tmp_path / "n.tar", store, keys)
    assert "Errno" not in str(err.value) and ("nothing was imported" in str(err.value)
                                              or "keeps its current bundle" in str(err.value)), str(err.value)
    assert snapshot(store) == {}


# -- TUF's attacks (docs/security.md, "TUF's attacks"): mix-and-match, fast-forward, key compromise.

def _members(path):
    with tarfile.open(path) as tar:
        return {member.name: tar.extractfile(member).read() for member in tar.getmembers()}


def test_mix_and_match_of_two_signed_archives_is_refused(outside, keys, tmp_path):
    """The signed archive.json of one archive with the manifest or a wheel of another (each signed by the trusted
    key) is refused: every member is bound by size and sha256 to the one index signed with it."""
    store = tmp_path / "store"
    first = export(outside, tmp_path / "b1.tar", keys)["path"]
    newer = tmp_path / "bundle2"
    make_bundle(str(newer), 2, {"a-1-py3-none-any.whl": b"A" * 100, "b-1-py3-none-any.whl": b"Z" * 50})
    second = _members(export(str(newer), tmp_path / "b2.tar", keys)["path"])
    wheel_b = [name for name in second if name.endswith("b-1-py3-none-any.whl")][0]
    mixes = {
        "the newer manifest under the older signature": lambda n, d: keep(
            n, second["manifest.json"] if n == "manifest.json" else d),
        "the newer signature and index over the older members": lambda n, d: keep(
            n, second[n] if n in ("archive.json", "archive.sig") else d),
    }
    for label, change in mixes.items():
        mixed = rewrite(first, tmp_path / "mixed.tar", change)
        with pytest.raises(PyMigrateError):
            do_import(mixed, store, keys)
        assert snapshot(store) == {}, label
    # A member of the second archive added to the first is not listed by the first's signed index.
    added = rewrite(first, tmp_path / "added.tar", lambda n, d: keep(n, d) + (
        [(wheel_b, second[wheel_b], tarfile.REGTYPE)] if n == "manifest.json" else []))
    with pytest.raises(PyMigrateError, match="not listed"):
        do_import(added, store, keys)
    assert snapshot(store) == {}


def test_a_fast_forwarded_serial_is_refused_and_a_signed_one_is_undone_only_on_purpose(outside, keys, tmp_path):
    """An attacker without the key cannot raise the serial (archive.json is signed); one with a compromised key
    can (a serial far ahead freezes later bundles), and the inside recovers only on purpose: after the key is
    replaced, pymigrate_allow_downgrade accepts the honest serial again."""
    store = tmp_path / "store"
    good = export(outside, tmp_path / "b1.tar", keys)["path"]
    forwarded = rewrite(good, tmp_path / "ff.tar", lambda n, d: keep(
        n, d.replace(b'"serial": 1', b'"serial": 999999999') if n == "archive.json" else d))
    with pytest.raises(PyMigrateError, match="altered after signing"):
        do_import(forwarded, store, keys)
    assert snapshot(store) == {}
    ahead = tmp_path / "ahead"
    make_bundle(str(ahead), 999999999, {"a-1-py3-none-any.whl": b"E" * 100})
    do_import(export(str(ahead), tmp_path / "ahead.tar", keys)["path"], store, keys)  # signed with the stolen key
    with pytest.raises(PyMigrateError, match="not higher than the last accepted 999999999"):
        do_import(good, store, keys)
    assert do_import(good, store, keys, allow_downgrade=True)["serial"] == 1
    assert json.load(open(store / "accepted.json"))["serial"] == 1


def test_a_key_taken_out_of_the_trusted_keys_no_longer_signs_anything(outside, keys, tmp_path):
    """Key compromise: the key's archives are refused from the run its .pub leaves pymigrate_trusted_keys; the
    archives of the key that replaced it are accepted."""
    store = tmp_path / "store"
    stolen = export(outside, tmp_path / "stolen.tar", keys)["path"]
    newer = tmp_path / "bundle2"
    make_bundle(str(newer), 2, {"a-1-py3-none-any.whl": b"A" * 100})
    honest = export(str(newer), tmp_path / "honest.tar", keys, key=keys["other"])["path"]
    rotated = dict(keys, trusted=[str(tmp_path / "other.pub")])
    with pytest.raises(PyMigrateError, match="not trusted"):
        do_import(stolen, store, rotated)
    assert snapshot(store) == {}
    assert do_import(honest, store, rotated)["serial"] == 2
