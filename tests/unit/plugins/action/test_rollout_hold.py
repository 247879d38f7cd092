"""The rollout_hold action: held hosts of the batch, holds recorded after a rollback, lifted with false."""

import json

from tests.unit.plugins.action.runner import run_action


def test_query_record_and_lift(tmp_path):
    dest = str(tmp_path / "reports")
    hostvars = {"web1": {}, "web2": {"pymigrate_hold": True}, "web3": {"pymigrate_hold": "change board"}}
    args = {"hosts": ["web1", "web2", "web3"], "dest": dest, "state": "recorded", "playbook": "rollback.yml"}
    recorded, _module = run_action("rollout_hold", args, {"hostvars": hostvars}, check_mode=True)
    assert recorded["changed"] and sorted(recorded["recorded"]) == ["web2", "web3"] and recorded["held"] == {}
    assert "would be recorded as held: web2, web3" in recorded["msg"] and not (tmp_path / "reports").exists()
    run_action("rollout_hold", args, {"hostvars": hostvars})
    holds = json.loads((tmp_path / "reports" / "holds.json").read_text())["holds"]
    assert holds["web2"]["reason"] == "held after a rollback" and holds["web3"]["reason"] == "change board"

    later = {"web1": {}, "web2": {}, "web3": {"pymigrate_hold": False}}  # the variables gone, web3 lifted
    query, _module = run_action("rollout_hold", {"hosts": ["web1", "web2", "web3"], "dest": dest}, {"hostvars": later})
    assert list(query["held"]) == ["web2"] and query["lifted"] == ["web3"] and query["changed"]
    assert "held since" in query["held"]["web2"] and "by rollback.yml: held after a rollback" in query["held"]["web2"]
    assert list(json.loads((tmp_path / "reports" / "holds.json").read_text())["holds"]) == ["web2"]
    again, _module = run_action("rollout_hold", {"hosts": ["web1"], "dest": dest}, {"hostvars": later})
    assert again == dict(again, changed=False, held={}, msg="no host is held")
