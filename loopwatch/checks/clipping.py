"""Clipping: runs of flat samples at the signal's extreme.

A clipped waveform is cut flat where it tried to exceed the ceiling, so the
tell-tale is not a high level but *several consecutive identical samples at the
channel's maximum (or minimum)*, entered and left by a step much bigger than
the plateau's own ripple. Looking for plateaus at the channel's own extreme,
rather than only at 0 dBFS, also catches material that was clipped and then
turned down (a common result of bouncing a clipped bus at lower gain): those
findings are ``warn`` instead of ``error``.

A full-scale square wave is, sample for sample, a clipped signal, and is
reported as such (the click check leaves it alone).
"""

from __future__ import annotations

import numpy as np

from loopwatch.checks._common import as_array, db, finding, fmt_t, merge_intervals, runs
from loopwatch.findings import Finding

NAME = "clipping"


def flat_runs(
    x: np.ndarray,
    level: float,
    *,
    min_run: int = 3,
    tolerance: float = 1e-6,
    min_step: float = 2.0**-13,
    long_run: int = 8,
) -> np.ndarray:
    """Plateaus of ``x`` at or above ``level`` (one polarity; pass ``-x`` for the other).

    Parameters
    ----------
    x : np.ndarray, 1-D float
    level : float
        Plateau height: samples within ``tolerance * level`` of it (or above) count as flat.
    min_run : int
        Fewest consecutive flat samples that make a plateau.
    tolerance : float
        Relative flatness tolerance (1e-6: below an LSB of 16-bit audio, so
        clipped PCM and float samples, equal after any later gain change,
        count, and the neighbouring values of a smooth peak do not).
    min_step : float
        A plateau shorter than ``long_run`` must be entered or left by a step at
        least this big (default 4 LSB of 16-bit audio). The peak of a loud
        low-frequency sine can sit on 2-4 equal 16-bit values naturally, but it
        is approached by steps of 1-2 LSB; a clipped wave hits the ceiling steeply.
    long_run : int
        Plateaus this long count without the step test.

    Returns
    -------
    np.ndarray, shape (k, 2)
        Start and stop (exclusive) sample indices.
    """
    x = np.asarray(x)
    if x.size < min_run or level <= 0:
        return np.zeros((0, 2), dtype=np.int64)
    thr = level * (1.0 - tolerance)
    iv = runs(x >= thr, min_run)
    if len(iv) == 0:
        return iv
    n = x.size
    keep = np.ones(len(iv), dtype=bool)
    for i, (s, e) in enumerate(iv):
        if s == 0 and e == n:
            keep[i] = False  # a constant signal is DC, not clipping
            continue
        if e - s >= long_run:
            continue
        step_in = x[s] - x[s - 1] if s > 0 else 0.0
        step_out = x[e - 1] - x[e] if e < n else 0.0
        if max(step_in, step_out) < min_step:
            keep[i] = False
    return iv[keep]


def check_clipping(
    audio,
    sr: int | None = None,
    *,
    min_run: int = 3,
    tolerance: float = 1e-6,
    min_step: float = 2.0**-13,
    long_run: int = 8,
    min_level_db: float = -30.0,
    full_scale_db: float = -0.1,
    merge_ms: float = 100.0,
    error_fraction: float = 1e-3,
    min_runs_below_fs: int = 5,
    max_findings: int = 20,
) -> list[Finding]:
    """Find clipped regions: flat runs at each channel's positive and negative extremes.

    Parameters
    ----------
    audio : Audio or np.ndarray
        ``(channels, samples)`` or ``(samples,)`` float audio.
    sr : int, optional
        Sample rate when ``audio`` is an array (default 48000).
    min_run, tolerance, min_step, long_run
        Plateau definition, see :func:`flat_runs`. Three samples is the usual
        QC convention (one or two equal samples at a peak happen naturally).
    min_level_db : float
        Ignore plateaus below this level (dBFS): a -40 dBFS "plateau" is a quiet
        square-ish sound, not an overload.
    full_scale_db : float
        Plateaus at or above this level are real digital clipping (``error``);
        lower ones were clipped and then attenuated, or are a square-wave synth
        (``warn``).
    merge_ms : float
        Plateaus closer than this are reported as one region.
    error_fraction : float
        Also ``error`` when at least this fraction of the channel's samples is
        flat-topped (audible distortion at any level).
    min_runs_below_fs : int
        Plateaus below ``full_scale_db`` count only when the channel has at
        least this many: clipping that happened upstream flattens every loud
        peak, while a sampled synth's waveform can sit flat for 3-4 samples at
        its peak once or twice in a loop.
    max_findings : int
        Report at most this many regions (the worst first in a summary line).

    Returns
    -------
    list of Finding
        One per region, ``value`` = clipped samples in it, ``unit`` = "samples".
    """
    x, sr = as_array(audio, sr)
    channels, n = x.shape
    regions: list[tuple[int, int, int, int, float, int]] = []  # start, stop, channel, samples, level, longest
    lvl_min = 10.0 ** (min_level_db / 20.0)
    for ch in range(channels):
        xc = x[ch]
        if n == 0:
            continue
        for sign in (1.0, -1.0):
            level = float(sign * (xc.max() if sign > 0 else xc.min()))
            if level < lvl_min:
                continue
            iv = flat_runs(sign * xc, level, min_run=min_run, tolerance=tolerance, min_step=min_step, long_run=long_run)
            if db(level) < full_scale_db and len(iv) < min_runs_below_fs:
                continue
            for s, e in iv:
                regions.append((int(s), int(e), ch, int(e - s), level, int(e - s)))
    if not regions:
        return []
    # merge per channel first, then across channels
    regions.sort()
    gap = int(merge_ms * sr / 1000)
    iv = merge_intervals(np.array([[r[0], r[1]] for r in regions], dtype=np.int64), gap)
    total_flat = sum(r[3] for r in regions)
    frac = total_flat / max(1, n * channels)
    out: list[Finding] = []
    for s, e in iv:
        inside = [r for r in regions if r[0] >= s and r[1] <= e]
        chans = sorted({r[2] for r in inside})
        samples = sum(r[3] for r in inside)
        longest = max(r[5] for r in inside)
        level = max(r[4] for r in inside)
        level_db = float(db(level))
        sev = "error" if level_db >= full_scale_db or frac >= error_fraction else "warn"
        where = f"{fmt_t(s / sr)}" if e - s <= 1 else f"{s / sr:.3f}-{e / sr:.3f} s"
        msg = (f"clipping at {where} ({samples} flat samples in {len(inside)} run{'s' * (len(inside) > 1)}, "
               f"longest {longest}, at {level_db:.1f} dBFS)")
        out.append(finding(NAME, sev, s / sr, e / sr, samples, "samples", msg,
                           channel=chans[0] if len(chans) == 1 and channels > 1 else None))
    if len(out) > max_findings:
        worst = sorted(out, key=lambda f: -f.value)[:max_findings]
        worst.sort(key=lambda f: f.t0)
        rest = len(out) - max_findings
        first, last = out[0].t0, out[-1].t1
        sev = "error" if any(f.severity == "error" for f in out) else "warn"
        worst.append(finding(NAME, sev, first, last, total_flat, "samples",
                             f"clipping in {len(out)} regions {first:.3f}-{last:.3f} s ({total_flat} flat samples; "
                             f"{rest} smaller regions not listed)"))
        out = worst
    return out


