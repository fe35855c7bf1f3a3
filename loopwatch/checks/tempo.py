"""Length vs tempo: is the loop a whole number of beats (and bars) long?

The tempo comes, in order of preference, from

1. the WAV ``acid`` chunk (what ACID, Ableton Live, FL Studio and REAPER
   write into "acidized" loops: tempo, number of beats, meter),
2. the file name (``bass_120bpm.wav``, ``Loop 92 BPM.aif``, ``bpm140_kick``),
3. an estimate from the audio (autocorrelation of an onset envelope, taken
   round the loop).

With a tempo, the length in beats is ``duration * bpm / 60``; the error is the
distance to the nearest whole number of beats (or to the ``acid`` chunk's
beat count), in milliseconds. An estimated tempo is never exact, so then the
loop is only reported when no tempo near the estimate makes its length whole.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loopwatch.checks._common import as_array, finding
from loopwatch.findings import Finding

NAME = "length"
ACID_PAYLOAD = 24


@dataclass(frozen=True)
class Acid:
    """The fields of a WAV ``acid`` chunk that matter here."""

    tempo: float
    beats: int
    numerator: int
    denominator: int
    one_shot: bool


def read_acid(path: str | os.PathLike) -> Acid | None:
    """Return the ``acid`` chunk of a RIFF/WAVE (or RF64) file, or None when there is none or it is unreadable.

    Layout (little-endian, 24 bytes): uint32 flags (0x01 one-shot), uint16 root
    note, uint16, float32, uint32 beats, uint16 meter denominator, uint16 meter
    numerator, float32 tempo.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64", b"BW64") or head[8:12] != b"WAVE":
                return None
            size = os.fstat(fh.fileno()).st_size
            pos = 12
            for _ in range(10000):
                if pos + 8 > size:
                    return None
                fh.seek(pos)
                hdr = fh.read(8)
                if len(hdr) < 8:
                    return None
                cid, clen = hdr[:4], struct.unpack("<I", hdr[4:])[0]
                if cid == b"acid" and clen >= ACID_PAYLOAD:
                    payload = fh.read(ACID_PAYLOAD)
                    if len(payload) < ACID_PAYLOAD:
                        return None
                    flags, _root, _u1, _u2, beats, den, num, tempo = struct.unpack("<IHHfIHHf", payload)
                    if not (np.isfinite(tempo) and 10.0 <= tempo <= 999.0):
                        return None
                    return Acid(float(tempo), int(beats), int(num), int(den), bool(flags & 0x01))
                if cid == b"data" and clen in (0, 0xFFFFFFFF):
                    return None  # RF64 placeholder sizes: nothing reliable follows
                pos += 8 + clen + (clen & 1)
    except OSError:
        return None
    return None


_BPM_RE = (
    re.compile(r"(?<![\d.])(\d{2,3}(?:[.,]\d{1,3})?)\s*[-_ ]?\s*bpm(?![a-z])", re.IGNORECASE),
    re.compile(r"(?<![a-z])bpm\s*[-_ ]?\s*(\d{2,3}(?:[.,]\d{1,3})?)(?![\d])", re.IGNORECASE),
)


def tempo_from_name(name: str | os.PathLike, *, lo: float = 40.0, hi: float = 300.0) -> float | None:
    """Tempo written in a file name (``..._120bpm...``, ``92 BPM``, ``bpm-140``, ``87.5bpm``), or None."""
    stem = Path(name).stem
    for rx in _BPM_RE:
        for m in rx.finditer(stem):
            v = float(m.group(1).replace(",", "."))
            if lo <= v <= hi:
                return v
    return None


def loop_tempo(path: str | os.PathLike | None, bpm: float | None = None) -> tuple[float | None, int | None, str]:
    """The tempo a loop declares: ``(bpm, beats or None, source)``; ``(None, None, "")`` when it declares none.

    ``bpm`` given wins; then the ``acid`` chunk of ``path`` (with its beat
    count), then a tempo in the file name.
    """
    if bpm is not None:
        return float(bpm), None, "given"
    if path is None:
        return None, None, ""
    acid = read_acid(path)
    if acid is not None and not acid.one_shot:
        return acid.tempo, (acid.beats if acid.beats > 0 else None), "acid chunk"
    t = tempo_from_name(path)
    if t is not None:
        return t, None, "file name"
    return None, None, ""


def onset_envelope(x: np.ndarray, sr: int = 48000, hop: int = 256) -> tuple[np.ndarray, float]:
    """Half-wave rectified log-energy flux of the first difference (a cheap high-frequency onset curve).

    Returns ``(envelope, frame_rate)``.
    """
    mono = np.asarray(x, dtype=np.float32)
    if mono.ndim == 2:
        mono = mono.mean(axis=0)
    d = np.diff(mono, prepend=mono[:1])
    nf = d.size // hop
    if nf < 4:
        return np.zeros(0), sr / hop
    blocks = d[: nf * hop].reshape(nf, hop)
    e = np.log10(np.einsum("ij,ij->i", blocks, blocks, dtype=np.float64) / hop + 1e-10)
    flux = np.maximum(0.0, np.diff(e, prepend=e[-1]))  # circular: the loop's first frame follows its last
    return flux - flux.mean(), sr / hop


