"""Train the shipped classifier artefacts from the labelled sets; deterministic, numpy only.

    python -m inference.classifiers.train [--data tests/data/classifier_sets.jsonl]
                                          [--out inference/classifiers/data] [--embedding]

Uses the ``train`` split only (the ``test`` split is for ``benchmarks/classifiers.py``):

1. normalise every text, hash its n-grams, fit the one-vs-rest linear model (``ngram_model.npz``);
2. five folds grouped by paraphrase cluster give out-of-fold scores, on which Platt scaling is
   fitted per category (so probabilities are calibrated on text the model did not see);
3. pattern tiers become P(category | tier) with Laplace smoothing;
4. with ``--embedding`` (needs the ``ml`` extra) the same is done for the MiniLM head
   (``embedding_head.npz``);
5. for every subset of layers, a non-negative logistic stacker is fitted per category on the
   out-of-fold probabilities, and a recommended block threshold is read off the same out-of-fold
   confidences: the lowest (at least 0.5) that at most 0.25 % of the benign items reach, so four
   categories together stay under a 1 % benign false-positive rate (``calibration.json``).

Artefacts are written byte-for-byte reproducibly: fixed seeds, sorted JSON, and ``.npz`` files
assembled here with a fixed timestamp (``numpy.savez`` would stamp the current time).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import sys
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inference.classifiers.categories import CATEGORIES
from inference.classifiers.combine import layer_set_key
from inference.classifiers.features import FEATURE_BITS, N_FEATURES, featurize
from inference.classifiers.fitting import fit_dense_logistic, fit_sparse_logistic, group_folds
from inference.classifiers.learned import NgramModel, sigmoid
from inference.classifiers.normalize import normalize
from inference.classifiers.patterns import PatternMatch, parse_patterns

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT / "tests" / "data" / "classifier_sets.jsonl"
DEFAULT_OUT = Path(__file__).resolve().parent / "data"
VERSION = "2026.11.4"
SEED = 20261101
FOLDS = 5
FIRE_PROBABILITY = 0.99
SINGLE_LAYER_CAP = 0.99
NGRAM_L2 = 1e-3
NGRAM_EPOCHS = 250
NGRAM_LR = 0.1
BENIGN_WEIGHT = 2.0
NEGATIVE_RATE = 0.0025  # of benign items per category, so four stay under a 1 % benign FPR
HEAD_L2 = 1e-4
HEAD_EPOCHS = 600
HEAD_LR = 0.05

F64 = npt.NDArray[np.float64]


def load_rows(path: Path, split: str) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [row for row in rows if row["split"] == split]


def targets_of(rows: Sequence[dict[str, str]]) -> F64:
    targets = np.zeros((len(rows), len(CATEGORIES)))
    for i, row in enumerate(rows):
        if row["label"] == "harmful":
            targets[i, [str(c) for c in CATEGORIES].index(row["category"])] = 1.0
    return targets


def _weights_of(targets: F64) -> F64:
    return np.where(targets.sum(axis=1) > 0, 1.0, BENIGN_WEIGHT)


def fit_ngram(
    texts: Sequence[str], concepts: Sequence[frozenset[str]], vocabulary: tuple[str, ...],
    targets: F64,
) -> NgramModel:  # fmt: skip
    rows = [featurize(text)[0] for text in texts]
    index = {name: i for i, name in enumerate(vocabulary)}
    dense = np.zeros((len(texts), len(vocabulary)))
    for i, names in enumerate(concepts):
        dense[i, [index[name] for name in names]] = 1.0
    weights, concept_weights, bias = fit_sparse_logistic(
        rows, dense, targets, _weights_of(targets), N_FEATURES, NGRAM_L2, NGRAM_EPOCHS, NGRAM_LR
    )
    return NgramModel(
        VERSION,
        weights.astype(np.float32),
        vocabulary,
        concept_weights.astype(np.float32),
        bias.astype(np.float32),
    )


def ngram_raw(model: NgramModel, texts: Sequence[str], matches: Sequence[PatternMatch]) -> F64:
    return np.array([model.window_scores(t, m)[0].max(axis=0) for t, m in zip(texts, matches, strict=True)])


def out_of_fold(
    n_rows: int,
    groups: Sequence[str],
    fit_and_score: Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], F64],
) -> F64:
    raw = np.zeros((n_rows, len(CATEGORIES)))
    folds = group_folds(groups, FOLDS, SEED)
    for held_out in folds:
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


def fit_stackers(layer_probabilities: dict[str, F64], targets: F64) -> dict[str, object]:
    stackers: dict[str, object] = {}
    names = sorted(layer_probabilities)
    for size in range(1, len(names) + 1):
        for subset in itertools.combinations(names, size):
            entry: dict[str, object] = {}
            for k, category in enumerate(CATEGORIES):
                p = np.stack([layer_probabilities[n][:, k] for n in subset], axis=1)
                p = np.clip(p, 1e-6, 1 - 1e-6)
                features = np.log(p / (1 - p))
                weights, bias = fit_dense_logistic(
                    features, targets[:, k : k + 1], np.ones(len(p)), 1e-3, 3000, 0.05, True
                )
                confidence = 1.0 / (1.0 + np.exp(-(features @ weights[:, 0] + bias[0])))
                negatives = confidence[targets.sum(axis=1) == 0]
                threshold = float(np.quantile(negatives, 1.0 - NEGATIVE_RATE)) if len(negatives) else 0.5
                entry[str(category)] = {
                    "bias": round(float(bias[0]), 6),
                    "weights": {n: round(float(weights[j, 0]), 6) for j, n in enumerate(subset)},
                    "block_threshold": round(min(max(threshold, 0.5), 0.98) + 0.0005, 3),
                }
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


def _meta(artefact_id: str, **extra: object) -> npt.NDArray[np.uint8]:
    meta = {"id": artefact_id, "version": VERSION, "categories": [str(c) for c in CATEGORIES]}
    return np.frombuffer(json.dumps({**meta, **extra}, sort_keys=True).encode(), dtype=np.uint8)


def train(data: Path, out: Path, with_embedding: bool) -> dict[str, object]:
    rows = load_rows(data, "train")
    normalized = [normalize(row["text"]) for row in rows]
    texts = [n.text for n in normalized]
    _, matcher = parse_patterns((out / "patterns.json").read_bytes())
    matches = [matcher.match(n) for n in normalized]
    concepts = [m.concept_names for m in matches]
    vocabulary = matcher.concept_vocabulary
    groups = [row["cluster"] for row in rows]
    targets = targets_of(rows)

    def ngram_fold(train_idx: npt.NDArray[np.int64], held: npt.NDArray[np.int64]) -> F64:
        model = fit_ngram(
            [texts[i] for i in train_idx], [concepts[i] for i in train_idx], vocabulary,
            targets[train_idx],
        )  # fmt: skip
        return ngram_raw(model, [texts[i] for i in held], [matches[i] for i in held])

    ngram_oof = out_of_fold(len(rows), groups, ngram_fold)
    platt = {"learned": fit_platt(ngram_oof, targets)}
    layer_probabilities = {"learned": apply_platt(ngram_oof, platt["learned"])}
    final = fit_ngram(texts, concepts, vocabulary, targets)
    write_npz(
        out / "ngram_model.npz",
        {
            "meta": _meta("ngram_model", feature_bits=FEATURE_BITS, concepts=list(vocabulary)),
            "weights": final.weights,
            "concept_weights": final.concept_weights,
            "bias": final.bias,
        },
    )
    layer_probabilities["patterns"], tiers = pattern_tiers(matches, targets)
    if with_embedding:
        from inference.classifiers.embedding import EMBEDDING_DIM, MODEL_ID, MiniLMEmbedder

        vectors = MiniLMEmbedder().encode(texts)

        def head_fold(train_idx: npt.NDArray[np.int64], held: npt.NDArray[np.int64]) -> F64:
            weights, bias = fit_dense_logistic(
                vectors[train_idx], targets[train_idx], _weights_of(targets[train_idx]),
                HEAD_L2, HEAD_EPOCHS, HEAD_LR,
            )  # fmt: skip
            return np.asarray(vectors[held] @ weights + bias)

        head_oof = out_of_fold(len(rows), groups, head_fold)
        platt["embedding"] = fit_platt(head_oof, targets)
        layer_probabilities["embedding"] = apply_platt(head_oof, platt["embedding"])
        weights, bias = fit_dense_logistic(
            vectors, targets, _weights_of(targets), HEAD_L2, HEAD_EPOCHS, HEAD_LR
        )
        write_npz(
            out / "embedding_head.npz",
            {
                "meta": _meta("embedding_head", model=MODEL_ID, dim=EMBEDDING_DIM),
                "weights": weights.astype(np.float32),
                "bias": bias.astype(np.float32),
            },
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
    args = parser.parse_args(argv)
    summary = train(args.data, args.out, args.embedding)
    print(f"trained on {summary['rows']} rows; artefacts in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
