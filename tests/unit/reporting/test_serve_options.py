"""``veritee serve --engine-option``: malformed or misplaced options are a one-line exit 2, before
anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reporting.cli import app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine-option", "enforce_eager"], "KEY=VALUE"),
        (["--engine-option", "enforce_eager=true"], "vllm backend only"),
        (["--backend", "vllm", "--model", "m", "--engine-option", "model=other"], "not a settable"),
    ],
)
def test_bad_engine_options_exit_2_before_the_gateway_starts(
    tmp_path: Path, args: list[str], message: str
) -> None:
    data_dir = tmp_path / "data"
    result = CliRunner().invoke(
        app, ["serve", "--data-dir", str(data_dir), *args], env={"COLUMNS": "200", "NO_COLOR": "1"}
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not data_dir.exists(), "the gateway started although its settings were refused"
