#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_publish
short_description: Push a profile's OCI image from a store to the registry inside the enclave, once
version_added: 0.2.0
description:
  - The image strategy with a registry inside the enclave (C(pymigrate_registry)). The registry is asked first
    whether it holds the image (its tag C(<image ID>) with a manifest naming the image's config); only when it does
    not are the image's blobs verified by sha256 in O(store_dir), loaded with the container engine where the module
    runs, pushed, and removed from the engine's store again.
  - The rollout runs it on the control node (C(delegate_to=localhost), once per batch with C(run_once), over the
    batch's images), with the bundle directory as the store, before the hosts pull the image with
    M(airgap.pymigrate.image_install).
  - Registries that need a login are not handled here; log the engine in first (C(podman login)).
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.IMAGE
  - airgap.pymigrate._attributes.REGISTRY
attributes:
  check_mode:
    support: full
    details: Asks the registry and reports whether the image would be pushed; pushes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  image:
    description: The image to push, as P(airgap.pymigrate.bundle_host_envs#filter) gives it (C(image) of the
      environment).
    required: true
  registry:
    description: The registry inside the enclave to push to, as C(pymigrate_registry) gives it.
    required: true
  store_dir:
    description: The store holding the blobs; on the control node the bundle directory (C(pymigrate_bundle_dir)).
    type: path
    required: true
  engine:
    description: The container engine that pushes - V(auto) (podman when present, else docker), V(podman), V(docker).
    type: str
    choices: [auto, podman, docker]
    default: auto
"""

EXAMPLES = r"""
- name: Push this host's images to the enclave registry from the control node (once per image)
  airgap.pymigrate.image_publish:
    image: "{{ item.image }}"
    store_dir: "{{ pymigrate_bundle_dir }}"
    registry:
      url: registry.enclave:5000
      tls_verify: false
  loop: "{{ pymigrate_bundle_dir | airgap.pymigrate.bundle_host_envs(inventory_hostname)
            | selectattr('strategy', 'equalto', 'image') }}"
  delegate_to: localhost
  throttle: 1
"""

RETURN = r"""
reference:
  description: The image in the registry.
  returned: success
  type: str
  sample: reg.enclave:5000/pymigrate/pymigrate-default:3371e52a177dbc3a479d55cc45b6927d8c7acc2d002cbe7d0028406df55181f3
image_id:
  description: The image ID.
  returned: success
  type: str
pushed:
  description: Whether the image was pushed in this run (false when the registry held it already, and in check mode).
  returned: success
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airgap.pymigrate.plugins.module_utils._image import (
    IMAGE_ARGUMENT_SPEC,
    REGISTRY_ARGUMENT_SPEC,
    ImageError,
    publish,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            image=dict(type="dict", required=True, options=IMAGE_ARGUMENT_SPEC),
            store_dir=dict(type="path", required=True),
            registry=dict(type="dict", required=True, options=REGISTRY_ARGUMENT_SPEC),
            engine=dict(type="str", choices=["auto", "podman", "docker"], default="auto"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = publish(params["store_dir"], params["image"], params["registry"], params["engine"],
                         check_mode=module.check_mode)
    except (ImageError, OSError) as exc:
        module.fail_json(msg="image %s: %s" % (params["image"]["name"], exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
