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


def survey_answer(host_slice, current=True, missing=()):
    """The survey's rollout_check for ``host_slice``, as target_facts reports it."""
    files = [item["path"] for item in host_slice["files"]]
    return {"target_facts": {"python": {"executable": "/usr/bin/python3"}}, "rollout_check": {
        "slice_id": host_slice["slice_id"], "verify": "size", "absent_found": [],
        "store": {"present": len(files) - len(missing), "missing": list(missing), "corrupt": [],
                  "removed_partials": []},
        "environments": [{"path": env["path"], "lock_id": env["lock_id"], "current": current,
                          "generation": env["path"] + ".generations/1", "drift": []} for env in host_slice["envs"]]}}


def test_the_hosts_the_survey_found_settled_are_decided_for_the_batch_and_kept_for_the_run(tmp_path):
    """Issue 30: a host with nothing to send, install or remove costs the rollout no push worker: the batch's hold
    task says so from the survey, with the result the push would have given (the report reads it)."""
    from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest, _registered, _report, _settled
    from tests.unit.plugins.plugin_utils.test_bundle import build, host

    build(tmp_path / "bundle", [host("web1"), host("web2"), host("web3"), host("web4")])
    bundle_dir = str(tmp_path / "bundle")
    slices = {name: _manifest.host_slice(bundle_dir, name) for name in ("web1", "web2", "web3", "web4")}
    missing = [slices["web2"]["files"][0]["path"]]
    hostvars = {"web1": {_registered.TARGET_FACTS: survey_answer(slices["web1"])},
                "web2": {_registered.TARGET_FACTS: survey_answer(slices["web2"], missing=missing)},
                "web3": {_registered.TARGET_FACTS: survey_answer(slices["web3"], current=False)},
                "web4": {"pymigrate_hold": "change board",
                         _registered.TARGET_FACTS: survey_answer(slices["web4"])}}
    args = {"hosts": sorted(hostvars), "dest": str(tmp_path / "reports"), "settle": True, "bundle_dir": bundle_dir}
    result, _module = run_action("rollout_hold", args, {"hostvars": hostvars})
    # web2 lacks a file, web3's environment does not hold its lock, web4 is held: only web1 is settled.
    assert result["settled"] == {"web1": True} and list(result["held"]) == ["web4"]
    assert not result["batch_settled"]  # so the rollout ends web1 alone, not the batch
    alone, _module = run_action("rollout_hold", dict(args, hosts=["web1"]), {"hostvars": hostvars})
    assert alone["settled"] == {"web1": True} and alone["batch_settled"]
    assert result["settled_serial"] == slices["web1"]["serial"]
    # Checked another way than the survey checked: the push asks the host itself.
    assert run_action("rollout_hold", dict(args, verify_installed="full"), {"hostvars": hostvars})[0]["settled"] == {}
    # The install's hold task of the same batch (no settle) keeps them: those hosts were ended, the report reads them.
    later, _module = run_action("rollout_hold", dict(args, settle=False),
                                {"hostvars": hostvars, _registered.HOLD: result})
    assert later["settled"] == {"web1": True} and later["settled_serial"] == result["settled_serial"]
    assert run_action("rollout_hold", dict(args, settle=False), {"hostvars": hostvars})[0]["settled"] == {}

    # The report's copy of the run: web1 has no push result (ended before it); it is rebuilt from the same answer.
    report_vars = {name: dict(values, **{_registered.HOLD: result}) for name, values in hostvars.items()}
    assert _settled.push_results_from_hold(report_vars, bundle_dir) == ["web1"]
    push = report_vars["web1"][_registered.PUSH]
    assert push["sent"] == [] and not push["changed"] and not push["asked_host"]
    assert push["slice_id"] == slices["web1"]["slice_id"] and push["present"] == len(slices["web1"]["files"])
    assert [item["environment"]["path"] for item in push["settled"]] == ["/opt/pymigrate/venv"]
    assert all(_registered.PUSH not in report_vars[name] for name in ("web2", "web3", "web4"))
    summary = _report.fleet_summary(["web1"], {"web1": report_vars["web1"]})
    assert summary["hosts"][0]["status"] == "ok" and summary["hosts"][0]["phase"] == "install"
    assert summary["hosts"][0]["environments"]["default"]["packages"]
