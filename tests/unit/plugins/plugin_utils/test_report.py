"""The report phase: per host and fleet-wide summaries from the results each phase registered on the host."""

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _report
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

FACTS = {"changed": False, "markers": {"python_version": "3.11"}}
CHANGES = {"added": ["idna==3.7"], "removed": [], "upgraded": ["requests 2.31.0 -> 2.32.3", "urllib3 1.26 -> 2.2"],
           "downgraded": []}


NO_DRIFT = {"lock_id": None, "serial": None, "drift": [], "reason": None}


def _install(*items):
    return {"changed": any(item.get("changed") for item in items), "results": list(items)}


def _env_result(name, path, generation, changed, changes=None, packages=None):
    return {"item": {"name": name, "path": path}, "generation": generation, "changed": changed,
            "changes": changes or {}, "packages": packages or {}}


def changed_host():
    return {
        "__pymigrate_target_facts": FACTS,
        "__pymigrate_push": {"changed": True, "sent": ["files/a.whl", "files/b.whl"], "sent_bytes": 2048},
        "__pymigrate_install": _install(
            _env_result("default", "/opt/pymigrate/venv", "g3", True, CHANGES, {"requests": "2.32.3"}),
            _env_result("tools", "/opt/tools", "g1", False)),
    }


def ok_host():
    return {
        "__pymigrate_target_facts": FACTS,
        "__pymigrate_push": {"changed": False, "sent": [], "sent_bytes": 0},
        "__pymigrate_install": _install(_env_result("default", "/opt/pymigrate/venv", "g2", False)),
    }


def test_changed_host_reports_files_sent_and_environments():
    summary = _report.host_summary("web1", changed_host())
    assert summary["status"] == "changed"
    assert summary["phase"] == "install"
    assert summary["error"] is None
    assert summary["files_sent"] == 2 and summary["bytes_sent"] == 2048
    assert summary["environments"] == {
        "default": dict(NO_DRIFT, path="/opt/pymigrate/venv", generation="g3", changed=True, changes=CHANGES,
                        packages={"requests": "2.32.3"}),
        "tools": dict(NO_DRIFT, path="/opt/tools", generation="g1", changed=False, changes={}, packages={}),
    }


def test_push_change_alone_makes_the_host_changed():
    hostvars = changed_host()
    hostvars["__pymigrate_install"] = _install(_env_result("default", "/v", "g1", False))
    assert _report.host_summary("h", hostvars)["status"] == "changed"


def test_install_change_alone_makes_the_host_changed():
    hostvars = ok_host()
    hostvars["__pymigrate_install"] = _install(_env_result("default", "/v", "g3", True))
    summary = _report.host_summary("h", hostvars)
    assert summary["status"] == "changed" and summary["files_sent"] == 0


def test_no_op_host_is_ok():
    summary = _report.host_summary("web2", ok_host())
    assert summary["status"] == "ok"
    assert summary["phase"] == "install"
    assert summary["error"] is None
    assert summary["files_sent"] == 0 and summary["bytes_sent"] == 0
    assert summary["environments"]["default"]["generation"] == "g2"
    assert summary["environments"]["default"]["changed"] is False


def test_install_without_a_loop_is_the_default_environment():
    hostvars = ok_host()
    hostvars["__pymigrate_install"] = {"changed": True, "generation": "g5", "changes": {"added": ["x==1"]}}
    summary = _report.host_summary("h", hostvars)
    assert summary["status"] == "changed"
    assert summary["environments"] == {"default": dict(NO_DRIFT, path=None, generation="g5", changed=True,
                                                       changes={"added": ["x==1"]}, packages={})}


def test_host_without_survey_result_is_unreachable():
    summary = _report.host_summary("gone", {"inventory_hostname": "gone"})
    assert summary["status"] == "unreachable"
    assert summary["phase"] is None
    assert summary["error"] == "did not reach the survey phase (unreachable or failed earlier)"
    assert summary["environments"] == {}


def test_host_that_dropped_out_before_install_failed():
    hostvars = ok_host()
    del hostvars["__pymigrate_install"]
    summary = _report.host_summary("h", hostvars)
    assert summary["status"] == "failed"
    assert summary["phase"] == "push"
    assert summary["error"] == "did not reach the install phase (unreachable or failed earlier)"


