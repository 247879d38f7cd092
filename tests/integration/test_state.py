"""The fleet's true state over real SSH: installed environments verified against their locks, drift repaired,
reported or failed; state.yml answers JMESPath queries; a --limit run keeps the rest of the fleet in the bundle;
two runs at once each deploy what they built and report the truth."""

import glob
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest
import yaml

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._record import RUN_ID
from tests.fleet.fixtures import ROOT, ansible

pytestmark = pytest.mark.fleet

VENV = "/opt/state/venv"
VERSIONS = ("import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))")


@pytest.fixture(scope="module")
def world(fleet, local_index, tmp_path_factory):
    base = tmp_path_factory.mktemp("state")
    second = fleet.hosts[1]["name"]
    inventory = {"all": {"vars": {
        "pymigrate_index_url": local_index.url, "pymigrate_bundle_dir": str(base / "bundle"),
        "pymigrate_lock_dir": str(base / "lock"),
        "pymigrate_report_dir": str(base / "reports"), "pymigrate_venv_path": VENV,
        "pymigrate_requirements": {"alpha": "==1.0"}, "pymigrate_smoke_imports": ["alpha"],
        "pymigrate_serial": ["100%"], "pymigrate_max_fail_percentage": 100,
    }, "hosts": {second: {"pymigrate_host_requirements": {"alpha": "==1.1"}}}}}
    path = base / "vars.yml"
    path.write_text(yaml.safe_dump(inventory))
    world = {"base": base, "vars": str(path), "second": second, "victim": fleet.hosts[2]["name"]}
    run(fleet, world, "playbooks/migrate.yml")
    return world


def run(fleet, world, playbook, *args, check=True):
    return ansible(["ansible-playbook", "-i", world["vars"], playbook] + list(args), fleet.inventory, check=check)


def summary(world, name="summary.json"):
    return json.loads((world["base"] / "reports" / name).read_text())


def by_host(document):
    return {item["host"]: item for item in document["hosts"]}


def imports(fleet, host):
    return fleet.exec(host, [VENV + "/bin/python", "-c", "import alpha"]).returncode == 0


def site_packages(fleet, host):
    out = fleet.exec(host, ["sh", "-c", "ls -d %s/lib/python3*/site-packages" % VENV], check=True).stdout
    return out.split()[0]


def generation(fleet, host):
    return fleet.exec(host, ["readlink", "-f", VENV], check=True).stdout.strip()


def test_drift_is_reported_failed_or_repaired(fleet, world):
    victim = world["victim"]
    fleet.exec(victim, ["rm", "-r", site_packages(fleet, victim) + "/alpha"], check=True)
    assert not imports(fleet, victim)
    before = generation(fleet, victim)

    run(fleet, world, "playbooks/migrate.yml", "-e", "pymigrate_drift_action=report")
    env = by_host(summary(world))[victim]["environments"]["default"]
    assert by_host(summary(world))[victim]["status"] == "ok"
    assert {(d["kind"], d["distribution"]) for d in env["drift"]} == {("missing file", "alpha")}
    assert generation(fleet, victim) == before and not imports(fleet, victim)  # report changes nothing

    failed = run(fleet, world, "playbooks/migrate.yml", "-e", "pymigrate_drift_action=fail", check=False)
    assert failed.returncode != 0
    report = summary(world)
    assert report["retry"] == [victim] and by_host(report)[victim]["status"] == "failed"
    assert "does not hold what its lock says: missing file alpha" in by_host(report)[victim]["error"]
    assert all(item["status"] == "ok" for item in report["hosts"] if item["host"] != victim)

    run(fleet, world, "playbooks/migrate.yml")  # repair, the default
    report = summary(world)
    assert by_host(report)[victim]["status"] == "changed" and report["retry"] == []
    assert by_host(report)[victim]["environments"]["default"]["reason"].startswith("repaired drift: missing file")
    assert generation(fleet, victim) != before and imports(fleet, victim)
    assert all(item["status"] == "ok" for item in report["hosts"] if item["host"] != victim)


def test_a_broken_interpreter_and_an_extra_distribution_are_repaired(fleet, world):
    victim = world["victim"]
    fleet.exec(victim, ["rm", VENV + "/bin/python"], check=True)
    run(fleet, world, "playbooks/migrate.yml")
    env = by_host(summary(world))[victim]["environments"]["default"]
    assert [d["kind"] for d in env["drift"]] == ["broken interpreter"] and imports(fleet, victim)

    # Installed by hand into the environment (as `pip install` would leave it): a distribution the lock lacks.
    info = site_packages(fleet, victim) + "/evil-6.6.dist-info"
    fleet.exec(victim, ["sh", "-c", "mkdir %s"
                        " && printf 'Metadata-Version: 2.1\\nName: evil\\nVersion: 6.6\\n' > %s/METADATA"
                        " && printf 'evil-6.6.dist-info/METADATA,,\\n' > %s/RECORD" % (info, info, info)], check=True)
    run(fleet, world, "playbooks/migrate.yml", "-e", "pymigrate_drift_action=report")
    env = by_host(summary(world))[victim]["environments"]["default"]
    assert [(d["kind"], d["distribution"]) for d in env["drift"]] == [("extra distribution", "evil")]
    assert env["packages"]["evil"] == "6.6"
    run(fleet, world, "playbooks/migrate.yml")
    held = json.loads(fleet.exec(victim, [VENV + "/bin/python", "-c", VERSIONS], check=True).stdout)
    assert "evil" not in held and held["alpha"] == "1.0"


