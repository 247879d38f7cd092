"""The host-side checks of an installed environment against its lock (pure parts of _venv; building real
generations with pip is in tests/component/test_venv.py)."""

import base64
import hashlib
import io
import json
import os
import stat
import sys
import zipfile

import pytest

from ansible_collections.airgap.pymigrate.plugins.module_utils import _store, _venv

LOCK = [{"name": "Alpha_Lib", "version": "1.0", "sha256": "ab" * 32}, {"name": "beta", "version": "2.0",
                                                                       "sha256": "cd" * 32}]


def _record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def generation(tmp_path, dists=(("alpha_lib", "1.0"), ("beta", "2.0")), python=sys.executable):
    root = tmp_path / "gen"
    site = root / "lib" / "python3.11" / "site-packages"
    (root / "bin").mkdir(parents=True)
    if python:
        os.symlink(python, root / "bin" / "python")
    for name, version in dists:
        info = site / ("%s-%s.dist-info" % (name, version))
        (site / name).mkdir(parents=True)
        info.mkdir()
        code = ("VERSION = %r\n" % version).encode()
        (site / name / "__init__.py").write_bytes(code)
        (info / "RECORD").write_text("%s/__init__.py,%s,%d\n%s/RECORD,,\n"
                                     % (name, _record_hash(code), len(code), info.name))
    return root, site


def kinds(findings):
    return [(f["kind"], f["distribution"]) for f in findings]


def test_an_environment_that_holds_its_lock_has_no_findings(tmp_path):
    root, _site = generation(tmp_path)
    assert _venv.verify_generation(str(root), LOCK) == []
    assert _venv.verify_generation(str(root), LOCK, full=True) == []


def test_missing_modified_extra_and_wrong_versions_are_found(tmp_path):
    root, site = generation(tmp_path, dists=(("alpha_lib", "1.0"), ("beta", "2.1"), ("evil", "6.6")))
    (site / "alpha_lib" / "__init__.py").unlink()
    assert kinds(_venv.verify_generation(str(root), LOCK)) == [
        ("extra distribution", "evil"), ("missing file", "alpha-lib"), ("wrong version", "beta")]
    (site / "alpha_lib" / "__init__.py").write_bytes(b"VERSION = '9.9'\n")  # same size, other bytes
    assert kinds(_venv.verify_generation(str(root), LOCK)) == [("extra distribution", "evil"),
                                                               ("wrong version", "beta")]
    found = _venv.verify_generation(str(root), LOCK, full=True)
    assert ("modified file", "alpha-lib") in kinds(found)
    assert [f["detail"] for f in found if f["kind"] == "wrong version"] == ["2.1, the lock says 2.0"]


def test_a_missing_distribution_and_a_broken_interpreter(tmp_path):
    root, _site = generation(tmp_path, dists=(("alpha_lib", "1.0"),), python="/nonexistent/python3")
    findings = _venv.verify_generation(str(root), LOCK)
    assert kinds(findings) == [("broken interpreter", None), ("missing distribution", "beta")]
    text = _venv.describe_findings(findings)
    assert text.startswith("broken interpreter %s/bin/python; missing distribution beta (2.0)" % root)
    assert _venv.describe_findings(findings * 4, limit=2).endswith("and 6 more")


def test_a_link_to_the_running_interpreter_is_not_started_again_another_one_is(tmp_path, monkeypatch):
    started = []
    real_call = _venv.subprocess.call
    monkeypatch.setattr(_venv.subprocess, "call", lambda argv, **kw: started.append(argv[0]) or real_call(argv, **kw))
    root, _site = generation(tmp_path)  # bin/python -> sys.executable
    assert _venv.verify_generation(str(root), LOCK) == [] and started == []
    other = tmp_path / "other-python"
    other.write_text("#!/bin/sh\nexit 3\n")  # an interpreter that does not start
    other.chmod(0o755)
    os.unlink(root / "bin" / "python")
    os.symlink(other, root / "bin" / "python")
    assert kinds(_venv.verify_generation(str(root), LOCK)) == [("broken interpreter", None)]
    assert started == [str(root / "bin" / "python")]


def test_lock_id_is_the_same_for_the_same_files_whatever_the_name_spelling():
    other = [{"name": "alpha-lib", "version": "1.0", "sha256": "ab" * 32}, LOCK[1]]
    assert _venv.packages_lock_id(LOCK) == _venv.packages_lock_id(list(reversed(other)))
    assert _venv.packages_lock_id(LOCK) != _venv.packages_lock_id(LOCK[:1])


def test_diff_packages_orders_versions():
    assert _venv.diff_packages({"a": "1.9", "b": "1.0"}, {"a": "1.10", "c": "2"}) == {
        "added": ["c==2"], "removed": ["b==1.0"], "upgraded": ["a 1.9 -> 1.10"], "downgraded": []}


