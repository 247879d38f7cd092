"""PEP 740 provenance at bundle time, against recorded real provenance (tests/fixtures/provenance/): it verifies
offline against its real identity; a swapped identity, a changed one and a disappeared one fail naming both; require
fails on a file without provenance, and without the verifier names what to install."""

import builtins
import hashlib
import json
import os
import sys

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _provenance
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import DistFile, Pin, PyMigrateError

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "provenance")
SDIST = "gcb_attestation_test-0.0.0.tar.gz"
EMAIL = "919436158236-compute@developer.gserviceaccount.com"
BASE = "http://index.invalid/simple/"

pytest.importorskip("pypi_attestations")


def read(name):
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        return handle.read()


RAW = read(SDIST + ".provenance")
SHA256 = hashlib.sha256(read(SDIST)).hexdigest()


class Response:
    def __init__(self, status_code, data=b""):
        self.status_code, self.data = status_code, data

    def iter_content(self, size):
        yield self.data

    def close(self):
        pass


class Client:
    """Serves provenance by URL; everything else is 404. Records what was asked."""

    def __init__(self, served):
        self.served, self.asked = dict(served), []

    def get(self, url, headers=None):
        self.asked.append((url, (headers or {}).get("Accept")))
        return Response(200, self.served[url]) if url in self.served else Response(404, b'{"message": "none"}')

    def version_files(self, name, version):
        return []

    def body(self, response, what, limit=None):  # the real client bounds it (endless data, slow retrieval)
        return b"".join(response.iter_content(1 << 16))


def pin(name, version, filename, sha256, provenance_url=None):
    dist = DistFile(project=name, version=version, filename=filename, url=BASE + "../files/" + filename,
                    sha256=sha256, size=1, index_url=BASE, provenance_url=provenance_url)
    return Pin(name, version, dist)


GCB = pin("gcb-attestation-test", "0.0.0", SDIST, SHA256, "http://index.invalid/prov/" + SDIST)
PLAIN = pin("alpha", "1.0", "alpha-1.0-py3-none-any.whl", "a" * 64, "")  # the index says: none
INTEGRITY = "http://index.invalid/integrity/gcb-attestation-test/0.0.0/%s/provenance" % SDIST


def run(pins, policy="record", pins_by=None, previous=None, served=None):
    client = Client(served if served is not None else {GCB.file.provenance_url: RAW})
    settings = _provenance.ProvenanceCheck(policy, _provenance.parse_trusted_publishers(pins_by))
    return _provenance.check({"p": pins}, client, settings, previous), client


def test_recorded_provenance_verifies_offline_against_its_real_identity():
    outcome, client = run([GCB, PLAIN])
    record = outcome["files"]["files/sha256/%s/%s/%s" % (SHA256[:2], SHA256, SDIST)]
    assert record["state"] == "verified" and record["attestations"] == 1
    assert record["publisher"] == {"kind": "Google", "email": EMAIL}
    assert record["provenance"] == _provenance.provenance_path(SHA256, SDIST)
    assert record["provenance_sha256"] == hashlib.sha256(RAW).hexdigest()
    assert outcome["blobs"][record["provenance"]] == RAW  # the exact bytes verified travel in the bundle
    assert outcome["identities"] == {"gcb-attestation-test": {"kind": "Google", "email": EMAIL, "trust": "tofu"}}
    assert outcome["counts"] == {"files": 2, "with_provenance": 1, "verified": 1, "unverified": 0, "absent": 1}
    assert client.asked == [(GCB.file.provenance_url, _provenance.INTEGRITY_TYPE)]  # "none" from the index: not asked
    summary = _provenance.result_summary(outcome)
    assert summary["share_with_provenance"] == 0.5 and summary["absent"] == ["alpha-1.0-py3-none-any.whl"]
    pinned, _client = run([GCB], pins_by={"GCB_Attestation.Test": EMAIL})  # names are canonicalized
    assert pinned["identities"]["gcb-attestation-test"]["trust"] == "pinned"


