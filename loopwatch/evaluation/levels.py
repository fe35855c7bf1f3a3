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


def true_peak(x: np.ndarray, oversample: int = 4, *, circular: bool = True) -> float:
    """Peak of the 4x-oversampled signal (the BS.1770 true-peak estimate, linear).

    Only the neighbourhoods of samples within 6 dB of the sample peak are
    oversampled: an inter-sample peak needs large samples next to it (the
    interpolation filter's gain over a few samples is bounded), so the result
    equals oversampling the whole signal, at a fraction of the cost.

    Parameters
    ----------
    x : np.ndarray
        ``(channels, samples)`` or ``(samples,)``.
    circular : bool
        Treat the signal as a loop (its ends are neighbours), as the loop plays.
    """
    from scipy.signal import resample_poly

    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = x.shape[1]
    p = peak(x)
    if p == 0.0 or n == 0:
        return 0.0
    ctx = 48
    hot = np.flatnonzero(np.max(np.abs(x), axis=0) >= 0.5 * p)
    # group hot samples into windows, each oversampled with `ctx` samples of context on both sides
    starts = [int(hot[0])]
    ends = [int(hot[0])]
    for i in hot[1:]:
        if i - ends[-1] > 2 * ctx:
            starts.append(int(i))
            ends.append(int(i))
        else:
            ends[-1] = int(i)
    best = p
    for a, b in zip(starts, ends):
        idx = np.arange(a - 2 * ctx, b + 2 * ctx + 1)
        if circular:
            seg = x[:, idx % n]
        else:
            ok = (idx >= 0) & (idx < n)
            seg = np.zeros((x.shape[0], idx.size))
            seg[:, ok] = x[:, idx[ok]]
        y = resample_poly(seg, oversample, 1, axis=1)[:, ctx * oversample : -ctx * oversample]
        best = max(best, float(np.max(np.abs(y))))
    return best


def seam_jump(x: np.ndarray) -> float:
    """Largest absolute step between the last and the first sample over channels (the loop wrap)."""
    x = np.atleast_2d(x)
    return float(np.max(np.abs(x[:, 0].astype(np.float64) - x[:, -1].astype(np.float64))))


def typical_step(x: np.ndarray, q: float = 99.0) -> float:
    """The ``q``-th percentile of absolute sample-to-sample steps, over channels (inside the loop)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    return float(np.percentile(np.abs(np.diff(x, axis=1)), q))
