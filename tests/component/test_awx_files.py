"""The AWX pieces of docs/awx.md, checked by AWX's own rules without a live AWX:

- examples/awx/survey-migrate.json against the survey validation of AWX's API (awx/api/views,
  JobTemplateSurveySpec._validate_spec_data): the spec's name, description and a non-empty list of questions; each
  question's type, question_name, variable (strings) and required (a boolean); a known type; a default of the
  type's kind; integer min and max; choices for the choice types, one default for multiplechoice, from the choices;
- examples/awx/import.json against the format `awx import` (awxkit, ApiV2.import_assets) reads: resource lists
  under the exportable resource names, each asset with the natural key its page class declares, foreign keys and
  attach sets as natural keys, survey_spec as the JSON AWX takes, workflow nodes as a create set whose edges name
  nodes of the same workflow;
- and against the collection: every survey variable and extra var is one the playbooks read, every playbook exists."""

import json
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AWX = os.path.join(ROOT, "examples", "awx")

# awx/api/views: JobTemplateSurveySpec.ALLOWED_TYPES (the Python type a non-empty default must have).
ALLOWED_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str, "multiselect": str,
                 "integer": int, "float": float}
# awxkit/api/pages/api.py (awxkit 24.6.1): EXPORTABLE_RESOURCES, and the NATURAL_KEY of each page class.
EXPORTABLE_RESOURCES = ("users", "organizations", "teams", "credential_types", "credentials", "notification_templates",
                        "projects", "inventory", "inventory_sources", "job_templates", "workflow_job_templates",
                        "execution_environments", "applications", "schedules")
NATURAL_KEYS = {"organization": ("name",), "project": ("organization", "name"), "inventory": ("organization", "name"),
                "job_template": ("organization", "name"), "workflow_job_template": ("organization", "name"),
                "credential": ("organization", "name", "credential_type"), "credential_type": ("name", "kind"),
                "workflow_job_template_node": ("workflow_job_template", "identifier")}
RESOURCE_TYPE = {"projects": "project", "inventory": "inventory", "job_templates": "job_template",
                 "workflow_job_templates": "workflow_job_template"}


def awx_survey_errors(spec):
    """The first error AWX's survey validation answers with (HTTP 400), or None when AWX accepts the spec."""
    for field, kind in (("name", str), ("description", str), ("spec", list)):
        if field not in spec:
            return "Field '%s' is missing from survey spec." % field
        if not isinstance(spec[field], kind):
            return "Expected %s for field '%s'" % (kind.__name__, field)
    if not spec["spec"]:
        return "'spec' doesn't contain any items."
    variables = set()
    for index, question in enumerate(spec["spec"]):
        if not isinstance(question, dict):
            return "Survey question %d is not a json object." % index
        for field in ("type", "question_name", "variable", "required"):
            if field not in question:
                return "'%s' missing from survey question %d" % (field, index)
            if not isinstance(question[field], bool if field == "required" else str):
                return "'%s' in survey question %d has the wrong type" % (field, index)
        if question["variable"] in variables:
            return "'variable' '%s' duplicated in survey question %d." % (question["variable"], index)
        variables.add(question["variable"])
        kind = question["type"]
        if kind not in ALLOWED_TYPES:
            return "'%s' in survey question %d is not an allowed question type" % (kind, index)
        default = question.get("default", "")
        if default != "" and not isinstance(default, ALLOWED_TYPES[kind]):
            return "Default value %r in survey question %d expected to be %s." % (default, index, kind)
        for key in ("min", "max"):
            if question.get(key) is not None and not isinstance(question[key], int):
                return "The %s limit in survey question %d expected to be integer." % (key, index)
        if kind in ("multiplechoice", "multiselect"):
            if "choices" not in question:
                return "Survey question %d of type %s must specify choices." % (index, kind)
            if "default" in question:
                defaults = default.splitlines() if isinstance(default, str) else default
                if kind == "multiplechoice" and len(defaults) > 1:
                    return "Multiple Choice (Single Select) can only have one default value."
                if any(item not in question["choices"] for item in defaults):
                    return "Default choice must be answered from the choices listed."
        if isinstance(default, str) and default.startswith("$encrypted$"):
            return "$encrypted$ is a reserved keyword for password question defaults"
    return None


def _load(name):
    with open(os.path.join(AWX, name)) as handle:
        return json.load(handle)


def _argument_options():
    options = {}
    for role in os.listdir(os.path.join(ROOT, "roles")):
        with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
            for spec in yaml.safe_load(handle)["argument_specs"].values():
                options.update(spec.get("options") or {})
    return options


