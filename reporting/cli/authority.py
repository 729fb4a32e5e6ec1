"""``veritee authority keygen`` and ``veritee authority open``: the authority's offline tools.

docs/formats.md ("Disclosures") and docs/adr/0003-disclosure-sealing.md. The decisions live in
``disclosure.check_disclosure``; this adapter reads files, writes the key and state files, and prints
nothing on standard output that did not verify.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console

from audit_log import Mode, NoteVerifier
from disclosure import (
    AuthorityPrivateKey,
    DisclosureFormatError,
    ForgedDisclosure,
    KeyFileError,
    SequenceState,
    SuiteName,
    check_disclosure,
    format_state,
    parse_state,
    policy_entry_toml,
)
from inference.attestation import (
    AttestationDocument,
    Collateral,
    PolicyFile,
    ReferenceValues,
    SimulatedAttestationRejected,
    VerifiedAttestation,
)
from reporting.cli.attest import build_verifier, parse_time
from reporting.cli.exit_codes import handled

app = typer.Typer(
    help="Authority tools, offline: make a disclosure key pair; open and verify sealed disclosures.",
    no_args_is_help=True,
)
console = Console(stderr=True)
#: No input file of these commands is legitimately larger (an envelope is about 7 KB).
MAX_INPUT_BYTES = 1 << 20
SIMULATED_WARNING = "SIMULATED DISCLOSURE: signed by a deployment WITHOUT a TEE. Not evidence of anything."


def _read(path: Path) -> bytes:
    """Read an input file, refusing one too large to be what it claims to be."""
    with path.open("rb") as handle:
        data = handle.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise DisclosureFormatError(f"{path} is larger than {MAX_INPUT_BYTES} bytes")
    return data


def _read_passphrase(path: Path | None) -> bytes | None:
    if path is None:
        return None
    passphrase = _read(path).removesuffix(b"\n").removesuffix(b"\r")
    if not passphrase:
        raise KeyFileError(f"passphrase file {path} is empty")
    return passphrase


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode``; never overwrite an existing key."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists; refusing to overwrite it") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _missing(states: dict[str, SequenceState] | None, stream: str, last_seq: int | None, seq: int) -> int:
    if last_seq is not None:
        return max(0, seq - last_seq - 1)
    return len(states[stream].missing) if states is not None else 0


@app.command()
def keygen(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for the key files (created 0700 if missing).")
    ],
    authority_id: Annotated[
        str, typer.Option("--id", help="Authority id as the policy names it, e.g. ncmec.")
    ],
    suite: Annotated[
        SuiteName, typer.Option(help="hpke-xwing (post-quantum hybrid) or x25519-sealedbox.")
    ] = SuiteName.HPKE_XWING,
    name: Annotated[str | None, typer.Option(help="Display name for policy.toml (default: the id).")] = None,
    passphrase_file: Annotated[
        Path | None, typer.Option(help="Encrypt the private key under this file's passphrase (scrypt).")
    ] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Write <id>.key (private, 0600) and <id>.pub.toml (the policy.toml entry) into --out."""
    with handled(debug):
        passphrase = _read_passphrase(passphrase_file)
        key = AuthorityPrivateKey.generate(authority_id, suite)
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        private_path, public_path = out / f"{authority_id}.key", out / f"{authority_id}.pub.toml"
        entry = policy_entry_toml(key.public_key, authority_id, name or authority_id).encode()
        _write_new(private_path, key.to_file_bytes(passphrase), 0o600)
        _write_new(public_path, entry, 0o644)
        console.print(
            f"private key  {private_path} ({'passphrase-encrypted' if passphrase else 'unencrypted'})"
        )
        console.print(f"public key   {public_path} (paste into policy.toml)")
        console.print(f"key id       {key.key_id}")


