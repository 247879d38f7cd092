#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: bundle
short_description: Resolve every target profile exactly and fetch its wheels into a bundle
version_added: 0.1.0
description:
  - Runs on the control node (an action plugin). Builds the wanted set of every environment of every host from
    inventory variables (C(pymigrate_requirements) -> C(pymigrate_group_requirements) -> C(pymigrate_host_requirements),
    or C(pymigrate_envs) -> C(pymigrate_group_envs) -> C(pymigrate_host_envs)), groups hosts with the same target facts
    and wanted set into profiles, and resolves each profile once.
  - Resolution evaluates every environment marker with the target's own marker environment (from
    M(airgap.pymigrate.target_facts), a survey file, or a C(pymigrate_target) declaration), checks
    requires-python against the target's Python, picks each wheel by the target's tag priority, skips yanked files
    unless pinned exactly, takes prereleases only when asked, and can cut off files uploaded after O(uploaded_prior_to).
  - Wheels are fetched in parallel, each checked against the index's sha256 and size, into a content-addressed store
    inside O(bundle_dir) shared by all profiles; pure-Python sdists are built into wheels on the control node.
  - Writes C(pylock.<profile>.toml) (PEP 751, files by relative path), C(requirements.<profile>.txt) (hashed),
    C(manifest.json) (serial, hosts, profiles, files; every serial also kept as C(manifests/<serial>.json)) and
    C(sbom.cdx.json) (CycloneDX). Nothing is rewritten when nothing changed; an error leaves the previous bundle intact.
  - Inventory hosts outside the run (left out with C(--limit), or unreachable during the survey) keep their entries
    of the previous bundle. One build at a time per O(bundle_dir); another waits up to O(lock_timeout) seconds.
author:
  - airgap.pymigrate maintainers (@airgap)
extends_documentation_fragment:
  - airgap.pymigrate._attributes
  - airgap.pymigrate._attributes.ACTION
  - airgap.pymigrate._attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details:
      - Resolves and reports what would be fetched and which packages would change. It fetches nothing; the only file
        it writes is the proposed manifest C(<bundle_dir>/.check/manifest.json), which the rollout's check mode
        predicts from (the next real build removes it).
  diff_mode:
    support: full
    details: Shows, per host environment, the packages before and after.
  idempotent:
    support: full
