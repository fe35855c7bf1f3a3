"""Realistic test signals for the quality checks, and tests that they are what they claim.

The checks must stay quiet on music with sharp attacks, so the clean signals
here are deliberately hard: plucked tones whose attack is an instant noise
burst (a pick), chords, a low sawtooth-like bass, and a drum loop with kicks,
snares and hi-hats that start abruptly. Everything is deterministic and
seamless as a loop (notes that ring past the end are folded onto the start,
as a DAW renders a loop "with tail").
"""

from __future__ import annotations

import numpy as np

SR = 48000


def _fold(out: np.ndarray, n: int) -> np.ndarray:
    """Fold a rendering longer than ``n`` onto its start (a seamless loop)."""
    y = out[..., :n].copy()
    k = n
    while k < out.shape[-1]:
        seg = out[..., k : k + n]
        y[..., : seg.shape[-1]] += seg
        k += n
    return y


def _normalise(y: np.ndarray, peak_db: float) -> np.ndarray:
    return (y / np.max(np.abs(y)) * 10 ** (peak_db / 20)).astype(np.float32)


def pluck(f0: float, dur: float, sr: int = SR, *, rng: np.random.Generator, harmonics: int = 24,
          pick: float = 0.3, brightness: float = 1.0) -> np.ndarray:
    """A plucked string: decaying harmonics (the higher, the faster) that all start at zero phase (the
    waveform is continuous but rises as steeply as a real string's), a short band-limited pick noise,
    and a 20 ms release at the end."""
    from scipy.signal import lfilter

    t = np.arange(int(dur * sr)) / sr
    y = np.zeros_like(t)
    for h in range(1, harmonics + 1):
        f = f0 * h * (1 + 0.0004 * h * h)  # slight inharmonicity
        if f > sr / 2 * 0.9:
            break
        amp = (1.0 / h) * brightness ** (h - 1)
        y += amp * np.exp(-t * (1.5 + 0.6 * h)) * np.sin(2 * np.pi * f * t)
    y /= np.max(np.abs(y))
    # the pick: noise through a 2-pole low-pass (~5 kHz), decaying in about a millisecond
    a = np.exp(-2 * np.pi * 5000 / sr)
    burst = lfilter([(1 - a) ** 2], [1, -2 * a, a * a], rng.uniform(-1, 1, t.size)) * np.exp(-t / 0.001)
    burst *= np.minimum(1.0, t / 0.0002)  # the pick touches the string: a 0.2 ms ramp, not a step
    y = y + pick * burst / max(np.abs(burst).max(), 1e-12)
    release = min(t.size, int(0.02 * sr))  # the player damps the string: a 20 ms release, not a cut
    y[-release:] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, release))
    return y


def pluck_loop(seconds: float = 2.0, *, seed: int = 0, low: float = 41.2, high: float = 330.0, chords: bool = False,
               channels: int = 2, notes_per_s: float = 4.0, peak_db: float = -6.0, sr: int = SR) -> np.ndarray:
    """Bass (``low``..) or guitar-range plucks on a grid; ``chords`` strums 3-4 notes."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros(n + sr)
    step = 1.0 / notes_per_s
    for start in np.arange(0, seconds, step):
        s = int(start * sr) + (int(rng.integers(-400, 400)) if start > 0 else 0)  # humanised timing
        root = low * 2 ** (rng.integers(0, 12) / 12)
        voices = [root, root * 2 ** (4 / 12), root * 2 ** (7 / 12), root * 2] if chords else [root]
        for k, f in enumerate(voices):
            if f > high * 2:
                continue
            off = s + int(k * 0.012 * sr) if chords else s  # strum
            note = pluck(f, step * 2.5, sr, rng=rng, brightness=0.9 if f < 100 else 0.8)
            end = min(out.size, off + note.size)
            out[off:end] += note[: end - off] * rng.uniform(0.6, 1.0)
    y = _fold(out, n)
    chans = np.stack([y * (1.0 - 0.15 * c) for c in range(channels)])
    return _normalise(chans, peak_db)


def saw_bass_loop(seconds: float = 2.0, *, seed: int = 1, peak_db: float = -6.0, sr: int = SR) -> np.ndarray:
    """A synth bass: a band-limited sawtooth oscillator with continuous phase through a fixed low-pass,
    legato notes: steep edges at every period, the click detector's classic false alarm."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    step = 0.25
    idx = np.minimum((t / step).astype(int), int(np.ceil(seconds / step)) - 1)
    notes = 41.2 * 2 ** (rng.integers(0, 12, idx.max() + 1) / 12)
    f = notes[idx]
    f *= np.round(f.sum() / sr) / (f.sum() / sr)  # a whole number of cycles: the loop is seamless
    phase = 2 * np.pi * (np.cumsum(f) - f[0]) / sr
    y = np.zeros(n)
    for h in range(1, 60):
        y += np.sin(h * phase) / h / (1 + (h / 16.0) ** 2)
    return _normalise(np.stack([y, 0.9 * y]), peak_db)


def drum_loop(seconds: float = 2.0, *, seed: int = 2, peak_db: float = -6.0, sr: int = SR) -> np.ndarray:
    """Kick, snare and hi-hats on a 16th grid, with abrupt sample starts."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros(n + sr)
    sixteenth = seconds / 16

    def fade(y, ms=10.0, attack_ms=0.3):
        k = min(y.size, int(ms * sr / 1000))
        y[-k:] *= np.linspace(1.0, 0.0, k) ** 2  # samples end in silence, not mid-waveform
        a = int(attack_ms * sr / 1000)
        y[:a] *= np.linspace(0.0, 1.0, a)  # and start with a fast but continuous attack
        return y

    def kick():
        t = np.arange(int(0.4 * sr)) / sr
        f = 45 + 110 * np.exp(-t / 0.03)
        return fade(np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.15))

    def snare():
        t = np.arange(int(0.25 * sr)) / sr
        return fade(0.6 * rng.normal(size=t.size) * np.exp(-t / 0.05)
                    + 0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.04))

    def hat(open_=False):
        t = np.arange(int((0.2 if open_ else 0.06) * sr)) / sr
        noise = np.diff(rng.normal(size=t.size + 1))
        return fade(0.25 * noise * np.exp(-t / (0.08 if open_ else 0.012)))

    for i in range(16):
        s = int(i * sixteenth * sr) + (int(rng.integers(-60, 60)) if i else 0)
        hits = [hat(open_=(i % 8 == 6))] if i % 2 == 0 else [0.6 * hat()]
        if i in (0, 6, 10):
            hits.append(kick())
        if i in (4, 12):
            hits.append(snare())
        for h in hits:
            out[s : s + h.size] += h
    y = _fold(out, n)
    return _normalise(np.stack([y, 0.8 * y + 0.2 * np.roll(y, 7)]), peak_db)


def test_signals_are_deterministic_loops():
    for make in (pluck_loop, saw_bass_loop, drum_loop):
        a, b = make(1.0), make(1.0)
        assert a.shape == (2, SR) and a.dtype == np.float32
        assert np.array_equal(a, b)
        assert abs(20 * np.log10(np.abs(a).max()) + 6.0) < 0.01


def test_plucks_have_sharp_attacks():
    x = pluck_loop(1.0, seed=3)[0]
    # the sample-to-sample step right after an onset is far above the waveform's typical step
    d = np.abs(np.diff(x))
    assert d[:48].max() > 20 * np.median(d)
