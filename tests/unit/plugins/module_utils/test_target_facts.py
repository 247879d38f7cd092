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


def other_python():
    """An interpreter of this machine other than the one running the tests (pyenv has several), else None."""
    import glob
    import os
    import sys
    for path in sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3.*"))):
        if path.endswith(("-config", "t")) or not os.access(path, os.X_OK):
            continue
        if os.path.realpath(path) != os.path.realpath(sys.executable):
            return path
    return None


def test_an_environment_interpreter_is_surveyed_as_itself():
    """Issue 26: an environment on another interpreter of the host gets that interpreter's markers and tags."""
    import pytest
    python = other_python()
    if python is None:
        pytest.skip("no second interpreter on this machine")
    own = _target_facts.collect("/", compact=True)
    found = _target_facts.survey_interpreters([{"name": "tools", "python": python}], own, compact=True)
    facts = found[python]
    assert facts["python"]["executable"] == python and "tags_compact" in facts
    assert facts["markers"]["python_version"] == ".".join(python.rsplit("python", 1)[1].split(".")[:2])
    kept = _target_facts.for_resolving(dict(own, interpreters=found))
    assert sorted(kept["interpreters"][python]) == ["markers", "python", "tags_compact"]
    assert _targets.target_from_facts(kept["interpreters"][python]).markers == facts["markers"]


def test_an_interpreter_that_does_not_exist_or_does_not_run_is_named_with_its_environment(tmp_path):
    import os
    import sys

    import pytest
    with pytest.raises(_target_facts.InterpreterError, match=r"^environment tools: its interpreter /nonexistent/py "
                                                             "does not exist on this host"):
        _target_facts.survey_interpreters([{"name": "tools", "python": "/nonexistent/py"}], {})
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho 'not python' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(_target_facts.InterpreterError, match=r"environment api: its interpreter %s does not run as "
                                                             r"a Python 3.8 or later \(exit 3: not python\)" % fake):
        _target_facts.survey_interpreter("api", str(fake))
    fake.chmod(0o644)
    with pytest.raises(_target_facts.InterpreterError, match="is not an executable file"):
        _target_facts.survey_interpreter("api", str(fake))
    own = {"python": {"executable": sys.executable}, "markers": {"python_version": "x"}, "tags": ["t"]}
    found = _target_facts.survey_interpreters([{"name": "a", "python": os.path.realpath(sys.executable)}], own)
    assert found == {os.path.realpath(sys.executable): own}  # the module's own interpreter is not run again
