#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: target_facts
short_description: Report what decides which Python wheels fit a host
version_added: 0.1.0
description:
  - Reports the interpreter (path, full version, implementation, ABI tags including debug and
    free-threaded builds), the platform (OS, arch, libc family and version), the complete PEP 508 marker
    environment, the ordered list of supported wheel tags, whether C(pip), C(venv) and C(ensurepip) are
    usable, and the free space under O(space_path).
  - The marker environment and tags are exactly what C(packaging.markers.default_environment) and
    C(packaging.tags.sys_tags) give under that interpreter; the module ships packaging's tag code, so the
    host needs nothing but Python 3.8 or later.
  - The control node resolves each profile against these facts, not against its own interpreter.
  - Each interpreter the host's environments name (C(python) of an environment in C(pymigrate_envs) and its layers,
    which the action plugin reads from the host's inventory variables into O(interpreters)) is surveyed in the same
    call - its own marker environment, tags and version, in RV(target_facts.interpreters) - so that the environment
    is resolved for it; one that does not exist or does not run fails the task naming the host, the environment
    and the path, before anything is pushed.
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.ACTION
  - airgap.pymigrate._attributes.ENVIRONMENTS
attributes:
  check_mode:
    support: full
    details:
      - Read-only, except that the slice check removes store files with wrong bytes and partial files of an
        interrupted push, and then reports C(changed); in check mode it removes nothing and reports C(changed) when
        it found store files with wrong bytes.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A second run finds the damaged files gone (missing, for the push to send again) and changes nothing.
options:
  space_path:
    description:
      - Path whose free space is reported (its nearest existing ancestor is measured), usually the wheel
        store or the environments' parent directory.
    type: path
    default: /opt
  store_dir:
    description:
      - The host's wheel store; when given, RV(target_facts.store_have) lists the sha256 of the files it holds
        (for the survey file carried out of the enclave). With O(slice_id), the store whose files are checked.
    type: path
  bundle_dir:
    description:
      - A bundle directory on the control node (action plugin option). When it holds a bundle that covers this host,
        the same call also checks the host's slice of it - which store files are present with the right bytes and
        whether each environment's current generation holds its lock unchanged - and returns RV(rollout_check).
        The push and the install of the same run use that answer instead of asking the host again, so a run with
        nothing to do costs this one call per host.
    type: path
  list_store:
    description: With O(store_dir), list the sha256 of every file the store holds (RV(target_facts.store_have)).
    type: bool
    default: true
  compact_tags:
    description:
      - Return the tags as RV(target_facts.tags_compact) instead of RV(target_facts.tags) - the same list, losslessly
        shorter, so that the controller holds a few dozen strings per host instead of hundreds (fleets of hundreds).
    type: bool
    default: false
  resolve_only:
    description:
      - Return only what the control node resolves and builds with - RV(target_facts.markers), the tags and the
        interpreter's path (C(executable) in RV(target_facts.python), for a builder host) - and leave out the other
        facts (RV(target_facts.platform), RV(target_facts.tooling), RV(target_facts.space),
        RV(target_facts.store_have) and the rest of RV(target_facts.python)). A play that keeps every host's result
        for the run (migrate.yml) then holds about a quarter less per host, which counts in fleets of hundreds.
    type: bool
    default: false
  set_fact:
    description:
      - Also set the facts as the host fact C(pymigrate_target_facts). With V(false) they are only in the result
        (RV(target_facts)), so a play that registers the result (migrate.yml) keeps each host's facts once instead
        of twice, which counts in fleets of hundreds. The bundle action reads either.
    type: bool
    default: true
  slice_id:
    description:
      - Digest of the host's slice of the bundle (set by the action plugin from O(bundle_dir), with O(files) and
        O(environments)); with it, the module checks the slice and returns RV(rollout_check).
    type: str
  files:
    description: The store files of the slice, each with C(path), C(sha256) and C(size) (in O(store_dir)).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Store path, C(files/sha256/<2 hex>/<sha256>/<filename>).
        type: str
        required: true
      sha256:
        description: Expected sha256 hex digest.
        type: str
        required: true
      size:
        description: Expected size in bytes.
        type: int
        required: true
  absent_paths:
    description:
      - The paths of the slice's environments the inventory marks absent (set by the action plugin from
        O(bundle_dir)); C(absent_found) in RV(rollout_check) says which of them are still on the host.
    type: list
    elements: path
    default: []
  interpreters:
    description:
      - The interpreters of the host's environments, each C(name) (the environment) and C(python) (its path), set by
        the action plugin from the host's inventory variables (an environment of the image strategy runs in its image
        and is left out); each is surveyed too (RV(target_facts.interpreters)).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The environment's name.
        type: str
        required: true
      python:
        description: The environment's interpreter on the host.
        type: path
        required: true