def test_failed_push():
    hostvars = changed_host()
    hostvars["__pymigrate_push"] = {"failed": True, "msg": "not enough space in /var/lib/pymigrate"}
    summary = _report.host_summary("web3", hostvars)
    assert summary["status"] == "failed"
    assert summary["phase"] == "push"
    assert summary["error"] == "push: not enough space in /var/lib/pymigrate"
    assert summary["files_sent"] == 0
    assert summary["environments"] == {}


def test_failed_without_a_message():
    hostvars = changed_host()
    hostvars["__pymigrate_push"] = {"failed": True}
    assert _report.host_summary("h", hostvars)["error"] == "push: failed"


def test_failed_loop_item_in_install():
    hostvars = ok_host()
    hostvars["__pymigrate_install"] = {"changed": False, "failed": True, "msg": "One or more items failed", "results": [
        _env_result("default", "/v", "g2", False),
        {"item": {"name": "tools", "path": "/t"}, "failed": True, "msg": "smoke import yaml failed"},
        {"item": {"name": "zz", "path": "/z"}, "failed": True, "msg": "second failure"},
    ]}
    summary = _report.host_summary("h", hostvars)
    assert summary["status"] == "failed"
    assert summary["phase"] == "install"
    assert summary["error"] == "install: smoke import yaml failed"
    assert summary["environments"] == {}


def test_unreachable_result():
    hostvars = changed_host()
    hostvars["__pymigrate_push"] = {"unreachable": True, "msg": "ssh: connect to host timed out"}
    summary = _report.host_summary("h", hostvars)
    assert summary["status"] == "unreachable"
    assert summary["phase"] == "push"
    assert summary["error"] == "push: unreachable: ssh: connect to host timed out"


def test_verify_is_optional_but_its_failure_counts():
    hostvars = ok_host()
    summary = _report.host_summary("h", hostvars)
    assert summary["status"] == "ok" and summary["error"] is None and summary["phase"] == "install"

    hostvars["__pymigrate_verify"] = {"failed": True, "msg": "sha256 mismatch for files/a.whl"}
    summary = _report.host_summary("h", hostvars)
    assert summary["status"] == "failed"
    assert summary["phase"] == "verify"
    assert summary["error"] == "verify: sha256 mismatch for files/a.whl"
    assert summary["environments"] == {}


def fleet_hostvars():
    failed = changed_host()
    failed["__pymigrate_push"] = {"failed": True, "msg": "disk full"}
    return {"web1": changed_host(), "web2": ok_host(), "zeta": failed, "alpha": {}, "db1": ok_host()}


def test_fleet_counts_and_sorted_retry_list():
    hosts = ["web1", "zeta", "web2", "alpha", "db1"]
    fleet = _report.fleet_summary(hosts, fleet_hostvars())
    assert [item["host"] for item in fleet["hosts"]] == hosts
    assert [item["status"] for item in fleet["hosts"]] == ["changed", "failed", "ok", "unreachable", "ok"]
    assert fleet["counts"] == {"changed": 1, "failed": 1, "ok": 2, "unreachable": 1}
    assert fleet["retry"] == ["alpha", "zeta"]


def test_fleet_host_missing_from_hostvars_is_unreachable():
    fleet = _report.fleet_summary(["ghost"], {})
    assert fleet["counts"] == {"unreachable": 1} and fleet["retry"] == ["ghost"]


def test_summary_lines():
    fleet = _report.fleet_summary(["web1", "zeta", "web2", "alpha"], fleet_hostvars())
    assert _report.summary_lines(fleet) == [
        "fleet: changed=1, failed=1, ok=1, unreachable=1",
        "web1: changed, 2 file(s) sent; default g3 (added idna==3.7; upgraded requests 2.31.0 -> 2.32.3, "
        "urllib3 1.26 -> 2.2), tools g1",
        "zeta: failed, 0 file(s) sent; push: disk full",
        "web2: ok, 0 file(s) sent; default g2",
        "alpha: unreachable, 0 file(s) sent; did not reach the survey phase (unreachable or failed earlier)",
    ]


