# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The advisory-only archive (issue 31, item 1): a fresh OSV database carried in without a bundle.

Same container, keys, expiry and replay rules as a bundle archive (``_archive.py``, docs/archive-format.md): an
uncompressed tar whose first member is ``archive.json`` (``kind: advisories``) and second ``archive.sig``; then
exactly two members, ``advisories.json`` (the database's sha256, size, date and record count) and ``osv-db.zip``.
Its serial is a line of its own (``<import dir>/advisories/accepted.json``): an advisory archive never replaces a
bundle, a bundle archive is never taken for one. Imported into ``<import dir>/advisories/<serial>/`` with
``current`` pointing at the newest; ``playbooks/audit.yml`` then audits against the newest authenticated database,
this one or one carried in a bundle. The format: docs/advisories-format.md.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import file_sha256, write_atomic
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _archive, _vulns
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError, format_time, utc_now

KIND = "advisories"
DIRNAME = "advisories"
RECORD_FILE = "advisories.json"
FORMAT = 1
MEMBERS = (RECORD_FILE, _vulns.OSV_DB_FILE)
HINT_IMPORT = "Import it with playbooks/audit.yml -e pymigrate_advisory_archive=<path>"


def store_of(import_dir: str) -> str:
    """Where advisory archives are imported: beside the bundles, with a serial line of their own."""
    return os.path.join(os.path.expanduser(import_dir), DIRNAME)


def _checked_database(path: str, var: str) -> tuple:
    database = _vulns.OsvDatabase(path, var=var)
    if database.records == 0:
        raise PyMigrateError("the OSV database %s holds no vulnerability record: an empty database is never carried"
                             % path, var=var, value=path)
    if not database.modified:
        raise PyMigrateError("no record of the OSV database %s carries a modified time, so its date is unknown"
                             % path, var=var, value=path)
    return database, _vulns.describe_db(path, database)


# -- export -----------------------------------------------------------------------------------------------------
def create(osv_db: str, out_path: str, private_key, *, expires_in=datetime.timedelta(days=30),
           now: datetime.datetime | None = None) -> dict:
    """Write one signed advisory-only archive of the OSV export ``osv_db``. Its serial is its creation time in
    seconds since the epoch: a later export is a higher serial."""
    _database, record = _checked_database(osv_db, "pymigrate_osv_db")
    created = (now or utc_now()).replace(microsecond=0)
    serial = int(created.timestamp())
    record_bytes = json.dumps({"format": FORMAT, "serial": serial, "created": format_time(created),
                               "osv_db": record}, indent=1, sort_keys=True).encode()
    members = [{"path": RECORD_FILE, "sha256": hashlib.sha256(record_bytes).hexdigest(), "size": len(record_bytes)},
               {"path": _vulns.OSV_DB_FILE, "sha256": record["sha256"], "size": record["size"]}]
    index = {"format": 1, "kind": KIND, "serial": serial, "created": format_time(created),
             "expires": format_time(created + expires_in), "members": members, "carried_elsewhere": [],
             "base_serial": None,
             "osv_db": {key: record[key] for key in ("sha256", "modified", "records")}}
    index_bytes = json.dumps(index, indent=1, sort_keys=True).encode()
    signature = {"algorithm": "ed25519", "key_id": _archive.key_id(private_key.public_key()),
                 "signature": base64.b64encode(private_key.sign(index_bytes)).decode()}
    _write_tar(out_path, int(created.timestamp()), [
        (_archive.ARCHIVE_JSON, index_bytes), (_archive.ARCHIVE_SIG, json.dumps(signature).encode()),
        (RECORD_FILE, record_bytes)], osv_db, record["size"])
    return {"kind": KIND, "serial": serial, "key_id": signature["key_id"], "expires": index["expires"],
            "path": out_path, "bytes": os.path.getsize(out_path), "osv_db": index["osv_db"]}


def _write_tar(out_path: str, mtime: int, small: t.Sequence, osv_db: str, size: int) -> None:
    temp = out_path + ".partial"
    try:
        with tarfile.open(temp, "w", format=tarfile.PAX_FORMAT) as tar:
            for name, data in small:
                tar.addfile(_archive._tarinfo(name, len(data), mtime), io.BytesIO(data))
            with open(osv_db, "rb") as handle:
                tar.addfile(_archive._tarinfo(_vulns.OSV_DB_FILE, size, mtime), handle)
        os.replace(temp, out_path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


# -- import -----------------------------------------------------------------------------------------------------
def import_archive(archive_path: str, import_dir: str, trusted_keys: t.Sequence, *, allow_downgrade=False,
                   now=None, max_skew=datetime.timedelta(minutes=5), check_mode=False) -> dict:
    """Verify an advisory-only archive completely, then make its database the newest carried one. Refused, with
    nothing changed: unsigned, signed by a key not trusted, altered, expired, from the future, a serial not higher
    than the last advisory archive accepted (a replay), a bundle archive, or a database that is not what its
    record says."""
    if not trusted_keys:
        raise PyMigrateError("no trusted key configured: an archive is only accepted signed by one",
                             var="pymigrate_trusted_keys")
    keys = {_archive.key_id(key): key
            for key in (_archive.load_public_key(k) if isinstance(k, str) else k for k in trusted_keys)}
    store = store_of(import_dir)
    os.makedirs(store, exist_ok=True)
    with _archive._store_lock(store, _archive.IMPORT_LOCK_TIMEOUT):
        return _import_locked(archive_path, store, keys, allow_downgrade, now or utc_now(), max_skew, check_mode)


def _import_locked(archive_path, store, keys, allow_downgrade, now, max_skew, check_mode) -> dict:
    state = _archive.read_accepted(store)
    work = tempfile.mkdtemp(prefix=".import-", dir=store)
    try:
        try:
            with tarfile.open(archive_path, mode="r|") as tar:
                index_bytes = _archive._read_small(tar, tar.next(), _archive.ARCHIVE_JSON)
                sig_bytes = _archive._read_small(tar, tar.next(), _archive.ARCHIVE_SIG)
                _refuse_bundle(index_bytes, archive_path)
                index = _archive._verify_index(index_bytes, sig_bytes, keys, now, max_skew, state, allow_downgrade)
                received = _archive._receive_members(tar, index, work, _archive.Progress(None, index))
        except (tarfile.TarError, EOFError) as exc:
            raise PyMigrateError("the archive %s is truncated or damaged (%s)" % (archive_path, exc))
        record = _check_members(index, received, work)
        digest = hashlib.sha256(index_bytes).hexdigest()
        named = {"kind": KIND, "serial": index["serial"], "key_id": json.loads(sig_bytes)["key_id"],
                 "expires": index["expires"], "path": archive_path, "bytes": os.path.getsize(archive_path),
                 "osv_db": {key: record["osv_db"][key] for key in ("sha256", "modified", "records")},
                 "advisories_dir": os.path.join(store, "current")}
        if state.get("serial") == index["serial"] and state.get("digest") == digest:
            return dict(named, changed=False, msg="already imported")
        if check_mode:
            return dict(named, changed=True)
        _commit(index, work, store, digest, now)
        return dict(named, changed=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _refuse_bundle(index_bytes: bytes, archive_path: str) -> None:
    """A bundle archive is refused before its serial is compared with the advisory line's (the kind is read
    unauthenticated, only ever to refuse; an archive of kind advisories is then verified in full)."""
    try:
        kind = json.loads(index_bytes).get("kind")
    except (ValueError, AttributeError):
        raise PyMigrateError("archive.json of %s is not a JSON object" % archive_path)
    if kind != KIND:
        raise PyMigrateError("%s is a %s bundle archive, not an advisory-only one: nothing was imported"
                             % (archive_path, kind), var="pymigrate_advisory_archive", value=archive_path,
                             hint="Import a bundle archive with playbooks/deploy.yml")


def _check_members(index: t.Mapping, received: set, work: str) -> dict:
    """The record of an advisory archive whose members all arrived: exactly the two members, the record naming the
    database carried (sha256, size) and the archive's serial, and the database readable, dated and not empty."""
    declared = sorted(m["path"] for m in index["members"])
    if declared != sorted(MEMBERS) or sorted(received) != sorted(MEMBERS):
        raise PyMigrateError("an advisory-only archive carries exactly %s, this one declares %s and carries %s"
                             % (", ".join(MEMBERS), ", ".join(declared), ", ".join(sorted(received))))
    try:
        with open(os.path.join(work, RECORD_FILE)) as handle:
            record = json.load(handle)
        osv = record["osv_db"]
        if record["serial"] != index["serial"]:
            raise ValueError("serial %r" % record["serial"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PyMigrateError("the archive's %s is unreadable or does not match archive.json (%s)" % (RECORD_FILE, exc))
    path = os.path.join(work, _vulns.OSV_DB_FILE)
    if (osv.get("sha256"), osv.get("size")) != (file_sha256(path), os.path.getsize(path)):
        raise PyMigrateError("the archive's %s is not the database its %s records" % (_vulns.OSV_DB_FILE, RECORD_FILE))
    _checked_database(path, "pymigrate_advisory_archive")
    return record


def _commit(index, work, store, digest, now) -> None:
    """Made whole beside its place, renamed into it; ``current`` switched atomically; the serial recorded."""
    final = os.path.join(store, str(index["serial"]))
    staged = os.path.join(store, ".%s.tmp-%d" % (index["serial"], os.getpid()))
    shutil.rmtree(staged, ignore_errors=True)
    os.makedirs(staged)
    for name in MEMBERS:
        os.replace(os.path.join(work, name), os.path.join(staged, name))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(staged, final)
    temp = os.path.join(store, ".current-%d" % os.getpid())
    os.symlink(str(index["serial"]), temp)
    os.replace(temp, os.path.join(store, "current"))
    state = {"serial": index["serial"], "digest": digest, "accepted": format_time(now), "kind": KIND}
    write_atomic(os.path.join(store, "accepted.json"), json.dumps(state, indent=1, sort_keys=True).encode("utf-8"))


# -- what the audit reads ---------------------------------------------------------------------------------------
def current(import_dir: str) -> tuple | None:
    """(path of the database, its record, serial) of the advisory archive imported last, or None when there is
    none. The record is the one the archive's signature vouched for."""
    if not import_dir:
        return None
    here = os.path.join(store_of(import_dir), "current")
    if not os.path.isdir(here):
        return None
    here = os.path.realpath(here)
    try:
        with open(os.path.join(here, RECORD_FILE)) as handle:
            record = json.load(handle)
        return os.path.join(here, _vulns.OSV_DB_FILE), dict(record["osv_db"]), int(record["serial"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PyMigrateError("the imported advisory archive in %s is damaged (%s)" % (here, exc),
                             var="pymigrate_import_dir", hint="Import the newest advisory archive again")
