"""_settled: the push decides once whether a host has anything left to install or remove; the install's no-op result
is the one the module would give; the report reads a settled host's environments as if the install had run."""

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _registered, _report, _settled

LOCK = "ab" * 32
PACKAGES = [{"name": "Alpha_Beta", "version": "1.0", "filename": "alpha-1.0-py3-none-any.whl", "sha256": "cd" * 32}]
KNOWN = {"path": "/opt/pymigrate/venv", "lock_id": LOCK, "current": True,
         "generation": "/opt/pymigrate/.venv.generations/1-abababababab", "drift": []}
ENV = {"name": "default", "path": "/opt/pymigrate/venv", "lock_id": LOCK, "serial": 3, "packages": PACKAGES,
       "known_state": KNOWN}


def test_a_host_whose_environments_hold_their_locks_is_settled():
    results = _settled.settled([ENV], [], None)
    assert len(results) == 1 and not results[0]["changed"] and results[0]["installed"] == {"alpha-beta": "1.0"}
    assert {key: results[0]["environment"][key] for key in ("name", "path", "lock_id", "serial")} == {
        "name": "default", "path": "/opt/pymigrate/venv", "lock_id": LOCK, "serial": 3}
    assert "packages" not in results[0]["environment"]  # what names it, as the install's own result
    assert _settled.settled([], [], None) == []  # no environment: nothing to install either


def test_anything_left_to_do_is_not_settled():
    for known in (dict(KNOWN, lock_id="00" * 32), dict(KNOWN, current=False), dict(KNOWN, drift=[{"kind": "x"}]),
                  {"path": ENV["path"], "error": "not ours"}, None):
        assert _settled.settled([dict(ENV, known_state=known)], [], None) is None, known
    assert _settled.settled([dict(ENV, strategy="image")], [], None) is None  # image_install always runs
    # Environments marked absent: settled only when the survey of this slice found none of them on the host.
    assert _settled.settled([ENV], ["/opt/old"], None) is None
    assert _settled.settled([ENV], ["/opt/old"], ["/opt/old"]) is None
    assert _settled.settled([ENV], ["/opt/old"], []) is not None


def test_the_survey_answers_for_its_own_slice_only():
    task_vars = {_registered.TARGET_FACTS: {"rollout_check": {"slice_id": "s1", "absent_found": []}}}
    assert _settled.found_by_survey(task_vars, {"slice_id": "s1"}) == []
    assert _settled.found_by_survey(task_vars, {"slice_id": "s2"}) is None
    assert _settled.found_by_survey({}, {"slice_id": "s1"}) is None


def test_the_report_reads_a_settled_host_as_installed_unchanged():
    push = {"changed": False, "sent": [], "sent_bytes": 0, "serial": 3, "settled": _settled.settled([ENV], [], None)}
    ended = {_registered.TARGET_FACTS: {"changed": False}, _registered.PUSH: push}
    installed = {_registered.TARGET_FACTS: {"changed": False}, _registered.PUSH: dict(push, settled=None),
                 _registered.INSTALL: {"changed": False, "results": push["settled"]}}
    summary = _report.fleet_summary(["a", "b"], {"a": ended, "b": installed})
    by_host = {item["host"]: item for item in summary["hosts"]}
    assert by_host["a"]["status"] == by_host["b"]["status"] == "ok"
    assert by_host["a"]["environments"] == by_host["b"]["environments"]
    assert by_host["a"]["environments"]["default"]["packages"] == {"alpha-beta": "1.0"}
    # A push that is not settled and no install: the host dropped out before the install.
    dropped = _report.host_summary("c", {_registered.TARGET_FACTS: {}, _registered.PUSH: dict(push, settled=None)},
                                   ("survey", "push", "install"))
    assert dropped["status"] == "failed"
