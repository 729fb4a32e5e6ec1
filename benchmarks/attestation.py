"""Attestation verification cost on the client, with cached collateral.

Target (issue 7): fetching and verifying an attestation costs < 50 ms with cached collateral. Figures
printed here, per operation, median of rounds:

* ``quote step``: parse + dcap-qvl (signature, PCK chain, CRLs, TCB info, QE identity at a fixed
  time) + register cross-check, on real Intel TDX quotes from ../shared/vectors;
* ``document parse``: strict parsing of a production document carrying quote and collateral;
* ``production policy``: the whole production verification of such a document (real quotes cannot
  carry veritee's report_data, so it ends in the binding step, after every costly step has run);
* ``simulated``: build a simulated document (claims JCS + SHA-256), serialise, parse, and verify
  with UnsafeAcceptSimulated;
* ``client``: ``reporting.client.OpenAI`` against a real uvicorn TLS server on loopback (simulated
  quotes): a fresh client's first request (TCP + TLS + ``GET /v1/attestation`` on that connection +
  verification + the request itself) and later requests on the attested connection, each beside the
  same request from a stock ``openai.OpenAI`` client with the same TLS settings that attests nothing.
  A production server adds its quote generation time (configfs-tsm, hardware dependent) and the
  client the production verification measured above.

Run from the repository root: ``.venv/bin/python -m benchmarks.attestation``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import logging
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx2
import openai
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit_log import Mode
from inference.attestation import (
    AttestationDocument,
    AttestationPolicy,
    Attester,
    AuthorityKey,
    BindingMismatch,
    Claims,
    ClassifierArtefact,
    Collateral,
    NonceStore,
    Platform,
    ReferenceValues,
    SimulatedQuoteProvider,
    UnsafeAcceptSimulated,
    generate_tls_identity,
    verify_tdx_quote,
)
from inference.http.attest import attestation_router
from reporting.client import OpenAI, pinning_tls_context

NONCE = bytes(range(32))
CASES = [
    ("TDX v4 (phala)", "intel-tdx/phala-dcap-qvl/tdx_quote_v4.bin",
     "intel-tdx/phala-dcap-qvl/tdx_quote_v4.collateral.json", "2025-06-20T00:00:00+00:00"),
    ("TDX v4 (tinfoil)", "intel-tdx/tinfoil-verifier/tdx_quote_v4.bin",
     "intel-tdx/tinfoil-verifier/fmspc_90c06f000000_2026-01-12.collateral.json", "2026-01-20T00:00:00+00:00"),
    ("TDX v5 (go-tdx-guest)", "intel-tdx/go-tdx-guest/quote_v5_sample.bin",
     "intel-tdx/phala-dcap-qvl/fmspc_90C06F000000_2026-02-18.collateral.json", "2026-02-19T00:00:00+00:00"),
]  # fmt: skip


def vectors_dir() -> Path:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "vectors"
    return Path(os.environ.get("VERITEE_VECTORS", default)) / "attestation"


def per_op_seconds(operation: Callable[[], object], iterations: int, rounds: int) -> list[float]:
    """Seconds per operation, one figure per round (the median of rounds resists noisy neighbours)."""
    operation()
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(iterations):
            operation()
        results.append((time.perf_counter() - start) / iterations)
    return results


def report(label: str, seconds: list[float]) -> None:
    print(
        f"  {label:<50} median {statistics.median(seconds) * 1e3:8.3f} ms"
        f"   min {min(seconds) * 1e3:8.3f} ms   max {max(seconds) * 1e3:8.3f} ms"
    )


def sample_claims(mode: Mode, tls_spki_sha256: bytes = bytes(32)) -> Claims:
    log_key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return Claims(
        mode=mode,
        service_version="0.1.0",
        log_origin="veritee.bench/log",
        log_signing_key=log_key,
        tls_spki_sha256=tls_spki_sha256,
        policy_sha256=hashlib.sha256(b"policy").digest(),
        classifiers=tuple(
            ClassifierArtefact(f"classifier-{i}", "1", hashlib.sha256(bytes([i])).digest()) for i in range(4)
        ),
        model_sha256=hashlib.sha256(b"model").digest(),
        authority_keys=(
            AuthorityKey("ncmec", "k1"),
            AuthorityKey("fbi-wmd", "k2"),
            AuthorityKey("cisa", "k3"),
        ),
    )


def production_document(quote: bytes, collateral: Collateral) -> bytes:
    return AttestationDocument(
        mode=Mode.PRODUCTION,
        platform=Platform.INTEL_TDX,
        quote=quote,
        nonce=NONCE,
        claims=sample_claims(Mode.PRODUCTION),
        collateral=collateral,
    ).to_json()


def reference_for(recorded: dict[str, str]) -> ReferenceValues:
    registers = ("mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mr_config_id")
    entry = {"name": "bench", **{r: recorded[r] for r in registers}}
    return ReferenceValues.from_json(json.dumps({"v": 1, "measurements": [entry]}))


def bench_real(vectors: Path, iterations: int, rounds: int) -> None:
    expected = json.loads((vectors / "expected.json").read_text())["quotes"]
    print("Real Intel TDX quotes, cached collateral:")
    for label, quote_path, collateral_path, at_text in CASES:
        quote = (vectors / quote_path).read_bytes()
        collateral = Collateral.from_json((vectors / collateral_path).read_bytes())
        at = datetime.datetime.fromisoformat(at_text)
        policy = AttestationPolicy.production(reference_values=reference_for(expected[quote_path]))
        document = production_document(quote, collateral)

        def quote_step(
            quote: bytes = quote, collateral: Collateral = collateral, at: datetime.datetime = at
        ) -> None:
            verify_tdx_quote(quote, collateral, at=at)

        def parse(document: bytes = document) -> None:
            AttestationDocument.from_json(document)

        def parse_and_verify(
            document: bytes = document, policy: AttestationPolicy = policy, at: datetime.datetime = at
        ) -> None:
            try:
                policy.verify(AttestationDocument.from_json(document), NONCE, at)
            except BindingMismatch:
                return
            raise AssertionError("a real quote cannot bind veritee's claims")

        report(f"{label}: quote step", per_op_seconds(quote_step, iterations, rounds))
        report(f"{label}: document parse ({len(document)} B)", per_op_seconds(parse, iterations, rounds))
        report(f"{label}: parse + production policy", per_op_seconds(parse_and_verify, iterations, rounds))


def bench_simulated(iterations: int, rounds: int) -> None:
    attester = Attester(SimulatedQuoteProvider(), sample_claims(Mode.SIMULATED))
    policy = UnsafeAcceptSimulated()
    at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    logging.getLogger("inference.attestation.verify").setLevel(logging.ERROR)  # one warning per call
    print("Simulated path:")
    data = attester.attest(NONCE).to_json()
    build = per_op_seconds(lambda: attester.attest(NONCE).to_json(), iterations, rounds)
    verify = per_op_seconds(
        lambda: policy.verify(AttestationDocument.from_json(data), NONCE, at), iterations, rounds
    )
    report("build + serialise document", build)
    report("parse + UnsafeAcceptSimulated.verify", verify)


def serve(directory: Path) -> tuple[uvicorn.Server, threading.Thread, str]:
    """A simulated attestation server with ``GET /v1/models`` over TLS on a free loopback port."""
    from fastapi import FastAPI

    identity = generate_tls_identity(now=datetime.datetime.now(datetime.UTC))
    claims = sample_claims(Mode.SIMULATED, identity.spki_sha256)
    app = FastAPI()
    app.include_router(attestation_router(SimulatedQuoteProvider(), claims, NonceStore(capacity=1_000_000)))

    @app.get("/v1/models")
    async def models() -> dict[str, object]:
        return {
            "object": "list",
            "data": [{"id": "local", "object": "model", "created": 0, "owned_by": "bench"}],
        }

    (directory / "cert.pem").write_bytes(identity.certificate_pem)
    (directory / "key.pem").write_bytes(identity.private_key_pem)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="off",
        ssl_certfile=str(directory / "cert.pem"), ssl_keyfile=str(directory / "key.pem"),
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"https://127.0.0.1:{port}"


def bench_client(iterations: int, rounds: int) -> None:
    policy = UnsafeAcceptSimulated()
    with tempfile.TemporaryDirectory() as directory:
        server, thread, base_url = serve(Path(directory))
        try:

            def attested_first_request() -> None:
                with OpenAI(attestation_policy=policy, base_url=f"{base_url}/v1", api_key="bench") as client:
                    client.models.list()

            def plain_client() -> openai.OpenAI:
                http_client = httpx2.Client(verify=pinning_tls_context(), trust_env=False)
                return openai.OpenAI(base_url=f"{base_url}/v1", api_key="bench", http_client=http_client)

            def plain_first_request() -> None:
                with plain_client() as client:
                    client.models.list()

            attested = OpenAI(attestation_policy=policy, base_url=f"{base_url}/v1", api_key="bench")
            plain = plain_client()
            print("Client over TLS on loopback (simulated server):")
            report(
                "attested client: first request", per_op_seconds(attested_first_request, iterations, rounds)
            )
            report("plain client: first request", per_op_seconds(plain_first_request, iterations, rounds))
            report("attested client: later request", per_op_seconds(attested.models.list, iterations, rounds))
            report("plain client: later request", per_op_seconds(plain.models.list, iterations, rounds))
            attested.close()
            plain.close()
        finally:
            server.should_exit = True
            thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    bench_real(vectors_dir(), args.iterations, args.rounds)
    bench_simulated(args.iterations * 5, args.rounds)
    bench_client(max(1, args.iterations // 4), args.rounds)


if __name__ == "__main__":
    main()
