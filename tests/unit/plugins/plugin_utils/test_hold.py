"""Holds: which hosts a rollout skips (pymigrate_hold, or a hold a rollback recorded), and how one is lifted."""

import json

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _hold
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

RECORDED = {"web3": {"reason": "bad upgrade", "since": "2026-11-25T15:01:02Z", "playbook": "rollback.yml"},
            "web4": {"reason": "x", "since": "2026-11-25T15:01:02Z", "playbook": "rollback.yml"}}


def test_a_variable_or_a_recorded_hold_holds_and_false_lifts():
    values = {"web1": None, "web2": True, "web3": None, "web4": False, "web5": "waiting for the change board",
              "web6": "no"}
    held, lifted = _hold.decide(values, RECORDED)
    assert sorted(held) == ["web2", "web3", "web5"] and lifted == ["web4"]
    assert held["web3"] == ("held since 2026-11-25T15:01:02Z by rollback.yml: bad upgrade; lift it with "
                            "pymigrate_hold: false")
    assert held["web2"].startswith("held: pymigrate_hold is true for this host")
    assert held["web5"].startswith("held: waiting for the change board (pymigrate_hold)")
    with pytest.raises(PyMigrateError, match="true, false or a reason .*host web1.*pymigrate_hold"):
        _hold.decide({"web1": 3}, {})


def test_holds_are_recorded_and_lifted_in_one_file(tmp_path):
    assert _hold.read(str(tmp_path)) == {}
    _hold.update(str(tmp_path), RECORDED, [])
    assert _hold.update(str(tmp_path), {}, ["web4", "nowhere"]) == {"web3": RECORDED["web3"]}
    document = json.loads((tmp_path / "holds.json").read_text())
    assert document == {"format": 1, "holds": {"web3": RECORDED["web3"]}}
    (tmp_path / "holds.json").write_text("{damaged")
    with pytest.raises(PyMigrateError, match="cannot read the holds"):
        _hold.read(str(tmp_path))
