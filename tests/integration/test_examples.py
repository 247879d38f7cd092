"""examples/: the example inventory and site.yml run against the test fleet as written. The fleet's hosts take the
example's names (an inventory source after the example's gives each its address, key and interpreter, as a site's
DNS would); the example's own pins, groups, second environment, declared target, become user and across-the-gap
variables stand, with only the places of the test world given as extra vars (the index, the directories)."""

import json
import os
import shutil
import tarfile
import tempfile

import pytest
import yaml

from tests.fleet import fixtures
from tests.fleet.fixtures import ROOT, ansible, own_fleet
from tests.index import catalog

pytestmark = pytest.mark.fleet

NAME = os.environ.get("PYMIGRATE_EXAMPLES_FLEET", "fhx")
REACHABLE = ("web-a1", "web-b1", "etl-a1")
CHECK = ("import importlib.metadata as m, json; "
         "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))")
# What the example pins, and newer releases it must not take where it pins.
RELEASES = [catalog.release("requests", "2.31.0"), catalog.release("requests", "2.32.3"),
            catalog.release("requests", "2.33.0"), catalog.release("certifi", "2024.8.30"),
            catalog.release("flask", "3.0.3"), catalog.release("flask", "3.1.0"),
            catalog.release("numpy", "1.26.4"), catalog.release("pandas", "2.2.2", requires=["numpy>=1.26"]),
            catalog.release("pandas", "2.2.3", requires=["numpy>=1.26"]), catalog.release("jinja2", "3.1.4")]


@pytest.fixture(scope="module")
def example_fleet():
    reason = fixtures._unavailable_reason()  # pylint: disable=protected-access
    if reason:
        pytest.skip(reason)
    # The example's become user: an unprivileged login user with sudo, as the example inventory says.
    with own_fleet(NAME, len(REACHABLE), tmpfs_size="256M", pythons=("3.11", "3.12"), user="deploy") as made:
        yield made


def _overlay(example_fleet, path):
    """The example's reachable hosts at the fleet's addresses (what DNS or ansible_host gives a real site)."""
    with open(example_fleet.inventory) as handle:
        fleet_hosts = yaml.safe_load(handle)["all"]["children"]["fleet"]["hosts"]
    hosts = {}
    for name, (_fleet_name, variables) in zip(REACHABLE, sorted(fleet_hosts.items())):
        hosts[name] = {key: value for key, value in variables.items()
                       if key in ("ansible_host", "ansible_ssh_private_key_file", "ansible_python_interpreter",
                                  "ansible_ssh_common_args", "ansible_remote_tmp")}
    path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return dict(zip(REACHABLE, sorted(fleet_hosts)))


def _versions(example_fleet, host, path):
    return json.loads(example_fleet.exec(host, [path + "/bin/python", "-c", CHECK], check=True).stdout)


def _changed_tasks(output):
    """The names of the tasks that reported a change, in order."""
    changed, task = [], None
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK ["):line.rindex("]")]
        elif line.startswith("changed: [") and task not in changed:
            changed.append(task)
    return changed


def test_the_example_site_runs_on_the_fleet_as_written(example_fleet, make_index, tmp_path):
    index = make_index(RELEASES, include_pip=True)
    overlay = tmp_path / "addresses.yml"
    fleet_name = _overlay(example_fleet, overlay)
    home = tempfile.mkdtemp(prefix="pmx-")  # every default under it; short for ssh's control path
    places = {"pymigrate_index_url": index.url, "pymigrate_archive": str(tmp_path / "transfer" / "bundle.tar"),
              "pymigrate_signing_key": str(tmp_path / "signing" / "pymigrate.key"),
              "pymigrate_lock_dir": str(tmp_path / "lock"), "pymigrate_bundle_dir": str(tmp_path / "bundle"),
              "pymigrate_report_dir": str(tmp_path / "reports")}
    (tmp_path / "transfer").mkdir()
    (tmp_path / "signing").mkdir()
    extra = ["-e", json.dumps(places)]
    env = {"HOME": home}
    try:
        def playbook(*args):
            return ansible(["ansible-playbook", "-i", str(overlay)] + list(args) + extra,
                           os.path.join(ROOT, "examples", "inventory"), env=env)

        keygen = playbook("airgap.pymigrate.keygen")
        assert "[WARNING]" not in keygen.stdout, keygen.stdout
        site = playbook("examples/site.yml")
        kiosk = [line for line in site.stdout.split("PLAY RECAP", 1)[1].splitlines() if line.startswith("kiosk-b9")]
        # In the bundle's play only (built for from its declaration), never contacted: no change, nothing unreachable.
        assert kiosk and all(word in kiosk[0] for word in ("changed=0", "unreachable=0", "failed=0")), kiosk
        default = {name: _versions(example_fleet, fleet_name[name], "/opt/pymigrate/venv") for name in REACHABLE}
        assert default["web-a1"]["requests"] == "2.33.0" and default["web-a1"]["flask"] == "3.0.3"
        assert default["web-b1"]["requests"] == "2.32.3" and default["web-b1"]["flask"] == "3.0.3"  # the host pin
        assert default["etl-a1"]["pandas"] == "2.2.2" and "flask" not in default["etl-a1"]
        assert all(default[name]["certifi"] == "2024.8.30" for name in REACHABLE)
        assert _versions(example_fleet, fleet_name["etl-a1"], "/opt/reports/venv")["jinja2"] == "3.1.4"
        for name in REACHABLE:  # become: the collection's files are root's, the SSH user is deploy
            owner = example_fleet.exec(fleet_name[name], ["stat", "-c", "%U", "/opt/pymigrate/venv/"], check=True)
            assert owner.stdout.strip() == "root"
        with tarfile.open(places["pymigrate_archive"]) as archive:  # the declared host travels in the archive
            assert any("kiosk-b9" in member.name for member in archive.getmembers()) or any(
                b"kiosk-b9" in archive.extractfile(member).read() for member in archive.getmembers()
                if member.isfile() and member.size < 2_000_000)
        with open(os.path.join(places["pymigrate_report_dir"], "state.json")) as handle:
            state = json.load(handle)
        assert sorted({item["host"] for item in state["environments"]}) == sorted(REACHABLE)
        # Again: the hosts hold what the lock says, so nothing is sent or installed; the one change is the archive,
        # which every run of site.yml writes anew (signed, with its own creation time) on the controller.
        again = playbook("examples/site.yml")
        assert _changed_tasks(again.stdout) == ["airgap.pymigrate.archive : Export the bundle as one signed archive "
                                                "(a delta against the survey's have-list when given)"], again.stdout
        recap = again.stdout.split("PLAY RECAP", 1)[1]
        assert all("unreachable=0" in line and "failed=0" in line for line in recap.splitlines()
                   if line.startswith(REACHABLE)), recap
    finally:
        shutil.rmtree(home, ignore_errors=True)
