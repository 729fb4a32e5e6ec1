"""The labelled sets: size, split by paraphrase cluster, coverage, and reproducibility."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

DATA = Path(__file__).resolve().parents[4] / "tests" / "data"


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_sets", DATA / "build_sets.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_sets", module)
    spec.loader.exec_module(module)
    return module


def _rows() -> list[dict[str, str]]:
    text = (DATA / "classifier_sets.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_committed_sets_are_what_the_builder_produces() -> None:
    builder = _builder()
    assert builder.render(builder.build()) == (DATA / "classifier_sets.jsonl").read_text(encoding="utf-8")


def test_no_paraphrase_cluster_straddles_train_and_test() -> None:
    splits: dict[str, set[str]] = {}
    for row in _rows():
        splits.setdefault(row["cluster"], set()).add(row["split"])
    assert all(len(s) == 1 for s in splits.values())


def test_hundreds_of_items_per_category_and_both_splits_everywhere() -> None:
    counts = Counter((row["category"] or "benign", row["split"]) for row in _rows())
    for label in ("csam", "bio", "chem", "cyber", "benign"):
        assert counts[(label, "train")] + counts[(label, "test")] >= 300
        assert counts[(label, "test")] >= 75


def test_every_obfuscation_language_and_framing_is_represented() -> None:
    variants = Counter(row["variant"] for row in _rows() if row["label"] == "harmful")
    for variant in ("template", "full", "wrapper", "lang-fr", "lang-es", "lang-de", "lang-zh"):
        assert variants[variant] >= 20
    for kind in ("leet", "zero-width", "homoglyph", "spacing", "fullwidth", "math", "combining", "bidi"):
        assert variants[f"obf-{kind}"] >= 10


def test_labels_are_consistent() -> None:
    for row in _rows():
        if row["label"] == "harmful":
            assert row["category"] in ("csam", "bio", "chem", "cyber")
        else:
            assert row["label"] == "benign"
            assert row["category"] is None


def test_test_templates_and_wrappers_never_appear_in_train() -> None:
    builder = _builder()
    assert not set(builder.TEST_TEMPLATES) & set(builder.TRAIN_TEMPLATES)
    assert not set(builder.TEST_WRAPPERS) & set(builder.TRAIN_WRAPPERS)
