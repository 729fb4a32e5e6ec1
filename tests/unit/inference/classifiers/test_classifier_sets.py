"""The labelled sets: size, split by paraphrase cluster, coverage, and reproducibility."""

from __future__ import annotations

import gzip
import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

from inference.classifiers.train import load_rows

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
    return load_rows(DATA / "classifier_sets.jsonl.gz")


def test_committed_sets_are_what_the_builder_produces() -> None:
    builder = _builder()
    committed = gzip.decompress((DATA / "classifier_sets.jsonl.gz").read_bytes()).decode("utf-8")
    assert builder.render(builder.build()) == committed


def test_no_paraphrase_cluster_straddles_train_and_test() -> None:
    splits: dict[str, set[str]] = {}
    for row in _rows():
        splits.setdefault(row["cluster"], set()).add(row["split"])
    assert all(len(s) == 1 for s in splits.values())


def test_hundreds_of_items_per_category_and_every_split_everywhere() -> None:
    counts = Counter((row["category"] or "benign", row["split"]) for row in _rows())
    for label in ("csam", "bio", "chem", "cyber", "benign"):
        assert counts[(label, "train")] >= 400
        assert counts[(label, "dev")] >= 100
        assert counts[(label, "test")] >= 150


def test_the_blind_test_split_is_exactly_the_blind_seed_files() -> None:
    for row in _rows():
        if row["variant"] != "long-benign":
            assert (row["split"] == "test") == row["source"].startswith("blind/")
    long_documents = [row for row in _rows() if row["variant"] == "long-benign"]
    assert {row["split"] for row in long_documents} == {"train", "dev", "test"}


def test_every_obfuscation_language_framing_and_dilution_is_represented() -> None:
    variants = Counter((row["variant"], row["split"]) for row in _rows() if row["label"] == "harmful")
    for variant in ("template", "full", "wrapper", "lang-fr", "lang-es", "lang-de", "lang-zh"):
        assert variants[(variant, "train")] >= 20
    for kind in ("leet", "zero-width", "homoglyph", "spacing", "fullwidth", "math", "combining", "bidi"):
        assert variants[(f"obf-{kind}", "train")] >= 10
    for dilution in ("prose-around", "prose-before", "story", "padded-4kb"):
        for split in ("train", "dev", "test"):
            assert variants[(dilution, split)] >= 15


def test_padded_items_really_are_about_four_kilobytes() -> None:
    padded = [row["text"] for row in _rows() if row["variant"] == "padded-4kb"]
    assert min(len(text) for text in padded) >= 4096


def test_labels_are_consistent() -> None:
    for row in _rows():
        if row["label"] == "harmful":
            assert row["category"] in ("csam", "bio", "chem", "cyber")
        else:
            assert row["label"] == "benign"
            assert row["category"] is None


def test_no_template_wrapper_story_or_defence_framing_is_shared_between_splits() -> None:
    builder = _builder()
    for table in (builder.TEMPLATES, builder.WRAPPERS, builder.STORIES, builder.DEFENCE):
        for first, second in (("train", "dev"), ("train", "test"), ("dev", "test")):
            assert not set(table[first]) & set(table[second])


def test_prose_paragraphs_never_cross_splits() -> None:
    by_split: dict[str, set[str]] = {}
    for row in _rows():
        if row["variant"] == "prose":
            by_split.setdefault(row["split"], set()).add(row["text"])
    for row in _rows():
        if row["variant"] in ("prose-around", "prose-before", "story", "padded-4kb", "long-benign"):
            others = set().union(*(texts for split, texts in by_split.items() if split != row["split"]))
            assert not any(paragraph in row["text"] for paragraph in others)
