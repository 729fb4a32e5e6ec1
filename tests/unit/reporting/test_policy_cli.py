"""``veritee policy check``: what a policy enforces, or one clear line naming what is wrong."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from inference.demo_authorities import materialise_demo_policy
from inference.policy import shipped_policy_bytes
from reporting.cli import app

runner = CliRunner()


def _check(policy: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["policy", "check", str(policy)])
    return result.exit_code, " ".join(result.output.split())  # Undo rich's wrapping at 80 columns.


def test_a_policy_with_its_authorities_passes_and_shows_what_it_enforces(tmp_path: Path) -> None:
    code, output = _check(materialise_demo_policy(tmp_path))
    assert code == 0, output
    assert "policy OK" in output
    assert "csam: block at >= 0.5, disclose to ncmec at >= 0.999" in output


def test_the_shipped_policy_alone_names_the_missing_authority_table_literally(tmp_path: Path) -> None:
    # The error quotes TOML syntax; the console must print it as written, not read it as markup.
    policy = tmp_path / "policy.toml"
    policy.write_bytes(shipped_policy_bytes())
    code, output = _check(policy)
    assert code == 2
    assert "unknown authority ncmec: add an [[authorities]] table with id = 'ncmec'" in output
    assert "Traceback" not in output
