"""playbooks/migrate.yml over real SSH to the air-gapped fleet, end to end.

Fleet: hosts with Python 3.9, 3.11, 3.12 and a bare 3.13 (no pip, no ensurepip). h1 has two environments;
a group pin (alpha==1.1) and a host pin overriding it on h2 (alpha==1.0).
"""

import json

import pytest
import yaml

from tests.fleet.fixtures import ansible

pytestmark = pytest.mark.fleet

CHECK_VERSIONS = ("import importlib.metadata as m, json; "
                  "print(json.dumps({d.metadata['Name'].lower().replace('_', '-'): d.version for d in m.distributions()}))")


@pytest.fixture(scope="module")
def world(fleet, local_index, tmp_path_factory):
    base = tmp_path_factory.mktemp("migrate")
    h1, h2 = fleet.hosts[0]["name"], fleet.hosts[1]["name"]
    group_vars = {
        "all": {
            "vars": {
                "pymigrate_index_url": local_index.url,
                "pymigrate_bundle_dir": str(base / "bundle"),
                "pymigrate_report_dir": str(base / "reports"),
                "pymigrate_requirements": {"netio": "", "fastcore": "==1.0"},
                "pymigrate_smoke_imports": ["netio"],
                "pymigrate_serial": ["100%"],
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

    second = migrate(world)
    stats = recap(second.stdout)
    assert all(stats[h["name"]]["changed"] == 0 for h in fleet.hosts), second.stdout[-3000:]
    assert all(item["files_sent"] == 0 and item["status"] == "ok" for item in summary(world)["hosts"])

    # A pin change upgrades only the environments it affects; check mode predicts exactly that.
    change = ["-e", '{"pymigrate_group_requirements": {"alpha": "==2.0"}}']
    predicted = migrate(world, "--check", *change)
    predicted_changed = {h for h, s in recap(predicted.stdout).items() if s["changed"] and h != "localhost"}
    upgraded = migrate(world, *change)
    really_changed = {h for h, s in recap(upgraded.stdout).items() if s["changed"] and h != "localhost"}
    assert predicted_changed == really_changed == {h["name"] for h in fleet.hosts} - {h1, h2}
    after = environments(fleet, world)
    assert after[(h1, "/opt/api/venv")] == envs[(h1, "/opt/api/venv")]
    assert after[(h2, "/opt/pymigrate/venv")] == envs[(h2, "/opt/pymigrate/venv")]
    assert all(after[(h["name"], "/opt/pymigrate/venv")]["alpha"] == "2.0" for h in fleet.hosts[2:])

    migrate(world, playbook="playbooks/rollback.yml", *change)
    rolled = environments(fleet, world)
    assert all(rolled[(h["name"], "/opt/pymigrate/venv")]["alpha"] == "1.1" for h in fleet.hosts[2:])
