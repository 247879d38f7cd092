"""Issue 26 over real SSH: inventory that means what it says. A host in two groups gets both groups' sets (and a pin
the two groups give differently stops the bundle naming both); an environment on a second interpreter of a host
installs and imports there; removing an environment cleans the host; the vulnerability gate fails closed on pins it
could not check; a hostile pip configuration on a host changes nothing the collection installs.

Fleet: h1 Python 3.9, h2 3.11, h3 3.12, h4 a bare 3.13. Each test keeps its own bundle, lock and paths."""

import json

import pytest
import yaml

from tests.fleet.fixtures import ansible

pytestmark = pytest.mark.fleet

VERSIONS = ("import importlib.metadata as m, json, sys; "
            "print(json.dumps({'python': '%d.%d' % sys.version_info[:2], 'packages': "
            "{d.metadata['Name'].lower().replace('_', '-'): d.version for d in m.distributions()}}))")


def write_inventory(base, name, data, group_vars=None):
    """An inventory source of its own beside the fleet's (with group_vars files beside it, as real inventories keep
    them): returns its path."""
    directory = base / name
    (directory / "group_vars").mkdir(parents=True)
    for group, variables in (group_vars or {}).items():
        (directory / "group_vars" / ("%s.yml" % group)).write_text(yaml.safe_dump(variables))
    path = directory / "hosts.yml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def common_vars(local_index, base):
    return {"pymigrate_index_url": local_index.url, "pymigrate_bundle_dir": str(base / "bundle"),
            "pymigrate_lock_dir": str(base / "lock"), "pymigrate_report_dir": str(base / "reports"),
            "pymigrate_serial": ["100%"], "pymigrate_max_fail_percentage": 100}


def run(fleet, inventory, *args, check=True, playbook="playbooks/migrate.yml"):
    return ansible(["ansible-playbook", "-i", inventory, playbook] + list(args), fleet.inventory, check=check)


def held(fleet, host, path):
    """{python: X.Y, packages: {name: version}} of the environment at ``path``, read by its own interpreter."""
    out = fleet.exec(host, [path + "/bin/python", "-c", VERSIONS], check=True).stdout
    return json.loads(out)


def test_a_host_in_two_groups_gets_both_sets_and_a_conflicting_pin_names_both_groups(fleet, local_index, tmp_path):
    h1, h2, h3 = (host["name"] for host in fleet.hosts[:3])
    variables = dict(common_vars(local_index, tmp_path), pymigrate_venv_path="/opt/groups/venv")
    groups = {"web": {"pymigrate_group_requirements_web": {"alpha": "==1.1"}},
              "data": {"pymigrate_group_requirements_data": {"netio": "", "fastcore": "==1.0", "alpha": ""}}}
    inventory = write_inventory(tmp_path, "inv", {"all": {"vars": variables, "children": {
        "web": {"hosts": {h1: {}, h2: {}}}, "data": {"hosts": {h2: {}, h3: {}}}}}}, groups)
    run(fleet, inventory, "--limit", "%s,%s,%s" % (h1, h2, h3))
    assert held(fleet, h1, "/opt/groups/venv")["packages"] == {"alpha": "1.1"}
    both = held(fleet, h2, "/opt/groups/venv")["packages"]
    assert both["alpha"] == "1.1" and both["netio"] == "4.0" and both["fastcore"] == "1.0", both
    data = held(fleet, h3, "/opt/groups/venv")["packages"]
    assert data["netio"] == "4.0" and data["fastcore"] == "1.0" and "alpha" in data  # any alpha: the newest

    groups["data"]["pymigrate_group_requirements_data"]["alpha"] = "==1.0"
    inventory = write_inventory(tmp_path, "conflict", {"all": {"vars": variables, "children": {
        "web": {"hosts": {h1: {}, h2: {}}}, "data": {"hosts": {h2: {}, h3: {}}}}}}, groups)
    failed = run(fleet, inventory, "--limit", "%s,%s,%s" % (h1, h2, h3), check=False)
    assert failed.returncode != 0
    assert ("group data and group web give alpha different pins: alpha==1.0 (pymigrate_group_requirements_data) and "
            "alpha==1.1 (pymigrate_group_requirements_web)") in " ".join(failed.stdout.split()), failed.stdout[-3000:]
    assert "host %s" % h2 in failed.stdout and "Install each environment" not in failed.stdout

    # Both groups set the plain name: Ansible keeps one set, and the bundle says which it dropped.
    dropped = {"web": {"pymigrate_group_requirements": {"alpha": "==1.1"}},
               "data": {"pymigrate_group_requirements": {"netio": ""}}}
    inventory = write_inventory(tmp_path, "dropped", {"all": {"vars": variables, "children": {
        "web": {"hosts": {h1: {}, h2: {}}}, "data": {"hosts": {h2: {}, h3: {}}}}}}, dropped)
    result = run(fleet, inventory, "--limit", "%s,%s,%s" % (h1, h2, h3), "--check")
    warning = " ".join(result.stdout.split())  # (Ansible wraps a long warning)
    assert "pymigrate_group_requirements is set by the groups data and web of 1 host(s) (%s)" % h2 in warning, \
        result.stdout[-3000:]
    assert "pymigrate_group_requirements_<group>" in warning


