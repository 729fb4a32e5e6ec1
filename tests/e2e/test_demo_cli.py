"""README's main job, as a new user runs it: ``veritee demo`` must pass every one of its checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_runs_every_check_and_keeps_its_data_dir_when_asked(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "reporting.cli", "demo", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    for step in (
        "1. Attest the gateway",
        "2. Benign requests are answered",
        "3. Harmful requests get HTTP 451",
        "4. A mandatory disclosure",
        "5. A signed verdict and its inclusion proof",
        "audit log verified",
        "demo complete",
    ):
        assert step in result.stdout
    assert (data_dir / "audit.db").exists()
    assert (data_dir / "policy.toml").exists()
    # A second run resumes the same log (restart) and still verifies end to end.
    again = subprocess.run(
        [sys.executable, "-m", "reporting.cli", "demo", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]


def test_demo_help_explains_itself() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reporting.cli", "demo", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "disclosure" in result.stdout
