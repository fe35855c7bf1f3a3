"""Test audio for the live monitor tests: a continuous "performance" and injected defects.

Unlike a tiled loop, the performance has no seam, so a clean one must give no
alert at all, and every alert on a defective one must be an injected defect.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SR = 48000


def performance(seconds: float, *, sr: int = SR, seed: int = 0, level: float = 0.3, fade_s: float = 0.2) -> np.ndarray:
    """Plucked notes (decaying partials) on an eighth-note grid, stereo, 16-bit values; shape (2, n).

    Starts and ends with a ``fade_s`` fade, so playback from and into silence has no edge.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    out = np.zeros(n)
    step = 0.25
    for start in np.arange(0.0, seconds, step):
        f0 = 82.41 * 2 ** (int(rng.integers(0, 19)) / 12)
        i0 = int(start * sr)
        i1 = min(n, i0 + int(2.5 * sr))  # by then the note has decayed below 16-bit resolution
        tt = t[i0:i1] - start
        env = np.exp(-tt * 5.0) * (1 - np.exp(-tt * 120.0))  # 8 ms attack
        note = sum(np.sin(2 * np.pi * f0 * h * tt + rng.uniform(0, 2 * np.pi)) / h ** 1.3 for h in range(1, 7))
        out[i0:i1] += env * note
    out *= level / np.abs(out).max()
    fade = int(fade_s * sr)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
    out[:fade] *= ramp
    out[-fade:] *= ramp[::-1]
    x = np.stack([out, 0.85 * out + 0.15 * np.roll(out, 7)])
    return quantise(x)


def quantise(x: np.ndarray) -> np.ndarray:
    """Round to 16-bit values (what a PCM_16 WAV and PulseAudio's s16 sink carry), as float32."""
    return (np.clip(np.round(np.asarray(x, np.float64) * 32768.0), -32768, 32767) / 32768.0).astype(np.float32)


def add_click(x: np.ndarray, at: int, amp: float = 0.4) -> None:
    """Add a one-sample impulse to every channel at sample ``at``."""
    x[:, at] = quantise(x[:, at] + amp)


def add_clipping(x: np.ndarray, center: int, *, sigma_s: float = 0.04, gain: float = 12.0, sr: int = SR) -> None:
    """Drive the signal into the full-scale ceiling around ``center``: a smooth gain swell, then hard clipping.

    The swell is a Gaussian cut at +-6 sigma (no step where it starts or ends),
    so the only defect is the flat tops.
    """
    half = int(6 * sigma_s * sr)
    w = np.arange(-half, half)
    g = 1.0 + (gain - 1.0) * np.exp(-0.5 * (w / (sigma_s * sr)) ** 2)
    seg = x[:, center - half:center + half].astype(np.float64) * g
    x[:, center - half:center + half] = quantise(np.clip(seg, -1.0, 1.0))


def write_wav(path: Path, x: np.ndarray, sr: int = SR) -> Path:
    import soundfile as sf

    sf.write(str(path), np.asarray(x, np.float32).T, sr, subtype="PCM_16")
    return path