def test_summary_line_without_environments_or_generation():
    summary = {"counts": {"ok": 1}, "hosts": [
        {"host": "h", "status": "ok", "files_sent": 0, "error": None, "environments": {}},
        {"host": "g", "status": "ok", "files_sent": 1, "error": None,
         "environments": {"default": {"generation": None, "changes": {}}}},
    ]}
    assert _report.summary_lines(summary) == ["fleet: ok=1", "h: ok, 0 file(s) sent; -",
                                              "g: ok, 1 file(s) sent; default -"]


def test_phases_are_those_the_run_ran():
    """deploy.yml has no survey: its hosts are judged by push and install, not called unreachable."""
    deployed = {name: {key: value for key, value in ok_host().items() if key != "__pymigrate_target_facts"}
                for name in ("h1", "h2")}
    deployed["h3"] = {}
    fleet = _report.fleet_summary(["h1", "h2", "h3"], deployed, run={"playbook": "deploy.yml"})
    assert [item["status"] for item in fleet["hosts"]] == ["ok", "ok", "unreachable"]
    assert fleet["run"] == {"playbook": "deploy.yml", "phases": ["push", "install"], "serial": None}
    assert fleet["hosts"][2]["error"] == "did not reach the push phase (unreachable or failed earlier)"


def test_drift_and_repairs_are_named_and_environments_flattened():
    hostvars = ok_host()
    hostvars["__pymigrate_push"]["serial"] = 7
    drift = [{"kind": "missing file", "distribution": "alpha", "file": "/g/alpha/__init__.py", "detail": None},
             {"kind": "extra distribution", "distribution": "evil", "file": None, "detail": "6.6"}]
    item = dict(_env_result("default", "/v", "g9", True, {}, {"alpha": "1.0"}), drift=drift,
                reason="repaired drift: ...")
    item["item"]["lock_id"] = "ab" * 32
    hostvars["__pymigrate_install"] = _install(item)
    fleet = _report.fleet_summary(["h"], {"h": hostvars})
    assert fleet["environments"] == [dict(NO_DRIFT, host="h", environment="default", path="/v", generation="g9",
                                          lock_id="ab" * 32, serial=7, changed=True, changes={},
                                          packages={"alpha": "1.0"}, drift=drift, reason="repaired drift: ...")]
    assert fleet["run"]["serial"] == 7 and fleet["hosts"][0]["status"] == "changed"
    assert _report.summary_lines(fleet)[1] == (
        "h: changed, 0 file(s) sent; default g9 (drift: extra distribution evil, missing file alpha; repaired)")


def test_the_install_names_its_environment_in_its_result_the_loop_item_is_only_a_name():
    """The install reads the host's slice itself and loops over names: its result's ``environment`` says what it
    installed (a loop item that is a dict, as the state entry point's, still does)."""
    hostvars = ok_host()
    item = dict(_env_result("default", "/ignored", "g4", True), item="default",
                environment={"name": "default", "path": "/v", "lock_id": "cd" * 32, "serial": 5, "strategy": "venv",
                             "profile": "p"})
    hostvars["__pymigrate_install"] = _install(item)
    summary = _report.host_summary("h", hostvars)
    assert summary["environments"] == {"default": dict(NO_DRIFT, path="/v", generation="g4", lock_id="cd" * 32,
                                                       serial=5, changed=True, changes={}, packages={})}
    assert summary["serial"] == 5 and summary["status"] == "changed"


# -- held hosts, rollbacks, and words that match the mode ----------------------------------------------------------
def _rollback_item(name, changed, to=True):
    item = {"environment": {"name": name, "path": "/opt/%s" % name, "lock_id": "cc" * 32, "serial": 8},
            "changed": changed, "generation": "/g/1-aaaaaaaaaaaa" if to else "/g/3-cccccccccccc",
            "changes": {"added": [], "removed": ["rich==15.0"], "upgraded": [], "downgraded": ["alpha 1.1 -> 1.0"]}
            if to else {}, "packages": {"alpha": "1.0"},
            "from": {"generation": "/g/3-cccccccccccc", "number": 3, "lock_id": "cc" * 32, "serial": 8},
            "to": {"generation": "/g/1-aaaaaaaaaaaa", "number": 1, "lock_id": "aa" * 32, "serial": 7} if to else None,
            "skipped": [{"generation": "/g/2-cccccccccccc", "number": 2,
                         "reason": "drifted: 3-cccccccccccc replaced it to repair missing file alpha"}]}
    if not to:
        item["msg"] = "nothing to roll back to from generation 3 (lock cccccccccccc, serial 8): no earlier generation"
    return item


