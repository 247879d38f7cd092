# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build one sdist into a wheel on a builder host, with no index at all.

Runs on target hosts: standard library only, Python 3.8+. pip runs from the pip wheel the controller sent (a
builder needs no pip of its own); build requirements, if any, come only from the files sent with the sdist
(``--no-index --find-links``), otherwise the build runs without isolation. The build log stays in a file.
"""

import os
import subprocess

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import file_sha256


class BuildError(Exception):
    """A build that did not give exactly one wheel; ``log`` is the path of its log."""

    def __init__(self, message, log=None):
        super().__init__(message)
        self.log = log


def build_wheel(python, pip_wheel, sdist, find_links, out_dir, isolated, timeout):
    """Build ``sdist`` with ``python`` into ``out_dir``; returns {filename, path, sha256, size, log}."""
    if not os.access(python, os.X_OK):
        raise BuildError("the builder's interpreter %s is not executable" % python)
    os.makedirs(out_dir, exist_ok=True)
    log_path = os.path.join(out_dir, "build.log")
    argv = [python, os.path.join(pip_wheel, "pip"), "wheel", "--no-deps", "--no-index", "--find-links", find_links,
            "--wheel-dir", out_dir, sdist]
    if not isolated:
        argv.insert(3, "--no-build-isolation")
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_ONLY_BINARY=":all:")
    with open(log_path, "w") as log:
        try:
            result = subprocess.run(argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise BuildError("building %s did not finish within %d s" % (os.path.basename(sdist), timeout), log_path)
    if result.returncode != 0:
        raise BuildError("building %s failed (pip exit %d)" % (os.path.basename(sdist), result.returncode), log_path)
    wheels = [name for name in os.listdir(out_dir) if name.endswith(".whl")]
    if len(wheels) != 1:
        raise BuildError("building %s gave %d wheels, expected one" % (os.path.basename(sdist), len(wheels)), log_path)
    path = os.path.join(out_dir, wheels[0])
    return {"filename": wheels[0], "path": path, "sha256": file_sha256(path), "size": os.path.getsize(path),
            "log": log_path}
