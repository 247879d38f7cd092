"""The default synthetic catalog of the local test index, and the code that builds an index directory.

| project | versions | what it exercises |
|---|---|---|
| alpha | 1.0, 1.1, 2.0 | plain pure wheels; upgrades and downgrades; upload times spread for cut-offs |
| netio | 4.0 | `backport-eg; python_version < "3.11"` (the anyio/exceptiongroup case), dep on idna-lite |
| backport-eg, idna-lite | 1.2 / 3.0 | dependencies of netio; backport-eg has Metadata-Version 2.1 with a |
|                        |           | free-text `License:` field instead of License-Expression |
| fastcore | 1.0 | platform wheels: cp39..cp313 x manylinux_2_17_x86_64 (+manylinux2014),     |
|          |     | manylinux_2_28_aarch64, musllinux_1_2_x86_64, macosx_11_0_arm64, win_amd64 |
| fastcore | 1.1 | abi3 wheels only (cp39-abi3, x86_64 and aarch64) |
| webkit | 2.0 | extras: `http` -> httpish, `socks` -> socksy; depends on alpha>=1.0 |
| httpish, socksy | 1.0 | extra dependencies of webkit |
| crawler | 1.0 | a dependency that asks for an extra: `webkit[http]>=2.0` |
| archdep | 1.0 | markers: platform_machine (armhelper), sys_platform == "win32" (winhelper, Windows only), |
|         |     | implementation_name == "pypy" (pypyhelper) |
| armhelper, winhelper, pypyhelper | 1.0 | marker-only dependencies |
| modernlib | 1.0, 2.0 | requires-python: 2.0 needs >=3.11, so a 3.9 target gets 1.0 |
| yankee | 1.0, 1.1 | 1.1, the newest, is yanked with the reason "broken build" |
| prerel | 1.0, 2.0rc1 | a prerelease newer than the final release |
| sdistonly | 1.0 | only an sdist, pure: buildable into py3-none-any by its in-tree backend |
| cext | 1.0 | only an sdist with a C extension (`cext/_speedups.c`, compiled by the in-tree backend with `cc`) |
| conflict-a, conflict-b, shared | 1.0 / 1.0 / 1.0, 2.0 | conflict-a needs shared==1.0, conflict-b needs shared==2.0 |
| Foo_Bar.baz | 1.0 | a name that needs normalising (foo-bar-baz) |
| nometa | 1.0 | no PEP 658 metadata file: metadata must be read from the wheel itself |
| alpha 1.0 | (JSON API) | known-vulnerable: PYSEC-0000-1 (alias CVE-0000-0001, fixed in 1.1) and a withdrawn |
|           |            | report PYSEC-0000-2; every other release has an empty ``vulnerabilities`` list |
| pip | bundled | the pip wheel of this machine's newest ensurepip (for hosts without pip), if present; |
|     |         | only with ``build(include_pip=True)`` (the default for ``build``, off for ``make_index``) |

Upload times (first of the month) are spread for ``uploaded_prior_to`` cut-offs: 2024-01 alpha 1.0;
2024-02 most base releases; 2024-03 fastcore 1.0, webkit and its extras, archdep, shared 2.0; 2024-04
fastcore 1.1, crawler; 2024-05 modernlib 2.0, yankee 1.1, prerel 2.0rc1; 2024-06 alpha 1.1; 2025-01
alpha 2.0. A cut-off of 2024-04-15 thus gives alpha 1.0 and modernlib 1.0.
Every wheel but nometa's has a PEP 658 ``.metadata`` file next to it.

Optional, off by default: ``build(..., build_tools_dir=DIR)`` (or ``add_wheel_files``) copies real
wheels (for example setuptools and wheel, from ``pip download setuptools wheel -d DIR``) into the index,
so that setuptools-backed sdists (``release(..., sdist_backend="setuptools")``) can be built from it
with ``pip wheel --no-index --find-links`` or ``python -m build``.
"""

import glob
import hashlib
import json
import os
import sys

from tests.index import wheels

PLATFORM_PYTHONS = ("39", "311", "312", "313")
PLATFORMS = ("manylinux_2_17_x86_64.manylinux2014_x86_64", "manylinux_2_28_aarch64", "musllinux_1_2_x86_64",
             "macosx_11_0_arm64", "win_amd64")


