"""The bundle action: which hosts it bundles for (reported facts, a survey file, declared targets), how it reads
inventory variables, and its messages; the build itself runs against the in-memory index."""

import json

import pytest

from ansible_collections.airgap.pymigrate.plugins.action import bundle as bundle_action
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _manifest
from tests.unit.plugins.action.runner import run_action
from tests.unit.plugins.plugin_utils.fake_index import FakeIndexClient
from tests.unit.plugins.plugin_utils.test_bundle import RELEASES


@pytest.fixture(autouse=True)
def fake_index(monkeypatch):
    monkeypatch.setattr(bundle_action, "IndexClient", lambda *args, **kwargs: FakeIndexClient(RELEASES))


def facts_of(python):
    from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _targets
    target = _targets.target_from_declaration({"python": python})
    return {"markers": dict(target.markers), "tags": list(target.tags)}


def task_vars(hostvars):
    return {"hostvars": hostvars, "groups": {"all": sorted(hostvars)}}


def test_hosts_with_facts_or_a_declared_target_are_bundled_others_skipped(tmp_path):
    hostvars = {
        "web1": {"ansible_facts": {"pymigrate_target_facts": facts_of("3.11")},
                 "pymigrate_requirements": {"alpha": ""}},
        "web2": {"pymigrate_target": {"python": "3.12"}, "pymigrate_host_requirements": {"alpha": "==1.0"}},
        "down": {},  # unreachable during the survey: no facts
    }
    args = {"bundle_dir": str(tmp_path), "index_url": "http://index.invalid/simple/"}
    result, _module = run_action("bundle", args, task_vars(hostvars))
    assert not result.get("failed"), result.get("msg")
    manifest = _manifest.read(str(tmp_path))
    assert sorted(manifest["hosts"]) == ["web1", "web2"]
    packages = {host: manifest["profiles"][envs["default"]["profile"]]["packages"]
                for host, envs in manifest["hosts"].items()}
    assert packages == {"web1": {"alpha": "2.0", "beta": "1.0"}, "web2": {"alpha": "1.0"}}
    named, _module = run_action("bundle", dict(args, hosts=["web1", "down"]), task_vars(hostvars))
    assert named["skipped_hosts"] == ["down"]


def test_a_survey_file_replaces_live_facts(tmp_path):
    survey = tmp_path / "survey.json"
    survey.write_text(json.dumps({"format": 1, "controller": {"store_have": [], "accepted_serial": None},
                                  "hosts": {"inside1": facts_of("3.9")}}))
    args = {"bundle_dir": str(tmp_path / "b"), "index_url": "http://index.invalid/simple/", "survey_file": str(survey)}
    result, _module = run_action("bundle", args, task_vars({"inside1": {"pymigrate_requirements": {"alpha": ""}}}))
    assert not result.get("failed"), result.get("msg")
    assert list(_manifest.read(str(tmp_path / "b"))["hosts"]) == ["inside1"]


@pytest.mark.parametrize("args, hostvars, text", [
    ({"uploaded_prior_to": "last tuesday"}, {"h": {"pymigrate_target": {"python": "3.11"},
                                                   "pymigrate_requirements": {"alpha": ""}}},
     "not an ISO 8601 date or time (variable uploaded_prior_to, value 'last tuesday')"),
    ({}, {"h": {"pymigrate_target": {"python": "3.11"}, "pymigrate_requirements": {"alpha": "=>1"}}},
     "host h, variable pymigrate_requirements.alpha"),
    ({"hosts": ["ghost"]}, {}, "host is not in the inventory (host ghost"),
    ({"index_password": "p", "index_token": "t"}, {}, "mutually exclusive"),
])
def test_errors_name_host_variable_and_value(tmp_path, args, hostvars, text):
    args = dict({"bundle_dir": str(tmp_path), "index_url": "http://index.invalid/simple/"}, **args)
    result, _module = run_action("bundle", args, task_vars(hostvars))
    assert result["failed"] and text in result["msg"], result["msg"]
    assert "p" not in result.get("invocation", {}).get("module_args", {}).get("index_password", "")


@pytest.mark.parametrize("args, text", [
    ({"vulnerability_ignore": [{"id": "PYSEC-1", "expires": "2026-12-31"}]},
     "entry PYSEC-1 has no reason (variable pymigrate_vulnerability_ignore"),
    ({"vulnerability_ignore": [{"id": "PYSEC-1", "reason": "r", "expires": "31.12.2026"}]},
     "entry PYSEC-1: expires is not an ISO date (variable pymigrate_vulnerability_ignore, value '31.12.2026')"),
    ({"osv_db": "/nonexistent/all.zip"}, "the OSV database file does not exist (variable pymigrate_osv_db"),
])
def test_vulnerability_settings_are_checked_before_anything_is_read(tmp_path, args, text):
    hostvars = {"h": {"pymigrate_target": {"python": "3.11"}, "pymigrate_requirements": {"alpha": ""}}}
    args = dict({"bundle_dir": str(tmp_path), "index_url": "http://index.invalid/simple/"}, **args)
    result, _module = run_action("bundle", args, task_vars(hostvars))
    assert result["failed"] and text in result["msg"], result["msg"]


