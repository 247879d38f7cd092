"""The compact tag list: lossless for every tag list packaging makes, and much shorter (the controller keeps every
host's facts for the run)."""

import json

from ansible_collections.airgap.pymigrate.plugins.module_utils import _target_facts
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _targets


def test_compact_tags_round_trip_in_order_and_shrink():
    declarations = [{"python": "3.12", "libc_version": "2.36"}, {"python": "3.8", "arch": "aarch64"},
                    {"python": "3.11", "libc": "musl", "libc_version": "1.2"}]
    lists = [list(_targets.target_from_declaration(d).tags) for d in declarations]
    lists.append(_target_facts.supported_tags())  # this interpreter's own, as the host computes them
    sizes = []
    for tags in lists:
        compact = _target_facts.compact_tags(tags)
        assert _target_facts.expand_tags(compact) == tags
        sizes.append((len(json.dumps(compact)), len(json.dumps(tags))))
    assert all(short * 2 < full for short, full in sizes)
    assert sizes[0][0] * 10 < sizes[0][1]  # glibc 2.36, x86_64: hundreds of tags


def test_a_target_from_compact_facts_equals_one_from_the_list():
    facts = _target_facts.collect("/")
    compact = _target_facts.collect("/", compact=True)
    assert "tags" not in compact and "tags_compact" in compact
    assert _targets.target_from_facts(compact) == _targets.target_from_facts(facts)


def test_the_facts_kept_for_resolving_give_the_same_target_and_builder():
    """resolve_only (migrate.yml keeps every host's result for the run): only markers, tags and the interpreter's
    path, from which the bundle makes the same Target and finds a builder's interpreter."""
    for compact in (False, True):
        facts = _target_facts.collect("/", compact=compact)
        kept = _target_facts.for_resolving(facts)
        assert sorted(kept) == sorted(["markers", "tags_compact" if compact else "tags", "python"])
        assert kept["python"] == {"executable": facts["python"]["executable"]}
        assert _targets.target_from_facts(kept) == _targets.target_from_facts(facts)
        if compact:  # as migrate.yml asks: a quarter less, at least (the markers and the tags are the rest)
            assert len(json.dumps(kept)) * 4 < len(json.dumps(facts)) * 3
