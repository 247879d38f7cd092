"""_target_facts equals packaging under every interpreter this machine has (3.8+), and its helpers."""

import glob
import json
import os
import subprocess
import sys
import sysconfig

import pytest

from ansible_collections.airgap.pymigrate.plugins.module_utils import _target_facts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INTERPRETERS = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3")))
INTERPRETERS = [p for p in INTERPRETERS if int(p.split("/versions/3.")[1].split(".")[0]) >= 8] or [sys.executable]
PROBE = """
import json, sys
sys.path.insert(0, %(collections)r)
from ansible_collections.airgap.pymigrate.plugins.module_utils import _target_facts
sys.path.append(%(site)r)
from packaging.markers import default_environment
from packaging.tags import sys_tags
print(json.dumps({"ours": [_target_facts.marker_environment(), _target_facts.supported_tags()],
                  "packaging": [default_environment(), [str(t) for t in sys_tags()]],
                  "collect": _target_facts.collect("/nonexistent/dir")}))
"""


@pytest.mark.parametrize("python", INTERPRETERS, ids=lambda p: p.split("/versions/")[-1].split("/")[0])
def test_equals_packaging_under_each_interpreter(python):
    code = PROBE % {"collections": os.path.join(ROOT, ".collections"), "site": sysconfig.get_paths()["purelib"]}
    out = json.loads(subprocess.run([python, "-c", code], check=True, stdout=subprocess.PIPE, text=True).stdout)
    assert out["ours"] == out["packaging"]
    facts = out["collect"]
    json.dumps(facts)  # serialisable
    assert facts["tags"] == out["packaging"][1]
    assert facts["python"]["abi_tags"][0] == facts["tags"][0].split("-")[1]
    assert facts["space"]["measured_path"] == "/"


def test_free_space_walks_up_to_an_existing_ancestor(tmp_path):
    result = _target_facts.free_space(str(tmp_path / "a" / "b"))
    assert result["measured_path"] == str(tmp_path)
    assert result["free_bytes"] > 0


def test_os_release_parsing(tmp_path):
    path = tmp_path / "os-release"
    path.write_text('ID=alpine\nVERSION_ID="3.20.1"\nPRETTY_NAME="Alpine Linux v3.20"\n')
    expected = {"id": "alpine", "version_id": "3.20.1", "pretty_name": "Alpine Linux v3.20"}
    assert _target_facts.os_release(str(path)) == expected
    assert _target_facts.os_release(str(tmp_path / "missing")) == {"id": "", "version_id": "", "pretty_name": ""}