def release(name, version, requires=(), requires_python=None, extras=(), tags=(("py3-none-any",),),
            yanked=None, upload_time=None, sdist=False, wheel=True, platform_sdist=False, metadata_file=True,
            license_expression="MIT", summary=None, license=None, sdist_backend="intree", sdist_fails=False,
            index_requires_python=True, vulnerabilities=(), spy_files=(), spy_connect=None):
    """One release of a project: its wheels (one per entry of ``tags``, each a tuple of the tags that wheel
    claims) and/or an sdist. ``yanked``: None, True or a reason string. ``upload_time``: PEP 700 ISO time.
    ``metadata_file``: write the PEP 658 ``<file>.metadata`` next to the wheels. ``platform_sdist``: the
    sdist builds a platform wheel (as a compiled extension does). ``license`` sets the older ``License:``
    field; pass ``license_expression=None`` with it for plain metadata 2.1. ``sdist_backend``: "intree"
    (no build dependencies) or "setuptools" (needs setuptools and wheel in the index). ``platform_sdist="hidden"``:
    a platform build with no C source to betray it; ``sdist_fails``: the build fails with a long log.
    ``index_requires_python=False``: Requires-Python only in the metadata, not on the index page.
    ``vulnerabilities``: the records the JSON API (``/pypi/<name>/<version>/json``) lists for this release
    (PyPI's format: id, aliases, details, summary, fixed_in, link, source, withdrawn; see ``vulnerability``)."""
    return dict(name=name, version=version, requires=list(requires), requires_python=requires_python,
                extras=list(extras), tags=[list(t) for t in tags], yanked=yanked, upload_time=upload_time,
                sdist=sdist, wheel=wheel, platform_sdist=platform_sdist, metadata_file=metadata_file,
                license_expression=license_expression, summary=summary or "Synthetic %s for tests" % name,
                license=license, sdist_backend=sdist_backend, sdist_fails=sdist_fails,
                index_requires_python=index_requires_python, vulnerabilities=list(vulnerabilities),
                spy_files=list(spy_files), spy_connect=spy_connect)


def vulnerability(vuln_id, fixed_in=(), aliases=(), summary=None, withdrawn=None):
    """One record of the JSON API's ``vulnerabilities`` list, as PyPI gives it."""
    return {"id": vuln_id, "aliases": list(aliases), "summary": summary or "Synthetic vulnerability %s" % vuln_id,
            "details": "Details of %s.\nSecond line." % vuln_id, "fixed_in": list(fixed_in),
            "link": "https://osv.dev/vulnerability/%s" % vuln_id, "source": "osv", "withdrawn": withdrawn}


ALPHA_VULNERABILITIES = [
    vulnerability("PYSEC-0000-1", fixed_in=["1.1"], aliases=["CVE-0000-0001"], summary="alpha 1.0 leaks secrets"),
    vulnerability("PYSEC-0000-2", fixed_in=["2.0"], withdrawn="2024-07-01T00:00:00Z"),
]


def _expand(platform_set):
    """'manylinux_2_17_x86_64.manylinux2014_x86_64' -> both platform tags (a compressed tag set)."""
    return platform_set.split(".")


def _platform_wheels():
    tags = []
    for py in PLATFORM_PYTHONS:
        for platform_set in PLATFORMS:
            tags.append(tuple("cp%s-cp%s-%s" % (py, py, plat) for plat in _expand(platform_set)))
    return tags


