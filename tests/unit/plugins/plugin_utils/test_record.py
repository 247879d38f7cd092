"""The migration record: the run's page and its Markdown twin, the index of runs, per-host histories, retention, and
every text from inventory or package metadata escaped."""

import datetime
import html.parser
import json
import os

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _record, _report
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

EVIL = '<script>alert(1)</script> "><img src=x onerror=alert(2)>'


def document(run_id, finished, alpha_from, alpha_to, host="web1", playbook="migrate.yml", **run):
    changes = {"added": [], "removed": [], "upgraded": ["alpha %s -> %s" % (alpha_from, alpha_to)], "downgraded": []}
    hostvars = {host: {"__pymigrate_push": {"changed": True, "sent": ["a.whl"], "sent_bytes": 5, "serial": 2},
                       "__pymigrate_install": {"results": [{
                           "environment": {"name": "default", "path": "/opt/v", "lock_id": "ab" * 32, "serial": 2},
                           "generation": "/opt/.v.generations/2-abababababab", "changed": True, "changes": changes,
                           "installed": {"alpha": alpha_to}}]}},
                "web2": {"__pymigrate_push": {"changed": False, "sent": []},
                         "__pymigrate_install": {"results": [{"environment": {"name": "default"}, "changed": False,
                                                              "generation": "/g/1-x"}]}}}
    doc = _report.fleet_summary([host, "web2"], hostvars, dict({"id": run_id, "playbook": playbook,
                                                                "started": finished, "finished": finished}, **run))
    return _report.add_known(doc, {})


