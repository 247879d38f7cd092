#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: wheel_verify
short_description: Check that a host store holds every file a lock names, with the right size and sha256
version_added: 0.1.0
description:
  - Hashes every file of O(files) in the host store at O(store_dir) and fails, naming each file, when one is
    missing, has the wrong size or the wrong sha256. Read-only; the next M(airgap.pymigrate.wheel_push)
    replaces what is wrong.
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.STORE_FILES
attributes:
  check_mode:
    support: full
    details: Reports missing or corrupt files without failing, since a check-mode push sends nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
options: {}
"""

EXAMPLES = r"""
- name: Verify the host store against the bundle
  airgap.pymigrate.wheel_verify:
    store_dir: /var/lib/pymigrate/store
    files: "{{ lookup('ansible.builtin.file', '/srv/pymigrate/bundle/manifest.json')
               | ansible.builtin.from_json | airgap.pymigrate.bundle_host_files(inventory_hostname) }}"
"""

RETURN = r"""
verified:
  description: Number of files present with the right size and sha256.
  returned: always
  type: int
  sample: 14
missing:
  description: Store paths that are absent.
  returned: always
  type: list
  elements: str
  sample: []
corrupt:
  description: Files present with wrong bytes, each with the problem found.
  returned: always
  type: list
  elements: dict
  sample: [{path: files/sha256/4f/4f2d.../requests-2.32.3-py3-none-any.whl, problem: sha256 differs}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import FILE_ARGUMENT_SPEC, StoreError, inventory


def main():
    module = AnsibleModule(
        argument_spec=dict(
            store_dir=dict(type="path", default="/var/lib/pymigrate/store"),
            files=dict(type="list", elements="dict", required=True, options=FILE_ARGUMENT_SPEC),
        ),
        supports_check_mode=True,
    )
    store_dir = module.params["store_dir"]
    try:
        found = inventory(store_dir, module.params["files"], repair=False)
    except (StoreError, OSError) as exc:
        module.fail_json(msg="store %s: %s" % (store_dir, exc))
    result = dict(changed=False, verified=len(found["present"]), missing=found["missing"], corrupt=found["corrupt"])
    if (found["missing"] or found["corrupt"]) and not module.check_mode:
        problems = ["%s (missing)" % path for path in found["missing"]]
        problems += ["%s (%s)" % (item["path"], item["problem"]) for item in found["corrupt"]]
        module.fail_json(msg="store %s: %d file(s) not as the bundle says: %s; run the push again to resend them"
                         % (store_dir, len(problems), ", ".join(problems)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
