#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: host_prune
short_description: Remove from a host the environments the inventory marks absent, and store files nothing references
version_added: 0.1.0
description:
  - Removes each environment of O(absent) whole - its stable symlink, its generations directory and its lock file next
    to it (for C(/opt/app/venv) - C(/opt/app/venv), C(/opt/app/.venv.generations/), C(/opt/app/.venv.lock)) - and
    reports C(changed). A path that is not a symlink into its own generations directory is refused, never deleted; an
    environment already gone (or never there) changes nothing. What a failed first install left (an empty
    generations directory, a lock file) is removed the same way.
  - Records the environments of O(environments) in the store's registry (C(environments.json) in O(store_dir)), as
    every install does, so that the store keeps the files of every environment the host has.
  - With O(store_keep=referenced), removes every store file that neither O(keep_files) (the files the host's slice
    of the bundle needs) nor any generation of any environment of the host (those of O(environments) and of the
    registry) references - never a file a generation was built from.
  - With O(bundle_dir) (as the rollout role runs it), the action plugin reads the host's slice of the bundle on the
    control node for the serial O(serial) - its environments marked absent (C(state=absent) in the inventory),
    its other environments and its files - and gives O(absent), O(environments) and O(keep_files) from it. When the
    slice marks nothing absent and O(store_keep=all), or the survey of the same run found nothing of the absent
    environments on the host, the host is not contacted.
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.ACTION
attributes:
  check_mode:
    support: full
    details: Reports what would be removed and pruned, and removes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  bundle_dir:
    description:
      - The bundle directory on the control node (C(pymigrate_bundle_dir)) whose slice for this host gives
        O(absent), O(environments) and O(keep_files); the task then gives none of them.
    type: path
  serial:
    description:
      - With O(bundle_dir), the bundle serial whose slice to read (C(pymigrate_bundle_serial)); the newest when not
        given.
    type: raw
  store_dir:
    description: The host's content-addressed wheel store.
    type: path
    default: /var/lib/pymigrate/store
  store_keep:
    description:
      - What the store keeps - V(all) (every file ever pushed) or V(referenced) (the files some environment of the
        host references; the others are removed).
    type: str
    choices: [all, referenced]
    default: all
  lock_timeout:
    description: Seconds to wait for another run holding an environment's lock.
    type: int
    default: 300
  environments:
    description: The paths of the host's environments that stay (registered; their generations' files are kept).
    type: list
    elements: path
    default: []
  absent:
    description: The environments to remove, each C(name) and C(path).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The environment's name.
        type: str
        required: true
      path:
        description: Its stable path, the symlink to its current generation.
        type: path
        required: true
  keep_files:
    description: Store paths kept whatever references them (the files the host's slice of the bundle needs).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Remove the environments the inventory marks absent; prune the store
  airgap.pymigrate.host_prune:
    bundle_dir: /srv/pymigrate/bundle
    store_keep: referenced

- name: Remove one environment
  airgap.pymigrate.host_prune:
    absent:
      - name: tools
        path: /opt/tools/venv
"""

RETURN = r"""
removed:
  description: The environments removed (in check mode, that would be), each with what of it was on the host.
  returned: always
  type: list
  elements: dict
  sample: [{name: tools, path: /opt/tools/venv,
            removed: [/opt/tools/venv, /opt/tools/.venv.generations, /opt/tools/.venv.lock]}]
pruned:
  description: The store paths removed (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [files/sha256/4f/4f2d.../alpha-1.0-py3-none-any.whl]
pruned_bytes:
  description: Their size in bytes.
  returned: always
  type: int
asked_host:
  description: Whether the host was contacted (with O(bundle_dir); false when there was nothing to do).
  returned: with O(bundle_dir)
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airgap.pymigrate.plugins.module_utils._prune import ARGUMENT_SPEC, cleanup
from ansible_collections.airgap.pymigrate.plugins.module_utils._store import StoreError
from ansible_collections.airgap.pymigrate.plugins.module_utils._venv import VenvError


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    try:
        result = cleanup(params["store_dir"], params["environments"], params["absent"], params["keep_files"],
                         params["store_keep"], params["lock_timeout"], check_mode=module.check_mode)
    except (VenvError, StoreError, OSError) as exc:
        module.fail_json(msg="store %s: %s" % (params["store_dir"], exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
