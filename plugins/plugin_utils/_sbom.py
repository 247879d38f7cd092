# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""CycloneDX 1.5 JSON SBOM of a bundle: every file as a component with version, purl, sha256 and the
licence the metadata declares (an SPDX expression when given, the free-text licence otherwise)."""

from __future__ import annotations

import typing as t
import uuid
from urllib.parse import quote

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import COLLECTION_VERSION, Pin

SBOM_FILE = "sbom.cdx.json"


def purl(pin: Pin) -> str:
    # The file name qualifier pins the exact artifact (purl spec for pypi), not just the release.
    return "pkg:pypi/%s@%s?file_name=%s" % (quote(pin.name), quote(pin.version), quote(pin.file.filename))


def _licenses(pin: Pin) -> list:
    if pin.license_expression:
        return [{"expression": pin.license_expression}]
    text = (pin.license or "").strip()
    if not text:
        return []
    # Free-text licence fields can be whole licence texts; keep the first line as the name.
    return [{"license": {"name": text.splitlines()[0][:200]}}]


def render_sbom(pins_by_profile: t.Mapping[str, t.Sequence[Pin]], serial: int, created: str) -> dict:
    components: dict[str, dict] = {}
    for profile, pins in sorted(pins_by_profile.items()):
        for pin in pins:
            ref = purl(pin)
            entry = components.setdefault(ref, {
                "type": "library",
                "bom-ref": ref,
                "name": pin.name,
                "version": pin.version,
                "purl": ref,
                "hashes": [{"alg": "SHA-256", "content": pin.file.sha256}],
                "licenses": _licenses(pin),
                "properties": [],
            })
            if pin.summary and "description" not in entry:
                entry["description"] = pin.summary
            entry["properties"].append({"name": "airgap.pymigrate:profile", "value": profile})
            for key, value in sorted((pin.built_from or {}).items()):  # a wheel built from an sdist: from what, where
                prop = {"name": "airgap.pymigrate:built-from:%s" % key, "value": str(value)}
                if value is not None and prop not in entry["properties"]:
                    entry["properties"].append(prop)
    # A serial number derived from the bundle serial and content keeps rebuilds of the same bundle equal.
    seed = "%d:%s" % (serial, ",".join(sorted(components)))
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:%s" % uuid.uuid5(uuid.NAMESPACE_URL, "airgap.pymigrate:" + seed),
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {"components": [{"type": "application", "name": "airgap.pymigrate",
                                      "version": COLLECTION_VERSION}]},
            "component": {"type": "application", "name": "pymigrate-bundle-%d" % serial,
                          "version": str(serial)},
        },
        "components": [components[key] for key in sorted(components)],
    }
