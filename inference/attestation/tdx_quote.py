"""Parse the header and TD report of an Intel TDX DCAP quote (v4 and v5).

Spec: Intel TDX DCAP Quoting Library API, "Quote Format" (v4: header 48 B + TD report 584 B;
v5: header, u16 body type, u32 body size, then a TDREPORT 1.0 (type 2, 584 B) or 1.5 (type 3,
648 B)); layout checked against the vectors' README. This module only reads bytes: the signature,
certificate chain and TCB are checked by ``dcap.py``, which covers exactly the header and body read
here. Bytes after the signature area are tolerated (real v4 quotes carry zero padding) because
nothing reads them and no signature covers them. Pure: no IO.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from inference.attestation.errors import AttestationFormatError

TEE_TYPE_TDX = 0x81
ATTESTATION_KEY_ECDSA_P256 = 2
INTEL_QE_VENDOR_ID = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")
HEADER_SIZE = 48
MAX_QUOTE_SIZE = 16 * 1024
REGISTER_SIZE = 48
TD_ATTRIBUTE_DEBUG = 0x01  # bit 0 of TDATTRIBUTES: the host may read and write the TD's memory

# v5 body types (TDX DCAP quote v5, "Quote Body Type") and their sizes.
_V5_BODY_SIZES = {2: 584, 3: 648}
_TD10_BODY_SIZE = 584

# Offsets inside the TD report body, shared by TDREPORT 1.0 and 1.5 (README, v4 offsets - 48).
_TEE_TCB_SVN = (0, 16)
_MR_SEAM = (16, 48)
_TD_ATTRIBUTES = (120, 8)
_XFAM = (128, 8)
_MR_TD = (136, 48)
_MR_CONFIG_ID = (184, 48)
_RTMR0 = (328, 48)
_REPORT_DATA = (520, 64)


@dataclass(frozen=True)
class TdxMeasurements:
    """The registers a reference-values file allow-lists."""

    mrtd: bytes
    rtmrs: tuple[bytes, bytes, bytes, bytes]
    mr_config_id: bytes

    def __post_init__(self) -> None:
        registers = (self.mrtd, *self.rtmrs, self.mr_config_id)
        if len(self.rtmrs) != 4 or any(len(r) != REGISTER_SIZE for r in registers):
            raise AttestationFormatError("TDX measurement registers must be 48 bytes each")

    def to_json_object(self) -> dict[str, str]:
        return {
            "mrtd": self.mrtd.hex(),
            **{f"rtmr{i}": rtmr.hex() for i, rtmr in enumerate(self.rtmrs)},
            "mr_config_id": self.mr_config_id.hex(),
        }


@dataclass(frozen=True)
class TdxQuote:
    """The fields of a TDX quote that veritee's verifier reads, before any signature check."""

    version: int
    tee_tcb_svn: bytes
    mr_seam: bytes
    td_attributes: bytes
    xfam: bytes
    measurements: TdxMeasurements
    report_data: bytes

    @property
    def debug(self) -> bool:
        """True for a debug TD, whose memory the host can read: never acceptable."""
        return bool(self.td_attributes[0] & TD_ATTRIBUTE_DEBUG)


def _field(body: bytes, spec: tuple[int, int]) -> bytes:
    offset, size = spec
    return body[offset : offset + size]


def parse_tdx_quote(quote: bytes) -> TdxQuote:
    """Parse and sanity-check a TDX quote; raise :class:`AttestationFormatError` naming the field."""
    if len(quote) > MAX_QUOTE_SIZE:
        raise AttestationFormatError(f"quote is {len(quote)} bytes, more than {MAX_QUOTE_SIZE}")
    if len(quote) < HEADER_SIZE:
        raise AttestationFormatError(f"quote is {len(quote)} bytes, shorter than its header")
    version, key_type, tee_type = struct.unpack_from("<HHI", quote, 0)
    # The TEE type is checked first: an SGX quote (tee_type 0) is a different kind of evidence.
    if tee_type != TEE_TYPE_TDX:
        raise AttestationFormatError(f"quote tee_type is {tee_type:#x}, expected TDX ({TEE_TYPE_TDX:#x})")
    if version not in (4, 5):
        raise AttestationFormatError(f"quote version {version} is not supported (4 or 5)")
    if key_type != ATTESTATION_KEY_ECDSA_P256:
        raise AttestationFormatError(f"quote attestation key type {key_type} is not ECDSA-P256")
    if quote[12:28] != INTEL_QE_VENDOR_ID:
        raise AttestationFormatError("quote QE vendor id is not Intel's")

    if version == 4:
        body_offset, body_size = HEADER_SIZE, _TD10_BODY_SIZE
    else:
        if len(quote) < HEADER_SIZE + 6:
            raise AttestationFormatError("v5 quote is too short for its body descriptor")
        body_type, body_size = struct.unpack_from("<HI", quote, HEADER_SIZE)
        if _V5_BODY_SIZES.get(body_type) != body_size:
            raise AttestationFormatError(
                f"v5 quote body type {body_type} with size {body_size} is not a TD report"
            )
        body_offset = HEADER_SIZE + 6
    signature_offset = body_offset + body_size
    if len(quote) < signature_offset + 4:
        raise AttestationFormatError("quote is truncated before its signature area")
    (signature_size,) = struct.unpack_from("<I", quote, signature_offset)
    if signature_size > len(quote) - signature_offset - 4:
        raise AttestationFormatError("quote signature area runs past the end of the quote")

    body = quote[body_offset:signature_offset]
    rtmr_offset = _RTMR0[0]
    rtmrs = tuple(
        body[rtmr_offset + i * REGISTER_SIZE : rtmr_offset + (i + 1) * REGISTER_SIZE] for i in range(4)
    )
    return TdxQuote(
        version=version,
        tee_tcb_svn=_field(body, _TEE_TCB_SVN),
        mr_seam=_field(body, _MR_SEAM),
        td_attributes=_field(body, _TD_ATTRIBUTES),
        xfam=_field(body, _XFAM),
        measurements=TdxMeasurements(
            mrtd=_field(body, _MR_TD),
            rtmrs=(rtmrs[0], rtmrs[1], rtmrs[2], rtmrs[3]),
            mr_config_id=_field(body, _MR_CONFIG_ID),
        ),
        report_data=_field(body, _REPORT_DATA),
    )
