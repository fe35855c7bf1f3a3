"""A hand-crafted encoder that needs no weights: log-mel, MFCC, spectral-shape and onset statistics.

It is loopwatch's offline fallback and the classic baseline that the paper
argues learned embeddings beat. Every feature is a summary statistic over the
whole clip, so clips of any length give a vector of the same size, and the
result does not depend on the other clips in a batch.

Layout of the 236-d vector (all computed from a 2048-point STFT, hop 512, at 48 kHz):

=========  ====  =====================================================================
slice      size  content
=========  ====  =====================================================================
0-63       64    mean over frames of the log-mel (64 HTK bands, 30 Hz-16 kHz), minus
                 the clip's mean log-mel level (spectral shape, gain invariant)
64-127     64    standard deviation over frames of each log-mel band
128-147    20    MFCC 1-20 means (DCT-II of the log-mel; c0 excluded: it is level)
148-167    20    MFCC 1-20 standard deviations
168-187    20    standard deviations of the MFCC deltas (timbre movement)
188-199    12    centroid, bandwidth, 85 % roll-off, flatness, flux, contrast-range:
                 mean and std of each (frequencies as log2(Hz/1000))
200-213    14    spectral contrast (7 octave bands): mean and std
214-221    8     level: RMS dB mean/std/p10/p90, crest factor dB, zero-crossing rate
                 mean/std, fraction of near-silent frames
222-235    14    rhythm: onset-strength mean/std/max/p90, onset rate, the
                 autocorrelation of the onset envelope at 9 lags (0.1-1 s)
=========  ====  =====================================================================
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from loopwatch.embed.base import Encoder
from loopwatch.embed.mel import mel_filterbank, stft_power

SR = 48000
N_FFT = 2048
HOP = 512
N_MELS = 64
N_MFCC = 20
FMIN, FMAX = 30.0, 16000.0
DIM = 236
_AC_LAGS_S = np.linspace(0.1, 1.0, 9)
_CONTRAST_EDGES = 200.0 * 2.0 ** np.arange(8)  # 200 Hz ... 25.6 kHz, 7 bands


def _dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II rows 1..n_out (row 0, the level term, is skipped)."""
    k = np.arange(1, n_out + 1)[:, None]
    n = np.arange(n_in)[None, :]
    return np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))


class SpectralEncoder(Encoder):
    """Weight-free summary statistics of a clip's spectrum, loudness and rhythm (236-d)."""

    name = "spectral"
    dim = DIM
    prep_version = "spectral-1"
    sample_rate = SR
    device = "cpu"

    def __init__(self) -> None:
        self._mel = mel_filterbank(SR, N_FFT, N_MELS, FMIN, FMAX)
        self._dct = _dct_matrix(N_MELS, N_MFCC)
        freqs = np.linspace(0.0, SR / 2, N_FFT // 2 + 1)
        self._freqs = freqs
        self._logf = np.log2(np.maximum(freqs, 20.0) / 1000.0)
        self._bands = [(freqs >= lo) & (freqs < hi) for lo, hi in zip(_CONTRAST_EDGES[:-1], _CONTRAST_EDGES[1:])]

    def embed(self, clips: Sequence[np.ndarray], batch_size: int | None = None) -> np.ndarray:
        out = np.empty((len(clips), DIM), dtype=np.float32)
        for i, clip in enumerate(clips):
            out[i] = self.features(np.asarray(clip, dtype=np.float32))
        return out

    def features(self, x: np.ndarray) -> np.ndarray:
        """The 236-d feature vector of one mono 48 kHz clip (see the module docstring)."""
        if x.ndim != 1:
            raise ValueError("expected a mono clip")
        if len(x) < N_FFT:
            x = np.pad(x, (0, N_FFT - len(x)))
        power = stft_power(x, N_FFT, HOP)  # (F, T)
        eps = 1e-10
        mel = self._mel @ power
        logmel = 10.0 * np.log10(mel + eps)
        level = logmel.mean()
        f = [logmel.mean(axis=1) - level, logmel.std(axis=1)]

        mfcc = self._dct @ logmel  # (20, T)
        delta = np.diff(mfcc, axis=1) if mfcc.shape[1] > 1 else np.zeros((N_MFCC, 1))
        f += [mfcc.mean(axis=1) / 10.0, mfcc.std(axis=1) / 10.0, delta.std(axis=1) / 10.0]

        mag = np.sqrt(power)
        total = power.sum(axis=0) + eps
        p = power / total
        centroid = (p * self._logf[:, None]).sum(axis=0)
        bandwidth = np.sqrt((p * (self._logf[:, None] - centroid) ** 2).sum(axis=0))
        cum = np.cumsum(p, axis=0)
        rolloff = self._logf[np.argmax(cum >= 0.85, axis=0)]
        flatness = np.exp(np.mean(np.log(power + eps), axis=0)) / (power.mean(axis=0) + eps)
        norm_mag = mag / (mag.sum(axis=0, keepdims=True) + eps)
        flux = np.sqrt((np.diff(norm_mag, axis=1).clip(min=0) ** 2).sum(axis=0)) if mag.shape[1] > 1 else np.zeros(1)
        contrast = []
        for band in self._bands:
            b = np.sort(power[band], axis=0)
            k = max(1, int(round(0.2 * b.shape[0])))
            peak = 10 * np.log10(b[-k:].mean(axis=0) + eps)
            valley = 10 * np.log10(b[:k].mean(axis=0) + eps)
            contrast.append(peak - valley)
        contrast = np.array(contrast) / 10.0  # (7, T)
        crange = contrast.max(axis=0) - contrast.min(axis=0)
        shape = []
        for v in (centroid, bandwidth, rolloff, np.log10(flatness + eps) / 5.0, flux * 10.0, crange):
            shape += [v.mean(), v.std()]
        f += [np.array(shape), contrast.mean(axis=1), contrast.std(axis=1)]

        frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]
        rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1) + eps)
        rms_db = 20 * np.log10(rms + 1e-9)
        peak = np.max(np.abs(x)) + 1e-9
        crest = 20 * np.log10(peak / (np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-9))
        signs = np.signbit(frames)
        zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
        silent = np.mean(rms_db < rms_db.max() - 50.0)
        f.append(np.array([rms_db.mean() / 20, rms_db.std() / 10, np.percentile(rms_db, 10) / 20,
                           np.percentile(rms_db, 90) / 20, crest / 10, zcr.mean() * 10, zcr.std() * 10, silent]))

        onset = np.maximum(0.0, np.diff(logmel, axis=1)).mean(axis=0) if logmel.shape[1] > 1 else np.zeros(1)
        o = onset / 10.0
        thr = o.mean() + o.std()
        peaks = (o[1:-1] > thr) & (o[1:-1] >= o[:-2]) & (o[1:-1] > o[2:]) if len(o) > 2 else np.zeros(0, bool)
        rate = peaks.sum() / (len(x) / SR)
        oc = o - o.mean()
        denom = float((oc**2).sum()) + eps
        ac = []
        for lag_s in _AC_LAGS_S:
            lag = int(round(lag_s * SR / HOP))
            ac.append(float((oc[:-lag] * oc[lag:]).sum()) / denom if 0 < lag < len(oc) else 0.0)
        f.append(np.array([o.mean(), o.std(), o.max(), np.percentile(o, 90), rate / 10.0] + ac))

        vec = np.concatenate([np.ravel(a) for a in f]).astype(np.float32)
        assert vec.shape == (DIM,), vec.shape
        return np.nan_to_num(vec, nan=0.0, posinf=0.0, neginf=0.0)
