# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What one host needs from a bundle manifest: its files (for push and verify) and its environments
(for install). The manifest is the single source of truth after the bundle is built or imported, so
deploying inside the enclave needs nothing but the bundle directory.

manifest.json (see docs/bundle-format.md)::

    profiles: {name: {packages: {name: version}, files: [relpath], installer: relpath, ...}}
    hosts:    {host: {env: {profile, path, python, smoke_imports}}}
    files:    {relpath: {size, sha256, project, version, filename}}
"""

from __future__ import annotations

import hashlib
import json


class BundleViewError(Exception):
    """The manifest does not describe what was asked: says which host or profile, and what to do."""


def _host_envs(manifest, host):
    hosts = manifest.get("hosts") or {}
    if host not in hosts:
        raise BundleViewError("host %s is not in the bundle (serial %s); rebuild the bundle with this host in "
                              "the inventory or limit the run to hosts it covers"
                              % (host, manifest.get("serial")))
    return hosts[host]


def _profile(manifest, name, host):
    try:
        return manifest["profiles"][name]
    except KeyError:
        raise BundleViewError("host %s refers to profile %s, which the bundle lacks" % (host, name))


def _file_entry(manifest, relpath):
    meta = manifest["files"][relpath]
    return {"path": relpath, "sha256": meta["sha256"], "size": meta["size"]}


def host_files(manifest, host):
    """Every file the host's environments need (wheels and the installer), each once, sorted."""
    wanted = set()
    for env in _host_envs(manifest, host).values():
        profile = _profile(manifest, env["profile"], host)
        wanted.update(profile.get("files", []))
        if profile.get("installer"):
            wanted.add(profile["installer"])
    return [_file_entry(manifest, relpath) for relpath in sorted(wanted)]


def host_envs(manifest, host):
    """The arguments of venv_install for each of the host's environments, sorted by name."""
    envs = []
    for env_name, env in sorted(_host_envs(manifest, host).items()):
        profile = _profile(manifest, env["profile"], host)
        packages = []
        for relpath in profile.get("files", []):
            meta = manifest["files"][relpath]
            packages.append({"name": meta["project"], "version": meta["version"],
                             "filename": relpath.rsplit("/", 1)[-1], "sha256": meta["sha256"],
                             "size": meta["size"]})
        packages.sort(key=lambda item: item["name"])
        installer = None
        if profile.get("installer"):
            meta = manifest["files"][profile["installer"]]
            installer = {"filename": profile["installer"].rsplit("/", 1)[-1], "sha256": meta["sha256"]}
        # The lock identity is what was installed, not where it came from: same files, same id.
        lock_id = hashlib.sha256(json.dumps([(p["name"], p["version"], p["sha256"]) for p in packages])
                                 .encode("utf-8")).hexdigest()
        envs.append({"name": env_name, "path": env["path"], "python": env.get("python"),
                     "profile": env["profile"], "packages": packages, "installer": installer,
                     "smoke_imports": env.get("smoke_imports") or [], "lock_id": lock_id})
    return envs