def test_state_answers_version_queries(fleet, world):
    query = "environments[?packages.alpha && version_lt(packages.alpha, '1.1')].host"
    result = run(fleet, world, "playbooks/state.yml", "--check", "-e", json.dumps({"pymigrate_query": query}))
    expected = sorted(h["name"] for h in fleet.hosts if h["name"] != world["second"])
    answer = json.loads((world["base"] / "reports" / "query.json").read_text())
    assert answer["query"] == query and sorted(answer["result"]) == expected
    assert all("changed=0" in line for line in result.stdout.split("PLAY RECAP")[1].splitlines() if "ok=" in line)
    state = summary(world, "state.json")
    assert state["run"]["playbook"] == "state.yml" and state["counts"] == {"ok": len(fleet.hosts)}
    assert all(env["drift"] == [] and env["serial"] == state["run"]["serial"] for env in state["environments"])
    run(fleet, world, "playbooks/state.yml", "-e",
        json.dumps({"pymigrate_query": "environments[?version_ge(packages.alpha, '1.1')].host"}))
    assert json.loads((world["base"] / "reports" / "query.json").read_text())["result"] == [world["second"]]
    runs = [p for p in glob.glob(str(world["base"] / "reports" / "*"))
            if os.path.isdir(p) and not os.path.islink(p) and RUN_ID.match(os.path.basename(p))]  # not hosts/
    assert len(runs) >= 2  # earlier reports are kept, one directory per run
    assert os.path.realpath(world["base"] / "reports" / "latest") == max(runs, key=os.path.getmtime)


def test_a_limited_run_keeps_the_fleet_and_rollback_works_everywhere(fleet, world):
    first = fleet.hosts[0]["name"]
    run(fleet, world, "playbooks/migrate.yml", "--limit", first, "-e",
        json.dumps({"pymigrate_host_requirements": {"alpha": "==2.0"}}))
    manifest = json.loads((world["base"] / "bundle" / "manifest.json").read_text())
    assert sorted(manifest["hosts"]) == sorted(h["name"] for h in fleet.hosts)
    run(fleet, world, "playbooks/rollback.yml")
    held = json.loads(fleet.exec(first, [VENV + "/bin/python", "-c", VERSIONS], check=True).stdout)
    assert held["alpha"] == "1.0"


def test_two_runs_at_once_each_deploy_what_they_built(fleet, world):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    pins = {"1.0": "==1.0", "2.0": "==2.0"}
    procs = {}
    for version, pin in pins.items():
        argv = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", fleet.inventory, "-i", world["vars"],
                "playbooks/migrate.yml", "-e", json.dumps({"pymigrate_group_requirements": {"alpha": pin},
                                                           "pymigrate_host_requirements": {}})]
        procs[version] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          text=True)
        time.sleep(0.5)
    outputs = {version: proc.communicate(timeout=900)[0] for version, proc in procs.items()}
    assert all(proc.returncode == 0 for proc in procs.values()), outputs
    reports = {}
    for path in glob.glob(str(world["base"] / "reports" / "*" / "summary.json")):
        document = json.loads(open(path).read())
        reports[document["run"]["id"]] = document
    recent = sorted(reports.values(), key=lambda d: d["run"]["finished"])[-2:]
    assert len({d["run"]["serial"] for d in recent}) == 2  # each run deployed its own serial
    for document in recent:  # each summary is true about what its run installed
        versions = {env["packages"]["alpha"] for env in document["environments"]}
        assert len(versions) == 1 and versions <= set(pins)
    for host in fleet.hosts:
        held = json.loads(fleet.exec(host["name"], [VENV + "/bin/python", "-c", VERSIONS], check=True).stdout)
        assert held["alpha"] in {env["packages"]["alpha"] for d in recent for env in d["environments"]
                                 if env["host"] == host["name"]}


def test_batches_from_the_text_an_awx_survey_sends(fleet, world):
    """pymigrate_serial="1,100%" (a survey answer, a string) means batches [1, 100%], not a crash."""
    result = run(fleet, world, "playbooks/rollout.yml", "-e", "pymigrate_serial=1,100%")
    assert result.stdout.count("PLAY [Roll out push and install in batches]") == 2


def test_the_survey_file_lands_outside_the_collection_by_default(fleet, world):
    """Run from a Galaxy-installed collection the playbook directory is not writable: the default is the user's
    cache."""
    home = tempfile.mkdtemp(prefix="pmh-")  # short: ssh keeps its control sockets under it
    try:
        ansible(["ansible-playbook", "-i", world["vars"], "playbooks/survey.yml"], fleet.inventory, env={"HOME": home})
        survey = json.loads(open(os.path.join(home, ".cache", "airgap.pymigrate", "survey.json")).read())
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert sorted(survey["hosts"]) == sorted(h["name"] for h in fleet.hosts)
