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
    carried = [_provenance.provenance_path(SHA256, SDIST), "sigstore/trusted_root.json"]
    assert _provenance.files_of({"provenance": record}) == carried


# -- inside: verified again on import, offline (issue 31 item 4) ---------------------------------------------------
LOCKED = "files/sha256/%s/%s/%s" % (SHA256[:2], SHA256, SDIST)
OTHER = "ci@other.iam.gserviceaccount.com"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network and no TUF: a socket cannot be made, sigstore's TUF updater cannot be built, and its cache and data
    directories are paths under a regular file (nothing can be read or written there)."""
    import socket

    import sigstore.models
    from sigstore._internal import tuf

    def refused(*args, **kwargs):
        raise AssertionError("the network was asked")
    monkeypatch.setattr(socket, "socket", refused)
    monkeypatch.setattr(socket, "create_connection", refused)
    monkeypatch.setattr(tuf, "TrustUpdater", refused)
    monkeypatch.setattr(sigstore.models, "TrustUpdater", refused)
    (tmp_path / "not-a-dir").write_text("")
    for name in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "HOME"):
        monkeypatch.setenv(name, str(tmp_path / "not-a-dir" / "x"))


@pytest.fixture
def carried(tmp_path):
    """A bundle as the import stages it: the manifest (the record the bundle-time check made from the real
    provenance), the provenance bytes and the Sigstore trust root verified with, in one directory."""
    outcome, _client = run([GCB])
    bundle = tmp_path / "bundle"
    for name, data in outcome["blobs"].items():
        (bundle / name).parent.mkdir(parents=True, exist_ok=True)
        (bundle / name).write_bytes(data)
    manifest = {"files": {LOCKED: {"sha256": SHA256, "size": 813}},
                "provenance": json.loads(json.dumps(_provenance.manifest_record(outcome)))}
    return bundle, manifest


def reverify(carried, **settings):
    bundle, manifest = carried
    return _provenance.reverify([str(bundle)], manifest, _provenance.InsideCheck(**settings))


def test_inside_the_carried_provenance_verifies_again_offline_with_the_carried_trust_root(carried, offline):
    from sigstore.verify import Verifier

    with pytest.raises(AssertionError, match="the network was asked"):  # (what the offline fixture stops)
        Verifier.production()
    summary = reverify(carried)
    assert summary["verified"] == 1 and summary["with_provenance"] == 1 and summary["skipped"] is None
    root = (carried[0] / "sigstore" / "trusted_root.json").read_bytes()
    assert summary["trust_root"]["sha256"] == hashlib.sha256(root).hexdigest()
    assert summary["trust_root"]["source"].startswith("carried in the bundle")
    assert "1 of 1 file(s) with provenance" in _provenance.inside_text(summary)
    # The inside pins the same publisher, and its own copy of the root: verified, with that root.
    own = carried[0].parent / "own-root.json"
    own.write_bytes(root)
    pinned = reverify(carried, trusted_publishers=_provenance.parse_trusted_publishers({"gcb-attestation-test": EMAIL}),
                      trust_root=str(own))
    assert pinned["verified"] == 1 and pinned["trust_root"]["source"] == str(own)


def test_inside_a_recorded_identity_swapped_fails(carried, offline):
    """A compromised outside records another publisher: the certificate names the real one, so it does not verify,
    whether or not it also rewrote the claim in the provenance bytes (and their sha256)."""
    bundle, manifest = carried
    record = manifest["provenance"]["files"][LOCKED]
    record["publisher"] = {"kind": "Google", "email": OTHER}
    with pytest.raises(PyMigrateError, match="the provenance names Google %s, the bundle recorded Google %s"
                                             % (EMAIL, OTHER)):
        reverify(carried)
    forged = RAW.replace(EMAIL.encode(), OTHER.encode())
    (bundle / record["provenance"]).write_bytes(forged)
    record["provenance_sha256"] = hashlib.sha256(forged).hexdigest()
    with pytest.raises(PyMigrateError) as err:
        reverify(carried)
    assert "does not verify against Google %s" % OTHER in str(err.value)
    assert "nothing was imported" in str(err.value)


def test_inside_a_pin_of_another_publisher_fails_naming_both(carried, offline):
    with pytest.raises(PyMigrateError, match="the bundle recorded Google %s, but this side's "
                                             "pymigrate_trusted_publishers pins Google %s" % (EMAIL, OTHER)):
        reverify(carried, trusted_publishers=_provenance.parse_trusted_publishers({"gcb-attestation-test": OTHER}))


def test_inside_the_inside_s_own_trust_root_rules(carried, offline):
    """Another Sigstore instance's root pinned inside (sigstore's staging root): the production certificate does not
    chain to it."""
    import sigstore

    staging = os.path.join(os.path.dirname(sigstore.__file__), "_store", "https%3A%2F%2Ftuf-repo-cdn.sigstage.dev",
                           "trusted_root.json")
    with pytest.raises(PyMigrateError, match="does not verify against Google"):
        reverify(carried, trust_root=staging)


def test_inside_a_trust_root_missing_or_not_the_recorded_one_fails(carried, offline):
    bundle, manifest = carried
    with pytest.raises(PyMigrateError, match="cannot be read"):
        reverify(carried, trust_root=str(bundle / "no-such-root.json"))
    root = bundle / "sigstore" / "trusted_root.json"
    data = root.read_bytes()
    root.write_bytes(data.replace(b'"mediaType"', b'"mediaType" ', 1))  # the same root, other bytes
    with pytest.raises(PyMigrateError, match="is not the one the manifest records"):
        reverify(carried)
    root.unlink()
    with pytest.raises(PyMigrateError, match="names the Sigstore trust root sigstore/trusted_root.json but does not "
                                             "carry it"):
        reverify(carried)
    # A bundle that carries none (made before issue 31): record says it did not verify; require and a pin fail.
    manifest["provenance"]["trust_root"] = None
    summary = reverify(carried)
    assert summary["verified"] == 0 and "carries no Sigstore trust root" in summary["skipped"]
    assert _provenance.inside_text(summary).startswith("provenance not verified inside")
    with pytest.raises(PyMigrateError, match="cannot be verified inside: the bundle carries no Sigstore trust root"):
        reverify(carried, policy="require")
    with pytest.raises(PyMigrateError, match="cannot be verified inside"):
        reverify(carried, trusted_publishers=_provenance.parse_trusted_publishers({"gcb-attestation-test": EMAIL}))
    # The inside's own root verifies it.
    own = bundle / "own.json"
    own.write_bytes(data)
    assert reverify(carried, trust_root=str(own))["verified"] == 1


def test_inside_provenance_that_is_not_the_recorded_one_or_attests_another_file_fails(carried, offline):
    bundle, manifest = carried
    record = manifest["provenance"]["files"][LOCKED]
    manifest["files"] = {"files/sha256/bb/%s/other.tar.gz" % ("b" * 64): {"sha256": "b" * 64}}
    with pytest.raises(PyMigrateError, match="attests a file the bundle does not carry"):
        reverify(carried)
    (bundle / record["provenance"]).write_bytes(RAW + b" ")
    with pytest.raises(PyMigrateError, match="its provenance is not the one the manifest records"):
        reverify(carried)
    (bundle / record["provenance"]).unlink()
    with pytest.raises(PyMigrateError, match="does not carry its provenance"):
        reverify(carried)


def test_inside_require_and_pins_fail_on_a_file_without_provenance(carried, offline):
    bundle, manifest = carried
    manifest["provenance"]["files"]["files/sha256/aa/%s/alpha-1.0-py3-none-any.whl" % ("a" * 64)] = {
        "project": "alpha", "version": "1.0", "filename": "alpha-1.0-py3-none-any.whl", "sha256": "a" * 64,
        "state": "absent", "reason": "the index lists none"}
    assert reverify(carried)["verified"] == 1
    with pytest.raises(PyMigrateError, match=r"alpha \(alpha-1.0-py3-none-any.whl\): no provenance"):
        reverify(carried, policy="require")
    with pytest.raises(PyMigrateError, match="no provenance, but this side's pymigrate_trusted_publishers pins"):
        reverify(carried, trusted_publishers=_provenance.parse_trusted_publishers({"alpha": "o/alpha"}))


def test_inside_without_the_verifier_record_warns_and_require_names_what_to_install(carried, no_verifier):
    summary = reverify(carried)
    assert summary["verified"] == 0 and "pip install pypi-attestations" in summary["skipped"]
    with pytest.raises(PyMigrateError) as err:
        reverify(carried, policy="require")
    assert "pypi-attestations is not installed (pip install pypi-attestations)" in str(err.value)


def test_the_bundle_time_check_verifies_with_the_trust_root_it_is_given(tmp_path):
    import sigstore

    staging = os.path.join(os.path.dirname(sigstore.__file__), "_store", "https%3A%2F%2Ftuf-repo-cdn.sigstage.dev",
                           "trusted_root.json")
    client = Client({GCB.file.provenance_url: RAW})
    with pytest.raises(PyMigrateError, match="does not verify against Google"):
        _provenance.check({"p": [GCB]}, client, _provenance.ProvenanceCheck(trust_root=staging))
    outcome, _client = run([GCB])
    assert outcome["trust_root"]["path"] == "sigstore/trusted_root.json"
    assert outcome["blobs"]["sigstore/trusted_root.json"] and outcome["trust_root"]["source"].startswith(
        "sigstore production")
