"""Build real, installable synthetic wheels and sdists (standard library only).

A wheel is a zip with ``<pkg>/__init__.py`` (holding ``__version__``), ``*.dist-info/METADATA``,
``WHEEL`` with its ``Tag:`` lines and a ``RECORD`` with correct sha256 hashes. An sdist by default carries
a tiny in-tree PEP 517 backend (``backend="intree"``), so building it needs no build dependency from any
index; ``backend="setuptools"`` makes a classic setuptools sdist instead (``setuptools.build_meta``, and
for a platform sdist a ``setup.py`` with a C extension), which needs the real setuptools and wheel in the
index (see ``catalog.add_wheel_files``) and, for the extension, a C compiler.
"""

import base64
import calendar
import gzip
import hashlib
import io
import os
import re
import tarfile
import zipfile

FIXED_DATE = (2024, 1, 1, 0, 0, 0)


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def dist_name(name):
    """Wheel/sdist file name component (PEP 427/625 escaping)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def metadata_text(name, version, requires=(), requires_python=None, extras=(), license_expression=None,
                  summary=None, license=None, metadata_version=None):
    """Core metadata; 2.4 (with License-Expression) unless ``metadata_version`` says otherwise. ``license``
    is the older free-text ``License:`` field (metadata 2.1 style)."""
    version_field = metadata_version or ("2.4" if license_expression else "2.1")
    lines = ["Metadata-Version: %s" % version_field, "Name: %s" % name, "Version: %s" % version]
    if summary:
        lines.append("Summary: %s" % summary)
    if license:
        lines.append("License: %s" % license)
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

def get_requires_for_build_editable(config_settings=None):
    return []

def build_sdist(sdist_directory, config_settings=None):
    import tarfile
    _text, name, version = _meta()
    base = "%s-%s" % (re.sub(r"[-_.]+", "_", name).lower(), version)
    filename = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as archive:
        for top, dirs, files in os.walk("."):
            dirs[:] = sorted(d for d in dirs if d not in ("__pycache__",) and not d.endswith(".egg-info"))
            for entry in sorted(files):
                path = os.path.normpath(os.path.join(top, entry))
                archive.add(path, arcname="%s/%s" % (base, path), recursive=False)
    return filename

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    text, name, version = _meta()
    info = "%s-%s.dist-info" % (re.sub(r"[-_.]+", "_", name).lower(), version)
    os.makedirs(os.path.join(metadata_directory, info), exist_ok=True)
    with open(os.path.join(metadata_directory, info, "METADATA"), "w") as handle:
        handle.write(text)
    return info

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    text, name, version = _meta()
    with open("pyproject.toml") as handle:
        pyproject = handle.read()
    if "fail = true" in pyproject:
        for line in range(200):
            print("compiler noise line %d: error: this build is meant to fail" % line)
        raise SystemExit("synthetic build failure")
    platform = "platform = true" in pyproject
    pkg = re.sub(r"[-_.]+", "_", name).lower()
    extension = []
    if platform:
        impl = "cp%d%d" % sys.version_info[:2]
        tag = "%s-%s-%s" % (impl, impl, re.sub(r"[-.]", "_", sysconfig.get_platform()))
        source = os.path.join(pkg, "_speedups.c")
        if os.path.exists(source):  # a real C extension, compiled for the building interpreter
            import subprocess, tempfile
            target = os.path.join(tempfile.mkdtemp(), "_speedups" + sysconfig.get_config_var("EXT_SUFFIX"))
            subprocess.run(["cc", "-shared", "-fPIC", "-I" + sysconfig.get_paths()["include"], "-o", target, source],
                           check=True)
            with open(target, "rb") as handle:
                extension = [("%s/%s" % (pkg, os.path.basename(target)), handle.read())]
    else:
        tag = "py3-none-any"
    info = "%s-%s.dist-info" % (pkg, version)
    files = extension + [("%s/__init__.py" % pkg, ("__version__ = %r\n" % version).encode()),
             ("%s/METADATA" % info, text.encode()),
             ("%s/WHEEL" % info, ("Wheel-Version: 1.0\nGenerator: pymigrate-test-backend\n"
                                  "Root-Is-Purelib: %s\nTag: %s\n"
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


# The in-tree backend, plus what a hostile build would try before it builds: it reads the environment, every
# process's command line and environment it can see, the files named in its pyproject.toml, and tries to open a
# connection; what it found goes into the wheel as <pkg>/spy.json (tests/component/test_build_sandbox.py).
SPY_BACKEND = BACKEND.replace("def build_wheel(", "def _real_build_wheel(") + r'''

def _spy():
    import json, socket
    found = {"env": dict(os.environ), "cmdlines": [], "environs": [], "files": {}, "connect": None}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            for name, key in (("cmdline", "cmdlines"), ("environ", "environs")):
                try:
                    with open("/proc/%s/%s" % (pid, name), "rb") as handle:
                        found[key].append(handle.read().decode("utf-8", "replace"))
                except OSError:
                    pass
    with open("pyproject.toml") as handle:
        config = handle.read()
    for path in re.findall(r'^spy_file_\d+ = "(.*)"$', config, re.M):
        try:
            with open(path) as handle:
                found["files"][path] = handle.read()
        except OSError as exc:
            found["files"][path] = "refused: %s" % exc.__class__.__name__
    for address in re.findall(r'^spy_connect = "(.*):(\d+)"$', config, re.M):
        try:
            socket.create_connection((address[0], int(address[1])), timeout=3).close()
            found["connect"] = "connected"
        except OSError as exc:
            found["connect"] = "refused: %s" % exc.__class__.__name__
    return json.dumps(found)

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    report = _spy()
    filename = _real_build_wheel(wheel_directory, config_settings, metadata_directory)
    _text, name, _version = _meta()
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "a") as archive:
        archive.writestr("%s/spy.json" % re.sub(r"[-_.]+", "_", name).lower(), report)
    return filename
'''


def _toml_list(items):
    return "[%s]" % ", ".join(_toml_str(item) for item in items)


def _toml_str(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def setuptools_pyproject(name, version, requires=(), requires_python=None, extras=None):
    """pyproject.toml for a setuptools (PEP 621) build of a synthetic project."""
    lines = ['[build-system]', 'requires = ["setuptools>=61", "wheel"]', 'build-backend = "setuptools.build_meta"',
             '', '[project]', 'name = %s' % _toml_str(name), 'version = %s' % _toml_str(version)]
    if requires_python:
        lines.append("requires-python = %s" % _toml_str(requires_python))
    plain = [r for r in requires if "extra ==" not in r]
    lines.append("dependencies = %s" % _toml_list(plain))
    if extras:
        lines.append("")
        lines.append("[project.optional-dependencies]")
        for extra, reqs in extras.items():
            lines.append("%s = %s" % (extra, _toml_list(reqs)))
    lines += ["", "[tool.setuptools]", "packages = [%s]" % _toml_str(dist_name(name))]
    return "\n".join(lines) + "\n"


def _extras_of(requires, extras):
    """{extra: [requirement without the extra marker]} from Requires-Dist lines with ``extra == "x"``."""
    out = {extra: [] for extra in extras}
    for requirement in requires:
        match = re.search(r"""^(.*?);\s*extra\s*==\s*["']([^"']+)["']\s*$""", requirement)
        if match:
            out.setdefault(match.group(2), []).append(match.group(1).strip())
    return out


SETUP_PY_EXT = """from setuptools import Extension, setup

