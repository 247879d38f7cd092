"""The CycloneDX 1.6 SBOM of a bundle: one component per distinct file, purl, sha256, licences (expression, free
text, classifiers), the dependency graph, a stable serial; the VEX beside it, naming components by BOM-Link. Both
validated against the CycloneDX 1.6 JSON schema (cyclonedx-python-lib's strict validator)."""

import json
import urllib.parse

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _model, _sbom
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import DistFile, Pin

CREATED = "2026-11-25T12:00:00Z"


def _pin(name, version, sha, filename=None, **extra):
    filename = filename or "%s-%s-py3-none-any.whl" % (name, version)
    dist = DistFile(project=name, version=version, filename=filename, url="http://x/%s" % filename, sha256=sha,
                    size=10)
    return Pin(name=name, version=version, file=dist, **extra)


REQUESTS = _pin("requests", "2.32.3", "aa" * 32, license_expression="Apache-2.0", summary="HTTP for Humans.")
IDNA = _pin("idna", "3.7", "bb" * 32, license="BSD License\n\nCopyright (c) 2013-2024 Kim Davies\nAll rights...")
URLLIB3 = _pin("urllib3", "2.2.1", "cc" * 32)


def test_document_header():
    sbom = _sbom.render_sbom({"p1": [REQUESTS]}, 7, CREATED)
    assert sbom["bomFormat"] == "CycloneDX"
    assert sbom["specVersion"] == "1.6"
    assert sbom["version"] == 1
    assert sbom["serialNumber"].startswith("urn:uuid:")
    assert sbom["metadata"]["timestamp"] == CREATED
    assert sbom["metadata"]["tools"] == {"components": [
        {"type": "application", "name": "airgap.pymigrate", "version": _model.COLLECTION_VERSION}]}
    assert sbom["metadata"]["component"] == {"type": "application", "bom-ref": "pymigrate-bundle",
                                             "name": "pymigrate-bundle-7", "version": "7"}
    json.dumps(sbom)  # plain JSON data
    assert _sbom.SBOM_FILE == "sbom.cdx.json"


def test_one_component_per_distinct_file_with_a_property_per_profile():
    sbom = _sbom.render_sbom({"p2": [REQUESTS, URLLIB3], "p1": [IDNA, REQUESTS]}, 1, CREATED)
    assert [c["name"] for c in sbom["components"]] == ["idna", "requests", "urllib3"]
    by_name = {c["name"]: c for c in sbom["components"]}
    assert by_name["requests"]["properties"] == [{"name": "airgap.pymigrate:profile", "value": "p1"},
                                                 {"name": "airgap.pymigrate:profile", "value": "p2"}]
    assert by_name["idna"]["properties"] == [{"name": "airgap.pymigrate:profile", "value": "p1"}]
    assert by_name["urllib3"]["properties"] == [{"name": "airgap.pymigrate:profile", "value": "p2"}]


def test_same_release_different_files_are_two_components():
    wheel = _pin("pyyaml", "6.0.1", "dd" * 32, filename="PyYAML-6.0.1-cp311-cp311-manylinux_2_17_x86_64.whl")
    other = _pin("pyyaml", "6.0.1", "ee" * 32, filename="PyYAML-6.0.1-cp39-cp39-manylinux_2_17_x86_64.whl")
    sbom = _sbom.render_sbom({"a": [wheel], "b": [other]}, 1, CREATED)
    assert len(sbom["components"]) == 2
    assert sorted(c["hashes"][0]["content"] for c in sbom["components"]) == ["dd" * 32, "ee" * 32]


def test_component_fields():
    sbom = _sbom.render_sbom({"p1": [REQUESTS]}, 1, CREATED)
    (component,) = sbom["components"]
    ref = "pkg:pypi/requests@2.32.3?file_name=requests-2.32.3-py3-none-any.whl"
    assert component["type"] == "library"
    assert component["purl"] == ref and component["bom-ref"] == ref
    assert component["name"] == "requests" and component["version"] == "2.32.3"
    assert component["hashes"] == [{"alg": "SHA-256", "content": "aa" * 32}]
    assert component["licenses"] == [{"expression": "Apache-2.0", "acknowledgement": "declared"}]
    assert component["description"] == "HTTP for Humans."


