"""Train the shipped classifier artefacts from the labelled sets; deterministic, numpy only.

    python -m inference.classifiers.train [--data tests/data/classifier_sets.jsonl.gz]
                                          [--out inference/classifiers/data] [--embedding]

Reads the ``train`` and ``dev`` splits (``--splits train`` for model selection against dev);
the blind ``test`` split is never read (see ``tests/data/build_sets.py``):

1. normalise every text, match the lexicon, cut it into sentence/clause windows
   (:mod:`inference.classifiers.windows`) and extract each window's n-grams and concepts;
2. fit the window model by multiple-instance learning: every window of a benign text is a
   negative; a harmful text is positive through ONE window. Round 0 takes, for each short harmful
   text, the window that spans all of it; round 1 takes, for every harmful text, the window the
   round-0 model scores highest for its category (the request inside its wrapper, story or
   padding) (``ngram_model.npz``);
3. five folds grouped by paraphrase cluster give out-of-fold maxima over each text's windows, on
   which Platt scaling is fitted per category: the probability of the MAXIMUM is calibrated,
   long benign documents with many windows included;
4. pattern tiers become P(category | tier) with Laplace smoothing;
5. with ``--embedding`` (needs the ``ml`` extra) the MiniLM head is fitted the same way on the
   same windows (``embedding_head.npz``);
6. for every subset of layers, a non-negative logistic stacker is fitted per category on the
   out-of-fold probabilities, and block thresholds are read off the same out-of-fold
   confidences (:func:`choose_thresholds`) (``calibration.json``).

Artefacts are written byte-for-byte reproducibly: fixed seeds, sorted JSON, and ``.npz`` files
assembled here with a fixed timestamp (``numpy.savez`` would stamp the current time).
"""

from __future__ import annotations

import argparse
import gzip
import io
import itertools
import json
import sys
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inference.classifiers.categories import CATEGORIES
from inference.classifiers.combine import layer_set_key
from inference.classifiers.features import FEATURE_BITS, N_FEATURES
from inference.classifiers.fitting import fit_dense_logistic, fit_sparse_logistic, group_folds
from inference.classifiers.learned import NgramModel, WindowFeatures, sigmoid
from inference.classifiers.normalize import NormalizedText, normalize
from inference.classifiers.patterns import PatternMatch, PatternMatcher, parse_patterns
from inference.classifiers.windows import WINDOW_UNITS, Segmentation, segment

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT / "tests" / "data" / "classifier_sets.jsonl.gz"
DEFAULT_OUT = Path(__file__).resolve().parent / "data"
VERSION = "2026.11.7"
SEED = 20261101
FOLDS = 5
FIRE_PROBABILITY = 0.99
SINGLE_LAYER_CAP = 0.99
NGRAM_L2 = 1e-5  # chosen on the dev split (ADR 0002, decision 10)
NGRAM_EPOCHS = 200
NGRAM_LR = 0.1
NGRAM_LENGTH_FLOOR = 128  # n-grams; chosen on the dev split (ADR 0002, decision 14)
BENIGN_WEIGHT = 1.0
MULTI_UNIT_SAMPLE = 4
TARGET_FPR = 0.01  # benign items blocked under any category, on out-of-fold scores
#: The shipped artefacts learn from train and dev; dev served model selection first (its figures
#: in the ADR come from models fitted on train alone). The blind test split is never read.
TRAINING_SPLITS = ("train", "dev")

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Prepared:
    """One labelled text ready for window training."""

    normalized: NormalizedText
    match: PatternMatch
    segmentation: Segmentation
    features: WindowFeatures

    @property
    def bounds(self) -> list[tuple[int, int]]:
        return self.segmentation.bounds

    @property
    def whole(self) -> int | None:
        """The window spanning the whole text, when the text is short enough to have one."""
        full = (0, len(self.segmentation.units))
        ranges = self.segmentation.ranges
        return ranges.index(full) if full in ranges else None

    def window_text(self, window: int) -> str:
        start, end = self.bounds[window]
        return self.normalized.text[start:end]


