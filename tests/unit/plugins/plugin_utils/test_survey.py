"""The survey file: built and written inside the enclave, read (and checked for its format) outside."""

import json

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _survey
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

FACTS = {"markers": {"python_version": "3.11"}, "tags": ["cp311-cp311-manylinux_2_36_x86_64"],
         "store_have": ["ab" * 32]}


def test_build():
    survey = _survey.build({"web2": FACTS, "web1": {"tags": []}}, ("cd" * 32,), 6)
    assert survey == {"format": 1, "controller": {"store_have": ["cd" * 32], "accepted_serial": 6},
                      "hosts": {"web1": {"tags": []}, "web2": FACTS}}
    assert list(survey["hosts"]) == ["web1", "web2"]
    assert survey["hosts"]["web2"] is not FACTS  # a copy


def test_write_read_round_trip(tmp_path):
    path = str(tmp_path / "survey.yml")
    survey = _survey.build({"web1": FACTS}, [], None)
    _survey.write(path, survey)
    assert _survey.read(path) == survey
    assert json.loads((tmp_path / "survey.yml").read_text()) == survey
    assert [p.name for p in tmp_path.iterdir()] == ["survey.yml"]  # no temporary file left


def test_write_where_no_directory_can_be(tmp_path):
    (tmp_path / "a-file").write_text("")
    path = str(tmp_path / "a-file" / "survey.yml")
    with pytest.raises(PyMigrateError, match="cannot write the survey file .*survey.yml") as info:
        _survey.write(path, _survey.build({}, [], None))
    assert info.value.var == "pymigrate_survey_file" and info.value.value == path


def _refused(tmp_path, text, expected):
    path = tmp_path / "survey.yml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(PyMigrateError) as info:
        _survey.read(str(path))
    message = str(info.value)
    assert str(path) in message and "survey.yml" in message
    assert expected in message
    assert info.value.var == "pymigrate_survey_file" and info.value.value == str(path)
    assert info.value.hint == _survey.HINT
    return message


def test_read_missing_file(tmp_path):
    _refused(tmp_path, None, "cannot read the survey file")


def test_read_invalid_json(tmp_path):
    _refused(tmp_path, "format: 1\nhosts: {}\n", "cannot read the survey file")


@pytest.mark.parametrize("content", [{"format": 2, "controller": {"store_have": []}, "hosts": {}},
                                     {"controller": {"store_have": []}, "hosts": {}},
                                     {"format": "1", "controller": {"store_have": []}, "hosts": {}},
                                     [1, 2]])
def test_read_wrong_format(tmp_path, content):
    _refused(tmp_path, json.dumps(content), "it is not a format 1 survey file")


@pytest.mark.parametrize("hosts", [[], None, {"web1": ["facts"]}, {"web1": FACTS, "web2": None}])
def test_read_hosts_not_a_dict(tmp_path, hosts):
    content = {"format": 1, "controller": {"store_have": []}, "hosts": hosts}
    _refused(tmp_path, json.dumps(content), "its hosts are not a dict of host name to target facts")


@pytest.mark.parametrize("controller", [None, ["ab" * 32], {"store_have": "ab" * 32}, {"store_have": None},
                                        {"store_have": {"ab": True}}])
def test_read_controller_without_store_have_list(tmp_path, controller):
    content = {"format": 1, "hosts": {}}
    if controller is not None:
        content["controller"] = controller
    _refused(tmp_path, json.dumps(content), "its controller part is not a dict with a store_have list")