def test_purl_quotes_its_parts():
    pin = _pin("zope-interface", "6.0+local", "ab" * 32, filename="zope.interface-6.0+local-cp311-abi3-any.whl")
    expected = "pkg:pypi/zope-interface@6.0%2Blocal?file_name=zope.interface-6.0%2Blocal-cp311-abi3-any.whl"
    assert _sbom.purl(pin) == expected


def test_licences():
    by_name = {c["name"]: c for c in _sbom.render_sbom({"p": [REQUESTS, IDNA, URLLIB3]}, 1, CREATED)["components"]}
    assert by_name["idna"]["licenses"] == [{"license": {"name": "BSD License", "acknowledgement": "declared"}}]
    assert "licenses" not in by_name["urllib3"]
    assert "description" not in by_name["urllib3"]
    classifiers = ("License :: OSI Approved :: MIT License", "License :: OSI Approved :: BSD License")
    both = _pin("x", "1", "ab" * 32, license="MIT License", license_expression="MIT", license_classifiers=classifiers)
    assert _sbom._licenses(both) == [{"expression": "MIT", "acknowledgement": "declared"}]
    long_text = _pin("y", "1", "ab" * 32, license="  \n" + "L" * 300 + "\nmore", license_classifiers=classifiers)
    assert _sbom._licenses(long_text) == [{"license": {"name": "L" * 200, "acknowledgement": "declared"}}]
    assert _sbom._licenses(_pin("z", "1", "ab" * 32, license="   \n ")) == []
    # No expression, no licence text (or UNKNOWN): the classifiers, by SPDX id where it is not in doubt.
    for text in (None, "UNKNOWN"):
        assert _sbom._licenses(_pin("c", "1", "ab" * 32, license=text, license_classifiers=classifiers)) == [
            {"license": {"id": "MIT", "acknowledgement": "declared"}},
            {"license": {"name": "BSD License", "acknowledgement": "declared"}}]


def test_serial_number_is_stable_and_depends_on_serial_and_content():
    first = _sbom.render_sbom({"p1": [REQUESTS, IDNA]}, 5, CREATED)
    again = _sbom.render_sbom({"other-name": [IDNA], "p1": [REQUESTS]}, 5, "2027-01-01T00:00:00Z")
    assert first["serialNumber"] == again["serialNumber"]
    assert _sbom.render_sbom({"p1": [REQUESTS, IDNA]}, 6, CREATED)["serialNumber"] != first["serialNumber"]
    assert _sbom.render_sbom({"p1": [REQUESTS]}, 5, CREATED)["serialNumber"] != first["serialNumber"]


IMAGE = {"key": "k" * 64, "name": "localhost/pymigrate-web", "image_id": "1f" * 32, "manifest_digest": "2e" * 32,
         "index": {}, "layers": ["3d" * 32, "4c" * 32], "base_image": "localhost/python:3.11", "base_id": "5b" * 32,
         "path": "/opt/pymigrate/venv", "python": "/usr/bin/python3", "blobs": []}


