#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: bundle_archive
short_description: Carry a bundle into the enclave as one signed archive, checked on arrival
version_added: 0.1.0
description:
  - Runs on the control node (an action plugin).
  - O(state=keypair) creates an ed25519 key pair (private key PEM, mode 0600; public key in OpenSSH format).
  - O(state=exported) writes the bundle in O(bundle_dir) as one archive O(dest) signed with the private key, with a
    creation and an expiry time. With O(survey_file) (written inside by M(airgap.pymigrate.survey_file)), the archive
    is a delta that leaves out the files the inside store already holds.
  - O(state=imported) verifies an archive completely and only then adds it to the control node's bundle store
    O(store_dir) (C(current) points at the newest bundle). Refused, with the store untouched - a missing signature
    or one by a key not in O(trusted_keys); an expired archive or one dated in the future beyond the allowed skew; a
    serial not higher than the last accepted one (unless O(allow_downgrade)); any member whose size or sha256 differs
    from the signed list, or that the list does not name; absolute paths, C(..), links and device files; a truncated
    archive; a delta whose base files are missing. The same archive imported again changes nothing.
  - O(state=advisories_exported) writes an advisory-only archive O(dest) holding only the OSV database O(osv_db)
    (its sha256, date and record count), signed and dated like a bundle archive; its serial is its creation time.
  - O(state=advisories_imported) verifies an advisory-only archive with the same checks and imports it into
    C(advisories/) of O(store_dir), a serial line of its own - it never replaces a bundle, and a bundle archive is
    never imported as one. C(playbooks/audit.yml) audits against the newest database imported either way.
  - The format is documented in C(docs/archive-format.md) and C(docs/advisories-format.md).
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.ACTION
  - airgap.pymigrate._attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: An import runs every check and reports what it would add, without adding it.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  state:
    description: What to do.
    type: str
    required: true
    choices: [keypair, exported, imported, advisories_exported, advisories_imported]
  private_key_path:
    description: The ed25519 private key (PEM). Required with O(state=keypair) and O(state=exported).
    type: path
  public_key_path:
    description: Where O(state=keypair) writes the public key.
    type: path
  private_key_passphrase:
    description: Passphrase of the private key.
    type: str
  bundle_dir:
    description: The bundle to export.
    type: path
  dest:
    description: The archive file to write (O(state=exported)).
    type: path
  expires_in_days:
    description: Days until the archive expires.
    type: int
    default: 30
  survey_file:
    description: Survey file from inside; its controller have-list makes the export a delta.
    type: path
  src:
    description: The archive to import.
    type: path
  store_dir:
    description: The control node's bundle store inside the enclave.
    type: path
  trusted_keys:
    description: Public keys (OpenSSH C(ssh-ed25519) lines or paths to them) whose signatures are accepted.
    type: list
    elements: str
  allow_downgrade:
    description: Accept a serial not higher than the last accepted one (a deliberate roll back).
    type: bool
    default: false
  max_skew_minutes:
    description: How far in the future an archive's creation time may lie (clock skew).
    type: int
    default: 5
  provenance:
    description:
      - On import, every PEP 740 provenance the bundle carries is verified again, offline, before anything becomes
        visible in the store, against the publisher identity the bundle recorded (which O(trusted_publishers), when
        it names the project, must match) with the Sigstore trust root the bundle carries or O(sigstore_trust_root).
        A mismatch, a provenance that does not verify or a carried trust root that is not the recorded one refuses
        the archive, nothing imported.
      - Without C(pypi-attestations) (C(pip install pypi-attestations)) or without any trust root, V(require) and a
        pinned project fail; V(record) warns that it did not verify. V(require) also fails on a file without
        provenance.
    type: str
    choices: [record, require]
    default: record
  trusted_publishers:
    description:
      - The inside's own pinned publishers (as the bundle's C(trusted_publishers)); the identity the bundle recorded
        for a pinned project must match, and a pinned project must have provenance.
    type: dict
    default: {}
  sigstore_trust_root:
    description:
      - Path of the inside's own Sigstore trust root (C(trusted_root.json)), used instead of the one the bundle
        carries.
    type: path
  osv_db:
    description: The OSV database export (an ecosystem's C(all.zip)) an advisory-only archive carries
      (O(state=advisories_exported)).
    type: path
"""

EXAMPLES = r"""
- name: Carry a fresh OSV database in without a bundle (outside)
  airgap.pymigrate.bundle_archive:
    state: advisories_exported
    osv_db: /srv/osv/PyPI-all.zip
    dest: /media/transfer/advisories.tar
    private_key_path: /etc/pymigrate/signing.key

- name: Import it (inside); playbooks/audit.yml then audits against it
  airgap.pymigrate.bundle_archive:
    state: advisories_imported
    src: /media/transfer/advisories.tar
    store_dir: /srv/pymigrate/import
    trusted_keys: [/etc/pymigrate/signing.pub]

- name: Create the signing key pair (outside)
  airgap.pymigrate.bundle_archive:
    state: keypair
    private_key_path: /secure/pymigrate.key
    public_key_path: /secure/pymigrate.pub

- name: Export a delta archive against the survey (outside)
  airgap.pymigrate.bundle_archive:
    state: exported
    bundle_dir: /srv/pymigrate/bundle
    survey_file: /media/usb/survey.json
    dest: /media/usb/bundle.tar
    private_key_path: /secure/pymigrate.key

- name: Import (inside)
  airgap.pymigrate.bundle_archive:
    state: imported
    src: /media/usb/bundle.tar
    store_dir: /srv/pymigrate/import
    trusted_keys: ["{{ lookup('ansible.builtin.file', 'files/pymigrate.pub') }}"]
"""

RETURN = r"""
serial:
  description: Serial of the exported or imported bundle.
  returned: O(state=exported) or O(state=imported)
  type: int
osv_db:
  description: The OSV database an advisory-only archive carries - sha256, modified (its newest record), records.
  returned: O(state=advisories_exported) or O(state=advisories_imported)
  type: dict
advisories_dir:
  description: Where the newest imported advisory archive's database is (C(<store_dir>/advisories/current)).
  returned: O(state=advisories_imported)
  type: str
kind:
  description: V(full) or V(delta); V(advisories) for an advisory-only archive.
  returned: O(state=exported) or O(state=imported)
  type: str
files_added:
  description: Files the import added to the store.
  returned: O(state=imported)
  type: int
bundle_dir:
  description:
    - The bundle directory to roll out after an import (C(<store_dir>/current)). In check mode, the verified archive
      as a bundle directory of its own (C(<store_dir>/proposals/<serial>-<digest>)), which the rollout's check mode
      previews; the store itself is not changed, and the next import removes it.
  returned: O(state=imported)
  type: str
provenance:
  description:
    - What the provenance re-verification on import did - policy, files, with_provenance, verified, trust_root
      (source, sha256) and skipped (why it did not verify, else null).
  returned: O(state=imported)
  type: dict
builds:
  description:
    - The sdist builds the bundle leaves to builder hosts inside (built outside from a survey, whose builders the
      outside cannot reach), each as M(airgap.pymigrate.sdist_build) takes it; C(deploy.yml) runs them before the
      rollout. Empty when the bundle carries wheels only.
  returned: O(state=imported)
  type: list
  elements: dict
key_id:
  description: Id of the key (first 16 hex digits of the sha256 of the raw public key); on import, the signer's.
  returned: O(state=keypair), O(state=exported) or O(state=imported)
  type: str
path:
  description: The archive written or imported.
  returned: O(state=exported) or O(state=imported) (not in check mode for an export)
  type: str
bytes:
  description: The archive's size in bytes.
  returned: O(state=exported) or O(state=imported) (not in check mode for an export)
  type: int
expires:
  description: When the archive stops being accepted (UTC, ISO 8601).
  returned: O(state=exported) or O(state=imported) (not in check mode for an export)
  type: str
vulnerabilities:
  description:
    - >-
      The known vulnerabilities the bundle carries in its SBOM (those it ignores left out), each as
      C(project version: id).
  returned: O(state=exported) or O(state=imported) (not in check mode)
  type: list
  elements: str
msg:
  description:
    - One line that says where the archive is, its size, serial, signing key, expiry and how many known
      vulnerabilities it carries (the archive role shows it).
  returned: O(state=exported) or O(state=imported)
  type: str
  sample: "exported /media/usb/bundle.tar: serial 7, full archive, 107.3 MB, signed by key 1a2b3c4d5e6f7a8b,
    expires 2026-12-25T15:01:02Z; it carries 1 known vulnerability (alpha 1.0: PYSEC-0000-1); 212 member(s), ..."
"""
