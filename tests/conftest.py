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
