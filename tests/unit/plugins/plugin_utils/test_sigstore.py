"""The Sigstore trust root and the offline verification over it (_sigstore.py), against the recorded real provenance
(tests/fixtures/provenance/): a file that is no trust root is refused naming the variable; the statement checks
pypi-attestations makes (distribution name, digest) are made over any verifier; the default root is sigstore's
production root, read offline."""

import hashlib
import os

import pytest

from ansible_collections.airgap.pymigrate.plugins.plugin_utils import _sigstore
from ansible_collections.airgap.pymigrate.plugins.plugin_utils._model import PyMigrateError

pypi_attestations = pytest.importorskip("pypi_attestations")

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "provenance")
SDIST = "gcb_attestation_test-0.0.0.tar.gz"
EMAIL = "919436158236-compute@developer.gserviceaccount.com"


def read(name):
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        return handle.read()


SHA256 = hashlib.sha256(read(SDIST)).hexdigest()
PROVENANCE = pypi_attestations.Provenance.model_validate_json(read(SDIST + ".provenance"))
(ATTESTATION,) = PROVENANCE.attestation_bundles[0].attestations


def test_a_file_that_is_no_trust_root_is_refused_naming_the_variable(tmp_path):
    (tmp_path / "other.json").write_text('{"mediaType": "application/json"}')
    with pytest.raises(PyMigrateError) as err:
        _sigstore.read(str(tmp_path / "other.json"))
    assert "is not a Sigstore trust root" in str(err.value) and err.value.var == "pymigrate_sigstore_trust_root"
    with pytest.raises(PyMigrateError, match="cannot be read"):
        _sigstore.read(str(tmp_path / "absent.json"))


def test_the_recorded_attestation_verifies_over_the_default_root_and_the_statement_is_checked():
    root = _sigstore.default_root()
    assert root.source.startswith("sigstore production") and root.sha256 == hashlib.sha256(root.data).hexdigest()
    verifier = _sigstore.verifier(root)
    publisher = pypi_attestations.GooglePublisher(email=EMAIL)
    dist = pypi_attestations.Distribution(name=SDIST, digest=SHA256)
    assert _sigstore.verify_attestation(pypi_attestations, verifier, ATTESTATION, publisher, dist).startswith(
        "https://docs.pypi.org/attestations/publish/")
    with pytest.raises(pypi_attestations.VerificationError, match="subject does not match distribution digest"):
        _sigstore.verify_attestation(pypi_attestations, verifier, ATTESTATION, publisher,
                                     pypi_attestations.Distribution(name=SDIST, digest="0" * 64))
    with pytest.raises(pypi_attestations.VerificationError, match="subject does not match distribution name"):
        _sigstore.verify_attestation(pypi_attestations, verifier, ATTESTATION, publisher,
                                     pypi_attestations.Distribution(name="gcb_attestation_test-0.0.1.tar.gz",
                                                                    digest=SHA256))
    with pytest.raises(pypi_attestations.VerificationError):
        _sigstore.verify_attestation(pypi_attestations, verifier, ATTESTATION,
                                     pypi_attestations.GooglePublisher(email="ci@other.iam.gserviceaccount.com"), dist)
