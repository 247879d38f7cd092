#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_install
short_description: Load a profile's OCI image from the host's store, smoke-run it, and switch its tag
version_added: 0.2.0
description:
  - The image strategy's install (C(pymigrate_strategy=image)). The image's blobs are in the host's wheel store
    (sent by M(airgap.pymigrate.wheel_push), each verified by sha256); they are verified again, laid out as an OCI
    image layout with hard links, and loaded with the host's container engine.
  - The image is run with no network importing the O(smoke_imports) with its environment's interpreter, and only
    then tagged C(<name>:<serial>) and C(<name>:current). Earlier serials' tags stay, for O(state=rollback).
  - When C(<name>:current) is already the image, nothing runs and nothing changes.
  - With O(registry) (C(pymigrate_registry)), a host that lacks the image pulls it from the registry inside the
    enclave (where M(airgap.pymigrate.image_publish) pushed it) instead of loading it from its store; the pulled
    image counts only when its ID is the bundle's.
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.IMAGE
  - airgap.pymigrate._attributes.REGISTRY
attributes:
  check_mode:
    support: full
    details: Reports whether the tag would move; loads nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  image:
    description: The image to load, as P(airgap.pymigrate.bundle_host_envs#filter) gives it (C(image) of the
      environment).
  registry:
    description:
      - The registry to pull the image from instead of loading its blobs from the store, as C(pymigrate_registry)
        gives it.
  name:
    description: The image repository on the host, for example C(localhost/pymigrate-default).
    type: str
    required: true
  serial:
    description: The bundle serial, the tag the image gets besides C(current). Required with O(state=present).
    type: int
  store_dir:
    description: The host's content-addressed store.
    type: path
    default: /var/lib/pymigrate/store
  engine:
    description: The container engine - V(podman), V(docker), or V(auto) (podman when present, else docker).
    type: str
    choices: [auto, podman, docker]
    default: auto
  python:
    description: The environment's interpreter inside the image (for the smoke run).
    type: str
    default: /opt/pymigrate/venv/bin/python
  smoke_imports:
    description: Modules the smoke run imports.
    type: list
    elements: str
    default: []
  state:
    description: V(present) loads and tags the image; V(rollback) moves C(current) back to the serial before.
    type: str
    choices: [present, rollback]
    default: present
"""

EXAMPLES = r"""
- name: Switch each image environment to this bundle's image
  airgap.pymigrate.image_install:
    name: "{{ item.image.name }}"
    serial: "{{ item.serial }}"
    image: "{{ item.image }}"
    smoke_imports: "{{ item.smoke_imports }}"
  loop: "{{ '/srv/pymigrate/bundle' | airgap.pymigrate.bundle_host_envs(inventory_hostname)
            | selectattr('strategy', 'equalto', 'image') }}"

- name: Roll back
  airgap.pymigrate.image_install:
    name: localhost/pymigrate-default
    state: rollback
"""

RETURN = r"""
image_id:
  description: The image C(<name>:current) names after the run.
  returned: success
  type: str
  sample: 3371e52a177dbc3a479d55cc45b6927d8c7acc2d002cbe7d0028406df55181f3
previous_image_id:
  description: The image C(<name>:current) named before (null when there was none).
  returned: success
  type: str
loaded:
  description: Whether the image was loaded from the store in this run (false when the host had it).
  returned: O(state=present)
  type: bool
pulled:
  description: Whether the image was pulled from O(registry) in this run.
  returned: O(state=present)
  type: bool
tags:
  description: The tags the image has after the run.
  returned: O(state=present)
  type: list
  elements: str
  sample: [localhost/pymigrate-default:4, localhost/pymigrate-default:current]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airgap.pymigrate.plugins.module_utils._image import (
    IMAGE_ARGUMENT_SPEC,
    REGISTRY_ARGUMENT_SPEC,
    ImageError,
    SmokeTest,
    ensure,
    rollback,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            serial=dict(type="int"),
            image=dict(type="dict", options=IMAGE_ARGUMENT_SPEC),
            store_dir=dict(type="path", default="/var/lib/pymigrate/store"),
            engine=dict(type="str", choices=["auto", "podman", "docker"], default="auto"),
            python=dict(type="str", default="/opt/pymigrate/venv/bin/python"),
            smoke_imports=dict(type="list", elements="str", default=[]),
            registry=dict(type="dict", options=REGISTRY_ARGUMENT_SPEC),
            state=dict(type="str", choices=["present", "rollback"], default="present"),
        ),
        required_if=[("state", "present", ["serial", "image"])],
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params["state"] == "rollback":
            result = rollback(params["name"], params["engine"], check_mode=module.check_mode)
        else:
            result = ensure(params["store_dir"], params["name"], params["serial"], params["image"], params["engine"],
                            SmokeTest(params["python"], params["smoke_imports"]), check_mode=module.check_mode,
                            registry=params["registry"])
    except (ImageError, OSError) as exc:
        module.fail_json(msg="image %s: %s" % (params["name"], exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
