"""Integrated loudness (ITU-R BS.1770-4 / EBU R128), informational.

The K-weighting filters are pyloudnorm's (``pyloudnorm.Meter(sr)``), so the
result is pyloudnorm's integrated loudness; the 400 ms / 75 %-overlap gating is
done here with cumulative sums instead of pyloudnorm's per-block Python loop,
which is about ten times faster on a loop and gives the same number (the tests
compare them).
"""

from __future__ import annotations

import functools

import numpy as np

from loopwatch.checks._common import as_array, finding
from loopwatch.findings import Finding

NAME = "loudness"
#: Samples filtered per call (a multiple of the 100 ms step is used): keeps temporaries small.
_CHUNK_SAMPLES = 32768

#: BS.1770 channel weights: L, R, C = 1.0; surrounds 1.41 (pyloudnorm's order: L, R, C, Ls, Rs).
CHANNEL_GAINS = (1.0, 1.0, 1.0, 1.41, 1.41)


@functools.lru_cache(maxsize=8)
def _k_weighting(sr: int) -> tuple[tuple[np.ndarray, np.ndarray, float], ...]:
    import pyloudnorm

    meter = pyloudnorm.Meter(sr)
    return tuple((np.asarray(f.b, dtype=np.float64), np.asarray(f.a, dtype=np.float64), float(f.passband_gain))
                 for f in meter._filters.values())


@functools.lru_cache(maxsize=8)
def _k_filter(sr: int) -> tuple[np.ndarray, np.ndarray]:
    """pyloudnorm's two K-weighting stages (with their gains) as one 4th-order filter."""
    b, a = np.ones(1), np.ones(1)
    for bb, aa, g in _k_weighting(sr):
        b, a = np.convolve(b, g * bb), np.convolve(a, aa)
    return b, a


def integrated_loudness(x: np.ndarray, sr: int = 48000, *, block_s: float = 0.4, overlap: float = 0.75) -> float:
    """Integrated gated loudness of ``x`` ``(channels, samples)`` in LUFS (-inf for silence).

    Channels beyond the fifth get weight 1.0 (pyloudnorm refuses more than 5).
    Raises ValueError when ``x`` is shorter than one 400 ms block.
    """
    from scipy.signal import lfilter

    x = np.asarray(x)
    if x.ndim == 1:
        x = x[None, :]
    n = x.shape[1]
    block = int(round(block_s * sr))
    if n < block:
        raise ValueError(f"{n / sr:.3f} s is shorter than one {block_s * 1000:.0f} ms loudness block")
    b, a = _k_filter(sr)
    step = int(round(block_s * (1.0 - overlap) * sr))
    if step <= 0 or block % step:
        raise ValueError("block length must be a whole number of steps")
    per = block // step
    n_blocks = int(np.round((n / sr - block_s) / (block_s * (1.0 - overlap)))) + 1
    n_seg = n_blocks - 1 + per
    seg = np.zeros((x.shape[0], n_seg))
    # filtered in chunks of whole steps with the filter state carried over: the
    # same numbers as one call, without a file-sized temporary per channel
    chunk = step * max(1, _CHUNK_SAMPLES // step)
    used = min(n, n_seg * step)
    for c in range(x.shape[0]):
        zi = np.zeros(max(len(a), len(b)) - 1)
        for s0 in range(0, used, chunk):
            s1 = min(used, s0 + chunk)
            y, zi = lfilter(b, a, x[c, s0:s1], zi=zi)
            k = y.size // step
            if k:
                yy = y[: k * step].reshape(k, step)
                seg[c, s0 // step : s0 // step + k] = np.einsum("ij,ij->i", yy, yy)
            if y.size > k * step:  # the last, partial segment (zeros after the file's end)
                tail = y[k * step :]
                seg[c, s0 // step + k] = float(np.dot(tail, tail))
    cs = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(seg, axis=1)], axis=1)
    z = (cs[:, per : per + n_blocks] - cs[:, :n_blocks]) / block  # (channels, blocks) mean square
    gains = np.array([CHANNEL_GAINS[i] if i < len(CHANNEL_GAINS) else 1.0 for i in range(x.shape[0])])
    with np.errstate(divide="ignore"):
        lj = -0.691 + 10.0 * np.log10(gains @ z)
    gated = lj >= -70.0
    if not gated.any():
        return float("-inf")
    with np.errstate(divide="ignore"):
        rel = -0.691 + 10.0 * np.log10(gains @ z[:, gated].mean(axis=1)) - 10.0
    keep = (lj > rel) & (lj > -70.0)
    if not keep.any():
        return float("-inf")
    with np.errstate(divide="ignore"):
        return float(-0.691 + 10.0 * np.log10(gains @ z[:, keep].mean(axis=1)))


def check_loudness(audio, sr: int | None = None, *, loop: bool = True) -> list[Finding]:
    """Report the integrated loudness as an ``info`` finding (value in LUFS).

    Parameters
    ----------
    loop : bool
        Measure a file shorter than 400 ms as the loop it is (repeated to one
        block), rather than reporting nothing.
    """
    x, sr = as_array(audio, sr)
    n = x.shape[1]
    if n == 0:
        return []
    block = int(round(0.4 * sr))
    if n < block:
        if not loop:
            return []
        x = np.tile(x, (1, -(-block // n)))
    lufs = integrated_loudness(x, sr)
    dur = n / sr
    if not np.isfinite(lufs):
        return [finding(NAME, "info", 0.0, dur, -70.0, "LUFS", "integrated loudness below -70 LUFS (silent)")]
    return [finding(NAME, "info", 0.0, dur, lufs, "LUFS", f"integrated loudness {lufs:.1f} LUFS")]