def test_an_environment_on_a_second_interpreter_installs_and_imports(fleet, local_index, tmp_path):
    h1 = fleet.hosts[0]  # Python 3.9
    other = next(host["python"] for host in fleet.hosts if host["python_version"] == "3.12")
    variables = common_vars(local_index, tmp_path)
    hosts = {h1["name"]: {"pymigrate_host_envs": {
        "main": {"path": "/opt/main/venv", "requirements": {"fastcore": "==1.0", "modernlib": ""},
                 "smoke_imports": ["fastcore"]},
        "tools": {"path": "/opt/tools/venv", "python": other,
                  "requirements": {"fastcore": "==1.0", "modernlib": ""}, "smoke_imports": ["fastcore", "modernlib"]}}}}
    inventory = write_inventory(tmp_path, "inv", {"all": {"vars": variables, "hosts": hosts}})
    run(fleet, inventory, "--limit", h1["name"])
    tools, main = held(fleet, h1["name"], "/opt/tools/venv"), held(fleet, h1["name"], "/opt/main/venv")
    assert tools["python"] == "3.12" and main["python"] == "3.9"
    # Resolved for 3.12: modernlib 2.0 needs Python 3.11 or later, the host's own 3.9 gets 1.0.
    assert tools["packages"] == {"fastcore": "1.0", "modernlib": "2.0"}, tools
    assert main["packages"] == {"fastcore": "1.0", "modernlib": "1.0"}, main
    code = "import fastcore, modernlib"
    assert fleet.exec(h1["name"], ["/opt/tools/venv/bin/python", "-c", code]).returncode == 0
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    pythons = {profile["target"]["python"][:4] for profile in manifest["profiles"].values()}
    assert pythons == {"3.9.", "3.12"}, pythons

    hosts[h1["name"]]["pymigrate_host_envs"]["tools"]["python"] = "/usr/bin/python9.9"
    inventory = write_inventory(tmp_path, "missing", {"all": {"vars": variables, "hosts": hosts}})
    failed = run(fleet, inventory, "--limit", h1["name"], check=False)
    assert failed.returncode != 0
    assert ("host %s: environment tools: its interpreter /usr/bin/python9.9 does not exist on this host"
            % h1["name"]) in " ".join(failed.stdout.split()), failed.stdout[-3000:]
    assert "Push the wheels this host lacks" not in failed.stdout  # failed at the survey, before any push


def task_lines(output, task):
    """The result lines (``ok: [h]``, ``changed: [h]``) of one task of a playbook's output."""
    lines = []
    for part in output.split("TASK [%s]" % task)[1:]:
        lines += [line for line in part.split("TASK [", 1)[0].splitlines() if line.startswith(("ok:", "changed:"))]
    return lines


def store_files(fleet, host):
    out = fleet.exec(host, ["find", "/var/lib/pymigrate/store/files", "-type", "f"], check=True).stdout
    return sorted(path.rsplit("/", 1)[1] for path in out.split())


def test_removing_an_environment_cleans_the_host(fleet, local_index, tmp_path):
    host = fleet.hosts[2]["name"]
    variables = common_vars(local_index, tmp_path)
    envs = {"api": {"path": "/opt/rm-api/venv", "requirements": {"alpha": "==1.0"}, "smoke_imports": ["alpha"]},
            "tools": {"path": "/opt/rm-tools/venv", "requirements": {"yankee": "", "nometa": ""}}}
    inventory = write_inventory(tmp_path, "inv", {"all": {"vars": variables, "hosts": {
        host: {"pymigrate_host_envs": envs}}}})
    run(fleet, inventory, "--limit", host)
    assert held(fleet, host, "/opt/rm-tools/venv")["packages"] == {"yankee": "1.0", "nometa": "1.0"}
    # A file in the store that no environment references (pushed for an environment long gone).
    stray = "files/sha256/%s/%s/stray-1.0-py3-none-any.whl" % ("ab", "ab" * 32)
    fleet.exec(host, ["sh", "-c", "mkdir -p /var/lib/pymigrate/store/%s && echo x > /var/lib/pymigrate/store/%s"
                      % (stray.rsplit("/", 1)[0], stray)], check=True)

    envs["tools"]["state"] = "absent"
    inventory = write_inventory(tmp_path, "absent", {"all": {"vars": dict(variables, pymigrate_store_keep="referenced"),
                                                             "hosts": {host: {"pymigrate_host_envs": envs}}}})
    result = run(fleet, inventory, "--limit", host)
    task = "airgap.pymigrate.rollout : Remove the environments marked absent and the store files nothing references"
    assert task_lines(result.stdout, task) == ["changed: [%s]" % host], result.stdout[-3000:]
    listing = fleet.exec(host, ["ls", "-A", "/opt/rm-tools"], check=True).stdout.split()
    assert listing == [], listing  # symlink, generations and lock file: all gone
    files = store_files(fleet, host)
    assert not any(name.startswith(("yankee-", "nometa-", "stray-")) for name in files), files
    assert "alpha-1.0-py3-none-any.whl" in files and held(fleet, host, "/opt/rm-api/venv")["packages"] == {
        "alpha": "1.0"}
    again = run(fleet, inventory, "--limit", host)
    assert task_lines(again.stdout, task) == ["ok: [%s]" % host]
    assert "alpha-1.0-py3-none-any.whl" in store_files(fleet, host)