def test_a_page_that_does_not_say_falls_back_to_the_integrity_api():
    unknown = pin("gcb-attestation-test", "0.0.0", SDIST, SHA256, None)
    outcome, client = run([unknown], served={INTEGRITY: RAW})
    assert client.asked == [(INTEGRITY, _provenance.INTEGRITY_TYPE)]
    assert list(outcome["files"].values())[0]["state"] == "verified"
    assert _provenance.integrity_url("https://mirror.example/pypi/simple/", "Foo_Bar", "1.0", "f b.whl") \
        == "https://mirror.example/pypi/integrity/foo-bar/1.0/f%20b.whl/provenance"
    assert _provenance.integrity_url("file:///srv/index/", "x", "1", "x.whl") is None


def test_a_swapped_identity_fails_naming_both():
    with pytest.raises(PyMigrateError) as err:
        run([GCB], pins_by={"gcb-attestation-test": "release@other-project.iam.gserviceaccount.com"})
    message = str(err.value)
    assert "the provenance names Google %s" % EMAIL in message
    assert "pins Google release@other-project.iam.gserviceaccount.com" in message
    with pytest.raises(PyMigrateError, match="pins GitHub pypa/sampleproject"):
        run([GCB], pins_by={"gcb-attestation-test": {"kind": "GitHub", "repository": "pypa/sampleproject"}})


def test_a_claim_rewritten_to_the_pinned_identity_does_not_verify():
    """The certificate is checked against the pinned identity: editing the provenance's claimed publisher to match
    the pin does not help."""
    forged = json.loads(RAW)
    forged["attestation_bundles"][0]["publisher"]["email"] = "attacker@evil.iam.gserviceaccount.com"
    with pytest.raises(PyMigrateError, match="does not verify against Google attacker@evil"):
        run([GCB], pins_by={"gcb-attestation-test": "attacker@evil.iam.gserviceaccount.com"},
            served={GCB.file.provenance_url: json.dumps(forged).encode()})


def test_other_bytes_than_attested_do_not_verify():
    other = pin("gcb-attestation-test", "0.0.0", SDIST, "b" * 64, GCB.file.provenance_url)
    with pytest.raises(PyMigrateError, match="does not verify against Google %s: .*digest" % EMAIL):
        run([other])


def previous_of(outcome):
    return {"provenance": _provenance.manifest_record(outcome)}


def test_trust_on_first_use_then_a_changed_identity_fails_naming_both():
    first, _client = run([GCB])
    again, _client = run([GCB], previous=previous_of(first))
    assert again["identities"] == first["identities"]  # the same record: a re-run rewrites nothing
    changed = previous_of(first)
    changed["provenance"]["identities"]["gcb-attestation-test"] = {"kind": "GitHub", "repository": "gcb/test",
                                                                   "workflow": "release.yml", "trust": "tofu"}
    with pytest.raises(PyMigrateError) as err:
        run([GCB], previous=changed)
    assert ("the publisher identity changed: the previous bundle recorded GitHub gcb/test (workflow release.yml), "
            "the provenance now names Google %s" % EMAIL) in str(err.value)
    # Confirming the new publisher: a pin wins over the previous bundle's identity.
    confirmed, _client = run([GCB], previous=changed, pins_by={"gcb-attestation-test": EMAIL})
    assert confirmed["identities"]["gcb-attestation-test"]["email"] == EMAIL


def test_provenance_that_disappears_fails_naming_the_previous_identity():
    first, _client = run([GCB])
    with pytest.raises(PyMigrateError, match="gcb-attestation-test \\(%s\\): provenance disappeared; the previous "
                                             "bundle recorded Google %s, now none" % (SDIST, EMAIL)):
        run([pin("gcb-attestation-test", "0.0.0", SDIST, SHA256, "")], previous=previous_of(first))


def test_require_fails_on_a_file_without_provenance():
    with pytest.raises(PyMigrateError, match=r"alpha \(alpha-1.0-py3-none-any.whl\): no provenance \(the index lists "
                                             r"none\)") as err:
        run([GCB, PLAIN], policy="require")
    assert err.value.var == "pymigrate_provenance"
    outcome, _client = run([GCB], policy="require")
    assert outcome["counts"]["verified"] == 1


