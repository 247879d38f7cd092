"""venv_install logic on this machine: generations, atomic switch, no-op re-runs, rollback, failures that
leave the current generation untouched. Runs the host-side code under several interpreters."""

import base64
import glob
import hashlib
import io
import json
import os
import subprocess
import sys
import time
import zipfile

import pytest

from ansible_collections.airgap.pymigrate.plugins.module_utils import _venv as venv_module
from tests.index import catalog, wheels

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, ".collections")
PYTHONS = [p for p in (os.path.expanduser("~/.pyenv/versions/3.8.18/bin/python3"),
                       os.path.expanduser("~/.pyenv/versions/3.13.0/bin/python3"))
           if os.path.exists(p)] or [sys.executable]

DRIVER = """
import dataclasses, json, sys
sys.path.insert(0, %r)
from ansible_collections.airgap.pymigrate.plugins.module_utils import _venv as venv
args = json.loads(sys.argv[1])
try:
    if args.pop("rollback", False):
        print(json.dumps(venv.rollback(args["path"])))
    else:
        options = {f.name: args.pop(f.name) for f in dataclasses.fields(venv.InstallOptions) if f.name in args}
        print(json.dumps(venv.ensure(options=venv.InstallOptions(**options), **args)))
except venv.VenvError as exc:
    print(json.dumps({"failed": True, "msg": str(exc)}))
"""


def _add(store, filename, data):
    sha = hashlib.sha256(data).hexdigest()
    path = os.path.join(store, "files", "sha256", sha[:2], sha, filename)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    return {"filename": filename, "sha256": sha, "size": len(data)}


def _wheel(store, name, version, requires=()):
    meta = wheels.metadata_text(name, version, requires)
    item = _add(store, wheels.wheel_filename(name, version, ["py3-none-any"]),
                wheels.wheel_bytes(name, version, ["py3-none-any"], meta))
    return dict(item, name=name, version=version)


@pytest.fixture
def world(tmp_path):
    store = str(tmp_path / "store")
    pip = catalog.bundled_pip_wheel()
    with open(pip, "rb") as handle:
        installer = _add(store, os.path.basename(pip), handle.read())
    return {"store": store, "installer": installer, "path": str(tmp_path / "app" / "venv")}


def run(python, world, packages, env=None, **extra):
    args = dict(path=world["path"], python=python, store_dir=world["store"], packages=packages,
                installer=world["installer"], **extra)
    out = subprocess.run([python, "-c", DRIVER % COLLECTIONS, json.dumps(args)], check=True, stdout=subprocess.PIPE,
                         text=True, env=env).stdout
    return json.loads(out)