def load_rows(path: Path, splits: Sequence[str] = ("train", "dev", "test")) -> list[dict[str, str]]:
    """The labelled rows of ``splits`` from a JSON-lines file, gzip-compressed if named ``.gz``."""
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line]
    return [row for row in rows if row["split"] in splits]


def targets_of(rows: Sequence[dict[str, str]]) -> F64:
    targets = np.zeros((len(rows), len(CATEGORIES)))
    for i, row in enumerate(rows):
        if row["label"] == "harmful":
            targets[i, [str(c) for c in CATEGORIES].index(row["category"])] = 1.0
    return targets


def prepare(texts: Sequence[str], matcher: PatternMatcher) -> list[Prepared]:
    prepared = []
    for text in texts:
        normalized = normalize(text)
        match = matcher.match(normalized)
        segmentation = segment(normalized)
        features = WindowFeatures.of(normalized.text, match, segmentation.bounds)
        prepared.append(Prepared(normalized, match, segmentation, features))
    return prepared


def labels_of(targets: F64) -> list[int]:
    """Category column of each harmful row, -1 for benign rows."""
    return [int(np.argmax(t)) if t.any() else -1 for t in targets]


def mil_windows(
    items: Sequence[Prepared], labels: Sequence[int], pick: Callable[[int, Prepared], int | None]
) -> list[tuple[int, int, int]]:
    """The training windows of multiple-instance learning, as ``(item, window, label)``.

    Every window of a benign text is a negative, except that a long text's multi-unit windows
    (which only repeat its units) are kept for one in MULTI_UNIT_SAMPLE texts by a hash of the
    window's text, bounding training cost; a harmful text contributes the one window ``pick``
    chooses (none when it returns None).
    """
    chosen: list[tuple[int, int, int]] = []
    for i, item in enumerate(items):
        if labels[i] >= 0:
            window = pick(i, item)
            if window is not None:
                chosen.append((i, window, labels[i]))
            continue
        long_text = len(item.segmentation.units) > WINDOW_UNITS
        for window, (first, stop) in enumerate(item.segmentation.ranges):
            sampled_out = zlib.crc32(item.window_text(window).encode("utf-8")) % MULTI_UNIT_SAMPLE
            if long_text and stop - first > 1 and sampled_out:
                continue
            chosen.append((i, window, -1))
    return chosen


def _fit_ngram_windows(
    items: Sequence[Prepared], chosen: Sequence[tuple[int, int, int]], vocabulary: tuple[str, ...]
) -> NgramModel:
    """Fit the n-gram model on unique windows (same text, concepts and label: one row)."""
    index = {name: k for k, name in enumerate(vocabulary)}
    keys: set[tuple[str, frozenset[str], int]] = set()
    rows: list[I64] = []
    columns: list[list[int]] = []
    labels: list[int] = []
    for i, window, label in chosen:
        names = items[i].features.concepts[window]
        key = (items[i].window_text(window), names, label)
        if key in keys:
            continue
        keys.add(key)
        rows.append(items[i].features.window_buckets(window))
        columns.append([index[name] for name in names])
        labels.append(label)
    dense = np.zeros((len(rows), len(vocabulary)))
    for row, names_at in enumerate(columns):
        dense[row, names_at] = 1.0
    targets = np.zeros((len(rows), len(CATEGORIES)))
    label_array = np.array(labels)
    targets[label_array >= 0, label_array[label_array >= 0]] = 1.0
    weights = np.where(label_array < 0, BENIGN_WEIGHT, 1.0)
    w, concept_w, bias = fit_sparse_logistic(
        rows, dense, targets, weights, N_FEATURES, NGRAM_L2, NGRAM_EPOCHS, NGRAM_LR, NGRAM_LENGTH_FLOOR
    )
    return NgramModel(
        VERSION,
        w.astype(np.float32),
        vocabulary,
        concept_w.astype(np.float32),
        bias.astype(np.float32),
        NGRAM_LENGTH_FLOOR,
    )


def fit_ngram(items: Sequence[Prepared], targets: F64, vocabulary: tuple[str, ...]) -> NgramModel:
    """Multiple-instance fit: benign windows negative, one positive window per harmful text
    (round 0: the whole short text; round 1: the window round 0 scores highest)."""
    labels = labels_of(targets)
    first = _fit_ngram_windows(items, mil_windows(items, labels, lambda _i, item: item.whole), vocabulary)

    def best(i: int, item: Prepared) -> int:
        return int(np.argmax(first.score(item.features)[:, labels[i]]))

    return _fit_ngram_windows(items, mil_windows(items, labels, best), vocabulary)