def test_an_image_is_a_container_component_that_depends_on_the_packages_in_it():
    sbom = _sbom.render_sbom({"p1": [REQUESTS, IDNA], "p2": [URLLIB3]}, 3, CREATED, images={"p1": IMAGE})
    containers = [c for c in sbom["components"] if c["type"] == "container"]
    assert len(containers) == 1
    image = containers[0]
    ref = "pkg:oci/pymigrate-web@sha256%3A" + "2e" * 32 + "?repository_url=localhost/pymigrate-web"
    assert image["bom-ref"] == image["purl"] == ref
    assert image["name"] == "localhost/pymigrate-web" and image["version"] == "sha256:" + "2e" * 32
    assert image["hashes"] == [{"alg": "SHA-256", "content": "2e" * 32}]
    assert image["pedigree"]["ancestors"][0]["name"] == "localhost/python:3.11"
    assert image["pedigree"]["ancestors"][0]["version"] == "sha256:" + "5b" * 32
    props = {(p["name"], p["value"]) for p in image["properties"]}
    assert ("airgap.pymigrate:profile", "p1") in props and ("airgap.pymigrate:image-id", "sha256:" + "1f" * 32) in props
    assert {v for n, v in props if n == "airgap.pymigrate:layer"} == {"sha256:" + "3d" * 32, "sha256:" + "4c" * 32}
    # The packages installed in the image: linked by dependencies; a venv profile's packages are not.
    image_edges = [item for item in sbom["dependencies"] if item["ref"] == ref]
    assert image_edges == [{"ref": ref, "dependsOn": sorted([_sbom.purl(IDNA), _sbom.purl(REQUESTS)])}]
    refs = {c["bom-ref"] for c in sbom["components"]}
    assert set(image_edges[0]["dependsOn"]) <= refs and len(refs) == len(sbom["components"])
    validate(sbom)


def test_two_profiles_of_one_image_give_one_container_component():
    sbom = _sbom.render_sbom({"p1": [REQUESTS], "p2": [REQUESTS]}, 3, CREATED, images={"p1": IMAGE, "p2": IMAGE})
    containers = [c for c in sbom["components"] if c["type"] == "container"]
    assert len(containers) == 1
    assert {p["value"] for p in containers[0]["properties"] if p["name"] == "airgap.pymigrate:profile"} == {"p1", "p2"}


def validate(document):
    """The CycloneDX 1.6 JSON schema, through cyclonedx-python-lib's strict validator (a test dependency)."""
    validation = pytest.importorskip("cyclonedx.validation.json")
    schema = pytest.importorskip("cyclonedx.schema")
    error = validation.JsonStrictValidator(schema.SchemaVersion.V1_6).validate_str(json.dumps(document))
    assert error is None, error


APP = _pin("app", "1.0", "a1" * 32, required_by=("<wanted>",), dependencies=("lib", "tool"),
           license_classifiers=("License :: OSI Approved :: MIT License",))
LIB = _pin("lib", "2.0", "b2" * 32, required_by=("app",), dependencies=("tool",))
TOOL = _pin("tool", "3.0", "c3" * 32, required_by=("app", "lib"))
OLD_LIB = _pin("lib", "1.0", "d4" * 32, required_by=("app",))


def test_the_graph_has_an_edge_for_every_resolved_dependency_and_the_bundle_depends_on_what_was_asked_for():
    profiles = {"new": [APP, LIB, TOOL], "old": [APP, OLD_LIB, TOOL]}
    sbom = _sbom.render_sbom(profiles, 4, CREATED)
    edges = {(item["ref"], target) for item in sbom["dependencies"] for target in item["dependsOn"]}
    for pins in profiles.values():
        by_name = {pin.name: _sbom.purl(pin) for pin in pins}
        for pin in pins:
            for dependency in pin.dependencies:
                assert (_sbom.purl(pin), by_name[dependency]) in edges
    # app depends on both libs (one per profile); every component has its entry, one without dependencies too.
    assert {target for ref, target in edges if ref == _sbom.purl(APP)} == {
        _sbom.purl(LIB), _sbom.purl(OLD_LIB), _sbom.purl(TOOL)}
    assert {item["ref"] for item in sbom["dependencies"]} == {c["bom-ref"] for c in sbom["components"]} | {
        "pymigrate-bundle"}
    assert {target for ref, target in edges if ref == "pymigrate-bundle"} == {_sbom.purl(APP)}
    assert len(edges) == 5  # app -> lib 2.0, lib 1.0, tool; lib 2.0 -> tool; the bundle -> app
    validate(sbom)