class Elements(html.parser.HTMLParser):
    """Every element the browser would build, and the text it would show."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.attributes, self.text = [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(name for name, _value in attrs)

    def handle_data(self, data):
        self.text.append(data)


def test_everything_from_inventory_or_package_metadata_is_text_never_markup(tmp_path):
    doc = document("20261125T150102Z-aaaaaa", "2026-11-25T15:02:00Z", "1.0", "1.1", host=EVIL, user=EVIL,
                   lock_changes={EVIL + ":default": {"added": [EVIL]}})
    doc["hosts"][1]["error"] = EVIL
    doc["packages"] = {"alpha": {"1.1": EVIL}}
    doc["vulnerabilities"] = [{"id": EVIL, "description": EVIL, "recommendation": EVIL, "project": "alpha",
                               "version": "1.1", "hosts": [EVIL]}]
    written = _record.write(str(tmp_path), doc, {"summary.json": "{}"})
    for path in (written["page"], written["index"], os.path.join(str(tmp_path), "report.html"),
                 os.path.join(str(tmp_path), "hosts", _record.host_file(EVIL) + ".html")):
        with open(path) as handle:
            page = Elements(handle.read())
        assert "script" not in page.tags and "img" not in page.tags and "onerror" not in page.attributes, path
        assert any(EVIL in text for text in page.text), path  # shown, as text
    markdown = open(written["markdown"]).read()
    assert "<script>" not in markdown and "<img" not in markdown and "&lt;script&gt;" in markdown
    assert _record._md("a|b *c* [d](e)") == "a\\|b \\*c\\* \\[d\\]\\(e\\)"


def test_a_host_page_name_stays_in_the_hosts_directory_and_never_collides():
    assert _record.host_file("web1.example.com") == "web1.example.com"
    for name in ("../../etc/passwd", "a/b", ".hidden", "x y"):
        assert "/" not in _record.host_file(name) and not _record.host_file(name).startswith(".")
    assert _record.host_file("a/b") != _record.host_file("a_b") != _record.host_file("a b")


def test_the_page_holds_the_run_the_fleet_each_host_the_steps_and_the_failures(tmp_path):
    doc = document("20261125T150102Z-aaaaaa", "2026-11-25T15:02:00Z", "1.0", "1.1", user="ops@control",
                   lock_changes={"web1:default": {"upgraded": ["alpha 1.0 -> 1.1"]}})
    doc["hosts"].append({"host": "web3", "status": "failed", "phase": "push", "error": "push: disk full",
                         "environments": {}, "held": None})
    page = "".join(Elements(_record.render_run_html(doc)).text)
    for text in ("ops@control", "migrate.yml", "20261125T150102Z-aaaaaa", "Bundle serial", "web1:default: upgraded "
                 "alpha 1.0 -> 1.1", "upgraded alpha 1.0 -> 1.1", "2-abababababab", "push: disk full", "Steps taken"):
        assert text in page, text
    assert _record.steps(doc) == [("push", 2), ("install", 2)]
    assert dict(_record.glance(doc)) == {"hosts": 3, "ok": 1, "changed": 1, "failed": 1, "unreachable": 0,
                                         "held": 0, "drifted": 0, "vulnerable": 0}
    markdown = _record.render_run_markdown(doc)
    assert "| web1 | changed | default | upgraded alpha 1.0 \\-&gt; 1.1 |" in markdown
    assert "- web3 (failed): push: disk full" in markdown


def test_the_index_lists_runs_newest_first_and_a_host_page_its_changes_in_order(tmp_path):
    for number, (old, new) in enumerate((("1.0", "1.1"), ("1.1", "2.0"), ("2.0", "1.0"))):
        doc = document("2026112%dT150102Z-aaaaa%d" % (number + 1, number), "2026-11-2%dT15:02:00Z" % (number + 1),
                       old, new)
        _record.write(str(tmp_path), doc, {"summary.json": json.dumps(doc)})
    index = "".join(Elements((tmp_path / "index.html").read_text()).text)
    ids = ["20261123T150102Z-aaaaa2", "20261122T150102Z-aaaaa1", "20261121T150102Z-aaaaa0"]
    assert [index.index(run_id) for run_id in ids] == sorted(index.index(run_id) for run_id in ids)
    host = "".join(Elements((tmp_path / "hosts" / "web1.html").read_text()).text)
    changes = ["upgraded alpha 2.0 -> 1.0", "upgraded alpha 1.1 -> 2.0", "upgraded alpha 1.0 -> 1.1"]
    assert [host.index(text) for text in changes] == sorted(host.index(text) for text in changes)
    assert not (tmp_path / "hosts" / "web2.html").exists() or "No change recorded" in (
        tmp_path / "hosts" / "web2.html").read_text()  # web2 only stayed as it was
    assert os.readlink(str(tmp_path / "latest")) == ids[0]
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["format"] == 1 and [run["id"] for run in history["runs"]] == list(reversed(ids))
    assert "web2" not in history["runs"][0]["hosts"]


def test_keep_prunes_the_oldest_runs_by_count_or_by_age(tmp_path):
    for number in range(4):
        doc = document("2026112%dT150102Z-aaaaa%d" % (number + 1, number), "2026-11-2%dT15:02:00Z" % (number + 1),
                       "1.0", "1.%d" % number)
        written = _record.write(str(tmp_path), doc, {"summary.json": json.dumps(doc)}, keep=2)
    assert written["pruned"] == ["20261122T150102Z-aaaaa1"]
    assert sorted(p for p in os.listdir(str(tmp_path)) if _record.RUN_ID.match(p)) == [
        "20261123T150102Z-aaaaa2", "20261124T150102Z-aaaaa3"]
    assert "1.0 -> 1.0" not in (tmp_path / "hosts" / "web1.html").read_text()
    now = datetime.datetime(2026, 11, 30, tzinfo=datetime.timezone.utc)
    runs = [{"id": str(day), "finished": "2026-11-%02dT00:00:00Z" % day} for day in (1, 20, 28)]
    kept, gone = _record.pruned(runs, "7d", now)
    assert [run["id"] for run in kept] == ["28"] and [run["id"] for run in gone] == ["20", "1"]
    assert [run["id"] for run in _record.pruned(runs, "2w", now)[0]] == ["20", "28"]
    assert [run["id"] for run in _record.pruned(runs, 0, now)[0]] == ["1", "20", "28"]
    assert _record.pruned(runs, "1d", datetime.datetime(2027, 1, 1, tzinfo=datetime.timezone.utc))[0] == [runs[2]]
    for bad in ("soon", "-3", True, "3m"):
        with pytest.raises(PyMigrateError, match="pymigrate_report_keep"):
            _record.keep_policy(bad)


def test_a_record_from_before_history_json_is_indexed_from_its_runs(tmp_path):
    old = document("20261120T150102Z-bbbbbb", "2026-11-20T15:02:00Z", "0.9", "1.0")
    (tmp_path / old["run"]["id"]).mkdir()
    (tmp_path / old["run"]["id"] / "summary.json").write_text(json.dumps(old))
    (tmp_path / "20261119T150102Z-cccccc").mkdir()
    (tmp_path / "20261119T150102Z-cccccc" / "summary.json").write_text("{damaged")
    new = document("20261121T150102Z-aaaaaa", "2026-11-21T15:02:00Z", "1.0", "1.1")
    _record.write(str(tmp_path), new, {"summary.json": json.dumps(new)})
    ids = [run["id"] for run in json.loads((tmp_path / "history.json").read_text())["runs"]]
    assert ids == ["20261120T150102Z-bbbbbb", "20261121T150102Z-aaaaaa"]
    (tmp_path / "history.json").write_text("{damaged")
    with pytest.raises(PyMigrateError, match="cannot read .*history.json"):
        _record.read_history(str(tmp_path))


def test_a_rollback_and_a_held_host_in_the_history(tmp_path):
    doc = document("20261125T150102Z-aaaaaa", "2026-11-25T15:02:00Z", "1.0", "1.1")
    doc["hosts"][1] = {"host": "web2", "status": "held", "phase": None, "error": None, "environments": {},
                       "held": "held since X by rollback.yml: r; lift it with pymigrate_hold: false"}
    entry = _record.history_entry(doc, "summary")
    assert entry["hosts"]["web2"] == {"status": "held", "error": None, "changes": {},
                                      "held": "held since X by rollback.yml: r; lift it with pymigrate_hold: false"}
    assert "held since X" in "".join(Elements(_record.render_host_html("web2", [entry])).text)


def test_a_state_report_is_in_a_host_history_only_for_the_drift_it_found():
    doc = document("20261125T150102Z-aaaaaa", "2026-11-25T15:02:00Z", "1.0", "1.1", playbook="state.yml",
                   document="state")
    doc["hosts"][0]["status"] = "ok"  # a state report changes nothing
    assert _record.history_entry(doc, "state")["hosts"] == {}  # behind the lock is no change
    env = doc["hosts"][0]["environments"]["default"]
    env["drift"] = [{"kind": "missing file", "distribution": "alpha", "file": "/x", "detail": None}]
    assert _record.history_entry(doc, "state")["hosts"]["web1"]["changes"] == {"default": ["drift: missing file alpha"]}
