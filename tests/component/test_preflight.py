"""tests/tools/preflight, the first step of `make test`: passes on a machine that has what the tests need, and fails
at once naming each missing package and how to install it."""

import os
import subprocess
import sys

from tests.fleet.fixtures import ROOT

PREFLIGHT = os.path.join(ROOT, "tests", "tools", "preflight")


def test_this_machine_has_what_make_test_needs():
    result = subprocess.run([PREFLIGHT], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_missing_commands_are_named_with_their_package(tmp_path):
    # A PATH without /usr/bin: ssh, git, podman and the like are not found (sshd in /usr/sbin still is).
    env = dict(os.environ, PATH=str(tmp_path))
    result = subprocess.run([sys.executable, PREFLIGHT], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, check=False)
    assert result.returncode == 1
    assert "make test cannot run: missing Debian packages:" in result.stdout
    assert "openssh-client" in result.stdout and "git" in result.stdout and "tests/tools/system-deps" in result.stdout
