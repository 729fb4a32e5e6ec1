"""``veritee policy``: check a policy file, pin the classifier manifest in it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from inference import Policy, pin_installed_manifest
from reporting.cli.exit_codes import handled

app = typer.Typer(
    help="Check policy files and pin the classifier manifest they attest.", no_args_is_help=True
)
console = Console(soft_wrap=True)

PolicyFile = Annotated[Path, typer.Argument(help="A policy.toml file.", exists=True, dir_okay=False)]
Debug = Annotated[bool, typer.Option(help="Show tracebacks instead of one-line errors.")]


@app.command()
def check(policy: PolicyFile, debug: Debug = False) -> None:
    """Validate a policy (schema, thresholds, authorities and their keys) and print its hash."""
    with handled(debug):
        loaded = Policy.load(policy)
        disclosure = loaded.disclosure_policy()
        console.print(f"policy OK: version {loaded.version}, sha256 {loaded.sha256}")
        for name, rule in sorted(loaded.model.categories.items()):
            target = (
                f", disclose to {rule.authority} at >= {rule.disclosure_threshold}" if rule.authority else ""
            )
            console.print(f"  {name}: {rule.action} at >= {rule.threshold}{target}")
        console.print(f"  authorities: {', '.join(disclosure.authority_key_ids) or 'none'}")


@app.command("pin-manifest")
def pin(policy: PolicyFile, debug: Debug = False) -> None:
    """Rewrite the policy's \\[\\[classifiers.manifest]] tables from the installed classifier artefacts."""
    with handled(debug):
        pinned, count = pin_installed_manifest(policy.read_text(encoding="utf-8"))
        policy.write_text(pinned, encoding="utf-8")
        console.print(f"pinned {count} classifier artefacts in {policy}; its sha256 changed: re-attest")
