"""The ``veritee`` command line: one typer app, one module per command group."""

from __future__ import annotations

import typer

from reporting.cli import attest, authority, demo, policy, serve
from reporting.cli import log as log_commands

app = typer.Typer(
    name="veritee",
    help="veritee: a fail-closed safety gateway and verifiable audit log for confidential LLM inference.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)
app.add_typer(log_commands.app, name="log")
app.add_typer(authority.app, name="authority")
app.add_typer(attest.app, name="attest")
app.add_typer(policy.app, name="policy")


def main() -> None:
    app()
