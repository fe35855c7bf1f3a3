"""Metric code against hand-computed values and against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from loopwatch.evaluation import metrics as M


def test_auroc_and_ap_hand_computed():
    y = [0, 0, 1, 1]
    s = [0.1, 0.4, 0.35, 0.8]
    # pairs (anomaly, normal): (0.35,0.1) win, (0.35,0.4) loss, (0.8,0.1) win, (0.8,0.4) win -> 3/4
    assert M.roc_auc(y, s) == pytest.approx(0.75)
    # ranked: 0.8(1) 0.4(0) 0.35(1) 0.1(0): recall steps 0.5 at P=1, 0.5 at P=2/3 -> 0.5 + 1/3
    assert M.average_precision(y, s) == pytest.approx(0.5 + 1 / 3)


def test_auroc_ties_count_half():
    assert M.roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    # one tie among 2x2 pairs: anomaly scores {1, 2}, normal {0, 1}: wins 3, tie 1 -> 3.5/4
    assert M.roc_auc([0, 0, 1, 1], [0.0, 1.0, 1.0, 2.0]) == pytest.approx(0.875)
    assert M.roc_auc([1, 1, 0], [3, 2, 1]) == 1.0
    assert M.roc_auc([1, 1, 0], [0, 0, 1]) == 0.0


def test_ap_with_tied_scores_hand_computed():
    # thresholds: 0.9 -> TP1 FP0 (P=1, R=1/2); 0.5 (two tied, one pos) -> TP2 FP1 (P=2/3, R=1)
    assert M.average_precision([1, 1, 0], [0.9, 0.5, 0.5]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_metrics_refuse_bad_input():
    with pytest.raises(ValueError):
        M.roc_auc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError):
        M.roc_auc([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError):
        M.roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError):
        M.average_precision([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError):
        M.quantile_threshold([], 0.95)
    with pytest.raises(ValueError):
        M.quantile_threshold([1.0], 1.0)


def test_prf_hand_computed():
    p = M.PRF(tp=3, fp=1, fn=2, tn=4)
    assert p.precision == 0.75
    assert p.recall == 0.6
    assert p.f1 == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert p.fpr == pytest.approx(0.2)
    z = M.PRF(0, 0, 5)
    assert (z.precision, z.recall, z.f1) == (0.0, 0.0, 0.0)
    q = M.prf_from_predictions([1, 1, 0, 0, 1], [True, False, True, False, True])
    assert (q.tp, q.fp, q.fn, q.tn) == (2, 1, 1, 1)


def test_quantile_threshold_is_linear_interpolation():
    # 20 values 1..20: position 0.95 * 19 = 18.05 -> 19 + 0.05 * (20 - 19)
    assert M.quantile_threshold(np.arange(1, 21), 0.95) == pytest.approx(19.05)


def test_wilson_interval_known_values():
    lo, hi = M.wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = M.wilson_interval(5, 10)
    assert (lo, hi) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    assert M.wilson_interval(0, 0) == (0.0, 1.0)


def test_against_scikit_learn_on_random_data_with_ties():
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    rng = np.random.default_rng(3)
    for trial in range(20):
        n = int(rng.integers(5, 200))
        y = rng.random(n) < rng.uniform(0.1, 0.9)
        if y.all() or not y.any():
            y[0], y[-1] = True, False
        s = np.round(rng.normal(size=n) + y * rng.uniform(0, 2), int(rng.integers(0, 3)))  # rounding makes ties
        assert M.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert M.average_precision(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
        p, r, t = M.precision_recall_curve(y, s)
        sp, sr, st = precision_recall_curve(y, s)
        # scikit-learn lists thresholds ascending and appends (P=1, R=0)
        np.testing.assert_allclose(p, sp[:-1][::-1])
        np.testing.assert_allclose(r, sr[:-1][::-1])
        np.testing.assert_allclose(t, st[::-1])
        fpr, tpr = M.roc_curve(y, s)
        sf, stp, _ = roc_curve(y, s, drop_intermediate=False)
        np.testing.assert_allclose(fpr, sf)
        np.testing.assert_allclose(tpr, stp)


def test_prf_against_scikit_learn():
    from sklearn.metrics import f1_score, precision_score, recall_score

    rng = np.random.default_rng(5)
    y = rng.random(300) < 0.3
    pred = rng.random(300) < 0.4
    m = M.prf_from_predictions(y, pred)
    assert m.precision == pytest.approx(precision_score(y, pred))
    assert m.recall == pytest.approx(recall_score(y, pred))
    assert m.f1 == pytest.approx(f1_score(y, pred))


def test_bootstrap_interval_brackets_the_estimate():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(60, bool), np.ones(40, bool)]
    s = rng.normal(size=100) + 1.0 * y
    auc = M.roc_auc(y, s)
    lo, hi = M.bootstrap_auc_interval(y, s, n_boot=300)
    assert lo < auc < hi and 0.5 < lo and hi < 1.0


def test_rankdata_matches_scipy():
    from scipy.stats import rankdata

    x = np.random.default_rng(1).integers(0, 10, 50).astype(float)
    np.testing.assert_allclose(M.rankdata_average(x), rankdata(x))


# --- located detections -----------------------------------------------------------------------------


def test_circular_gap_and_offset():
    assert M.circular_gap(0.0, 1.0, 0.5, 2.0, None) == 0.0
    assert M.circular_gap(0.0, 1.0, 1.5, 2.0, None) == pytest.approx(0.5)
    # on a 10 s loop, [9.9, 10] and [0, 0.05] are neighbours
    assert M.circular_gap(9.9, 10.0, 0.0, 0.05, 10.0) == 0.0
    assert M.circular_gap(9.8, 9.9, 0.02, 0.05, 10.0) == pytest.approx(0.12)
    assert M.circular_gap(9.8, 9.9, 0.02, 0.05, None) == pytest.approx(9.75)
    assert M.circular_offset(9.99, 0.0, 10.0) == pytest.approx(0.01)
    assert M.circular_offset(3.0, 1.0, None) == 2.0
    with pytest.raises(ValueError):
        M.circular_gap(1.0, 0.0, 0.0, 1.0, None)


def test_match_findings_hand_cases():
    sr = 48000
    click = [(48000, 48001)]  # at 1.000 s
    # a finding 1 ms late matches with 1 ms error
    m = M.match_findings(click, [(1.001, 1.001)], sr=sr, n_samples=96000, tolerance_s=0.01)
    assert m.detected and m.n_matched == 1 and m.n_unmatched == 0
    assert m.error_s == pytest.approx(0.001)
    # 20 ms off: outside a 10 ms tolerance
    m = M.match_findings(click, [(1.02, 1.02)], sr=sr, n_samples=96000, tolerance_s=0.01)
    assert not m.detected and m.n_unmatched == 1 and m.error_s is None
    # one real hit, one spurious far away, and a duplicate of the hit (merged, not spurious)
    m = M.match_findings(click, [(0.999, 1.0), (1.0, 1.0005), (1.5, 1.5)], sr=sr, n_samples=96000)
    assert m.detected and m.n_matched == 1 and m.n_unmatched == 1
    assert m.error_s == pytest.approx(0.0, abs=1e-4)
    # a seam at the last sample matches a finding at 0 s (the wrap), not without the circle
    seam = [(95999, 96000)]
    assert M.match_findings(seam, [(0.0, 0.0)], sr=sr, n_samples=96000, tolerance_s=0.005).detected
    assert not M.match_findings(seam, [(0.0, 0.0)], sr=sr, n_samples=96000, tolerance_s=0.005, circular=False).detected
    # several spans: a clipping finding overlapping the second one counts
    m = M.match_findings([(100, 200), (48000, 48100)], [(1.0005, 1.001)], sr=sr, n_samples=96000)
    assert m.detected and m.error_s == pytest.approx(0.0005)
    assert not M.match_findings(click, [], sr=sr).detected


def test_merge_intervals():
    assert M.merge_intervals([(3, 4), (0, 1), (1.05, 2)], gap=0.1) == [(0, 2), (3, 4)]
    assert M.merge_intervals([]) == []
