"""Training helpers: grouped folds never split a cluster; fits are deterministic; npz is stable."""

from __future__ import annotations

import io
import itertools

import numpy as np

from inference.classifiers.features import N_FEATURES, featurize
from inference.classifiers.fitting import fit_dense_logistic, fit_sparse_logistic, group_folds
from inference.classifiers.learned import window_starts
from inference.classifiers.train import write_npz


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
    buckets, positions = featurize("how do i make sarin")
    assert buckets.tolist() == featurize("how do i make sarin")[0].tolist()
    assert int(buckets.max()) < N_FEATURES
    assert int(positions.max()) < len("how do i make sarin")


def test_windows_cover_long_texts_with_overlap() -> None:
    assert window_starts(100, 512, 256) == [0]
    starts = window_starts(1300, 512, 256)
    assert starts[0] == 0
    assert starts[-1] + 512 == 1300
    assert all(b - a <= 256 for a, b in itertools.pairwise(starts))


def test_npz_bytes_do_not_depend_on_the_clock(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    arrays = {"weights": np.arange(6, dtype=np.float32).reshape(2, 3), "meta": np.zeros(3, np.uint8)}
    write_npz(folder / "a.npz", arrays)
    write_npz(folder / "b.npz", arrays)
    assert (folder / "a.npz").read_bytes() == (folder / "b.npz").read_bytes()
    with np.load(io.BytesIO((folder / "a.npz").read_bytes()), allow_pickle=False) as loaded:
        assert np.array_equal(loaded["weights"], arrays["weights"])
