"""PEP 740 provenance at bundle time, against the real local index: it serves the recorded real sdist of
gcb-attestation-test with its real provenance (simple JSON ``provenance`` key, and the integrity API) beside
synthetic wheels without provenance. A real bundle build verifies the provenance offline, records the identity in the
manifest and the pylock, carries the verified bytes into the signed archive and gives the share; ``require`` fails
on the synthetic files; a changed identity fails. Inside, the import verifies the carried provenance again with the
carried trust root, and refuses a signed bundle that records another publisher. The network-marked test asks the
public index."""

import glob
import hashlib
import json
import os

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _archive, _bundle, _index, _manifest, _provenance
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._inventory import BundleInputs
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError, WantedSet
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._profiles import HostInput
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._targets import target_from_declaration
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._wanted import EnvSpec
from tests.index import catalog

pytest.importorskip("pypi_attestations")

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures", "provenance")
SDIST = "gcb_attestation_test-0.0.0.tar.gz"
EMAIL = "919436158236-compute@developer.gserviceaccount.com"
# The real sdist is a setuptools project: its build on the control node needs setuptools and wheel as wheels. CPython
# ships both as test data; the test uses them where this machine has them.
BUILD_TOOLS = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/lib/python3.*/test/wheeldata"))
                     + glob.glob("/usr/lib/python3*/test/wheeldata"))


def build_tools_dir():
    for directory in BUILD_TOOLS:
        if glob.glob(os.path.join(directory, "setuptools-*.whl")) and glob.glob(os.path.join(directory, "wheel-*.whl")):
            return directory
    return None


@pytest.fixture
def attested_index(make_index):
    tools = build_tools_dir()
    if tools is None:
        pytest.skip("no setuptools and wheel wheels on this machine to build the recorded sdist with")
    index = make_index([catalog.release("alpha", "1.0")], include_pip=True)
    catalog.add_real_file(index.root, os.path.join(FIXTURES, SDIST), os.path.join(FIXTURES, SDIST + ".provenance"))
    catalog.add_wheel_files(index.root, tools)
    index.reload()
    return index


def hosts(wanted):
    env = EnvSpec("default", "/opt/pymigrate/venv", None, WantedSet(dict(wanted)))
    return BundleInputs([HostInput("h1", {"default": env}, target_from_declaration({"python": "3.11"}))])


def build(index, bundle_dir, policy="record", pins=None, wanted=None):
    client = _index.IndexClient([_index.IndexConfig(index.url)])
    settings = _provenance.ProvenanceCheck(policy, _provenance.parse_trusted_publishers(pins))
    try:
        wanted = wanted or {"gcb-attestation-test": "gcb-attestation-test", "alpha": "alpha==1.0"}
        return _bundle.build_bundle(hosts(wanted), _bundle.BundleSettings(str(bundle_dir), provenance=settings), client)
    finally:
        client.close()


def inside_hooks(**settings):
    return _archive.ImportHooks(verify=lambda roots, manifest: _provenance.reverify(
        roots, manifest, _provenance.InsideCheck(**settings)))


