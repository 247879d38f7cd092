"""Rollback you can trust and the migration record, over real SSH on the fleet (issue 25, issue 26 item 6).

The tests of this module share one world and run in order: three runs with different pins (the host history),
the record in a real browser, check mode, a drift repair then a rollback, a rollback with nothing left to go back
to, a held host, and a playbook of one's own composed of the roles."""

import html.parser
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest
import yaml

from tests.fleet.fixtures import ROOT, ansible
from tests.index import catalog
from tests.index.server import IndexServer

pytestmark = pytest.mark.fleet

VENV = "/opt/record/venv"
EVIL = '<script>alert(1)</script> "><img src=x onerror=alert(2)>'
VERSIONS = ("import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))")
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = os.path.join(ROOT, "tests", "output", "record")
USER_PLAYBOOK = os.path.join(ROOT, "tests", "fixtures", "user-playbook", "site.yml")


@pytest.fixture(scope="module")
def world(fleet, tmp_path_factory):
    base = tmp_path_factory.mktemp("record")
    day = "2024-%02d-01T00:00:00Z"
    releases = [catalog.release("alpha", "1.0", upload_time=day % 1, vulnerabilities=catalog.ALPHA_VULNERABILITIES),
                catalog.release("alpha", "1.1", upload_time=day % 2),
                catalog.release("alpha", "2.0", upload_time=day % 3),
                catalog.release("evilpkg", "1.0", upload_time=day % 3, summary=EVIL)]
    index = IndexServer(catalog.build(str(base / "index"), releases, include_pip=True))
    inventory = {"all": {"vars": {
        "pymigrate_index_url": index.url, "pymigrate_bundle_dir": str(base / "bundle"),
        "pymigrate_lock_dir": str(base / "lock"), "pymigrate_report_dir": str(base / "reports"),
        "pymigrate_venv_path": VENV, "pymigrate_requirements": {"alpha": "==1.0"}, "pymigrate_smoke_imports": ["alpha"],
        "pymigrate_serial": ["100%"], "pymigrate_max_fail_percentage": 100}}}
    (base / "vars.yml").write_text(yaml.safe_dump(inventory))
    yield {"base": base, "vars": str(base / "vars.yml"), "reports": base / "reports", "victim": fleet.hosts[2]["name"],
           "held": fleet.hosts[0]["name"]}
    index.stop()


def run(fleet, world, playbook, *args, check=True):
    return ansible(["ansible-playbook", "-i", world["vars"], playbook] + list(args), fleet.inventory, check=check)


def said(result):
    """What a run printed, as one line: the YAML result format wraps long lines and doubles a quote in a quote."""
    return " ".join(result.stdout.split()).replace("''", "'")


def pins(**requirements):
    return ["-e", json.dumps({"pymigrate_requirements": requirements})]


def held(fleet, host):
    return json.loads(fleet.exec(host, [VENV + "/bin/python", "-c", VERSIONS], check=True).stdout)


def summary(world, name="summary.json"):
    return json.loads((world["reports"] / name).read_text())


def by_host(document):
    return {item["host"]: item for item in document["hosts"]}


