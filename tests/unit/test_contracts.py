"""Contracts between layers, checked: module documentation against the argument specs of the action plugins that
implement them, role defaults against role argument specs, registered names against their readers, and one version
string."""

import ast
import glob
import importlib
import os
import re

import jinja2
import jinja2.nativetypes
import jinja2.nodes
import pytest
import yaml

from ansible_collections.airgap.pymigrate.plugins.doc_fragments._attributes import ModuleDocFragment
from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _registered
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import COLLECTION_VERSION

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = "ansible_collections.airgap.pymigrate.plugins"
# Modules implemented by an action plugin with an ARGUMENT_SPEC: entirely on the controller, or on a host through
# the connection (target_facts' spec is its module's own, shared through module_utils).
ACTION_MODULES = ("bundle", "bundle_archive", "host_prune", "migration_report", "mirror_publish", "role_arguments",
                  "rollout_hold", "survey_file", "vulnerability_audit", "sdist_build", "target_facts", "wheel_push")
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


def private_name(role, name):
    """The role's own name for the collection-wide variable ``name``: ``pymigrate_store_dir`` is
    ``_rollout_store_dir`` in the rollout role, ``pymigrate_report_dir`` is ``_report_dir`` in the report role
    (role-prefixed, as ansible-lint's var-naming[no-role-prefix] asks of a role's variables; a leading underscore:
    not to be set)."""
    rest = name[len("pymigrate_"):]
    return "_" + rest if rest.startswith(role + "_") else "_%s_%s" % (role, rest)


def bound(role):
    """{collection-wide name: (the role's private name, its default)} from the role's defaults, each a binding
    ``_<role>_x: "{{ pymigrate_x | default(...) }}"`` (the Good Practices for Ansible's collection-wide variables)."""
    environment = jinja2.nativetypes.NativeEnvironment()
    found = {}
    for key, value in role_file(role, "defaults", "main.yml").items():
        names = {node.name for node in environment.parse(value).find_all(jinja2.nodes.Name)
                 if node.name.startswith("pymigrate_")}
        assert len(names) == 1, (role, key, value)
        name = names.pop()
        assert key == private_name(role, name), (role, key, name)
        found[name] = (key, environment.from_string(value).render())
    return found


@pytest.mark.parametrize("role", roles())
def test_role_defaults_match_the_argument_specs(role):
    """Each entry point declares the variables it reads; each default binds one of them, with its value, to the role's
    private name."""
    defaults = bound(role)
    declared = set()
    for entry_point, spec in role_file(role, "meta", "argument_specs.yml")["argument_specs"].items():
        options = spec.get("options") or {}
        assert all(name.startswith("pymigrate_") for name in options), entry_point
        for name, option in options.items():
            if option.get("required") or "default" not in option:
                # A required variable, or one of the inventory contract read from every host, has no role default:
                # for a required one the check would never fire, an inventory one is each host's own.
                assert name not in defaults and "default" not in option, (entry_point, name)
            else:
                assert name in defaults and defaults[name][1] == option.get("default"), (entry_point, name)
            # Secrets stay out of the output of the argument checks.
            assert bool(option.get("no_log")) == any(word in name for word in ("password", "token", "passphrase")), name
        declared.update(options)
    assert set(defaults) <= declared, sorted(set(defaults) - declared)


@pytest.mark.parametrize("role", roles())
def test_a_roles_tasks_read_its_settings_by_their_private_names(role):
    """A role's tasks read what its defaults bind through the private names (a user's ansible-lint finds no variable
    of the role without the role's prefix), never the collection-wide name, which would skip the default."""
    settings = bound(role)
    environment = jinja2.Environment()
    for path in sorted(glob.glob(os.path.join(ROOT, "roles", role, "tasks", "*.yml"))):
        with open(path) as handle:
            text = handle.read()
        names = set()
        for template in re.findall(r"\{\{.*?\}\}", text, re.S):
            names |= {node.name for node in environment.parse(template).find_all(jinja2.nodes.Name)}
        for line in text.splitlines():  # conditions are bare expressions; names and comments are prose
            if not re.match(r"^\s*(#|(- )?(name|tags):)", line):
                names |= set(re.findall(r"(?<!\w)pymigrate_\w+", line))
        assert not names & set(settings), (path, sorted(names & set(settings)))


