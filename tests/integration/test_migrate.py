"""playbooks/migrate.yml over real SSH to the air-gapped fleet, end to end.

Fleet: hosts with Python 3.9, 3.11, 3.12 and a bare 3.13 (no pip, no ensurepip). h1 has two environments;
a group pin (alpha==1.1) and a host pin overriding it on h2 (alpha==1.0).
"""

import json
import os
import subprocess

import pytest
import yaml

from ansible_collections.airgap.pymigrate.plugins.plugin_utils._manifest import host_files
from tests.fleet.fixtures import ROOT, ansible

pytestmark = pytest.mark.fleet

CHECK_VERSIONS = ("import importlib.metadata as m, json; "
                  "print(json.dumps({d.metadata['Name'].lower().replace('_', '-'): d.version "
                  "for d in m.distributions()}))")


@pytest.fixture(scope="module")
def world(fleet, local_index, tmp_path_factory):
    fleet.forget_installs()  # modules before this one left environments on the shared fleet (the docs' /opt/pymigrate)
    base = tmp_path_factory.mktemp("migrate")
    h1, h2 = fleet.hosts[0]["name"], fleet.hosts[1]["name"]
    group_vars = {
        "all": {
            "vars": {
                "pymigrate_index_url": local_index.url,
                "pymigrate_bundle_dir": str(base / "bundle"), "pymigrate_lock_dir": str(base / "lock"),
                "pymigrate_report_dir": str(base / "reports"),
                "pymigrate_requirements": {"netio": "", "fastcore": "==1.0"},
                "pymigrate_smoke_imports": ["netio"],
            },
            "children": {"fleet": {"vars": {"pymigrate_group_requirements": {"alpha": "==1.1"}}}},
            "hosts": {
                h1: {"pymigrate_host_envs": {
                    "api": {"path": "/opt/api/venv", "requirements": {"alpha": "==2.0"}, "smoke_imports": ["alpha"]},
                    "web": {"path": "/opt/web/venv", "requirements": {"webkit[socks]": ""},
                            "smoke_imports": ["webkit", "socksy"]}}},
                h2: {"pymigrate_host_requirements": {"alpha": "==1.0"}},
            },
        }
    }
    extra = base / "vars.yml"
    extra.write_text(yaml.safe_dump(group_vars))
    return {"base": base, "inventories": ["-i", fleet.inventory, "-i", str(extra)], "h1": h1, "h2": h2,
            "extra": extra}


def migrate(world, *args, check=True, playbook="playbooks/migrate.yml"):
    result = ansible(["ansible-playbook"] + world["inventories"][2:] + [playbook] + list(args),
                     world["inventories"][1], check=check)
    return result


def recap(output):
    """{host: {ok: n, changed: n, ...}} from the PLAY RECAP."""
    stats = {}
    for line in output.split("PLAY RECAP", 1)[1].splitlines()[1:]:
        if ":" in line:
            host, _sep, rest = line.partition(":")
            stats[host.strip()] = {k: int(v) for k, v in (item.split("=") for item in rest.split())}
    return stats


def _installed_changed(output):
    """Hosts on which the install task reported a change (the bundle task, run once, also says changed)."""
    hosts = set()
    for part in output.split("TASK [airgap.pymigrate.rollout : Install each environment from the host store]")[1:]:
        section = part.split("TASK [", 1)[0]
        hosts |= {line.split("[", 1)[1].split("]", 1)[0]
                  for line in section.splitlines() if line.startswith("changed: [")}
    return hosts


def remote_commands(output):
    """{host address: number of remote commands} from ansible-playbook -vvv output."""
    counts = {}
    for line in output.splitlines():
        if "ESTABLISH SSH CONNECTION" in line and line.startswith("<"):
            address = line[1:].split(">", 1)[0]
            counts[address] = counts.get(address, 0) + 1
    return counts


def environments(fleet, world):
    """{(host, path): {name: version}} read through each environment's own interpreter."""
    found = {}
    for host in fleet.hosts:
        paths = ["/opt/api/venv", "/opt/web/venv"] if host["name"] == world["h1"] else ["/opt/pymigrate/venv"]
        for path in paths:
            out = fleet.exec(host["name"], [path + "/bin/python", "-c", CHECK_VERSIONS], check=True).stdout
            found[(host["name"], path)] = json.loads(out)
    return found


def summary(world):
    return json.loads((world["base"] / "reports" / "summary.json").read_text())


