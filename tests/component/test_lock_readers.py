"""The bundle's locks (and the lock directory's) as standard tools read them, not our reader: packaging.pylock
validates every pylock, the shipped uv installs one offline on a real interpreter of another patch release than the
target states, and the requirements file's own command (its header) installs with pip, offline, from any directory."""

import glob
import json
import os
import pathlib
import subprocess
import tomllib
import zipfile

import pytest
import yaml
from packaging.pylock import Pylock, is_valid_pylock_path

from tests.fleet.fixtures import ROOT

PYTHON_311 = os.path.expanduser("~/.pyenv/versions/3.11.7/bin/python3")
WHEELHOUSE = os.path.join(ROOT, "build", "wheelhouse")
# A declared target states Python 3.11 (its facts: 3.11.0); the interpreter the locks are installed on is 3.11.7.
INVENTORY = {"all": {"vars": {"pymigrate_requirements": {"netio": "", "webkit[http]": "", "fastcore": "==1.0"}},
                     "hosts": {"h1": {"pymigrate_target": {"python": "3.11", "libc_version": "2.28"}}}}}


def _python():
    if not os.path.exists(PYTHON_311):
        pytest.skip("needs pyenv's Python 3.11.7 (tests/fleet installs it)")
    return PYTHON_311


@pytest.fixture(scope="module")
def uv(tmp_path_factory):
    """The uv binary of the wheel `make dev` downloaded (the one the collection ships to hosts)."""
    found = sorted(glob.glob(os.path.join(WHEELHOUSE, "uv-*-py3-none-*.whl")))
    if not found:
        pytest.fail("no uv wheel in %s: run `make dev`" % WHEELHOUSE)
    target = tmp_path_factory.mktemp("uv")
    with zipfile.ZipFile(found[-1]) as archive:
        member = next(name for name in archive.namelist() if name.endswith("/scripts/uv"))
        path = archive.extract(member, str(target))
    os.chmod(path, 0o755)
    return path


@pytest.fixture(scope="module")
def bundle(local_index, tmp_path_factory):
    work = tmp_path_factory.mktemp("locks")
    (work / "inventory.yml").write_text(yaml.safe_dump(INVENTORY))
    argv = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", str(work / "inventory.yml"),
            "playbooks/bundle.yml", "-e", "pymigrate_index_url=" + local_index.url,
            "-e", "pymigrate_bundle_dir=" + str(work / "bundle"), "-e", "pymigrate_lock_dir=" + str(work / "lock")]
    result = subprocess.run(argv, cwd=ROOT, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg")))
    assert result.returncode == 0, result.stdout[-4000:]
    return work / "bundle"


def _venv(path):
    subprocess.run([_python(), "-m", "venv", "--without-pip", str(path)], check=True)
    return str(path / "bin" / "python")


def _installed(python):
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))")
    return json.loads(subprocess.run([python, "-c", code], check=True, stdout=subprocess.PIPE, text=True).stdout)


def _locked(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    (profile,) = manifest["profiles"].values()
    return profile


def test_every_pylock_of_the_bundle_and_of_the_lock_is_valid_pep751(bundle):
    locks = glob.glob(str(bundle / "pylock.*.toml"))
    lock_dir = glob.glob(str(bundle.parent / "lock" / "pylock.*.toml"))
    carried = glob.glob(str(bundle / "lock" / "pylock.*.toml"))  # the lock the signed archive carries
    assert locks and lock_dir and [os.path.basename(p) for p in carried] == [os.path.basename(p) for p in lock_dir]
    locks += lock_dir + carried
    for path in locks:
        assert is_valid_pylock_path(pathlib.Path(path))
        with open(path, "rb") as handle:
            lock = Pylock.from_dict(tomllib.load(handle))
        assert str(lock.requires_python) == "==3.11.*"


def test_uv_installs_the_bundle_lock_offline_on_another_patch_release(bundle, uv, tmp_path):
    profile = _locked(bundle)
    python = _venv(tmp_path / "venv")
    env = dict(os.environ, UV_NO_CONFIG="1", UV_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([uv, "pip", "install", "--offline", "--python", python, "-r",
                             str(bundle / profile["lock"])], cwd=str(tmp_path), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert result.returncode == 0, result.stdout
    assert _installed(python) == profile["packages"]


def test_the_requirements_file_s_own_command_installs_offline(bundle, tmp_path):
    profile = _locked(bundle)
    requirements = bundle / profile["requirements"]
    header = requirements.read_text().splitlines()[1]
    assert header == "# pip install --no-index --require-hashes --no-deps -r this-file"
    python = _venv(tmp_path / "venv")
    pip_wheel = next(path for path in glob.glob(str(bundle / "files" / "sha256" / "*" / "*" / "pip-*.whl")))
    command = [python, pip_wheel + "/pip"] + header[len("# pip "):].replace("this-file", str(requirements)).split()
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    result = subprocess.run(command, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout
    assert _installed(python) == profile["packages"]