def test_a_variable_of_several_roles_has_one_type_and_one_default():
    """import_role shows a role's defaults to the whole play, so two roles of one play must not disagree."""
    found = {}
    for role in roles():
        for spec in role_file(role, "meta", "argument_specs.yml")["argument_specs"].values():
            for name, option in (spec.get("options") or {}).items():
                found.setdefault(name, set()).add((option.get("type", "str"), repr(option.get("default"))))
    assert not {name: kinds for name, kinds in found.items() if len(kinds) > 1}


def test_the_bundle_pass_after_the_builds_takes_the_first_passs_arguments():
    """roles/bundle/tasks/builds.yml repeats the first pass's arguments (YAML anchors do not cross files)."""
    def bundle_args(name):
        with open(os.path.join(ROOT, "roles", "bundle", "tasks", name)) as handle:
            tasks = yaml.safe_load(handle)
        return next(task["airgap.pymigrate.bundle"] for task in tasks if "airgap.pymigrate.bundle" in task)
    first, again = bundle_args("main.yml"), bundle_args("builds.yml")
    assert again.pop("require_built") is True and again.pop("defer_builds") is False
    del first["defer_builds"]  # a deferred build leaves none pending: the second pass never defers
    assert again == first


def test_one_version_string():
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        assert yaml.safe_load(handle)["version"] == COLLECTION_VERSION


def test_the_variables_document_is_in_sync_with_the_argument_specs():
    from tests.tools import variables_doc
    with open(variables_doc.PATH) as handle:
        assert handle.read() == variables_doc.render(), "run make docs"


def test_the_variables_document_lists_every_variable_the_playbooks_and_roles_read(names):
    """Every pymigrate_* variable a template under playbooks/ or roles/ reads (tag names are no variables) has an
    argument spec, and so a row in docs/variables.md."""
    from tests.tools import variables_doc
    with open(variables_doc.PATH) as handle:
        listed = set(re.findall(r"^\| `(pymigrate_\w+)` \|", handle.read(), re.M))
    read = {name for name in names.read if name.startswith("pymigrate_")}
    assert len(read) > 40 and not read - listed, sorted(read - listed)


# Registered names and their readers. The YAML is read as Ansible reads it: every string is a template, the values of
# these keys are bare expressions, and these keys name no variable.
CONDITIONALS = ("when", "failed_when", "changed_when", "until")
NOT_TEMPLATED = ("name", "tags", "register")
MODULE = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+$")
# Registered, read by no task or plugin of the collection (yet). Listed so that a name registered by mistake (a typo,
# a rename in one playbook) fails below; the list must shrink when one gets a reader or is dropped.
UNREAD = ("__pymigrate_publish",)


