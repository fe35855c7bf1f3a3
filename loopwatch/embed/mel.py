"""Mel filterbanks and log-mel spectrograms, in numpy and in torch, without torchaudio.

The fusion CLAP checkpoint was trained on torchaudio's front end:
``MelSpectrogram(sample_rate=48000, n_fft=1024, win_length=1024, hop_length=480,
center=True, pad_mode="reflect", power=2.0, norm=None, onesided=True, n_mels=64,
f_min=50, f_max=14000)`` (HTK mel scale), then ``AmplitudeToDB(top_db=None)``,
i.e. ``10 * log10(max(power, 1e-10))``. :func:`htk_log_mel_torch` computes exactly
that with plain torch, and ``tests/test_mel.py`` checks it against librosa
(``htk=True, norm=None``) to within 1e-3 dB.
"""

from __future__ import annotations

import numpy as np


def hz_to_mel_htk(f):
    """HTK mel scale: ``2595 * log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz_htk(m):
    """Inverse of :func:`hz_to_mel_htk`."""
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular HTK-scale mel filters without area normalisation.

    Parameters
    ----------
    sr : int
        Sample rate in Hz.
    n_fft : int
        FFT size; the bank covers the ``n_fft // 2 + 1`` one-sided bins.
    n_mels : int
        Number of filters.
    fmin, fmax : float
        Lowest and highest filter edges in Hz.

    Returns
    -------
    np.ndarray
        float64, shape ``(n_mels, n_fft // 2 + 1)``; filter ``i`` rises linearly
        from ``f[i]`` to 1 at ``f[i+1]`` and falls to 0 at ``f[i+2]``, where the
        ``f`` are ``n_mels + 2`` points evenly spaced in HTK mel between fmin and fmax.
        Same as ``librosa.filters.mel(htk=True, norm=None)`` and torchaudio's
        ``melscale_fbanks(norm=None, mel_scale="htk")`` (transposed).
    """
    freqs = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)
    pts = mel_to_hz_htk(np.linspace(hz_to_mel_htk(fmin), hz_to_mel_htk(fmax), n_mels + 2))
    diff = np.diff(pts)
    slopes = pts[None, :] - freqs[:, None]  # (n_freqs, n_mels + 2)
    down = -slopes[:, :-2] / diff[:-1]
    up = slopes[:, 2:] / diff[1:]
    return np.maximum(0.0, np.minimum(down, up)).T


def htk_log_mel_torch(
    wave,
    *,
    sr: int = 48000,
    n_fft: int = 1024,
    hop: int = 480,
    n_mels: int = 64,
    fmin: float = 50.0,
    fmax: float = 14000.0,
    amin: float = 1e-10,
    filterbank=None,
    window=None,
):
    """Log-mel power spectrogram in dB, as CLAP's fusion front end computes it.

    Parameters
    ----------
    wave : torch.Tensor
        ``(samples,)`` or ``(batch, samples)`` float32.
    filterbank, window : torch.Tensor, optional
        Precomputed ``mel_filterbank(...)`` as a ``(n_mels, n_freqs)`` tensor and a
        periodic Hann window of length ``n_fft``, on the same device as ``wave``.

    Returns
    -------
    torch.Tensor
        ``(frames, n_mels)`` or ``(batch, frames, n_mels)``, with
        ``frames = samples // hop + 1`` (centred frames, reflect padding).
    """
    import torch

    squeeze = wave.dim() == 1
    if squeeze:
        wave = wave[None]
    if window is None:
        window = torch.hann_window(n_fft, periodic=True, dtype=wave.dtype, device=wave.device)
    if filterbank is None:
        filterbank = torch.as_tensor(mel_filterbank(sr, n_fft, n_mels, fmin, fmax), dtype=wave.dtype,
                                     device=wave.device)
    spec = torch.stft(wave, n_fft=n_fft, hop_length=hop, win_length=n_fft, window=window, center=True,
                      pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
    power = spec.real.square() + spec.imag.square()  # (B, n_freqs, frames)
    mel = torch.matmul(filterbank, power)  # (B, n_mels, frames)
    db = 10.0 * torch.log10(torch.clamp(mel, min=amin))
    db = db.transpose(1, 2)
    return db[0] if squeeze else db


def stft_power(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """One-sided power spectrogram of a 1-D signal, periodic Hann, centred frames (reflect padding).

    Returns float64 of shape ``(n_fft // 2 + 1, 1 + len(x) // hop)``.
    """
    x = np.asarray(x, dtype=np.float64)
    pad = n_fft // 2
    if len(x) <= pad:
        x = np.pad(x, (0, pad + 1 - len(x)))
    xp = np.pad(x, pad, mode="reflect")
    n_frames = 1 + len(x) // hop
    frames = np.lib.stride_tricks.sliding_window_view(xp, n_fft)[::hop][:n_frames]
    win = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)
    spec = np.fft.rfft(frames * win, axis=1)
    return (spec.real**2 + spec.imag**2).T
