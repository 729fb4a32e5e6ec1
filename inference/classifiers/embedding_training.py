"""Fit the embedding layer's MLP head on sentence/clause windows (``train --embedding``).

Needs the ``ml`` extra. Every unit (sentence or clause) of the training texts is embedded once
with MiniLM; a window's vector is the length-weighted mean of its units' vectors, exactly as the
layer computes it (:func:`inference.classifiers.embedding.window_vectors`). The head is fitted by
the same multiple-instance procedure as the n-gram model (``train.mil_windows``): benign windows
are negatives, each harmful text contributes one window (round 0: the whole short text; round 1:
the window the round-0 head scores highest). Out-of-fold maxima over each text's windows, grouped
by paraphrase cluster, give the Platt calibration of the maximum.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inference.classifiers.categories import CATEGORIES
from inference.classifiers.embedding import EMBEDDING_DIM, MODEL_ID, MiniLMEmbedder, window_vectors
from inference.classifiers.fitting import fit_mlp
from inference.classifiers.train import (
    F64,
    I64,
    SEED,
    Prepared,
    apply_platt,
    fit_platt,
    labels_of,
    meta_array,
    mil_windows,
    out_of_fold,
    write_npz,
)

HEAD_HIDDEN = 64
HEAD_L2 = 1e-4
HEAD_EPOCHS = 600
HEAD_LR = 0.01

Head = tuple[F64, F64, F64, F64]


def head_scores(head: Head, vectors: F64) -> F64:
    w1, b1, w2, b2 = head
    return np.asarray(np.maximum(vectors @ w1 + b1, 0.0) @ w2 + b2, dtype=np.float64)


def embed_windows(items: Sequence[Prepared]) -> list[F64]:
    """Window vectors of every item, each distinct unit text embedded once."""
    import torch

    # One thread: torch's CPU kernels sum in an order that depends on the thread count, and 600
    # epochs of the head turn last-bit differences in the vectors into visible ones.
    torch.set_num_threads(1)
    unit_texts = sorted(
        {item.normalized.text[s:e] for item in items for s, e in item.segmentation.units},
        key=lambda t: (len(t), t),
    )
    vectors = MiniLMEmbedder().encode(unit_texts)
    row = {text: i for i, text in enumerate(unit_texts)}
    result = []
    for item in items:
        indices = [row[item.normalized.text[s:e]] for s, e in item.segmentation.units]
        result.append(window_vectors(item.segmentation, vectors[indices]))
    return result


def _fit_head(
    window_sets: Sequence[F64], chosen: Sequence[tuple[int, int, int]], items: Sequence[Prepared]
) -> Head:
    keys: set[tuple[str, int]] = set()
    features: list[F64] = []
    labels: list[int] = []
    for i, window, label in chosen:
        key = (items[i].window_text(window), label)
        if key not in keys:
            keys.add(key)
            features.append(window_sets[i][window])
            labels.append(label)
    targets = np.zeros((len(features), len(CATEGORIES)))
    label_array = np.array(labels)
    targets[label_array >= 0, label_array[label_array >= 0]] = 1.0
    return fit_mlp(
        np.stack(features), targets, np.ones(len(features)), HEAD_HIDDEN, HEAD_L2, HEAD_EPOCHS, HEAD_LR, SEED
    )


def fit_head(items: Sequence[Prepared], window_sets: Sequence[F64], targets: F64) -> Head:
    labels = labels_of(targets)
    first = _fit_head(window_sets, mil_windows(items, labels, lambda _i, item: item.whole), items)

    def pick(i: int, _item: Prepared) -> int:
        return int(np.argmax(head_scores(first, window_sets[i])[:, labels[i]]))

    return _fit_head(window_sets, mil_windows(items, labels, pick), items)


def train_embedding_head(
    items: Sequence[Prepared], targets: F64, groups: Sequence[str], out: Path, version: str
) -> tuple[dict[str, list[float]], F64]:
    """Write ``embedding_head.npz``; return its Platt table and out-of-fold probabilities."""
    window_sets = embed_windows(items)

    def head_fold(train_idx: I64, held: I64) -> F64:
        train_items = [items[i] for i in train_idx]
        head = fit_head(train_items, [window_sets[i] for i in train_idx], targets[train_idx])
        return np.array([head_scores(head, window_sets[i]).max(axis=0) for i in held])

    oof = out_of_fold(len(items), groups, head_fold)
    platt = fit_platt(oof, targets)
    w1, b1, w2, b2 = fit_head(items, window_sets, targets)
    arrays: dict[str, npt.NDArray[np.generic]] = {
        "meta": meta_array("embedding_head", version, model=MODEL_ID, dim=EMBEDDING_DIM, hidden=HEAD_HIDDEN),
        "hidden_weights": w1.astype(np.float32),
        "hidden_bias": b1.astype(np.float32),
        "output_weights": w2.astype(np.float32),
        "output_bias": b2.astype(np.float32),
    }
    write_npz(out / "embedding_head.npz", arrays)
    return platt, apply_platt(oof, platt)
