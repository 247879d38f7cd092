# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The content-addressed wheel store, as both the control node and the hosts lay it out.

Runs on target hosts: standard library only, Python 3.8+.
A file lives at ``files/sha256/<2 hex>/<64 hex>/<filename>``: the hash is the identity (same bytes, same
place, shared by every profile), the filename is kept because pip needs it to read the wheel's tags.
"""

import errno
import fcntl
import hashlib
import json
import os
import re
import socket
import stat
import tarfile
import time

PART_SUFFIX = ".part"
# The argument spec of one file, shared by the modules that take file lists so they cannot drift apart.
FILE_ARGUMENT_SPEC = dict(path=dict(type="str", required=True), sha256=dict(type="str", required=True),
                          size=dict(type="int", required=True))
# The host store and a list of its files (doc fragment STORE_FILES): wheel_store's options, and wheel_push's.
STORE_ARGUMENT_SPEC = dict(store_dir=dict(type="path", default="/var/lib/pymigrate/store"),
                           files=dict(type="list", elements="dict", required=True, options=FILE_ARGUMENT_SPEC))
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Wheel and sdist file names (PEP 427 escaping): no space, newline or shell character ever reaches a command line.
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+!-]*$")
_CHUNK = 1024 * 1024


class StoreError(Exception):
    """A store problem meant for the user: what, where, and what to do."""


def store_relpath(sha256, filename):
    """Relative path of a file in any store (bundle directory or host store)."""
    sha256 = sha256.lower()
    if not _HEX64.match(sha256):
        raise StoreError("not a sha256 hex digest: %r" % (sha256,))
    if not filename or not _FILENAME.match(filename):
        raise StoreError("not a plain wheel or sdist file name: %r" % (filename,))
    return "files/sha256/%s/%s/%s" % (sha256[:2], sha256, filename)


def check_relpath(relpath):
    """Refuse anything but a well-formed store path (no '..', no absolute path, hash and name sane)."""
    parts = relpath.split("/")
    if len(parts) != 5 or parts[0] != "files" or parts[1] != "sha256":
        raise StoreError("not a store path: %r" % (relpath,))
    if parts[2] != parts[3][:2] or store_relpath(parts[3], parts[4]) != relpath:
        raise StoreError("not a store path: %r" % (relpath,))
    return parts[3]


def read_chunks(handle, chunk_size=_CHUNK):
    """The bytes of an open binary file, a chunk at a time."""
    return iter(lambda: handle.read(chunk_size), b"")


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in read_chunks(handle):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(path, data):
    """Replace ``path`` with ``data`` (bytes) all at once: a temporary file beside it, fsynced, renamed over it."""
    temp = "%s.tmp-%d" % (path, os.getpid())
    try:
        with open(temp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        _unlink_quietly(temp)
        raise


def write_verified(chunks, final, sha256, size=None):
    """Write ``chunks`` to ``final`` through a partial file beside it, hashing while writing.

    The file is renamed into place only when its sha256 (and ``size``, when given) match, so ``final``
    never holds bytes that were not proven. Returns ``(matched, actual sha256, actual size)``; on a
    mismatch or any error the partial file is removed (errors propagate).
    """
    partial = final + PART_SUFFIX
    digest, written = hashlib.sha256(), 0
    try:
        os.makedirs(os.path.dirname(final), exist_ok=True)
        with open(partial, "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                written += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        _unlink_quietly(partial)
        raise
    actual = digest.hexdigest()
    if actual != sha256.lower() or (size is not None and written != size):
        _unlink_quietly(partial)
        return False, actual, written
    os.chmod(partial, 0o644)
    os.replace(partial, final)
    return True, actual, written


def _describe_oserror(exc, where):
    if exc.errno == errno.ENOSPC:
        return "disk full under %s: %s" % (where, exc)
    return "%s: %s" % (where, exc)


# {store path: [size, inode, ctime_ns]} of the files hashed and found right: a file whose size, inode and ctime are
# those it had then has not been written, renamed over or chmod'ed since (any of these sets the ctime, which only a
# change of the clock can set back), so it is not hashed again; git's index trusts the same stat data. Installs
# still hash every file they use (the environment's verify_files), and wheel_store's state=verified audits hash them
# all.
VERIFIED_CACHE = ".verified.json"


def _stat_key(info):
    return [info.st_size, info.st_ino, info.st_ctime_ns]


def hashed_unchanged(cache, relpath, info):
    """Whether the store file ``relpath`` (its ``os.lstat`` ``info``) is as it was when it was hashed and found
    right (``cache``: load_verified's)."""
    return cache.get(relpath) == _stat_key(info)


def load_verified(store_dir):
    try:
        with open(os.path.join(store_dir, VERIFIED_CACHE)) as handle:
            cache = json.load(handle)
        return cache if isinstance(cache, dict) else {}
    except (OSError, ValueError):
        return {}


def save_verified(store_dir, cache):
    try:
        write_atomic(os.path.join(store_dir, VERIFIED_CACHE), json.dumps(cache, sort_keys=True).encode("utf-8"))
    except OSError:
        pass  # a cache: without it the next run hashes again


def compare(store_dir, wanted, repair, trust_verified=True):
    """Which of ``wanted`` ({path, sha256, size}) the store holds with the right bytes: present, missing, corrupt.

    One pass, one remote call: every present file is hashed (the hash is the proof of "same bytes"), unless it
    was hashed before and has not changed since (``VERIFIED_CACHE``; ``trust_verified=False`` hashes all).
    With ``repair`` (the caller says, always), files with wrong bytes and partial files left by an interrupted push
    are removed so that the next push sends them again.
    """
    cache = load_verified(store_dir) if trust_verified else {}
    known = dict(cache)
    present, missing, corrupt, removed_partials = [], [], [], []
    for item in wanted:
        relpath = item["path"]
        sha256 = check_relpath(relpath)
        if sha256 != item["sha256"].lower():
            raise StoreError("store path %s does not match its sha256 %s" % (relpath, item["sha256"]))
        full = os.path.join(store_dir, relpath)
        partial = full + PART_SUFFIX
        if repair and os.path.lexists(partial):
            os.unlink(partial)
            removed_partials.append(relpath)
        try:
            info = os.lstat(full)
        except OSError:
            missing.append(relpath)
            continue
        size = info.st_size
        if os.path.islink(full) or not os.path.isfile(full):
            problem = "not a regular file"
        elif item.get("size") is not None and size != item["size"]:
            problem = "size %d, expected %d" % (size, item["size"])
        elif hashed_unchanged(known, relpath, info):
            present.append(relpath)  # hashed before and not written since
            continue
        elif file_sha256(full) != sha256:
            problem = "sha256 differs"
        else:
            present.append(relpath)
            cache[relpath] = _stat_key(info)
            continue
        cache.pop(relpath, None)
        corrupt.append({"path": relpath, "problem": problem})
        if repair:
            os.unlink(full)
    if trust_verified and repair and cache != known:
        save_verified(store_dir, cache)
    return {"present": present, "missing": missing, "corrupt": corrupt, "removed_partials": removed_partials}


class FileLock(object):
    """An exclusive flock on ``path``, waited for up to ``timeout`` seconds; the holder writes who it is into the
    file, so that the next run's error names it. Raises ``error`` (an exception class) on time-out."""

    def __init__(self, path, timeout, error=StoreError):
        self.path, self.timeout, self.error, self.handle = path, timeout, error, None

    def __enter__(self):
        self.handle = open(self.path, "a+")
        deadline = time.time() + self.timeout
        while True:
            try:
                fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.time() >= deadline:
                    self.handle.seek(0)
                    holder = self.handle.read().strip() or "unknown"
                    self.handle.close()
                    raise self.error("another run holds %s (%s; waited %ss); let it finish, or remove a stale run"
                                     % (self.path, holder, self.timeout))
                time.sleep(0.2)
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write("pid %d on %s since %s" % (os.getpid(), socket.gethostname(),
                                                     time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
        self.handle.flush()
        return self

    def __exit__(self, *exc_info):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def _owner(uid):
    try:
        import pwd  # pylint: disable=import-outside-toplevel
        return "%s (uid %d)" % (pwd.getpwuid(uid).pw_name, uid)
    except (ImportError, KeyError):
        return "uid %d" % uid


def check_owned(path, error=StoreError):
    """Refuse ``path`` unless it and every existing directory above it is owned by root or this user and writable by
    no one else, as OpenSSH's StrictModes does: otherwise another local user could swap what root then installs or
    runs. A root-owned sticky directory (such as /tmp) may lie above, never be ``path`` itself. Links count as
    their owner and are followed, so a planted link is refused as well."""
    trusted = (0, os.geteuid())
    target = os.path.abspath(path)
    seen = set()
    while target not in seen:
        seen.add(target)
        chain = [target]
        while chain[-1] != "/":
            chain.append(os.path.dirname(chain[-1]))
        for component in reversed(chain):
            try:
                info = os.lstat(component)
            except FileNotFoundError:
                break
            sticky = info.st_uid == 0 and info.st_mode & stat.S_ISVTX and component != target
            writable = not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o022 and not sticky
            if info.st_uid not in trusted or writable:
                raise error("%s is owned by %s with mode %04o: another user could replace what is installed there; "
                            "make it owned by root and not writable by group or others (chmod go-w), or use another "
                            "path" % (component, _owner(info.st_uid), stat.S_IMODE(info.st_mode)))
        target = os.path.realpath(target)  # once more for the place a link leads to
    return path


def fsync_dir(path):
    """Make a rename in ``path`` durable (best effort: not every filesystem lets a directory be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def receive(store_dir, archive_path, expected):
    """Unpack a push stream (a tar of store paths) into the store, verifying each file before it counts.

    Every member must be one of ``expected`` ({path, sha256, size}); it is written to a ``.part`` file,
    hashed while written, and renamed into place only when size and sha256 match. Links, devices and
    anything unexpected are refused.
    """
    by_path = dict((item["path"], item) for item in expected)
    received = []
    verified = load_verified(store_dir)
    try:
        stream = tarfile.open(archive_path, mode="r|")
    except (tarfile.TarError, OSError) as exc:
        raise StoreError("cannot read the push stream %s: %s" % (archive_path, exc))
    with stream:
        for member in stream:
            item = by_path.get(member.name)
            if item is None:
                raise StoreError("push stream holds %r, which was not asked for" % (member.name,))
            if not member.isfile():
                raise StoreError("push stream entry %r is not a regular file" % (member.name,))
            if member.size != item["size"]:
                raise StoreError("push stream entry %s has size %d, expected %d"
                                 % (member.name, member.size, item["size"]))
            check_relpath(member.name)
            final = os.path.join(store_dir, member.name)
            try:
                matched, actual, _size = write_verified(read_chunks(stream.extractfile(member)), final, item["sha256"])
            except OSError as exc:
                raise StoreError(_describe_oserror(exc, store_dir))
            if not matched:
                raise StoreError("%s arrived with sha256 %s, expected %s; it was discarded, run the push again"
                                 % (member.name, actual, item["sha256"]))
            fsync_dir(os.path.dirname(final))
            received.append(member.name)
            verified[member.name] = _stat_key(os.lstat(final))
    save_verified(store_dir, verified)  # hashed on arrival: the next comparison need not hash them again
    missing = sorted(set(by_path) - set(received))
    if missing:
        raise StoreError("push stream ended before %d expected file(s) arrived, first %s; run the push again"
                         % (len(missing), missing[0]))
    return received


def receive_pushed(params, check_mode=False):
    """The host half of a push run as a program (wheel_push's pipelined path, _host_runner: the Python the push
    found on the host runs it without an Ansible module's start-up): ``receive`` into the store checked as wheel_store
    checks it, then the stream (``src``) and its temporary directory removed. Returns what wheel_store's
    ``state=received`` returns, and ``removed_tmp``: whether that directory is gone (a become user other than the one
    who sent the stream may not remove it; the push then removes it as usual)."""
    del check_mode  # the push sends nothing in check mode
    store_dir = params["store_dir"]
    try:
        check_owned(store_dir)
        received = receive(store_dir, params["src"], params["files"])
        result = {"changed": bool(received), "received": received}
    except (StoreError, OSError) as exc:
        result = {"failed": True, "msg": "store %s: %s" % (store_dir, exc)}
    _unlink_quietly(params["src"])
    try:
        os.rmdir(os.path.dirname(params["src"]))
    except OSError:
        pass
    result["removed_tmp"] = not os.path.lexists(os.path.dirname(params["src"]))
    return result


# The environments the collection built on the host, whatever inventory named them (paths of their stable symlinks):
# host_prune keeps the files of every one of them. Written under REGISTRY_LOCK by every install and by host_prune.
REGISTRY = "environments.json"
REGISTRY_LOCK = ".environments.lock"


def registered_environments(store_dir):
    """The environment paths the store's registry lists (none when it has none or cannot be read)."""
    try:
        with open(os.path.join(store_dir, REGISTRY)) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return []
    paths = data.get("environments") if isinstance(data, dict) else None
    return sorted(path for path in paths or () if isinstance(path, str) and os.path.isabs(path))


def register_environments(store_dir, add=(), remove=()):
    """Add ``add`` to the registry and take ``remove`` out of it; True when it changed."""
    with FileLock(os.path.join(store_dir, REGISTRY_LOCK), 60):
        current = set(registered_environments(store_dir))
        updated = (current | set(add)) - set(remove)
        if updated != current:
            write_atomic(os.path.join(store_dir, REGISTRY),
                         json.dumps({"format": 1, "environments": sorted(updated)}, indent=1).encode("utf-8"))
        return updated != current


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass
