"""The one loader for ``../shared/vectors`` (importable from any test as ``shared_vectors``).

A missing vectors folder fails the run; it never skips.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def vectors_dir() -> Path:
    root = Path(os.environ.get("VERITEE_VECTORS", REPO_ROOT.parent / "shared" / "vectors"))
    if not root.is_dir():
        pytest.fail(f"test vectors not found at {root} (set VERITEE_VECTORS)", pytrace=False)
    return root


def load_vector_json(relative: str) -> object:
    return json.loads((vectors_dir() / relative).read_text(encoding="utf-8"))