# -- installer kind uv: the pure parts (building real generations with the uv wheel is in tests/component) --
UV_WHEEL = "uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"


def test_installer_kind_defaults_to_pip_and_refuses_others():
    assert _venv.installer_kind({"filename": "pip-24.2-py3-none-any.whl"}) == "pip"
    assert _venv.installer_kind({"filename": "pip-24.2-py3-none-any.whl", "kind": None}) == "pip"
    assert _venv.installer_kind({"filename": UV_WHEEL, "kind": "uv"}) == "uv"
    with pytest.raises(_venv.VenvError, match="installer kind 'conda' of x.whl is neither pip nor uv"):
        _venv.installer_kind({"filename": "x.whl", "kind": "conda"})


def test_the_uv_binary_member_and_the_wheel_platform():
    names = ["uv/__init__.py", "uv-0.13.9.data/scripts/uvx", "uv-0.13.9.data/scripts/uv", "uv-0.13.9.dist-info/RECORD"]
    assert _venv.uv_binary_member(names, UV_WHEEL, "/store") == "uv-0.13.9.data/scripts/uv"
    for bad in (["uv/__init__.py", "uv-0.13.9.data/scripts/uvx"], ["x/uv-0.13.9.data/scripts/uv"]):
        with pytest.raises(_venv.VenvError, match=r"holds no uv binary .* not the uv wheel from the package index"):
            _venv.uv_binary_member(bad, UV_WHEEL, "/store")
    assert _venv.wheel_platform(UV_WHEEL) == "manylinux_2_17_x86_64.manylinux2014_x86_64"
    assert _venv.wheel_platform("uv-0.13.9-py3-none-macosx_11_0_arm64.whl") == "macosx_11_0_arm64"
    assert _venv.wheel_platform("not-a-wheel") == "unknown"


def test_the_uv_command_lines_are_offline_configless_cacheless_and_exact():
    install = _venv.uv_install_command("/t/uv", "/g/bin/python", "/g/req.txt")
    assert install[:3] == ["/t/uv", "pip", "install"]
    assert install[install.index("--python") + 1] == "/g/bin/python"
    assert install[install.index("-r") + 1] == "/g/req.txt"
    assert install[install.index("--link-mode") + 1] == "hardlink"
    for flag in ("--no-index", "--no-deps", "--require-hashes", "--no-build", "--no-config", "--offline", "--no-cache",
                 "--no-python-downloads"):
        assert flag in install
    assert "--compile-bytecode" not in install
    check = _venv.uv_check_command("/t/uv", "/g/bin/python")
    assert check[:5] == ["/t/uv", "pip", "check", "--python", "/g/bin/python"]
    assert {"--no-config", "--offline", "--no-cache"} <= set(check)


def test_the_uv_environment_drops_every_uv_setting():
    env = _venv.uv_environment({"PATH": "/usr/bin", "UV_INDEX_URL": "http://evil", "UV_COMPILE_BYTECODE": "1",
                                "UV_CACHE_DIR": "/root/.cache", "VIRTUAL_ENV": "/other", "LANG": "C"}, "/t")
    assert env == {"PATH": "/usr/bin", "LANG": "C", "UV_NO_CONFIG": "1", "UV_OFFLINE": "1",
                   "UV_PYTHON_DOWNLOADS": "never", "TMPDIR": "/t"}


