"""Tests that need a tool this machine may lack (Go, the vLLM environment).

Under CI (``CI=true``) a missing tool fails the run: `.ci/run` installs every one of them, so a
skip there would hide a broken setup. On a developer's machine the test skips and says what to
install.
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_tool(available: bool, reason: str, install: str) -> None:
    if available:
        return
    message = f"{reason}; {install}"
    if in_ci():
        pytest.fail(f"{message} (CI must provide it)", pytrace=False)
    pytest.skip(message)
