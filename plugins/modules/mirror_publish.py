#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mirror_publish
short_description: Publish an imported bundle into an inside package index
version_added: 0.1.0
description:
  - Runs on the control node (an action plugin). Publishes every wheel and sdist of a bundle (usually the one the last
    import made current inside the enclave, C(<import dir>/current)) into one package index - a directory a web server
    serves (O(kind=static)), an index of a devpi-server (O(kind=devpi), over its upload API) or a pypiserver
    (O(kind=pypiserver), over its upload endpoint).
  - Only files whose sha256 is the one the bundle's signed manifest states are published; any other is refused,
    named, and nothing is published. A file the mirror holds with the same sha256 is skipped; one it holds with
    another sha256 is refused, named, and nothing is published. A live index is read again after the upload and must
    list every file with its sha256.
  - A static mirror gets the files in the store's layout, with each wheel's METADATA and its verified provenance
    beside it, and the bundle's index pages (C(simple/), docs/index-format.md).
  - With O(locks_dir) (for a static mirror, C(locks/) in it when O(url) is given) each environment's lock the bundle
    carries is written there with every file's URL on the mirror, so that C(uv pip install -r pylock.<env>.toml)
    installs from the mirror exactly what the fleet holds.
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.ACTION
  - airgap.pymigrate._attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: Verifies the files and reads the mirror, publishes and writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A second run publishes nothing.
options:
  bundle_dir:
    description: The bundle whose files are published, usually C(<import dir>/current) inside the enclave.
    type: path
    required: true
  kind:
    description: The kind of index fed.
    type: str
    required: true
    choices: [static, devpi, pypiserver]
  path:
    description: The directory a web server serves (O(kind=static)).
    type: path
  url:
    description:
      - The index's URL - for devpi C(http://host:3141/<user>/<index>), for pypiserver C(http://host:8080).
      - For O(kind=static), the URL at which the web server serves O(path) (optional; the locks need it).
    type: str
  username:
    description: The user the upload authenticates as (devpi, pypiserver).
    type: str
  password:
    description: That user's password.
    type: str
  locks_dir:
    description:
      - Where each environment's lock is written with its files' URLs on the mirror (not given - no locks, but for a
        static mirror with O(url), C(locks/) in O(path)).
    type: path
  timeout:
    description: Seconds one request to a live index may take.
    type: int
    default: 60
seealso:
  - module: airgap.pymigrate.bundle_archive
"""

EXAMPLES = r"""
- name: Publish the imported bundle into devpi
  airgap.pymigrate.mirror_publish:
    bundle_dir: ~/.cache/airgap.pymigrate/import/current
    kind: devpi
    url: http://devpi.enclave:3141/root/pymigrate
    username: root
    password: "{{ vault_devpi_password }}"
    locks_dir: /srv/www/pymigrate-locks
  no_log: true

- name: Publish it as a static index a web server serves
  airgap.pymigrate.mirror_publish:
    bundle_dir: ~/.cache/airgap.pymigrate/import/current
    kind: static
    path: /srv/www/pypi
    url: https://pypi.enclave/
"""

RETURN = r"""
published:
  description: The files published by this run (none on a re-run).
  returned: always
  type: list
  elements: str
skipped:
  description: How many files the mirror held already, with the same sha256.
  returned: always
  type: int
pages:
  description: Whether the index pages of a static mirror were (or in check mode would be) written.
  returned: always
  type: bool
serial:
  description: The serial of the bundle published.
  returned: always
  type: int
locks:
  description: The locks for the mirror (file names), when a locks directory is known.
  returned: always
  type: list
  elements: str
locks_written:
  description: Those whose text changed and were (or in check mode would be) written.
  returned: always
  type: list
  elements: str
locks_left_out:
  description: Locks not written, each with why (a file not on the mirror, such as a wheel built inside).
  returned: always
  type: list
  elements: str
locks_dir:
  description: Where the locks go (null - none).
  returned: always
  type: str
mirror:
  description: The mirror's URL (without credentials) or directory.
  returned: always
  type: str
"""
