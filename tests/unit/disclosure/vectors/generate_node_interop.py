"""Regenerate ``node-interop.json``: veritee's suites against independent JavaScript implementations.

Run from the repository root after ``npm ci --prefix tests/unit/disclosure/vectors/node-interop``::

    .venv/bin/python tests/unit/disclosure/vectors/generate_node_interop.py

For each suite it makes a fresh key pair, seals a 4,096-byte padded plaintext in Python, and asks
Node (libsodium-wrappers ``crypto_box_seal_open``; hpke-js with X-Wing, HKDF-SHA256, AES-256-GCM, the
private key imported as the raw X-Wing seed) to open it, failing unless Node gets the plaintext
back. Node then seals the same plaintext, and those ciphertexts are recorded so that
``test_disclosure_suites.py`` checks, offline and on every run, that veritee opens them.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

from disclosure import SuiteName
from disclosure.envelope import binding_info
from disclosure.statement import pad
from disclosure.suites import get_suite

HERE = Path(__file__).parent


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def main() -> None:
    plaintext = pad(b'{"payload":"not a real statement: interop vector","payloadType":"x","signatures":[]}')
    request = {}
    for suite in SuiteName:
        impl = get_suite(suite)
        private = impl.generate_private_key()
        public = impl.public_key(private)
        info = binding_info("0" * 32, "ncmec", f"{suite}:" + "0" * 32, suite)
        request[str(suite)] = {
            "public_key": b64(public),
            "private_key": b64(private),
            "info": b64(info),
            "plaintext": b64(plaintext),
            "python_ciphertext": b64(impl.seal(plaintext, public, info)),
        }
    node = subprocess.run(
        ["node", "interop.mjs"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=HERE / "node-interop",
        check=True,
    )
    answer = json.loads(node.stdout)
    vectors = {}
    for suite, sent in request.items():
        if answer[suite]["opened_python"] != sent["plaintext"]:
            raise SystemExit(f"Node did not open Python's {suite} ciphertext")
        vectors[suite] = {
            "public_key": sent["public_key"],
            "private_key": sent["private_key"],
            "info": sent["info"],
            "plaintext": sent["plaintext"],
            "node_ciphertext": answer[suite]["node_ciphertext"],
        }
    (HERE / "node-interop.json").write_text(json.dumps(vectors, indent=1, sort_keys=True) + "\n")
    print("Node opened both Python ciphertexts; wrote node-interop.json")


if __name__ == "__main__":
    main()
