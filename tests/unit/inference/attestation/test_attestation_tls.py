"""The TLS identity generated in the TEE: the SPKI digest the claims bind, and what TLS stacks need."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from inference.attestation import AttestationFormatError, generate_tls_identity, spki_sha256

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def test_spki_digest_is_sha256_of_the_der_subject_public_key_info() -> None:
    identity = generate_tls_identity(now=NOW)
    certificate = x509.load_pem_x509_certificate(identity.certificate_pem)
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert identity.spki_sha256 == hashlib.sha256(spki).digest()
    der = certificate.public_bytes(serialization.Encoding.DER)
    assert spki_sha256(der) == spki_sha256(identity.certificate_pem) == identity.spki_sha256


def test_each_start_gets_a_fresh_key() -> None:
    assert generate_tls_identity(now=NOW).spki_sha256 != generate_tls_identity(now=NOW).spki_sha256


def test_certificate_names_loopback_and_configured_hosts() -> None:
    identity = generate_tls_identity(["gateway.example", "10.0.0.7", "localhost"], now=NOW)
    certificate = x509.load_pem_x509_certificate(identity.certificate_pem)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost", "gateway.example"]
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
        ipaddress.ip_address("10.0.0.7"),
    ]
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert certificate.not_valid_before_utc < NOW < certificate.not_valid_after_utc


def test_private_key_is_p256_and_matches_the_certificate() -> None:
    identity = generate_tls_identity(now=NOW)
    key = serialization.load_pem_private_key(identity.private_key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)
    certificate = x509.load_pem_x509_certificate(identity.certificate_pem)
    assert certificate.public_key() == key.public_key()


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_tls_identity(now=datetime.datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "data", [b"", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", b"\x30\x03abc"]
)
def test_garbage_is_not_a_certificate(data: bytes) -> None:
    with pytest.raises(AttestationFormatError):
        spki_sha256(data)