class YamlNames:
    """What the playbooks and the roles' tasks register, set and read, by walking every YAML file under playbooks/
    and roles/ (argument specs and galaxy metadata left out: they are no templates)."""

    def __init__(self):
        self.registers = []  # (name, module, file)
        self.set_facts = set()
        self.defined = set()  # registered, set_fact, vars: and loop_control variables
        self.read = set()  # variables a template reads
        self.read_strings = set()  # __pymigrate_* names a template reads by their text (selectattr, map(attribute=))
        self.environment = jinja2.Environment()
        for path in sorted(glob.glob(os.path.join(ROOT, "playbooks", "*.yml"))
                           + glob.glob(os.path.join(ROOT, "roles", "*", "*", "*.yml"))):
            if os.path.basename(os.path.dirname(path)) != "meta":
                with open(path) as handle:
                    self._walk(yaml.safe_load(handle), os.path.relpath(path, ROOT))

    def _walk(self, node, path, key=None):
        if isinstance(node, dict):
            self._task(node, path)
            for child_key, value in node.items():
                if child_key not in NOT_TEMPLATED:
                    self._walk(value, path, child_key)
        elif isinstance(node, list):
            for item in node:
                self._walk(item, path, key)
        elif isinstance(node, str):
            self._template("{{ %s }}" % node if key in CONDITIONALS else node)

    def _task(self, task, path):
        if isinstance(task.get("register"), str):
            module = next((key for key in task if MODULE.match(key)), None)
            self.registers.append((task["register"], module, path))
            self.defined.add(task["register"])
        if isinstance(task.get("ansible.builtin.set_fact"), dict):
            self.set_facts.update(task["ansible.builtin.set_fact"])
            self.defined.update(task["ansible.builtin.set_fact"])
        if isinstance(task.get("vars"), dict):
            self.defined.update(task["vars"])
        loop_control = task.get("loop_control") or {}
        self.defined.update(loop_control[key] for key in ("index_var", "loop_var") if key in loop_control)

    def _template(self, text):
        tree = self.environment.parse(text)
        self.read.update(node.name for node in tree.find_all(jinja2.nodes.Name) if node.ctx == "load")
        self.read_strings.update(node.value for node in tree.find_all(jinja2.nodes.Const)
                                 if isinstance(node.value, str) and re.match(r"^__pymigrate_\w+$", node.value))


@pytest.fixture(scope="module")
def names():
    return YamlNames()


def test_plugins_take_registered_names_from_their_one_module():
    """No plugin spells a registered name itself: _registered.py is their one home."""
    spelled = []
    for path in glob.glob(os.path.join(ROOT, "plugins", "**", "*.py"), recursive=True):
        if os.path.basename(path) == "_registered.py":
            continue
        with open(path) as handle:
            tree = ast.parse(handle.read())
        spelled.extend("%s:%d %s" % (os.path.relpath(path, ROOT), node.lineno, node.value) for node in ast.walk(tree)
                       if isinstance(node, ast.Constant) and isinstance(node.value, str)
                       and re.match(r"^__pymigrate_\w+$", node.value))
    assert not spelled


@pytest.mark.parametrize("name", sorted(_registered.REGISTERED))
def test_each_registered_name_a_plugin_reads_is_registered_by_its_module(name, names):
    modules = {(module, path) for registered, module, path in names.registers if registered == name}
    assert modules, "no register: %s under playbooks/ or roles/" % name
    assert {module for module, _path in modules} == {_registered.REGISTERED[name]}, sorted(modules)


@pytest.mark.parametrize("name", _registered.SET_FACTS)
def test_each_fact_a_plugin_reads_is_set(name, names):
    assert name in names.set_facts, "no set_fact of %s under playbooks/ or roles/" % name


def test_each_registered_name_has_a_reader(names):
    """A register: (or set_fact) whose name nothing reads is a typo or a rename that missed its readers."""
    readers = set(_registered.REGISTERED) | set(_registered.SET_FACTS) | names.read | names.read_strings
    written = {name for name, _module, _path in names.registers} | names.set_facts
    unread = sorted("%s (%s)" % (name, path) for name, _module, path in names.registers
                    if name not in readers and name not in UNREAD)
    unread += sorted(name for name in names.set_facts if name.startswith("__pymigrate_") and name not in readers)
    assert not unread, "registered, read by nothing: %s" % ", ".join(unread)
    assert set(UNREAD) <= written and not set(UNREAD) & readers


def test_each_registered_name_a_template_reads_is_registered(names):
    missing = sorted(name for name in (names.read | names.read_strings)
                     if name.startswith("__pymigrate_") and name not in names.defined)
    assert not missing, "read, never registered or set: %s" % ", ".join(missing)
