# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 3, sdist-only projects: build a pure-Python wheel on the control node.

pip builds the sdist in an isolated environment whose build dependencies come from the same indexes.
A project whose build yields a platform-specific wheel cannot be built here for another target: it must
be built on a builder host matching the profile, so it fails with a message naming it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import urllib.parse

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import store_relpath
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._fetch import fetch_all, store_path
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import parse_wheel_filename
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import DistFile, PyMigrateError


def _pip_index_env(indexes) -> dict:
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    urls = []
    for index in indexes:
        url = index.base
        if index.username is not None:  # in the environment, not argv: argv is visible to every user
            parts = urllib.parse.urlsplit(url)
            userinfo = "%s:%s@" % (urllib.parse.quote(index.username, safe=""),
                                   urllib.parse.quote(index.password or "", safe=""))
            url = urllib.parse.urlunsplit(parts._replace(netloc=userinfo + parts.netloc))
        urls.append(url)
    env["PIP_INDEX_URL"] = urls[0]
    env["PIP_EXTRA_INDEX_URL"] = " ".join(urls[1:])
    return env


def make_sdist_builder(client, store_dir: str, work_dir: str):
    """A build_sdist callback for resolve(): sdist DistFile -> DistFile of the built wheel in the store."""

    def build(sdist: DistFile) -> DistFile:
        fetch_all([sdist], store_dir, client)
        out_dir = tempfile.mkdtemp(prefix="build-", dir=work_dir)
        result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out_dir,
                                 store_path(store_dir, sdist)], env=_pip_index_env(client.indexes), check=False,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode != 0:
            raise PyMigrateError("building %s into a wheel failed (pip masks credentials): %s"
                                 % (sdist.filename, result.stdout[-1500:]))
        built = [name for name in os.listdir(out_dir) if name.endswith(".whl")]
        if len(built) != 1:
            raise PyMigrateError("building %s produced %d wheels, expected one" % (sdist.filename, len(built)))
        tags = parse_wheel_filename(built[0])[3]
        if any(tag.platform != "any" or tag.abi != "none" for tag in tags):
            raise PyMigrateError("%s %s has only an sdist and would build a platform-specific wheel (%s)"
                                 % (sdist.project, sdist.version, built[0]),
                                 hint="Build it on a host matching the profile and add the wheel to your index")
        path = os.path.join(out_dir, built[0])
        with open(path, "rb") as handle:
            data = handle.read()
        sha256 = hashlib.sha256(data).hexdigest()
        final = os.path.join(store_dir, store_relpath(sha256, built[0]))
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.replace(path, final)
        return DistFile(project=sdist.project, version=sdist.version, filename=built[0],
                        url="file://" + urllib.parse.quote(final), sha256=sha256, size=len(data),
                        upload_time=sdist.upload_time, index_url=sdist.index_url)

    return build
