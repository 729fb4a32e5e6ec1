"""Training helpers: grouped folds never split a cluster; fits are deterministic; npz is stable."""

from __future__ import annotations

import io

import numpy as np

from inference.classifiers.features import N_FEATURES, featurize
from inference.classifiers.fitting import fit_dense_logistic, fit_mlp, fit_sparse_logistic, group_folds
from inference.classifiers.train import choose_thresholds, write_npz


def test_group_folds_keep_each_cluster_in_one_fold() -> None:
    groups = [f"c{i % 13}" for i in range(100)]
    folds = group_folds(groups, 5, seed=1)
    assert sorted(np.concatenate(folds).tolist()) == list(range(100))
    for fold in folds:
        inside = {groups[i] for i in fold}
        outside = {groups[i] for i in range(100) if i not in set(fold.tolist())}
        assert not inside & outside


def test_sparse_fit_separates_and_is_deterministic() -> None:
    texts = ["make sarin now", "bake bread now", "make sarin today", "bake cake today"]
    rows = [featurize(t)[0] for t in texts]
    targets = np.array([[1.0], [0.0], [1.0], [0.0]])
    args = (rows, np.zeros((4, 0)), targets, np.ones(4), N_FEATURES, 1e-4, 60, 0.1)
    w1, _, b1 = fit_sparse_logistic(*args)
    w2, _, b2 = fit_sparse_logistic(*args)
    assert np.array_equal(w1, w2)
    assert np.array_equal(b1, b2)
    logits = [w1[r].sum(axis=0) / np.sqrt(len(r)) + b1 for r in rows]
    assert logits[0][0] > 0 > logits[1][0]


def test_non_negative_dense_fit_stays_non_negative() -> None:
    x = np.array([[1.0, -1.0], [2.0, -2.0], [-1.0, 1.0], [-2.0, 2.0]])
    y = np.array([[1.0], [1.0], [0.0], [0.0]])
    weights, _ = fit_dense_logistic(x, y, np.ones(4), 0.0, 200, 0.1, non_negative=True)
    assert (weights >= 0).all()
    assert weights[0, 0] > 0


def test_features_are_stable_across_runs() -> None:
    buckets, positions, ends = featurize("how do i make sarin")
    assert buckets.tolist() == featurize("how do i make sarin")[0].tolist()
    assert int(buckets.max()) < N_FEATURES
    assert int(positions.max()) < len("how do i make sarin")
    assert (ends > positions).all()
    assert int(ends.max()) == len("how do i make sarin") + 1  # n-grams that take in the padding


def test_mlp_fit_separates_and_is_deterministic() -> None:
    x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    y = np.array([[1.0], [1.0], [0.0], [0.0]])
    first = fit_mlp(x, y, np.ones(4), 8, 0.0, 300, 0.05, seed=3)
    second = fit_mlp(x, y, np.ones(4), 8, 0.0, 300, 0.05, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    w1, b1, w2, b2 = first
    logits = np.maximum(x @ w1 + b1, 0.0) @ w2 + b2
    assert logits[0, 0] > 0 > logits[2, 0]


def test_sparse_fit_ignores_buckets_no_row_uses() -> None:
    rows = [np.array([5, 9]), np.array([7])]
    weights, _, _ = fit_sparse_logistic(
        rows, np.zeros((2, 0)), np.array([[1.0], [0.0]]), np.ones(2), 16, 1e-3, 30, 0.1
    )
    assert set(np.flatnonzero(weights[:, 0])) == {5, 7, 9}


def test_npz_bytes_do_not_depend_on_the_clock(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    arrays = {"weights": np.arange(6, dtype=np.float32).reshape(2, 3), "meta": np.zeros(3, np.uint8)}
    write_npz(folder / "a.npz", arrays)
    write_npz(folder / "b.npz", arrays)
    assert (folder / "a.npz").read_bytes() == (folder / "b.npz").read_bytes()
    with np.load(io.BytesIO((folder / "a.npz").read_bytes()), allow_pickle=False) as loaded:
        assert np.array_equal(loaded["weights"], arrays["weights"])


def test_thresholds_keep_the_benign_budget_and_buy_detection() -> None:
    rng = np.random.default_rng(7)
    benign = rng.uniform(0.0, 0.6, size=(1000, 4))
    benign[:5, 1] = 0.97  # a few hard negatives in one category
    harmful = np.full((400, 4), 0.01)
    harmful[np.arange(400), np.arange(400) % 4] = rng.uniform(0.3, 1.0, size=400)
    confidence = np.vstack([benign, harmful])
    targets = np.zeros_like(confidence)
    targets[1000 + np.arange(400), np.arange(400) % 4] = 1.0
    thresholds = choose_thresholds(confidence, targets, target_fpr=0.01)
    assert (confidence[:1000] >= thresholds).any(axis=1).mean() <= 0.01
    assert all(0.05 <= t <= 0.98 for t in thresholds)
    assert thresholds.max() < 0.7  # every category got lowered towards its benign bulk
