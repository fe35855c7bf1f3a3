"""The train/validation split: by file, by shuffled indices, never in place."""

from __future__ import annotations

import numpy as np
import pytest

from loopwatch.detect.split import split_by_file, split_rows


def test_disjoint_complete_and_no_row_duplicated():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(503, 8))
    before = X.copy()
    keys = [f"h{i}" for i in range(len(X))]
    tr, va = split_by_file(keys, seed=7)
    assert np.array_equal(X, before)  # the data array is never shuffled in place
    assert len(np.intersect1d(tr, va)) == 0
    assert np.array_equal(np.sort(np.concatenate([tr, va])), np.arange(len(X)))
    assert len(np.unique(tr)) == len(tr) and len(np.unique(va)) == len(va)
    rows = np.vstack([X[tr], X[va]])
    assert len(np.unique(rows, axis=0)) == len(X)  # every row exactly once, none duplicated
    assert not ({keys[i] for i in tr} & {keys[i] for i in va})  # no file on both sides
    assert len(va) == round(0.2 * len(X))


def test_rows_of_one_file_stay_together():
    # the same content hash under three paths (a moved or copied loop) must not straddle the split
    keys = ["a", "b", "a", "c", "d", "a", "e", "f", "g", "h", "b"]
    for seed in range(20):
        tr, va = split_by_file(keys, val_fraction=0.3, seed=seed)
        assert not ({keys[i] for i in tr} & {keys[i] for i in va})
        assert sorted(np.concatenate([tr, va]).tolist()) == list(range(len(keys)))


def test_seeded_and_actually_shuffled():
    keys = [str(i) for i in range(100)]
    a = split_by_file(keys, seed=1)
    b = split_by_file(keys, seed=1)
    c = split_by_file(keys, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    assert not np.array_equal(a[1], np.arange(80, 100))  # not simply the tail


def test_split_rows_and_edge_cases():
    tr, va = split_rows(2)
    assert len(tr) == 1 and len(va) == 1
    with pytest.raises(ValueError, match="at least 2 distinct"):
        split_by_file(["same", "same", "same"])
    with pytest.raises(ValueError, match="val_fraction"):
        split_rows(10, val_fraction=1.0)
