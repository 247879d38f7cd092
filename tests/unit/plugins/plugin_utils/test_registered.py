"""Reading what the phases registered from Ansible's own hostvars (a real inventory and variable manager)."""

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _registered, _report, _targets


def hostvars_of(tmp_path, hosts):
    path = tmp_path / "inventory.ini"
    path.write_text("[web]\n%s\n" % "\n".join(hosts))
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(path)])
    manager = VariableManager(loader=loader, inventory=inventory)
    return manager, HostVars(inventory=inventory, variable_manager=manager, loader=loader)


def test_a_run_once_result_is_read_as_the_one_object_every_host_holds_not_a_copy_per_host(tmp_path):
    hosts = ["web%d" % number for number in range(1, 4)]
    manager, hostvars = hostvars_of(tmp_path, hosts)
    # As the strategy registers a run_once task's result: one object set on every host of the play.
    bundle = {"changed": False, "serial": 7, "hosts": {host: {"profile": "cp311"} for host in hosts}}
    for host in hosts:
        manager.set_nonpersistent_facts(host, {_registered.BUNDLE: bundle,
                                               _registered.INSTALL: {"changed": host == "web2"}})
    names = (_registered.BUNDLE, _registered.INSTALL, _registered.PUSH)
    read = _report.registered_vars(hostvars, hosts + ["gone"], names)
    assert all(read[host][_registered.BUNDLE] is bundle for host in hosts)  # templated, each would be a deep copy
    assert [read[host][_registered.INSTALL]["changed"] for host in hosts] == [False, True, False]
    assert _registered.PUSH not in read["web1"] and read["gone"] == {}
    assert _report.run_hosts(hostvars, hosts, hosts) == hosts  # they registered a phase
    # The same from a plain {host: variables} mapping (what the unit tests of the readers pass).
    assert _registered.read({"web1": {_registered.PUSH: 1, "x": 2}}, "web1", [_registered.PUSH]) == {
        _registered.PUSH: 1}


def test_the_reported_facts_of_a_host_are_read_as_stored(tmp_path):
    manager, hostvars = hostvars_of(tmp_path, ["web1", "web2"])
    facts = {"python": {"executable": "/usr/bin/python3"}, "tags": ["cp311-cp311-manylinux_2_17_x86_64"]}
    manager.set_nonpersistent_facts("web1", {_registered.TARGET_FACTS: {"target_facts": facts}})
    assert _targets.host_facts(hostvars, "web1") is facts
    assert _targets.host_facts(hostvars, "web2") is None
