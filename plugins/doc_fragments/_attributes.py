# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # Standard attribute documentation; modules extend it with their own support levels.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description:
      Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
"""

    # For modules implemented (partly) as an action plugin on the control node.
    ACTION = r"""
options: {}
attributes:
  action:
    description:
      Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
"""

    # For modules that run entirely on the control node.
    CONTROLLER = r"""
options: {}
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: controller
"""

    # The host store and a list of its files, shared by wheel_push and wheel_store.
    STORE_FILES = r"""
options:
  store_dir:
    description: The content-addressed wheel store on the host.
    type: path
    default: /var/lib/pymigrate/store
  files:
    description:
      - The files concerned, usually computed from the bundle manifest with
        P(airgap.pymigrate.bundle_host_files#filter).
    type: list
    elements: dict
    required: true
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
"""

    # The environments of a host's slice, each with its lock: wheel_store and target_facts check them.
    ENVIRONMENTS = r"""
options:
  environments:
    description:
      - Environments the files are for. Each O(environments[].path) must be absent or managed by the collection, its
        parent directories owned by root and writable by no one else, and its interpreter O(environments[].python)
        (when given) must exist - M(airgap.pymigrate.wheel_store) refuses otherwise before anything happens,
        M(airgap.pymigrate.target_facts) reports it in RV(airgap.pymigrate.target_facts#module:rollout_check).
      - Given with its lock (O(environments[].packages)), the module also reports whether the environment's current
        generation holds that lock unchanged, so that the install has nothing to ask the host when nothing changed.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The environment's stable path.
        type: path
        required: true
      python:
        description: The interpreter the environment is built with.
        type: path
      lock_id:
        description: The id of the environment's lock (with O(environments[].packages)).
        type: str
      packages:
        description: The environment's lock, as P(airgap.pymigrate.bundle_host_envs#filter) gives it.
        type: list
        elements: dict
        suboptions:
          name:
            description: Distribution name.
            type: str
            required: true
          version:
            description: Version.
            type: str
            required: true
          filename:
            description: Wheel file name in the store.
            type: str
            required: true
          sha256:
            description: sha256 of the wheel.
            type: str
            required: true
          size:
            description: Size of the wheel in bytes.
            type: int
  verify_installed:
    description: How the environments are checked against their locks - V(size) or V(full) (also sha256).
    type: str
    choices: [size, full]
    default: size
"""

    # The image of an environment (strategy image), shared by image_install and image_publish.
    IMAGE = r"""
options:
  image:
    description: The image, as P(airgap.pymigrate.bundle_host_envs#filter) gives it (C(image) of the environment).
    type: dict
    suboptions:
      name:
        description: The image repository, for example C(localhost/pymigrate-default).
        type: str
        required: true
      image_id:
        description: The image ID (the sha256 of its config).
        type: str
        required: true
      index:
        description: The OCI image index of the layout (C(index.json)).
        type: dict
        required: true
      blobs:
        description: The image's blobs in the store.
        type: list
        elements: dict
        required: true
        suboptions:
          path:
            description: Store path, C(files/sha256/<2 hex>/<sha256>/oci-blob).
            type: str
            required: true
          sha256:
            description: The blob's digest.
            type: str
            required: true
          size:
            description: Size in bytes.
            type: int
            required: true
"""

    # The registry inside the enclave (pymigrate_registry), shared by image_install and image_publish.
    REGISTRY = r"""
options:
  registry:
    description:
      - The registry inside the enclave, as C(pymigrate_registry) gives it; an image is kept there as
        C(<url>/<namespace>/<last part of its name>:<image ID>).
    type: dict
    suboptions:
      url:
        description: The registry's address, C(host:port) with no scheme, for example C(registry.enclave:5000).
        type: str
        required: true
      tls_verify:
        description:
          - Verify the registry's TLS certificate (podman's C(--tls-verify)); V(false) also allows plain HTTP.
          - Docker takes this from its daemon's C(insecure-registries) instead.
        type: bool
        default: true
      namespace:
        description: The repository path under which the images are kept (empty - directly under O(registry.url)).
        type: str
        default: pymigrate
"""
