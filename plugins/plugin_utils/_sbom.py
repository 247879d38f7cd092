# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""CycloneDX 1.6 JSON documents of a bundle: the SBOM (``sbom.cdx.json``) and the VEX (``vex.cdx.json``).

The SBOM has every file as a component with version, purl, sha256 and the licence its metadata declares
(License-Expression as an SPDX expression, else the free-text License, else the licence classifiers, those with an
unambiguous SPDX id by that id), all acknowledged as declared; ``dependencies`` is the graph the resolution found:
each package depends on the packages its requirements pulled in (in any profile), and the bundle (the metadata's
component) on those the inventory asked for. The image that carries a profile of the image strategy is a component of
type ``container`` (purl ``pkg:oci/...``, the manifest digest as its hash, the base image as its pedigree's
ancestor), linked in ``dependencies`` to the Python packages installed in it.

The known vulnerabilities are a document of their own, the VEX: each names the components it affects by BOM-Link
(``urn:cdx:<SBOM serial number>/<version>#<bom-ref>``), so that a dependency tracker matches it to the SBOM; the
SBOM names the VEX among its external references."""

from __future__ import annotations

import json
import os
import re
import typing as t
import uuid
from urllib.parse import quote, unquote

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import COLLECTION_VERSION, Pin

SBOM_FILE = "sbom.cdx.json"
VEX_FILE = "vex.cdx.json"
SPEC_VERSION = "1.6"
BUNDLE_REF = "pymigrate-bundle"  # the bom-ref of the metadata's component: the bundle itself
WANTED = "<wanted>"  # (_resolve.WANTED) a pin the inventory asked for: the bundle depends on it
# Licence classifiers whose SPDX id is not in doubt (an unversioned "BSD License" or "GPL" is, and is kept as a name).
CLASSIFIER_IDS = {
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: OSI Approved :: Zero-Clause BSD (0BSD)": "0BSD",
    "License :: OSI Approved :: Apache Software License": None,
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
    "License :: OSI Approved :: Universal Permissive License (UPL)": "UPL-1.0",
}
UNKNOWN = ("", "unknown", "none", "n/a")


def purl(pin: Pin) -> str:
    # The file name qualifier pins the exact artifact (purl spec for pypi), not just the release.
    return "pkg:pypi/%s@%s?file_name=%s" % (quote(pin.name), quote(pin.version), quote(pin.file.filename))


def image_purl(image: t.Mapping) -> str:
    """purl type oci: the image name's last segment, the manifest digest as the version (its ``:`` percent-encoded,
    as the purl spec's examples have it), the whole name as repository_url."""
    name = image["name"].lower()
    ref = "pkg:oci/%s@%s" % (quote(name.rsplit("/", 1)[-1]), quote("sha256:" + image["manifest_digest"], safe=""))
    return ref + ("?repository_url=%s" % quote(name, safe="/.:-_") if "/" in name else "")


def image_component(profile: str, image: t.Mapping) -> dict:
    """The container component of one profile's image (a manifest ``profiles.<name>.image``)."""
    ref = image_purl(image)
    properties = [{"name": "airgap.pymigrate:profile", "value": profile},
                  {"name": "airgap.pymigrate:image-id", "value": "sha256:" + image["image_id"]},
                  {"name": "airgap.pymigrate:environment-path", "value": image["path"]}]
    properties += [{"name": "airgap.pymigrate:layer", "value": "sha256:" + layer} for layer in image["layers"]]
    return {
        "type": "container", "bom-ref": ref, "name": image["name"], "version": "sha256:" + image["manifest_digest"],
        "purl": ref, "hashes": [{"alg": "SHA-256", "content": image["manifest_digest"]}],
        "description": "the environment of profile %s on the base image %s" % (profile, image["base_image"]),
        "pedigree": {"ancestors": [{"type": "container", "bom-ref": "%s#base" % ref, "name": image["base_image"],
                                    "version": "sha256:" + image["base_id"],
                                    "properties": [{"name": "airgap.pymigrate:image-id",
                                                    "value": "sha256:" + image["base_id"]}]}]},
        "properties": properties,
    }


def _licenses(pin: Pin) -> list:
    """License-Expression, else License (free text), else the licence classifiers; [] when none says anything."""
    if pin.license_expression:
        return [{"expression": pin.license_expression, "acknowledgement": "declared"}]
    text = (pin.license or "").strip()
    if text.lower() not in UNKNOWN:
        # Free-text licence fields can be whole licence texts; keep the first line as the name.
        return [{"license": {"name": text.splitlines()[0][:200], "acknowledgement": "declared"}}]
    found = []
    for classifier in pin.license_classifiers:
        spdx = CLASSIFIER_IDS.get(classifier)
        entry = {"id": spdx} if spdx else {"name": classifier.split(" :: ")[-1]}
        entry["acknowledgement"] = "declared"
        if {"license": entry} not in found:
            found.append({"license": entry})
    return found


def _graph(pins_by_profile: t.Mapping[str, t.Sequence[Pin]], dependencies: dict) -> None:
    """Add to ``dependencies`` ({bom-ref: set of bom-refs}) every resolved requirement: a package on each package its
    requirements pulled into the same profile, the bundle on each package the inventory asked for."""
    dependencies.setdefault(BUNDLE_REF, set())
    for _profile, pins in sorted(pins_by_profile.items()):
        by_name = {pin.name: purl(pin) for pin in pins}
        for pin in pins:
            refs = dependencies.setdefault(purl(pin), set())
            refs.update(by_name[name] for name in pin.dependencies if name in by_name)
            if WANTED in pin.required_by or not pin.required_by:
                dependencies[BUNDLE_REF].add(purl(pin))


def render_sbom(pins_by_profile: t.Mapping[str, t.Sequence[Pin]], serial: int, created: str,
                images: t.Mapping[str, t.Mapping] | None = None) -> dict:
    """``images``: {profile: the manifest's record of its image} for the profiles of the image strategy."""
    components: dict[str, dict] = {}
    dependencies: dict[str, set] = {}
    for profile, image in sorted((images or {}).items()):
        component = image_component(profile, image)
        if component["bom-ref"] in components:  # the same image for two profiles (same base, same lock)
            components[component["bom-ref"]]["properties"].append(component["properties"][0])
        else:
            components[component["bom-ref"]] = component
        dependencies.setdefault(component["bom-ref"], set()).update(purl(pin) for pin in pins_by_profile[profile])
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
            if not entry.get("licenses", True):  # (an empty list is not valid CycloneDX 1.6: none is said)
                del entry["licenses"]
            if pin.summary and "description" not in entry:
                entry["description"] = pin.summary
            entry["properties"].append({"name": "airgap.pymigrate:profile", "value": profile})
            for key, value in sorted((pin.built_from or {}).items()):  # a wheel built from an sdist: from what, where
                prop = {"name": "airgap.pymigrate:built-from:%s" % key, "value": str(value)}
                if value is not None and prop not in entry["properties"]:
                    entry["properties"].append(prop)
    _graph(pins_by_profile, dependencies)
    # A serial number derived from the bundle serial and content keeps rebuilds of the same bundle equal.
    seed = "%d:%s" % (serial, ",".join(sorted(components)))
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": "urn:uuid:%s" % uuid.uuid5(uuid.NAMESPACE_URL, "airgap.pymigrate:" + seed),
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {"components": [{"type": "application", "name": "airgap.pymigrate",
                                      "version": COLLECTION_VERSION}]},
            "component": {"type": "application", "bom-ref": BUNDLE_REF, "name": "pymigrate-bundle-%d" % serial,
                          "version": str(serial)},
        },
        "components": [components[key] for key in sorted(components)],
        "dependencies": [{"ref": ref, "dependsOn": sorted(refs)} for ref, refs in sorted(dependencies.items())],
    }
    return document


