"""venv_install logic on this machine: generations, atomic switch, no-op re-runs, rollback, failures that
leave the current generation untouched. Runs the host-side code under several interpreters."""

import hashlib
import json
import os
import subprocess
import sys

import pytest

from tests.index import catalog, wheels

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, ".collections")
PYTHONS = [p for p in (os.path.expanduser("~/.pyenv/versions/3.8.18/bin/python3"),
                       os.path.expanduser("~/.pyenv/versions/3.13.0/bin/python3")) if os.path.exists(p)] or [sys.executable]

DRIVER = """
import json, sys
sys.path.insert(0, %r)
from ansible_collections.airgap.pymigrate.plugins.module_utils import _venv as venv
args = json.loads(sys.argv[1])
try:
    if args.pop("rollback", False):
        print(json.dumps(venv.rollback(args["path"])))
    else:
        print(json.dumps(venv.ensure(**args)))
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
    item = _add(store, wheels.wheel_filename(name, version, ["py3-none-any"]), wheels.wheel_bytes(name, version, ["py3-none-any"], meta))
    return dict(item, name=name, version=version)


@pytest.fixture
def world(tmp_path):
    store = str(tmp_path / "store")
    pip = catalog.bundled_pip_wheel()
    with open(pip, "rb") as handle:
        installer = _add(store, os.path.basename(pip), handle.read())
    return {"store": store, "installer": installer, "path": str(tmp_path / "app" / "venv")}


def run(python, world, packages, **extra):
    args = dict(path=world["path"], python=python, store_dir=world["store"], packages=packages,
                installer=world["installer"], **extra)
    out = subprocess.run([python, "-c", DRIVER % COLLECTIONS, json.dumps(args)], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    return json.loads(out)


def installed(world):
    code = "import importlib.metadata as m, json; print(json.dumps(sorted((d.metadata['Name'].lower(), d.version) for d in m.distributions())))"
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
