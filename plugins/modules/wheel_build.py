#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: wheel_build
short_description: Build one sdist into a wheel on the host, with no index
version_added: 0.2.0
description:
  - The host half of M(airgap.pymigrate.sdist_build), which sends the files and calls it; not meant to be used alone.
  - Runs pip from O(pip_wheel) with O(python), C(--no-index --find-links O(find_links)) and C(--no-deps), without
    build isolation unless O(isolated), within O(timeout) seconds; the build log is a file in O(find_links).
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
attributes:
  check_mode:
    support: none
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every call builds; M(airgap.pymigrate.sdist_build) decides whether a build is needed.
options:
  python:
    description: The interpreter to build for (the builder environment's Python).
    type: path
    required: true
  pip_wheel:
    description: Path of a pip wheel on the host; pip runs from it.
    type: path
    required: true
  sdist:
    description: Path of the sdist on the host.
    type: path
    required: true
  find_links:
    description: Directory holding the build requirements as wheels (and where the wheel and log are written).
    type: path
    required: true
  isolated:
    description: Build in an isolated environment made from O(find_links) (when the sdist has build requirements).
    type: bool
    default: false
  timeout:
    description: Seconds the build may take.
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: Build an sdist sent to the host (normally done by airgap.pymigrate.sdist_build)
  airgap.pymigrate.wheel_build:
    python: /usr/bin/python3.11
    pip_wheel: /tmp/build/pip-24.2-py3-none-any.whl
    sdist: /tmp/build/cext-1.0.tar.gz
    find_links: /tmp/build
"""

RETURN = r"""
wheel:
  description: The wheel built on the host.
  returned: success
  type: dict
  sample: {"filename": "cext-1.0-cp311-cp311-linux_x86_64.whl", "sha256": "9f2b...", "size": 15946,
           "path": "/tmp/build/out-x/cext-1.0-cp311-cp311-linux_x86_64.whl", "log": "/tmp/build/out-x/build.log"}
log:
  description: Path of the build log on the host.
  returned: failure
  type: str
"""

import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.airgap.pymigrate.plugins.module_utils._sdist_build import (  # noqa: E402
    BuildError,
    build_wheel,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            python=dict(type="path", required=True),
            pip_wheel=dict(type="path", required=True),
            sdist=dict(type="path", required=True),
            find_links=dict(type="path", required=True),
            isolated=dict(type="bool", default=False),
            timeout=dict(type="int", default=600),
        ),
        supports_check_mode=False,
    )
    params = module.params
    out_dir = tempfile.mkdtemp(prefix="out-", dir=params["find_links"])
    try:
        built = build_wheel(params["python"], params["pip_wheel"], params["sdist"], params["find_links"], out_dir,
                            params["isolated"], params["timeout"])
    except BuildError as exc:
        module.fail_json(msg=str(exc), log=exc.log)
    module.exit_json(changed=True, wheel=built)


if __name__ == "__main__":
    main()
