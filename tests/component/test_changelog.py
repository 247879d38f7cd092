"""The rendered changelog: CHANGELOG.md is what antsibull-changelog renders from changelogs/changelog.yaml for the
collection's version (galaxy.yml), and a fragment added later folds into that release with
`antsibull-changelog release --update-existing` (`make changelog`)."""

import os
import shutil
import subprocess

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, ".venv", "bin")


def _copy(tmp_path):
    """The changelog's inputs in a tree of their own (the tool writes into the tree it runs in)."""
    for name in ("galaxy.yml", "CHANGELOG.md"):
        shutil.copy(os.path.join(ROOT, name), str(tmp_path / name))
    shutil.copytree(os.path.join(ROOT, "changelogs"), str(tmp_path / "changelogs"))
    return str(tmp_path)


def _changelog(args, cwd):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"])
    return subprocess.run([os.path.join(BIN, "antsibull-changelog")] + args, cwd=cwd, env=env, check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_the_changelog_is_rendered_from_changelog_yaml_for_the_current_version(tmp_path):
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        version = yaml.safe_load(handle)["version"]
    with open(os.path.join(ROOT, "changelogs", "changelog.yaml")) as handle:
        releases = yaml.safe_load(handle)["releases"]
    assert version in releases and releases[version]["changes"]["release_summary"]
    tree = _copy(tmp_path)
    os.remove(os.path.join(tree, "CHANGELOG.md"))
    _changelog(["generate"], tree)
    with open(os.path.join(tree, "CHANGELOG.md")) as generated, open(os.path.join(ROOT, "CHANGELOG.md")) as shipped:
        assert shipped.read() == generated.read(), "run make changelog"


def test_every_fragment_is_in_the_release(tmp_path):
    """No fragment waits unreleased: each is listed under the current version (make changelog folds it in)."""
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        version = yaml.safe_load(handle)["version"]
    with open(os.path.join(ROOT, "changelogs", "changelog.yaml")) as handle:
        released = set(yaml.safe_load(handle)["releases"][version]["fragments"])
    fragments = set(os.listdir(os.path.join(ROOT, "changelogs", "fragments")))
    assert fragments and not fragments - released, sorted(fragments - released)


def test_a_later_fragment_folds_into_the_current_release(tmp_path):
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        version = yaml.safe_load(handle)["version"]
    tree = _copy(tmp_path)
    with open(os.path.join(tree, "changelogs", "fragments", "99-later.yml"), "w") as handle:
        handle.write("bugfixes:\n  - later branch - a fix merged after the first release was cut.\n")
    _changelog(["lint"], tree)
    _changelog(["release", "--update-existing"], tree)
    with open(os.path.join(tree, "CHANGELOG.md")) as handle:
        text = handle.read()
    assert "a fix merged after the first release was cut" in text
    assert text.count('<a id="v%s"></a>' % version.replace(".", "-")) == 1
    with open(os.path.join(tree, "changelogs", "changelog.yaml")) as handle:
        releases = yaml.safe_load(handle)["releases"]
    assert list(releases) == [version] and "99-later.yml" in releases[version]["fragments"]
