"""Demo authorities for simulated mode: key pairs generated in the data dir, never shipped.

``veritee serve`` without ``--policy`` (simulated only) writes ``DATA_DIR/policy.toml``: the shipped
policy plus one ``[[authorities]]`` table per demo authority, whose private keys live in
``DATA_DIR/demo-authorities/<id>.key`` (0600) so the demo can open what it sealed. Production never
gets here: it needs an explicit policy naming the real authorities' keys.
"""

from __future__ import annotations

import os
from pathlib import Path

from disclosure import AuthorityPrivateKey, SuiteName, policy_entry_toml
from inference.policy import shipped_policy_bytes

DEMO_AUTHORITIES: tuple[tuple[str, str, SuiteName], ...] = (
    ("ncmec", "NCMEC CyberTipline (DEMO KEY, simulated mode)", SuiteName("hpke-xwing")),
    ("fbi-wmd", "FBI WMD Directorate (DEMO KEY, simulated mode)", SuiteName("hpke-xwing")),
    ("cisa", "CISA (DEMO KEY, simulated mode)", SuiteName("x25519-sealedbox")),
)


def demo_key_path(data_dir: Path, authority: str) -> Path:
    return data_dir / "demo-authorities" / f"{authority}.key"


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _demo_key(data_dir: Path, authority: str, suite: SuiteName) -> AuthorityPrivateKey:
    path = demo_key_path(data_dir, authority)
    if path.exists():
        return AuthorityPrivateKey.from_file_bytes(path.read_bytes())
    key = AuthorityPrivateKey.generate(authority, suite)
    _write_private(path, key.to_file_bytes())
    return key


def materialise_demo_policy(data_dir: Path) -> Path:
    """Write (or refresh) ``DATA_DIR/policy.toml`` from the shipped policy and the demo keys."""
    tables = [
        policy_entry_toml(_demo_key(data_dir, authority, suite).public_key, authority, name)
        for authority, name, suite in DEMO_AUTHORITIES
    ]
    text = shipped_policy_bytes() + b"\n" + "\n".join(tables).encode()
    path = data_dir / "policy.toml"
    if not path.exists() or path.read_bytes() != text:
        path.write_bytes(text)
    return path
