# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Untrusted build code on the control node, kept away from what the run holds.

An sdist's build backend is code from the index, run on the control node in the same ``bundle.yml`` that signs the
archive. It runs here in namespaces of its own (util-linux's ``unshare``): its own process tree and ``/proc`` (no
other process's command line - a passphrase given with ``-e`` - or environment), no network (its build requirements
are fetched before, by the run's index client, which alone holds the index credentials), an empty environment but
for what a build needs, and the secrets of the control node user hidden under empty mounts: the signing key, vault
password files, ``~/.ssh``, ``~/.ansible`` (the SSH control sockets to every host), ``~/.netrc`` and the like. Its
capabilities are dropped (``setpriv``), so it cannot undo those mounts. A control node that cannot make these
namespaces refuses to build (``pymigrate_build_sdists: false`` then bundles wheels only).
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import typing as t

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

# Under the control node user's home: what holds keys, credentials, sockets and tokens.
HOME_SECRETS = (".ssh", ".netrc", ".pypirc", ".pip", ".config/pip", ".ansible", ".docker", ".gnupg", ".aws",
                ".kube", ".git-credentials", ".config/git", ".vault_pass", ".vault-password")
DESCRIPTION = ("in namespaces of its own (no network, its own processes, an empty environment, the control node "
               "user's keys and credentials hidden, no capabilities)")


def _tool(name: str) -> str | None:
    return shutil.which(name) or next((path for path in ("/usr/bin/" + name, "/bin/" + name, "/usr/sbin/" + name)
                                       if os.access(path, os.X_OK)), None)


def _unshare_argv() -> list:
    argv = [t.cast(str, _tool("unshare")), "--mount", "--pid", "--fork", "--mount-proc", "--net"]
    if os.geteuid() != 0:  # a user namespace lets an ordinary user make the others
        argv[1:1] = ["--user", "--map-root-user"]
    return argv


@functools.lru_cache(maxsize=None)
def available() -> str | None:
    """None when builds can be isolated here, else why not."""
    missing = [name for name in ("unshare", "setpriv") if _tool(name) is None]
    if missing:
        return "%s not found (Debian package util-linux)" % " and ".join(missing)
    probe = subprocess.run(_unshare_argv() + ["true"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           check=False)
    if probe.returncode != 0:
        return "cannot make namespaces here (%s)" % (probe.stdout.strip() or "unshare failed")
    return None


def hidden_paths(extra: t.Iterable[str], keep: t.Iterable[str]) -> list:
    """The existing paths to hide: the home's secrets and ``extra`` (the signing key, vault password files), never
    one that holds a path of ``keep`` (the build's own directories, the interpreter)."""
    home = os.path.expanduser("~")
    candidates = [os.path.join(home, name) for name in HOME_SECRETS] + [str(path) for path in extra if path]
    keep = [os.path.realpath(path) for path in keep]
    found = []
    for path in candidates:
        real = os.path.realpath(os.path.expanduser(path))
        if not os.path.exists(real) or real in found:
            continue
        if any(item == real or item.startswith(real.rstrip("/") + "/") for item in keep):
            continue  # hiding it would hide the build itself
        found.append(real)
    return sorted(found)


def command(argv: t.Sequence[str], env: t.Mapping[str, str], hidden: t.Sequence[str]) -> list:
    """``argv`` run in the sandbox with exactly ``env``, ``hidden`` covered (directories by an empty tmpfs, files by
    /dev/null); raises when builds cannot be isolated here."""
    reason = available()
    if reason:
        raise PyMigrateError("sdist builds on the control node run isolated, and here they cannot be: %s" % reason,
                             var="pymigrate_build_sdists",
                             hint="Install util-linux and allow namespaces, or set pymigrate_build_sdists: false "
                                  "(wheels only; a compiling sdist goes to a builder host)")
    mounts = ["mount -t tmpfs -o size=64k,mode=0700 none %s" % shlex.quote(path) if os.path.isdir(path)
              else "mount --bind /dev/null %s" % shlex.quote(path) for path in hidden]
    script = "set -e\n%s\nexec %s --no-new-privs --inh-caps=-all --bounding-set=-all -- env -i %s \"$@\"\n" % (
        "\n".join(mounts), shlex.quote(t.cast(str, _tool("setpriv"))),
        " ".join(shlex.quote("%s=%s" % item) for item in sorted(env.items())))
    return _unshare_argv() + ["sh", "-c", script, "pymigrate-build"] + list(argv)
