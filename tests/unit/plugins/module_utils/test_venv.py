"""The host-side checks of an installed environment against its lock (pure parts of _venv; building real
generations with pip is in tests/component/test_venv.py)."""

import base64
import hashlib
import os
import sys

from ansible_collections.airgap.pymigrate.plugins.module_utils import _venv

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


def test_lock_id_is_the_same_for_the_same_files_whatever_the_name_spelling():
    other = [{"name": "alpha-lib", "version": "1.0", "sha256": "ab" * 32}, LOCK[1]]
    assert _venv.packages_lock_id(LOCK) == _venv.packages_lock_id(list(reversed(other)))
    assert _venv.packages_lock_id(LOCK) != _venv.packages_lock_id(LOCK[:1])


def test_diff_packages_orders_versions():
    assert _venv.diff_packages({"a": "1.9", "b": "1.0"}, {"a": "1.10", "c": "2"}) == {
        "added": ["c==2"], "removed": ["b==1.0"], "upgraded": ["a 1.9 -> 1.10"], "downgraded": []}
