"""The two sealing suites: round trips, opaque failures, and agreement with other implementations.

* ``x25519-sealedbox`` must open with libsodium's own ``crypto_box_seal_open`` (through PyNaCl's
  low-level bindings, not its ``SealedBox`` class), and libsodium's ``crypto_box_seal`` output must
  open with the suite.
* ``hpke-xwing`` key handling must match the X-Wing draft: the test vectors of
  draft-connolly-cfrg-xwing-kem-08, Appendix C (seed → public key, and decapsulation of the given
  ciphertext to the given shared secret with the key expanded from the seed).
* Both suites must open what independent JavaScript implementations sealed (libsodium-wrappers,
  hpke-js with X-Wing), recorded by ``vectors/generate_node_interop.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import nacl.bindings
import pytest
from cryptography.hazmat.primitives.asymmetric import x25519

from disclosure import OpenError, PolicyError, SuiteName
from disclosure.suites import get_suite
from disclosure.suites.xwing import expand_seed

INFO = b"veritee-disclosure/v1\x00{}"


@pytest.mark.parametrize("suite", list(SuiteName), ids=str)
def test_round_trip(suite: SuiteName) -> None:
    impl = get_suite(suite)
    private = impl.generate_private_key()
    public = impl.public_key(private)
    assert len(public) == impl.public_key_size
    ciphertext = impl.seal(b"p" * 4096, public, INFO)
    assert len(ciphertext) == impl.ciphertext_size(4096)
    assert impl.open(ciphertext, private, INFO) == b"p" * 4096


@pytest.mark.parametrize("suite", list(SuiteName), ids=str)
def test_wrong_private_key_is_an_opaque_open_error(suite: SuiteName) -> None:
    impl = get_suite(suite)
    public = impl.public_key(impl.generate_private_key())
    ciphertext = impl.seal(b"p" * 64, public, INFO)
    with pytest.raises(OpenError):
        impl.open(ciphertext, impl.generate_private_key(), INFO)


def test_xwing_info_mismatch_is_an_opaque_open_error() -> None:
    impl = get_suite(SuiteName.HPKE_XWING)
    private = impl.generate_private_key()
    ciphertext = impl.seal(b"p" * 64, impl.public_key(private), INFO)
    with pytest.raises(OpenError):
        impl.open(ciphertext, private, INFO + b" ")


@pytest.mark.parametrize("suite", list(SuiteName), ids=str)
def test_low_order_or_malformed_public_key_is_refused(suite: SuiteName) -> None:
    impl = get_suite(suite)
    with pytest.raises(PolicyError):
        impl.check_public_key(bytes(impl.public_key_size))
    with pytest.raises(PolicyError):
        impl.check_public_key(bytes(impl.public_key_size - 1))


def test_sealed_box_opens_with_libsodium_crypto_box_seal_open() -> None:
    impl = get_suite(SuiteName.X25519_SEALEDBOX)
    private = impl.generate_private_key()
    public = impl.public_key(private)
    ciphertext = impl.seal(b"statement", public, INFO)
    assert nacl.bindings.crypto_box_seal_open(ciphertext, public, private) == b"statement"


def test_libsodium_crypto_box_seal_opens_with_the_suite() -> None:
    impl = get_suite(SuiteName.X25519_SEALEDBOX)
    public, private = nacl.bindings.crypto_box_keypair()
    assert impl.public_key(private) == public
    assert impl.open(nacl.bindings.crypto_box_seal(b"statement", public), private, INFO) == b"statement"


def test_sealed_box_public_key_matches_x25519_from_cryptography() -> None:
    private = os.urandom(32)
    expected = x25519.X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()
    assert get_suite(SuiteName.X25519_SEALEDBOX).public_key(private) == expected


XWING_LABEL = bytes.fromhex("5c2e2f2f5e5c")  # the ASCII art \\./ /^\\ of the X-Wing combiner
XWING_VECTORS = json.loads((Path(__file__).parent / "vectors" / "xwing-draft-test-vectors.json").read_text())


def test_xwing_vector_file_is_present_and_complete() -> None:
    assert len(XWING_VECTORS) == 3
    assert all(set(v) == {"seed", "sk", "pk", "eseed", "ct", "ss"} for v in XWING_VECTORS)


@pytest.mark.parametrize("vector", XWING_VECTORS, ids=lambda v: v["seed"][:8])
def test_xwing_seed_expands_to_the_draft_public_key(vector: dict[str, str]) -> None:
    seed = bytes.fromhex(vector["seed"])
    assert vector["sk"] == vector["seed"]
    assert get_suite(SuiteName.HPKE_XWING).public_key(seed) == bytes.fromhex(vector["pk"])


@pytest.mark.parametrize("vector", XWING_VECTORS, ids=lambda v: v["seed"][:8])
def test_xwing_key_from_seed_decapsulates_the_draft_ciphertext(vector: dict[str, str]) -> None:
    mlkem_private, x25519_private = expand_seed(bytes.fromhex(vector["seed"]))
    ct, pk = bytes.fromhex(vector["ct"]), bytes.fromhex(vector["pk"])
    ss_m = mlkem_private.decapsulate(ct[:1088])
    ss_x = x25519_private.exchange(x25519.X25519PublicKey.from_public_bytes(ct[1088:]))
    combined = hashlib.sha3_256(ss_m + ss_x + ct[1088:] + pk[1184:] + XWING_LABEL).digest()
    assert combined == bytes.fromhex(vector["ss"])


@pytest.mark.parametrize("vector", XWING_VECTORS, ids=lambda v: v["seed"][:8])
def test_xwing_key_loaded_from_seed_round_trips_through_hpke(vector: dict[str, str]) -> None:
    impl = get_suite(SuiteName.HPKE_XWING)
    seed = bytes.fromhex(vector["seed"])
    ciphertext = impl.seal(b"statement", bytes.fromhex(vector["pk"]), INFO)
    assert impl.open(ciphertext, seed, INFO) == b"statement"


# Ciphertexts sealed by libsodium-wrappers and hpke-js (vectors/generate_node_interop.py, which also
# checked that Node opens what veritee seals).
NODE_VECTORS = json.loads((Path(__file__).parent / "vectors" / "node-interop.json").read_text())


@pytest.mark.parametrize("suite", list(SuiteName), ids=str)
def test_ciphertext_sealed_by_an_independent_javascript_implementation_opens(suite: SuiteName) -> None:
    vector = {name: base64.b64decode(value) for name, value in NODE_VECTORS[str(suite)].items()}
    impl = get_suite(suite)
    assert impl.public_key(vector["private_key"]) == vector["public_key"]
    assert impl.open(vector["node_ciphertext"], vector["private_key"], vector["info"]) == vector["plaintext"]
    if impl.binds_info:
        with pytest.raises(OpenError):
            impl.open(vector["node_ciphertext"], vector["private_key"], vector["info"] + b"x")