def test_the_validator_refuses_what_awx_refuses():
    """The survey docs/awx.md showed before: no description, questions without `required`."""
    old = {"name": "Python libraries", "spec": [
        {"question_name": "Rollout batches", "variable": "pymigrate_serial", "type": "text", "default": "1,25%,100%"}]}
    assert awx_survey_errors(old) == "Field 'description' is missing from survey spec."
    old["description"] = ""
    assert awx_survey_errors(old) == "'required' missing from survey question 0"
    old["spec"][0]["required"] = False
    assert awx_survey_errors(old) is None
    for bad in ({"type": "integer", "default": "50"}, {"type": "multiplechoice", "default": "x"},
                {"type": "multiplechoice", "choices": ["a"], "default": "b"}, {"type": "text", "max": "9"},
                {"type": "select"}):
        question = dict(old["spec"][0], **bad)
        assert awx_survey_errors(dict(old, spec=[question])), bad


def test_the_migrate_survey_passes_awx_validation_and_asks_for_variables_the_collection_reads():
    survey = _load("survey-migrate.json")
    assert awx_survey_errors(survey) is None
    options = _argument_options()
    for question in survey["spec"]:
        assert question["variable"] in options, question["variable"]
        if question.get("choices"):
            assert set(question["choices"]) <= set(options[question["variable"]]["choices"]), question
    serial = next(q for q in survey["spec"] if q["variable"] == "pymigrate_serial")["default"]
    assert serial.split(",") == ["1", "25%", "100%"]  # as rollout.yml reads the text AWX sends


def _natural_key_ok(key):
    assert isinstance(key, dict) and key.get("type") in NATURAL_KEYS, key
    for field in NATURAL_KEYS[key["type"]]:
        assert field in key, (field, key)
        if isinstance(key[field], dict):
            _natural_key_ok(key[field])
    return True


def test_the_import_file_is_what_awx_import_reads():
    data = _load("import.json")
    assert set(data) <= set(EXPORTABLE_RESOURCES)
    options = _argument_options()
    keys = set()
    for resource, assets in data.items():
        for asset in assets:
            assert _natural_key_ok(asset["natural_key"]) and asset["natural_key"]["type"] == RESOURCE_TYPE[resource]
            assert asset["natural_key"]["name"] == asset["name"]
            keys.add(json.dumps(asset["natural_key"], sort_keys=True))
    for template in data["job_templates"]:
        for field in ("project", "inventory"):  # foreign keys: natural keys of assets of the same file
            assert json.dumps(template[field], sort_keys=True) in keys, (template["name"], field)
        assert os.path.isfile(os.path.join(ROOT, template["playbook"])), template["playbook"]
        extra = yaml.safe_load(template["extra_vars"]) or {}
        assert isinstance(extra, dict) and set(extra) <= set(options), (template["name"], extra)
        for credential in template["related"].get("credentials", []):  # an attach set: natural keys, no create
            assert _natural_key_ok(credential) and "natural_key" not in credential
        if template["survey_enabled"]:
            assert template["related"]["survey_spec"] == _load("survey-migrate.json")
    migrate = next(t for t in data["job_templates"] if t["playbook"] == "playbooks/migrate.yml")
    assert migrate["survey_enabled"]


def test_the_workflow_nodes_form_the_documented_path_across_the_gap():
    data = _load("import.json")
    templates = {json.dumps(t["natural_key"], sort_keys=True): t for t in data["job_templates"]}
    (workflow,) = data["workflow_job_templates"]
    nodes = workflow["related"]["workflow_nodes"]  # a create set: each node with its natural key
    by_id = {node["identifier"]: node for node in nodes}
    assert len(by_id) == len(nodes)
    for node in nodes:
        assert _natural_key_ok(node["natural_key"]) and node["natural_key"]["workflow_job_template"] == \
            workflow["natural_key"] and node["natural_key"]["identifier"] == node["identifier"]
        for edge in ("success_nodes", "failure_nodes", "always_nodes"):
            for target in node["related"].get(edge, []):
                assert target["workflow_job_template"] == workflow["natural_key"] and target["identifier"] in by_id
        if "unified_job_template" in node:
            assert json.dumps(node["unified_job_template"], sort_keys=True) in templates, node["identifier"]
        else:  # an approval node: AWX makes its template from this JSON
            assert node["related"]["create_approval_template"]["name"]
    path, node = [], next(n for n in nodes if not any(n["identifier"] == t["identifier"] for m in nodes
                                                      for t in m["related"]["success_nodes"]))
    while node:
        path.append(templates[json.dumps(node["unified_job_template"], sort_keys=True)]["playbook"]
                    if "unified_job_template" in node else "approval")
        following = node["related"]["success_nodes"]
        node = by_id[following[0]["identifier"]] if following else None
    assert path == ["playbooks/survey.yml", "playbooks/bundle.yml", "approval", "playbooks/deploy.yml",
                    "playbooks/state.yml"]


@pytest.mark.parametrize("name", ["survey-migrate.json", "import.json"])
def test_docs_awx_names_the_file(name):
    with open(os.path.join(ROOT, "docs", "awx.md")) as handle:
        assert "examples/awx/" + name in handle.read()