setup(ext_modules=[Extension("%(pkg)s._speedups", ["%(pkg)s/_speedups.c"])])
"""

SPEEDUPS_C = """#define PY_SSIZE_T_CLEAN
#include <Python.h>

static struct PyModuleDef speedups = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, NULL};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&speedups); }
"""


def sdist_bytes(name, version, metadata=None, platform_specific=False, backend="intree", requires=(),
                requires_python=None, extras=(), fails=False, spy_files=(), spy_connect=None):
    """An sdist. ``platform_specific`` marks it as building a platform wheel (a compiled extension):
    the in-tree backend then compiles ``<pkg>/_speedups.c`` (with ``cc``) and tags the wheel for the building
    interpreter; ``"hidden"`` tags it so without shipping any C source (a build only its result betrays);
    the setuptools variant has a real ``ext_modules`` C extension in ``setup.py``. ``fails``: the in-tree
    build prints 200 lines of noise and fails. ``backend="spy"``: the in-tree build that first looks for secrets
    (``SPY_BACKEND``: ``spy_files`` to read, ``spy_connect`` "host:port" to open)."""
    base = "%s-%s" % (dist_name(name), version)
    pkg_info = metadata or metadata_text(name, version)
    package = dist_name(name)
    if backend == "setuptools":
        members = [("PKG-INFO", pkg_info),
                   ("pyproject.toml", setuptools_pyproject(name, version, requires, requires_python,
                                                           _extras_of(requires, extras))),
                   ("%s/__init__.py" % package, "__version__ = %r\n" % version)]
        if platform_specific:
            members += [("setup.py", SETUP_PY_EXT % {"pkg": package}),
                        ("%s/_speedups.c" % package, SPEEDUPS_C)]
    else:
        pyproject = ('[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["_build"]\n\n'
                     '[tool.pymigrate-test]\nplatform = %s\nfail = %s\n'
                     % ("true" if platform_specific else "false", "true" if fails else "false"))
        pyproject += "".join('spy_file_%d = "%s"\n' % item for item in enumerate(spy_files))
        pyproject += 'spy_connect = "%s"\n' % spy_connect if spy_connect else ""
        code = SPY_BACKEND if backend == "spy" else BACKEND
        members = [("PKG-INFO", pkg_info), ("pyproject.toml", pyproject), ("_build/backend.py", code),
                   ("%s/__init__.py" % package, "__version__ = %r\n" % version)]
        if platform_specific and platform_specific != "hidden":
            members.append(("%s/_speedups.c" % package, SPEEDUPS_C))
    buffer = io.BytesIO()
    # gzip header mtime 0 and fixed member times: the same sdist gives the same bytes (and hash) every build.
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed, \
            tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path, text in members:
            data = text.encode()
            info = tarfile.TarInfo("%s/%s" % (base, path))
            info.size = len(data)
            info.mtime = int(calendar.timegm(FIXED_DATE + (0, 0, 0)))
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