def bom_link(sbom: t.Mapping, ref: str) -> str:
    """The BOM-Link of one component of the SBOM: ``urn:cdx:<serial number>/<version>#<bom-ref, percent-encoded>``."""
    return "urn:cdx:%s/%d#%s" % (sbom["serialNumber"][len("urn:uuid:"):], sbom["version"], quote(ref, safe=""))


def render_vex(sbom: t.Mapping, vulnerabilities: t.Sequence[t.Mapping]) -> dict:
    """The VEX of the SBOM: its ``vulnerabilities`` (as ``_vulns.sbom_vulnerabilities`` gives them, affecting the
    SBOM's bom-refs) with each affected component named by its BOM-Link into the SBOM. None found is a statement too
    (an empty list): the check ran."""
    found = []
    for item in vulnerabilities:
        entry = dict(item, affects=[{"ref": bom_link(sbom, affected["ref"])} for affected in item["affects"]])
        found.append(entry)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": "urn:uuid:%s" % uuid.uuid5(uuid.NAMESPACE_URL, "airgap.pymigrate:vex:" + sbom["serialNumber"]),
        "version": 1,
        "metadata": {"timestamp": sbom["metadata"]["timestamp"], "tools": sbom["metadata"]["tools"],
                     "component": dict(sbom["metadata"]["component"])},
        "vulnerabilities": found,
    }


