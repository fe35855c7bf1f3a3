"""Level helpers shared by the corpus generator and the defect injector."""

from __future__ import annotations

import numpy as np

EPS = 1e-12


def db(x: float | np.ndarray) -> float | np.ndarray:
    """20·log10 of an amplitude (floored at -240 dB)."""
    return 20.0 * np.log10(np.maximum(np.abs(x), EPS))


def undb(d: float) -> float:
    """Amplitude for a level in dB (``undb(-6) ≈ 0.501``)."""
    return float(10.0 ** (d / 20.0))


def peak(x: np.ndarray) -> float:
    """Sample peak over all channels."""
    return float(np.max(np.abs(x))) if np.size(x) else 0.0


def rms(x: np.ndarray) -> float:
    """Root mean square over all channels and samples."""
    return float(np.sqrt(np.mean(np.square(np.asarray(x, dtype=np.float64))))) if np.size(x) else 0.0


_TP_TAPS = 16  # per side: a 32-tap interpolator per phase


def _tp_filters(oversample: int) -> np.ndarray:
    """Kaiser-windowed sinc interpolators, one row per fractional phase ``p / oversample`` (p >= 1)."""
    k = np.arange(-_TP_TAPS + 1, _TP_TAPS + 1)  # taps at x[i + k] for the point i + p/oversample
    rows = []
    for p in range(1, oversample):
        d = k - p / oversample
        h = np.sinc(d) * np.kaiser(2 * _TP_TAPS, 8.0)
        rows.append(h / h.sum())
    return np.array(rows)


def true_peak(x: np.ndarray, oversample: int = 4, *, circular: bool = True) -> float:
    """Peak of the 4x-oversampled signal (the BS.1770 true-peak estimate, linear).

    The interpolated points between samples are computed with 32-tap
    windowed-sinc filters, but only next to samples within 6 dB of the sample
    peak: an inter-sample peak needs large samples beside it, so the result is
    that of oversampling everything, at a fraction of the cost.

    Parameters
    ----------
    x : np.ndarray
        ``(channels, samples)`` or ``(samples,)``.
    circular : bool
        Treat the signal as a loop (its ends are neighbours), as the loop plays;
        otherwise it is padded with silence.
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = x.shape[1]
    p = peak(x)
    if p == 0.0 or n == 0:
        return 0.0
    hot = np.flatnonzero(np.max(np.abs(x), axis=0) >= 0.5 * p)
    starts = np.unique(np.concatenate([hot - 1, hot]))  # intervals (i, i+1) touching a hot sample
    if not circular:
        starts = starts[(starts >= 0) & (starts < n - 1)]
    h = _tp_filters(oversample)
    offs = np.arange(-_TP_TAPS + 1, _TP_TAPS + 1)
    best = p
    for c0 in range(0, starts.size, 8192):
        idx = starts[c0 : c0 + 8192, None] + offs[None, :]
        if circular:
            seg = x[:, idx % n]
        else:
            ok = (idx >= 0) & (idx < n)
            seg = np.where(ok[None], x[:, np.clip(idx, 0, n - 1)], 0.0)
        best = max(best, float(np.max(np.abs(seg @ h.T))))
    return best


def seam_jump(x: np.ndarray) -> float:
    """Largest absolute step between the last and the first sample over channels (the loop wrap)."""
    x = np.atleast_2d(x)
    return float(np.max(np.abs(x[:, 0].astype(np.float64) - x[:, -1].astype(np.float64))))


def typical_step(x: np.ndarray, q: float = 99.0) -> float:
    """The ``q``-th percentile of absolute sample-to-sample steps, over channels (inside the loop)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    return float(np.percentile(np.abs(np.diff(x, axis=1)), q))
