# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 4, across the gap: one signed archive out, every check before anything counts on arrival.

Archive = an uncompressed tar (wheels are compressed already) whose first member is ``archive.json``
(format, kind full|delta, serial, created, expires, every member's path, size and sha256) and whose second
is ``archive.sig`` (ed25519 over the exact bytes of archive.json, with the key id). The rest are the bundle's
files. See docs/archive-format.md.

Import reads the stream once: signature, dates and serial are checked before any member is read; each
member is written into a fresh directory, never past its declared size, and hashed; only when every
check has passed do files move into the store and the serial get recorded.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime
import fcntl
import hashlib
import io
import json
import os
import posixpath
import shutil
import tarfile
import tempfile
import time
import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import (
    check_relpath,
    file_sha256,
    write_atomic,
    write_verified,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
    InvalidSignature,
    UnsupportedAlgorithm,
    serialization,
)
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import (
    PyMigrateError,
    format_time,
    parse_time,
    utc_now,
)

ARCHIVE_JSON = "archive.json"
ARCHIVE_SIG = "archive.sig"
MAX_META = 64 * 1024 * 1024
CHUNK = 1024 * 1024


def _parse_time(value: str, what: str) -> datetime.datetime:
    try:
        return parse_time(value)
    except ValueError:
        raise PyMigrateError("archive.json has an invalid %s time %r" % (what, value))


# -- keys -----------------------------------------------------------------------------------------
def key_id(public_key) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_keypair(private_path: str, public_path: str, passphrase: str | None = None) -> dict:
    if os.path.exists(private_path):
        raise PyMigrateError("%s exists; refusing to overwrite a signing key" % private_path)
    key = Ed25519PrivateKey.generate()
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return write_public_key(key, public_path)


def write_public_key(private_key, public_path: str) -> dict:
    """The public half as one OpenSSH line (also to repair a key pair whose public file was lost)."""
    public = private_key.public_key()
    line = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    write_atomic(public_path, ("%s pymigrate-%s\n" % (line, key_id(public))).encode())
    return {"key_id": key_id(public), "public_key": line}


def load_private_key(path: str, passphrase: str | None = None):
    """An ed25519 private key: PEM (PKCS#8, as state=keypair writes it) or OpenSSH (as ssh-keygen writes it)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise PyMigrateError("cannot read the signing key %s: %s" % (path, exc.strerror), var="pymigrate_signing_key",
                             value=path)
    secret = passphrase.encode() if passphrase else None
    load = (serialization.load_ssh_private_key if data.lstrip().startswith(b"-----BEGIN OPENSSH PRIVATE KEY")
            else serialization.load_pem_private_key)
    try:
        key = load(data, secret)
    except UnsupportedAlgorithm:  # an encrypted OpenSSH key: its KDF is bcrypt's
        raise PyMigrateError("reading the passphrase-protected OpenSSH key %s needs the bcrypt library on the "
                             "control node" % path, var="pymigrate_signing_key", hint="pip install bcrypt")
    except TypeError:  # the key is encrypted and no passphrase was given, or the other way round
        what = "needs a passphrase" if secret is None else "is not encrypted; give no passphrase"
        raise PyMigrateError("the signing key %s %s" % (path, what), var="pymigrate_signing_key_passphrase")
    except ValueError:
        if secret is not None:
            raise PyMigrateError("wrong passphrase for the signing key %s" % path,
                                 var="pymigrate_signing_key_passphrase")
        raise PyMigrateError("%s is not a private key in PEM or OpenSSH format" % path, var="pymigrate_signing_key",
                             value=path, hint="Create one with state=keypair or ssh-keygen -t ed25519")
    if not isinstance(key, Ed25519PrivateKey):
        raise PyMigrateError("%s is not an ed25519 key" % path, var="pymigrate_signing_key", value=path,
                             hint="Create one with state=keypair or ssh-keygen -t ed25519")
    return key


def load_public_key(text_or_path: str):
    """An OpenSSH 'ssh-ed25519 AAAA...' line, or the path of a file holding one."""
    text = text_or_path
    if not text.strip().startswith("ssh-ed25519") and os.path.exists(text):
        with open(text) as handle:
            text = handle.read()
    if "PRIVATE KEY-----" in text:
        raise PyMigrateError("%s is a private key; trust its public key (the .pub file beside it), never the secret"
                             % (text_or_path if text is not text_or_path else "this"), var="pymigrate_trusted_keys")
    try:
        key = serialization.load_ssh_public_key(" ".join(text.split()[:2]).encode())
    except (ValueError, IndexError):
        raise PyMigrateError("not an ssh-ed25519 public key: %r" % text[:60], var="pymigrate_trusted_keys")
    if not isinstance(key, Ed25519PublicKey):
        raise PyMigrateError("not an ed25519 public key: %r" % text[:60], var="pymigrate_trusted_keys")
    return key


# -- export ---------------------------------------------------------------------------------------
def bundle_members(bundle_dir: str, manifest: dict) -> list:
    """(relative path, sha256, size) of every bundle file: metadata first, each checked against the sha256 the build
    recorded in the manifest, then the store files, each of which is read and checked against the manifest first:
    nothing is signed that was not proven."""
    manifest_path = os.path.join(bundle_dir, _manifest.MANIFEST)
    members = [(_manifest.MANIFEST, file_sha256(manifest_path), os.path.getsize(manifest_path))]
    for name, sha256 in _manifest.check_metadata(bundle_dir, manifest):
        if sha256 is not None:
            members.append((name, sha256, os.path.getsize(os.path.join(bundle_dir, name))))
    for relpath, info in sorted(manifest["files"].items()):
        path = os.path.join(bundle_dir, relpath)
        try:
            size, sha256 = os.path.getsize(path), file_sha256(path)
        except OSError as exc:
            raise PyMigrateError("%s of the bundle cannot be read (%s): nothing was signed" % (relpath, exc.strerror),
                                 hint="Rebuild the bundle")
        if (size, sha256) != (info["size"], info["sha256"]):
            raise PyMigrateError("%s does not match the bundle manifest (%d bytes, sha256 %s): nothing was signed"
                                 % (relpath, size, sha256), hint="Rebuild the bundle: its store was altered")
        members.append((relpath, info["sha256"], info["size"]))
    return members


def create_archive(bundle_dir: str, out_path: str, private_key, *, expires_in=datetime.timedelta(days=30),
                   have: t.Iterable[str] | None = None, base_serial: int | None = None, now=None) -> dict:
    """Write one signed archive of ``bundle_dir``; with ``have`` (sha256s the inside already holds), a delta."""
    manifest = _manifest.read(bundle_dir)
    have = set(have or ())
    created = now or utc_now()
    members, elsewhere = [], []
    for relpath, sha256, size in bundle_members(bundle_dir, manifest):
        if relpath.startswith("files/") and sha256 in have:
            elsewhere.append({"path": relpath, "sha256": sha256, "size": size})
        else:
            members.append({"path": relpath, "sha256": sha256, "size": size})
    kind = "delta" if elsewhere else "full"
    index = {"format": 1, "kind": kind, "serial": manifest["serial"], "bundle_created": manifest["created"],
             "created": format_time(created), "expires": format_time(created + expires_in), "members": members,
             "carried_elsewhere": elsewhere, "base_serial": base_serial if kind == "delta" else None}
    index_bytes = json.dumps(index, indent=1, sort_keys=True).encode()
    signature = {"algorithm": "ed25519", "key_id": key_id(private_key.public_key()),
                 "signature": base64.b64encode(private_key.sign(index_bytes)).decode()}
    mtime = int(created.timestamp())
    temp = out_path + ".partial"
    try:
        with tarfile.open(temp, "w", format=tarfile.PAX_FORMAT) as tar:
            for name, data in ((ARCHIVE_JSON, index_bytes), (ARCHIVE_SIG, json.dumps(signature).encode())):
                tar.addfile(_tarinfo(name, len(data), mtime), io.BytesIO(data))
            for member in members:
                with open(os.path.join(bundle_dir, member["path"]), "rb") as handle:
                    tar.addfile(_tarinfo(member["path"], member["size"], mtime), handle)
        os.replace(temp, out_path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return {"kind": kind, "serial": manifest["serial"], "members": len(members), "carried_elsewhere": len(elsewhere),
            "key_id": signature["key_id"], "expires": index["expires"], "path": out_path,
            "bytes": os.path.getsize(out_path)}


def _tarinfo(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid = size, mtime, 0o644, 0, 0
    return info


# -- import ---------------------------------------------------------------------------------------
def _safe_name(name: str) -> str:
    if not name or name.startswith("/") or "\\" in name or name != posixpath.normpath(name) \
            or any(part in ("..", ".", "") for part in name.split("/")):
        raise PyMigrateError("archive member %r has an unsafe path (absolute, '..' or not normalized)" % name)
    return name


def _read_small(tar: tarfile.TarFile, member: tarfile.TarInfo | None, expected: str) -> bytes:
    if member is None or member.name != expected:
        if expected == ARCHIVE_SIG:
            raise PyMigrateError("the archive carries no signature (archive.sig must follow archive.json); "
                                 "unsigned archives are refused")
        raise PyMigrateError("not a pymigrate archive: it does not start with archive.json")
    if not member.isfile() or member.size > MAX_META:
        raise PyMigrateError("archive member %s is not a regular file of sane size" % expected)
    data = tar.extractfile(member)
    if data is None:  # cannot happen for a regular file, checked above
        raise PyMigrateError("archive member %s cannot be read" % expected)
    return data.read()


def read_accepted(state_dir: str) -> dict:
    path = os.path.join(state_dir, "accepted.json")
    try:
        with open(path) as handle:
            state = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise PyMigrateError("cannot read %s: %s" % (path, exc))
    serial = state.get("serial") if isinstance(state, dict) else None
    if not isinstance(serial, int) or isinstance(serial, bool):
        raise PyMigrateError("%s is damaged: its serial must be an integer, not %r" % (path, serial),
                             hint="Restore it from a backup, or remove it to accept any serial again")
    return state


def read_have_list(store_dir: str) -> list:
    """sha256 of every file in a store (bundle or controller store), for the survey's have-list."""
    found = []
    root = os.path.join(store_dir, "files", "sha256")
    if os.path.isdir(root):
        for prefix in sorted(os.listdir(root)):
            found += sorted(os.listdir(os.path.join(root, prefix)))
    return found


# Seconds an import waits for another one into the same store to finish.
IMPORT_LOCK_TIMEOUT = 300
# Names of the imported store a metadata member of an archive must never take.
RESERVED = ("files", "built", "current", "bundles", "accepted.json", "proposals")
# Check mode's verified archive, a bundle directory of its own that the rollout's check mode previews (one at a time).
PROPOSALS = "proposals"


@contextlib.contextmanager
def _store_lock(store_dir: str, timeout: float) -> t.Iterator[None]:
    """An exclusive flock on the store directory itself (no lock file: a refused import leaves the store as it was),
    waited for up to ``timeout`` seconds."""
    handle = os.open(store_dir, os.O_RDONLY)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    raise PyMigrateError("another import into %s has not finished within %ss; let it finish"
                                         % (store_dir, timeout))
                time.sleep(0.2)
        yield
    finally:
        os.close(handle)  # (closing it releases the lock)


@dataclasses.dataclass(frozen=True)
class ImportHooks:
    """What the caller adds to an import: ``progress`` (a callable taking a line) hears how far the members'
    verification is, a line per 10 % of their bytes; ``verify`` (a callable taking the directories the bundle's files
    are read from, the staging directory then the store, and its manifest) checks the bundle once every member is
    proven and before anything becomes visible: it raises to refuse it, or returns what it found (the result's
    ``verified``). The provenance re-verification inside is one (issue 31, _provenance.reverify)."""

    progress: t.Callable[[str], None] | None = None
    verify: t.Callable[[t.Sequence[str], dict], t.Any] | None = None


def import_archive(archive_path: str, store_dir: str, trusted_keys: t.Sequence, *, allow_downgrade=False,
                   now=None, max_skew=datetime.timedelta(minutes=5), check_mode=False,
                   hooks: ImportHooks | None = None) -> dict:
    """Verify an archive completely, then add it to the controller store. Returns {changed, serial, ...} with what
    names the archive (key id, expiry, kind). ``hooks``: a progress line, a further check (ImportHooks).

    One import at a time per store: the last accepted serial is read, checked against and written under one lock,
    so that two imports at once can never leave an older serial accepted after a newer one (waited for up to
    ``IMPORT_LOCK_TIMEOUT`` seconds)."""
    if not trusted_keys:
        raise PyMigrateError("no trusted key configured: an archive is only accepted signed by one",
                             var="pymigrate_trusted_keys")
    keys = {key_id(key): key for key in (load_public_key(k) if isinstance(k, str) else k for k in trusted_keys)}
    os.makedirs(store_dir, exist_ok=True)
    with _store_lock(store_dir, IMPORT_LOCK_TIMEOUT):
        return _import_locked(archive_path, store_dir, keys, allow_downgrade, now or utc_now(), max_skew,
                              check_mode, hooks or ImportHooks())


def _import_locked(archive_path, store_dir, keys, allow_downgrade, now, max_skew, check_mode, hooks) -> dict:
    state = read_accepted(store_dir)
    work = tempfile.mkdtemp(prefix=".import-", dir=store_dir)
    try:
        try:
            with tarfile.open(archive_path, mode="r|") as tar:
                index_bytes = _read_small(tar, tar.next(), ARCHIVE_JSON)
                sig_bytes = _read_small(tar, tar.next(), ARCHIVE_SIG)
                index = _verify_index(index_bytes, sig_bytes, keys, now, max_skew, state, allow_downgrade)
                _refuse_other_kind(index, archive_path)
                digest = hashlib.sha256(index_bytes).hexdigest()
                # Read and verify every member even of an archive already accepted: a tampered copy of it is refused.
                received = _receive_members(tar, index, work, Progress(hooks.progress, index))
        except (tarfile.TarError, EOFError) as exc:
            raise PyMigrateError("the archive %s is truncated or damaged (%s)" % (archive_path, exc))
        missing = [m["path"] for m in index["members"] if m["path"] not in received]
        if missing:
            raise PyMigrateError("the archive ended before %d declared member(s) arrived, first %s: it is truncated"
                                 % (len(missing), missing[0]))
        _check_bundle(index, work, store_dir)
        verified = hooks.verify([work, store_dir], _manifest.read(work)) if hooks.verify is not None else None
        # sdists the bundle leaves to builder hosts inside (deploy.yml builds them before the rollout).
        builds = _manifest.carried_builds(_manifest.read(work))
        named = {"serial": index["serial"], "kind": index["kind"], "key_id": json.loads(sig_bytes)["key_id"],
                 "expires": index["expires"], "path": archive_path, "bytes": os.path.getsize(archive_path),
                 "bundle_dir": os.path.join(store_dir, "current"), "builds": builds, "verified": verified}
        if state.get("serial") == index["serial"] and state.get("digest") == digest:
            return dict(named, changed=False, files_added=0, msg="already imported")
        if check_mode:  # what the rollout's check mode previews is this archive, not the store's current bundle
            return dict(named, changed=True, files_added=_count_new(index, store_dir),
                        bundle_dir=_propose(index, work, store_dir, digest))
        added = _commit(index, work, store_dir, digest, now)
        shutil.rmtree(os.path.join(store_dir, PROPOSALS), ignore_errors=True)  # a check's proposal is stale now
        return dict(named, changed=True, files_added=added)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _refuse_other_kind(index: t.Mapping, archive_path: str) -> None:
    """An advisory-only archive (issue 31, _advisories.py) has a serial line of its own: never a bundle."""
    if index.get("kind") not in ("full", "delta"):
        raise PyMigrateError("%s is an archive of kind %s, not a bundle: nothing was imported" % (
            archive_path, index.get("kind")), var="pymigrate_archive", value=archive_path,
            hint="Import an advisory-only archive with playbooks/audit.yml -e pymigrate_advisory_archive=<path>")


def _verify_index(index_bytes, sig_bytes, keys, now, max_skew, state, allow_downgrade) -> dict:
    try:
        signature = json.loads(sig_bytes)
        raw = base64.b64decode(signature["signature"])
        signer = signature["key_id"]
    except (ValueError, KeyError, TypeError):
        raise PyMigrateError("the archive's signature is malformed")
    if signer not in keys:
        raise PyMigrateError("the archive is signed by key %s, which is not trusted (trusted: %s)"
                             % (signer, ", ".join(sorted(keys))), var="pymigrate_trusted_keys")
    try:
        keys[signer].verify(raw, index_bytes)
    except InvalidSignature:
        raise PyMigrateError("the archive's signature does not match archive.json: it was altered after signing")
    index = json.loads(index_bytes)
    if not isinstance(index.get("serial"), int) or isinstance(index.get("serial"), bool):
        raise PyMigrateError("archive.json's serial must be an integer, not %r" % (index.get("serial"),))
    created, expires = _parse_time(index["created"], "created"), _parse_time(index["expires"], "expiry")
    if expires <= now:
        raise PyMigrateError("the archive expired at %s" % index["expires"], hint="Export a fresh archive outside")
    if created > now + max_skew:
        raise PyMigrateError("the archive is dated %s, in the future (now %s, allowed skew %s)"
                             % (index["created"], format_time(now), max_skew), hint="Check the clocks on both sides")
    last = state.get("serial")
    if last is not None and index["serial"] <= last and not allow_downgrade:
        digest = hashlib.sha256(index_bytes).hexdigest()
        if not (index["serial"] == last and state.get("digest") == digest):
            raise PyMigrateError("the archive has serial %s, not higher than the last accepted %s (a replay or an "
                                 "old bundle)" % (index["serial"], last), var="pymigrate_allow_downgrade",
                                 hint="Set pymigrate_allow_downgrade only to roll back on purpose")
    return index


class Progress:
    """A line per 10 % of an archive's member bytes verified: ``verified 30 % (32.1 of 107.0 MB)``."""

    def __init__(self, say, index: t.Mapping):
        self.say, self.total = say, sum(int(m["size"]) for m in index["members"]) or 1
        self.done, self.shown = 0, 0

    def add(self, size: int) -> None:
        self.done += size
        tenth = self.done * 10 // self.total
        if self.say and tenth > self.shown:
            self.shown = tenth
            self.say("verified %d %% (%.1f of %.1f MB)" % (tenth * 10, self.done / 1e6, self.total / 1e6))


def _receive_members(tar, index, work, progress: Progress) -> set:
    declared = {m["path"]: m for m in index["members"]}
    received: set = set()
    folders: set = set()
    while True:
        member = tar.next()  # not `for member in tar`: that would start again with the members already read
        if member is None:
            break
        name = _safe_name(member.name)
        if name in received:
            raise PyMigrateError("archive member %s appears twice" % name)
        _not_nested(name, received, folders)
        spec = declared.get(name)
        if spec is None:
            raise PyMigrateError("archive member %s is not listed in archive.json" % name)
        if not member.isfile():
            raise PyMigrateError("archive member %s is a link, device or directory, not a regular file" % name)
        if member.size != spec["size"]:
            raise PyMigrateError("archive member %s is %d bytes, archive.json declares %d"
                                 % (name, member.size, spec["size"]))
        matched, sha256, size = write_verified(_bounded_chunks(tar.extractfile(member), spec["size"], name),
                                               os.path.join(work, name), spec["sha256"], spec["size"])
        if size != spec["size"]:
            raise PyMigrateError("archive member %s ended after %d of %d bytes: the archive is truncated"
                                 % (name, size, spec["size"]))
        if not matched:
            raise PyMigrateError("archive member %s has sha256 %s, archive.json declares %s: it was changed"
                                 % (name, sha256, spec["sha256"]))
        received.add(name)
        progress.add(size)
    return received


def _not_nested(name: str, received: t.Collection[str], dirs: set) -> None:
    """No member lies under another (a file where a directory must be, or the other way round): such an archive is
    refused by name before anything is placed (a raw errno and a half-made bundle before). ``dirs``: the folders of
    the members received so far."""
    parts = name.split("/")
    under = ["/".join(parts[:i]) for i in range(1, len(parts))]
    clash = [other for other in under if other in received]
    if clash or name in dirs:
        where = "lies under the member %s" % clash[0] if clash else "is a folder of other members"
        raise PyMigrateError("archive member %s %s: the archive is refused, nothing was imported" % (name, where))
    dirs.update(under)


def _bounded_chunks(source, declared: int, name: str):
    """Never read past the declared size: one byte more proves the member larger than declared."""
    size = 0
    while True:
        chunk = source.read(min(CHUNK, declared + 1 - size))
        if not chunk:
            return
        size += len(chunk)
        if size > declared:
            raise PyMigrateError("archive member %s is larger than declared" % name)
        yield chunk


def _store_file_ok(store_dir, item) -> bool:
    path = os.path.join(store_dir, item["path"])
    return os.path.isfile(path) and os.path.getsize(path) == item["size"] and file_sha256(path) == item["sha256"]


def _check_bundle(index, work, store_dir) -> None:
    try:
        manifest = _manifest.read(work)
    except PyMigrateError as exc:
        raise PyMigrateError("the archive carries no readable manifest.json (%s)" % exc)
    if manifest.get("serial") != index["serial"]:
        raise PyMigrateError("manifest.json has serial %s but archive.json says %s"
                             % (manifest.get("serial"), index["serial"]))
    carried = {m["path"] for m in index["members"]}
    elsewhere = {m["path"]: m for m in index.get("carried_elsewhere", [])}
    missing_base = [item for item in elsewhere.values() if not _store_file_ok(store_dir, item)]
    if missing_base:
        raise PyMigrateError("this delta archive builds on serial %s, but the store lacks %d of the files it leaves "
                             "out (first %s): import its base first, or export a full archive"
                             % (index.get("base_serial"), len(missing_base), missing_base[0]["path"]))
    metadata = set(_manifest.metadata_files(manifest))
    for path in sorted(carried):
        if path.startswith("files/"):
            continue
        if path.split("/", 1)[0] in RESERVED or path not in metadata:
            raise PyMigrateError("archive member %s is no metadata file of its manifest (or takes a name the store "
                                 "keeps for itself): the archive is refused, nothing was imported" % path)
    for relpath, info in manifest["files"].items():
        check_relpath(relpath)
        if relpath not in carried and relpath not in elsewhere:
            raise PyMigrateError("manifest.json lists %s, which the archive neither carries nor declares as present"
                                 % relpath)
        if info["sha256"] != relpath.split("/")[3]:
            raise PyMigrateError("manifest.json entry %s does not match its own path" % relpath)


def _propose(index, work, store_dir, digest) -> str:
    """Check mode: the verified archive made a bundle directory of its own, ``proposals/<serial>-<digest>/``, which
    the rollout's check mode previews (before, it previewed the store's current bundle, or failed with none). The
    store's files it leaves out (a delta) are links to them; nothing of the store itself changes. The previous
    proposal goes: one at a time, and a real import removes it."""
    for item in index.get("carried_elsewhere", []):
        relpath = item["path"]
        check_relpath(relpath)
        os.makedirs(os.path.dirname(os.path.join(work, relpath)), exist_ok=True)
        os.symlink(os.path.join(store_dir, relpath), os.path.join(work, relpath))
    os.symlink(os.path.join(store_dir, "built"), os.path.join(work, "built"))
    root = os.path.join(store_dir, PROPOSALS)
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    proposal = os.path.join(root, "%s-%s" % (index["serial"], digest[:12]))
    os.replace(work, proposal)
    return proposal


def _count_new(index, store_dir) -> int:
    return sum(1 for m in index["members"]
               if m["path"].startswith("files/") and not os.path.exists(os.path.join(store_dir, m["path"])))


def _commit(index, work, store_dir, digest, now) -> int:
    added = 0
    for member in index["members"]:
        if not member["path"].startswith("files/"):
            continue
        final = os.path.join(store_dir, member["path"])
        if os.path.exists(final):
            continue
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.replace(os.path.join(work, member["path"]), final)
        added += 1
    bundle = os.path.join(store_dir, "bundles", str(index["serial"]))
    # Made whole beside its place, then renamed into it: never a half-made bundles/<serial>/.
    staged = os.path.join(store_dir, "bundles", ".%s.tmp-%d" % (index["serial"], os.getpid()))
    shutil.rmtree(staged, ignore_errors=True)
    os.makedirs(staged)
    try:
        for member in index["members"]:
            if not member["path"].startswith("files/"):  # (some in folders of their own: lock/)
                os.makedirs(os.path.dirname(os.path.join(staged, member["path"])), exist_ok=True)
                os.replace(os.path.join(work, member["path"]), os.path.join(staged, member["path"]))
        os.symlink(os.path.join("..", "..", "files"), os.path.join(staged, "files"))  # one store for every bundle
        # What builder hosts inside built from carried sdists outlives the serial: a later bundle of the same sdist
        # installs the same wheel rather than a rebuild.
        os.makedirs(os.path.join(store_dir, "built"), exist_ok=True)
        os.symlink(os.path.join("..", "..", "built"), os.path.join(staged, "built"))
        shutil.rmtree(bundle, ignore_errors=True)
        os.replace(staged, bundle)
    except OSError as exc:
        shutil.rmtree(staged, ignore_errors=True)
        raise PyMigrateError("cannot place the imported bundle in %s (%s); the store keeps its current bundle"
                             % (bundle, exc))
    temp = os.path.join(store_dir, ".current-%d" % os.getpid())
    os.symlink(os.path.join("bundles", str(index["serial"])), temp)
    os.replace(temp, os.path.join(store_dir, "current"))
    state = {"serial": index["serial"], "digest": digest, "accepted": format_time(now), "kind": index["kind"]}
    write_atomic(os.path.join(store_dir, "accepted.json"), json.dumps(state, indent=1, sort_keys=True).encode("utf-8"))
    return added
