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
"""

from __future__ import annotations

import contextlib
import re
import shlex

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
