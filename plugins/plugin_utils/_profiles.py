# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 2, profiles: host environments with the same target facts and wanted set share one resolution."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing as t

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import Profile, PyMigrateError, Target, WantedSet
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._targets import interpreter_label


@dataclasses.dataclass(frozen=True)
class HostInput:
    """One host as the bundle sees it: its environments (EnvSpec), its target (its default interpreter's), the
    target of each environment built on an interpreter of its own (``env_targets``, {env name: Target}) and the
    environments the inventory marks absent (``absent``, {env name: path})."""

    host: str
    envs: dict
    target: t.Any
    env_targets: t.Mapping = dataclasses.field(default_factory=dict)
    absent: t.Mapping = dataclasses.field(default_factory=dict)


def profile_name(target: Target, wanted: WantedSet, carrier: t.Mapping | None = None) -> str:
    """Readable and stable: best tag's interpreter (its ABI when free-threaded: ``cp313t``) and platform, plus a
    digest of everything that matters."""
    key = [target.key(), wanted.key()] + ([sorted(carrier.items())] if carrier else [])
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    platform = (target.tags[0].split("-") + ["", "", ""])[2]
    return "%s%s-%s-%s" % ("image-" if carrier else "", interpreter_label(target), platform, digest)


def build_profiles(entries: t.Iterable[tuple]) -> list:
    """[(host, env name, Target, WantedSet[, carrier]), ...] -> [Profile], one per distinct (target, wanted set,
    carrier): an image is built once for every host environment that wants the same one."""
    profiles = {}
    for host, env_name, target, wanted, *rest in entries:
        carrier = rest[0] if rest else None
        key = (target.key(), wanted.key(), json.dumps(carrier, sort_keys=True))
        if key not in profiles:
            profiles[key] = Profile(name=profile_name(target, wanted, carrier), target=target, wanted=wanted,
                                    carrier=carrier)
        profiles[key].members.append("%s:%s" % (host, env_name))
    result = sorted(profiles.values(), key=lambda profile: profile.name)
    for profile in result:
        profile.members.sort()
    return result


def _refuse_shared_image_names(item: HostInput) -> None:
    """Two environments of one host carried by images of one name would overwrite each other's tags."""
    seen: dict = {}
    for env_name, env in sorted(item.envs.items()):
        name = (env.carrier or {}).get("image_name")
        if name and name in seen:
            raise PyMigrateError("environments %s and %s would both be the image %s: each would overwrite the "
                                 "other's tags" % (seen[name], env_name, name), host=item.host,
                                 var="pymigrate_image_name", value=name,
                                 hint="Give each environment an image_name of its own")
        if name:
            seen[name] = env_name


def plan_profiles(hosts: t.Sequence[HostInput], image_target=None) -> tuple:
    """(profiles, {"host:env": (host, EnvSpec)}): host environments grouped by (target, wanted set, carrier).

    An environment of the image strategy is resolved for its base image's interpreter (``image_target(base image,
    python)`` gives (image ID, Target)), not for the host's."""
    entries: list = []
    envs_by_member = {}
    for item in hosts:
        _refuse_shared_image_names(item)
        for env_name, env in sorted(item.envs.items()):
            if env.carrier:
                base_id, target = image_target(env.carrier["base_image"], env.python)
                carrier = dict(env.carrier, base_id=base_id, path=env.path, python=env.python)
                entries.append((item.host, env_name, target, env.wanted, carrier))
            else:
                entries.append((item.host, env_name, item.env_targets.get(env_name, item.target), env.wanted))
            envs_by_member["%s:%s" % (item.host, env_name)] = (item.host, env)
    if not entries and not any(item.absent for item in hosts):
        raise PyMigrateError("no host to bundle for: no host has target facts, a survey entry or pymigrate_target",
                             hint="Run the survey play first, pass a survey file, or declare pymigrate_target")
    return build_profiles(entries), envs_by_member