def _uv_env(tmp_path, script=b"#!/bin/sh\necho uv 0.13.9\n", members=None):
    env = _venv.Environment(str(tmp_path / "app" / "venv"), str(tmp_path / "store"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in (members or {"uv-0.13.9.data/scripts/uv": script}).items():
            archive.writestr(name, data)
    data = buffer.getvalue()
    installer = {"filename": UV_WHEEL, "sha256": hashlib.sha256(data).hexdigest(), "kind": "uv"}
    path = env.store_path(installer["sha256"], UV_WHEEL)
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as handle:
        handle.write(data)
    _venv._makedirs_private(env.generations_dir)
    return env, installer


def test_the_uv_binary_is_private_while_used_and_gone_afterwards(tmp_path):
    env, installer = _uv_env(tmp_path)
    stale = os.path.join(env.generations_dir, _venv.UV_TOOL_PREFIX + "killed")
    os.makedirs(stale)  # left by a run that was killed: removed (the caller holds the environment's lock)
    with env._uv_tool(installer) as (binary, tool_dir):
        assert os.path.dirname(tool_dir) == env.generations_dir and os.path.dirname(binary) == tool_dir
        assert stat.S_IMODE(os.stat(tool_dir).st_mode) == 0o700 and stat.S_IMODE(os.stat(binary).st_mode) == 0o755
        assert os.listdir(env.generations_dir) == [os.path.basename(tool_dir)]
        assert env.generations() == []  # never taken for a generation
    assert os.listdir(env.generations_dir) == []
    with pytest.raises(RuntimeError):
        with env._uv_tool(installer):
            raise RuntimeError("the build failed")
    assert os.listdir(env.generations_dir) == []


def test_a_uv_binary_that_fails_or_a_wheel_that_is_no_zip_is_refused_and_cleaned_up(tmp_path):
    env, installer = _uv_env(tmp_path, script=b"#!/bin/sh\necho 'GLIBC_2.99 not found' >&2\nexit 1\n")
    with pytest.raises(_venv.VenvError, match=r"does not run on this host .*exited 1: GLIBC_2.99 not found; rebuild"):
        with env._uv_tool(installer):
            pass
    assert os.listdir(env.generations_dir) == []
    with open(env.store_path(installer["sha256"], UV_WHEEL), "wb") as handle:
        handle.write(b"not a zip")
    with pytest.raises(_venv.VenvError, match=r"%s in the store .* is not a readable wheel" % UV_WHEEL):
        with env._uv_tool(installer):
            pass
    assert os.listdir(env.generations_dir) == []


def test_pip_reads_no_configuration_of_the_host():
    install = _venv.pip_install_command("/g/bin/python", "/s/pip.whl/pip", "/g/req.txt")
    assert install[:4] == ["/g/bin/python", "-E", "/s/pip.whl/pip", "install"]
    assert install[install.index("-r") + 1] == "/g/req.txt"
    for flag in ("--isolated", "--no-index", "--no-deps", "--require-hashes", "--no-compile", "--no-cache-dir"):
        assert flag in install
    check = _venv.pip_check_command("/g/bin/python", "/s/pip.whl/pip")
    assert check[:4] == ["/g/bin/python", "-E", "/s/pip.whl/pip", "check"] and "--isolated" in check
    env = _venv.pip_environment({"PATH": "/usr/bin", "PIP_CONSTRAINT": "/etc/c.txt", "PIP_FIND_LINKS": "/opt/w",
                                 "PIP_CONFIG_FILE": "/etc/evil.conf", "VIRTUAL_ENV": "/other", "LANG": "C"})
    assert env == {"PATH": "/usr/bin", "LANG": "C", "PIP_CONFIG_FILE": os.devnull}


def test_a_first_install_that_fails_leaves_no_generations_directory_or_lock_file(tmp_path):
    """Issue 26: a failed environment left an empty .venv.generations and a lock file behind."""
    path = str(tmp_path / "tools" / "venv")
    package = {"name": "alpha", "version": "1.0", "filename": "alpha-1.0-py3-none-any.whl", "sha256": "a" * 64}
    installer = {"filename": "pip-24.2-py3-none-any.whl", "sha256": "b" * 64}
    with pytest.raises(_venv.VenvError, match="is missing from the store"):
        _venv.ensure(path, sys.executable, str(tmp_path / "store"), [package], installer)
    assert os.listdir(str(tmp_path / "tools")) == []


# -- rollback: to the newest earlier generation fit to go back to ------------------------------------------------
def _generation(base, number, lock_id, dists=(("alpha", "1.0"),), python=sys.executable, **record):
    """A generation directory of the environment base/app/venv, with its record (as build() writes it)."""
    root, _site = generation(base / ("g%d" % number), dists=dists, python=python)
    target = base / "app" / ".venv.generations" / ("%d-%s" % (number, lock_id[:12]))
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(root, target)
    record = dict({"lock_id": lock_id, "serial": number + 10, "packages": dict(dists)}, **record)
    (target / _venv.GENERATION_FILE).write_text(json.dumps(record))
    return str(target)


def test_a_rollback_passes_over_the_same_lock_a_drifted_a_broken_and_an_unfinished_generation(tmp_path):
    first = _generation(tmp_path, 1, "a" * 64)
    _generation(tmp_path, 2, "b" * 64, python="/nonexistent/python3")  # its interpreter is gone
    unfinished = _generation(tmp_path, 3, "e" * 64)
    os.unlink(os.path.join(unfinished, _venv.GENERATION_FILE))
    _generation(tmp_path, 4, "d" * 64, drift="missing file alpha /x", replaced_by="5-cccccccccccc")
    _generation(tmp_path, 5, "c" * 64, dists=(("alpha", "1.1"),))
    current = _generation(tmp_path, 6, "c" * 64, dists=(("alpha", "1.1"), ("rich", "15.0")))
    path = str(tmp_path / "app" / "venv")
    os.symlink(current, path)

    predicted = _venv.rollback(path, check_mode=True)
    assert os.path.realpath(path) == current and predicted["changed"]
    result = _venv.rollback(path)
    assert os.path.realpath(path) == first and result["generation"] == first
    assert [(item["number"], item["reason"].split(":")[0]) for item in result["skipped"]] == [
        (5, "built from the same lock as the current generation (lock cccccccccccc)"), (4, "drifted"),
        (3, "incomplete"), (2, "does not verify clean")]
    assert "broken interpreter" in result["skipped"][-1]["reason"]
    assert result["from"] == {"generation": current, "number": 6, "lock_id": "c" * 64, "serial": 16}
    assert result["to"] == {"generation": first, "number": 1, "lock_id": "a" * 64, "serial": 11}
    assert result["changes"] == {"added": [], "removed": ["rich==15.0"], "upgraded": [],
                                 "downgraded": ["alpha 1.1 -> 1.0"]}
    assert result["msg"].startswith("generation 6 (lock cccccccccccc, serial 16) -> 1 (lock aaaaaaaaaaaa, serial 11); "
                                    "passed over generation 5: built from the same lock")


def test_a_rollback_with_nothing_fit_to_go_back_to_changes_nothing_and_says_why(tmp_path):
    _generation(tmp_path, 1, "c" * 64)
    current = _generation(tmp_path, 2, "c" * 64)  # a repair of the first: the same lock
    path = str(tmp_path / "app" / "venv")
    os.symlink(current, path)
    result = _venv.rollback(path)
    assert not result["changed"] and result["to"] is None and os.path.realpath(path) == current
    assert result["msg"] == ("nothing to roll back to from generation 2 (lock cccccccccccc, serial 12): generation 1: "
                             "built from the same lock as the current generation (lock cccccccccccc)")
    os.unlink(path)
    os.symlink(_generation(tmp_path, 3, "f" * 64, serial=None), path)
    os.unlink(os.path.join(str(tmp_path / "app" / ".venv.generations"), "1-cccccccccccc", _venv.GENERATION_FILE))
    older = _venv.rollback(path)  # a rollback goes back, never forward: nothing older than generation 1 here
    assert older["to"]["number"] == 2 and older["from"]["serial"] is None
    assert _venv.rollback(path)["msg"].startswith("nothing to roll back to from generation 2")


def test_a_repair_marks_the_generation_it_replaced_as_drifted(tmp_path):
    replaced = _generation(tmp_path, 1, "a" * 64)
    env = _venv.Environment(str(tmp_path / "app" / "venv"))
    env.mark_drifted(replaced, [{"kind": "missing file", "distribution": "alpha", "file": "/x", "detail": None}],
                     "/somewhere/2-aaaaaaaaaaaa")
    record = env.record(replaced)
    assert record["drift"] == "missing file alpha /x" and record["replaced_by"] == "2-aaaaaaaaaaaa"
    assert env._unfit(replaced, "b" * 64, False).startswith("drifted: 2-aaaaaaaaaaaa replaced it to repair missing")


def test_the_install_hashes_only_store_files_not_hashed_since_they_were_written(tmp_path, monkeypatch):
    store = tmp_path / "store"
    files = []
    for name, data in (("alpha_lib-1.0-py3-none-any.whl", b"alpha"), ("uv-0.1-py3-none-any.whl", b"uv")):
        sha = hashlib.sha256(data).hexdigest()
        path = store / _store.store_relpath(sha, name)
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        files.append({"name": name.split("-", maxsplit=1)[0], "filename": name, "sha256": sha, "size": len(data),
                      "path": path})
    hashed = []
    real_sha256 = _venv.file_sha256
    monkeypatch.setattr(_venv, "file_sha256", lambda path: hashed.append(os.path.basename(path)) or real_sha256(path))
    env = _venv.Environment(str(tmp_path / "venv"), store_dir=str(store))
    env.verify_files(files[:1], files[1])  # never hashed: both are
    assert hashed == [files[0]["filename"], files[1]["filename"]]
    # The push's check hashes them and records it: the install trusts that (the installer hashes them again).
    _store.compare(str(store), [{"path": _store.store_relpath(f["sha256"], f["filename"]), "sha256": f["sha256"],
                                 "size": f["size"]} for f in files], repair=True)
    hashed.clear()
    env.verify_files(files[:1], files[1])
    assert hashed == []
    files[0]["path"].write_bytes(b"ALPHA")  # written since: hashed, and refused
    with pytest.raises(_venv.VenvError, match="has sha256 [0-9a-f]{64}, expected"):
        env.verify_files(files[:1], files[1])
    assert hashed == [files[0]["filename"]]