def installed(world):
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps(sorted((d.metadata['Name'].lower(), d.version) for d in m.distributions())))")
    out = subprocess.run([os.path.join(world["path"], "bin", "python"), "-c", code], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    return dict(json.loads(out))


@pytest.mark.parametrize("python", PYTHONS, ids=lambda p: p.split("/versions/")[-1].split("/")[0])
def test_generations_noop_upgrade_rollback(python, world):
    alpha1, alpha2 = _wheel(world["store"], "alpha", "1.0"), _wheel(world["store"], "alpha", "2.0")
    extra = _wheel(world["store"], "extra", "1.0")
    first = run(python, world, [alpha1, extra], smoke_imports=["alpha", "extra"])
    assert first["changed"] and first["pip_ran"] and installed(world) == {"alpha": "1.0", "extra": "1.0"}
    assert os.path.islink(world["path"])
    again = run(python, world, [alpha1, extra])
    assert again == dict(again, changed=False, pip_ran=False)
    predicted = run(python, world, [alpha2], check_mode=True)
    assert predicted["changed"] and predicted["changes"]["upgraded"] == ["alpha 1.0 -> 2.0"]
    assert installed(world) == {"alpha": "1.0", "extra": "1.0"}  # check mode changed nothing
    upgraded = run(python, world, [alpha2])
    assert upgraded["changes"] == {"added": [], "removed": ["extra==1.0"], "upgraded": ["alpha 1.0 -> 2.0"],
                                   "downgraded": []}
    assert installed(world) == {"alpha": "2.0"}  # exactly the lock: extra is gone
    back = subprocess.run([python, "-c", DRIVER % COLLECTIONS, json.dumps({"path": world["path"], "rollback": True})],
                          check=True, stdout=subprocess.PIPE, text=True).stdout
    assert json.loads(back)["generation"] == first["generation"]
    assert installed(world) == {"alpha": "1.0", "extra": "1.0"}


def _rollback(python, world):
    out = subprocess.run([python, "-c", DRIVER % COLLECTIONS, json.dumps({"path": world["path"], "rollback": True})],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def test_a_rollback_after_a_drift_repair_never_lands_on_the_drifted_generation(world):
    """1.0, then 2.0, whose files drift and are repaired: the rollback goes to 1.0, not to the drifted 2.0."""
    python = PYTHONS[0]
    alpha1, alpha2 = _wheel(world["store"], "alpha", "1.0"), _wheel(world["store"], "alpha", "2.0")
    first = run(python, world, [alpha1], serial=1)
    drifted = run(python, world, [alpha2], serial=2)["generation"]
    for path in glob.glob(os.path.join(drifted, "lib", "python*", "site-packages", "alpha", "*.py")):
        os.unlink(path)
    repaired = run(python, world, [alpha2], serial=2)
    assert repaired["changed"] and repaired["reason"].startswith("repaired drift: missing file alpha")
    back = _rollback(python, world)
    assert back["generation"] == first["generation"] != drifted
    assert installed(world) == {"alpha": "1.0"}
    assert [(item["generation"], item["reason"].split(":")[0]) for item in back["skipped"]] == [
        (drifted, "built from the same lock as the current generation (lock %s)" % repaired["generation"][-12:])]
    assert (back["from"]["serial"], back["to"]["serial"]) == (2, 1)
    assert back["changes"]["downgraded"] == ["alpha 2.0 -> 1.0"]
    again = _rollback(python, world)
    assert not again["changed"] and again["msg"].startswith("nothing to roll back to from generation 1")


def test_failures_leave_the_current_generation(world):
    python = PYTHONS[0]
    good = _wheel(world["store"], "alpha", "1.0")
    current = run(python, world, [good])["generation"]
    broken = _wheel(world["store"], "needy", "1.0", requires=["missingdep>=1"])
    result = run(python, world, [good, broken])
    assert result["failed"] and "pip check" in result["msg"] and "missingdep" in result["msg"]
    assert os.path.realpath(world["path"]) == current
    smoke = run(python, world, [good], smoke_imports=["nosuchmodule"], lock_id="other")
    assert smoke["failed"] and "smoke import of nosuchmodule" in smoke["msg"]
    bad = _wheel(world["store"], "beta", "1.0")
    path = os.path.join(world["store"], "files", "sha256", bad["sha256"][:2], bad["sha256"], bad["filename"])
    with open(path, "ab") as handle:
        handle.write(b"x")
    corrupt = run(python, world, [good, bad])
    assert corrupt["failed"] and bad["filename"] in corrupt["msg"] and "run the push again" in corrupt["msg"]
    assert os.path.realpath(world["path"]) == current and installed(world) == {"alpha": "1.0"}
    assert len(os.listdir(os.path.dirname(current))) == 1  # failed generations were removed


def test_manual_venv_and_foreign_path(world):
    python = PYTHONS[-1]
    result = run(python, world, [_wheel(world["store"], "alpha", "1.0")], force_manual_venv=True)
    assert result["changed"] and installed(world) == {"alpha": "1.0"}
    os.makedirs(os.path.join(os.path.dirname(world["path"]), "other"))
    foreign = dict(world, path=os.path.join(os.path.dirname(world["path"]), "other"))
    failed = run(python, foreign, [_wheel(world["store"], "alpha", "1.0")])
    assert failed["failed"] and "not a pymigrate-managed symlink" in failed["msg"]
    parent = os.path.dirname(world["path"])
    assert not os.path.exists(os.path.join(parent, ".other.lock"))  # refused before anything was made


def test_a_missing_interpreter_is_refused_before_anything_is_made(world):
    args = dict(path=world["path"], python="/nonexistent/python3", store_dir=world["store"],
                packages=[_wheel(world["store"], "alpha", "1.0")], installer=world["installer"])
    out = subprocess.run([PYTHONS[-1], "-c", DRIVER % COLLECTIONS, json.dumps(args)], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    failed = json.loads(out)
    assert failed["failed"] and "/nonexistent/python3 does not exist or cannot run" in failed["msg"]
    assert not os.path.exists(os.path.dirname(world["path"]))  # no lock file, no directory


@pytest.mark.parametrize("python", PYTHONS, ids=lambda p: p.split("/versions/")[-1].split("/")[0])
def test_a_smoke_import_is_never_code(python, world, tmp_path):
    """A module name that carries code (as an inventory value could) is refused, and its code never runs."""
    marker = tmp_path / "pwned"
    result = run(python, world, [_wheel(world["store"], "alpha", "1.0")],
                 smoke_imports=["os; open(%r, 'w')" % str(marker)])
    assert result["failed"] and "is not a dotted module name" in result["msg"] and not marker.exists()
    assert not os.path.lexists(world["path"])  # the half-built generation is gone, nothing was switched


# -- installer kind uv: the real uv wheel from the package index (`make dev` downloads it into build/wheelhouse) --
UV_WHEELHOUSE = os.path.join(ROOT, "build", "wheelhouse")


def uv_wheel():
    found = sorted(glob.glob(os.path.join(UV_WHEELHOUSE, "uv-*-py3-none-*.whl")))
    if not found:
        pytest.fail("no uv wheel in %s: run `make dev` (it downloads the uv wheel once, with network access)"
                    % UV_WHEELHOUSE)
    return found[-1]


@pytest.fixture
def uv_world(world):
    with open(uv_wheel(), "rb") as handle:
        uv = _add(world["store"], os.path.basename(uv_wheel()), handle.read())
    return dict(world, installer=dict(uv, kind="uv"))


def _store_file(world, item):
    return os.path.join(world["store"], "files", "sha256", item["sha256"][:2], item["sha256"], item["filename"])


def _generations_dir(world):
    return os.path.join(os.path.dirname(world["path"]), ".venv.generations")


def _no_uv_left(world):
    """The private uv directory is gone after every build, whatever happened."""
    gens = _generations_dir(world)
    return not [e for e in (os.listdir(gens) if os.path.isdir(gens) else []) if e.startswith(".pymigrate-uv-")]


def _dist_info_file(world, name, version, filename):
    site = glob.glob(os.path.join(os.path.realpath(world["path"]), "lib", "python3*", "site-packages"))[0]
    return os.path.join(site, "%s-%s.dist-info" % (name, version), filename)


@pytest.mark.parametrize("python", PYTHONS, ids=lambda p: p.split("/versions/")[-1].split("/")[0])
def test_uv_builds_exactly_the_lock_and_reruns_are_noops(python, uv_world):
    world = uv_world
    alpha, extra = _wheel(world["store"], "alpha", "1.0"), _wheel(world["store"], "extra", "1.0")
    first = run(python, world, [alpha, extra], smoke_imports=["alpha", "extra"])
    assert first.get("failed") is None, first
    assert first["changed"] and first["pip_ran"] and installed(world) == {"alpha": "1.0", "extra": "1.0"}
    with open(os.path.join(first["generation"], venv_module.GENERATION_FILE)) as handle:
        record = json.load(handle)
    assert record["installer"] == {"kind": "uv", "filename": world["installer"]["filename"],
                                   "sha256": world["installer"]["sha256"]}
    assert record["packages"] == {"alpha": "1.0", "extra": "1.0"}
    with open(_dist_info_file(world, "alpha", "1.0", "INSTALLER")) as handle:
        assert handle.read().strip() == "uv"  # uv built it, and verify_generation reads its RECORD as pip's
    assert venv_module.verify_generation(first["generation"], [alpha, extra], full=True) == []
    assert not glob.glob(os.path.join(first["generation"], "lib", "python3*", "site-packages", "**", "*.pyc"),
                         recursive=True)  # no bytecode compiled, as pip's --no-compile
    assert _no_uv_left(world)
    # Linked from uv's temporary cache, which is gone: every installed file is the generation's own.
    site = glob.glob(os.path.join(first["generation"], "lib", "python3*", "site-packages"))[0]
    links = [os.stat(os.path.join(d, f)).st_nlink for d, _s, names in os.walk(site) for f in names]
    assert links and set(links) == {1}
    again = run(python, world, [alpha, extra])
    assert again == dict(again, changed=False, pip_ran=False, drift=[], generation=first["generation"])


def test_uv_drift_is_found_and_repaired_like_pip(uv_world):
    world, python = uv_world, PYTHONS[-1]
    alpha = _wheel(world["store"], "alpha", "1.0")
    first = run(python, world, [alpha])
    module = os.path.join(os.path.dirname(_dist_info_file(world, "alpha", "1.0", "RECORD")), "..", "alpha",
                          "__init__.py")
    with open(module, "a") as handle:
        handle.write("# tampered\n")
    report = run(python, world, [alpha], drift_action="report")
    assert not report["changed"] and [(f["kind"], f["distribution"]) for f in report["drift"]] == [
        ("modified file", "alpha")]
    repaired = run(python, world, [alpha])
    assert repaired["changed"] and repaired["generation"] != first["generation"]
    assert repaired["reason"].startswith("repaired drift: modified file alpha")
    assert venv_module.verify_generation(repaired["generation"], [alpha], full=True) == []
    assert _no_uv_left(world)


def test_uv_and_the_manual_venv(uv_world):
    result = run(PYTHONS[0], uv_world, [_wheel(uv_world["store"], "alpha", "1.0")], force_manual_venv=True)
    assert result.get("failed") is None, result
    assert installed(uv_world) == {"alpha": "1.0"}


def test_uv_failures_leave_the_current_generation(uv_world):
    world, python = uv_world, PYTHONS[0]
    good = _wheel(world["store"], "alpha", "1.0")
    current = run(python, world, [good])["generation"]
    needy = _wheel(world["store"], "needy", "1.0", requires=["missingdep>=1"])
    result = run(python, world, [good, needy])
    assert result["failed"] and "uv pip check in" in result["msg"] and "missingdep" in result["msg"]
    smoke = run(python, world, [good], smoke_imports=["nosuchmodule"], lock_id="other")
    assert smoke["failed"] and "smoke import of nosuchmodule" in smoke["msg"]
    assert os.path.realpath(world["path"]) == current and installed(world) == {"alpha": "1.0"}
    assert os.listdir(_generations_dir(world)) == [os.path.basename(current)]  # nothing else left, no uv dir


def test_a_uv_wheel_that_differs_from_the_store_is_refused(uv_world):
    world = uv_world
    with open(_store_file(world, world["installer"]), "ab") as handle:
        handle.write(b"x")
    result = run(PYTHONS[-1], world, [_wheel(world["store"], "alpha", "1.0")])
    assert result["failed"] and world["installer"]["filename"] in result["msg"]
    assert "run the push again" in result["msg"]
    assert "expected %s" % world["installer"]["sha256"] in result["msg"]
    assert not os.path.lexists(world["path"])


def _fake_uv_wheel(world, members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            archive.writestr(info, data)
    item = _add(world["store"], "uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                buffer.getvalue())
    return dict(world, installer=dict(item, kind="uv"))


def test_a_uv_wheel_without_the_binary_is_refused(world):
    fake = _fake_uv_wheel(world, {"uv/__init__.py": b"", "uv-0.13.9.dist-info/METADATA": b"Name: uv\n"})
    result = run(PYTHONS[-1], fake, [_wheel(world["store"], "alpha", "1.0")])
    assert result["failed"], result
    assert "holds no uv binary (uv-<version>.data/scripts/uv)" in result["msg"]
    assert fake["installer"]["filename"] in result["msg"] and "use the pip installer" in result["msg"]
    assert not os.path.lexists(world["path"]) and _no_uv_left(world)
    # A first install that failed leaves nothing: no generations directory, no lock file (issue 26).
    assert os.listdir(os.path.dirname(world["path"])) == []


def test_a_uv_binary_that_cannot_run_here_is_refused(world):
    fake = _fake_uv_wheel(world, {"uv-0.13.9.data/scripts/uv": b"\x7fELF\x02\x01\x01" + b"\0" * 100})
    result = run(PYTHONS[-1], fake, [_wheel(world["store"], "alpha", "1.0")])
    assert result["failed"], result
    assert "cannot run on this host" in result["msg"] and "manylinux_2_17_x86_64" in result["msg"]
    assert "uv wheel for this host's platform" in result["msg"]
    assert not os.path.lexists(world["path"]) and _no_uv_left(world)


def test_an_unknown_installer_kind_is_refused(world):
    result = run(PYTHONS[-1], dict(world, installer=dict(world["installer"], kind="conda")),
                 [_wheel(world["store"], "alpha", "1.0")])
    assert result["failed"] and "installer kind 'conda'" in result["msg"] and "neither pip nor uv" in result["msg"]


def test_uv_and_pip_install_the_same_set(world, uv_world, capsys):
    """The same synthetic lock with each installer: the same distributions, both without drift (times printed)."""
    packages = [_wheel(world["store"], "pkg%02d" % number, "1.%d" % number) for number in range(20)]
    timings, holds = {}, {}
    for kind, base in (("pip", world), ("uv", uv_world)):
        target = dict(base, path=os.path.join(os.path.dirname(base["path"]), "venv-" + kind))
        start = time.monotonic()
        result = run(PYTHONS[-1], target, packages)
        timings[kind] = time.monotonic() - start
        assert result.get("failed") is None, result
        holds[kind] = installed(target)
        assert venv_module.verify_generation(result["generation"], packages, full=True) == []
    assert holds["pip"] == holds["uv"] == dict(("pkg%02d" % n, "1.%d" % n) for n in range(20))
    with capsys.disabled():
        print("\n20 synthetic wheels, ensure() end to end: pip %.2f s, uv %.2f s" % (timings["pip"], timings["uv"]))


def _tool_wheel(store):
    """A wheel with a console script and a data script: their RECORD rows point outside site-packages."""
    files = {"tool/__init__.py": b"def main():\n    print('tool')\n",
             "tool-1.0.data/scripts/rawscript": b"#!python\nprint('raw')\n",
             "tool-1.0.dist-info/METADATA": wheels.metadata_text("tool", "1.0").encode(),
             "tool-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                         b"Tag: py3-none-any\n",
             "tool-1.0.dist-info/entry_points.txt": b"[console_scripts]\ntool = tool:main\n"}

    def digest(data):
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record = "".join("%s,%s,%d\n" % (name, digest(data), len(data)) for name, data in files.items())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("tool-1.0.dist-info/RECORD", record + "tool-1.0.dist-info/RECORD,,\n")
    return dict(_add(store, "tool-1.0-py3-none-any.whl", buffer.getvalue()), name="tool", version="1.0")


@pytest.mark.parametrize("kind", ["pip", "uv"])
def test_scripts_outside_site_packages_are_verified_for_both_kinds(kind, world, uv_world):
    target = world if kind == "pip" else uv_world
    tool = _tool_wheel(target["store"])
    result = run(PYTHONS[-1], target, [tool])
    assert result.get("failed") is None, result
    with open(_dist_info_file(target, "tool", "1.0", "INSTALLER")) as handle:
        assert handle.read().strip() == kind
    assert venv_module.verify_generation(result["generation"], [tool], full=True) == []
    script = os.path.join(result["generation"], "bin", "tool")
    assert subprocess.run([script], check=True, stdout=subprocess.PIPE, text=True).stdout == "tool\n"
    with open(script, "a") as handle:
        handle.write("# tampered\n")
    assert [(f["kind"], f["file"]) for f in venv_module.verify_generation(result["generation"], [tool])] == [
        ("modified file", script)]


def test_no_configuration_of_the_host_reaches_pip(world, tmp_path):
    """Issue 26: a global pip.conf (here found through XDG_CONFIG_DIRS, as /etc/xdg/pip/pip.conf is) with a
    constraint and a find-links line, and PIP_* variables that constrain, add links and redirect the install, change
    nothing: the environment holds exactly its lock."""
    hostile = tmp_path / "hostile"
    (hostile / "pip").mkdir(parents=True)
    (hostile / "links").mkdir()
    (hostile / "constraints.txt").write_text("alpha==1.0\n")
    (hostile / "pip" / "pip.conf").write_text("[global]\nconstraint = %s\nfind-links = %s\n"
                                              % (hostile / "constraints.txt", hostile / "links"))
    env = dict(os.environ, XDG_CONFIG_DIRS=str(hostile), PIP_CONSTRAINT=str(hostile / "constraints.txt"),
               PIP_FIND_LINKS=str(hostile / "links"), PIP_TARGET=str(hostile / "elsewhere"),
               PYTHONPATH=str(hostile))
    (hostile / "pip.py").write_text("raise SystemExit('the host PYTHONPATH reached pip')\n")
    alpha = _wheel(world["store"], "alpha", "2.0")
    result = run(sys.executable, world, [alpha], env=env)
    assert not result.get("failed"), result
    assert installed(world) == {"alpha": "2.0"} and not (hostile / "elsewhere").exists()