def test_an_index_without_the_json_api_fails_policy_fail_unless_unchecked_pins_are_allowed(tmp_path):
    hostvars = {"h": {"pymigrate_target": {"python": "3.11"}, "pymigrate_requirements": {"alpha": "==1.0"}}}
    args = {"bundle_dir": str(tmp_path), "index_url": "http://index.invalid/simple/", "vulnerability_policy": "fail"}
    result, _module = run_action("bundle", args, task_vars(hostvars))
    assert result["failed"] and "1 of 1 pinned version(s) could not be checked" in result["msg"], result
    assert "alpha 1.0 (" in result["msg"] and result["error_var"] == "pymigrate_vulnerability_policy"
    result, _module = run_action("bundle", dict(args, vulnerability_unchecked="allow"), task_vars(hostvars))
    assert not result.get("failed"), result.get("msg")
    (counts,) = result["vulnerabilities"]["profiles"].values()
    assert result["vulnerabilities"]["source"] == "index" and counts == {"affected": 0, "ignored": 0, "skipped": 1}
    assert [item["project"] for item in result["vulnerabilities"]["unchecked"]] == ["alpha"]


def test_hosts_with_the_same_facts_share_one_target(tmp_path, monkeypatch):
    """The bundle's worker holds each distinct tag list once, not once per host (hundreds of tags each)."""
    seen = []

    def build_bundle(inputs, settings, client, progress=None):
        seen.extend(inputs.hosts)
        return {"changed": False, "diff": {}}
    monkeypatch.setattr(bundle_action, "build_bundle", build_bundle)
    survey = {"target_facts": facts_of("3.11")}
    hostvars = {"web%d" % n: {"__pymigrate_target_facts": survey, "pymigrate_requirements": {"alpha": ""}}
                for n in range(3)}
    hostvars["web9"] = {"__pymigrate_target_facts": {"target_facts": facts_of("3.12")},
                        "pymigrate_requirements": {"alpha": ""}}
    result, _module = run_action("bundle", {"bundle_dir": str(tmp_path), "index_url": "http://index.invalid/simple/"},
                                 task_vars(hostvars))
    assert not result.get("failed"), result.get("msg")
    targets = {item.host: item.target for item in seen}
    assert targets["web0"] is targets["web1"] is targets["web2"]
    assert targets["web9"] is not targets["web0"] and targets["web9"].markers["python_version"] == "3.12"


def test_the_survey_results_of_migrate_yml_are_enough(tmp_path, monkeypatch):
    """migrate.yml registers the survey with resolve_only and compact_tags: the bundle resolves from that alone,
    and a builder host's interpreter is found in it."""
    from ansible_collections.airgap.pymigrate.plugins.module_utils import _target_facts
    from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _targets
    facts = _target_facts.collect("/", compact=True)
    kept = _target_facts.for_resolving(facts)
    assert "platform" not in kept and "tooling" not in kept and "space" not in kept
    hostvars = {"web1": {"__pymigrate_target_facts": {"target_facts": kept}, "pymigrate_requirements": {"alpha": ""}}}
    args = {"bundle_dir": str(tmp_path), "index_url": "http://index.invalid/simple/"}
    seen = []

    def build_bundle(inputs, settings, client, progress=None):
        seen.append((inputs.hosts, inputs.builders))
        return {"changed": False, "diff": {}}
    monkeypatch.setattr(bundle_action, "build_bundle", build_bundle)
    result, _module = run_action("bundle", dict(args, builders=["web1"]), task_vars(hostvars))
    assert not result.get("failed"), result.get("msg")
    (hosts, builders), = seen
    assert [item.host for item in hosts] == ["web1"] and hosts[0].target == _targets.target_from_facts(facts)
    assert builders[0].python == kept["python"]["executable"] and builders[0].target == hosts[0].target


def test_the_settings_take_every_argument_and_default_as_a_direct_build_does(tmp_path):
    """BundleSettings.from_params reads the validated arguments; with the action's defaults it equals the defaults a
    direct caller of build_bundle gets (the vulnerability and provenance checks aside, which the action always runs)."""
    import dataclasses

    from ansible_collections.airgap.pymigrate.plugins.plugin_utils._bundle import BundleSettings
    params = {name: spec.get("default") for name, spec in bundle_action.ActionModule.ARGUMENT_SPEC.items()}
    params["bundle_dir"] = str(tmp_path)
    settings = BundleSettings.from_params(params, check_mode=True)
    assert settings.check_mode and settings.vulnerabilities.policy == "report"
    assert settings.provenance.policy == "record"
    assert dataclasses.replace(settings, check_mode=False, vulnerabilities=None, provenance=None) == \
        BundleSettings(str(tmp_path))
    later = BundleSettings.from_params(dict(params, uploaded_prior_to="2025-06-01T00:00:00Z", workers=3))
    assert later.uploaded_prior_to.isoformat() == "2025-06-01T00:00:00+00:00" and later.workers == 3