def default_catalog():
    day = "2024-%02d-01T00:00:00Z"
    return [
        release("alpha", "1.0", upload_time=day % 1, vulnerabilities=ALPHA_VULNERABILITIES),
        release("alpha", "1.1", upload_time=day % 6),
        release("alpha", "2.0", upload_time="2025-01-01T00:00:00Z"),
        release("netio", "4.0", requires=['backport-eg>=1.0; python_version < "3.11"', "idna-lite>=2.8"],
                requires_python=">=3.8", upload_time=day % 2),
        release("backport-eg", "1.2", requires_python=">=3.7", upload_time=day % 2, license_expression=None,
                license="Python Software Foundation License"),
        release("idna-lite", "3.0", upload_time=day % 2),
        release("fastcore", "1.0", tags=_platform_wheels(), upload_time=day % 3, license_expression="BSD-3-Clause"),
        release("fastcore", "1.1", tags=[("cp39-abi3-manylinux_2_17_x86_64", "cp39-abi3-manylinux2014_x86_64"),
                                         ("cp39-abi3-manylinux_2_28_aarch64",)], upload_time=day % 4),
        release("webkit", "2.0", extras=["http", "socks"],
                requires=["alpha>=1.0", 'httpish>=1.0; extra == "http"', 'socksy; extra == "socks"'],
                upload_time=day % 3),
        release("crawler", "1.0", requires=["webkit[http]>=2.0"], upload_time=day % 4),
        release("httpish", "1.0", upload_time=day % 3),
        release("socksy", "1.0", upload_time=day % 3),
        release("archdep", "1.0", requires=['armhelper; platform_machine == "aarch64"',
                                            'winhelper; sys_platform == "win32"',
                                            'pypyhelper; implementation_name == "pypy"'], upload_time=day % 3),
        release("armhelper", "1.0", upload_time=day % 3),
        release("winhelper", "1.0", upload_time=day % 3),
        release("pypyhelper", "1.0", upload_time=day % 3),
        release("modernlib", "1.0", requires_python=">=3.8", upload_time=day % 2),
        release("modernlib", "2.0", requires_python=">=3.11", upload_time=day % 5),
        release("yankee", "1.0", upload_time=day % 2),
        release("yankee", "1.1", yanked="broken build", upload_time=day % 5),
        release("prerel", "1.0", upload_time=day % 2),
        release("prerel", "2.0rc1", upload_time=day % 5),
        release("sdistonly", "1.0", wheel=False, sdist=True, upload_time=day % 2),
        release("cext", "1.0", wheel=False, sdist=True, platform_sdist=True, upload_time=day % 2),
        release("conflict-a", "1.0", requires=["shared==1.0"], upload_time=day % 2),
        release("conflict-b", "1.0", requires=["shared==2.0"], upload_time=day % 2),
        release("shared", "1.0", upload_time=day % 2),
        release("shared", "2.0", upload_time=day % 3),
        release("Foo_Bar.baz", "1.0", upload_time=day % 2),
        release("nometa", "1.0", metadata_file=False, upload_time=day % 2),
    ]


def bundled_pip_wheel():
    """The newest pip wheel that an ensurepip on this machine bundles (pyenv keeps several)."""
    candidates = glob.glob(os.path.join(sys.base_prefix, "lib", "python3*", "ensurepip", "_bundled", "pip-*.whl"))
    candidates += glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/lib/python3*/ensurepip/_bundled/pip-*.whl"))

    def version(path):
        return tuple(int(part) for part in os.path.basename(path).split("-")[1].split(".") if part.isdigit())
    return max(candidates, key=version) if candidates else None


def _file_entry(directory, filename, data, rel, metadata=None):
    path = wheels.write(directory, filename, data)
    entry = {"filename": filename, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
             "requires_python": rel.get("requires_python") if rel.get("index_requires_python", True) else None,
             "yanked": rel.get("yanked"),
             "upload_time": rel.get("upload_time"), "metadata_sha256": None}
    if metadata is not None:
        wheels.write(directory, filename + ".metadata", metadata)
        entry["metadata_sha256"] = hashlib.sha256(metadata).hexdigest()
    return path, entry


