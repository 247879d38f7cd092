# -*- coding: utf-8 -*-
# Copyright (c) airgap.pymigrate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase 3 for the image strategy: each profile as an OCI image = a base image the site trusts + one layer holding
the environment, installed from the bundle's own wheels in a build container with no network.

The base image decides which wheels fit, so its interpreter is surveyed (target_facts' code, run in a container of
it) instead of the host's. The image is saved as an OCI layout whose blobs (uncompressed layers, config, manifest)
go into the content-addressed store like any file, by their own sha256: a host receives only the blobs it lacks
(the base layer once), and the archive carries them like wheels. Built images are remembered by a key of what
went into them (base image ID, the lock's files, the installer, the environment's path), so a re-run builds
nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import typing as t

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import file_sha256, store_relpath, write_atomic
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._targets import target_from_facts

IMAGES_DIR = "images"  # <bundle>/images/<key>.json: what each built image is made of
BLOB_FILENAME = "oci-blob"
# This collection's directory (a checkout's link resolved), bound read-only into the survey container.
COLLECTION_DIR = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SURVEY_CODE = ("import json, sys; sys.path.insert(0, '/pymigrate-collections'); "
               "from ansible_collections.airgap.pymigrate.plugins.module_utils._target_facts import collect; "
               "print(json.dumps(collect('/')))")
# Runs inside the build container (the base image's Python, no shell needed): the venv without pip, then exactly
# the lock with the bundle's pip, from the wheels bound in read-only, with hashes and no index.
INSTALL_CODE = r"""
import subprocess, sys, venv
path, pip = sys.argv[1], sys.argv[2]
venv.EnvBuilder(with_pip=False, symlinks=True).create(path)
subprocess.check_call([path + "/bin/python", "/pymigrate-build/" + pip + "/pip", "install", "--no-index",
                       "--no-deps", "--require-hashes", "--no-compile", "--no-cache-dir", "--disable-pip-version-check",
                       "--no-input", "-r", "/pymigrate-build/requirements.txt"])
subprocess.check_call([path + "/bin/python", "/pymigrate-build/" + pip + "/pip", "check",
                       "--disable-pip-version-check"])
"""


