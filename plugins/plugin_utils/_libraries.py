# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's third-party libraries, imported in this one place.

A missing library must not break loading the plugins (ansible-doc, ansible-test's import test, a control node
that only deploys): its names become None (base classes: ``object``; exceptions: stand-ins that are never
raised) and ``_model.check_controller_libraries()``, called before any work, says what to install.
"""

# pylint: disable=invalid-name,unused-import
# mypy: disable-error-code="assignment,misc"

from __future__ import annotations

try:
    import jmespath
    import jmespath.exceptions
    import jmespath.functions
except ImportError:
    jmespath = None

try:
    import requests
    import requests.adapters
    from urllib3.util.ssl_ import create_urllib3_context
except ImportError:
    requests = create_urllib3_context = None

try:
    from packaging import tags as packaging_tags
    from packaging.markers import default_environment
    from packaging.metadata import parse_email
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
    from packaging.version import InvalidVersion, Version
    sys_tags = packaging_tags.sys_tags
except ImportError:
    packaging_tags = parse_email = Requirement = SpecifierSet = canonicalize_name = parse_wheel_filename = None
    default_environment = sys_tags = None
    Version = None
    InvalidRequirement = InvalidSpecifier = InvalidWheelFilename = InvalidVersion = type("Missing", (Exception,), {})

try:
    from resolvelib import AbstractProvider, BaseReporter, Resolver
    from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep
except ImportError:
    AbstractProvider = BaseReporter = object
    Resolver = None
    ResolutionImpossible = type("ResolutionImpossible", (Exception,), {})
    ResolutionTooDeep = type("ResolutionTooDeep", (Exception,), {})

try:
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
except ImportError:
    serialization = Ed25519PrivateKey = Ed25519PublicKey = None
    InvalidSignature = type("InvalidSignature", (Exception,), {})
    UnsupportedAlgorithm = type("UnsupportedAlgorithm", (Exception,), {})


def pypi_attestations():
    """The optional PEP 740 verifier (``pypi-attestations``, which brings sigstore), imported when a bundle checks
    provenance, not when a plugin loads: None when it is not installed."""
    try:
        import pypi_attestations as module  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None
    return module
