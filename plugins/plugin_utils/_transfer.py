# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How the push's stream travels over SSH: without SSH compression.

Wheels are zip archives, compressed already. Ansible's default ``ssh_args`` start with ``-C``, so every byte the
push sends would be deflated by the control node's ssh and inflated by the host's sshd for no gain: measured on the
test fleet, a 55 MB stream took three times as long with ``-C`` as without. Compression is negotiated once per SSH
connection, and Ansible's connections to a host share one ControlMaster, so it cannot be switched off for one file
on that connection: the stream goes over a connection of its own, the task's ``ssh_args`` without compression and
without the shared master (every other option, ``ssh_common_args`` and the extra args, stays as configured).
Other connection plugins (paramiko, local, containers) and ssh settings without compression are left as they are.

The stream itself (``shared_stream``): hosts of one profile lack the same files, so the stream of a set of files is
written once on the control node and sent to each of them, not written again per host (48 hosts lacking 55 MB each
wrote 2.6 GB). It is keyed by the files' paths and sha256s, kept in a directory of the control node's user for an
hour after its last use.

The host's half: with pipelining, the Python the push found on the host runs ``_store.receive_pushed`` as a program
read from its standard input (_hostprogram) to take the stream into the store; wheel_store as an Ansible module
would cost the host a module's start-up (its payload unpacked, AnsibleModule imported) and the temporary directory a
further command to remove.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shlex
import stat
import tempfile
import time
import typing as t

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

STREAM_MAX_AGE = 3600  # seconds a stream is kept after its last use (a run's hosts reuse it within minutes)

# Options that tie a connection to the shared (compressed) ControlMaster; the stream's connection drops them.
_MASTER_OPTIONS = ("compression", "controlmaster", "controlpersist", "controlpath")
UNCOMPRESSED_ONE_SHOT = ["-o", "Compression=no", "-o", "ControlMaster=no", "-o", "ControlPath=none"]


def _option(value):
    """(lower-case name, value) of an ``-o`` argument: ssh takes ``Name=value`` and ``Name value`` alike."""
    parts = re.split(r"\s*=\s*|\s+", value.strip(), maxsplit=1)
    return parts[0].lower(), (parts[1] if len(parts) > 1 else "").strip().lower()


def uncompressed_ssh_args(ssh_args):
    """``ssh_args`` for a one-shot connection without compression, or None when ``ssh_args`` do not compress.

    ``-C`` (alone or among other single-letter flags, as in ``-qC``) and ``-o Compression=yes`` turn compression
    on; the result drops them and the ControlMaster options, and ends with ``Compression=no``, ``ControlMaster=no``
    and ``ControlPath=none`` (ssh keeps the first value it is given for an option, and Ansible adds a ControlPath of
    its own only when ControlPersist is set).
    """
    tokens = shlex.split(ssh_args or "")
    compressed = False
    kept: list = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token == "-o" or (token.startswith("-o") and len(token) > 2):
            value = token[2:] if token != "-o" else (tokens[index] if index < len(tokens) else "")
            index += 1 if token == "-o" else 0
            name, setting = _option(value)
            if name == "compression":
                compressed = setting in ("yes", "true")
            if name not in _MASTER_OPTIONS:
                kept += ["-o", value]
            continue
        if token.startswith("-") and not token.startswith("--") and "C" in token[1:] and token[1:].isalpha():
            compressed = True
            token = token.replace("C", "")
            if token == "-":
                continue
        kept.append(token)
    if not compressed:
        return None
    return " ".join(shlex.quote(token) for token in kept + UNCOMPRESSED_ONE_SHOT)


@contextlib.contextmanager
def without_compression(connection):
    """Within the block, ``connection`` (an ssh connection plugin) opens connections without compression; its
    options are restored afterwards. Yields True when it changed anything."""
    original = None
    if getattr(connection, "transport", None) == "ssh":  # ansible.builtin.ssh (paramiko's is "paramiko")
        try:
            original = connection.get_option("ssh_args")
        except KeyError:  # an ssh-like plugin without ssh_args
            original = None
    changed = uncompressed_ssh_args(original) if original else None
    if changed is None:
        yield False
        return
    connection.set_option("ssh_args", changed)
    try:
        yield True
    finally:
        connection.set_option("ssh_args", original)


def streams_dir(root: str | None = None) -> str:
    """The control node user's own directory of push streams (made 0700; refused when it is not a private
    directory of this user: another user must not be able to put a stream there)."""
    path = os.path.join(root or tempfile.gettempdir(), "airgap-pymigrate-streams-%d" % os.getuid())
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PyMigrateError("%s is not a directory only this user (uid %d) can write: refusing to send streams "
                             "from it" % (path, os.getuid()), hint="Remove it; the push makes it again")
    return path


def stream_key(files: t.Iterable[t.Mapping]) -> str:
    """What names a stream: the paths and sha256s of its files (store paths, so equal keys mean equal bytes)."""
    listed = sorted((str(item["path"]), str(item["sha256"])) for item in files)
    return hashlib.sha256(json.dumps(listed).encode()).hexdigest()


def shared_stream(key: str, write: t.Callable[[str], None], root: str | None = None) -> str:
    """The path of the stream ``key``: written by ``write(path)`` by the first host's push that needs it, while the
    pushes of the other hosts that need it wait (a lock file), then read by all of them. Streams unused for
    STREAM_MAX_AGE are removed."""
    directory = streams_dir(root)
    path = os.path.join(directory, key + ".tar")
    with open(path + ".lock", "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            os.utime(path)  # in use again: kept another STREAM_MAX_AGE
            return path
        except FileNotFoundError:
            pass
        partial = "%s.%d.partial" % (path, os.getpid())
        try:
            write(partial)
            os.replace(partial, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
    remove_stale(directory)
    return path


def discard_stream(path: str) -> None:
    """Removes a stream (a push that sent it failed): the next push that needs it writes it again."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def remove_stale(directory: str, now: float | None = None) -> list:
    """Removes the streams (and their lock files) unused for STREAM_MAX_AGE; returns their names."""
    now = time.time() if now is None else now
    removed = []
    for name in sorted(os.listdir(directory)):
        full = os.path.join(directory, name)
        try:
            if now - os.lstat(full).st_mtime > STREAM_MAX_AGE:
                os.unlink(full)
                removed.append(name)
        except OSError as exc:
            if exc.errno != errno.ENOENT:  # removed by another push meanwhile
                raise
    return removed