class ImageBuilder:
    """Builds the images of one bundle run with the control node's engine (podman: it builds without a daemon)."""

    def __init__(self, bundle_dir: str, work_dir: str, engine: str = "podman", progress=None):
        self.bundle_dir, self.work_dir, self.engine = bundle_dir, work_dir, engine
        self.progress = progress or (lambda line: None)
        self._bases: dict = {}

    # -- running the engine ------------------------------------------------------------------------------------
    def _run(self, argv: t.Sequence[str], what: str, **kwargs) -> str:
        try:
            result = subprocess.run([self.engine] + list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    check=False, **kwargs)
        except OSError as exc:
            raise PyMigrateError("%s: cannot run %s (%s)" % (what, self.engine, exc), var="pymigrate_strategy",
                                 hint="The image strategy builds with podman on the control node: "
                                      "apt-get install podman runc")
        if result.returncode != 0:
            raise PyMigrateError("%s failed (%s exit %d): %s" % (
                what, self.engine, result.returncode, result.stderr.decode("utf-8", "replace").strip()[-1500:]))
        return result.stdout.decode("utf-8", "replace")

    # -- the base image ------------------------------------------------------------------------------------------
    def base_id(self, base_image: str) -> str:
        """The image ID of the base image: from the control node's image store, or loaded from an archive file."""
        if base_image in self._bases:
            return self._bases[base_image]
        reference = base_image
        if os.path.isfile(base_image):
            loaded = self._run(["load", "-q", "-i", base_image], "loading the base image archive %s" % base_image)
            # "Loaded image: NAME" or "Loaded image(s): sha256:ID"
            reference = loaded.strip().splitlines()[-1].split(": ", 1)[-1].split(",")[0].strip()
        try:
            image_id = self._run(["image", "inspect", "--format", "{{.Id}}", reference],
                                 "finding the base image %s" % base_image).strip()
        except PyMigrateError as exc:
            raise PyMigrateError("the base image %s is not in the control node's image store: %s" % (
                base_image, exc.message), var="pymigrate_base_image", value=base_image,
                hint="Load or pull the image the site trusts on the control node first, or name an OCI/docker "
                     "archive file")
        self._bases[base_image] = image_id.replace("sha256:", "")
        return self._bases[base_image]

    def target(self, base_image: str, python: str):
        """(base image ID, Target) of the base image's interpreter, surveyed once per image and interpreter."""
        image_id = self.base_id(base_image)
        cache = os.path.join(self.bundle_dir, ".cache", "image-facts",
                             "%s-%s.json" % (image_id[:32], hashlib.sha256(python.encode()).hexdigest()[:12]))
        try:
            with open(cache) as handle:
                facts = json.load(handle)
        except (OSError, ValueError):
            output = self._run(["run", "--rm", "--network", "none", "-v",
                                "%s:/pymigrate-collections/ansible_collections/airgap/pymigrate:ro" % COLLECTION_DIR,
                                image_id, python, "-c", SURVEY_CODE],
                               "surveying the interpreter %s of the base image %s" % (python, base_image))
            try:
                facts = json.loads(output.strip().splitlines()[-1])
            except (ValueError, IndexError):
                raise PyMigrateError("the survey of %s in %s printed no facts: %s" % (python, base_image,
                                                                                      output[-500:]))
            os.makedirs(os.path.dirname(cache), exist_ok=True)
            write_atomic(cache, json.dumps(facts).encode())
        target = target_from_facts(facts)
        return image_id, target.__class__(markers=target.markers, tags=target.tags, source="image")

    # -- the environment's image ----------------------------------------------------------------------------------
    @staticmethod
    def key(carrier: t.Mapping, files: t.Sequence[t.Mapping], installer: t.Mapping) -> str:
        """What decides the image's content: the same key is the same image (built once)."""
        material = {"base": carrier["base_id"], "path": carrier["path"], "python": carrier["python"],
                    "files": sorted(item["sha256"] for item in files), "installer": installer["sha256"], "format": 1}
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def known(self, key: str) -> dict | None:
        """The record of an image built earlier with this key, when its blobs are all still in the store."""
        try:
            with open(os.path.join(self.bundle_dir, IMAGES_DIR, key + ".json")) as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            return None
        if all(os.path.isfile(os.path.join(self.bundle_dir, blob["path"])) for blob in record["blobs"]):
            return record
        return None

    def build(self, key: str, carrier: t.Mapping, files: t.Sequence[t.Mapping], installer: t.Mapping) -> dict:
        """Build, save as an OCI layout, and put its blobs into the store. ``files`` and ``installer``: dicts with
        path (store path in the bundle), sha256 and filename. Returns the image record."""
        context = tempfile.mkdtemp(prefix="image-", dir=self.work_dir)
        tag = "localhost/pymigrate-build:%s" % key[:16]
        try:
            wheels = os.path.join(context, "wheels")
            os.makedirs(wheels)
            lines = []
            for item in list(files) + [installer]:
                os.link(os.path.join(self.bundle_dir, item["path"]), os.path.join(wheels, item["filename"]))
                if item is not installer:
                    lines.append("/pymigrate-build/%s --hash=sha256:%s\n" % (item["filename"], item["sha256"]))
            with open(os.path.join(wheels, "requirements.txt"), "w") as handle:
                handle.writelines(lines)
            with open(os.path.join(context, "Containerfile"), "w") as handle:
                handle.write("FROM %s\nRUN --mount=type=bind,source=wheels,target=/pymigrate-build %s\n" % (
                    carrier["base_id"], json.dumps([carrier["python"], "-c", INSTALL_CODE, carrier["path"],
                                                    installer["filename"]])))
            self.progress("building the image of %s on %s" % (carrier["image_name"], carrier["base_image"]))
            self._run(["build", "-q", "--network", "none", "--pull=never", "-t", tag, "-f",
                       os.path.join(context, "Containerfile"), context],
                      "building the image %s (its log: run again with -vvv)" % carrier["image_name"])
            layout = os.path.join(context, "oci")
            self._run(["save", "--uncompressed", "--format", "oci-dir", "-o", layout, tag],
                      "saving the image %s" % carrier["image_name"])
            record = self._store_layout(layout, key, carrier)
        finally:
            shutil.rmtree(context, ignore_errors=True)
            subprocess.run([self.engine, "rmi", "-f", tag], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=False)
        os.makedirs(os.path.join(self.bundle_dir, IMAGES_DIR), exist_ok=True)
        write_atomic(os.path.join(self.bundle_dir, IMAGES_DIR, key + ".json"),
                     json.dumps(record, indent=1, sort_keys=True).encode())
        return record

    def _store_layout(self, layout: str, key: str, carrier: t.Mapping) -> dict:
        with open(os.path.join(layout, "index.json")) as handle:
            index = json.load(handle)
        for entry in index.get("manifests", []):
            entry.pop("annotations", None)  # the name is given on the host (<name>:<serial>)
        manifest_digest = index["manifests"][0]["digest"].split(":", 1)[1]
        with open(os.path.join(layout, "blobs", "sha256", manifest_digest)) as handle:
            oci_manifest = json.load(handle)
        kinds = {manifest_digest: "manifest", oci_manifest["config"]["digest"].split(":", 1)[1]: "config"}
        blobs = []
        for digest in sorted(os.listdir(os.path.join(layout, "blobs", "sha256"))):
            source = os.path.join(layout, "blobs", "sha256", digest)
            actual = file_sha256(source)
            if actual != digest:
                raise PyMigrateError("the saved image %s has a blob %s whose sha256 is %s" % (
                    carrier["image_name"], digest, actual))
            relpath = store_relpath(digest, BLOB_FILENAME)
            final = os.path.join(self.bundle_dir, relpath)
            if not os.path.exists(final):
                os.makedirs(os.path.dirname(final), exist_ok=True)
                shutil.move(source, final)
            blobs.append({"path": relpath, "sha256": digest, "size": os.path.getsize(final),
                          "kind": kinds.get(digest, "layer")})
        return {"key": key, "name": carrier["image_name"], "base_image": carrier["base_image"],
                "base_id": carrier["base_id"], "image_id": oci_manifest["config"]["digest"].split(":", 1)[1],
                "manifest_digest": manifest_digest, "index": index, "blobs": blobs, "path": carrier["path"],
                "python": carrier["python"],
                "layers": [layer["digest"].split(":", 1)[1] for layer in oci_manifest.get("layers", [])]}
