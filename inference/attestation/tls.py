"""The gateway's TLS identity, generated inside the TEE at every start.

The private key never leaves the TEE (the gateway hands it to its TLS server without writing it to
the host's disks). The certificate is self-signed because trust comes from the attestation, which
binds SHA-256 of the certificate's DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) into report_data.
Clients pin that digest against the certificate the server presents (RFC 7469 style SPKI pinning,
without the header). ECDSA P-256 because every TLS stack accepts it.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from inference.attestation.errors import AttestationFormatError

DEFAULT_VALIDITY = datetime.timedelta(days=90)
_LOOPBACK_NAMES: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")


def spki_sha256(certificate: bytes) -> bytes:
    """SHA-256 of the DER SubjectPublicKeyInfo of a PEM or DER certificate."""
    try:
        if certificate.lstrip().startswith(b"-----BEGIN"):
            cert = x509.load_pem_x509_certificate(certificate)
        else:
            cert = x509.load_der_x509_certificate(certificate)
    except ValueError as exc:
        raise AttestationFormatError("not an X.509 certificate") from exc
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()


@dataclass(frozen=True)
class TlsIdentity:
    certificate_pem: bytes
    private_key_pem: bytes
    spki_sha256: bytes


def _subject_alt_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def generate_tls_identity(
    hostnames: Sequence[str] = (),
    *,
    now: datetime.datetime,
    validity: datetime.timedelta = DEFAULT_VALIDITY,
) -> TlsIdentity:
    """A fresh P-256 key and a self-signed server certificate for loopback and ``hostnames``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    key = ec.generate_private_key(ec.SECP256R1())
    names = list(dict.fromkeys((*_LOOPBACK_NAMES, *hostnames)))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "veritee gateway")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + validity)
        .add_extension(x509.SubjectAlternativeName([_subject_alt_name(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
    return TlsIdentity(
        certificate_pem=certificate_pem,
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        spki_sha256=spki_sha256(certificate_pem),
    )