def estimate_tempo(x: np.ndarray, sr: int = 48000, *, lo: float = 60.0, hi: float = 180.0) -> tuple[float, float]:
    """Estimate the tempo of a loop: ``(bpm, confidence)``; ``(0.0, 0.0)`` when there is nothing to go on.

    The onset envelope's circular autocorrelation is searched for the beat lag
    in ``lo``-``hi`` BPM (with a mild preference for 90-140 BPM), refined
    by parabolic interpolation. Confidence is the normalised autocorrelation
    at that lag (0-1).
    """
    env, fr = onset_envelope(x, sr)
    if env.size < 8 or not np.any(env):
        return 0.0, 0.0
    f = np.fft.rfft(env, 2 * env.size)
    ac = np.fft.irfft(f * np.conj(f))[: env.size]
    ac_c = np.fft.irfft(np.abs(np.fft.rfft(env)) ** 2, env.size)  # circular (loop)
    ac = 0.5 * (ac + ac_c)
    if ac[0] <= 0:
        return 0.0, 0.0
    ac = ac / ac[0]
    lag_lo, lag_hi = int(np.floor(60.0 * fr / hi)), int(np.ceil(60.0 * fr / lo))
    lag_hi = min(lag_hi, env.size // 2)
    if lag_hi <= lag_lo + 1:
        return 0.0, 0.0
    lags = np.arange(max(1, lag_lo), lag_hi + 1)
    bpm = 60.0 * fr / lags
    weight = np.exp(-0.5 * (np.log2(bpm / 115.0) / 0.9) ** 2)
    i = int(np.argmax(ac[lags] * weight))
    lag = float(lags[i])
    if 0 < i < lags.size - 1:
        y0, y1, y2 = ac[lags[i] - 1], ac[lags[i]], ac[lags[i] + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            lag += 0.5 * (y0 - y2) / den
    return float(60.0 * fr / lag), float(max(0.0, ac[lags[i]]))


def check_length(
    audio,
    sr: int | None = None,
    *,
    path: str | os.PathLike | None = None,
    bpm: float | None = None,
    tolerance_ms: float = 2.0,
    error_ms: float = 20.0,
    estimate: bool = True,
    estimate_tolerance: float = 0.02,
    min_confidence: float = 0.15,
) -> list[Finding]:
    """Report a loop whose length is not a whole number of beats at its tempo.

    Parameters
    ----------
    path : path-like, optional
        The file (for its ``acid`` chunk and name). Defaults to ``audio.path``.
    bpm : float, optional
        Tempo to use, overriding everything else.
    tolerance_ms : float
        Length errors up to this are fine: 2 ms covers rounding to whole
        samples after sample-rate conversion; beyond it a loop that repeats
        16 times drifts by a 32nd note at 120 BPM.
    error_ms : float
        Errors from this size (the length of a short drum hit) are ``error``.
    estimate : bool
        Estimate the tempo from the audio when neither the chunk nor the name gives one.
    estimate_tolerance : float
        With an estimated tempo, the loop is fine when some whole number of
        beats gives a tempo within this fraction (2 %) of the estimate.
    min_confidence : float
        Ignore estimates with a weaker autocorrelation peak than this.

    Returns
    -------
    list of Finding
        ``value`` = length error in ms (signed: positive = too long), spanning
        the part of the file beyond (or missing before) the last whole beat.
    """
    x, sr = as_array(audio, sr)
    n = x.shape[1]
    if n == 0:
        return []
    dur = n / sr
    if path is None:
        path = getattr(audio, "path", None)
        if path == "<array>":
            path = None
    num = 4
    tempo, beats_hint, source = loop_tempo(path, bpm)
    if source == "acid chunk":
        acid = read_acid(path)
        num = acid.numerator if acid is not None and acid.numerator > 0 else 4
    if tempo is not None:
        beat_s = 60.0 / tempo
        beats = dur / beat_s
        whole = int(beats_hint) if beats_hint else max(1, int(round(beats)))
        err_ms = (dur - whole * beat_s) * 1000.0
        if abs(err_ms) <= tolerance_ms:
            if whole % num and beats_hint is None:
                return [finding(NAME, "info", 0.0, dur, float(whole), "beats",
                                f"length {dur:.3f} s is {whole} beats at {tempo:g} BPM ({source}): "
                                f"not a whole number of {num}/4 bars")]
            return []
        sev = "error" if abs(err_ms) >= error_ms else "warn"
        t_whole = whole * beat_s
        t0, t1 = (min(t_whole, dur), max(t_whole, dur))
        word = "too long" if err_ms > 0 else "too short"
        return [finding(NAME, sev, t0, t1, err_ms, "ms",
                        f"length {dur:.3f} s is {beats:.3f} beats at {tempo:g} BPM ({source}): "
                        f"{abs(err_ms):.1f} ms {word} for {whole} beats")]
    if not estimate:
        return []
    est, conf = estimate_tempo(x, sr)
    if est <= 0 or conf < min_confidence:
        return []
    beats = dur * est / 60.0
    whole = max(1, int(round(beats)))
    fit_bpm = 60.0 * whole / dur
    if abs(fit_bpm / est - 1.0) <= estimate_tolerance:
        return []
    err_ms = (dur - whole * 60.0 / est) * 1000.0
    t_whole = whole * 60.0 / est
    return [finding(NAME, "info", min(t_whole, dur), max(t_whole, dur), err_ms, "ms",
                    f"length {dur:.3f} s is {beats:.2f} beats at ~{est:.0f} BPM (estimated, no tempo in the "
                    f"file or its name): {abs(err_ms):.0f} ms off a whole beat")]