def window_maxima(model: NgramModel, items: Sequence[Prepared]) -> F64:
    return np.array([model.score(item.features).max(axis=0) for item in items])


def out_of_fold(
    n_rows: int, groups: Sequence[str], fit_and_score: Callable[[I64, I64], F64]
) -> F64:  # fmt: skip
    raw = np.zeros((n_rows, len(CATEGORIES)))
    for held_out in group_folds(groups, FOLDS, SEED):
        train_idx = np.setdiff1d(np.arange(n_rows), held_out)
        raw[held_out] = fit_and_score(train_idx, held_out)
    return raw


def fit_platt(raw: F64, targets: F64) -> dict[str, list[float]]:
    table: dict[str, list[float]] = {}
    for k, category in enumerate(CATEGORIES):
        weights, bias = fit_dense_logistic(
            raw[:, k : k + 1], targets[:, k : k + 1], np.ones(len(raw)), 0.0, 2000, 0.05
        )
        table[str(category)] = [float(weights[0, 0]), float(bias[0])]
    return table


def apply_platt(raw: F64, table: dict[str, list[float]]) -> F64:
    scale = np.array([table[str(c)][0] for c in CATEGORIES])
    offset = np.array([table[str(c)][1] for c in CATEGORIES])
    return sigmoid(raw * scale + offset)


def pattern_tiers(matches: Sequence[PatternMatch], targets: F64) -> tuple[F64, dict[str, list[float]]]:
    tiers = np.array([[m.tiers[c] for c in CATEGORIES] for m in matches], dtype=np.int64)
    table: dict[str, list[float]] = {}
    for k, category in enumerate(CATEGORIES):
        table[str(category)] = [
            float((targets[tiers[:, k] == tier, k].sum() + 1) / ((tiers[:, k] == tier).sum() + 2))
            for tier in range(3)
        ]
    probabilities = np.array(
        [[table[str(c)][tiers[i, k]] for k, c in enumerate(CATEGORIES)] for i in range(len(matches))]
    )
    return probabilities, table


def choose_thresholds(confidence: F64, targets: F64, target_fpr: float = TARGET_FPR) -> F64:
    """Per-category block thresholds from out-of-fold confidences.

    Starting from 0.98 everywhere, lower one category's threshold by 0.01 at a time, always the
    step that buys the most detection per unit of benign false-positive rate, as long as the
    benign texts blocked under ANY category stay within ``target_fpr``.
    """
    benign = targets.sum(axis=1) == 0
    grid = np.round(np.arange(0.98, 0.049, -0.01), 2)
    position = np.zeros(len(CATEGORIES), dtype=np.int64)

    def fpr(at: I64) -> float:
        return float((confidence[benign] >= grid[at]).any(axis=1).mean()) if benign.any() else 0.0

    def detection(k: int, step: int) -> float:
        harmful = targets[:, k] == 1
        return float((confidence[harmful, k] >= grid[step]).mean()) if harmful.any() else 1.0

    while True:
        steps: list[tuple[float, float, int]] = []
        for k in range(len(CATEGORIES)):
            if position[k] + 1 == len(grid):
                continue
            trial = position.copy()
            trial[k] += 1
            if fpr(trial) > target_fpr:
                continue
            now = detection(k, int(position[k]))
            gain = detection(k, int(trial[k])) - now
            steps.append((gain / (fpr(trial) - fpr(position) + 1e-3), -now, k))
        if not steps:
            return np.asarray(grid[position], dtype=np.float64)
        position[max(steps)[2]] += 1