def link_vex(sbom: dict) -> None:
    """Name the VEX, beside the SBOM, among the SBOM's external references."""
    sbom["externalReferences"] = [{"type": "exploitability-statement", "url": VEX_FILE,
                                   "comment": "the known vulnerabilities of these components (CycloneDX VEX)"}]


# -- reading it back ----------------------------------------------------------------------------------------------
def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _ref(ref: t.Any) -> t.Any:
    """A bom-ref, also from a BOM-Link into the SBOM (``urn:cdx:<serial>/<version>#<bom-ref, percent-encoded>``)."""
    return unquote(ref.split("#", 1)[1]) if isinstance(ref, str) and ref.startswith("urn:cdx:") else ref


def read_facts(bundle_dir: str) -> dict:
    """What a bundle's SBOM says of its packages, for the migration record: ``descriptions`` {(normalized project,
    version): the metadata's summary} and ``vulnerabilities`` [{id, description, recommendation, affects: [(project,
    version)]}] (those the bundle ignores left out), from the SBOM and from a VEX beside it (``vex.cdx.json``, whose
    affects are BOM-Links into the SBOM). Empty when the bundle has no readable SBOM."""
    directory = os.path.expanduser(bundle_dir)
    document = _read_json(os.path.join(directory, SBOM_FILE))
    if not document:
        return {"descriptions": {}, "vulnerabilities": []}
    document = dict(document, vulnerabilities=list(document.get("vulnerabilities") or [])
                    + list(_read_json(os.path.join(directory, VEX_FILE)).get("vulnerabilities") or []))
    refs, descriptions = {}, {}
    for component in document.get("components") or []:
        if component.get("type") == "library" and component.get("name") and component.get("version"):
            key = (_normalized(str(component["name"])), str(component["version"]))
            refs[component.get("bom-ref")] = key
            if component.get("description"):
                descriptions[key] = str(component["description"])
    vulnerabilities = []
    for item in document.get("vulnerabilities") or []:
        if (item.get("analysis") or {}).get("state") == "not_affected":
            continue  # ignored, with a reason and an expiry, when the bundle was built
        found = [_ref(ref.get("ref")) for ref in item.get("affects") or [] if isinstance(ref, dict)]
        affects = sorted({refs[ref] for ref in found if ref in refs})
        vulnerabilities.append({"id": item.get("id"), "description": item.get("description"),
                                "recommendation": item.get("recommendation"), "affects": affects})
    return {"descriptions": descriptions, "vulnerabilities": vulnerabilities}
