#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sdist_build
short_description: Build an sdist that compiles into a wheel on a builder host that matches a profile
version_added: 0.2.0
description:
  - Run by the P(airgap.pymigrate.bundle#role) role with C(delegate_to) a builder host (C(pymigrate_builders)) for
    each build the bundle lists in RV(airgap.pymigrate.bundle#module:pending_builds).
  - The action sends the sdist, its build requirements (wheels resolved for the builder's own target) and a pip
    wheel to the builder; there M(airgap.pymigrate.wheel_build) runs pip from that wheel with no index
    (C(--no-index --find-links)), without build isolation when the sdist has no build requirements, within
    O(timeout).
  - The wheel comes back to the control node, is hashed into the bundle's store and recorded in
    C(<bundle_dir>/built/<sdist sha256>.json) with the builder host and the time; the next bundle pass takes it for
    every host of the profile. A build that fails keeps its log in C(<bundle_dir>/.build-logs/), which the message
    names.
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.ACTION
attributes:
  check_mode:
    support: none
    details: A build cannot be predicted; the role skips builds in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A wheel already recorded for the same sdist and builder is not built again.
options:
  bundle_dir:
    description: The bundle directory on the control node.
    type: path
    required: true
  build:
    description: One entry of RV(airgap.pymigrate.bundle#module:pending_builds), as the bundle returned it.
    type: dict
    required: true
  timeout:
    description: Seconds the build may take before it is stopped.
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: Build on the builder hosts what the bundle could not build on the control node
  airgap.pymigrate.sdist_build:
    bundle_dir: "{{ pymigrate_bundle_dir }}"
    build: "{{ item }}"
  delegate_to: "{{ item.builder }}"
  loop: "{{ __pymigrate_bundle.pending_builds }}"
"""

RETURN = r"""
wheel:
  description: The wheel built, as recorded in the bundle.
  returned: success
  type: dict
  sample: {"filename": "cext-1.0-cp311-cp311-linux_x86_64.whl", "sha256": "9f2b...", "size": 15946,
           "builder": "app1", "built_at": "2026-12-01T08:00:00Z"}
"""
