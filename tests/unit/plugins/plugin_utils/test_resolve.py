"""Resolution with a lock's versions preferred: they stay while they fit, and only what a change requires moves."""

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _resolve, _targets
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import WantedSet
from tests.unit.plugins.plugin_utils.fake_index import FakeIndexClient

RELEASES = {
    "app": {"1.0": ["lib>=1"], "1.1": ["lib>=1"]},
    "lib": {"1.0": [], "1.5": [], "2.0": []},
    "tool": {"1.0": [], "2.0": []},
    "plugin": {"1.0": ["lib>=2"]},
}


def _resolve_names(wanted, prefer=None):
    pins = _resolve.resolve(_targets.target_from_declaration({"python": "3.11"}), WantedSet(wanted),
                            FakeIndexClient(RELEASES), prefer=prefer)
    return {pin.name: pin.version for pin in pins}


def test_without_preferences_the_newest_that_fits():
    assert _resolve_names({"app": "app", "tool": "tool"}) == {"app": "1.1", "lib": "2.0", "tool": "2.0"}


def test_preferred_versions_stay_while_they_fit():
    locked = {"app": "1.0", "lib": "1.0", "tool": "1.0"}
    assert _resolve_names({"app": "app", "tool": "tool"}, locked) == locked


def test_an_added_requirement_moves_only_what_it_requires():
    locked = {"app": "1.0", "lib": "1.0", "tool": "1.0"}
    assert _resolve_names({"app": "app", "tool": "tool", "plugin": "plugin"}, locked) == {
        "app": "1.0", "lib": "2.0", "tool": "1.0", "plugin": "1.0"}


def test_a_tightened_pin_wins_over_the_preference():
    assert _resolve_names({"app": "app", "tool": "tool>=2"}, {"app": "1.0", "lib": "1.0", "tool": "1.0"}) == {
        "app": "1.0", "lib": "1.0", "tool": "2.0"}