options:
  bundle_dir:
    description: Bundle directory on the control node.
    type: path
    required: true
  hosts:
    description:
      - Inventory hosts to bundle for. By default every host that has registered target facts in
        C(__pymigrate_target_facts), is listed in O(survey_file), or declares C(pymigrate_target).
    type: list
    elements: str
  survey_file:
    description: Survey file carried out of the enclave (see C(docs/survey-format.md)); its facts replace live ones.
    type: path
  index_url:
    description:
      - The primary package index (PEP 503/691 simple API), usually your mirror; a C(file://) URL or an absolute
        path names a local directory index.
      - When not set, the indexes C(pip install) would use on the control node - its configuration files and
        C(PIP_*) environment variables, as pip reads them (index-url, extra-index-url including C(file://) local
        indexes, find-links directories, constraint files, cert as the CA bundle), else pip's default index; the
        run says which it used. A pip setting the collection does not follow (no-index, trusted-host, proxy,
        client-cert, require-hashes, only-binary, no-binary, pre, find-links URLs, ...) fails naming the setting,
        where it was made and its value.
    type: str
  extra_index_urls:
    description:
      - Further indexes, consulted in order (C(file://) local directory indexes too). The first index that knows a
        project supplies all of its files (no dependency confusion).
    type: list
    elements: str
    default: []
  index_username:
    description: User for basic auth on the primary index (or use C(~/.netrc)).
    type: str
  index_password:
    description: Password for basic auth on the primary index.
    type: str
  index_token:
    description: Bearer token for the primary index.
    type: str
  ca_bundle:
    description: CA bundle to verify the indexes' TLS certificates.
    type: path
  uploaded_prior_to:
    description: Ignore files uploaded at or after this ISO 8601 time (PEP 700), for reproducible bundles.
    type: str
  build_sdists:
    description:
      - Build sdist-only releases into pure-Python wheels on the control node, each sdist once per run for every
        profile it fits, its build dependencies as wheels from the same indexes.
      - An sdist that compiles (C, C++, Cython or Rust sources, extension modules, a compiling build backend) is
        never built here; a version that offers neither a fitting wheel nor such an sdist is skipped and resolution
        falls back to older versions.
      - Build logs go to C(<bundle_dir>/.build-logs/); errors name the log instead of printing it.
      - A build runs isolated (util-linux C(unshare) and C(setpriv)) - no network (its build requirements are
        fetched first, as wheels, by the run's index client, which alone holds the index credentials), its own
        processes (no other command line, such as a passphrase given with C(-e)), an empty environment, the signing
        key, vault password files and the home's keys and credentials (C(~/.ssh), C(~/.ansible), C(~/.netrc), ...)
        hidden, no capabilities. A control node that cannot make namespaces refuses to build; set this to false
        there.
    type: bool
    default: true
  build_timeout:
    description: Seconds one sdist build may take before it is stopped and the run fails naming it.
    type: int
    default: 600
  installer_requirement:
    description: The pip requirement carried in the bundle to install on hosts that have no pip.
    type: str
    default: pip
  installer:
    description:
      - What installs each environment on the hosts. V(pip) (pip run from its wheel) or V(uv) - the uv wheel for each
        profile's platform (manylinux and musllinux, x86_64 and aarch64) is carried instead of pip and runs on the
        host from the store with no index, installing exactly the lock (much faster than pip).
      - A profile no uv wheel fits falls back to pip, and the run says so (RV(installers) lists each profile's).
    type: str
    choices: [pip, uv]
    default: pip
  uv_requirement:
    description: The uv requirement carried with O(installer=uv), for example C(uv==0.13.9).
    type: str
    default: uv
  workers:
    description: Parallel downloads and metadata reads.
    type: int
    default: 8
  lock_timeout:
    description: Seconds to wait for another build of the same O(bundle_dir) to finish.
    type: int
    default: 300
  builders:
    description:
      - Builder hosts for sdists that compile - an inventory group name, a list of hosts, or a map of profile name
        to host. A builder serves every profile whose target equals its own target facts (so it must be surveyed
        in the same run).
      - While a build is still to be done the bundle is not written and RV(pending_builds) lists the builds, for
        M(airgap.pymigrate.sdist_build) to run on the builders; the next call takes their wheels (the
        P(airgap.pymigrate.bundle#role) role does both).
    type: raw
  version_policy:
    description:
      - V(per_profile) resolves each profile on its own (the newest versions each target can take).
      - V(uniform) gives every profile of the run the same version of each project where one version fits all of
        them (as uv's universal resolution does); where none fits, the run fails naming the project and the
        profiles with the version each would get.
      - Either way RV(differing_versions) lists the projects whose versions differ between profiles.
    type: str
    choices: [per_profile, uniform]
    default: per_profile
  defer_builds:
    description:
      - For builders this control node cannot reach (a bundle built outside from a survey) - write the bundle with
        the pending builds in its manifest and their sdists, build requirements and pip in its store, so that they
        cross the gap in the archive; C(deploy.yml) runs them on the builders inside after the import, and the hosts
        of each profile get the wheel its builder made.
    type: bool
    default: false
  require_built:
    description: Fail instead of returning RV(pending_builds) (the role's second pass, after the builds).
    type: bool
    default: false
  vulnerability_policy:
    description:
      - Every pinned project version is checked for known vulnerabilities before the bundle is written - in the
        index's JSON API (C(<root>/pypi/<name>/<version>/json), field C(vulnerabilities), derived from the simple
        index C(<root>/simple/) each pin came from, with the same credentials and CA bundle), or in O(osv_db) when
        given. A pin whose index offers no JSON API is listed as skipped, not as clean. Withdrawn reports never count.
      - Each profile's report is written into the bundle as C(vulnerabilities.<profile>.json) and
        C(vulnerabilities.<profile>.txt) (a table), and the findings go into C(sbom.cdx.json) as its
        C(vulnerabilities) section; the manifest lists the reports, so the signed archive carries them.
      - V(report) only reports; pins that could not be checked are counted in a warning and never called free of
        vulnerabilities. V(fail) fails the build, writing nothing, when a finding is not ignored by
        O(vulnerability_ignore) (the message names each project, version, vulnerability id and fixed version), and,
        failing closed, when a pin could not be checked (naming the pins and why), unless
        O(vulnerability_unchecked=allow).
    type: str
    choices: [report, fail]
    default: report
  vulnerability_unchecked:
    description:
      - With O(vulnerability_policy=fail), what a pin that could not be checked (its index has no JSON API, or it
        did not answer) does - V(fail) stops the build, naming the pins, why, and how to carry an OSV database
        (O(osv_db)) instead; V(allow) lets them pass (the report still lists them as not checked).
    type: str
    choices: [fail, allow]
    default: fail
  vulnerability_ignore:
    description:
      - Findings to ignore, each a mapping with C(id) (the vulnerability id or one of its aliases), C(reason) (why it
        does not matter here; it goes into the report and the SBOM) and C(expires) (an ISO date, the last day the
        entry counts). An entry past its expiry no longer ignores, and the report says it expired.
      - A missing id or reason, an unknown key or a bad date fails naming the entry.
    type: list
    elements: raw
    default: []
  osv_db:
    description:
      - Path on the control node of an OSV database export for the PyPI ecosystem (its C(all.zip), one C(<ID>.json)
        OSV record per member, from C(https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip)). When given,
        it is the source of the check instead of the index's JSON API (no network needed).
      - Matching follows OSV - C(ECOSYSTEM) ranges with C(introduced), C(fixed), C(last_affected) and C(limit) events
        and explicit C(versions), ordered as PEP 440 versions, names canonicalized; malformed records, C(GIT) and
        C(SEMVER) ranges and unparsable versions are skipped and counted in the report.
      - The file is carried in the bundle as C(osv-db.zip), its sha256, size and date (newest record) in the
        manifest, so the signed archive takes it inside.
    type: path
  provenance:
    description:
      - PEP 740 provenance of every locked file (for a wheel built from an sdist, of that sdist), fetched from the
        URL the index gives (simple JSON C(provenance), HTML C(data-provenance)), else from the integrity API
        C(<root>/integrity/<project>/<version>/<filename>/provenance) beside C(<root>/simple/), and verified offline
        with the optional C(pypi-attestations) library against the expected identity of the project -
        O(trusted_publishers), else the identity the previous bundle recorded, else the one the provenance names.
      - The identity goes into the manifest and into each pylock's C(attestation-identities); the exact bytes
        verified are kept next to the file in the store (C(<file>.provenance)) and carried in the signed archive.
      - Under either policy, an identity other than the expected one, provenance that disappeared for a project the
        previous bundle had it for, and provenance that does not verify fail the build, naming both identities.
      - V(record) records what there is; without C(pypi-attestations) it records the files as unverified and says
        verification was skipped. V(require) also fails on any locked file without provenance, and without
        C(pypi-attestations) fails naming what to install (C(pip install pypi-attestations)).
    type: str
    choices: [record, require]
    default: record
  trusted_publishers:
    description:
      - Pinned publisher identities, project name to repository (C(owner/name), GitHub or GitLab), to an email
        (Google), or to a mapping of publisher keys (C(kind), C(repository), C(workflow), C(environment), ...).
        A pinned project must have provenance whose publisher has these values and whose attestations verify
        against them; a pin also confirms a publisher that changed since the previous bundle.
    type: dict
    default: {}
  sigstore_trust_root:
    description:
      - Path of a Sigstore trust root (C(trusted_root.json)) to verify provenance with, offline; by default the
        production root the installed C(sigstore) reads offline (its TUF cache, else the copy its release embeds).
      - The exact root verified with is carried in the bundle (C(sigstore/trusted_root.json)), so that C(deploy.yml)
        verifies the provenance again inside.
    type: path
  lock_dir:
    description:
      - The lock directory (C(docs/lock-format.md)) - one PEP 751 C(pylock.<name>.toml) per distinct target and wanted
        set, with the environments it is for, and a C(README.md) - kept in version control beside the inventory.
      - Not given, C(.pymigrate-lock) in the directory of the first inventory source (the source itself when it is a
        directory; Ansible skips hidden entries of an inventory directory, so the locks are never read as inventory).
    type: path
  lock_mode:
    description:
      - V(update) - a profile whose target and wanted set are those of a lock takes that lock's pins as they are,
        whatever the index published since (the lock holds); any other profile resolves with the versions of the
        lock it replaces preferred, so that a change moves only what it requires; the lock is then written (not in
        check mode; with C(--diff) each lock file's diff is shown).
      - V(frozen) - the same, but any change to the lock fails the build before anything is written, naming each
        environment and version that would change (for scheduled jobs whose checkout is read-only).
      - V(ignore) - the lock is neither read nor written; every build resolves to the newest releases. The role
        C(airgap.pymigrate.bundle) defaults to V(update).
    type: str
    choices: [update, frozen, ignore]
    default: ignore
  upgrade:
    description:
      - V(all), or a list of project names (or their comma-separated text), to re-resolve on purpose - those
        projects and what their new versions need; every other locked version stays preferred.
    type: raw
  lock_only:
    description:
      - Resolve and write the lock only (O(lock_mode=update)), or only check it (O(lock_mode=frozen)); nothing of the
        bundle is written (O(bundle_dir) serves as the cache of index pages and files). C(playbooks/lock.yml) runs
        this, so that a lock change can be reviewed before any host sees it.
    type: bool
    default: false
  dropped_envs:
    description:
      - What happens to an environment the previous bundle gave a host of this run that the inventory no longer names
        (neither kept nor marked C(state=absent)) - V(keep) leaves it on the host and warns, naming host, environment
        and path; V(remove) removes it as if marked absent (the bundle keeps it among the host's removals while the
        inventory does not name it again, so a host the rollout did not reach removes it later).
      - An environment marked C(state=absent) in the inventory is always removed (M(airgap.pymigrate.host_prune)).
    type: str
    choices: [keep, remove]
    default: keep
notes:
  - Proxies come from the environment (C(HTTPS_PROXY)); credentials never appear in output or files.
seealso:
  - module: airgap.pymigrate.target_facts
  - module: airgap.pymigrate.wheel_push
"""

EXAMPLES = r"""
- name: Build the bundle for every surveyed host
  airgap.pymigrate.bundle:
    bundle_dir: /srv/pymigrate/bundle
    index_url: https://mirror.example.internal/simple/
    index_username: "{{ vault_mirror_user }}"
    index_password: "{{ vault_mirror_password }}"
    uploaded_prior_to: "2025-06-01T00:00:00Z"
  register: __pymigrate_bundle
"""

RETURN = r"""
changed:
  description: Whether files were fetched or the locks and manifest changed.
  returned: always
  type: bool
serial:
  description: Serial number of the bundle manifest (grows with every change).
  returned: always
  type: int
  sample: 3
profiles:
  description: Per profile, its member host environments and the pinned packages.
  returned: success
  type: dict
  sample: {cp311-manylinux_2_36_x86_64-1a2b3c4d5e: {members: ["web1:default"], packages: {requests: 2.32.3}}}
fetched:
  description: Files downloaded in this run (or that would be, in check mode).
  returned: success
  type: list
  elements: str
changes:
  description: Per host environment, packages added, removed, upgraded and downgraded against the previous bundle.
  returned: success
  type: dict
  sample: {"web1:default": {added: [], removed: [], upgraded: ["requests 2.31.0 -> 2.32.3"], downgraded: []}}
lock:
  description:
    - What the build did with the lock (O(lock_mode) other than V(ignore)) - its directory and mode, the locks that
      held, the lock files that change, each profile's lock name, and per host environment the versions that change
      against the lock (added, removed, upgraded, downgraded).
  returned: when the lock is read
  type: dict
  sample: {dir: inventory/.pymigrate-lock, mode: update, held: [default-cp311-manylinux_2_36_x86_64],
           changed_files: [], locks: {cp311-manylinux_2_36_x86_64-1a2b3c4d5e: default-cp311-manylinux_2_36_x86_64},
           changes: {}}
installers:
  description: The installer each profile carries (C(pip) or C(uv)).
  returned: when the bundle was resolved
  type: dict
  sample: {py311-x86_64: uv, py39-musl: pip}
differing_versions:
  description: Projects whose version differs between profiles, with the version of each profile.
  returned: success
  type: dict
  sample: {requests: {cp39-manylinux_2_17_x86_64-1a2b3c4d5e: "2.32.5", cp311-manylinux_2_17_x86_64-6f7a: "2.34.2"}}
pending_builds:
  description:
    - Builds that builder hosts must run before the bundle can be written, each with the builder, its interpreter,
      the sdist and the build requirements (store paths in O(bundle_dir)); empty when nothing waits.
  returned: when a build waits for a builder
  type: list
  elements: dict
  sample: [{builder: build1, python: /usr/bin/python3.11, filename: cext-1.0.tar.gz, sdist: files/sha256/..., pip:
            files/sha256/..., build_files: [], isolated: false, sdist_sha256: "4f2d..."}]
kept_hosts:
  description: Inventory hosts outside this run whose entries of the previous bundle were kept.
  returned: success
  type: list
  elements: str
skipped_hosts:
  description: Hosts without target facts (for example unreachable during the survey), not bundled for.
  returned: success
  type: list
  elements: str
dropped_envs:
  description:
    - The environments the previous bundle gave a host of this run that the inventory no longer names, each with
      C(host), C(env), C(path) and C(removed) (true with O(dropped_envs=remove)).
  returned: when there are
  type: list
  elements: dict
  sample: [{host: web1, env: tools, path: /opt/tools/venv, removed: false}]
bundle_dir:
  description: The bundle directory.
  returned: success
  type: str
provenance:
  description:
    - The provenance check - policy, verifier (C(null) when C(pypi-attestations) is missing and verification was
      skipped), counts of locked files (with provenance, verified, unverified, absent), the shares of files with
      provenance and verified, each project's identity and the files without provenance.
  returned: when the bundle was resolved
  type: dict
  sample: {policy: record, verifier: pypi-attestations 0.0.31, share_with_provenance: 0.5, share_verified: 0.5,
           verification_skipped: false, counts: {files: 2, with_provenance: 1, verified: 1, unverified: 0, absent: 1},
           identities: {sampleproject: {kind: GitHub, repository: pypa/sampleproject, workflow: release.yml,
                                        trust: tofu}},
           absent: [alpha-1.0-py3-none-any.whl]}
vulnerabilities:
  description:
    - The vulnerability check - its source (C(index) or C(osv)), the date it was made, the sha256 of O(osv_db) when
      used, counts per profile (affected, ignored, skipped), and every finding not ignored.
  returned: when the bundle was resolved
  type: dict
  sample: {source: index, checked_on: "2026-12-01", osv_db_sha256: null,
           profiles: {py311-x86_64: {affected: 1, ignored: 0, skipped: 0}},
           findings: [{project: alpha, version: "1.0", id: PYSEC-2024-1, aliases: [CVE-2024-0001], fixed_in: ["1.1"],
                       state: affected}]}
"""
