"""Deterministic numpy fitting used by the training script: logistic regression and folds.

Full-batch Adam (Kingma and Ba 2014, https://arxiv.org/abs/1412.6980) on the weighted
log-loss with an L2 penalty. The sparse variant takes each row as an array of hashed feature
buckets (a bag of n-grams scaled by 1/sqrt(max(length, floor)), as the learned layer scores them); the dense
variant takes a matrix and can constrain weights to be non-negative (the stackers). No random
numbers are drawn except in :func:`group_folds`, which takes a seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


def _sigmoid(x: F64) -> F64:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -40.0, 40.0))), dtype=np.float64)


class _Adam:
    def __init__(self, shape: tuple[int, ...], lr: float) -> None:
        self.m = np.zeros(shape)
        self.v = np.zeros(shape)
        self.t = 0
        self.lr = lr

    def step(self, param: F64, grad: F64) -> None:
        self.t += 1
        self.m = _BETA1 * self.m + (1 - _BETA1) * grad
        self.v = _BETA2 * self.v + (1 - _BETA2) * grad * grad
        m_hat = self.m / (1 - _BETA1**self.t)
        v_hat = self.v / (1 - _BETA2**self.t)
        param -= self.lr * m_hat / (np.sqrt(v_hat) + _EPS)


def fit_sparse_logistic(
    rows: Sequence[I64],
    dense: F64,
    targets: F64,
    sample_weight: F64,
    n_features: int,
    l2: float,
    epochs: int,
    lr: float,
    length_floor: int = 1,
) -> tuple[F64, F64, F64]:
    """Fit ``K`` one-vs-rest logistic models over bags of buckets plus a dense block.

    The logit of row ``i`` is ``sum(weights[rows[i]]) / sqrt(max(len(rows[i]), length_floor))
    + dense[i] @ dense_w + bias``. Returns ``(weights (n_features, K), dense_weights (D, K), bias (K,))``.

    Only the buckets that occur in some row are optimised: every other weight has a zero
    gradient and a zero start, so Adam with the L2 penalty leaves it at zero anyway. Per-row
    sums and per-bucket gradients are segment sums (``np.add.reduceat``) over index orders
    computed once.
    """
    n_rows, n_outputs = targets.shape
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    flat = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    active, local = np.unique(flat, return_inverse=True)
    has_features = lengths > 0
    row_starts = (np.cumsum(lengths) - lengths)[has_features]
    row_of = np.repeat(np.arange(n_rows), lengths)
    by_bucket = np.argsort(local, kind="stable")
    bucket_starts = np.searchsorted(local[by_bucket], np.arange(len(active)))
    row_of_sorted = row_of[by_bucket]
    scale = 1.0 / np.sqrt(np.maximum(lengths, max(length_floor, 1))).astype(np.float64)
    weights = np.zeros((len(active), n_outputs))
    dense_weights = np.zeros((dense.shape[1], n_outputs))
    bias = np.zeros(n_outputs)
    total = float(sample_weight.sum())
    adam_w, adam_d = _Adam(weights.shape, lr), _Adam(dense_weights.shape, lr)
    adam_b = _Adam(bias.shape, lr)
    sparse_logits = np.zeros((n_rows, n_outputs))
    for _ in range(epochs):
        if len(flat):
            gathered = np.take(weights, local, axis=0)  # np.take: far faster than weights[local]
            sparse_logits[has_features] = np.add.reduceat(gathered, row_starts, axis=0)
        logits = sparse_logits * scale[:, None] + dense @ dense_weights + bias
        error = (_sigmoid(logits) - targets) * sample_weight[:, None] / total
        if len(flat):
            per_row = error * scale[:, None]
            grad_w = np.add.reduceat(np.take(per_row, row_of_sorted, axis=0), bucket_starts, axis=0)
            adam_w.step(weights, grad_w + l2 * weights)
        adam_d.step(dense_weights, dense.T @ error + l2 * dense_weights)
        adam_b.step(bias, error.sum(axis=0))
    full = np.zeros((n_features, n_outputs))
    full[active] = weights
    return full, dense_weights, bias


def fit_dense_logistic(
    features: F64,
    targets: F64,
    sample_weight: F64,
    l2: float,
    epochs: int,
    lr: float,
    non_negative: bool = False,
) -> tuple[F64, F64]:
    """Fit ``K`` logistic models on a dense ``(N, D)`` matrix; returns (weights (D, K), bias)."""
    _n_rows, n_outputs = targets.shape
    weights = np.zeros((features.shape[1], n_outputs))
    bias = np.zeros(n_outputs)
    total = float(sample_weight.sum())
    adam_w, adam_b = _Adam(weights.shape, lr), _Adam(bias.shape, lr)
    for _ in range(epochs):
        error = (_sigmoid(features @ weights + bias) - targets) * sample_weight[:, None] / total
        adam_w.step(weights, features.T @ error + l2 * weights)
        adam_b.step(bias, error.sum(axis=0))
        if non_negative:
            np.maximum(weights, 0.0, out=weights)
    return weights, bias


def fit_mlp(
    features: F64,
    targets: F64,
    sample_weight: F64,
    hidden: int,
    l2: float,
    epochs: int,
    lr: float,
    seed: int,
) -> tuple[F64, F64, F64, F64]:
    """Fit a one-hidden-layer ReLU perceptron with ``K`` sigmoid outputs on the weighted
    log-loss (full-batch Adam, He initialisation from a seeded generator, so it is deterministic).
    Returns ``(W1 (D, hidden), b1, W2 (hidden, K), b2)``."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0.0, np.sqrt(2.0 / features.shape[1]), (features.shape[1], hidden))
    b1 = np.zeros(hidden)
    w2 = np.zeros((hidden, targets.shape[1]))
    b2 = np.zeros(targets.shape[1])
    params = (w1, b1, w2, b2)
    optimisers = [_Adam(p.shape, lr) for p in params]
    total = float(sample_weight.sum())
    for _ in range(epochs):
        activation = np.maximum(features @ w1 + b1, 0.0)
        error = (_sigmoid(activation @ w2 + b2) - targets) * sample_weight[:, None] / total
        back = (error @ w2.T) * (activation > 0)
        grads = (
            features.T @ back + l2 * w1,
            back.sum(axis=0),
            activation.T @ error + l2 * w2,
            error.sum(axis=0),
        )
        for optimiser, param, grad in zip(optimisers, params, grads, strict=True):
            optimiser.step(param, grad)
    return w1, b1, w2, b2


def group_folds(groups: Sequence[str], k: int, seed: int) -> list[I64]:
    """Split row indices into ``k`` folds so that no group (paraphrase cluster) straddles two."""
    unique = sorted(set(groups), key=lambda g: hashlib.sha256(f"{seed}/{g}".encode()).digest())
    fold_of = {group: i % k for i, group in enumerate(unique)}
    assignment = np.array([fold_of[g] for g in groups])
    return [np.flatnonzero(assignment == fold) for fold in range(k)]