def build(directory, catalog=None, include_pip=True, build_tools_dir=None):
    """Write every file of ``catalog`` (default: ``default_catalog()``) into ``directory/files`` and the
    index description ``directory/index.json``; returns ``directory``. ``include_pip`` adds this machine's
    bundled pip wheel; ``build_tools_dir`` (off by default) copies the setuptools and wheel wheels found
    there into the index (see ``add_wheel_files``)."""
    files_dir = os.path.join(directory, "files")
    os.makedirs(files_dir, exist_ok=True)
    projects = {}
    for rel in default_catalog() if catalog is None else catalog:
        project = projects.setdefault(wheels.normalize(rel["name"]), {"name": rel["name"], "files": []})
        project.setdefault("vulnerabilities", {})[rel["version"]] = rel.get("vulnerabilities") or []
        metadata = wheels.metadata_text(rel["name"], rel["version"], rel["requires"], rel["requires_python"],
                                        rel["extras"], rel["license_expression"], rel["summary"],
                                        license=rel.get("license"))
        if rel["wheel"]:
            for tags in rel["tags"]:
                data = wheels.wheel_bytes(rel["name"], rel["version"], tags, metadata)
                filename = wheels.wheel_filename(rel["name"], rel["version"], tags)
                _path, entry = _file_entry(files_dir, filename, data, rel,
                                           metadata.encode() if rel["metadata_file"] else None)
                project["files"].append(entry)
        if rel["sdist"]:
            data = wheels.sdist_bytes(rel["name"], rel["version"], metadata, rel["platform_sdist"],
                                      backend=rel.get("sdist_backend", "intree"), requires=rel["requires"],
                                      requires_python=rel["requires_python"], extras=rel["extras"],
                                      fails=rel.get("sdist_fails", False), spy_files=rel.get("spy_files", ()),
                                      spy_connect=rel.get("spy_connect"))
            _path, entry = _file_entry(files_dir, wheels.sdist_filename(rel["name"], rel["version"]), data, rel)
            project["files"].append(entry)
    pip = bundled_pip_wheel() if include_pip else None
    if pip:
        with open(pip, "rb") as handle:
            data = handle.read()
        metadata = wheels.read_wheel_metadata(pip)
        requires_python = ""
        for line in metadata.decode().splitlines():
            if line.startswith("Requires-Python:"):
                requires_python = line.split(":", 1)[1].strip()
        _path, entry = _file_entry(files_dir, os.path.basename(pip), data,
                                   {"requires_python": requires_python or None, "upload_time": "2024-07-28T00:00:00Z"},
                                   metadata)
        projects["pip"] = {"name": "pip", "files": [entry]}
    _save(directory, projects)
    if build_tools_dir:
        add_wheel_files(directory, build_tools_dir)
    return directory


def _save(directory, projects):
    with open(os.path.join(directory, "index.json"), "w") as handle:
        json.dump({"projects": projects}, handle, indent=1, sort_keys=True)


def add_wheel_files(directory, source_dir, names=("setuptools", "wheel"), upload_time="2024-01-01T00:00:00Z"):
    """Copy real wheels of the projects ``names`` from ``source_dir`` (e.g. filled by
    ``pip download setuptools wheel -d DIR``) into the built index at ``directory``, with their PEP 658
    metadata; a running IndexServer sees them after ``.reload()``. Returns the filenames added."""
    with open(os.path.join(directory, "index.json")) as handle:
        projects = json.load(handle)["projects"]
    wanted = {wheels.normalize(n) for n in names}
    added = []
    for path in sorted(glob.glob(os.path.join(source_dir, "*.whl"))):
        filename = os.path.basename(path)
        project = wheels.normalize(filename.split("-")[0])
        if project not in wanted:
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        metadata = wheels.read_wheel_metadata(path)
        requires_python = None
        for line in metadata.decode("utf-8", "replace").split("\n\n")[0].splitlines():
            if line.startswith("Requires-Python:"):
                requires_python = line.split(":", 1)[1].strip() or None
        _path, entry = _file_entry(os.path.join(directory, "files"), filename, data,
                                   {"requires_python": requires_python, "upload_time": upload_time}, metadata)
        files = projects.setdefault(project, {"name": project, "files": []})["files"]
        files[:] = [f for f in files if f["filename"] != filename] + [entry]
        added.append(filename)
    _save(directory, projects)
    return added


def add_real_file(directory, path, provenance=None, upload_time="2025-04-21T00:00:00Z", requires_python=None):
    """Copy a real file (a wheel or an sdist, e.g. one of tests/fixtures/provenance/) into the built index at
    ``directory``, with its PEP 740 ``provenance`` file when given (served by the simple API's provenance key and the
    integrity API); a wheel gets its PEP 658 metadata. A running IndexServer sees it after ``.reload()``."""
    with open(os.path.join(directory, "index.json")) as handle:
        projects = json.load(handle)["projects"]
    filename = os.path.basename(path)
    with open(path, "rb") as handle:
        data = handle.read()
    metadata = wheels.read_wheel_metadata(path) if filename.endswith(".whl") else None
    _path, entry = _file_entry(os.path.join(directory, "files"), filename, data,
                               {"requires_python": requires_python, "upload_time": upload_time}, metadata)
    if provenance:
        with open(provenance, "rb") as handle:
            wheels.write(os.path.join(directory, "files"), filename + ".provenance", handle.read())
        entry["provenance"] = filename + ".provenance"
    name = filename.split("-")[0]
    files = projects.setdefault(wheels.normalize(name), {"name": name, "files": []})["files"]
    files[:] = [f for f in files if f["filename"] != filename] + [entry]
    _save(directory, projects)
    return filename
