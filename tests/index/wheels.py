"""Build real, installable synthetic wheels and sdists (standard library only).

A wheel is a zip with ``<pkg>/__init__.py`` (holding ``__version__``), ``*.dist-info/METADATA``,
``WHEEL`` with its ``Tag:`` lines and a ``RECORD`` with correct sha256 hashes. An sdist carries a tiny
in-tree PEP 517 backend, so building it needs no build dependency from any index.
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile

FIXED_DATE = (2024, 1, 1, 0, 0, 0)


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def dist_name(name):
    """Wheel/sdist file name component (PEP 427/625 escaping)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def metadata_text(name, version, requires=(), requires_python=None, extras=(), license_expression=None,
                  summary=None):
    lines = ["Metadata-Version: 2.4", "Name: %s" % name, "Version: %s" % version]
    if summary:
        lines.append("Summary: %s" % summary)
    if license_expression:
        lines.append("License-Expression: %s" % license_expression)
    if requires_python:
        lines.append("Requires-Python: %s" % requires_python)
    for extra in extras:
        lines.append("Provides-Extra: %s" % extra)
    for requirement in requires:
        lines.append("Requires-Dist: %s" % requirement)
    return "\n".join(lines) + "\n\n"


def _record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_bytes(name, version, tags=("py3-none-any",), metadata=None):
    """The bytes of a wheel; ``tags`` are the tags it claims (a compressed tag set is expanded)."""
    package = dist_name(name)
    info = "%s-%s.dist-info" % (package, version)
    files = [
        ("%s/__init__.py" % package, ("__version__ = %r\n" % version).encode()),
        ("%s/METADATA" % info, (metadata or metadata_text(name, version)).encode()),
        ("%s/WHEEL" % info, ("Wheel-Version: 1.0\nGenerator: pymigrate-tests\nRoot-Is-Purelib: %s\n%s\n" % (
            "true" if all(tag.endswith("-any") for tag in tags) else "false",
            "\n".join("Tag: %s" % tag for tag in tags))).encode()),
    ]
    record = "".join("%s,%s,%d\n" % (path, _record_hash(data), len(data)) for path, data in files)
    record += "%s/RECORD,,\n" % info
    files.append(("%s/RECORD" % info, record.encode()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files:
            entry = zipfile.ZipInfo(path, FIXED_DATE)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    return buffer.getvalue()


def wheel_filename(name, version, tags):
    interpreters = ".".join(dict.fromkeys(t.split("-")[0] for t in tags))
    abis = ".".join(dict.fromkeys(t.split("-")[1] for t in tags))
    platforms = ".".join(dict.fromkeys(t.split("-")[2] for t in tags))
    return "%s-%s-%s-%s-%s.whl" % (dist_name(name), version, interpreters, abis, platforms)


# The in-tree backend shipped inside each synthetic sdist: builds a wheel from PKG-INFO. When
# pyproject.toml says `platform = true` under [tool.pymigrate-test], the wheel it builds is tagged for
# the building interpreter's platform, like a project with a compiled extension.
BACKEND = r'''
import base64, hashlib, os, re, sys, sysconfig, zipfile

def _meta():
    with open("PKG-INFO") as handle:
        text = handle.read()
    fields = dict(line.split(": ", 1) for line in text.split("\n\n")[0].splitlines() if ": " in line)
    return text, fields["Name"], fields["Version"]

def get_requires_for_build_wheel(config_settings=None):
    return []

def get_requires_for_build_sdist(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    text, name, version = _meta()
    with open("pyproject.toml") as handle:
        platform = "platform = true" in handle.read()
    if platform:
        impl = "cp%d%d" % sys.version_info[:2]
        tag = "%s-%s-%s" % (impl, impl, re.sub(r"[-.]", "_", sysconfig.get_platform()))
    else:
        tag = "py3-none-any"
    pkg = re.sub(r"[-_.]+", "_", name).lower()
    info = "%s-%s.dist-info" % (pkg, version)
    files = [("%s/__init__.py" % pkg, ("__version__ = %r\n" % version).encode()),
             ("%s/METADATA" % info, text.encode()),
             ("%s/WHEEL" % info, ("Wheel-Version: 1.0\nGenerator: pymigrate-test-backend\nRoot-Is-Purelib: %s\nTag: %s\n"
                                  % ("false" if platform else "true", tag)).encode())]
    def h(data):
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record = "".join("%s,%s,%d\n" % (p, h(d), len(d)) for p, d in files) + "%s/RECORD,,\n" % info
    files.append(("%s/RECORD" % info, record.encode()))
    filename = "%s-%s-%s.whl" % (pkg, version, tag)
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files:
            archive.writestr(path, data)
    return filename
'''


def sdist_bytes(name, version, metadata=None, platform_specific=False):
    base = "%s-%s" % (dist_name(name), version)
    pkg_info = metadata or metadata_text(name, version)
    pyproject = ('[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["_build"]\n\n'
                 '[tool.pymigrate-test]\nplatform = %s\n' % ("true" if platform_specific else "false"))
    members = [("PKG-INFO", pkg_info), ("pyproject.toml", pyproject), ("_build/backend.py", BACKEND),
               ("%s/__init__.py" % dist_name(name), "__version__ = %r\n" % version)]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for path, text in members:
            data = text.encode()
            info = tarfile.TarInfo("%s/%s" % (base, path))
            info.size = len(data)
            info.mtime = int(time.mktime(FIXED_DATE + (0, 0, -1)))
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sdist_filename(name, version):
    return "%s-%s.tar.gz" % (dist_name(name), version)


def read_wheel_metadata(path):
    with zipfile.ZipFile(path) as archive:
        for entry in archive.namelist():
            if entry.endswith(".dist-info/METADATA") and entry.count("/") == 1:
                return archive.read(entry)
    raise ValueError("no METADATA in %s" % path)


def write(directory, filename, data):
    path = os.path.join(directory, filename)
    with open(path, "wb") as handle:
        handle.write(data)
    return path
