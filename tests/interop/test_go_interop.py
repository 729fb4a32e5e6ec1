"""Stock Go tooling verifies veritee's checkpoints and proofs unchanged (DESIGN.md, "Checkpoint").

The Go program in ``go/main.go`` runs golang.org/x/mod's ``note.Open``, ``note.Sign``,
``tlog.TreeHash``, ``tlog.ProveRecord``/``CheckRecord`` and ``tlog.ProveTree``/``CheckTree`` over a
log veritee built: Go must accept every honest checkpoint and proof, reject every forged one, and,
computing from the raw leaves on its own, arrive at the same roots, proofs and signed-note bytes.

Needs ``go`` and the x/mod source (Debian: ``apt-get install golang-go golang-golang-x-mod-dev``).
Without them the test skips on a developer's machine and fails under CI (``tests/optional_tools.py``).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from optional_tools import require_tool

from audit_log.checkpoint import Checkpoint, sign_checkpoint
from audit_log.formats.note import NoteSigner, format_skey, sign_note
from audit_log.merkle import EMPTY_ROOT, CompactRange, consistency_proof, inclusion_proof, leaf_hash

GO_SOURCE = Path(__file__).parent / "go" / "main.go"
GOPATH = Path(os.environ.get("VERITEE_GOPATH", "/usr/share/gocode"))
X_MOD = GOPATH / "src" / "golang.org" / "x" / "mod" / "sumdb"

ORIGIN = "example.com/veritee-interop"
LOG = NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x31" * 32))
IMPOSTOR = NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x32" * 32))
WITNESS = NoteSigner("witness.example/w1", Ed25519PrivateKey.from_private_bytes(b"\x33" * 32))
LEAVES = [b"veritee interop entry %d" % i for i in range(300)]
SIZES = [1, 2, 3, 7, 8, 9, 255, 256, 257, 300]


def _missing_go(reason: str) -> None:
    require_tool(False, reason, "install the Debian packages golang-go and golang-golang-x-mod-dev")


@pytest.fixture(scope="module")
def go_interop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        _missing_go("the go toolchain is not on PATH")
    if not (X_MOD / "note").is_dir() or not (X_MOD / "tlog").is_dir():
        _missing_go(f"golang.org/x/mod sources are not under {GOPATH}")
    build_dir = tmp_path_factory.mktemp("go-interop")
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": str(GOPATH), "GOFLAGS": ""}
    if not any(env.get(v) for v in ("GOCACHE", "XDG_CACHE_HOME", "HOME")):
        env["GOCACHE"] = str(build_dir / "cache")
    binary = build_dir / "veritee-interop"
    subprocess.run(
        [str(go), "build", "-o", str(binary), GO_SOURCE.name],
        cwd=GO_SOURCE.parent,
        env=env,
        check=True,
        timeout=300,
    )
    return binary


class Log:
    """veritee's side: the tree, its roots at every size, and proofs from veritee's own code."""

    def __init__(self) -> None:
        compact = CompactRange()
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.roots = [EMPTY_ROOT]
        for leaf in LEAVES:
            self.nodes.update({(lv, ix): h for lv, ix, h in compact.append(leaf_hash(leaf))})
            self.roots.append(compact.root())

    def read(self, level: int, index: int) -> bytes:
        return self.nodes[(level, index)]

    def checkpoint(self, size: int, signers: list[NoteSigner] | None = None) -> bytes:
        body = Checkpoint(ORIGIN, size, self.roots[size])
        return sign_checkpoint(body, LOG) if signers is None else sign_note(body.body(), signers)


LOG_TREE = Log()


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _flip_last_signature_byte(note: bytes) -> bytes:
    text, _, line = note[:-1].rpartition(b"\n")
    prefix, _, encoded = line.rpartition(b" ")
    raw = bytearray(base64.b64decode(encoded))
    raw[-1] ^= 0x01
    return text + b"\n" + prefix + b" " + base64.b64encode(bytes(raw)) + b"\n"


def _run(binary: Path, request: dict[str, object]) -> dict[str, Any]:
    completed = subprocess.run(
        [str(binary)], input=json.dumps(request).encode(), capture_output=True, check=False, timeout=60
    )
    assert completed.returncode == 0, completed.stderr.decode()
    report = json.loads(completed.stdout)
    assert isinstance(report, dict)
    return report


def _request(
    checkpoints: list[bytes], inclusion: list[dict[str, object]], consistency: list[dict[str, object]]
) -> dict[str, object]:
    return {
        "vkey": LOG.verifier.vkey,
        "skey": format_skey(LOG),
        "leaves": [_b64(leaf) for leaf in LEAVES],
        "checkpoints": [note.decode() for note in checkpoints],
        "inclusion": inclusion,
        "consistency": consistency,
    }


def _inclusion(
    index: int, size: int, proof: list[bytes] | None = None, root: bytes | None = None
) -> dict[str, object]:
    proof = inclusion_proof(index, size, LOG_TREE.read) if proof is None else proof
    root = LOG_TREE.roots[size] if root is None else root
    return {"index": index, "size": size, "root": _b64(root), "proof": [_b64(h) for h in proof]}


def _consistency(old: int, new: int, proof: list[bytes] | None = None) -> dict[str, object]:
    proof = consistency_proof(old, new, LOG_TREE.read) if proof is None else proof
    return {
        "old": old,
        "new": new,
        "old_root": _b64(LOG_TREE.roots[old]),
        "new_root": _b64(LOG_TREE.roots[new]),
        "proof": [_b64(h) for h in proof],
    }


def test_go_note_verifier_reads_our_vkey(go_interop: Path) -> None:
    report = _run(go_interop, _request([], [], []))
    assert report["key_name"] == ORIGIN
    assert report["key_hash"] == int.from_bytes(LOG.verifier.key_id, "big")


def test_go_accepts_our_checkpoints_and_signs_identical_bytes(go_interop: Path) -> None:
    sizes = [0, *SIZES]
    notes = [LOG_TREE.checkpoint(size) for size in sizes]
    cosigned = LOG_TREE.checkpoint(300, [LOG, WITNESS])
    report = _run(go_interop, _request([*notes, cosigned], [], []))
    results = report["checkpoints"]
    assert isinstance(results, list)
    assert len(results) == len(sizes) + 1
    for size, note, result in zip([*sizes, 300], [*notes, cosigned], results, strict=True):
        assert result["error"] == "", f"size {size}: {result['error']}"
        assert (result["origin"], result["size"]) == (ORIGIN, size)
        assert base64.b64decode(result["root"]) == LOG_TREE.roots[size]
        if size == 0:
            # INTEROP: Go's TreeHash(0) is 32 zero bytes; the checkpoint carries SHA-256("").
            assert result["go_root"] is None
            assert LOG_TREE.roots[0] == EMPTY_ROOT
        else:
            assert base64.b64decode(result["go_root"]) == LOG_TREE.roots[size], f"Go's own root at {size}"
        if note is not cosigned:
            assert result["go_signed"].encode() == note, f"Go's note.Sign differs at size {size}"


def test_go_rejects_forged_checkpoints(go_interop: Path) -> None:
    honest = LOG_TREE.checkpoint(7)
    forged = {
        "flipped-signature": _flip_last_signature_byte(honest),
        "root-swapped": honest.replace(_b64(LOG_TREE.roots[7]).encode(), _b64(LOG_TREE.roots[6]).encode()),
        "size-changed": honest.replace(b"\n7\n", b"\n8\n"),
        "impostor-key-same-name": LOG_TREE.checkpoint(7, [IMPOSTOR]),
        "witness-only": LOG_TREE.checkpoint(7, [WITNESS]),
        "truncated": honest[:-1],
    }
    report = _run(go_interop, _request(list(forged.values()), [], []))
    for name, result in zip(forged, report["checkpoints"], strict=True):
        assert result["error"].startswith("note.Open"), f"Go accepted the {name} checkpoint"


def test_go_checks_our_inclusion_proofs_and_proves_the_same_paths(go_interop: Path) -> None:
    cases = [(index, size) for size in SIZES for index in sorted({0, size // 3, size // 2, size - 1})]
    report = _run(go_interop, _request([], [_inclusion(i, n) for i, n in cases], []))
    for (index, size), result in zip(cases, report["inclusion"], strict=True):
        assert result["error"] == "", f"Go rejected inclusion of {index} in {size}: {result['error']}"
        go_proof = [base64.b64decode(h) for h in result["go_proof"]]
        assert go_proof == inclusion_proof(index, size, LOG_TREE.read), f"ProveRecord({size}, {index})"


def test_go_rejects_forged_inclusion_proofs(go_interop: Path) -> None:
    proof = inclusion_proof(5, 257, LOG_TREE.read)
    flipped = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
    forged = [
        _inclusion(5, 257, proof=flipped),
        _inclusion(6, 257, proof=proof),
        _inclusion(5, 257, proof=proof[:-1]),
        _inclusion(5, 257, proof=[*proof, proof[0]]),
        _inclusion(5, 257, proof=proof, root=LOG_TREE.roots[256]),
    ]
    report = _run(go_interop, _request([], forged, []))
    for case, result in zip(forged, report["inclusion"], strict=True):
        assert result["error"], f"Go accepted a forged inclusion proof {case['index']}/{case['size']}"


def test_go_checks_our_consistency_proofs_and_proves_the_same(go_interop: Path) -> None:
    cases = [(old, new) for new in SIZES for old in SIZES if old <= new]
    report = _run(go_interop, _request([], [], [_consistency(m, n) for m, n in cases]))
    for (old, new), result in zip(cases, report["consistency"], strict=True):
        assert result["error"] == "", f"Go rejected consistency {old}->{new}: {result['error']}"
        go_proof = [base64.b64decode(h) for h in result["go_proof"]]
        assert go_proof == consistency_proof(old, new, LOG_TREE.read), f"ProveTree({new}, {old})"


def test_go_rejects_forged_consistency_proofs(go_interop: Path) -> None:
    proof = consistency_proof(7, 257, LOG_TREE.read)
    flipped = [*proof[:-1], proof[-1][:-1] + bytes([proof[-1][-1] ^ 1])]
    forged = [
        _consistency(7, 257, proof=flipped),
        _consistency(7, 257, proof=proof[1:]),
        _consistency(8, 257, proof=proof),
        _consistency(7, 256, proof=proof),
    ]
    report = _run(go_interop, _request([], [], forged))
    for case, result in zip(forged, report["consistency"], strict=True):
        assert result["error"], f"Go accepted a forged consistency proof {case['old']}->{case['new']}"
