"""Shared fixtures. Test vectors are read from ../shared/vectors through :mod:`shared_vectors` only."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_vectors import vectors_dir


@pytest.fixture(scope="session")
def vectors() -> Path:
    return vectors_dir()
