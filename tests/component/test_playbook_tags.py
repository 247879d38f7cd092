"""Every phase is skippable on its own: tags sit on tasks and role imports, not on plays (read from --list-tasks)."""

import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PHASES = {
    "playbooks/migrate.yml": ["pymigrate_survey", "pymigrate_bundle", "pymigrate_push", "pymigrate_install",
                              "pymigrate_report"],
    "playbooks/bundle.yml": ["pymigrate_survey", "pymigrate_bundle", "pymigrate_export"],
    "playbooks/deploy.yml": ["pymigrate_import", "pymigrate_push", "pymigrate_install", "pymigrate_report"],
    "playbooks/survey.yml": ["pymigrate_survey"],
    "playbooks/rollback.yml": ["pymigrate_rollback", "pymigrate_report"],
    "playbooks/state.yml": ["pymigrate_state", "pymigrate_report"],
    "playbooks/keygen.yml": ["pymigrate_keygen"],
    "playbooks/lock.yml": ["pymigrate_survey", "pymigrate_lock"],
    "playbooks/mirror.yml": ["pymigrate_mirror"],
}


def listed_tasks(playbook, *args):
    """{task name: set of tags} as ansible-playbook --list-tasks prints them (argument validation left out)."""
    result = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", playbook,
                             "--list-tasks"] + list(args), cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg")))
    tasks = {}
    for line in result.stdout.splitlines():
        match = re.match(r"^\s{6}(.+?)\tTAGS: \[(.*)\]$", line)
        if match and "Validating arguments" not in match.group(1):
            tasks[match.group(1)] = {tag.strip() for tag in match.group(2).split(",") if tag.strip()}
    return tasks


@pytest.mark.parametrize("playbook", sorted(PHASES))
def test_plays_carry_no_tags_and_every_task_has_its_phase(playbook):
    with open(os.path.join(ROOT, playbook)) as handle:
        assert not re.search(r"^  tags:", handle.read(), re.M), "a play-level tag in %s" % playbook
    tasks = listed_tasks(playbook)
    for name, tags in tasks.items():
        assert "always" in tags or tags & set(PHASES[playbook]), (name, tags)
    assert {tag for tags in tasks.values() for tag in tags} >= set(PHASES[playbook])


@pytest.mark.parametrize("playbook, phase", [(p, phase) for p, phases in sorted(PHASES.items()) for phase in phases])
def test_each_phase_is_skippable_alone(playbook, phase):
    everything = listed_tasks(playbook)
    skipped = listed_tasks(playbook, "--skip-tags", phase)
    assert {name for name, tags in everything.items() if phase in tags} - set(skipped) != set()
    assert set(skipped) == {name for name, tags in everything.items() if phase not in tags or "always" in tags}
