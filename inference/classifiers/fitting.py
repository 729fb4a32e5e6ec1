"""Deterministic numpy fitting used by the training script: logistic regression and folds.

Full-batch Adam (Kingma and Ba 2014, https://arxiv.org/abs/1412.6980) on the weighted
log-loss with an L2 penalty. The sparse variant takes each row as an array of hashed feature
buckets (a bag of n-grams scaled by 1/sqrt(length), as the learned layer scores them); the dense
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
) -> tuple[F64, F64, F64]:
    """Fit ``K`` one-vs-rest logistic models over bags of buckets plus a dense block.

    The logit of row ``i`` is ``sum(weights[rows[i]]) / sqrt(len(rows[i])) + dense[i] @ dense_w
    + bias``. Returns ``(weights (n_features, K), dense_weights (D, K), bias (K,))``.
    """
    n_rows, n_outputs = targets.shape
    flat = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    row_of = np.repeat(np.arange(n_rows), [len(r) for r in rows])
    scale = 1.0 / np.sqrt(np.maximum([len(r) for r in rows], 1)).astype(np.float64)
    weights = np.zeros((n_features, n_outputs))
    dense_weights = np.zeros((dense.shape[1], n_outputs))
    bias = np.zeros(n_outputs)
    total = float(sample_weight.sum())
    adam_w, adam_d = _Adam(weights.shape, lr), _Adam(dense_weights.shape, lr)
    adam_b = _Adam(bias.shape, lr)
    for _ in range(epochs):
        gathered = weights[flat]
        sparse_logits = np.stack(
            [np.bincount(row_of, weights=gathered[:, k], minlength=n_rows) for k in range(n_outputs)],
            axis=1,
        )
        logits = sparse_logits * scale[:, None] + dense @ dense_weights + bias
        error = (_sigmoid(logits) - targets) * sample_weight[:, None] / total
        per_feature = error * scale[:, None]
        grad_w = np.stack(
            [
                np.bincount(flat, weights=per_feature[row_of, k], minlength=n_features)
                for k in range(n_outputs)
            ],
            axis=1,
        )
        adam_w.step(weights, grad_w + l2 * weights)
        adam_d.step(dense_weights, dense.T @ error + l2 * dense_weights)
        adam_b.step(bias, error.sum(axis=0))
    return weights, dense_weights, bias


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


def group_folds(groups: Sequence[str], k: int, seed: int) -> list[I64]:
    """Split row indices into ``k`` folds so that no group (paraphrase cluster) straddles two."""
    unique = sorted(set(groups), key=lambda g: hashlib.sha256(f"{seed}/{g}".encode()).digest())
    fold_of = {group: i % k for i, group in enumerate(unique)}
    assignment = np.array([fold_of[g] for g in groups])
    return [np.flatnonzero(assignment == fold) for fold in range(k)]