def clipped_mask(x: np.ndarray, *, min_run: int = 3, tolerance: float = 1e-6, min_step: float = 2.0**-13,
                 long_run: int = 8, min_level: float = 10 ** (-30 / 20)) -> np.ndarray:
    """Boolean mask of the samples :func:`check_clipping` calls clipped, for one channel."""
    mask = np.zeros(x.shape[-1], dtype=bool)
    if x.size == 0:
        return mask
    for sign in (1.0, -1.0):
        level = float(sign * (x.max() if sign > 0 else x.min()))
        if level < min_level:
            continue
        for s, e in flat_runs(sign * x, level, min_run=min_run, tolerance=tolerance, min_step=min_step,
                              long_run=long_run):
            mask[s:e] = True
    return mask


class ClipStream:
    """Streaming clipping detector for live input: flat runs at or above an absolute level.

    A live stream has no "file maximum", so the ceiling is absolute
    (``level_db``, default -0.1 dBFS: an interface's converter clips at full
    scale). Runs spanning block boundaries are carried over.

    Usage::

        det = ClipStream(channels=2, sr=48000)
        for block in blocks:              # (channels, frames) float32
            for f in det.process(block):  # findings with t0/t1 in stream time
                ...
        det.flush()
    """

    def __init__(self, channels: int, sr: int = 48000, *, level_db: float = -0.1, min_run: int = 3):
        self.channels, self.sr, self.min_run = int(channels), int(sr), int(min_run)
        self.level = 10.0 ** (level_db / 20.0)
        self.pos = 0  # samples consumed
        self._run_start = np.full(self.channels, -1, dtype=np.int64)
        self._run_sign = np.zeros(self.channels)

    def process(self, block: np.ndarray) -> list[Finding]:
        """Feed one block ``(channels, frames)``; return findings for runs that ended in it."""
        block = np.asarray(block, dtype=np.float32)
        if block.ndim == 1:
            block = block[None, :]
        out: list[Finding] = []
        frames = block.shape[1]
        if frames == 0:
            return out
        for ch in range(self.channels):
            xc = block[ch]
            sign = np.where(xc >= self.level, 1, np.where(xc <= -self.level, -1, 0)).astype(np.int8)
            carried = self._run_start[ch] >= 0
            if carried and sign[0] != self._run_sign[ch]:
                # the run carried from the previous block ended at the boundary
                if self.pos - self._run_start[ch] >= self.min_run:
                    out.append(self._finding(int(self._run_start[ch]), self.pos, ch))
                self._run_start[ch], carried = -1, False
            for s, e, sg in _sign_runs(sign):
                start = int(self._run_start[ch]) if (s == 0 and carried) else self.pos + s
                if e == frames:  # still running at the block's end: carry it
                    self._run_start[ch], self._run_sign[ch] = start, sg
                    continue
                if s == 0 and carried:
                    self._run_start[ch] = -1
                if self.pos + e - start >= self.min_run:
                    out.append(self._finding(start, self.pos + e, ch))
        self.pos += frames
        return out

    def flush(self) -> list[Finding]:
        """End of stream: report runs still open."""
        out = []
        for ch in range(self.channels):
            if self._run_start[ch] >= 0 and self.pos - self._run_start[ch] >= self.min_run:
                out.append(self._finding(int(self._run_start[ch]), self.pos, ch))
            self._run_start[ch] = -1
        return out

    def _finding(self, s: int, e: int, ch: int) -> Finding:
        return finding(NAME, "error", s / self.sr, e / self.sr, e - s, "samples",
                       f"clipping at {fmt_t(s / self.sr)} ({e - s} samples at full scale)", channel=ch)


def _sign_runs(sign: np.ndarray):
    """Yield (start, stop, sign) for runs of equal non-zero values."""
    if sign.size == 0:
        return
    change = np.flatnonzero(np.diff(sign)) + 1
    bounds = np.concatenate([[0], change, [sign.size]])
    for s, e in zip(bounds[:-1], bounds[1:]):
        if sign[s] != 0:
            yield int(s), int(e), int(sign[s])
