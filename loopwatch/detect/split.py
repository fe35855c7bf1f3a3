"""Train/validation split by file.

The split shuffles *indices* of distinct files and never touches the data
array. (The paper's reference code called :func:`random.shuffle` on a numpy
array, which swaps row views and silently duplicates rows, leaking validation
data into training.) Rows that share a key, e.g. two paths with the same
content hash, always land in the same split, so identical audio can never be
in both.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: Default share of files held out for validation.
VAL_FRACTION = 0.2


def split_by_file(
    keys: Sequence[str] | np.ndarray,
    val_fraction: float = VAL_FRACTION,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Split row indices into train and validation sets, grouping rows by ``keys``.

    Parameters
    ----------
    keys : sequence of str, length n
        One key per row identifying its file (loopwatch uses content hashes).
        Rows with equal keys stay together.
    val_fraction : float in (0, 1)
        Share of distinct keys put in the validation set (rounded, at least one
        key each side).
    seed : int
        Seed of the :class:`numpy.random.Generator` that permutes the keys.

    Returns
    -------
    train_idx, val_idx : np.ndarray of int64
        Sorted, disjoint row indices whose union is ``range(n)``.

    Raises
    ------
    ValueError
        Fewer than two distinct keys, or ``val_fraction`` outside (0, 1).
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    keys = [str(k) for k in keys]
    uniq = list(dict.fromkeys(keys))  # first-seen order: deterministic for a given input order
    n_groups = len(uniq)
    if n_groups < 2:
        raise ValueError(f"need at least 2 distinct files to split, got {n_groups}")
    n_val = int(round(val_fraction * n_groups))
    n_val = min(max(n_val, 1), n_groups - 1)
    order = np.random.default_rng(seed).permutation(n_groups)
    val_groups = set(order[:n_val].tolist())
    gid = {k: i for i, k in enumerate(uniq)}
    is_val = np.fromiter((gid[k] in val_groups for k in keys), dtype=bool, count=len(keys))
    idx = np.arange(len(keys), dtype=np.int64)
    return idx[~is_val], idx[is_val]


def split_rows(n: int, val_fraction: float = VAL_FRACTION, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """:func:`split_by_file` for ``n`` rows that are all distinct files."""
    return split_by_file([str(i) for i in range(n)], val_fraction, seed)