def test_the_fail_policy_fails_on_pins_it_could_not_check(fleet, local_index, tmp_path):
    h2 = fleet.hosts[1]["name"]
    variables = dict(common_vars(local_index, tmp_path), pymigrate_venv_path="/opt/gate/venv",
                     pymigrate_requirements={"alpha": "==1.1", "netio": ""})
    inventory = write_inventory(tmp_path, "inv", {"all": {"vars": variables, "hosts": {h2: {}}}})
    local_index.json_api = False  # an index that does not answer the per-version JSON API
    try:
        failed = run(fleet, inventory, "--limit", h2, "-e", "pymigrate_vulnerability_policy=fail", check=False)
        reported = run(fleet, inventory, "--limit", h2, "--check")
    finally:
        local_index.json_api = True
    assert failed.returncode != 0
    text = " ".join(failed.stdout.split())
    assert "pinned version(s) could not be checked for known vulnerabilities" in text, failed.stdout[-3000:]
    assert "alpha 1.1" in text and "JSON API answered HTTP 404" in text and "pymigrate_osv_db" in text
    assert "Install each environment" not in failed.stdout
    assert fleet.exec(h2, ["test", "-e", "/opt/gate/venv"]).returncode != 0
    warning = " ".join(reported.stdout.split())
    assert "[WARNING]: " in reported.stdout and "were not checked for known vulnerabilities" in warning, \
        reported.stdout[-3000:]


def test_a_host_pip_configuration_changes_nothing(fleet, local_index, tmp_path):
    """A pip.conf on the host (a constraint and a find-links line) and PIP_* variables in its environment: the
    environment still holds exactly its lock."""
    host = fleet.host(fleet.hosts[1]["name"])
    name, hostile = host["name"], "/tmp/hostile"
    files = {
        "%s/constraints.txt" % hostile: "alpha==1.0\n",
        "/etc/xdg/pip/pip.conf": "[global]\nconstraint = %s/constraints.txt\nfind-links = %s/links\n"
                                 % (hostile, hostile),
        # The interpreter Ansible runs has PIP_* variables set, as a root profile would set them.
        "%s/python" % hostile: "#!/bin/sh\nexport PIP_CONSTRAINT=%s/constraints.txt PIP_FIND_LINKS=%s/links\n"
                               "exec %s \"$@\"\n" % (hostile, hostile, host["python"]),
    }
    # /etc/xdg/pip is pip's global configuration directory: a tmpfs over it, in this host's mount namespace only.
    fleet.exec(name, ["mkdir", "-p", "/etc/xdg/pip", hostile + "/links"], check=True)
    fleet.exec(name, ["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", "/etc/xdg/pip"], check=True)
    try:
        for path, text in files.items():
            fleet.exec(name, ["sh", "-c", "cat > %s" % path], input=text, check=True)
        fleet.exec(name, ["chmod", "755", hostile + "/python"], check=True)
        variables = dict(common_vars(local_index, tmp_path), pymigrate_venv_path="/opt/hostile/venv",
                         pymigrate_requirements={"alpha": "==1.1"}, pymigrate_smoke_imports=["alpha"])
        inventory = write_inventory(tmp_path, "inv", {"all": {"vars": variables, "hosts": {
            name: {"ansible_python_interpreter": hostile + "/python"}}}})
        result = run(fleet, inventory, "--limit", name, check=False)
        assert result.returncode == 0, result.stdout[-3000:]
        assert held(fleet, name, "/opt/hostile/venv")["packages"] == {"alpha": "1.1"}
    finally:
        fleet.exec(name, ["umount", "/etc/xdg/pip"])
        fleet.exec(name, ["rm", "-rf", hostile])