def fit_stackers(layer_probabilities: dict[str, F64], targets: F64) -> dict[str, object]:
    stackers: dict[str, object] = {}
    names = sorted(layer_probabilities)
    for size in range(1, len(names) + 1):
        for subset in itertools.combinations(names, size):
            entry: dict[str, dict[str, object]] = {}
            confidence = np.zeros_like(targets)
            for k, category in enumerate(CATEGORIES):
                p = np.stack([layer_probabilities[n][:, k] for n in subset], axis=1)
                p = np.clip(p, 1e-6, 1 - 1e-6)
                features = np.log(p / (1 - p))
                weights, bias = fit_dense_logistic(
                    features, targets[:, k : k + 1], np.ones(len(p)), 1e-3, 3000, 0.05, True
                )
                confidence[:, k] = 1.0 / (1.0 + np.exp(-(features @ weights[:, 0] + bias[0])))
                entry[str(category)] = {
                    "bias": round(float(bias[0]), 6),
                    "weights": {n: round(float(weights[j, 0]), 6) for j, n in enumerate(subset)},
                }
            for k, threshold in enumerate(choose_thresholds(confidence, targets)):
                entry[str(CATEGORIES[k])]["block_threshold"] = round(float(threshold), 3)
            stackers[layer_set_key(subset)] = entry
    return stackers


def write_npz(path: Path, arrays: dict[str, npt.NDArray[np.generic]]) -> None:
    """A ``.npz`` (zip of ``.npy``) with a fixed timestamp, so the bytes are reproducible."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    path.write_bytes(buffer.getvalue())


def meta_array(artefact_id: str, version: str, **extra: object) -> npt.NDArray[np.uint8]:
    """The ``meta`` member of an artefact ``.npz``: id, version, categories and extras, as JSON."""
    meta = {"id": artefact_id, "version": version, "categories": [str(c) for c in CATEGORIES]}
    return np.frombuffer(json.dumps({**meta, **extra}, sort_keys=True).encode(), dtype=np.uint8)


def train(
    data: Path, out: Path, with_embedding: bool, splits: Sequence[str] = TRAINING_SPLITS
) -> dict[str, object]:
    rows = load_rows(data, splits)
    _, matcher = parse_patterns((out / "patterns.json").read_bytes())
    items = prepare([row["text"] for row in rows], matcher)
    vocabulary = matcher.concept_vocabulary
    groups = [row["cluster"] for row in rows]
    targets = targets_of(rows)

    def ngram_fold(train_idx: I64, held: I64) -> F64:
        model = fit_ngram([items[i] for i in train_idx], targets[train_idx], vocabulary)
        return window_maxima(model, [items[i] for i in held])

    ngram_oof = out_of_fold(len(rows), groups, ngram_fold)
    platt = {"learned": fit_platt(ngram_oof, targets)}
    layer_probabilities = {"learned": apply_platt(ngram_oof, platt["learned"])}
    final = fit_ngram(items, targets, vocabulary)
    write_npz(
        out / "ngram_model.npz",
        {
            "meta": meta_array(
                "ngram_model",
                VERSION,
                feature_bits=FEATURE_BITS,
                length_floor=final.length_floor,
                concepts=list(vocabulary),
            ),
            "weights": final.weights,
            "concept_weights": final.concept_weights,
            "bias": final.bias,
        },
    )
    layer_probabilities["patterns"], tiers = pattern_tiers([item.match for item in items], targets)
    if with_embedding:
        from inference.classifiers.embedding_training import train_embedding_head

        platt["embedding"], layer_probabilities["embedding"] = train_embedding_head(
            items, targets, groups, out, VERSION
        )
    calibration = {
        "id": "calibration",
        "version": VERSION,
        "fire_probability": FIRE_PROBABILITY,
        "single_layer_cap": SINGLE_LAYER_CAP,
        "pattern_tiers": tiers,
        "platt": platt,
        "stackers": fit_stackers(layer_probabilities, targets),
    }
    (out / "calibration.json").write_text(
        json.dumps(calibration, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    return {"rows": len(rows), "oof": {k: v.tolist() for k, v in layer_probabilities.items()}}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--embedding", action="store_true", help="also train the MiniLM head")
    parser.add_argument(
        "--splits", default=",".join(TRAINING_SPLITS), help="comma-separated splits to train on"
    )
    args = parser.parse_args(argv)
    summary = train(args.data, args.out, args.embedding, tuple(args.splits.split(",")))
    print(f"trained on {summary['rows']} rows; artefacts in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
