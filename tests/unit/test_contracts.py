"""Contracts between layers, checked: module documentation against the argument specs of the action plugins that
implement them, role defaults against role argument specs, and one version string."""

import glob
import importlib
import os

import pytest
import yaml

from ansible_collections.airgap.pymigrate.plugins.doc_fragments._attributes import ModuleDocFragment
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import COLLECTION_VERSION

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = "ansible_collections.airgap.pymigrate.plugins"
# Modules implemented by an action plugin with an ARGUMENT_SPEC: entirely on the controller, or on a host through
# the connection (target_facts' spec is its module's own, shared through module_utils).
ACTION_MODULES = ("bundle", "bundle_archive", "migration_report", "role_arguments", "survey_file",
                  "vulnerability_audit", "sdist_build", "target_facts", "wheel_push")
SPEC_KEYS = ("type", "required", "default", "choices", "elements")


def documented_options(module):
    """The module's options with its doc fragments merged in (the module's own keys win, as Ansible merges)."""
    doc = yaml.safe_load(importlib.import_module("%s.modules.%s" % (PACKAGE, module)).DOCUMENTATION)
    options = {}
    for fragment in doc.get("extends_documentation_fragment", []):
        name = fragment.split(".")[-1]
        text = ModuleDocFragment.DOCUMENTATION if name == "_attributes" else getattr(ModuleDocFragment, name)
        for key, value in (yaml.safe_load(text).get("options") or {}).items():
            options[key] = dict(value)
    for key, value in (doc.get("options") or {}).items():
        options.setdefault(key, {}).update(value)
    return options


def normalised(spec):
    found = {key: spec[key] for key in SPEC_KEYS if spec.get(key) not in (None, False)}
    if found.get("type") == "str":
        del found["type"]  # the default type
    return found


@pytest.mark.parametrize("module", ACTION_MODULES)
def test_module_docs_match_the_action_argument_spec(module):
    spec = importlib.import_module("%s.action.%s" % (PACKAGE, module)).ActionModule.ARGUMENT_SPEC
    documented = documented_options(module)
    assert sorted(documented) == sorted(spec)
    for name, option in spec.items():
        assert normalised(documented[name]) == normalised(option), name
        assert bool(option.get("no_log")) == ("password" in name or "token" in name or "passphrase" in name), name


def roles():
    return sorted(os.path.basename(os.path.dirname(os.path.dirname(p)))
                  for p in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")))


def role_file(role, *parts):
    with open(os.path.join(ROOT, "roles", role, *parts)) as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize("role", roles())
def test_role_defaults_match_every_entry_point(role):
    defaults = role_file(role, "defaults", "main.yml")
    for entry_point, spec in role_file(role, "meta", "argument_specs.yml")["argument_specs"].items():
        options = spec.get("options") or {}
        assert all(name.startswith("pymigrate_") for name in options), entry_point
        for name, option in options.items():
            if option.get("required") or "default" not in option:
                # A required variable, or one of the inventory contract read from every host, has no role default:
                # for a required one the check would never fire, an inventory one is each host's own.
                assert name not in defaults and "default" not in option, (entry_point, name)
            else:
                assert name in defaults and defaults[name] == option.get("default"), (entry_point, name)
        assert set(defaults) <= set(options), (entry_point, sorted(set(defaults) - set(options)))


def test_one_version_string():
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        assert yaml.safe_load(handle)["version"] == COLLECTION_VERSION


def test_the_variables_document_is_in_sync_with_the_argument_specs():
    from tests.tools import variables_doc
    with open(variables_doc.PATH) as handle:
        assert handle.read() == variables_doc.render(), "run make docs"