def test_a_rollback_names_from_and_to_per_host_with_the_package_changes_and_what_it_passed_over():
    hostvars = {"web1": {"__pymigrate_rollback": _install(_rollback_item("default", True))},
                "web2": {"__pymigrate_rollback": _install(_rollback_item("default", False, to=False))}}
    fleet = _report.fleet_summary(["web1", "web2"], hostvars, {"playbook": "rollback.yml"})
    assert fleet["run"]["phases"] == ["rollback"] and fleet["counts"] == {"changed": 1, "ok": 1}
    env = fleet["hosts"][0]["environments"]["default"]
    assert (env["lock_id"], env["serial"], fleet["hosts"][0]["serial"]) == ("aa" * 32, 7, 7)  # where it went
    assert _report.summary_lines(fleet) == [
        "fleet: changed=1, ok=1",
        "web1: changed; default generation 3 (lock cccccccccccc, serial 8) -> 1 (lock aaaaaaaaaaaa, serial 7): "
        "removed rich==15.0, downgraded alpha 1.1 -> 1.0 (passed over generation 2: drifted: 3-cccccccccccc "
        "replaced it to repair missing file alpha)",
        "web2: ok; default nothing to roll back to from generation 3 (lock cccccccccccc, serial 8): no earlier "
        "generation"]
    fleet["run"]["check_mode"] = True
    assert _report.summary_lines(fleet)[1].startswith(
        "web1: would change; default would roll back from generation 3 (lock cccccccccccc, serial 8) -> 1 (lock "
        "aaaaaaaaaaaa, serial 7): would remove rich==15.0, would downgrade alpha 1.1 -> 1.0")


def test_a_held_host_is_skipped_and_said_to_be_held_and_a_recorded_hold_is_named():
    hold = {"held": {"web2": "held since 2026-11-25T15:01:02Z by rollback.yml: bad upgrade; lift it with "
                             "pymigrate_hold: false"}, "recorded": {}}
    skipped = {"__pymigrate_push": {"skipped": True, "changed": False},
               "__pymigrate_install": {"skipped": True, "results": [{"skipped": True, "item": "default"}]}}
    hostvars = {"web1": dict(ok_host(), __pymigrate_hold=hold), "web2": dict(ok_host(), __pymigrate_hold=hold,
                                                                             **skipped)}
    fleet = _report.fleet_summary(["web1", "web2"], hostvars, {"playbook": "migrate.yml"})
    assert fleet["counts"] == {"ok": 1, "held": 1} and fleet["retry"] == []
    assert fleet["hosts"][1]["environments"] == {} and fleet["hosts"][1]["held"] == hold["held"]["web2"]
    assert _report.summary_lines(fleet)[2] == "web2: held; " + hold["held"]["web2"]
    recorded = {"held": {}, "recorded": {"web1": "held since X by rollback.yml: r; lift it with pymigrate_hold: false"}}
    item = _report.host_summary("web1", {"__pymigrate_rollback": _install(_rollback_item("default", True)),
                                         "__pymigrate_hold": recorded}, ["rollback"])
    assert _report.host_line(item).endswith("; from now on held since X by rollback.yml: r; lift it with "
                                            "pymigrate_hold: false")


def test_check_mode_says_would_and_closes_with_nothing_changed():
    fleet = _report.fleet_summary(["web1", "web2"], {"web1": changed_host(), "web2": ok_host()},
                                  {"playbook": "migrate.yml", "check_mode": True})
    assert _report.summary_lines(fleet) == [
        "fleet: would change=1, ok=1",
        "web1: would change, would send 2 file(s); default g3 (would add idna==3.7; would upgrade requests 2.31.0 "
        "-> 2.32.3, urllib3 1.26 -> 2.2), tools g1",
        "web2: ok, would send 0 file(s); default g2",
        "check mode: nothing changed on any host"]


