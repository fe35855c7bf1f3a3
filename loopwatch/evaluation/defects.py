"""Inject graded, exactly located defects into clean loops.

Each defect kind is a plain function ``(x, strength, rng) -> Injection`` over a
float array of shape ``(channels, samples)`` at 48 kHz. The :class:`Injection`
holds the new audio and the ``[start, end)`` sample spans *in the new audio*
where the defect is. :data:`DEFECTS` lists every kind with the quality check
expected to find it, its unit, its graded strengths and its default strength.

Default strengths (and why)
---------------------------
=================  ===========  =================================  =========  ====================================
kind               check        grades                             default    reasoning
=================  ===========  =================================  =========  ====================================
click              click        -40, -30, -20, -10 dBFS peak       -30 dBFS   a digital tick; -40 is the target bar
click-multi        click        -40, -30, -20, -10 dBFS peak       -30 dBFS   2-12 sample bursts, steps, rings
dropout            dropout      1, 5, 20 ms of zeros               5 ms       one 256-sample buffer underrun
clipping           clipping     +1, +3, +6 dB over full scale      +3 dB      a gain stage driven 3 dB too hot
white-noise        noise        40, 30, 20, 10 dB SNR              20 dB      hiss of a noisy chain
pink-noise         noise        40, 30, 20, 10 dB SNR              20 dB      ambient / preamp noise
hum                hum          -60, -50, -40, -30 dBFS            -40 dBFS   ground-loop hum, 50 or 60 Hz + harmonics
dc-offset          dc-offset    -46, -40, -34, -28 dBFS            -34 dBFS   2 % offset of a faulty converter
seam               seam         -36, -30, -24, -18 dBFS jump       -24 dBFS   loop cut a few ms short: end != start
polarity           stereo       inverted                           inverted   one channel's polarity flipped
leading-silence    silence      20, 50, 250 ms                     50 ms      export or latency offset at the start
trailing-silence   silence      20, 50, 250 ms                     50 ms      export range too long at the end
=================  ===========  =================================  =========  ====================================

Levels in dBFS are peak amplitudes relative to full scale (1.0), except hum,
whose level follows AES17 (RMS + 3 dB, so a full-scale sine is 0 dBFS). SNR
is the ratio of the loop's power to the added noise's power over the file.
Silence grades start at 20 ms because shorter edge gaps occur in clean loops
(a one-shot sample that has played out before the bar ends). Clicks and
dropouts go where the loop is sounding (a 10 ms frame within
30 dB of the loudest), at least 20 ms from either end.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from loopwatch.evaluation.levels import db, peak, undb

SR = 48000
EDGE_MARGIN_S = 0.02
FRAME_S = 0.01
ACTIVE_RANGE_DB = 30.0
#: Clipped samples closer than this are reported as one span.
CLIP_MERGE_S = 0.002


class InjectionError(Exception):
    """This defect cannot be injected into this loop (e.g. a polarity flip into mono)."""


@dataclass
class Injection:
    """The result of injecting one defect.

    Attributes
    ----------
    audio : np.ndarray
        float64 ``(channels, samples)``; may be longer or shorter than the input.
    spans : list of (int, int)
        ``[start, end)`` sample indices in ``audio`` where the defect is.
    params : dict
        What was drawn (position, shape, frequency, measured values).
    """

    audio: np.ndarray
    spans: list[tuple[int, int]]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DefectKind:
    """One kind of defect and how it is graded."""

    name: str
    check: str
    unit: str
    grades: tuple[float, ...]
    default: float
    localised: bool
    inject: Callable[[np.ndarray, float, np.random.Generator], Injection]
    label_fmt: str
    description: str

    def label(self, strength: float) -> str:
        return self.label_fmt.format(s=strength)


# --- helpers ------------------------------------------------------------------------------------


def _as2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] == 0:
        raise InjectionError(f"expected (channels, samples) audio, got shape {np.shape(x)}")
    return x


def frame_rms(x: np.ndarray, frame: int) -> np.ndarray:
    """RMS (over channels) of consecutive ``frame``-sample frames; the last partial frame is dropped."""
    n = x.shape[1] // frame
    if n == 0:
        return np.zeros(0)
    p = np.mean(np.square(x[:, : n * frame]).reshape(x.shape[0], n, frame), axis=(0, 2))
    return np.sqrt(p)


def active_positions(x: np.ndarray, length: int = 1, *, range_db: float = ACTIVE_RANGE_DB) -> np.ndarray:
    """Start indices where a ``length``-sample defect lies inside sound.

    A position qualifies when every 10 ms frame the span touches, and the
    frames either side, are within ``range_db`` of the loudest frame, and the
    span keeps 20 ms from both ends of the file.
    """
    frame = int(FRAME_S * SR)
    rms = frame_rms(x, frame)
    if rms.size < 3 or rms.max() <= 0:
        return np.zeros(0, dtype=np.int64)
    ok = rms >= rms.max() * undb(-range_db)
    # frames whose neighbours are also sounding
    good = ok.copy()
    good[1:] &= ok[:-1]
    good[:-1] &= ok[1:]
    margin = int(EDGE_MARGIN_S * SR)
    starts = np.arange(margin, x.shape[1] - margin - length)
    if starts.size == 0:
        return starts
    first = starts // frame
    last = np.minimum((starts + length - 1) // frame, rms.size - 1)
    in_range = first < rms.size
    starts, first, last = starts[in_range], first[in_range], last[in_range]
    # all frames between first and last good: use a cumulative count of bad frames
    bad = np.concatenate([[0], np.cumsum(~good)])
    sel = (bad[last + 1] - bad[first]) == 0
    return starts[sel]


def _pick(rng: np.random.Generator, candidates: np.ndarray, what: str) -> int:
    if candidates.size == 0:
        raise InjectionError(f"no place inside sound for {what}")
    return int(candidates[int(rng.integers(candidates.size))])


def _runs(mask: np.ndarray, merge: int = 0) -> list[tuple[int, int]]:
    """``[start, end)`` runs of True in ``mask``; runs separated by fewer than ``merge`` False samples join."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > merge + 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]]) + 1
    return [(int(a), int(b)) for a, b in zip(starts, ends)]


