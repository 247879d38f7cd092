# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Sigstore trust root a provenance check verifies with, and the offline verification over it (issue 31 item 4).

A Sigstore trust root (``trusted_root.json``, media type ``application/vnd.dev.sigstore.trustedroot+json;
version=0.1``: the Fulcio certificate authorities, the Rekor and CT log keys, the timestamp authorities) is what an
attestation's certificate and log entry are checked against. sigstore can fetch one through TUF, online; this module
never does: a verifier is built from a **file** (``sigstore.verify.Verifier(trusted_root=TrustedRoot.from_file())``),
so nothing here needs a route, a TUF cache or a sigstore service.

* At bundle time the root is ``pymigrate_sigstore_trust_root`` when set, else the production root sigstore's own
  offline mode reads (its TUF cache, else the copy its release embeds). The exact bytes verified with travel in the
  bundle as ``sigstore/trusted_root.json`` (sha256 and source in ``manifest.provenance.trust_root``), signed into the
  archive.
* Inside, the carried root is used, or the inside's own ``pymigrate_sigstore_trust_root`` instead.

``pypi-attestations``' ``Attestation.verify`` builds the production verifier itself (0.0.31: ``offline`` only), so
:func:`verify_attestation` does what it does over the verifier given: the DSSE envelope and the certificate against
the publisher's policy, then the statement (one subject, the same distribution name, the same sha256, a known
predicate type).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import typing as t

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

TRUST_ROOT_PATH = "sigstore/trusted_root.json"
MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
PRODUCTION_TUF_URL = "https://tuf-repo-cdn.sigstore.dev"
VAR = "pymigrate_sigstore_trust_root"
DSSE_TYPE = "application/vnd.in-toto+json"


class TrustRoot(t.NamedTuple):
    """A trust root's exact bytes, where they came from, and their sha256."""

    data: bytes
    source: str
    sha256: str


def read(path: str, what: str = "the Sigstore trust root") -> TrustRoot:
    """The trust root file at ``path``, checked to be one (its media type); a missing or other file is an error."""
    try:
        with open(os.path.expanduser(path), "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise PyMigrateError("%s %s cannot be read (%s): no provenance can be verified without it"
                             % (what, path, exc.strerror), var=VAR, value=path,
                             hint="Point pymigrate_sigstore_trust_root at a Sigstore trusted_root.json")
    check(data, path)
    return TrustRoot(data, path, hashlib.sha256(data).hexdigest())


def check(data: bytes, source: str) -> None:
    try:
        media_type = json.loads(data).get("mediaType")
    except (ValueError, AttributeError):
        media_type = None
    if media_type != MEDIA_TYPE:
        raise PyMigrateError("%s is not a Sigstore trust root (media type %s expected)" % (source, MEDIA_TYPE),
                             var=VAR, value=source)


def default_root() -> TrustRoot:
    """The production trust root sigstore's offline mode reads: its TUF cache's, else the copy its release embeds
    (written into the cache by sigstore, as ``Verifier.production(offline=True)`` does). Never asks the network."""
    try:
        from sigstore._internal.tuf import TrustUpdater  # pylint: disable=import-outside-toplevel
        path = TrustUpdater(PRODUCTION_TUF_URL, offline=True).get_trusted_root_path()
    except Exception as exc:  # pylint: disable=broad-except
        raise PyMigrateError("the installed sigstore gives no production trust root offline (%s)" % exc, var=VAR,
                             hint="Set pymigrate_sigstore_trust_root to a Sigstore trusted_root.json")
    root = read(path, "sigstore's production trust root")
    return TrustRoot(root.data, "sigstore production (offline copy %s)" % path, root.sha256)


def verifier(root: TrustRoot):
    """A sigstore Verifier over exactly these bytes (no TUF, no network)."""
    from sigstore.models import TrustedRoot  # pylint: disable=import-outside-toplevel
    from sigstore.verify import Verifier  # pylint: disable=import-outside-toplevel
    with tempfile.NamedTemporaryFile(prefix="pymigrate-trusted-root-", suffix=".json") as handle:
        handle.write(root.data)
        handle.flush()
        try:
            return Verifier(trusted_root=TrustedRoot.from_file(handle.name))
        except Exception as exc:  # pylint: disable=broad-except
            raise PyMigrateError("the Sigstore trust root %s cannot be used (%s)" % (root.source, exc), var=VAR,
                                 value=root.source)


def _dist_key(name: str) -> tuple:
    """What pypi-attestations compares of two distribution filenames: the parsed name, version (and tags)."""
    from packaging.utils import parse_sdist_filename, parse_wheel_filename  # pylint: disable=import-outside-toplevel
    if name.endswith(".whl"):
        return tuple(parse_wheel_filename(name))
    return tuple(parse_sdist_filename(name))


def verify_attestation(module, verify_with, attestation, publisher, dist) -> str:
    """Verify one attestation (a pypi_attestations Attestation) against ``publisher`` (its model) and ``dist``
    (a pypi_attestations Distribution) with the sigstore Verifier ``verify_with``; the predicate type. Raises
    ``module.VerificationError``."""
    import sigstore.errors  # pylint: disable=import-outside-toplevel
    policy = publisher._as_policy()  # pylint: disable=protected-access  # (pypi-attestations does the same)
    try:
        kind, payload = verify_with.verify_dsse(attestation.to_bundle(), policy)
    except sigstore.errors.VerificationError as exc:
        raise module.VerificationError(str(exc)) from exc
    if kind != DSSE_TYPE:
        raise module.VerificationError("expected JSON envelope, got %s" % kind)
    try:
        statement = json.loads(payload)
        (subject,) = statement["subject"]
        name, digest = subject["name"], (subject.get("digest") or {}).get("sha256")
        same = _dist_key(name) == _dist_key(dist.name)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise module.VerificationError("invalid statement: not exactly one subject with a distribution name")
    if not same:
        raise module.VerificationError("subject does not match distribution name: %s != %s" % (name, dist.name))
    if digest != dist.digest:
        raise module.VerificationError("subject does not match distribution digest")
    if statement.get("predicateType") not in {member.value for member in module.AttestationType}:
        raise module.VerificationError("unknown attestation type: %s" % statement.get("predicateType"))
    return statement["predicateType"]
