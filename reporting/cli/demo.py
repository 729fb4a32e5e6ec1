"""``veritee demo``: run the whole product once, on the embedded defaults."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from reporting.cli.exit_codes import handled
from reporting.demo import run_demo


def demo(
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the demo's keys, audit log and demo authorities here (default: a temp dir)."),
    ] = None,
    keep: Annotated[bool, typer.Option(help="Keep the temporary data dir and print where it is.")] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks instead of one-line errors.")] = False,
) -> None:
    """Start a simulated gateway, send benign and harmful requests, seal and open a disclosure,
    verify a signed verdict, its inclusion proof and the whole audit store."""
    console = Console(soft_wrap=True)
    logging.basicConfig(level=logging.ERROR)
    directory = data_dir or Path(tempfile.mkdtemp(prefix="veritee-demo-"))
    try:
        with handled(debug):
            run_demo(console, directory)
    finally:
        if data_dir is None and not keep:
            shutil.rmtree(directory, ignore_errors=True)
        elif data_dir is None:
            console.print(f"demo data kept in {directory}")