notes:
  - The facts describe the interpreter that runs the module (C(ansible_python_interpreter)) and, in
    RV(target_facts.interpreters), each interpreter an environment of the host names.
"""

EXAMPLES = r"""
- name: Survey target facts
  airgap.pymigrate.target_facts:
    space_path: /var/lib/pymigrate
  register: __pymigrate_target_facts

- name: Show the best wheel tag of each host
  ansible.builtin.debug:
    msg: "{{ __pymigrate_target_facts.target_facts.tags[0] }}"
"""

RETURN = r"""
target_facts:
  description: What decides which wheels fit this interpreter. Also set as fact C(pymigrate_target_facts).
  returned: success
  type: dict
  contains:
    python:
      description: The interpreter (only C(executable) with O(resolve_only)).
      type: dict
      returned: success
      sample: {executable: /usr/bin/python3.11, version: 3.11.7, version_info: [3, 11, 7], implementation: cpython,
               implementation_version: 3.11.7, interpreter_tag: cp311, abi_tags: [cp311], debug_build: false,
               free_threaded: false, pointer_bits: 64}
    platform:
      description: OS, arch (as in wheel platform tags), libc family (V(glibc), V(musl) or V(unknown)) and version.
      type: dict
      returned: unless O(resolve_only)
      sample: {system: Linux, sys_platform: linux, machine: x86_64, arch: x86_64, libc: glibc, libc_version: "2.36",
               byteorder: little,
               os_release: {id: debian, version_id: "12", pretty_name: Debian GNU/Linux 12 (bookworm)}}
    markers:
      description: The complete PEP 508 marker environment.
      type: dict
      returned: success
      sample: {implementation_name: cpython, python_version: "3.11", sys_platform: linux, platform_machine: x86_64}
    tags:
      description: Supported wheel tags, most preferred first.
      type: list
      elements: str
      returned: unless O(compact_tags)
      sample: [cp311-cp311-manylinux_2_36_x86_64, cp311-abi3-manylinux_2_36_x86_64, py3-none-any]
    tags_compact:
      description:
        - With O(compact_tags), in place of RV(target_facts.tags) - C(runs), the runs of tags sharing interpreter and
          ABI, space-separated, each as C(interpreter-abi-index) into C(platforms), the distinct platform lists, each
          stored once, dot-joined like a compressed tag set.
      type: dict
      returned: with O(compact_tags)
      sample: {platforms: [manylinux_2_36_x86_64.linux_x86_64, any], runs: cp311-cp311-0 cp311-abi3-0 py3-none-1}
    tooling:
      description: Whether pip, venv and ensurepip are usable by this interpreter.
      type: dict
      returned: unless O(resolve_only)
      sample: {pip: true, pip_version: 23.2.1, venv: true, ensurepip: true}
    space:
      description: Free space under O(space_path).
      type: dict
      returned: unless O(resolve_only)
      sample: {path: /var/lib/pymigrate, measured_path: /var/lib, free_bytes: 1073741824}
    store_have:
      description: sha256 of every file in O(store_dir) (empty without it).
      type: list
      elements: str
      returned: unless O(resolve_only)
      sample: [4f2d5c1e8a7b6c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d]
    interpreters:
      description:
        - Per interpreter path of O(interpreters), its own RV(target_facts.python), RV(target_facts.markers), tags
          (in the same form) and RV(target_facts.tooling) (with O(resolve_only), only the markers, the tags and
          C(executable)).
      type: dict
      returned: when the host's environments name an interpreter
      sample: {/usr/bin/python3.13: {python: {executable: /usr/bin/python3.13}, markers: {python_version: "3.13"},
               tags_compact: {platforms: [manylinux_2_36_x86_64, any], runs: cp313-cp313-0 py3-none-1}}}
rollout_check:
  description:
    - What the host holds of its slice of the bundle in O(bundle_dir) - which store files are present, missing or
      corrupt (as M(airgap.pymigrate.wheel_store) with C(state=prepared) returns it, with the number of files present
      rather than their paths), each environment's state against its lock (C(current) true when nothing is to be
      done) and C(absent_found), the paths of the environments marked absent of which something is still on the host
      (M(airgap.pymigrate.host_prune) does not contact a host where it is empty).
  returned: when O(bundle_dir) holds a bundle that covers the host
  type: dict
  sample: {slice_id: 9c1e..., verify: size,
           store: {present: 12, missing: [], corrupt: [], removed_partials: []},
           environments: [{path: /opt/pymigrate/venv, lock_id: 3f2a1b0c9d8e, current: true}]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airgap.pymigrate.plugins.module_utils._target_facts import ARGUMENT_SPEC, survey


def main():
    # The work is module_utils/_target_facts.survey: with a pipelining connection the action runs it without this
    # module (_host_runner), else here.
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    result = survey(module.params, module.check_mode)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