class Dom(html.parser.HTMLParser):
    """The elements and the text of a page as the browser serialised its DOM (--dump-dom)."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.attributes, self.parts = [], set(), []
        self.feed(text)
        self.text = " ".join(" ".join(self.parts).split())

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes |= {name for name, _value in attrs}

    def handle_data(self, data):
        self.parts.append(data)


def browse(path, screenshot):
    """The DOM headless Chromium builds from ``path`` (a local file; nothing is fetched), and a screenshot of it."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("headless Chromium is missing: apt-get install chromium chromium-driver (tests/tools/system-deps)")
    profile = tempfile.mkdtemp(prefix="pmchrome-")
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + profile]
    try:
        dom = subprocess.run(argv + ["--dump-dom", "file://" + str(path)], check=True, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, timeout=180).stdout
        os.makedirs(ARTIFACTS, exist_ok=True)
        subprocess.run(argv + ["--window-size=1280,2000", "--screenshot=" + screenshot, "file://" + str(path)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert os.path.getsize(screenshot) > 10000, screenshot
    print("screenshot of %s: %s" % (path, screenshot))
    return Dom(dom)


def test_the_host_history_lists_three_runs_with_different_pins_in_order(fleet, world):
    run(fleet, world, "playbooks/migrate.yml")
    run(fleet, world, "playbooks/migrate.yml", *pins(alpha="==1.1"))
    run(fleet, world, "playbooks/migrate.yml", *pins(alpha="==2.0", evilpkg=""))
    runs = json.loads((world["reports"] / "history.json").read_text())["runs"]
    assert len(runs) == 3 and [run["playbook"] for run in runs] == ["migrate.yml"] * 3
    for host in fleet.hosts:
        page = Dom((world["reports"] / "hosts" / (host["name"] + ".html")).read_text()).text
        changes = ["added evilpkg==1.0", "upgraded alpha 1.1 -> 2.0", "upgraded alpha 1.0 -> 1.1", "added alpha==1.0"]
        assert all(text in page for text in changes), page
        assert [page.index(text) for text in changes] == sorted(page.index(text) for text in changes)  # newest first
        places = [page.index(entry["id"]) for entry in reversed(runs)]
        assert places == sorted(places)


def test_the_record_in_a_real_browser_holds_each_hosts_changes_and_shows_metadata_as_text(fleet, world):
    index = browse(world["reports"] / "index.html", os.path.join(ARTIFACTS, "index.png"))
    runs = json.loads((world["reports"] / "history.json").read_text())["runs"]
    places = [index.text.index(entry["id"]) for entry in reversed(runs)]
    assert places == sorted(places)  # newest first
    document = summary(world)
    page = browse(document["run"]["page"], os.path.join(ARTIFACTS, "run.png"))
    for host in fleet.hosts:  # its row: host, status, environment, generation, what changed
        assert re.search(r"%s changed default \d+-\w{12} added evilpkg==1.0 upgraded alpha 1.1 -> 2.0"
                         % re.escape(host["name"]), page.text), page.text
        assert "%s:default: added evilpkg==1.0; upgraded alpha 1.1 -> 2.0" % host["name"] in page.text  # the lock
    assert "alpha 1.0 leaks secrets" not in page.text  # alpha 1.0 is held by no host any more
    # The package description with markup in it is text on the page: no script, no image, no handler.
    assert EVIL in page.text
    assert "script" not in page.tags and "img" not in page.tags and "onerror" not in page.attributes
    assert document["packages"]["evilpkg"] == {"1.0": EVIL}
    first = browse(world["reports"] / runs[0]["id"] / "report.html", os.path.join(ARTIFACTS, "first-run.png"))
    assert "PYSEC-0000-1" in first.text and "Upgrade alpha to 1.1" in first.text  # what the hosts held then


def test_check_mode_says_would_and_that_nothing_changed(fleet, world):
    before = {host["name"]: held(fleet, host["name"]) for host in fleet.hosts}
    result = run(fleet, world, "playbooks/migrate.yml", "--check", *pins(alpha="==1.1"))
    for host in fleet.hosts:
        assert re.search(r"%s: would change, would send \d+ file\(s\); default \S+ \(would remove evilpkg==1.0; "
                         r"would downgrade alpha 2.0 -> 1.1\)" % re.escape(host["name"]), said(result)), \
            result.stdout[-3000:]
        assert held(fleet, host["name"]) == before[host["name"]]
    assert "check mode: nothing changed on any host" in said(result)
    assert "file(s) sent" not in said(result) and "(removed " not in said(result)


def test_a_rollback_after_a_drift_repair_never_lands_on_the_drifted_generation(fleet, world):
    victim = world["victim"]
    site = fleet.exec(victim, ["sh", "-c", "ls -d %s/lib/python3*/site-packages" % VENV], check=True).stdout.split()[0]
    drifted = fleet.exec(victim, ["readlink", "-f", VENV], check=True).stdout.strip()
    fleet.exec(victim, ["rm", "-r", site + "/alpha"], check=True)
    run(fleet, world, "playbooks/migrate.yml", *pins(alpha="==2.0", evilpkg=""))  # repairs the drift
    assert by_host(summary(world))[victim]["environments"]["default"]["reason"].startswith("repaired drift")

    result = run(fleet, world, "playbooks/rollback.yml")
    # Not the generation the repair replaced (its alpha was gone): the one before it, smoke-tested, importable.
    assert fleet.exec(victim, ["readlink", "-f", VENV], check=True).stdout.strip() != drifted
    assert fleet.exec(victim, [VENV + "/bin/python", "-c", "import alpha"]).returncode == 0
    for host in fleet.hosts:
        assert held(fleet, host["name"]) == {"alpha": "1.1"}
        assert re.search(r"%s: changed; default generation (\d+) \(lock \w{12}, serial \d+\) -> (\d+) \(lock \w{12}, "
                         r"serial \d+\): removed evilpkg==1.0, downgraded alpha 2.0 -> 1.1" % re.escape(host["name"]),
                         said(result)), result.stdout[-3000:]
    document = summary(world)
    assert document["run"]["playbook"] == "rollback.yml" and document["run"]["phases"] == ["rollback"]
    env = by_host(document)[victim]["environments"]["default"]
    assert env["to"]["generation"] != drifted and env["to"]["lock_id"] != env["from"]["lock_id"]
    assert env["to"]["serial"] < env["from"]["serial"] and env["lock_id"] == env["to"]["lock_id"]
    assert [(item["generation"], item["reason"].split(" (")[0]) for item in env["skipped"]] == [
        (drifted, "built from the same lock as the current generation")]
    assert env["changes"] == {"added": [], "removed": ["evilpkg==1.0"], "upgraded": [],
                              "downgraded": ["alpha 2.0 -> 1.1"]}
    assert (world["reports"] / document["run"]["id"] / "report.html").exists()

    # The state report after it: no drift anywhere, the hosts behind the lock in its words, nothing about sending.
    state = run(fleet, world, "playbooks/state.yml", *pins(alpha="==2.0", evilpkg=""))
    assert all(env["drift"] == [] for env in summary(world, "state.json")["environments"])
    assert re.search(r"%s: ok; default \S+ \(behind the lock: lacks evilpkg==1.0, alpha 1.1 older than the lock's "
                     r"2.0\)" % re.escape(victim), said(state)), state.stdout[-3000:]
    assert "file(s) sent" not in said(state) and "(added" not in said(state)
    # A read-only run: hosts behind their lock are said to be, and no host is reported changed.
    recap = state.stdout.split("PLAY RECAP")[1].splitlines()
    assert all("changed=0" in line for line in recap if "ok=" in line), recap


def test_a_host_with_nothing_left_to_roll_back_to_is_reported_at_default_verbosity(fleet, world):
    victim = world["victim"]  # its repair made one more generation: the oldest was pruned
    result = run(fleet, world, "playbooks/rollback.yml")
    assert re.search(r"%s: ok; default nothing to roll back to from generation \d+ \(lock \w{12}, serial \d+\): "
                     % re.escape(victim), said(result)), result.stdout[-3000:]
    assert held(fleet, victim) == {"alpha": "1.1"}
    others = [host["name"] for host in fleet.hosts if host["name"] != victim]
    assert all(held(fleet, host) == {"alpha": "1.0"} for host in others)
    assert summary(world)["counts"] == {"changed": len(others), "ok": 1}


def test_a_held_host_is_skipped_by_the_next_runs_and_said_to_be_held_until_lifted(fleet, world):
    host = world["held"]
    run(fleet, world, "playbooks/migrate.yml", *pins(alpha="==2.0"))
    rolled = run(fleet, world, "playbooks/rollback.yml", "--limit", host, "-e", "pymigrate_hold=true")
    assert re.search(r"%s: changed; .*from now on held since \S+ by rollback.yml: held after a rollback; lift it "
                     r"with pymigrate_hold: false" % re.escape(host), said(rolled)), rolled.stdout[-3000:]
    keeps = held(fleet, host)
    assert keeps != {"alpha": "2.0"}  # back to the generation before (its lock also had evilpkg)

    for playbook in ("playbooks/migrate.yml", "playbooks/rollout.yml"):
        result = run(fleet, world, playbook, *pins(alpha="==1.1"))
        assert re.search(r"%s: held; held since \S+ by rollback.yml: held after a rollback; lift it with "
                         r"pymigrate_hold: false" % re.escape(host), said(result)), result.stdout[-3000:]
        document = summary(world)
        assert by_host(document)[host]["status"] == "held" and document["counts"]["held"] == 1
        assert held(fleet, host) == keeps
        assert all(held(fleet, other["name"])["alpha"] == "1.1" for other in fleet.hosts if other["name"] != host)

    lifted = run(fleet, world, "playbooks/migrate.yml", "--limit", host, "-e", "pymigrate_hold=false",
                 *pins(alpha="==1.1"))
    assert "hold lifted: %s" % host in said(lifted) or by_host(summary(world))[host]["status"] == "changed"
    assert held(fleet, host)["alpha"] == "1.1"
    assert json.loads((world["reports"] / "holds.json").read_text())["holds"] == {}
    run(fleet, world, "playbooks/migrate.yml", *pins(alpha="==1.0"))
    assert held(fleet, host)["alpha"] == "1.0"  # no longer held


def test_a_playbook_of_ones_own_composed_of_the_roles_writes_a_true_summary(fleet, world):
    result = run(fleet, world, USER_PLAYBOOK, *pins(alpha="==1.1"))
    document = summary(world)
    assert sorted(item["host"] for item in document["hosts"]) == sorted(host["name"] for host in fleet.hosts)
    assert document["counts"] == {"changed": len(fleet.hosts)} and document["retry"] == []
    for env in document["environments"]:
        assert env["packages"] == held(fleet, env["host"]) == {"alpha": "1.1"}
        assert env["changes"]["upgraded"] == ["alpha 1.0 -> 1.1"]
    assert "fleet: changed=%d" % len(fleet.hosts) in said(result)
    assert document["run"]["page"] and os.path.exists(document["run"]["page"])
