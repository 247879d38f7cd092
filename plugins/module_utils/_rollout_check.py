# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs on target hosts (standard library only, Python 3.8+).

What a host holds of its slice of the bundle, in one call: which store files are present with the right bytes,
and whether each environment's current generation was built from its lock and still matches it. The survey
(target_facts) and the push (wheel_store, state=prepared) both ask it, so a run with nothing to do costs one module
call per host: push, verify and install then have nothing to send or build and do not contact the host again.
"""

import os
import sys
import tempfile

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import (
    STORE_ARGUMENT_SPEC,
    StoreError,
    check_owned,
    compare,
)
from ansible_collections.airgap.pymigrate.plugins.module_utils._venv import (
    Environment,
    InstallOptions,
    VenvError,
    check_environment,
    ensure,
    rollback,
)

# An environment's lock as modules take it (venv_install's packages, wheel_store's and target_facts' environments).
PACKAGES_ARGUMENT_SPEC = dict(name=dict(type="str", required=True), version=dict(type="str", required=True),
                              filename=dict(type="str", required=True), sha256=dict(type="str", required=True),
                              size=dict(type="int"))
ENVIRONMENT_ARGUMENT_SPEC = dict(path=dict(type="path", required=True), python=dict(type="path"),
                                 lock_id=dict(type="str"),
                                 packages=dict(type="list", elements="dict", options=PACKAGES_ARGUMENT_SPEC))
# venv_install's options, for the module and for its action plugin (which validates them on the control node).
INSTALL_ARGUMENT_SPEC = dict(
    bundle_dir=dict(type="path"),  # read by the action plugin only (it reads the slice), as is name
    name=dict(type="str"),
    path=dict(type="path"),
    python=dict(type="path"),
    store_dir=dict(type="path", default="/var/lib/pymigrate/store"),
    packages=dict(type="list", elements="dict", options=PACKAGES_ARGUMENT_SPEC),
    installer=dict(type="dict", options=dict(filename=dict(type="str", required=True),
                                             sha256=dict(type="str", required=True),
                                             kind=dict(type="str", choices=["pip", "uv"], default="pip"))),
    lock_id=dict(type="str"),
    keep_generations=dict(type="int", default=3),
    smoke_imports=dict(type="list", elements="str", default=[]),
    lock_timeout=dict(type="int", default=300),
    verify_installed=dict(type="str", choices=["size", "full"], default="size"),
    drift_action=dict(type="str", choices=["repair", "report", "fail"], default="repair"),
    image=dict(type="dict"),  # read by the action plugin only, as are serial and engine
    serial=dict(type="int"),
    engine=dict(type="str", choices=["auto", "podman", "docker"], default="auto"),
    # image_install's registry (module_utils/_image.py REGISTRY_ARGUMENT_SPEC, not shipped with this module)
    registry=dict(type="dict", options=dict(url=dict(type="str", required=True),
                                            tls_verify=dict(type="bool", default=True),
                                            namespace=dict(type="str", default="pymigrate"))),
    state=dict(type="str", choices=["present", "rollback"], default="present"),
)
# The environments of a host's slice and how they are checked (doc fragment ENVIRONMENTS): wheel_store's and
# target_facts' options; wheel_push takes verify_installed and sets the environments itself.
ENVIRONMENTS_ARGUMENT_SPEC = dict(
    environments=dict(type="list", elements="dict", default=[], options=ENVIRONMENT_ARGUMENT_SPEC),
    verify_installed=dict(type="str", choices=["size", "full"], default="size"))


def environment_state(env, store_dir, verify="size"):
    """The installed state of one environment against its lock (read-only): ``current`` is true when the current
    generation holds the lock and no drift was found; ``error`` says why the environment could not be read."""
    state = {"path": env["path"], "lock_id": env.get("lock_id"), "current": False}
    try:
        found = ensure(env["path"], env.get("python"), store_dir, env["packages"], None, lock_id=env.get("lock_id"),
                       check_mode=True, options=InstallOptions(verify=verify, drift_action="report"))
    except VenvError as exc:
        state["error"] = str(exc)
        return state
    # Only what decides whether the install has work: the controller keeps this for every host of the run.
    state.update(generation=found["generation"], drift=found["drift"],
                 current=not found["changed"] and not found["drift"])
    return state


def absent_found(paths):
    """The paths among ``paths`` (environments the inventory marks absent) of which anything is still on the host: the
    symlink, the generations or the lock file."""
    found = []
    for path in paths:
        env = Environment(path)
        if any(os.path.lexists(item) for item in (env.path, env.generations_dir, env.lock_path)):
            found.append(path)
    return found


def check(store_dir, files, environments, verify="size", repair=True, absent=()):
    """What the store holds of ``files`` (``_store.compare``) plus the state of each of ``environments`` (dicts with
    path, python, lock_id, packages) and which of the ``absent`` environments' paths are still there. A store that
    does not exist yet holds nothing; one that root does not own alone is an error."""
    if os.path.isdir(store_dir):
        check_owned(store_dir)
        store = compare(store_dir, files, repair=repair)
    else:
        store = {"present": [], "missing": [item["path"] for item in files], "corrupt": [], "removed_partials": []}
    return {"store": store, "environments": [environment_state(env, store_dir, verify) for env in environments],
            "absent_found": absent_found(absent)}


def prepare_push(params, check_mode):
    """wheel_store's answer with state=prepared (``params``: its options, validated): the store made when missing,
    what it holds of ``files`` (corrupt and partial files removed, except in check mode), each locked environment's
    state, the interpreter answering (the push's receiver runs with it) and, with ``stream_parent`` and something to
    send, a new private directory there for the stream. Each environment's path and interpreter are checked first,
    before anything moves. Run by the module and, with a pipelining connection, by _host_runner (the push's
    program). A failure is a result with ``failed``."""
    store_dir = params["store_dir"]
    try:
        check_owned(store_dir)  # what root installs from must be root's alone
        for env in params["environments"]:  # refused before anything moves: see check_environment
            check_environment(env["path"], env["python"])
        if not check_mode and not os.path.isdir(store_dir):
            os.makedirs(store_dir, mode=0o755, exist_ok=True)
            os.chmod(store_dir, 0o755)
        result = compare(store_dir, params["files"], repair=not check_mode)
        locked = [env for env in params["environments"] if env["packages"] is not None]
        result["environments"] = [environment_state(env, store_dir, params["verify_installed"]) for env in locked]
        result["interpreter"] = sys.executable
        if params["stream_parent"] and (result["missing"] or result["corrupt"]) and not check_mode:
            os.makedirs(params["stream_parent"], mode=0o700, exist_ok=True)
            result["stream_dir"] = tempfile.mkdtemp(prefix="ansible-tmp-pymigrate-push-", dir=params["stream_parent"])
    except VenvError as exc:
        return dict(failed=True, msg=str(exc))
    except (StoreError, OSError) as exc:
        return dict(failed=True, msg="store %s: %s" % (store_dir, exc))
    # Files with wrong bytes and partial files of an interrupted push were removed (in check mode: would be).
    result["changed"] = bool(result["corrupt"] or result["removed_partials"])
    return result


# wheel_store's options (the module's, and what the push validates before it runs prepare_push on the host).
STORE_MODULE_ARGUMENT_SPEC = dict(
    STORE_ARGUMENT_SPEC,
    state=dict(type="str", choices=["prepared", "verified", "received"], default="prepared"),
    src=dict(type="path"),
    stream_parent=dict(type="path"),
    **ENVIRONMENTS_ARGUMENT_SPEC,
)


def install(params, check_mode):
    """venv_install's result for its options ``params`` (validated): a new generation built from the lock unless the
    current one holds it (``_venv.ensure``), or with state=rollback the previous generation made current again; with
    ``before``, the packages before (the module's diff). Run by the module and, with a pipelining connection, by
    _host_runner (the install's program). A failure is a result with ``failed``."""
    try:
        if params["state"] == "rollback":
            return rollback(params["path"], check_mode=check_mode, lock_timeout=params["lock_timeout"],
                            verify=params["verify_installed"])
        options = InstallOptions(keep_generations=params["keep_generations"], smoke_imports=params["smoke_imports"],
                                 lock_timeout=params["lock_timeout"], verify=params["verify_installed"],
                                 drift_action=params["drift_action"], serial=params["serial"])
        result = ensure(params["path"], params["python"], params["store_dir"], params["packages"],
                        params["installer"], lock_id=params["lock_id"], check_mode=check_mode, options=options)
        generation = result["generation"]
        if params["path"]:  # which lock and serial the host really holds now
            result["holds"] = Environment(params["path"]).describe(generation) if generation else None
    except VenvError as exc:
        return dict(failed=True, msg="environment %s: %s" % (params["path"], exc))
    return result
