"""Metrics for outlier scores and for located findings, in plain numpy.

Score metrics follow scikit-learn's definitions exactly (the tests check them
against it): :func:`roc_auc` is the Mann-Whitney statistic with ties counted
as half, :func:`average_precision` is the step-wise area under the
precision-recall curve, ``sum_n (R_n - R_{n-1}) P_n`` over distinct thresholds.
A score is *anomalous* when it is strictly above the threshold.

Located metrics match findings (intervals in seconds) to injected spans
(intervals in samples) on the loop circle: a loop's end is next to its start,
so a seam at the last sample matches a finding at 0 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _binary(y_true) -> np.ndarray:
    y = np.asarray(y_true)
    if y.dtype == bool:
        return y
    u = np.unique(y)
    if not np.all(np.isin(u, (0, 1))):
        raise ValueError(f"labels must be 0/1 or bool, got values {u[:5].tolist()}")
    return y.astype(bool)


def _check(y: np.ndarray, s: np.ndarray) -> None:
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels and scores must be 1-D and the same length, got {y.shape} and {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or inf")
    if y.all() or not y.any():
        raise ValueError("need both normal and anomalous examples")


def rankdata_average(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank (as ``scipy.stats.rankdata``)."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(x.size, dtype=np.float64)
    boundaries = np.flatnonzero(np.diff(xs) != 0) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [x.size]])
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = (a + 1 + b) / 2.0
    return ranks


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve: P(score of a random anomaly > score of a random normal), ties 1/2.

    Parameters
    ----------
    y_true : array of 0/1 or bool
        1 (True) for anomalies.
    scores : array of float
        Higher means more anomalous.
    """
    y = _binary(y_true)
    s = np.asarray(scores, dtype=np.float64)
    _check(y, s)
    r = rankdata_average(s)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def precision_recall_curve(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at every distinct threshold, highest threshold first.

    Returns ``(precision, recall, thresholds)``; at threshold ``t`` the
    prediction is ``score >= t`` (as scikit-learn's curve).
    """
    y = _binary(y_true)
    s = np.asarray(scores, dtype=np.float64)
    _check(y, s)
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    last = np.concatenate([np.flatnonzero(np.diff(ss) != 0), [ss.size - 1]])
    tp = np.cumsum(ys)[last]
    fp = (last + 1) - tp
    return tp / (tp + fp), tp / y.sum(), ss[last]


def average_precision(y_true, scores) -> float:
    """Average precision: ``sum_n (R_n - R_{n-1}) P_n`` over distinct thresholds (scikit-learn's definition)."""
    p, r, _ = precision_recall_curve(y_true, scores)
    return float(np.sum(np.diff(np.concatenate([[0.0], r])) * p))


def roc_curve(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct threshold, starting at (0, 0)."""
    y = _binary(y_true)
    s = np.asarray(scores, dtype=np.float64)
    _check(y, s)
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    last = np.concatenate([np.flatnonzero(np.diff(ss) != 0), [ss.size - 1]])
    tp = np.cumsum(ys)[last]
    fp = (last + 1) - tp
    return np.concatenate([[0.0], fp / (~y).sum()]), np.concatenate([[0.0], tp / y.sum()])


def quantile_threshold(scores, q: float = 0.95) -> float:
    """The ``q`` quantile of (validation) scores, linear interpolation (``numpy.quantile``'s default)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {q}")
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        raise ValueError("no scores to take a quantile of")
    return float(np.quantile(s, q))


@dataclass(frozen=True)
class PRF:
    """Counts and rates of a binary decision."""

    tp: int
    fp: int
    fn: int
    tn: int = 0

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 0 when nothing was flagged (scikit-learn's ``zero_division=0``)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def fpr(self) -> float:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    def to_dict(self) -> dict:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn, "precision": self.precision,
                "recall": self.recall, "f1": self.f1}


def prf_from_predictions(y_true, y_pred) -> PRF:
    """Confusion counts of boolean predictions against 0/1 labels."""
    y = _binary(y_true)
    p = np.asarray(y_pred, dtype=bool)
    if y.shape != p.shape:
        raise ValueError(f"labels and predictions differ in shape: {y.shape} vs {p.shape}")
    return PRF(int((y & p).sum()), int((~y & p).sum()), int((y & ~p).sum()), int((~y & ~p).sum()))


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95 % Wilson score interval for a proportion ``k / n`` ((0, 1) when ``n == 0``)."""
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_auc_interval(y_true, scores, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the AUROC, resampling normals and anomalies separately."""
    y = _binary(y_true)
    s = np.asarray(scores, dtype=np.float64)
    _check(y, s)
    rng = np.random.default_rng(seed)
    pos, neg = s[y], s[~y]
    aucs = np.empty(n_boot)
    yy = np.concatenate([np.ones(pos.size, bool), np.zeros(neg.size, bool)])
    for i in range(n_boot):
        aucs[i] = roc_auc(yy, np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)]))
    return float(np.percentile(aucs, 2.5)), float(np.percentile(aucs, 97.5))


# --- located detections ----------------------------------------------------------------------------


def circular_gap(a0: float, a1: float, b0: float, b1: float, period: float | None) -> float:
    """Distance between intervals ``[a0, a1]`` and ``[b0, b1]`` (0 when they overlap).

    With a ``period`` (the loop length) the distance is taken on the circle,
    so the end of the loop is next to its start.
    """
    if a1 < a0 or b1 < b0:
        raise ValueError("intervals must have end >= start")
    gap = max(0.0, max(a0, b0) - min(a1, b1))
    if period is None or period <= 0 or gap == 0.0:
        return gap
    # shifting one interval by a period brings the other end of the loop next to it
    g1 = max(0.0, max(a0, b0 + period) - min(a1, b1 + period))
    g2 = max(0.0, max(a0, b0 - period) - min(a1, b1 - period))
    return min(gap, g1, g2)


def circular_offset(a: float, b: float, period: float | None) -> float:
    """``|a - b|``, or the shorter way round the loop when ``period`` is given."""
    d = abs(a - b)
    if period and period > 0:
        d = d % period
        d = min(d, period - d)
    return d


@dataclass(frozen=True)
class Match:
    """How the findings of one check on one file relate to its injected spans.

    Attributes
    ----------
    detected : bool
        Some finding lies within the tolerance of some span.
    n_matched, n_unmatched : int
        Findings (after merging overlapping ones) that do / do not match a span.
    error_s : float or None
        Smallest onset error of a matching finding, in seconds: the distance
        from the finding's start to the start of the span it matches.
    """

    detected: bool
    n_matched: int
    n_unmatched: int
    error_s: float | None


def merge_intervals(intervals: list[tuple[float, float]], gap: float = 0.0) -> list[tuple[float, float]]:
    """Union of intervals, joining those closer than ``gap``."""
    out: list[list[float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1] + gap:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def match_findings(
    spans: list[tuple[int, int]] | list[list[int]],
    findings: list[tuple[float, float]],
    *,
    sr: int = 48000,
    n_samples: int | None = None,
    tolerance_s: float = 0.01,
    circular: bool = True,
) -> Match:
    """Match finding intervals (seconds) to injected spans (``[start, end)`` samples).

    A finding matches a span when the gap between them is at most
    ``tolerance_s`` (measured round the loop when ``circular`` and
    ``n_samples`` are given). Findings closer than the tolerance to each other
    are merged first, so one defect reported in pieces counts once.
    """
    period = n_samples / sr if (circular and n_samples) else None
    sp = [(a / sr, max(a, b - 1) / sr) for a, b in spans]  # last sample of the span, inclusive
    merged = merge_intervals([(float(a), float(b)) for a, b in findings], gap=tolerance_s)
    matched = 0
    best: float | None = None
    for f0, f1 in merged:
        hit = False
        for s0, s1 in sp:
            if circular_gap(f0, f1, s0, s1, period) <= tolerance_s + 1e-12:
                hit = True
        if hit:
            matched += 1
    if matched:
        for f0, f1 in findings:
            for s0, s1 in sp:
                if circular_gap(f0, f1, s0, s1, period) <= tolerance_s + 1e-12:
                    e = circular_offset(f0, s0, period)
                    best = e if best is None else min(best, e)
    return Match(matched > 0, matched, len(merged) - matched, best)
