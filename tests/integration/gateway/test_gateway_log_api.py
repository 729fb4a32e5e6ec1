"""The log read API (C2SP tlog-tiles under ``/v1/log/``) checked by an outside verifier.

The gateway here gets more than one full tile of entries (256), so full, partial and level-1 tiles
are all served. The tree is rebuilt from the level-0 tiles with a naive RFC 9162 hash and must give
the signed checkpoint's root; every proof is verified against that root.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import httpx
import pytest
from gateway_harness import (
    HARMFUL_CYBER,
    MODEL,
    ORIGIN,
    RunningGateway,
    ServerLogs,
    gateway_settings,
    rfc9162_root,
    start_gateway,
    stop_cleanly,
)

from audit_log import Checkpoint, CheckpointPolicy, verify_consistency, verify_inclusion

TILE_WIDTH = 256


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory, module_logs: ServerLogs) -> Iterator[RunningGateway]:
    """A gateway whose log holds more than one full tile."""
    running = start_gateway(gateway_settings(tmp_path_factory.mktemp("log-api")))
    with running.http() as http:
        for i in range(TILE_WIDTH + 20):
            content = HARMFUL_CYBER if i % 10 == 0 else f"hello {i}"
            body = {"model": MODEL, "messages": [{"role": "user", "content": content}]}
            assert http.post("/v1/chat/completions", json=body).status_code in (200, 451)
        # Checkpoints are published at most once per interval: wait for one that covers the log.
        size = http.get("/v1/health").json()["log_size"]
        deadline = time.monotonic() + 10
        while checkpoint(running).size < size and time.monotonic() < deadline:
            time.sleep(0.05)
    yield running
    stop_cleanly(running)


def get(gateway: RunningGateway, path: str) -> httpx.Response:
    with gateway.http() as http:
        return http.get(path)


def checkpoint(gateway: RunningGateway) -> Checkpoint:
    response = get(gateway, "/v1/log/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return CheckpointPolicy(ORIGIN, (gateway.vkey(),)).verify(response.content)


def tile_name(index: int) -> str:
    """C2SP tile index path: groups of three digits, all but the last prefixed with x."""
    digits = f"{index:03d}"
    groups = [digits[max(0, i - 3) : i] for i in range(len(digits), 0, -3)][::-1]
    groups = [g.rjust(3, "0") for g in groups]
    return "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])


def leaves(gateway: RunningGateway, size: int) -> list[bytes]:
    hashes: list[bytes] = []
    for n in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        width = min(TILE_WIDTH, size - n * TILE_WIDTH)
        path = f"/v1/log/tile/0/{tile_name(n)}" + ("" if width == TILE_WIDTH else f".p/{width}")
        response = get(gateway, path)
        assert response.status_code == 200, path
        assert len(response.content) == 32 * width
        hashes.extend(response.content[i : i + 32] for i in range(0, len(response.content), 32))
    return hashes


def test_checkpoint_is_signed_by_the_served_log_key(grown: RunningGateway) -> None:
    assert checkpoint(grown).size > TILE_WIDTH


def test_tiles_rebuild_the_checkpoint_root(grown: RunningGateway) -> None:
    signed = checkpoint(grown)
    assert rfc9162_root(leaves(grown, signed.size)) == signed.root


def test_full_tiles_are_immutable_and_partial_ones_are_not(grown: RunningGateway) -> None:
    size = checkpoint(grown).size
    full = get(grown, "/v1/log/tile/0/000")
    assert "immutable" in full.headers["cache-control"]
    partial = get(grown, f"/v1/log/tile/0/001.p/{size - TILE_WIDTH}")
    assert partial.status_code == 200
    assert "immutable" not in partial.headers["cache-control"]


def test_level_one_tile_holds_the_full_subtree_root(grown: RunningGateway) -> None:
    size = checkpoint(grown).size
    response = get(grown, "/v1/log/tile/1/000.p/1")
    assert response.status_code == 200
    assert response.content == rfc9162_root(leaves(grown, size)[:TILE_WIDTH])


def test_inclusion_proofs_verify_against_the_checkpoint(grown: RunningGateway) -> None:
    signed = checkpoint(grown)
    hashes = leaves(grown, signed.size)
    for index in (0, 1, 100, TILE_WIDTH - 1, TILE_WIDTH, signed.size - 1):
        response = get(grown, f"/v1/log/proof/inclusion?index={index}&size={signed.size}")
        assert response.status_code == 200
        body = response.json()
        assert (body["index"], body["size"]) == (index, signed.size)
        proof = [base64.b64decode(h, validate=True) for h in body["proof"]]
        verify_inclusion(index, signed.size, hashes[index], proof, signed.root)


def test_consistency_proofs_verify_between_tree_sizes(grown: RunningGateway) -> None:
    signed = checkpoint(grown)
    hashes = leaves(grown, signed.size)
    for old in (1, 7, TILE_WIDTH, signed.size - 1, signed.size):
        response = get(grown, f"/v1/log/proof/consistency?old={old}&new={signed.size}")
        assert response.status_code == 200
        proof = [base64.b64decode(h, validate=True) for h in response.json()["proof"]]
        verify_consistency(old, signed.size, rfc9162_root(hashes[:old]), signed.root, proof)


@pytest.mark.parametrize(
    "query",
    [
        "proof/inclusion?index=5&size=5",
        "proof/inclusion?index=0&size=0",
        "proof/inclusion?index=-1&size=3",
        "proof/inclusion?index=zero&size=3",
        "proof/inclusion?size=3",
        "proof/inclusion?index=0&size=999999",
        "proof/inclusion?index=0&size=99999999999999999999999",
        "proof/consistency?old=5&new=4",
        "proof/consistency?old=0&new=4",
        "proof/consistency?old=1&new=999999",
        "proof/consistency?old=1.5&new=4",
    ],
)
def test_bad_proof_parameters_are_400_in_openai_shape(grown: RunningGateway, query: str) -> None:
    response = get(grown, f"/v1/log/{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert set(error) <= {"message", "type", "code", "param"}


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/005",
        "tile/0/001",
        "tile/0/001.p/255",
        "tile/2/000",
        "tile/0/000.p/0",
        "tile/0/abc",
        "tile/0/x001",
        "tile/-1/000",
        "tile/0/000/extra",
    ],
)
def test_tile_outside_the_tree_or_malformed_is_404(grown: RunningGateway, path: str) -> None:
    response = get(grown, f"/v1/log/{path}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_entry_bundles_are_not_served(grown: RunningGateway) -> None:
    assert get(grown, "/v1/log/tile/entries/000").status_code == 404
