#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: venv_install
short_description: Install a Python environment exactly as its lock says, as a new generation switched atomically
version_added: 0.1.0
description:
  - Builds a new generation of the environment at its final path next to O(path), installs exactly the lock's
    files from the host's wheel store with no index at all and hashes required, runs C(pip check) and the
    O(smoke_imports), and only then switches the stable O(path) (a symlink) to it atomically.
  - pip runs from the pip wheel in the store (O(installer)), so hosts whose Python has no pip and no
    C(ensurepip) work; where the C(venv) module is missing, the environment is created by hand.
  - Nothing of the host's own configuration reaches the installer - pip runs with C(--isolated), every C(PIP_*)
    variable removed and C(PIP_CONFIG_FILE) set to the null device (so not even C(/etc/pip.conf) is read), its
    interpreter with C(-E) (no C(PYTHON*) variable); uv with C(--no-config) and every C(UV_*) variable removed.
  - With O(installer.kind=uv) the installer is the C(uv) wheel from the package index instead; its C(uv) binary
    is extracted into a private directory next to the generations for the build (and removed after it), and
    installs the lock with no index, offline, hashes required, no configuration file read and no cache kept, then
    runs C(uv pip check). The wheel must be the one for the host's platform.
  - Any failure (a bad file, disk full, C(pip check), a smoke import) removes the half-built generation and
    leaves the current one untouched. Packages not in the lock are gone after the switch.
  - When the current generation was built from the same lock, it is verified (as C(rpm -V) verifies system
    packages) - its interpreter runs, it holds exactly the lock's distributions and versions (none missing, none
    extra), and every file each distribution's C(RECORD) lists exists with its recorded size (O(verify_installed=full)
    also compares sha256). When it does, nothing runs and nothing changes; its drift otherwise is handled as
    O(drift_action) says.
  - O(state=rollback) switches O(path) back to the newest earlier generation built from another lock than the
    current one that verifies clean against its own record (as the current one is verified, O(verify_installed));
    it passes over, saying why, a generation built from the same lock, one a repair replaced for its drift, one
    whose interpreter does not run and one a killed build left unfinished. An environment with no such generation
    stays as it is (not changed), and RV(msg) says why.
  - With O(bundle_dir) and O(name) (as the rollout role runs it), the action plugin reads the host's slice of the
    bundle on the control node, for the serial O(serial) (as M(airgap.pymigrate.wheel_push) does), and takes the
    environment's O(path), O(python), O(packages), O(installer), O(lock_id), O(smoke_imports) and O(image) from
    it; the task then gives none of them. When the push of the same run (registered as C(__pymigrate_push)) read
    the same slice and found the environment's current generation holding this lock unchanged
    (RV(airgap.pymigrate.wheel_push#module:envs[].known_state)), the host is not contacted again.
  - A lock file next to O(path) stops two runs from working on the same environment at once.
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.ACTION
attributes:
  check_mode:
    support: full
    details: Reports whether a new generation would be built and which packages would change.
  diff_mode:
    support: full
    details: Shows the installed packages before and after.
  idempotent:
    support: full
options:
  bundle_dir:
    description:
      - The bundle directory on the control node (C(pymigrate_bundle_dir)) whose slice for this host gives the
        environment O(name) its arguments. Goes with O(name); without it, give O(path) and the lock.
    type: path
  name:
    description:
      - The environment's name in the host's slice of the bundle in O(bundle_dir) (as
        P(airgap.pymigrate.bundle_env_refs#filter) lists them, for the same O(serial)).
    type: str
  path:
    description:
      - The stable path users configure (for example C(/opt/app/venv)); a symlink to the current generation.
      - Required without O(name); with O(bundle_dir), read from the host's slice.
    type: path
  python:
    description:
      - Interpreter the environment is based on. Defaults to the interpreter running the module.
      - With O(bundle_dir), read from the host's slice.
    type: path
  store_dir:
    description: The host's content-addressed wheel store.
    type: path
    default: /var/lib/pymigrate/store
  packages:
    description:
      - The lock, as from P(airgap.pymigrate.bundle_host_envs#filter). Required with O(state=present) unless
        O(bundle_dir) is given (then read from the host's slice).
    type: list
    elements: dict
    suboptions:
      name:
        description: Project name.
        type: str
        required: true
      version:
        description: Version.
        type: str
        required: true
      filename:
        description: Wheel file name.
        type: str
        required: true
      sha256:
        description: sha256 of the wheel.
        type: str
        required: true
      size:
        description: Size in bytes.
        type: int
  installer:
    description:
      - The pip or uv wheel in the store that installs the environment. Required with O(state=present) unless
        O(bundle_dir) is given (then read from the host's slice).
    type: dict
    suboptions:
      filename:
        description: Wheel file name.
        type: str
        required: true
      sha256:
        description: sha256 of the wheel.
        type: str
        required: true
      kind:
        description:
          - Which installer the wheel is. V(pip) runs pip from the pip wheel; V(uv) runs the C(uv) binary of the uv
            wheel (for the host's platform). The generation records which one built it.
        type: str
        choices: [pip, uv]
        default: pip
  lock_id:
    description:
      - Identity of the lock; defaults to a digest of the packages.
      - With O(bundle_dir), read from the host's slice.
    type: str
  keep_generations:
    description: Generations kept (at least the current one and the previous, for rollback).
    type: int
    default: 3
  smoke_imports:
    description:
      - Modules imported with the new generation's interpreter before it is switched in.
      - With O(bundle_dir), read from the host's slice.
    type: list
    elements: str
    default: []
  lock_timeout:
    description: Seconds to wait for another run holding this environment's lock.
    type: int
    default: 300
  verify_installed:
    description:
      - How the current generation is verified against the lock. V(size) compares each RECORD file's size
        (cheap, every run); V(full) also its sha256 (for scheduled audits).
    type: str
    choices: [size, full]
    default: size
  drift_action:
    description:
      - What to do when the current generation differs from its lock. V(repair) builds a new generation from the
        store and switches to it (reported as changed, with the reason); V(report) changes nothing and returns the
        findings; V(fail) fails, naming them.
    type: str
    choices: [repair, report, fail]
    default: repair
  image:
    description:
      - For an environment of the image strategy (C(strategy=image) in P(airgap.pymigrate.bundle_host_envs#filter)),
        its image; the action plugin then runs M(airgap.pymigrate.image_install) instead (load from the store,
        smoke-run with no network, tag C(<name>:<serial>) and C(<name>:current)), and O(path) is the environment's
        path inside the image.
      - With O(bundle_dir), read from the host's slice.
    type: dict
  serial:
    description:
      - With O(bundle_dir), the bundle serial whose slice to read (C(pymigrate_bundle_serial)); the newest when not
        given. The image of an environment of the image strategy is tagged with the slice's serial.
      - Without O(bundle_dir), with O(image), the bundle serial the image is tagged with.
      - A new generation of a venv records it (a rollback names the serial it goes back to).
    type: int
  engine:
    description: With O(image), the container engine - V(auto), V(podman) or V(docker).
    type: str
    choices: [auto, podman, docker]
    default: auto
  registry:
    description:
      - With O(image), the registry inside the enclave to pull it from (C(pymigrate_registry)); see
        O(airgap.pymigrate.image_install#module:registry).
    type: dict
    suboptions:
      url:
        description: The registry's address, C(host:port) with no scheme.
        type: str
        required: true
      tls_verify:
        description: Verify the registry's TLS certificate; V(false) also allows plain HTTP.
        type: bool
        default: true
      namespace:
        description: The repository path under which the images are kept.
        type: str
        default: pymigrate
  state:
    description:
      - V(present) installs the lock; V(rollback) switches back to the newest earlier generation fit to go back to
        (see the description).
    type: str
    choices: [present, rollback]
    default: present
"""

EXAMPLES = r"""
- name: Install each environment of this host, as the bundle's serial 7 gives it
  airgap.pymigrate.venv_install:
    bundle_dir: /srv/pymigrate/bundle
    name: "{{ item }}"
    serial: 7
  loop: "{{ '/srv/pymigrate/bundle' | airgap.pymigrate.bundle_env_refs(inventory_hostname, serial=7)
            | map(attribute='name') }}"

- name: Install an environment given by its lock
  airgap.pymigrate.venv_install:
    path: /opt/app/venv
    packages:
      - name: alpha
        version: "1.1"
        filename: alpha-1.1-py3-none-any.whl
        sha256: 87c384f41f8df418a8d94f7aa42f86ab9e1c9b97b9870e37229d83fb490e88e1
    installer:
      filename: pip-24.2-py3-none-any.whl
      sha256: ace2b8ef4b4f9a07f1b3d6b1b8f1bd86e0cce2a26e3a4c8b5cb1e7f5b4a6c3d2
    smoke_imports: [alpha]

- name: Roll back
  airgap.pymigrate.venv_install:
    path: /opt/app/venv
    state: rollback
"""

RETURN = r"""
environment:
  description:
    - With O(bundle_dir), what names the environment in the host's slice, as
      P(airgap.pymigrate.bundle_env_refs#filter) gives it.
  returned: when O(bundle_dir) is given
  type: dict
  sample: {name: default, path: /opt/app/venv, lock_id: 1a2b3c4d5e6f, serial: 7, strategy: venv, profile: cp311-x}
generation:
  description: The generation O(path) points to after the run.
  returned: success
  type: str
  sample: /opt/app/.venv.generations/3-1a2b3c4d5e6f
holds:
  description:
    - The generation O(path) points to after the run (in check mode, now) - C(generation), C(number), and the
      C(lock_id) and bundle C(serial) its record names; null when there is none. C(playbooks/state.yml) reports each
      host on this serial, not on the serial of the bundle it read.
  returned: O(state=present)
  type: dict
  sample: {generation: /opt/app/.venv.generations/3-1a2b3c4d5e6f, number: 3, lock_id: 1a2b3c4d5e6f..., serial: 8}
previous_generation:
  description: The generation O(path) pointed to before, when it changed.
  returned: success
  type: str
  sample: /opt/app/.venv.generations/2-0f9e8d7c6b5a
packages:
  description: The packages of the lock, name to version.
  returned: success
  type: dict
  sample: {alpha: "1.1"}
installed:
  description: The packages the current generation holds after the run (in check mode, before it), name to version.
  returned: O(state=present)
  type: dict
  sample: {alpha: "1.1"}
changes:
  description: Packages added, removed, upgraded and downgraded.
  returned: success
  type: dict
  sample: {added: [], removed: [], upgraded: ["alpha 1.0 -> 1.1"], downgraded: []}
pip_ran:
  description: Whether the installer (pip or uv) ran (false when the environment already matched).
  returned: success
  type: bool
drift:
  description:
    - What the current generation held that differs from its lock, each with C(kind) (V(broken interpreter),
      V(missing distribution), V(extra distribution), V(wrong version), V(missing file), V(modified file)),
      C(distribution), C(file) and C(detail). Empty when it holds exactly the lock.
  returned: O(state=present)
  type: list
  elements: dict
  sample:
    - {kind: missing file, distribution: alpha, detail: null,
       file: /opt/app/.venv.generations/1-0f9e/lib/python3.11/site-packages/alpha/__init__.py}
reason:
  description: Why a generation was built although the lock did not change (repaired drift).
  returned: when drift was repaired
  type: str
from:
  description:
    - The generation O(path) pointed to before the rollback - C(generation) (its path), C(number), C(lock_id) and
      C(serial) (null for a generation built before serials were recorded).
  returned: O(state=rollback)
  type: dict
  sample: {generation: /opt/app/.venv.generations/3-1a2b3c4d5e6f, number: 3, lock_id: 1a2b3c4d5e6f..., serial: 8}
to:
  description: The generation rolled back to, as RV(from); null when there is none to go back to.
  returned: O(state=rollback)
  type: dict
  sample: {generation: /opt/app/.venv.generations/1-0f9e8d7c6b5a, number: 1, lock_id: 0f9e8d7c6b5a..., serial: 7}
skipped:
  description: The earlier generations the rollback passed over, newest first, each with C(generation), C(number)
    and C(reason).
  returned: O(state=rollback)
  type: list
  elements: dict
  sample:
    - {generation: /opt/app/.venv.generations/2-1a2b3c4d5e6f, number: 2,
       reason: "drifted: 3-1a2b3c4d5e6f replaced it to repair missing file alpha ..."}
msg:
  description: With O(state=rollback), from which generation to which (lock and serial), or why nothing changed.
  returned: O(state=rollback)
  type: str
  sample: "generation 3 (lock 1a2b3c4d5e6f, serial 8) -> 1 (lock 0f9e8d7c6b5a, serial 7)"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airgap.pymigrate.plugins.module_utils._rollout_check import INSTALL_ARGUMENT_SPEC, install


def _lines(packages):  # the diff's text; the action plugin makes the same for a state it already knows
    return "".join("%s==%s\n" % item for item in sorted(packages.items()))


def main():
    module = AnsibleModule(
        argument_spec=INSTALL_ARGUMENT_SPEC,
        required_if=[("state", "present", ["packages", "installer"])],
        required_one_of=[("path", "name")],
        supports_check_mode=True,
    )
    params = module.params
    # The work is module_utils/_rollout_check.install: with a pipelining connection the action runs it without this
    # module (_host_runner), except in diff mode.
    result = install(params, module.check_mode)
    if result.get("failed"):
        module.fail_json(**result)
    before = result.pop("before")
    if module._diff:
        result["diff"] = {"before": _lines(before), "after": _lines(result["packages"]),
                          "before_header": "%s (before)" % params["path"],
                          "after_header": "%s (after)" % params["path"]}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