@app.command("open")
def open_command(
    envelope: Annotated[Path, typer.Argument(help="The disclosure envelope (JSON) as delivered.")],
    key: Annotated[Path, typer.Option("--key", help="This authority's private key file.")],
    tee_key: Annotated[
        Path | None,
        typer.Option("--tee-key", help="File with the TEE log's verifier key (C2SP vkey), as attested."),
    ] = None,
    attestation: Annotated[
        Path | None,
        typer.Option(
            help="The deployment's start-up attestation (GET /v1/attestation/startup): verified first, "
            "its log key then verifies the disclosure, which must name this very attestation."
        ),
    ] = None,
    reference_values: Annotated[
        Path | None, typer.Option(help="Accepted TD measurements (JSON), to verify --attestation.")
    ] = None,
    collateral: Annotated[
        Path | None, typer.Option(help="Intel PCS collateral (dcap-qvl JSON) for --attestation.")
    ] = None,
    at: Annotated[
        str | None, typer.Option(help="Verify --attestation as of this RFC 3339 time instead of now.")
    ] = None,
    passphrase_file: Annotated[
        Path | None, typer.Option(help="Passphrase for an encrypted key file.")
    ] = None,
    proof: Annotated[
        Path | None, typer.Option(help="Receipt (c2sp.org/tlog-proof@v1) for the disclosure's log entry.")
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option(help="Signed checkpoint you trust; the receipt must be against it.")
    ] = None,
    origin: Annotated[str | None, typer.Option(help="Log origin (default: the verifier key's name).")] = None,
    state: Annotated[
        Path | None, typer.Option(help="Sequence state file (created if missing, updated on success).")
    ] = None,
    last_seq: Annotated[
        int | None, typer.Option(min=0, help="Last sequence number opened (instead of --state).")
    ] = None,
    allow_gap: Annotated[
        bool, typer.Option(help="Open even though earlier sequence numbers are missing.")
    ] = False,
    allow_simulated: Annotated[
        bool, typer.Option(help="Accept a disclosure from a simulated (non-TEE) deployment.")
    ] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Decrypt and verify a disclosure; print its signed statement as JSON on standard output."""
    with handled(debug):
        if (tee_key is None) == (attestation is None):
            raise DisclosureFormatError("give exactly one of --tee-key and --attestation")
        authority_key = AuthorityPrivateKey.from_file_bytes(_read(key), _read_passphrase(passphrase_file))
        states = None
        if state is not None:
            states = parse_state(_read(state)) if state.exists() else {}
        verified = None
        if attestation is not None:
            verified = _verify_attestation(attestation, reference_values, collateral, at, allow_simulated)
            claims = verified.claims
            public_key = Ed25519PublicKey.from_public_bytes(claims.log_signing_key)
            vkey = NoteVerifier(claims.log_origin, public_key).vkey
        else:
            assert tee_key is not None
            try:
                vkey = _read(tee_key).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DisclosureFormatError(f"{tee_key} is not UTF-8 text") from exc
        result = check_disclosure(
            _read(envelope),
            authority_key,
            vkey,
            allow_simulated=allow_simulated,
            receipt=_read(proof) if proof is not None else None,
            pinned_checkpoint=_read(checkpoint) if checkpoint is not None else None,
            origin=origin,
            sequence_states=states,
            last_seq=last_seq,
            allow_gap=allow_gap,
        )
        statement = result.opened.statement
        if verified is not None and statement.attestation_sha256 != verified.attestation_sha256.hex():
            raise ForgedDisclosure("the disclosure names another attestation than the one verified")
        if state is not None and result.sequence_states is not None:
            _write_atomically(state, format_state(result.sequence_states))
        if statement.mode is Mode.SIMULATED:
            console.print(f"[bold red]{SIMULATED_WARNING}[/]", highlight=False)
        if verified is not None:
            console.print(
                f"attested     {verified.mode.value} deployment, attestation sha256 "
                f"{verified.attestation_sha256.hex()}",
                highlight=False,
            )
        console.print(f"verified     signature by {result.opened.signer_key_id}", highlight=False)
        console.print(f"bound        {statement.disclosure_id} to {statement.authority} seq {statement.seq}")
        if result.checkpoint is not None:
            console.print(
                f"in log       {result.checkpoint.origin} at size {result.checkpoint.size}", highlight=False
            )
        else:
            console.print("in log       NOT CHECKED (no --proof)")
        if last_seq is None and state is None:
            console.print("sequence     NOT CHECKED (no --state or --last-seq)")
        else:
            console.print(f"sequence     {statement.seq} accepted in {result.stream}", highlight=False)
        missing = _missing(result.sequence_states, result.stream, last_seq, statement.seq)
        if missing:
            console.print(f"[bold yellow]GAP: {missing} earlier disclosure(s) not yet received[/]")
        typer.echo(result.opened.statement_json.decode("utf-8"))


def _verify_attestation(
    document: Path,
    reference_values: Path | None,
    collateral: Path | None,
    at: str | None,
    allow_simulated: bool,
) -> VerifiedAttestation:
    """Verify an archived start-up attestation: its own nonce, at ``at`` (default now)."""
    parsed = AttestationDocument.from_json(_read(document))
    if parsed.mode is Mode.SIMULATED and not allow_simulated:
        raise SimulatedAttestationRejected(
            "the attestation is SIMULATED (no TEE behind it); --allow-simulated accepts it for demos"
        )
    verifier = build_verifier(
        PolicyFile(),
        ReferenceValues.from_json(_read(reference_values)) if reference_values else None,
        Collateral.from_json(_read(collateral)) if collateral else None,
        allow_simulated,
    )
    moment = parse_time(at) if at is not None else datetime.datetime.now(datetime.UTC)
    return verifier.verify(parsed, parsed.nonce, moment)