def test_migrate_end_to_end(fleet, world):
    h1, h2 = world["h1"], world["h2"]
    predicted = migrate(world, "--check", "--diff")
    assert "changed" in predicted.stdout
    for host in fleet.hosts:
        assert fleet.exec(host["name"], ["test", "-e", "/opt/pymigrate/venv"]).returncode != 0  # check mode: nothing

    first = migrate(world)
    stats = recap(first.stdout)
    assert all(stats[h["name"]]["failed"] == 0 and stats[h["name"]]["changed"] > 0 for h in fleet.hosts)
    envs = environments(fleet, world)
    assert envs[(h1, "/opt/api/venv")] == {"alpha": "2.0"}
    assert envs[(h1, "/opt/web/venv")] == {"webkit": "2.0", "alpha": "2.0", "socksy": "1.0"}
    assert envs[(h2, "/opt/pymigrate/venv")]["alpha"] == "1.0"  # the host pin beats the group pin
    for host in fleet.hosts[2:]:
        packages = envs[(host["name"], "/opt/pymigrate/venv")]
        assert packages["alpha"] == "1.1" and packages["fastcore"] == "1.0" and "pip" not in packages
    assert "backport-eg" in envs[(h2, "/opt/pymigrate/venv")] or fleet.host(h2)["python_version"] >= "3.11"
    bare = [h for h in fleet.hosts if h["bare"]][0]
    assert envs[(bare["name"], "/opt/pymigrate/venv")]["netio"] == "4.0"  # installed without pip on the host
    report = summary(world)
    assert report["counts"] == {"changed": len(fleet.hosts)} and report["retry"] == []

    second = migrate(world, "-vvv")
    stats = recap(second.stdout)
    assert all(stats[h["name"]]["changed"] == 0 for h in fleet.hosts), second.stdout[-3000:]
    assert "changed: [" not in second.stdout
    assert all(item["files_sent"] == 0 and item["status"] == "ok" for item in summary(world)["hosts"])
    # The survey found every host settled: the batch's hold task said so once and the rollout ended them before the
    # push (not even a skipped push task: that costs a worker per host), the install and the prune, and the record
    # still lists each host's environments with what they hold.
    assert "Push the wheels this host lacks" not in second.stdout
    assert "Install each environment from the host store" not in second.stdout
    # Every host of the batch settled: the batch ends in one step, not host by host (each host's end costs the
    # strategy a pass over the hosts ended before it: 18 s at 1,000 hosts).
    assert "META: ending batch" in second.stdout and "META: ending play for" not in second.stdout
    noop_envs = {item["host"]: item["environments"] for item in summary(world)["hosts"]}
    assert noop_envs[h1]["api"]["packages"]["alpha"] == "2.0", noop_envs[h1]
    assert all(env["packages"] and not env["changed"] for envs_ in noop_envs.values() for env in envs_.values())
    # Nothing to do costs one module call per host: the survey also checks the store and the environments, and
    # push and install take its answer (every remote command opens an SSH session of its own, which -vvv logs).
    sessions = remote_commands(second.stdout)
    assert {h["name"]: sessions.get(h["address"], 0) for h in fleet.hosts} == {h["name"]: 1 for h in fleet.hosts}

    # A pin change upgrades only the environments it affects; check mode predicts exactly that.
    change = ["-e", '{"pymigrate_group_requirements": {"alpha": "==2.0"}}']
    predicted = migrate(world, "--check", *change)
    predicted_changed = _installed_changed(predicted.stdout)
    upgraded = migrate(world, *change)
    really_changed = _installed_changed(upgraded.stdout)
    assert predicted_changed == really_changed == {h["name"] for h in fleet.hosts} - {h1, h2}
    after = environments(fleet, world)
    assert after[(h1, "/opt/api/venv")] == envs[(h1, "/opt/api/venv")]
    assert after[(h2, "/opt/pymigrate/venv")] == envs[(h2, "/opt/pymigrate/venv")]
    assert all(after[(h["name"], "/opt/pymigrate/venv")]["alpha"] == "2.0" for h in fleet.hosts[2:])

    migrate(world, playbook="playbooks/rollback.yml", *change)
    rolled = environments(fleet, world)
    assert all(rolled[(h["name"], "/opt/pymigrate/venv")]["alpha"] == "1.1" for h in fleet.hosts[2:])


def _store_files(fleet, host):
    out = fleet.exec(host, ["find", "/var/lib/pymigrate/store/files", "-type", "f", "-name", "*.whl"],
                     check=True).stdout
    return sorted(out.split())


def test_corrupted_and_half_pushed_files_are_repaired(fleet, world):
    host = fleet.hosts[2]["name"]
    files = _store_files(fleet, host)
    manifest = json.loads((world["base"] / "bundle" / "manifest.json").read_text())
    wanted = {item["path"] for item in host_files(manifest, host)}
    needed = [f for f in files if f.split("/store/", 1)[1] in wanted]
    corrupt, lost = needed[0], needed[1]
    fleet.exec(host, ["sh", "-c", "printf x >> %s" % corrupt], check=True)
    # A push killed mid-way leaves a partial file and no final one.
    fleet.exec(host, ["sh", "-c", "head -c 10 %s > %s.part && rm %s" % (lost, lost, lost)], check=True)
    verify = ansible(["ansible", host, "-m", "airgap.pymigrate.wheel_store", "-a",
                      json.dumps({"state": "verified", "files": [{"path": corrupt.split("/store/", 1)[1],
                                                                  "sha256": corrupt.split("/")[-2], "size": 1}]}),
                      "-o"],
                     fleet.inventory, check=False)
    assert verify.returncode != 0 and corrupt.split("/")[-1] in verify.stdout  # detected by name
    migrate(world, "--limit", host)
    report = {item["host"]: item for item in summary(world)["hosts"]}
    assert report[host]["files_sent"] == 2 and report[host]["status"] == "changed"
    assert set(needed) <= set(_store_files(fleet, host))
    assert fleet.exec(host, ["sh", "-c", "ls /var/lib/pymigrate/store/files/*/*/*/*.part"]).returncode != 0


