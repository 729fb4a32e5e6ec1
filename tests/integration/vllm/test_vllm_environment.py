"""Run the real-vLLM tests from the main suite, in the vLLM environment that `.ci/vllm-env.sh` builds.

vLLM cannot share the project's environment (it pins its own torch build), so this test runs
``$VERITEE_VLLM_PYTHON -m pytest -m vllm tests/integration/vllm`` as a subprocess and fails with
that run's output if any of those tests fails. Without ``VERITEE_VLLM_PYTHON`` it skips on a
developer's machine and fails under CI.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from optional_tools import require_tool

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_the_vllm_suite_passes_in_its_own_environment() -> None:
    python = os.environ.get("VERITEE_VLLM_PYTHON", "")
    require_tool(
        bool(python) and Path(python).exists(),
        "the real-vLLM tests need the vLLM environment",
        'build it with `export VERITEE_VLLM_PYTHON="$(bash .ci/vllm-env.sh)"`',
    )
    result = subprocess.run(
        [python, "-m", "pytest", "-m", "vllm", "-q", "-p", "no:cacheprovider", "tests/integration/vllm"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, f"vLLM tests failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    assert " passed" in result.stdout
