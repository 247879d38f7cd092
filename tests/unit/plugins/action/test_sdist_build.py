"""The sdist_build action: it sends the sdist, its build requirements and pip to the builder, runs wheel_build there
and takes the wheel back only with the sha256 the builder reported; every failure is a failed result with a message,
and nothing it made stays behind (the builder's side is stood in for; tests/integration/test_builders.py runs the real
thing over SSH)."""

import hashlib
import json
import os
from unittest import mock

import pytest

from ansible_collections.airgap.pymigrate.plugins.module_utils._store import store_relpath
from tests.unit.plugins.action.runner import make_action

WHEEL = b"wheel bytes"
WHEEL_NAME = "cext-1.0-cp311-cp311-linux_x86_64.whl"


def _put(bundle_dir, filename, data):
    relpath = store_relpath(hashlib.sha256(data).hexdigest(), filename)
    path = os.path.join(bundle_dir, relpath)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    return relpath


@pytest.fixture
def world(tmp_path):
    bundle_dir = str(tmp_path / "bundle")
    sdist = _put(bundle_dir, "cext-1.0.tar.gz", b"sdist")
    build = {"filename": "cext-1.0.tar.gz", "sdist": sdist, "sdist_sha256": sdist.split("/")[3],
             "pip": _put(bundle_dir, "pip-24.2-py3-none-any.whl", b"pip"), "build_files": [],
             "builder": "app1", "python": "/usr/bin/python3.11", "isolated": False}
    return {"bundle_dir": bundle_dir, "build": build}


def run(world, built=None, fetched=WHEEL, check_mode=False, build=None):
    action = make_action("sdist_build", {"bundle_dir": world["bundle_dir"], "build": build or world["build"]},
                         check_mode=check_mode)
    shell = action._connection._shell
    shell.join_path.side_effect = os.path.join
    seen = {"sent": [], "calls": [], "removed": [], "locals": []}

    def make_tmp_path():
        shell.tmpdir = "/tmp/ansible-tmp-1"
        return shell.tmpdir

    def fetch_file(remote, local):
        seen["locals"].append(local)
        with open(local, "wb") as handle:
            handle.write(fetched)

    def execute_module(module_name, module_args, task_vars):
        seen["calls"].append(module_args)
        return built or {"changed": True, "wheel": {"filename": WHEEL_NAME, "path": "/tmp/ansible-tmp-1/out/w.whl",
                                                    "sha256": hashlib.sha256(WHEEL).hexdigest()}}

    action._make_tmp_path = make_tmp_path
    action._remove_tmp_path = lambda path: seen["removed"].append(path) or setattr(shell, "tmpdir", None)
    action._transfer_file = lambda local, remote: seen["sent"].append(remote)
    action._fixup_perms2 = mock.MagicMock()
    action._execute_module = execute_module
    action._connection.fetch_file.side_effect = fetch_file
    return action.run(task_vars={}), seen


def test_the_wheel_comes_back_verified_and_recorded(world):
    result, seen = run(world)
    assert result["changed"] and result["wheel"]["builder"] == "app1" and not result.get("failed")
    assert seen["sent"] == ["/tmp/ansible-tmp-1/cext-1.0.tar.gz", "/tmp/ansible-tmp-1/pip-24.2-py3-none-any.whl"]
    assert seen["calls"][0]["find_links"] == "/tmp/ansible-tmp-1" and seen["removed"] == ["/tmp/ansible-tmp-1"]
    assert os.path.isfile(os.path.join(world["bundle_dir"], store_relpath(result["wheel"]["sha256"], WHEEL_NAME)))
    with open(os.path.join(world["bundle_dir"], "built", "%s.json" % world["build"]["sdist_sha256"])) as handle:
        assert json.load(handle)["wheels"] == [result["wheel"]]
    again, seen = run(world)  # recorded: the same wheel again, the builder is not contacted
    assert not again["changed"] and again["wheel"] == result["wheel"] and seen["calls"] == seen["sent"] == []


def test_a_wheel_with_other_bytes_than_reported_is_refused(world):
    result, seen = run(world, fetched=b"tampered")
    assert result["failed"] and "does not match the sha256 it reported" in result["msg"]
    assert not os.path.exists(os.path.join(world["bundle_dir"], "built"))
    assert not any(os.path.exists(path) for path in seen["locals"]) and seen["removed"] == ["/tmp/ansible-tmp-1"]


def test_a_failed_build_names_the_builder(world):
    result, seen = run(world, built={"failed": True, "msg": "pip wheel exited 1"})
    assert result["failed"] and result["msg"] == "builder app1: pip wheel exited 1"
    assert seen["removed"] == ["/tmp/ansible-tmp-1"]


@pytest.mark.parametrize("change, text", [
    ({"sdist": "../etc/passwd"}, "build is not an entry of the bundle's pending_builds"),
    ({"sdist_sha256": None}, "build is not an entry of the bundle's pending_builds: 'sdist_sha256'"),
    ({"pip": store_relpath("ab" * 32, "pip-24.2-py3-none-any.whl")}, "lacks files/sha256/ab/"),
])
def test_a_build_the_bundle_cannot_serve_fails_before_the_builder_is_contacted(world, change, text):
    build = {key: value for key, value in dict(world["build"], **change).items() if value is not None}
    result, seen = run(world, build=build)
    assert result["failed"] and text in result["msg"] and "exception" not in result
    assert seen["sent"] == seen["calls"] == seen["removed"] == []


def test_check_mode_builds_nothing(world):
    result, seen = run(world, check_mode=True)
    assert result["skipped"] and not result["changed"] and seen["calls"] == []