def test_a_real_bundle_verifies_records_the_identity_and_gives_the_share(attested_index, tmp_path):
    result = build(attested_index, tmp_path / "b")
    share = result["provenance"]
    assert share["counts"] == {"files": 2, "with_provenance": 1, "verified": 1, "unverified": 0, "absent": 1}
    assert share["share_with_provenance"] == 0.5 and share["share_verified"] == 0.5
    assert share["identities"] == {"gcb-attestation-test": {"kind": "Google", "email": EMAIL, "trust": "tofu"}}
    assert share["absent"] == ["alpha-1.0-py3-none-any.whl"]
    # The simple JSON page named the URL: the integrity API was not needed.
    assert not [p for _m, p, _r in attested_index.requests if p.startswith("/integrity/")]
    manifest = _manifest.read(str(tmp_path / "b"))
    record = manifest["provenance"]
    (built,) = [r for r in record["files"].values() if r["project"] == "gcb-attestation-test"]
    assert built["state"] == "verified" and built["filename"] == SDIST  # a wheel built from the sdist: its sdist
    assert built["publisher"] == {"kind": "Google", "email": EMAIL}
    with open(os.path.join(FIXTURES, SDIST + ".provenance"), "rb") as handle:
        raw = handle.read()
    with open(str(tmp_path / "b" / built["provenance"]), "rb") as handle:
        assert handle.read() == raw  # the exact bytes verified, next to the file in the store
    assert built["provenance_sha256"] == hashlib.sha256(raw).hexdigest()
    (lock,) = glob.glob(str(tmp_path / "b" / "pylock.*.toml"))
    with open(lock) as handle:
        text = handle.read()
    assert 'attestation-identities = [{ email = "%s", kind = "Google" }]' % EMAIL in text
    assert text.count("attestation-identities") == 1  # alpha has none
    members = {name for name, _sha, _size in _archive.bundle_members(str(tmp_path / "b"), manifest)}
    assert built["provenance"] in members  # signed into the archive
    # The bundle's index names no provenance for the wheel built here: the one verified attests its sdist.
    page = (tmp_path / "b" / "simple" / "gcb-attestation-test" / "index.v1_json").read_text()
    assert json.loads(page)["files"][0]["provenance"] is None and "data-provenance" not in (
        tmp_path / "b" / "simple" / "gcb-attestation-test" / "index.html").read_text()
    _archive.generate_keypair(str(tmp_path / "key"), str(tmp_path / "key.pub"))
    _archive.create_archive(str(tmp_path / "b"), str(tmp_path / "b.tar"),
                            _archive.load_private_key(str(tmp_path / "key")))
    # Inside: every carried provenance verified again, offline, with the trust root the bundle carries, before the
    # import makes anything visible (issue 31 item 4).
    assert record["trust_root"]["path"] == "sigstore/trusted_root.json" and "sigstore/trusted_root.json" in members
    result = _archive.import_archive(str(tmp_path / "b.tar"), str(tmp_path / "store"), [str(tmp_path / "key.pub")],
                                     hooks=inside_hooks())
    assert result["verified"]["verified"] == 1 and result["verified"]["trust_root"]["source"].startswith("carried")
    with open(str(tmp_path / "store" / built["provenance"]), "rb") as handle:
        assert handle.read() == raw
    # A compromised outside signs a bundle that records another publisher: refused inside, nothing imported.
    manifest_path = tmp_path / "b" / "manifest.json"
    original = manifest_path.read_text()
    manifest_path.write_text(original.replace(EMAIL, "ci@other.iam.gserviceaccount.com"))
    _archive.create_archive(str(tmp_path / "b"), str(tmp_path / "forged.tar"),
                            _archive.load_private_key(str(tmp_path / "key")))
    manifest_path.write_text(original)
    with pytest.raises(PyMigrateError, match="the provenance names Google %s, the bundle recorded Google "
                                             "ci@other.iam.gserviceaccount.com" % EMAIL):
        _archive.import_archive(str(tmp_path / "forged.tar"), str(tmp_path / "store2"), [str(tmp_path / "key.pub")],
                                hooks=inside_hooks())
    assert not os.path.exists(str(tmp_path / "store2" / "current"))
    assert not glob.glob(str(tmp_path / "store2" / "files" / "*"))
    # Trust on first use, then the previous bundle's identity (the wheel built from the sdist is rebuilt, so the
    # serial moves on; the identity stays).
    again = build(attested_index, tmp_path / "b")
    assert again["provenance"]["identities"] == share["identities"]


