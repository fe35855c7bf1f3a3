"""Block-adaptive linear prediction: the shared engine of the click, discontinuity and seam checks.

The signal is cut into hops of ``hop`` samples. For each hop an all-pole
(autoregressive) model of order ``p`` is fitted by the autocorrelation method on
a Hann-windowed span of ``hop + 2p`` samples around the hop (pooled with its
neighbours' so that each model has seen about 64 ms), and the hop is passed
through its inverse filter ``A(z) = 1 + a_1 z^-1 + ... + a_p z^-p``.
What is left, the *residual* ``e[n]``, is close to white for music the model
describes, and an additive impulse of amplitude ``A`` at ``n0`` shows up in it as
``A * a[n - n0]`` (the inverse filter's impulse response).

The click detector correlates the residual with that response (the matched
filter of Vaseghi & Rayner, and of Godsill & Rayner's "two-sided" detector):

``m[n] = sum_k a_k e[n + k]``

whose peak for an impulse is ``A * sum_k a_k**2`` at ``n0`` exactly, while the
residual's noise is gained only by ``sqrt(sum_k a_k**2)``. For strongly
predictable material (bass, sustained guitar) that is a gain of 10-30 dB over
thresholding the raw residual, and the peak sits on the impulse's own sample,
which is what makes the localisation sample-accurate.

Everything is vectorised over hops; no Python loop runs per sample or per hop.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft as sfft


def frame_starts(n: int, hop: int) -> np.ndarray:
    """Start index of each hop covering ``n`` samples (the last hop may be partial)."""
    return np.arange(0, max(n, 1), hop)


def levinson(r: np.ndarray, order: int) -> np.ndarray:
    """Batched Levinson-Durbin recursion.

    Parameters
    ----------
    r : np.ndarray, shape (blocks, order + 1)
        Autocorrelation lags 0..order of each block (lag 0 > 0; callers add a
        small floor so silent blocks stay well conditioned).
    order : int
        Model order ``p``.

    Returns
    -------
    a : np.ndarray, shape (blocks, order + 1)
        Inverse-filter coefficients with ``a[:, 0] == 1``.
    """
    nb = r.shape[0]
    a = np.zeros((nb, order + 1), dtype=np.float64)
    a[:, 0] = 1.0
    err = r[:, 0].astype(np.float64).copy()
    for i in range(1, order + 1):
        acc = r[:, i] + np.einsum("bj,bj->b", a[:, 1:i], r[:, i - 1 : 0 : -1]) if i > 1 else r[:, 1].astype(np.float64)
        # |k| < 1 keeps the filter minimum-phase; the clamp only bites on
        # (numerically) singular input such as pure DC or a single sinusoid
        k = np.clip(-acc / err, -0.9999, 0.9999)
        # a_j <- a_j + k * a_{i-j}
        if i > 1:
            a[:, 1:i] = a[:, 1:i] + k[:, None] * a[:, i - 1 : 0 : -1]
        a[:, i] = k
        err = err * (1.0 - k * k)
        err = np.maximum(err, 1e-30)
    return a


@functools.lru_cache(maxsize=16)
def _cos_matrix(nfft: int, order: int) -> np.ndarray:
    """Matrix turning a one-sided power spectrum (nfft//2+1 bins) into autocorrelation lags 0..order."""
    nb = nfft // 2 + 1
    c = np.cos(2 * np.pi * np.outer(np.arange(nb), np.arange(order + 1)) / nfft) / nfft
    c[1 : nb - 1 if nfft % 2 == 0 else nb] *= 2.0
    c.setflags(write=False)
    return c


def detection_signal(x: np.ndarray, order: int = 24, hop: int = 1024, *, white_db: float = -60.0,
                     floor_dbfs: float = -100.0, smooth: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Matched-filter click detection signal of a 1-D signal, computed in one FFT pass.

    Each hop ``[s, s + hop)`` is analysed in the frame ``[s - p, s + hop + p)``
    (``p = order``; zeros beyond the ends). One forward FFT per frame gives both
    the LPC fit (Hann windowing is applied in the frequency domain, exact because
    the window spans the FFT) and the filtering: the matched filter ``A(z) A(1/z)``
    is zero-phase with half-length ``p``, so the circular convolution is exact on
    the hop's own samples. The output is scaled by ``1 / sqrt(sum_k a_k**2)``,
    so white residual of deviation ``s`` gives ``m`` of deviation ``s`` and an
    impulse of amplitude ``A`` peaks at ``A * gain``.

    Returns
    -------
    m : np.ndarray, float32, same length as ``x``
    gain : np.ndarray, float64, shape (n_hops,)
        ``sqrt(sum_k a_k**2)`` of each hop (amplitude of an impulse = ``m / gain``).
    """
    x = np.asarray(x, dtype=np.float32)
    n = x.shape[-1]
    p = int(order)
    starts = frame_starts(n, hop)
    nb = len(starts)
    frame = hop + 2 * p
    nfft = sfft.next_fast_len(frame, real=True)
    nbins = nfft // 2 + 1
    # float64: the LPC normal equations of tonal material are ill-conditioned
    # (condition numbers up to ~1e6 with the regularisation below), so lags
    # need ~1e-12 relative precision; float32 spectra give garbage filters.
    buf = np.zeros(nb * hop + 2 * p + (nfft - frame), dtype=np.float64)
    buf[p : p + n] = x
    frames = np.lib.stride_tricks.as_strided(buf, shape=(nb, nfft), strides=(hop * 8, 8))
    # The work is done in chunks of hops, so that every temporary stays small
    # (a few hundred kB): large temporaries are fresh memory from the OS on
    # every call on some allocators, and touching it costs more than the FFTs.
    chunk = max(1, _CHUNK_BYTES // (16 * nbins))
    cos = _cos_matrix(nfft, p)
    r = np.empty((nb, p + 1))
    spec_all = np.empty((nb, nbins), dtype=np.complex64)  # kept for the filtering pass
    for c0 in range(0, nb, chunk):
        c1 = min(nb, c0 + chunk)
        spec = sfft.rfft(frames[c0:c1], axis=1)  # frames longer than `frame` only add zeros/neighbour samples
        spec_all[c0:c1] = spec
        # Hann over the analysed frame, applied as a 3-tap convolution across
        # bins (periodic Hann spanning the FFT length): w_k = X_k / 2 -
        # (X_{k-1} + X_{k+1}) / 4, the neighbours at the ends by conjugate symmetry
        w = np.empty_like(spec)
        np.add(spec[:, :-2], spec[:, 2:], out=w[:, 1:-1])
        w[:, 0] = 2.0 * spec[:, 1].real
        w[:, -1] = 2.0 * spec[:, -2].real if nfft % 2 == 0 else 2.0 * spec[:, -1].real
        w *= -0.25
        spec *= 0.5
        w += spec
        wv = w.view(np.float64).reshape(c1 - c0, nbins, 2)
        r[c0:c1] = np.einsum("ijk,ijk->ij", wv, wv) @ cos
    if smooth and nb > 2:
        # Fit each hop's model on its neighbours too (triangular weights over
        # three hops, ~64 ms): a model that has seen the waveform's recurring
        # features (the edges of a sawtooth bass every 20-25 ms) treats them
        # alike in every hop, instead of flagging whichever edge falls in a hop
        # that happened to contain none.
        rs = r.copy()
        rs[1:] += 0.5 * r[:-1]
        rs[:-1] += 0.5 * r[1:]
        r = rs
    # Regularise (white-noise correction): a floor 60 dB under the frame's power
    # and an absolute floor at -100 dBFS. Without it, near-pure tones over 16-bit
    # silence give inverse filters with gains of 10^4 that whiten the
    # quantisation noise instead of the music; 60 dB of whitening range is
    # plenty for clicks, which matter from about 40 dB under the music.
    r[:, 0] = r[:, 0] * (1.0 + 10.0 ** (white_db / 10.0)) + 0.375 * nfft * 10.0 ** (floor_dbfs / 10.0)
    r *= _lag_window(p)[None, :]
    a = levinson(r, p)
    gain = np.sqrt((a * a).sum(axis=1))
    # |A(f)|^2 / sum a^2 on the FFT grid: the zero-phase matched filter
    ra = np.empty((nb, p + 1))
    for k in range(p + 1):
        ra[:, k] = np.einsum("bj,bj->b", a[:, : p + 1 - k], a[:, k:])
    ra /= gain[:, None]
    lag_bins = _lag_to_bins(nfft, p).astype(np.float32)
    ra32 = ra.astype(np.float32)
    out = np.empty(nb * hop, dtype=np.float32)
    for c0 in range(0, nb, chunk):
        c1 = min(nb, c0 + chunk)
        # |A(f)|^2 = r_a(0) + 2 sum_k r_a(k) cos(2 pi f k / N); the filtering
        # itself needs no more than float32 (the output is float32 too)
        sp = spec_all[c0:c1]
        sp *= ra32[c0:c1] @ lag_bins
        out[c0 * hop : c1 * hop] = sfft.irfft(sp, n=nfft, axis=1)[:, p : p + hop].reshape(-1)
    return out[:n], gain


#: Working-set size of one chunk of :func:`detection_signal` (spectra of this many bytes).
_CHUNK_BYTES = 256 * 1024


@functools.lru_cache(maxsize=16)
def _lag_to_bins(nfft: int, order: int) -> np.ndarray:
    nb = nfft // 2 + 1
    c = np.cos(2 * np.pi * np.outer(np.arange(order + 1), np.arange(nb)) / nfft)
    c[1:] *= 2.0
    c.setflags(write=False)
    return c


@functools.lru_cache(maxsize=16)
def _lag_window(order: int) -> np.ndarray:
    lag = np.arange(order + 1)
    return np.exp(-0.5 * (2 * np.pi * 40.0 / 48000.0 * lag) ** 2)
