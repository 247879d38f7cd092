# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 3 output: per-profile lock files (PEP 751 pylock.toml and a hashed requirements file), and
diffs between locks.

Files are referenced by ``path`` relative to the lock (never an index URL), so a lock stays valid
offline, on the other side of the gap.
"""

from __future__ import annotations

import datetime
import json
import posixpath
import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import store_relpath
from ansible_collections.airgap.pymigrate.plugins.module_utils._venv import diff_packages
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._libraries import InvalidVersion, Version
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import (
    COLLECTION_VERSION,
    Pin,
    Profile,
    format_time,
    parse_time,
)


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # JSON string escaping is valid TOML basic-string escaping


def toml_value(value: t.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):  # a TOML offset date-time, as PEP 751 wants upload-time
        return value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join("%s = %s" % (_toml_key(k), toml_value(v)) for k, v in value.items()) + " }"
    raise TypeError("cannot write %r as TOML" % (value,))


def _toml_key(key: str) -> str:
    return key if key.replace("-", "").replace("_", "").isalnum() else _toml_string(key)


# What a lock is meant for: the interpreter's minor version (wheel tags and requires-python of the locked files do not
# tell patch releases apart, so neither does the lock), its implementation and the platform.
ENVIRONMENT_MARKERS = ("python_version", "implementation_name", "sys_platform", "platform_machine")


def environment_marker(profile: Profile) -> str:
    markers = profile.target.markers
    return " and ".join('%s == "%s"' % (key, markers[key]) for key in ENVIRONMENT_MARKERS if markers.get(key))


def requires_python(profile: Profile) -> str:
    """Every patch release of the profile's Python: ``==3.11.*``, never the one full version surveyed."""
    return "==%s.*" % profile.target.markers["python_version"]


def format_upload_time(moment: datetime.datetime) -> str:
    """A TOML date-time read back from a lock, as the text PEP 700 pages give."""
    return format_time(moment)


def upload_time(value: str | None) -> datetime.datetime | None:
    """PEP 700's upload time (text) as the datetime PEP 751 writes; None for a missing or malformed one."""
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def carrier(image: t.Mapping) -> dict:
    """The image that carries a profile's environment (a manifest ``profiles.<name>.image``), as the lock's
    ``[tool.airgap-pymigrate.carrier]`` table: PEP 751 leaves ``[tool]`` to tools, and pip and uv ignore it."""
    table = {"kind": "oci-image", "name": image["name"], "image-id": "sha256:" + image["image_id"],
             "manifest-digest": "sha256:" + image["manifest_digest"], "base-image": image["base_image"],
             "base-image-id": "sha256:" + image["base_id"], "layers": ["sha256:" + layer for layer in image["layers"]],
             "environment-path": image["path"], "python": image.get("python")}
    return {key: value for key, value in table.items() if value is not None}


def file_entry(pin: Pin, location: t.Mapping) -> dict:
    entry: dict[str, t.Any] = {"name": pin.file.filename}
    entry.update(location)
    uploaded = upload_time(pin.file.upload_time)
    if uploaded is not None:
        entry["upload-time"] = uploaded
    if pin.file.size is not None:  # unknown only in check mode, for a file the index gave no size of
        entry["size"] = pin.file.size
    entry["hashes"] = {"sha256": pin.file.sha256}
    return entry


def package_lines(pin: Pin, location: t.Mapping, identities: t.Sequence[t.Mapping] = ()) -> list:
    lines = ["[[packages]]", "name = %s" % _toml_string(pin.name), "version = %s" % _toml_string(pin.version)]
    if pin.dependencies:
        lines.append("dependencies = [%s]" % ", ".join(toml_value({"name": dep}) for dep in sorted(pin.dependencies)))
    entry = file_entry(pin, location)
    if pin.file.filename.endswith(".whl"):
        lines.append("wheels = [%s]" % toml_value(entry))
    else:  # an sdist a builder host inside builds (PEP 751 packages.sdist); the manifest names the builder
        lines.append("sdist = %s" % toml_value(entry))
    if identities:
        found = [{key: value for key, value in identity.items() if value is not None} for identity in identities]
        lines.append("attestation-identities = [%s]" % ", ".join(toml_value(item) for item in found))
    if pin.built_from:  # PEP 751 leaves [packages.tool] to tools: the sdist this wheel was built from, and where
        built = {k.replace("_", "-"): v for k, v in pin.built_from.items() if v is not None}
        lines.append("tool.airgap-pymigrate.built-from = %s" % toml_value(built))
    return lines + [""]


def header_lines(marker: str, python_specifier: str) -> list:
    """A lock's top: PEP 751's version, the environments it is meant for and the Pythons it accepts."""
    return ['lock-version = "1.0"',
            "environments = [%s]" % _toml_string(marker),
            "requires-python = %s" % _toml_string(python_specifier),
            'created-by = "airgap.pymigrate"',
            ""]


def render_pylock(profile: Profile, pins: t.Sequence[Pin], image: t.Mapping | None = None,
                  identities: t.Mapping[str, t.Sequence[t.Mapping]] | None = None) -> str:
    """PEP 751 lock for one profile; wheel paths are relative to the lock at the bundle root. ``image`` (the
    manifest's record of the profile's image, strategy image) is written as the environment's carrier.
    ``identities`` ({project: [identity]}, from the provenance check) become each package's
    ``attestation-identities`` (PEP 751: ``kind`` plus the publisher's keys)."""
    lines = ["# Generated by airgap.pymigrate for profile %s; members: %s" % (profile.name, ", ".join(profile.members))]
    lines += header_lines(environment_marker(profile), requires_python(profile))
    for pin in sorted(pins, key=lambda p: p.name):
        location = {"path": store_relpath(pin.file.sha256, pin.file.filename)}
        lines += package_lines(pin, location, (identities or {}).get(pin.name) or ())
    lines.append("[tool.airgap-pymigrate]")
    lines.append("profile = %s" % _toml_string(profile.name))
    lines.append("tool-version = %s" % _toml_string(COLLECTION_VERSION))
    if image:
        lines.append("")
        lines.append("[tool.airgap-pymigrate.carrier]")
        lines += ["%s = %s" % (_toml_key(key), toml_value(value)) for key, value in carrier(image).items()]
    return "\n".join(lines) + "\n"


def render_requirements(profile: Profile, pins: t.Sequence[Pin]) -> str:
    """Pinned and hashed, with a ``--find-links`` line for each file's folder of the bundle's store (pip and uv take
    such a relative path from the requirements file's own folder), so that the header's command works as written."""
    lines = ["# Profile %s (%s)" % (profile.name, ", ".join(profile.members)),
             "# pip install --no-index --require-hashes --no-deps -r this-file"]
    for pin in sorted(pins, key=lambda p: p.name):
        lines.append("--find-links %s" % posixpath.dirname(store_relpath(pin.file.sha256, pin.file.filename)))
    for pin in sorted(pins, key=lambda p: p.name):
        lines.append("%s==%s \\\n    --hash=sha256:%s" % (pin.name, pin.version, pin.file.sha256))
    return "\n".join(lines) + "\n"


def _version_key(version: str):
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def diff_pins(old: t.Mapping[str, str], new: t.Mapping[str, str]) -> dict:
    """{added, removed, upgraded, downgraded}, each a sorted list of 'name old -> new' or 'name==version'."""
    return diff_packages(old, new, _version_key)