def test_a_state_report_says_how_each_host_stands_against_its_lock_and_nothing_about_sending():
    state = {"changed": True, "results": [dict(_env_result("default", "/v", "g2", True, {
        "added": ["rich==15.0.0"], "removed": ["evil==6.6"], "upgraded": ["alpha 1.0 -> 1.1"],
        "downgraded": ["beta 2.0 -> 1.0"]}))]}
    fleet = _report.fleet_summary(["web1"], {"web1": {"__pymigrate_state": state}},
                                  {"playbook": "state.yml", "document": "state"})
    assert fleet["counts"] == {"ok": 1}
    assert _report.summary_lines(fleet) == [
        "fleet: ok=1",
        "web1: ok; default g2 (behind the lock: lacks rich==15.0.0, alpha 1.0 older than the lock's 1.1; beyond "
        "the lock: holds evil==6.6, which the lock lacks, beta 2.0 newer than the lock's 1.0)"]


def test_a_state_report_names_the_serial_each_host_really_holds_not_the_bundle_s():
    # Issue 27: after a canary failed, state.yml reported every host on the new serial (the bundle's, from its loop
    # item), and the documented "hosts not on this serial" query returned nothing.
    def state(holds, changed):
        item = dict(_env_result("default", "/v", "g", changed), holds=holds)
        item["item"].update(serial=8, lock_id="new")
        return {"__pymigrate_state": {"changed": changed, "results": [item]}}
    # (a generation built from serial 5 that holds the same lock as serial 8 is on serial 8)
    hostvars = {"canary": state({"generation": "g2", "number": 2, "lock_id": "new", "serial": 5}, False),
                "web2": state({"generation": "g1", "number": 1, "lock_id": "old", "serial": 7}, True),
                "web3": state(None, True)}
    fleet = _report.fleet_summary(sorted(hostvars), hostvars, {"playbook": "state.yml", "document": "state"})
    assert [(env["host"], env["serial"], env["lock_id"]) for env in fleet["environments"]] == [
        ("canary", 8, "new"), ("web2", 7, "old"), ("web3", None, None)]
    assert [item["serial"] for item in fleet["hosts"]] == [8, 7, None]
    from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _query
    assert _query.evaluate("environments[?serial != `8`].host", fleet) == ["web2", "web3"]


def test_the_hosts_of_a_run_marked_else_those_of_the_play_else_it_says_what_it_needs():
    every = {"a": {"__pymigrate_in_run": True}, "b": {}, "c": {"__pymigrate_install": {}}}
    assert _report.run_hosts(every, ["a", "b", "c"], ["b", "c"]) == ["a"]
    every["a"] = {}
    assert _report.run_hosts(every, ["a", "b", "c"], ["b", "c"]) == ["b", "c"]
    with pytest.raises(PyMigrateError, match="import airgap.pymigrate.report after airgap.pymigrate.rollout"):
        _report.run_hosts(every, ["a", "b", "c"], ["a", "b"])


def test_known_vulnerabilities_of_what_the_hosts_hold_and_descriptions_of_what_changed():
    fleet = _report.fleet_summary(["web1", "web2"], {"web1": changed_host(), "web2": ok_host()})
    facts = {"descriptions": {("requests", "2.32.3"): "HTTP", ("idna", "3.7"): "IDNA", ("zzz", "1"): "unnamed"},
             "vulnerabilities": [{"id": "PYSEC-9", "description": "d", "recommendation": "r",
                                  "affects": [("requests", "2.32.3"), ("requests", "2.0")]}]}
    _report.add_known(fleet, facts)
    assert fleet["vulnerabilities"] == [{"id": "PYSEC-9", "description": "d", "recommendation": "r",
                                         "project": "requests", "version": "2.32.3", "hosts": ["web1"]}]
    assert fleet["packages"] == {"idna": {"3.7": "IDNA"}, "requests": {"2.32.3": "HTTP"}}
    assert _report.lock_changes({"lock": {"changes": {"web1:default": CHANGES}}, "changes": {"x": {}}}) == {
        "web1:default": CHANGES}
    assert _report.lock_changes({"skipped": True}) == {} and _report.lock_changes(None) == {}
