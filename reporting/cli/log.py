"""``veritee log``: offline tools for the audit log; ``verify`` checks a whole store.

Exit codes (reporting/cli/exit_codes.py): 0 the store verifies, 1 tampering or a checkpoint that does
not verify, 2 bad input (a malformed vkey or checkpoint file, a bad URL), 3 environment (missing keys,
unreadable database).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from audit_log import DataDir, FileKeyStore, open_store, parse_vkey, verify_store
from reporting.cli.exit_codes import handled

app = typer.Typer(help="Audit log tools.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


@app.command("verify")
def verify(
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir",
            exists=True,
            file_okay=False,
            help="The gateway's data directory (keys/ and audit.db).",
        ),
    ],
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL; default: the SQLite store in the data directory."),
    ] = None,
    trusted_checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--trusted-checkpoint",
            exists=True,
            dir_okay=False,
            help="A signed checkpoint kept outside the store (repeatable); catches a rolled-back store.",
        ),
    ] = None,
    vkey: Annotated[
        list[str] | None,
        typer.Option(
            "--vkey", help="An extra checkpoint verifier key, e.g. an earlier log key (repeatable)."
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks instead of a one-line error.")
    ] = False,
) -> None:
    """Verify every entry, tile, checkpoint and the tree state of an audit log store, offline."""

    with handled(debug):
        layout = DataDir(data_dir)
        vkeys = [parse_vkey(text) for text in vkey or []]
        trusted = [path.read_bytes() for path in trusted_checkpoint or []]
        keys = FileKeyStore.load(layout.keys_dir)
        store = open_store(db or layout.store_url, readonly=True)
        try:
            with Progress(
                TextColumn("verifying entries"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err_console,
                transient=True,
            ) as progress:
                task = progress.add_task("entries", total=None)
                report = verify_store(
                    store,
                    keys,
                    vkeys=vkeys,
                    trusted_checkpoints=trusted,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                )
        finally:
            store.close()
        console.print(
            f"audit log OK: origin {report.origin}, {report.size} entries, "
            f"root {base64.b64encode(report.root).decode()}\n"
            f"  {report.tiles} tiles, {report.checkpoints} stored checkpoints, "
            f"{report.trusted_checkpoints} trusted checkpoints",
            highlight=False,
            markup=False,
        )