@pytest.fixture
def no_verifier(monkeypatch):
    """pypi-attestations as if not installed: its import fails."""
    real_import = builtins.__import__

    def blocked(name, *args, **kwargs):
        if name == "pypi_attestations" or name.startswith("pypi_attestations."):
            raise ImportError("blocked for the test")
        return real_import(name, *args, **kwargs)
    for name in [n for n in sys.modules if n == "pypi_attestations" or n.startswith("pypi_attestations.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(builtins, "__import__", blocked)


def test_without_the_verifier_require_names_what_to_install(no_verifier):
    with pytest.raises(PyMigrateError) as err:
        run([GCB], policy="require")
    assert "pip install pypi-attestations" in err.value.hint and "pypi-attestations" in str(err.value)


def test_without_the_verifier_record_records_and_never_claims_verified(no_verifier):
    lines = []
    client = Client({GCB.file.provenance_url: RAW})
    outcome = _provenance.check({"p": [GCB, PLAIN]}, client, _provenance.ProvenanceCheck(), progress=lines.append)
    (record,) = [r for r in outcome["files"].values() if r["project"] == "gcb-attestation-test"]
    assert record["state"] == "unverified" and "attestations" not in record
    assert record["publisher"] == {"kind": "Google", "email": EMAIL}  # identity still recorded, change still caught
    assert outcome["verifier"] is None and outcome["counts"]["verified"] == 0
    assert "1 not verified: pypi-attestations is not installed (pip install pypi-attestations)" in lines[0]
    assert _provenance.result_summary(outcome)["verification_skipped"] is True


def test_without_any_provenance_the_line_says_so_and_not_that_the_verifier_is_missing():
    """Issue 26: every build printed "verification skipped: pypi-attestations is not installed" while it was
    installed: without a file with provenance the verifier is never imported, and there was nothing to verify."""
    lines = []
    outcome = _provenance.check({"p": [PLAIN]}, Client({}), _provenance.ProvenanceCheck(), progress=lines.append)
    assert lines == ["provenance (record): no file had provenance (1 locked file(s)); nothing to verify"]
    assert outcome["verifier"] is None and not _provenance.result_summary(outcome)["verification_skipped"]
    lines.clear()
    _provenance.check({}, Client({}), _provenance.ProvenanceCheck(), progress=lines.append)
    assert lines == ["provenance (record): no locked file; nothing to verify"]


def test_trusted_publishers_parse_and_bad_entries_name_the_variable():
    assert _provenance.parse_trusted_publishers({"SampleProject": "pypa/sampleproject"}) == {
        "sampleproject": {"*": "pypa/sampleproject"}}
    claimed = {"kind": "GitHub", "repository": "PyPA/SampleProject", "workflow": "release.yml"}
    assert _provenance.matches_pin(claimed, {"*": "pypa/sampleproject"})  # GitHub names are case-insensitive
    assert not _provenance.matches_pin(claimed, {"*": "pypa/sampleproject", "workflow": "other.yml"})
    for bad in (["pypa/sampleproject"], {"x": ""}, {"x": {"repository": 1}}):
        with pytest.raises(PyMigrateError) as err:
            _provenance.parse_trusted_publishers(bad)
        assert err.value.var == "pymigrate_trusted_publishers"
    with pytest.raises(PyMigrateError):
        _provenance.ProvenanceCheck("strict")


def test_lock_identities_and_the_archive_files():
    outcome, _client = run([GCB, PLAIN])
    record = _provenance.manifest_record(outcome)
    assert _provenance.lock_identities(record, [GCB, PLAIN]) == {
        "gcb-attestation-test": [{"kind": "Google", "email": EMAIL}]}
    # The provenance bytes and the Sigstore trust root they were verified with (for the re-verification inside).
    assert _provenance.files_of({"provenance": record}) == [_provenance.provenance_path(SHA256, SDIST),
                                                             "sigstore/trusted_root.json"]