def test_the_vex_names_the_sbom_s_components_by_bom_link_and_validates():
    sbom = _sbom.render_sbom({"p": [APP, LIB, TOOL]}, 4, CREATED)
    found = [{"bom-ref": "vuln:PYSEC-1", "id": "PYSEC-1", "source": {"name": "OSV", "url": "https://osv.dev/x"},
              "references": [{"id": "CVE-1", "source": {"name": "OSV"}}], "description": "bad",
              "recommendation": "Upgrade lib to 2.1", "affects": [{"ref": _sbom.purl(LIB)}],
              "analysis": {"state": "in_triage"}}]
    _sbom.link_vex(sbom)
    vex = _sbom.render_vex(sbom, found)
    serial = sbom["serialNumber"][len("urn:uuid:"):]
    link = "urn:cdx:%s/1#pkg%%3Apypi%%2Flib%%402.0%%3Ffile_name%%3Dlib-2.0-py3-none-any.whl" % serial
    assert vex["vulnerabilities"][0]["affects"] == [{"ref": link}]
    assert found[0]["affects"] == [{"ref": _sbom.purl(LIB)}]  # (the section given is not changed)
    assert vex["serialNumber"] != sbom["serialNumber"] and vex["specVersion"] == "1.6"
    assert sbom["externalReferences"][0]["url"] == "vex.cdx.json"
    validate(sbom)
    validate(vex)
    validate(_sbom.render_vex(sbom, []))  # none known is a statement too


def test_what_the_record_reads_back_descriptions_and_the_vulnerabilities_not_ignored(tmp_path):
    sbom = _sbom.render_sbom({"p1": [REQUESTS, _pin("Foo_Bar", "1.0", "dd" * 32, summary="<b>x</b>")]}, 1, CREATED)
    sbom["vulnerabilities"] = [
        {"id": "PYSEC-1", "description": "leaks", "recommendation": "Upgrade requests to 2.32.4",
         "affects": [{"ref": c["bom-ref"]} for c in sbom["components"] if c["name"] == "requests"],
         "analysis": {"state": "in_triage"}},
        {"id": "PYSEC-2", "description": "ignored", "affects": [{"ref": sbom["components"][0]["bom-ref"]}],
         "analysis": {"state": "not_affected"}}]
    (tmp_path / _sbom.SBOM_FILE).write_text(json.dumps(sbom))
    facts = _sbom.read_facts(str(tmp_path))
    assert facts["descriptions"] == {("requests", "2.32.3"): "HTTP for Humans.", ("foo-bar", "1.0"): "<b>x</b>"}
    assert facts["vulnerabilities"] == [{"id": "PYSEC-1", "description": "leaks",
                                         "recommendation": "Upgrade requests to 2.32.4",
                                         "affects": [("requests", "2.32.3")]}]
    assert _sbom.read_facts(str(tmp_path / "none")) == {"descriptions": {}, "vulnerabilities": []}


def test_the_vulnerabilities_of_a_vex_beside_the_sbom_are_read_through_their_bom_links(tmp_path):
    sbom = _sbom.render_sbom({"p1": [REQUESTS]}, 1, CREATED)
    ref = sbom["components"][0]["bom-ref"]
    link = "urn:cdx:%s/1#%s" % (sbom["serialNumber"][len("urn:uuid:"):], urllib.parse.quote(ref, safe=""))
    (tmp_path / _sbom.SBOM_FILE).write_text(json.dumps(sbom))
    (tmp_path / "vex.cdx.json").write_text(json.dumps({"vulnerabilities": [
        {"id": "PYSEC-3", "affects": [{"ref": link}], "analysis": {"state": "in_triage"}}]}))
    assert _sbom.read_facts(str(tmp_path))["vulnerabilities"] == [
        {"id": "PYSEC-3", "description": None, "recommendation": None, "affects": [("requests", "2.32.3")]}]
