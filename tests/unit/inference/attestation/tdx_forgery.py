"""An attacker's look-alike Intel PKI that forges TDX quotes and collateral (test helper).

Everything it produces is internally consistent: a fresh attestation key signs the quote's header
and body, the QE report binds that key, a forged PCK key signs the QE report, the PCK chain copies
Intel's names and SGX extension, and the collateral (CRLs, TCB info, QE identity) is re-signed with
the same look-alike keys. Only the root differs from Intel's, which is exactly what a verifier that
anchors on Intel's root must catch; :attr:`ForeignPki.root_der` lets a test prove the forgery is
otherwise complete by verifying it against this root.
"""

from __future__ import annotations

import datetime
import hashlib
import struct

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtensionOID

from inference.attestation import Collateral

QE_REPORT_SIZE = 384
_NOT_BEFORE = datetime.datetime(2018, 1, 1, tzinfo=datetime.UTC)
_NOT_AFTER = datetime.datetime(2049, 1, 1, tzinfo=datetime.UTC)


def _raw_signature(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _lookalike(
    real: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(real.subject)
        .issuer_name(real.subject if issuer is None else issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
    )
    skipped = (
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.CRL_DISTRIBUTION_POINTS,
    )
    for extension in real.extensions:
        if extension.oid not in skipped:
            builder = builder.add_extension(extension.value, extension.critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _empty_crl(issuer: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bytes:
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(_NOT_BEFORE)
        .next_update(_NOT_AFTER)
        .add_extension(x509.CRLNumber(1), critical=False)
        .sign(key, hashes.SHA256())
    )
    return crl.public_bytes(serialization.Encoding.DER)


class ForeignPki:
    """Look-alikes of Intel's root, PCK platform CA and TCB signing certificates, with our keys."""

    def __init__(self, genuine_quote: bytes, genuine_collateral: Collateral) -> None:
        real_leaf, real_intermediate, real_root = x509.load_pem_x509_certificates(
            _certification_chain(genuine_quote)
        )
        real_tcb_signer = x509.load_pem_x509_certificates(genuine_collateral.tcb_info_issuer_chain.encode())[
            0
        ]
        self.root_key, self.intermediate_key, self.tcb_key = _key(), _key(), _key()
        self.root = _lookalike(real_root, self.root_key, None, self.root_key)
        self.intermediate = _lookalike(real_intermediate, self.intermediate_key, self.root, self.root_key)
        self.tcb_signer = _lookalike(real_tcb_signer, self.tcb_key, self.root, self.root_key)
        self.real_leaf = real_leaf

    @property
    def root_der(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.DER)

    def forge_quote(self, quote: bytes, body_end: int) -> bytes:
        """Re-sign ``quote`` (its header and body, up to ``body_end``, kept) under this PKI."""
        offset = body_end + 4 + 128
        qe_report = bytearray(quote[offset + 6 : offset + 6 + QE_REPORT_SIZE])
        auth_offset = offset + 6 + QE_REPORT_SIZE + 64
        (auth_size,) = struct.unpack_from("<H", quote, auth_offset)
        auth_data = quote[auth_offset + 2 : auth_offset + 2 + auth_size]

        pck_key, attestation_key = _key(), _key()
        leaf = _lookalike(self.real_leaf, pck_key, self.intermediate, self.intermediate_key)
        chain = _pem(leaf, self.intermediate, self.root)
        attestation_public = attestation_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )[1:]
        # The QE report binds the attestation key: report_data = SHA-256(key ‖ auth data) ‖ 0^32.
        qe_report[320:384] = hashlib.sha256(attestation_public + auth_data).digest() + bytes(32)
        certification = (
            bytes(qe_report)
            + _raw_signature(pck_key, bytes(qe_report))
            + struct.pack("<H", auth_size)
            + auth_data
            + struct.pack("<HI", 5, len(chain))
            + chain
        )
        signed = quote[:body_end]
        signature_area = (
            _raw_signature(attestation_key, signed)
            + attestation_public
            + struct.pack("<HI", 6, len(certification))
            + certification
        )
        return signed + struct.pack("<I", len(signature_area)) + signature_area

    def forge_collateral(self, genuine: Collateral) -> Collateral:
        """The same TCB info and QE identity text, with CRLs and signatures from this PKI."""
        tcb_chain = _pem(self.tcb_signer, self.root).decode()
        return Collateral(
            pck_crl_issuer_chain=_pem(self.intermediate, self.root).decode(),
            root_ca_crl=_empty_crl(self.root, self.root_key).hex(),
            pck_crl=_empty_crl(self.intermediate, self.intermediate_key).hex(),
            tcb_info_issuer_chain=tcb_chain,
            tcb_info=genuine.tcb_info,
            tcb_info_signature=_raw_signature(self.tcb_key, genuine.tcb_info.encode()).hex(),
            qe_identity_issuer_chain=tcb_chain,
            qe_identity=genuine.qe_identity,
            qe_identity_signature=_raw_signature(self.tcb_key, genuine.qe_identity.encode()).hex(),
        )


def _certification_chain(quote: bytes) -> bytes:
    """The PEM PCK chain inside a v4 quote's certification data."""
    offset = 632 + 4 + 128
    auth_offset = offset + 6 + QE_REPORT_SIZE + 64
    (auth_size,) = struct.unpack_from("<H", quote, auth_offset)
    chain_offset = auth_offset + 2 + auth_size
    _, chain_size = struct.unpack_from("<HI", quote, chain_offset)
    return quote[chain_offset + 6 : chain_offset + 6 + chain_size]
