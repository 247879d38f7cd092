#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: wheel_push
short_description: Send the wheels a host lacks to its content-addressed store, in one stream
version_added: 0.1.0
description:
  - Learns in one round trip which of the O(files) the host store at O(store_dir) already holds with the
    right sha256, then sends all missing files together as one stream (not one copy per file), verifies
    each file's size and sha256 on the host before it counts as present, and renames it into place.
  - Files with wrong bytes and partial files left by an interrupted push are removed and sent again.
  - The stream of a set of files is written once on the control node for every host that lacks the same files
    (in C(<tmp>/airgap-pymigrate-streams-<uid>/), a directory only that user can write, each stream removed an
    hour after its last use).
  - Runs as an action plugin on the control node that calls M(airgap.pymigrate.wheel_store) on the host;
    no rsync needed, C(become) works.
  - The same call reports whether each of the host's environments already holds its lock (RV(envs[].known_state)),
    so that M(airgap.pymigrate.venv_install) does not contact the host for an environment with nothing to do.
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.STORE_FILES
  - airgap.pymigrate._attributes.ACTION
attributes:
  check_mode:
    support: full
    details: Reports which files would be sent without sending them.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  bundle_dir:
    description:
      - Bundle directory on the control node that holds the files at their store paths.
      - Without O(files), this host's files are computed from its C(manifest.json) (in check mode from the proposal the
        bundle build wrote in C(.check/), when there is one).
    type: path
    required: true
  host:
    description: The inventory host whose part of the bundle to push; defaults to C(inventory_hostname).
    type: str
  serial:
    description:
      - The bundle serial to push (its manifest kept as C(manifests/<serial>.json)); the newest when not given.
      - A whole number from 1, or its text (what C(pymigrate_bundle_serial) holds); anything else fails naming it.
    type: raw
  files:
    description:
      - The files to push; by default this host's files from the bundle manifest in O(bundle_dir).
    required: false
  image_blobs:
    description:
      - Whether the blobs of the host's image environments (C(pymigrate_strategy=image)) are sent; V(false) when the
        hosts pull their images from the registry inside the enclave (C(pymigrate_registry)) instead.
    type: bool
    default: true
  ssh_compression:
    description:
      - Whether the stream may travel with SSH compression when the task's C(ssh_args) ask for it (Ansible's default
        C(ssh_args) start with C(-C)).
      - V(false) (the default) sends it over a connection of its own with the same settings but without compression
        and without the shared ControlMaster, since wheels are compressed already and compressing them again only
        costs CPU on both ends (three times the transfer time on the test fleet). That is one more SSH connection
        per host that lacks files (through the same jump host, if any). Other connection plugins are not affected.
      - V(true) sends it over the task's connection as configured, for instance where each new SSH connection asks for
        a second factor.
    type: bool
    default: false
  verify_installed:
    description:
      - How the host's environments are checked against their locks in the same call - V(size) or V(full) (sha256).
      - When the survey of the same run (M(airgap.pymigrate.target_facts) with
        O(airgap.pymigrate.target_facts#module:bundle_dir), registered as C(__pymigrate_target_facts)) already
        checked this host's slice the same way, its answer is used
        and the host is not contacted unless files are missing.
    type: str
    choices: [size, full]
    default: size
"""

EXAMPLES = r"""
- name: Push the files of this host's profiles
  airgap.pymigrate.wheel_push:
    bundle_dir: /srv/pymigrate/bundle
    store_dir: /var/lib/pymigrate/store
  register: __pymigrate_push
"""

RETURN = r"""
envs:
  description:
    - This host's environments from the bundle manifest, as P(airgap.pymigrate.bundle_host_envs#filter) gives
      them (ready for M(airgap.pymigrate.venv_install)).
  returned: when O(files) is not given
  type: list
  elements: dict
  contains:
    known_state:
      description:
        - The environment's state against its lock as the host reported it in this run (C(current) true when its
          current generation holds the lock unchanged). M(airgap.pymigrate.venv_install) reads it from this result
          (registered as C(__pymigrate_push)) when it reads the same slice (RV(slice_id)).
      type: dict
      returned: when the host reported it
asked_host:
  description: Whether the host was asked what its store holds (false when the survey of this run had answered).
  returned: when O(files) is not given
  type: bool
serial:
  description: The serial of the bundle manifest the files came from.
  returned: when O(files) is not given
  type: int
slice_id:
  description:
    - What the host must hold (its files and environments) as one digest, the same for two serials that give the
      host the same; M(airgap.pymigrate.venv_install) takes RV(envs[].known_state) only from a push of its own slice.
  returned: when O(files) is not given
  type: str
settled:
  description:
    - When nothing is left for the install and the prune of this host (every environment's current generation holds
      its lock unchanged, no environment marked absent is on the host), each environment's no-op install result
      with its C(environment); else null. The rollout role then ends the host for the rest of its play
      (C(meta) C(end_host)), and the report reads these as the install's results.
  returned: when O(files) is not given
  type: list
  elements: dict
sent:
  description: Store paths sent to the host in this run (or that would be sent in check mode).
  returned: always
  type: list
  elements: str
  sample: [files/sha256/4f/4f2d.../requests-2.32.3-py3-none-any.whl]
sent_bytes:
  description: Bytes of file content sent.
  returned: always
  type: int
  sample: 64928
present:
  description: Number of files the host already held with the right sha256.
  returned: always
  type: int
  sample: 12
repaired:
  description: Files that were on the host with wrong bytes and were replaced.
  returned: always
  type: list
  elements: dict
  sample: [{path: files/sha256/4f/4f2d.../requests-2.32.3-py3-none-any.whl, problem: sha256 differs}]
"""
