"""Deliberately simple reference scorers: baselines the real detectors and checks must beat.

They exist so the harness can be run, and its numbers sanity-checked, before
(and alongside) ``loopwatch.detect`` and ``loopwatch.checks``. None of them is
used by loopwatch itself.

Features (inputs for detectors; not embeddings)
    ``level``: the RMS level in dBFS, one number per file.
    ``basic``: six classic descriptors (RMS, crest factor, spectral centroid,
    85 % roll-off, spectral flatness, zero-crossing rate).

Detectors (the ``fit(X_train, X_val)`` / ``score_samples(X)`` interface)
    ``mean-distance``: Euclidean distance to the training mean after
    standardising with training statistics.
    ``knn``: mean distance to the 5 nearest training vectors (standardised).

Checks (``check(audio) -> list[Finding]``)
    Naive versions of clipping, DC offset, edge silence, polarity and click
    detection, each a few lines.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from loopwatch.findings import Finding

# --- features --------------------------------------------------------------------------------------

BASIC_FEATURES = ("rms_dbfs", "crest_db", "centroid_log2", "rolloff_log2", "flatness_db", "zcr")


def level_features(mono: np.ndarray, sr: int = 48000) -> np.ndarray:
    """``[RMS dBFS]`` of a mono signal."""
    x = np.asarray(mono, dtype=np.float64)
    return np.array([20 * np.log10(max(np.sqrt(np.mean(x * x)) if x.size else 0.0, 1e-9))])


def basic_features(mono: np.ndarray, sr: int = 48000) -> np.ndarray:
    """Six descriptors of a mono signal (see :data:`BASIC_FEATURES`), from its average power spectrum."""
    x = np.asarray(mono, dtype=np.float64)
    if x.size < 2048:
        x = np.pad(x, (0, 2048 - x.size))
    rms = np.sqrt(np.mean(x * x))
    pk = np.max(np.abs(x))
    nfft = 2048
    frames = x[: (x.size // nfft) * nfft].reshape(-1, nfft) * np.hanning(nfft)
    ps = np.mean(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0) + 1e-20
    f = np.fft.rfftfreq(nfft, 1.0 / sr)
    centroid = np.sum(f * ps) / np.sum(ps)
    cum = np.cumsum(ps) / np.sum(ps)
    rolloff = f[min(int(np.searchsorted(cum, 0.85)), f.size - 1)]
    flat = np.exp(np.mean(np.log(ps))) / np.mean(ps)
    zcr = np.mean(np.abs(np.diff(np.signbit(x).astype(np.int8)))) if x.size > 1 else 0.0
    return np.array([
        20 * np.log10(max(rms, 1e-9)),
        20 * np.log10(max(pk, 1e-9) / max(rms, 1e-9)),
        np.log2(max(centroid, 1.0)),
        np.log2(max(rolloff, 1.0)),
        10 * np.log10(max(flat, 1e-12)),
        zcr,
    ])


FEATURES: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {"level": level_features, "basic": basic_features}


# --- detectors -------------------------------------------------------------------------------------


class _Standardised:
    def _fit_scaler(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] < 2:
            raise ValueError(f"need at least 2 training vectors of shape (n, dim), got {X.shape}")
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.scale_ = np.where(sd > 1e-12, sd, 1.0)
        return (X - self.mean_) / self.scale_

    def _z(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_


class MeanDistance(_Standardised):
    """Score = Euclidean distance to the training mean in standardised space."""

    name = "mean-distance"

    def fit(self, X_train: np.ndarray, X_val: np.ndarray | None = None) -> "MeanDistance":
        self._fit_scaler(X_train)
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        return np.linalg.norm(self._z(X), axis=1)


class KNNDistance(_Standardised):
    """Score = mean Euclidean distance to the ``k`` nearest training vectors (standardised)."""

    name = "knn"

    def __init__(self, k: int = 5):
        self.k = k

    def fit(self, X_train: np.ndarray, X_val: np.ndarray | None = None) -> "KNNDistance":
        self.train_ = self._fit_scaler(X_train)
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        Z = self._z(X)
        k = min(self.k, self.train_.shape[0])
        out = np.empty(Z.shape[0])
        for i0 in range(0, Z.shape[0], 256):
            d = np.sqrt(np.maximum(
                np.sum(Z[i0 : i0 + 256, None, :] ** 2, axis=2) - 2 * Z[i0 : i0 + 256] @ self.train_.T
                + np.sum(self.train_**2, axis=1)[None, :], 0.0))
            out[i0 : i0 + 256] = np.mean(np.sort(d, axis=1)[:, :k], axis=1)
        return out


DETECTORS: dict[str, Callable[[], object]] = {"mean-distance": MeanDistance, "knn": KNNDistance}


# --- checks ----------------------------------------------------------------------------------------

FULL_SCALE = 0.999
SILENCE = 2.0**-20


def ref_clipping(audio) -> list[Finding]:
    """Runs of at least 2 samples at or above 0.999 of full scale (naive)."""
    x = np.abs(audio.data) >= FULL_SCALE
    run = np.any(x[:, 1:] & x[:, :-1], axis=0)
    idx = np.flatnonzero(run)
    if idx.size == 0:
        return []
    t0, t1 = idx[0] / audio.sr, (idx[-1] + 2) / audio.sr
    return [Finding("clipping", "error", t0, t1, float(idx.size), "samples",
                    f"{idx.size} clipped sample pairs between {t0:.3f} and {t1:.3f} s")]


def ref_dc_offset(audio) -> list[Finding]:
    """Mean of any channel beyond -50 dBFS (naive)."""
    m = np.mean(audio.data, axis=1)
    worst = float(np.max(np.abs(m)))
    if worst < 10 ** (-50 / 20):
        return []
    d = 20 * np.log10(worst)
    return [Finding("dc-offset", "warn", 0.0, audio.duration, d, "dBFS", f"DC offset {d:.1f} dBFS")]


def ref_edge_silence(audio) -> list[Finding]:
    """Digital silence of 5 ms or more at the start or the end (naive)."""
    quiet = np.all(np.abs(audio.data) < SILENCE, axis=0)
    n = quiet.size
    out = []
    lead = int(np.argmin(quiet)) if not quiet.all() else n
    trail = int(np.argmin(quiet[::-1])) if not quiet.all() else n
    min_len = int(0.005 * audio.sr)
    if lead >= min_len:
        out.append(Finding("silence", "warn", 0.0, lead / audio.sr, lead / audio.sr * 1000, "ms",
                           f"{lead / audio.sr * 1000:.0f} ms of leading silence"))
    if trail >= min_len and trail < n:
        out.append(Finding("silence", "warn", (n - trail) / audio.sr, n / audio.sr, trail / audio.sr * 1000, "ms",
                           f"{trail / audio.sr * 1000:.0f} ms of trailing silence"))
    return out


def ref_polarity(audio) -> list[Finding]:
    """Correlation of the first two channels below -0.5 (naive)."""
    if audio.channels < 2:
        return []
    l, r = audio.data[0].astype(np.float64), audio.data[1].astype(np.float64)
    den = np.sqrt(np.sum(l * l) * np.sum(r * r))
    if den == 0:
        return []
    c = float(np.sum(l * r) / den)
    if c >= -0.5:
        return []
    return [Finding("stereo", "warn", 0.0, audio.duration, c, "corr", f"channels in opposite polarity (r = {c:.2f})")]


def ref_click(audio) -> list[Finding]:
    """Second differences 12x above the local level (90th percentile in 10 ms windows, max over
    neighbours); naive: no LPC, no masking model."""
    from scipy.ndimage import maximum_filter1d

    x = audio.data.astype(np.float64)
    if x.shape[1] < 3:
        return []
    d2 = np.abs(np.diff(x, n=2, axis=1)).max(axis=0)
    win = int(0.01 * audio.sr)
    nb = d2.size // win
    if nb < 1:
        return []
    level = maximum_filter1d(np.percentile(d2[: nb * win].reshape(nb, win), 90, axis=1), 3)
    level = np.repeat(np.maximum(level, 1e-5), win)
    level = np.concatenate([level, np.full(d2.size - level.size, level[-1])])
    ratio = d2 / level
    out = []
    last = -(10**9)
    for h in np.flatnonzero(ratio > 12.0):
        if h - last < win:
            continue
        last = h
        t = (h + 1) / audio.sr
        out.append(Finding("click", "warn", t, t, float(ratio[h]), "x", f"click at {t:.3f} s ({ratio[h]:.0f}x local level)"))
    return out


CHECKS: dict[str, Callable] = {
    "ref-clipping": ref_clipping,
    "ref-dc-offset": ref_dc_offset,
    "ref-silence": ref_edge_silence,
    "ref-polarity": ref_polarity,
    "ref-click": ref_click,
}


for _fn, _name in ((ref_clipping, "clipping"), (ref_dc_offset, "dc-offset"), (ref_edge_silence, "silence"),
                   (ref_polarity, "stereo"), (ref_click, "click")):
    _fn.check_names = (_name,)  # what the harness may expect from it (see harness.declared_names)


def all_reference_checks(audio) -> list[Finding]:
    """Every reference check on ``audio``."""
    out: list[Finding] = []
    for fn in CHECKS.values():
        out.extend(fn(audio))
    return out


all_reference_checks.check_names = tuple(n for fn in CHECKS.values() for n in fn.check_names)
