"""Shared pytest set-up: make the collection importable as ansible_collections.airgap.pymigrate
(plain namespace packages, no Ansible needed) and register the fixture plugins."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

pytest_plugins = [
    "tests.index.fixtures",
    "tests.fleet.fixtures",
]


def pytest_sessionfinish(session, exitstatus):
    """Every lock the test session wrote (bundles, lock directories, the copies bundles carry) is checked by
    packaging.pylock, PEP 751's reader, not by ours: one that is not valid fails the session, naming it."""
    import glob
    import tomllib

    from packaging.pylock import Pylock, PylockValidationError

    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    invalid = []
    found = glob.glob(os.path.join(str(factory.getbasetemp()), "**", "pylock.*.toml"), recursive=True)
    for path in sorted({os.path.realpath(path) for path in found}):  # (pytest links each test's newest directory)
        try:
            with open(path, "rb") as handle:
                Pylock.from_dict(tomllib.load(handle))
        except (OSError, ValueError, PylockValidationError) as exc:
            invalid.append("%s: %s" % (path, exc))
    if invalid:
        session.config.get_terminal_writer().line("locks that are not valid PEP 751:\n" + "\n".join(invalid), red=True)
        session.exitstatus = 1