def test_require_fails_on_the_synthetic_files_and_a_changed_identity_fails(attested_index, tmp_path):
    with pytest.raises(PyMigrateError) as err:
        build(attested_index, tmp_path / "b", policy="require")
    assert "alpha (alpha-1.0-py3-none-any.whl): no provenance" in str(err.value)
    assert "gcb-attestation-test" not in str(err.value)
    assert not os.path.exists(str(tmp_path / "b" / "manifest.json"))  # nothing written
    result = build(attested_index, tmp_path / "b", policy="require",
                   wanted={"gcb-attestation-test": "gcb-attestation-test"})
    assert result["provenance"]["share_verified"] == 1.0
    # The pinned identity is another one: the build fails naming both, and the bundle stays as it was.
    with pytest.raises(PyMigrateError) as err:
        build(attested_index, tmp_path / "b", pins={"gcb-attestation-test": "ci@other.iam.gserviceaccount.com"},
              wanted={"gcb-attestation-test": "gcb-attestation-test"})
    assert ("the provenance names Google %s, but pymigrate_trusted_publishers pins Google "
            "ci@other.iam.gserviceaccount.com" % EMAIL) in str(err.value)
    assert _manifest.read(str(tmp_path / "b"))["serial"] == result["serial"]


def test_an_index_without_the_provenance_key_is_asked_at_its_integrity_api(attested_index, tmp_path):
    attested_index.provenance_key = False
    result = build(attested_index, tmp_path / "b")
    asked = sorted(p for _m, p, _r in attested_index.requests if p.startswith("/integrity/"))
    assert asked == ["/integrity/alpha/1.0/alpha-1.0-py3-none-any.whl/provenance",
                     "/integrity/gcb-attestation-test/0.0.0/%s/provenance" % SDIST]
    assert result["provenance"]["counts"]["verified"] == 1
    # Provenance that disappears from the index for a project that had it fails, naming the previous identity.
    with open(os.path.join(attested_index.root, "index.json")) as handle:
        projects = json.load(handle)
    for entry in projects["projects"]["gcb-attestation-test"]["files"]:
        entry.pop("provenance", None)
    with open(os.path.join(attested_index.root, "index.json"), "w") as handle:
        json.dump(projects, handle)
    attested_index.reload()
    with pytest.raises(PyMigrateError, match="provenance disappeared; the previous bundle recorded Google %s, now "
                                             "none" % EMAIL):
        build(attested_index, tmp_path / "b")


def public_index_url():
    # pip's own default index, so that no registry host is spelled out here.
    from pip._internal.models.index import PyPI  # pylint: disable=import-outside-toplevel
    return PyPI.simple_url


@pytest.mark.network
def test_the_public_index_a_bundle_of_a_project_that_publishes_attestations_records_its_identity(tmp_path):
    """sampleproject 4.0.0 is published with attestations from pypa/sampleproject; the bundle records that identity.
    An index that serves no provenance for it (a mirror of an older simple API) makes this test skip, saying so."""
    client = _index.IndexClient([_index.IndexConfig(public_index_url())])
    env = EnvSpec("default", "/opt/pymigrate/venv", None, WantedSet({"sampleproject": "sampleproject==4.0.0"}))
    try:
        wheel = [d for d in client.version_files("sampleproject", "4.0.0") if d.filename.endswith(".whl")][0]
        raw, where = _provenance.fetch(client, _provenance.Subject(
            "sampleproject", "4.0.0", wheel.filename, wheel.sha256, wheel.provenance_url, wheel.index_url, ""))
        if raw is None:
            pytest.skip("the public index reached from here serves no provenance for %s (%s)" % (wheel.filename, where))
        result = _bundle.build_bundle(
            BundleInputs([HostInput("h1", {"default": env}, target_from_declaration({"python": "3.11"}))]),
            _bundle.BundleSettings(str(tmp_path / "b"), build_sdists=False,
                                   provenance=_provenance.ProvenanceCheck("record")), client)
    finally:
        client.close()
    identity = result["provenance"]["identities"]["sampleproject"]
    assert identity["kind"] == "GitHub" and identity["repository"].lower() == "pypa/sampleproject"
    assert result["provenance"]["counts"]["verified"] >= 1
    (lock,) = glob.glob(str(tmp_path / "b" / "pylock.*.toml"))
    with open(lock) as handle:
        assert 'kind = "GitHub"' in handle.read()
