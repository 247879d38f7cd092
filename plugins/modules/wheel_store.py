#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: wheel_store
short_description: Prepare a host's wheel store for a push, verify it, or receive a push stream into it
version_added: 0.1.0
description:
  - The host half of M(airgap.pymigrate.wheel_push), and the store audit (O(state=verified)).
  - With O(state=prepared) (what the push asks first), readies the store for a push - hashes every file of O(files)
    present in the store (except those hashed before and not written since - same size, inode and ctime) and
    reports which are present, missing or corrupt; corrupt files and partial files of an interrupted push are removed
    so that the push sends them again (C(changed); in check mode nothing is removed); the store directory is made
    when missing.
  - With O(state=verified), hashes every file of O(files) and fails, naming each file, when one is missing, has the
    wrong size or the wrong sha256 (in check mode it reports them without failing). Read-only; the next push replaces
    what is wrong.
  - With O(state=received), unpacks the push stream O(src) (a tar of store paths) into the store; each file is
    written to a partial file, hashed, and renamed into place only when its size and sha256 match.
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.STORE_FILES
  - airgap.pymigrate._attributes.ENVIRONMENTS
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  state:
    description:
      - Prepare the store for a push (V(prepared)), verify it without changing it (V(verified)) or receive a stream
        (V(received)).
    type: str
    choices: [prepared, verified, received]
    default: prepared
  src:
    description: Path on the host of the push stream; required with O(state=received).
    type: path
  stream_parent:
    description:
      - With O(state=prepared), when files are missing (not in check mode), a private directory for the push stream
        is made under this path (made too, mode 0700, when missing) and returned as RV(stream_dir). The push passes
        its connection's remote temporary directory when it sends as the user this module runs as, so that sending
        costs no further command to make one.
    type: path
"""

EXAMPLES = r"""
- name: Prepare the store for a push - which files does it lack?
  airgap.pymigrate.wheel_store:
    state: prepared
    files:
      - path: files/sha256/4f/4f2d5c1e8a7b6c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d/demo-1.0-py3-none-any.whl
        sha256: 4f2d5c1e8a7b6c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d
        size: 1024
  register: __pymigrate_store

- name: Audit the host store against the bundle
  airgap.pymigrate.wheel_store:
    state: verified
    files: "{{ '/srv/pymigrate/bundle' | airgap.pymigrate.bundle_host_files(inventory_hostname) }}"
"""

RETURN = r"""
present:
  description: Store paths present with the right bytes.
  returned: O(state=prepared) or O(state=verified)
  type: list
  elements: str
  sample: []
missing:
  description: Store paths absent.
  returned: O(state=prepared) or O(state=verified)
  type: list
  elements: str
  sample: []
corrupt:
  description: Files that had wrong bytes, with the problem (removed by O(state=prepared) unless in check mode).
  returned: O(state=prepared) or O(state=verified)
  type: list
  elements: dict
  sample: [{path: files/sha256/4f/4f2d.../demo-1.0-py3-none-any.whl, problem: sha256 differs}]
removed_partials:
  description: Store paths whose partial files from an interrupted push were removed.
  returned: O(state=prepared)
  type: list
  elements: str
  sample: []
environments:
  description:
    - For each environment of O(environments) given with its lock, whether its current generation holds the lock
      unchanged (C(current)), its generation and any drift; C(error) when it cannot be read.
  returned: O(state=prepared)
  type: list
  elements: dict
  sample: [{path: /opt/app/venv, lock_id: 3f2a1b0c9d8e, current: true, drift: [],
            generation: /opt/app/.venv.generations/1-3f2a1b0c9d8e}]
stream_dir:
  description: The directory made for the push stream under O(stream_parent); absent when nothing is missing.
  returned: O(state=prepared), with O(stream_parent)
  type: str
  sample: /home/deploy/.ansible/tmp/ansible-tmp-pymigrate-push-k3j2h1
interpreter:
  description: The Python this module ran with, which the push's receiver then runs with.
  returned: O(state=prepared)
  type: str
  sample: /usr/bin/python3
received:
  description: Store paths received and verified.
  returned: O(state=received)
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airgap.pymigrate.plugins.module_utils._rollout_check import (
    STORE_MODULE_ARGUMENT_SPEC,
    prepare_push,
)
from ansible_collections.airgap.pymigrate.plugins.module_utils._store import (
    StoreError,
    check_owned,
    compare,
    receive,
)
from ansible_collections.airgap.pymigrate.plugins.module_utils._venv import VenvError, check_environment


def main():
    module = AnsibleModule(argument_spec=STORE_MODULE_ARGUMENT_SPEC, required_if=[("state", "received", ["src"])],
                           supports_check_mode=True)
    params = module.params
    store_dir = params["store_dir"]
    if params["state"] == "prepared":  # module_utils/_rollout_check: the push runs the same without this module
        result = prepare_push(params, module.check_mode)
        if result.get("failed"):
            module.fail_json(**result)
        module.exit_json(**result)
    try:
        check_owned(store_dir)  # what root installs from must be root's alone
        for env in params["environments"]:  # refused before anything moves: see check_environment
            check_environment(env["path"], env["python"])
        if params["state"] == "verified":
            found = compare(store_dir, params["files"], repair=False, trust_verified=False)  # an audit hashes all
            problems = ["%s (missing)" % path for path in found["missing"]]
            problems += ["%s (%s)" % (item["path"], item["problem"]) for item in found["corrupt"]]
            if problems and not module.check_mode:
                module.fail_json(msg="store %s: %d file(s) not as the bundle says: %s; run the push again to resend "
                                 "them" % (store_dir, len(problems), ", ".join(problems)), **found)
            module.exit_json(changed=False, **found)
        if module.check_mode:
            module.exit_json(changed=True, received=[])
        received = receive(store_dir, params["src"], params["files"])
        module.exit_json(changed=bool(received), received=received)
    except VenvError as exc:
        module.fail_json(msg=str(exc))
    except (StoreError, OSError) as exc:
        module.fail_json(msg="store %s: %s" % (store_dir, exc))


if __name__ == "__main__":
    main()
