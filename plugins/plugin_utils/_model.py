# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Plain data shared by the control-node phases (wanted set -> profile -> resolution -> locks).

Standard library only, so that both controller code and tests can import it anywhere.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.util
import typing as t

CONTROLLER_LIBRARIES = ("packaging", "requests", "resolvelib")
# The collection's version as galaxy.yml gives it (a unit test keeps the two equal); written into locks,
# manifests and SBOMs.
COLLECTION_VERSION = "0.1.0"


class PyMigrateError(Exception):
    """An error meant for the user: says what went wrong, where, and what to do.

    ``host``, ``var`` and ``value`` name the inventory source when one exists; modules turn this into
    ``fail_json(msg=str(err), **err.details())``.
    """

    def __init__(self, message: str, host: str | None = None, var: str | None = None,
                 value: t.Any = None, hint: str | None = None):
        self.message = message
        self.host = host
        self.var = var
        self.value = value
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        where = []
        if self.host:
            where.append("host %s" % self.host)
        if self.var:
            where.append("variable %s" % self.var)
        if self.value is not None:
            where.append("value %r" % (self.value,))
        text = self.message
        if where:
            text = "%s (%s)" % (text, ", ".join(where))
        if self.hint:
            text = "%s. %s" % (text.rstrip("."), self.hint)
        return text

    def details(self) -> dict:
        return {k: v for k, v in (("host", self.host), ("var", self.var), ("value", self.value)) if v is not None}


@dataclasses.dataclass(frozen=True)
class Target:
    """What decides which wheels fit a Python environment on a host.

    ``markers`` is the full PEP 508 marker environment; ``tags`` the supported wheel tags, most preferred
    first, as ``interpreter-abi-platform`` strings (packaging.tags order).
    """

    markers: t.Mapping[str, str]
    tags: t.Sequence[str]
    source: str = "facts"  # facts | survey | declared

    def key(self) -> tuple:
        return (tuple(sorted(self.markers.items())), tuple(self.tags))


@dataclasses.dataclass(frozen=True)
class WantedSet:
    """The requirements of one environment after layering all -> group -> host.

    ``requirements`` maps a normalized project name to a PEP 508 requirement string (extras allowed);
    ``constraints`` maps a normalized name to a specifier that applies only if the project is pulled in.
    """

    requirements: t.Mapping[str, str]
    constraints: t.Mapping[str, str] = dataclasses.field(default_factory=dict)
    allow_prereleases: bool = False
    # {normalized name: (sha256, ...)} from --hash options of a requirements file: only those files may be chosen
    hashes: t.Mapping[str, tuple] = dataclasses.field(default_factory=dict)

    def key(self) -> tuple:
        key = (tuple(sorted(self.requirements.items())), tuple(sorted(self.constraints.items())),
               self.allow_prereleases)
        # Without hashes the key (and so every profile name) stays what it was.
        return key + (tuple(sorted(self.hashes.items())),) if self.hashes else key


@dataclasses.dataclass
class Profile:
    """One resolution: a distinct (target, wanted set) pair, and the host environments that share it."""

    name: str
    target: Target
    wanted: WantedSet
    members: list = dataclasses.field(default_factory=list)  # ["host:envname", ...]
    # None: installed on each host as a venv; else how it is carried: {"strategy": "image", "base_image": ...,
    # "base_id": image ID, "image_name": ..., "path": venv path in the image, "python": base interpreter}.
    carrier: t.Mapping | None = None


@dataclasses.dataclass(frozen=True)
class DistFile:
    """One file offered by an index for a project version."""

    project: str          # normalized name
    version: str
    filename: str
    url: str
    sha256: str | None
    size: int | None = None
    requires_python: str | None = None
    yanked: str | None = None           # None = not yanked; otherwise the reason ('' when none given)
    upload_time: str | None = None      # ISO 8601 (PEP 700)
    metadata_sha256: str | None = None  # PEP 658/714 core metadata available when not None ('' = no hash)
    index_url: str = ""
    # PEP 740 provenance of the file: its URL as the index gives it (simple JSON ``provenance``, HTML
    # ``data-provenance``); "" when the index says there is none, None when the index does not say (older API).
    provenance_url: str | None = None


@dataclasses.dataclass(frozen=True)
class Pin:
    """A resolved project: exactly one version and the one file chosen for the profile."""

    name: str             # normalized
    version: str
    file: DistFile
    extras: tuple = ()
    dependencies: tuple = ()  # normalized names this pin depends on (for the profile)
    required_by: tuple = ()   # normalized names (or '<wanted>') that pulled it in
    license: str | None = None
    license_expression: str | None = None
    license_classifiers: tuple = ()  # the Trove classifiers "License :: ..." of its metadata
    summary: str | None = None
    built_from_sdist: bool = False
    # {sdist, sdist_sha256, builder, built_at} for a wheel built from an sdist (here or on a builder host)
    built_from: dict | None = dataclasses.field(default=None, compare=False, hash=False)


def check_controller_libraries() -> None:
    """Controller phases need packaging, requests and resolvelib: say which are missing and how to fix it."""
    missing = [name for name in CONTROLLER_LIBRARIES if importlib.util.find_spec(name) is None]
    if missing:
        raise PyMigrateError("the Python that runs Ansible on the control node lacks %s" % ", ".join(missing),
                             hint="Install them there (pip install %s), or use an execution environment built "
                                  "from meta/execution-environment.yml" % " ".join(missing))


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def format_time(moment: datetime.datetime) -> str:
    """ISO 8601 in UTC with a Z, as manifests, archives and PEP 700 write times."""
    return moment.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def parse_time(value: t.Any) -> datetime.datetime:
    """An ISO 8601 date or time (``Z`` allowed; no zone means UTC); raises ValueError."""
    moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)