def _keep_headroom(y: np.ndarray, params: dict[str, Any], ceiling: float = 0.98) -> np.ndarray:
    """Scale down a result that would clip (and record by how much), so clipping stays its own defect."""
    p = peak(y)
    if p > ceiling:
        params["rescaled_db"] = round(float(db(ceiling / p)), 3)
        return y * (ceiling / p)
    return y


def pink_noise(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Gaussian noise with a 1/f power spectrum from 20 Hz up (flat below), unit RMS per channel."""
    ch, n = shape
    f = np.fft.rfftfreq(n, 1.0 / SR)
    amp = 1.0 / np.sqrt(np.maximum(f, 20.0))
    amp[0] = 0.0
    spec = (rng.normal(size=(ch, f.size)) + 1j * rng.normal(size=(ch, f.size))) * amp
    y = np.fft.irfft(spec, n, axis=1)
    return y / np.sqrt(np.mean(y**2, axis=1, keepdims=True))


# --- the defects ----------------------------------------------------------------------------------


def inject_click(x: np.ndarray, strength: float, rng: np.random.Generator) -> Injection:
    """A single-sample impulse of ``strength`` dBFS peak amplitude, in both channels, inside sound."""
    x = _as2d(x)
    p = _pick(rng, active_positions(x, 1), "a click")
    amp = undb(strength)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    if np.any(np.abs(x[:, p] + sign * amp) > 1.0):
        sign = -sign
    y = x.copy()
    y[:, p] += sign * amp
    return Injection(y, [(p, p + 1)], {"position": p, "sign": sign, "amplitude": amp})


def inject_click_multi(x: np.ndarray, strength: float, rng: np.random.Generator) -> Injection:
    """A 2-12 sample click of ``strength`` dBFS peak: a windowed noise burst, a step glitch or a short ring."""
    x = _as2d(x)
    w = int(rng.integers(2, 13))
    p = _pick(rng, active_positions(x, w), "a click")
    amp = undb(strength)
    shape = ("burst", "step", "ring")[int(rng.integers(3))]
    k = np.arange(w)
    if shape == "burst":
        pulse = np.hanning(w + 2)[1:-1] * rng.choice((-1.0, 1.0), w)
    elif shape == "step":
        pulse = np.full(w, rng.choice((-1.0, 1.0)))
    else:
        fr = rng.uniform(3000.0, 12000.0)
        pulse = np.exp(-k / max(w / 3.0, 1.0)) * np.cos(2 * np.pi * fr * k / SR)
    pulse = pulse / np.max(np.abs(pulse)) * amp
    y = x.copy()
    seg = y[:, p : p + w] + pulse
    if np.any(np.abs(seg) > 1.0):
        seg = y[:, p : p + w] - pulse
    y[:, p : p + w] = seg
    return Injection(y, [(p, p + w)], {"position": p, "width": w, "shape": shape, "amplitude": amp})


def inject_dropout(x: np.ndarray, strength: float, rng: np.random.Generator) -> Injection:
    """``strength`` ms of digital silence in all channels, where the loop is sounding."""
    x = _as2d(x)
    d = max(1, int(round(strength * SR / 1000.0)))
    cands = active_positions(x, d)
    if cands.size:
        # the zeroed samples must carry sound, or nothing would change
        loud = np.array([np.sqrt(np.mean(x[:, c : c + d] ** 2)) for c in cands[:: max(1, cands.size // 2000)]])
        thr = 0.25 * np.sqrt(np.mean(x**2))
        cands = cands[:: max(1, cands.size // 2000)][loud >= thr]
    p = _pick(rng, cands, "a dropout")
    y = x.copy()
    y[:, p : p + d] = 0.0
    return Injection(y, [(p, p + d)], {"position": p, "samples": d})


def inject_clipping(x: np.ndarray, strength: float, rng: np.random.Generator) -> Injection:
    """Drive the loop ``strength`` dB over full scale and clip it hard at ±1.0."""
    x = _as2d(x)
    pk = peak(x)
    if pk <= 0:
        raise InjectionError("cannot clip a silent loop")
    y = x * (undb(strength) / pk)
    over = np.any(np.abs(y) >= 1.0, axis=0)
    y = np.clip(y, -1.0, 1.0)
    spans = _runs(over, merge=int(CLIP_MERGE_S * SR))
    return Injection(y, spans, {"gain_db": round(float(db(undb(strength) / pk)), 3),
                                "clipped_samples": int(over.sum())})


def _add_noise(x: np.ndarray, strength: float, noise: np.ndarray, colour: str) -> Injection:
    ps = float(np.mean(x**2))
    if ps <= 0:
        raise InjectionError("cannot set an SNR on a silent loop")
    noise = noise / np.sqrt(np.mean(noise**2)) * np.sqrt(ps / 10 ** (strength / 10.0))
    params: dict[str, Any] = {"colour": colour, "noise_rms_dbfs": round(float(db(np.sqrt(np.mean(noise**2)))), 3)}
    y = _keep_headroom(x + noise, params)
    return Injection(y, [(0, x.shape[1])], params)


def inject_white_noise(x: np.ndarray, strength: float, rng: np.random.Generator) -> Injection:
    """Independent white Gaussian noise per channel at ``strength`` dB SNR."""
    x = _as2d(x)
    return _add_noise(x, strength, rng.normal(size=x.shape), "white")


def inject_pink_noise(x: np.ndarray, strength: float, rng: np.random.Generator) -> Injection:
    """Independent pink (1/f) noise per channel at ``strength`` dB SNR."""
    x = _as2d(x)
    return _add_noise(x, strength, pink_noise(rng, x.shape), "pink")


HUM_HARMONICS = (1.0, 0.5, 0.35, 0.2, 0.12, 0.08)


def inject_hum(x: np.ndarray, strength: float, rng: np.random.Generator) -> Injection:
    """Mains hum at 50 or 60 Hz (±0.2 %) with 5 harmonics, at ``strength`` dBFS (AES17), both channels."""
    x = _as2d(x)
    mains = 50.0 if rng.random() < 0.5 else 60.0
    f0 = mains * (1.0 + rng.uniform(-0.002, 0.002))
    t = np.arange(x.shape[1]) / SR
    amps = np.array(HUM_HARMONICS) * rng.uniform(0.7, 1.3, len(HUM_HARMONICS))
    amps[0] = HUM_HARMONICS[0]
    h = sum(a * np.sin(2 * np.pi * f0 * (k + 1) * t + rng.uniform(0, 2 * np.pi)) for k, a in enumerate(amps))
    h = h / np.sqrt(np.mean(h**2)) * (undb(strength) / np.sqrt(2.0))
    params: dict[str, Any] = {"mains_hz": mains, "f0": round(float(f0), 4),
                              "harmonic_amps": [round(float(a), 4) for a in amps]}
    y = _keep_headroom(x + h[None, :], params)
    return Injection(y, [(0, x.shape[1])], params)


def inject_dc_offset(x: np.ndarray, strength: float, rng: np.random.Generator) -> Injection:
    """A constant offset of ``strength`` dBFS (random sign) in all channels."""
    x = _as2d(x)
    off = undb(strength) * (1.0 if rng.random() < 0.5 else -1.0)
    params: dict[str, Any] = {"offset": off}
    y = _keep_headroom(x + off, params)
    return Injection(y, [(0, x.shape[1])], params)


SEAM_MAX_CUT_S = 0.04


def inject_seam(x: np.ndarray, strength: float, rng: np.random.Generator) -> Injection:
    """Cut the loop 1-40 ms short, at a point where the wrap jumps by ``strength`` dBFS (up to +6 dB more).

    The file then ends before the end of its last beat, so its last sample no
    longer runs into its first: the loop clicks where it wraps. The cut is
    drawn among the points whose jump (largest over channels of
    ``|last - first|``) lies in ``[strength, strength + 6 dB)``.
    """
    x = _as2d(x)
    n = x.shape[1]
    lo, hi = int(0.001 * SR), min(int(SEAM_MAX_CUT_S * SR), n // 4)
    if hi <= lo:
        raise InjectionError("loop too short to cut")
    cuts = np.arange(lo, hi)
    ends = n - cuts - 1
    jumps = np.max(np.abs(x[:, ends] - x[:, [0]]), axis=0)
    a = undb(strength)
    ok = cuts[(jumps >= a) & (jumps < 2 * a)]
    if ok.size == 0:
        raise InjectionError(f"no cut within {SEAM_MAX_CUT_S * 1000:g} ms gives a {strength:g} dBFS jump")
    c = int(ok[int(rng.integers(ok.size))])
    y = x[:, : n - c].copy()
    jump = float(np.max(np.abs(y[:, -1] - y[:, 0])))
    m = y.shape[1]
    return Injection(y, [(m - 1, m)], {"cut_samples": c, "cut_ms": round(c / SR * 1000, 3),
                                       "jump_dbfs": round(float(db(jump)), 3)})


def inject_polarity(x: np.ndarray, strength: float, rng: np.random.Generator) -> Injection:
    """Invert the second channel (L ≈ −R then, so the loop cancels in mono)."""
    x = _as2d(x)
    if x.shape[0] < 2:
        raise InjectionError("polarity inversion needs stereo")
    l, r = x[0], x[1]
    den = np.sqrt(np.sum(l * l) * np.sum(r * r))
    corr = float(np.sum(l * r) / den) if den > 0 else 0.0
    if corr < 0.5:
        raise InjectionError(f"channels are too different (correlation {corr:.2f}) for an inversion to show")
    y = x.copy()
    y[1] = -y[1]
    return Injection(y, [(0, x.shape[1])], {"channel": 1, "correlation_before": round(corr, 4)})


def inject_leading_silence(x: np.ndarray, strength: float, rng: np.random.Generator) -> Injection:
    """Prepend ``strength`` ms of digital silence (the loop is late and longer than its bars)."""
    x = _as2d(x)
    d = max(1, int(round(strength * SR / 1000.0)))
    y = np.concatenate([np.zeros((x.shape[0], d)), x], axis=1)
    return Injection(y, [(0, d)], {"samples": d})


def inject_trailing_silence(x: np.ndarray, strength: float, rng: np.random.Generator) -> Injection:
    """Append ``strength`` ms of digital silence (a gap every time the loop repeats)."""
    x = _as2d(x)
    d = max(1, int(round(strength * SR / 1000.0)))
    n = x.shape[1]
    y = np.concatenate([x, np.zeros((x.shape[0], d))], axis=1)
    return Injection(y, [(n, n + d)], {"samples": d})


def _kinds() -> dict[str, DefectKind]:
    k = [
        DefectKind("click", "click", "dBFS", (-40.0, -30.0, -20.0, -10.0), -30.0, True, inject_click,
                   "{s:g} dBFS", "single-sample impulse"),
        DefectKind("click-multi", "click", "dBFS", (-40.0, -30.0, -20.0, -10.0), -30.0, True, inject_click_multi,
                   "{s:g} dBFS", "2-12 sample burst, step or ring"),
        DefectKind("dropout", "dropout", "ms", (1.0, 5.0, 20.0), 5.0, True, inject_dropout,
                   "{s:g} ms", "run of digital zeros inside sound"),
        DefectKind("clipping", "clipping", "dB", (1.0, 3.0, 6.0), 3.0, True, inject_clipping,
                   "+{s:g} dB", "driven over full scale and hard-clipped"),
        DefectKind("white-noise", "noise", "dB SNR", (40.0, 30.0, 20.0, 10.0), 20.0, False, inject_white_noise,
                   "{s:g} dB SNR", "white Gaussian noise"),
        DefectKind("pink-noise", "noise", "dB SNR", (40.0, 30.0, 20.0, 10.0), 20.0, False, inject_pink_noise,
                   "{s:g} dB SNR", "pink (1/f) noise"),
        DefectKind("hum", "hum", "dBFS", (-60.0, -50.0, -40.0, -30.0), -40.0, False, inject_hum,
                   "{s:g} dBFS", "50/60 Hz mains hum with harmonics"),
        DefectKind("dc-offset", "dc-offset", "dBFS", (-46.0, -40.0, -34.0, -28.0), -34.0, False, inject_dc_offset,
                   "{s:g} dBFS", "constant offset"),
        DefectKind("seam", "seam", "dBFS", (-36.0, -30.0, -24.0, -18.0), -24.0, True, inject_seam,
                   "{s:g} dBFS jump", "loop cut short: end does not meet start"),
        DefectKind("polarity", "stereo", "", (1.0,), 1.0, False, inject_polarity,
                   "inverted", "right channel polarity-inverted"),
        DefectKind("leading-silence", "silence", "ms", (20.0, 50.0, 250.0), 50.0, True, inject_leading_silence,
                   "{s:g} ms", "digital silence before the loop"),
        DefectKind("trailing-silence", "silence", "ms", (20.0, 50.0, 250.0), 50.0, True, inject_trailing_silence,
                   "{s:g} ms", "digital silence after the loop"),
    ]
    return {d.name: d for d in k}


#: Every defect kind by name, in report order.
DEFECTS: dict[str, DefectKind] = _kinds()
#: The quality-check name expected to find each defect kind.
EXPECTED_CHECK: dict[str, str] = {k: d.check for k, d in DEFECTS.items()}


def inject(kind: str, x: np.ndarray, strength: float | None = None, rng: np.random.Generator | None = None) -> Injection:
    """Inject one defect of ``kind`` (default strength unless given) into ``x`` ``(channels, samples)`` at 48 kHz.

    Raises
    ------
    KeyError
        Unknown kind.
    InjectionError
        The defect cannot be placed in this loop.
    """
    if kind not in DEFECTS:
        raise KeyError(f"unknown defect kind {kind!r}; known: {', '.join(DEFECTS)}")
    d = DEFECTS[kind]
    return d.inject(x, d.default if strength is None else float(strength), rng or np.random.default_rng(0))


# --- building defect sets -------------------------------------------------------------------------


def library_code(name: str) -> int:
    """A stable integer for a library name (seeds per library; bass and guitar keep 1 and 2)."""
    return {"bass": 1, "guitar": 2}.get(name, zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF)


def plan_grades(n_default: int, n_other: int, kinds: list[str] | None = None) -> list[tuple[str, float, int]]:
    """``(kind, strength, files per library)`` for every grade that gets files."""
    out = []
    for name in kinds or list(DEFECTS):
        d = DEFECTS[name]
        for g in d.grades:
            n = n_default if g == d.default else n_other
            if n > 0:
                out.append((name, g, n))
    return out


def build_defect_set(
    root: str | os.PathLike,
    sources: list,
    *,
    seed: int = 0,
    n_default: int = 1,
    n_other: int = 0,
    kinds: list[str] | None = None,
    workers: int = 2,
    progress: Callable[[str, int, int], None] | None = None,
) -> list:
    """Inject defects into copies of clean loops and write them under ``root/<library>/defects/<kind>/``.

    For every library among ``sources`` and every grade of every kind, up to
    ``n_default`` (default strength) or ``n_other`` (other strengths) distinct
    source loops are drawn in a seeded order; a loop that cannot take the
    defect (:class:`InjectionError`) is skipped for the next one. Each grade
    has its own generators, so the result does not depend on ``workers``.

    Parameters
    ----------
    root : path-like
        The corpus folder; source ``file`` paths are relative to it.
    sources : list of manifest Entry
        Clean held-out loops (``split == "test"``).
    workers : int
        Grades injected in parallel threads.

    Returns
    -------
    list of Entry
        One per written file (in library, kind, strength order), with positions,
        strength and the expected check.
    """
    from concurrent.futures import ThreadPoolExecutor

    root = Path(root)
    plan = plan_grades(n_default, n_other, kinds)
    by_lib: dict[str, list] = {}
    for e in sorted(sources, key=lambda e: e.file):
        by_lib.setdefault(e.library, []).append(e)
    tasks = [(lib, srcs, kind, strength, n) for lib, srcs in sorted(by_lib.items()) for kind, strength, n in plan]
    total = sum(min(n, len(srcs)) for _, srcs, _, _, n in tasks)
    done = 0
    if progress:
        progress("defects", 0, total)
    out: list = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for made in pool.map(lambda t: _inject_grade(root, seed, *t), tasks):
            out += made
            done += len(made)
            if progress:
                progress("defects", done, total)
    if progress:
        progress("defects", total, total)
    return out


def _inject_grade(root: Path, seed: int, lib: str, srcs: list, kind: str, strength: float, n: int) -> list:
    """Up to ``n`` defect files of one kind and strength for one library (see :func:`build_defect_set`)."""
    import soundfile as sf

    from loopwatch.evaluation.manifest import Entry
    from loopwatch.evaluation.wav import read_acid, write_wav

    code = library_code(lib)
    d = DEFECTS[kind]
    ki = list(DEFECTS).index(kind)
    gi = d.grades.index(strength)
    order = np.random.default_rng(np.random.SeedSequence([seed, code, 4, ki, gi])).permutation(len(srcs))
    out: list = []
    for j in order:
        if len(out) >= n:
            break
        src = srcs[int(j)]
        x, sr = sf.read(str(root / src.file), dtype="float64", always_2d=True)
        if sr != SR:
            raise InjectionError(f"{src.file}: {sr} Hz; the corpus is {SR} Hz")
        x = np.ascontiguousarray(x.T)
        rng = np.random.default_rng(np.random.SeedSequence([seed, code, 5, ki, gi, int(j)]))
        try:
            inj = d.inject(x, strength, rng)
        except InjectionError:
            continue
        acid = read_acid(root / src.file)
        stem = Path(src.file).stem
        slug = d.label(strength).replace(" ", "").replace("+", "p")
        rel = f"{lib}/defects/{kind}/{stem}__{kind}_{slug}.wav"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write_wav(root / rel, inj.audio, SR, bits=24, acid=acid)
        params = dict(inj.params)
        params["description"] = d.description
        out.append(Entry(
            file=rel, library=lib, split="test", label="anomaly", family="defect", kind=kind,
            check=d.check, strength=float(strength), unit=d.unit, grade=d.label(strength),
            default=strength == d.default, positions=[[int(a), int(b)] for a, b in inj.spans],
            tempo=src.tempo, bars=src.bars, key=src.key, program=src.program, pattern=src.pattern,
            source=src.file, acid=acid is not None, n_samples=int(inj.audio.shape[1]),
            peak_dbfs=round(float(db(peak(inj.audio))), 3), seed=f"{seed}-{code}-5-{ki}-{gi}-{int(j)}",
            params=params,
        ))
    return out