def test_disk_full_keeps_the_current_environment(fleet, world):
    host = fleet.hosts[2]["name"]
    before = environments(fleet, world)[(host, "/opt/pymigrate/venv")]
    fleet.exec(host, ["mount", "-o", "remount,size=%dk" % _used_kb(fleet, host, "/opt"), "/opt"], check=True)
    try:
        # h1 (unaffected: its environments have their own pins) keeps the report play alive.
        result = migrate(world, "--limit", "%s,%s" % (world["h1"], host),
                         "-e", '{"pymigrate_host_requirements": {"webkit": ""}}',
                         "-e", '{"pymigrate_serial": ["100%"], "pymigrate_max_fail_percentage": 100}', check=False)
    finally:
        fleet.exec(host, ["mount", "-o", "remount,size=512M", "/opt"], check=True)
    assert result.returncode != 0
    assert "disk full under /opt" in result.stdout
    assert environments(fleet, world)[(host, "/opt/pymigrate/venv")] == before
    assert summary(world)["retry"] == [host]


def _used_kb(fleet, host, path):
    out = fleet.exec(host, ["df", "-k", path], check=True).stdout.splitlines()[1].split()
    return int(out[2]) + 64  # room for little more than what is there


def test_host_whose_sshd_stops_mid_run_is_unreachable_while_others_finish(fleet, world):
    victim = fleet.hosts[-1]["name"]
    argv = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook")] + world["inventories"] + [
        "playbooks/migrate.yml", "-e", '{"pymigrate_group_requirements": {"alpha": "==1.0"}}']
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    try:
        with subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) as proc:
            lines = []
            for line in proc.stdout:
                lines.append(line)
                if line.startswith("TASK [airgap.pymigrate.bundle : Resolve every profile"):
                    fleet.stop_sshd(victim)  # the survey reached it; the rollout will not
            proc.wait(timeout=600)
    finally:
        fleet.start_sshd(victim)
    output = "".join(lines)
    report = {item["host"]: item for item in summary(world)["hosts"]}
    assert report[victim]["status"] == "unreachable", output[-3000:]
    assert all(report[h["name"]]["status"] in ("ok", "changed") for h in fleet.hosts if h["name"] != victim)
    retry = (world["base"] / "reports" / "failed_hosts.retry").read_text().split()
    assert retry == [victim] and "unreachable=1" in output


def test_migrate_under_ansible_runner(fleet, world, tmp_path):
    """What AWX runs jobs with: every input as extra vars, no prompt; the artifacts hold the summary."""
    import shutil  # pylint: disable=import-outside-toplevel
    private = tmp_path / "runner"
    (private / "inventory").mkdir(parents=True)
    (private / "env").mkdir()
    shutil.copy(fleet.inventory, private / "inventory" / "fleet.yml")
    shutil.copy(world["extra"], private / "inventory" / "vars.yml")
    os.symlink(ROOT, private / "project")
    (private / "env" / "envvars").write_text(yaml.safe_dump({"ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg")}))
    (private / "env" / "extravars").write_text(yaml.safe_dump({"pymigrate_serial": ["100%"]}))
    env = dict(os.environ, PATH=os.path.join(ROOT, ".venv", "bin") + os.pathsep + os.environ["PATH"])
    result = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-runner"), "run", str(private), "-p",
                             "playbooks/migrate.yml", "--ident", "pymigrate"], env=env, check=False,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    artifacts = private / "artifacts" / "pymigrate"
    assert result.returncode == 0, result.stdout[-3000:]
    assert (artifacts / "rc").read_text().strip() == "0"
    events = [json.loads(path.read_text()) for path in (artifacts / "job_events").glob("*.json")]
    reports = [e["event_data"]["res"] for e in events if e.get("event") == "runner_on_ok"
               and e["event_data"].get("task_action") == "airgap.pymigrate.migration_report"]
    assert reports and {item["host"] for item in reports[0]["summary"]["hosts"]} == {h["name"] for h in fleet.hosts}
    assert "fleet: " in (artifacts / "stdout").read_text()
    # set_stats: what AWX keeps as the job's artifacts.
    stats = [e["event_data"] for e in events if e.get("event") == "playbook_on_stats"]
    assert stats and stats[0]["artifact_data"]["pymigrate_summary"]["counts"] == reports[0]["summary"]["counts"]
    # The same summary, with the path of the run's page in the migration record.
    page = stats[0]["artifact_data"]["pymigrate_summary"]["run"]["page"]
    assert page.endswith("/report.html") and os.path.isfile(page)
