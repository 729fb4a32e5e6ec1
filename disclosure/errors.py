"""The disclosure package's error tree.

Bad input, refusals inside the TEE and failed verification are kept apart, so that the gateway can
fail closed (503) and the authority's CLI can answer with the right exit code (2, 1)::

    DisclosureError
    ├── DisclosureFormatError      bytes or values that do not parse (exit 2)
    │   ├── UnknownSuite           an envelope, key or policy names a suite we do not implement
    │   ├── PolicyError            the disclosure part of the attested policy is invalid
    │   ├── KeyFileError           an authority key file is malformed or inconsistent
    │   │   └── WrongPassphrase    the passphrase does not decrypt the key file
    │   └── MisaddressedEnvelope   the envelope names another authority, key or suite than this key
    ├── SealError                  the TEE refuses to seal (too large, mode or key mismatch): fail closed
    └── DisclosureVerificationError   well-formed but not a genuine, in-order disclosure (exit 1)
        ├── OpenError              opaque: could not decrypt or unpad (wrong key, tampered, truncated)
        ├── ForgedDisclosure       decrypted, but the signature or the binding to the envelope is wrong
        ├── SimulatedDisclosure    signed in simulated mode, presented to a production opener
        ├── SequenceError          the per-authority sequence does not continue
        │   ├── ReplayedDisclosure a sequence number already opened (replay or out of order)
        │   └── SequenceGap        sequence numbers were skipped (withheld or lost disclosures)
        └── NotInLog               the receipt does not prove this envelope's audit entry

Messages name ids, sequence numbers, sizes and key ids; never a category, a confidence, a hash from
inside the statement or any content.
"""

from __future__ import annotations


class DisclosureError(Exception):
    """Root of every error raised by ``disclosure``."""


class DisclosureFormatError(DisclosureError, ValueError):
    """Input bytes or values are malformed."""


class UnknownSuite(DisclosureFormatError):
    """A suite name that this implementation does not know."""


class PolicyError(DisclosureFormatError):
    """The disclosure rules or authorities of the policy are invalid."""


class KeyFileError(DisclosureFormatError):
    """An authority key file is malformed, or its parts do not belong together."""


class WrongPassphrase(KeyFileError):
    """The passphrase does not open the encrypted key file (or the file was altered)."""


class MisaddressedEnvelope(DisclosureFormatError):
    """The envelope is addressed to another authority, key or suite than the key at hand."""


class SealError(DisclosureError):
    """The TEE refuses to build or seal a disclosure; the request that caused it must fail closed."""


class DisclosureVerificationError(DisclosureError):
    """A well-formed envelope that is not a genuine, correctly bound, in-order disclosure."""


class OpenError(DisclosureVerificationError):
    """The envelope does not decrypt to a padded plaintext under this key.

    Deliberately opaque: a wrong key, a tampered or truncated ciphertext and bad padding all look the
    same, so the opener is no oracle.
    """

    def __init__(self) -> None:
        super().__init__("envelope does not open under this key (wrong key, tampered or truncated)")


class ForgedDisclosure(DisclosureVerificationError):
    """Decrypted, but not signed by the TEE's log key, or not bound to its envelope: keep as evidence."""


class SimulatedDisclosure(DisclosureVerificationError):
    """A disclosure from a simulated (non-TEE) deployment, refused by a production opener."""


class SequenceError(DisclosureVerificationError):
    """The disclosure's sequence number does not continue the authority's sequence."""


class ReplayedDisclosure(SequenceError):
    """A sequence number that was already opened: a replay, or delivery out of order."""


class SequenceGap(SequenceError):
    """Sequence numbers were skipped: earlier disclosures were withheld or lost."""


class NotInLog(DisclosureVerificationError):
    """The receipt does not prove that this envelope's disclosure entry is in the signed log."""
