# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 5 for the image strategy: load the profile's image from the host's store, check it, switch its tag.

Runs on target hosts: standard library only, Python 3.8+.

The image's blobs arrive in the content-addressed store like wheels (each verified by sha256). They are laid
out as an OCI image layout (hard links, nothing copied) and loaded with the host's engine, then the image is
smoke-run with no network and only then tagged ``<name>:<serial>`` and ``<name>:current``; earlier serials'
tags stay for rollback. A history file records which image each serial was, for rollback.

With a registry inside the enclave (``pymigrate_registry``), the control node pushes each image there once
(``publish``: the registry is asked first, by the image's ID) and the hosts pull it instead of receiving its blobs;
a pulled image counts only when its ID (the sha256 of its config, which names every layer's digest) is the
bundle's.
"""

import dataclasses
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import tarfile
import tempfile
import typing

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import (
    FILE_ARGUMENT_SPEC,
    file_sha256,
    write_atomic,
)

HISTORY_DIR = "/var/lib/pymigrate/images"
OCI_LAYOUT = '{"imageLayoutVersion": "1.0.0"}'
# A smoke import is a dotted module name (as the venv strategy requires): never code run in the image.
MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
SMOKE_RUNNER = "import importlib, sys; [importlib.import_module(name) for name in sys.argv[1:]]"


class ImageError(Exception):
    """Meant for the user: what failed, where, and what to do."""


def find_engine(choice="auto"):
    """The path of the container engine: podman or docker (``auto``: podman first)."""
    names = ["podman", "docker"] if choice == "auto" else [choice]
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise ImageError("no container engine (%s) on this host; install one, or set pymigrate_container_engine to the "
                     "engine the host has" % " or ".join(names))


def _run(argv, what, stdin=None):
    try:
        result = subprocess.run(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    except OSError as exc:
        raise ImageError("%s: cannot run %s: %s" % (what, argv[0], exc))
    if result.returncode != 0:
        raise ImageError("%s failed (exit %d): %s" % (what, result.returncode,
                                                      result.stderr.decode("utf-8", "replace").strip()[-1500:]))
    return result.stdout.decode("utf-8", "replace")


def image_id(engine, reference):
    """The ID (sha256 hex) of ``reference`` in the host's image store, or None."""
    result = subprocess.run([engine, "image", "inspect", "--format", "{{.Id}}", reference], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        return None
    return result.stdout.decode().strip().replace("sha256:", "") or None


def _history_path(name):
    return os.path.join(HISTORY_DIR, re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".json")


def read_history(name):
    try:
        with open(_history_path(name)) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return []


def _write_history(name, history):
    os.makedirs(HISTORY_DIR, mode=0o755, exist_ok=True)
    write_atomic(_history_path(name), json.dumps(history, indent=1).encode("utf-8"))


def _verify_blobs(store_dir, blobs):
    for blob in blobs:
        path = os.path.join(store_dir, blob["path"])
        if not os.path.isfile(path):
            raise ImageError("image blob %s is missing from the store %s; run the push again"
                             % (blob["sha256"], store_dir))
        actual = file_sha256(path)
        if actual != blob["sha256"]:
            raise ImageError("image blob %s in the store %s has sha256 %s: it was altered; run the push again to "
                             "replace it" % (blob["sha256"], store_dir, actual))


MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json, "
                  "application/vnd.docker.distribution.manifest.v2+json")
DEFAULT_NAMESPACE = "pymigrate"
# The image of an environment as the bundle's slice gives it (image_install and image_publish take the same).
IMAGE_ARGUMENT_SPEC = dict(name=dict(type="str", required=True), image_id=dict(type="str", required=True),
                           index=dict(type="dict", required=True),
                           blobs=dict(type="list", elements="dict", required=True, options=FILE_ARGUMENT_SPEC))
REGISTRY_ARGUMENT_SPEC = dict(url=dict(type="str", required=True), tls_verify=dict(type="bool", default=True),
                              namespace=dict(type="str", default=DEFAULT_NAMESPACE))


def registry_reference(registry, image):
    """``<url>/<namespace>/<last part of the image name>:<image ID>``: one tag per image content, so a push is
    needed once and a host can pull it knowing only the bundle."""
    namespace = registry.get("namespace")
    namespace = (DEFAULT_NAMESPACE if namespace is None else namespace).strip("/")  # "": directly under the url
    repository = "%s/%s" % (namespace, image["name"].rsplit("/", 1)[-1]) if namespace else \
        image["name"].rsplit("/", 1)[-1]
    return "%s/%s:%s" % (registry["url"].rstrip("/"), repository, image["image_id"])


def _tls_flag(engine, registry):
    """podman's --tls-verify (docker has none: an insecure registry is the daemon's insecure-registries)."""
    if os.path.basename(engine) == "docker":
        return []
    return ["--tls-verify=%s" % ("true" if registry.get("tls_verify", True) else "false")]


def registry_has(registry, image, timeout=30):
    """Whether the registry holds the image under its tag (its manifest names the image's config), asked over the
    registry API: https (unverified only with tls_verify false, which also allows plain http)."""
    reference = registry_reference(registry, image)
    host, rest = reference.split("/", 1)
    repository, tag = rest.rsplit(":", 1)
    verify = registry.get("tls_verify", True)
    schemes = ["https"] if verify else ["https", "http"]
    last_error = None
    for scheme in schemes:
        if scheme == "https":
            context = ssl.create_default_context()
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            connection = http.client.HTTPSConnection(host, timeout=timeout, context=context)
        else:
            connection = http.client.HTTPConnection(host, timeout=timeout)
        try:
            connection.request("GET", "/v2/%s/manifests/%s" % (repository, tag), headers={"Accept": MANIFEST_TYPES})
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            last_error = exc
            continue
        finally:
            connection.close()
        if response.status == 404:
            return False
        if response.status != 200:
            raise ImageError("the registry %s answered %d %s for %s" % (host, response.status, response.reason,
                                                                        reference))
        try:
            manifest = json.loads(body.decode("utf-8"))
        except ValueError:
            raise ImageError("the registry %s gave no JSON manifest for %s" % (host, reference))
        config = (manifest.get("config") or {}).get("digest") if isinstance(manifest, dict) else None
        return config == "sha256:" + image["image_id"]
    raise ImageError("cannot reach the registry %s (%s); check pymigrate_registry.url and tls_verify"
                     % (host, last_error))


def publish(store_dir, image, registry, engine_choice="auto", check_mode=False):
    """Push the image to the registry unless it holds it already: from the store (the blobs verified, loaded into
    the engine's store here, pushed, and removed again when it was not there before). Returns a result dict."""
    reference = registry_reference(registry, image)
    result = {"changed": False, "reference": reference, "image_id": image["image_id"], "pushed": False}
    if registry_has(registry, image):
        return result
    result["changed"] = True
    if check_mode:
        return result
    engine = find_engine(engine_choice)
    had = image_id(engine, image["image_id"]) is not None
    if not had:
        _verify_blobs(store_dir, image["blobs"])
        _load(engine, store_dir, image)
    try:
        if os.path.basename(engine) == "docker":
            _push_docker(engine, image, reference)
        else:
            _run([engine, "push", "-q"] + _tls_flag(engine, registry) + [image["image_id"], reference],
                 "pushing the image %s to %s" % (image["name"], reference))
    finally:
        if not had:
            subprocess.run([engine, "rmi", "-f", image["image_id"]], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
    if not registry_has(registry, image):
        raise ImageError("the registry does not hold %s after the push" % reference)
    result["pushed"] = True
    return result


def _push_docker(engine, image, reference):
    _run([engine, "tag", image["image_id"], reference], "tagging %s" % reference)
    try:
        _run([engine, "push", "-q", reference], "pushing the image %s to %s" % (image["name"], reference))
    finally:
        subprocess.run([engine, "rmi", reference], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def _pull(engine, registry, image):
    """Pull the image from the registry; only our tags name it afterwards."""
    reference = registry_reference(registry, image)
    _run([engine, "pull", "-q"] + _tls_flag(engine, registry) + [reference],
         "pulling the image %s from %s" % (image["name"], reference))
    subprocess.run([engine, "rmi", reference] if os.path.basename(engine) == "docker" else
                   [engine, "untag", image["image_id"], reference], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)


def _load(engine, store_dir, image):
    """Lay the verified blobs out as an OCI image layout (symbolic links into the store, nothing copied) and load it.

    The layout's path becomes part of the name podman gives what it loads, so it must be a valid image reference:
    a directory of our own naming under /var/tmp, not the store's path (which the site chooses)."""
    layout = os.path.join("/var/tmp" if os.path.isdir("/var/tmp") else "/tmp", "pymigrate-oci-%d" % os.getpid())
    shutil.rmtree(layout, ignore_errors=True)
    os.makedirs(layout, mode=0o700)
    try:
        os.makedirs(os.path.join(layout, "blobs", "sha256"))
        for blob in image["blobs"]:
            os.symlink(os.path.join(os.path.abspath(store_dir), blob["path"]),
                       os.path.join(layout, "blobs", "sha256", blob["sha256"]))
        with open(os.path.join(layout, "oci-layout"), "w") as handle:
            handle.write(OCI_LAYOUT)
        with open(os.path.join(layout, "index.json"), "w") as handle:
            json.dump(image["index"], handle)
        if os.path.basename(engine) == "docker":
            # docker loads an OCI layout as a tar stream (Docker 25 and later).
            stream = tempfile.TemporaryFile()
            with tarfile.open(fileobj=stream, mode="w", dereference=True) as tar:
                for entry in sorted(os.listdir(layout)):
                    tar.add(os.path.join(layout, entry), arcname=entry)
            stream.seek(0)
            _run([engine, "load"], "loading the image %s with docker" % image["name"], stdin=stream)
        else:
            _run([engine, "pull", "-q", "oci:" + layout], "loading the image %s with podman" % image["name"])
            # podman names what it pulled after the layout's path: only our tags name it.
            for tag in json.loads(_run([engine, "image", "inspect", "--format", "{{json .RepoTags}}",
                                        image["image_id"]], "reading the loaded image's tags") or "[]") or []:
                if layout.strip("/") in tag:
                    _run([engine, "untag", image["image_id"], tag], "removing the load's temporary name")
    finally:
        shutil.rmtree(layout, ignore_errors=True)


def smoke_run(engine, reference, python, modules):
    """Import ``modules`` with the image's environment, in a container with no network; each a dotted module name,
    passed as an argument to a fixed runner (never made into code)."""
    bad = [module for module in modules if not isinstance(module, str) or not MODULE_NAME.match(module)]
    if bad:
        raise ImageError("smoke import %r is not a dotted module name such as yaml or email.mime" % (bad[0],))
    _run([engine, "run", "--rm", "--network", "none", reference, python, "-c", SMOKE_RUNNER] + list(modules),
         "smoke run of %s (imports: %s)" % (reference, ", ".join(modules) or "none"))


@dataclasses.dataclass(frozen=True)
class SmokeTest:
    """What the smoke run of a new image imports, and with which interpreter inside it."""

    python: typing.Optional[str] = None
    imports: typing.Sequence[str] = ()


def ensure(store_dir, name, serial, image, engine_choice="auto", smoke=SmokeTest(), check_mode=False,
           registry=None):
    """Make ``<name>:current`` the image ``image`` (loaded from the store when the host lacks it, or pulled from
    ``registry`` when given), once its smoke run (``smoke``, a SmokeTest) passed. Returns a result dict: changed,
    image_id, previous_image_id, tags, loaded, pulled."""
    engine = find_engine(engine_choice)
    wanted = image["image_id"]
    current = image_id(engine, name + ":current")
    serial_tag = "%s:%s" % (name, serial)
    result = {"changed": False, "image_id": wanted, "previous_image_id": current, "engine": engine,
              "tags": [serial_tag, name + ":current"], "loaded": False, "pulled": False}
    if current == wanted and image_id(engine, serial_tag) == wanted:
        return result
    _refuse_foreign_tag(engine, name, current, serial_tag)
    result["changed"] = True
    if check_mode:
        return result
    if image_id(engine, wanted) is None and registry:
        _pull(engine, registry, image)
        result["pulled"] = True
        if image_id(engine, wanted) != wanted:
            raise ImageError("the image pulled from %s is not %s: the registry holds another image under its tag"
                             % (registry_reference(registry, image), wanted))
    elif image_id(engine, wanted) is None:
        _verify_blobs(store_dir, image["blobs"])
        _load(engine, store_dir, image)
        result["loaded"] = True
        if image_id(engine, wanted) != wanted:
            raise ImageError("the image loaded from the store is not %s; run the push again" % wanted)
    smoke_run(engine, wanted, smoke.python, smoke.imports)
    _run([engine, "tag", wanted, serial_tag], "tagging %s" % serial_tag)
    _run([engine, "tag", wanted, name + ":current"], "tagging %s:current" % name)
    history = [entry for entry in read_history(name) if entry.get("serial") != serial]
    history.append({"serial": serial, "image_id": wanted})
    _write_history(name, history)
    return result


def _refuse_foreign_tag(engine, name, current, serial_tag):
    """``<name>:current`` (and the serial's tag) belong to this collection only when its history says it tagged that
    image: a site's own image under the same name is never taken over."""
    ours = {entry.get("image_id") for entry in read_history(name)}
    for tag, found in ((name + ":current", current), (serial_tag, image_id(engine, serial_tag))):
        if found is not None and found not in ours:
            raise ImageError("the host already has an image tagged %s (%s) that this collection did not install; "
                             "it is left as it is: choose another image_name for this environment, or remove that "
                             "tag on the host" % (tag, found[:19]))


def rollback(name, engine_choice="auto", check_mode=False):
    """Point ``<name>:current`` at the image of the serial before the current one (its tag was kept)."""
    engine = find_engine(engine_choice)
    current = image_id(engine, name + ":current")
    if current is None:
        raise ImageError("%s:current is not on this host; there is nothing to roll back" % name)
    earlier = [entry for entry in read_history(name) if entry["image_id"] != current and not entry.get("left")
               and image_id(engine, "%s:%s" % (name, entry["serial"])) == entry["image_id"]]
    if not earlier:
        return {"changed": False, "image_id": current, "previous_image_id": None,
                "msg": "no earlier image of %s; left as it is" % name}
    target = earlier[-1]
    if not check_mode:
        _run([engine, "tag", target["image_id"], name + ":current"], "switching %s:current back" % name)
        # The image left stays known as this collection's (its serial's tag is still on the host, and a run forward
        # again re-tags it), but a later rollback never goes back to it.
        history = [dict(entry, left=True) if entry["image_id"] == current else entry for entry in read_history(name)]
        _write_history(name, history)
    return {"changed": True, "image_id": target["image_id"], "previous_image_id": current,
            "serial": target["serial"]}
