"""Dropouts: sound cut abruptly to digital silence and back.

A dropout is a run of digital zeros inside sound, entered abruptly: the
signal is at its normal level up to the sample where it stops. That last
condition tells a dropout from a rest: a note that ends decays (or is released)
towards zero, so the milliseconds before a natural silence are already quiet.

Leading and trailing silence are the silence check's; a run touching either
end of the file is not a dropout.
"""

from __future__ import annotations

import numpy as np

from loopwatch.checks._common import DIGITAL_ZERO, as_array, db, finding, runs
from loopwatch.findings import Finding

NAME = "dropout"


def find_dropouts(
    x: np.ndarray,
    sr: int = 48000,
    *,
    min_ms: float = 0.5,
    max_ms: float = 100.0,
    edge_ms: float = 2.0,
    sound_db: float = -50.0,
    zero_level: float = DIGITAL_ZERO,
    interior_only: bool = True,
) -> list[tuple[int, int, float]]:
    """Dropout runs of one channel as ``(start, stop, level_before_db)``.

    Parameters
    ----------
    x : np.ndarray, 1-D
    sr : int
    min_ms : float
        Shortest run of digital zeros reported (0.5 ms = 24 samples). The zero
        crossing of even a quiet 30 Hz tone stays under the zero level for only
        2-3 samples, so shorter runs happen naturally.
    max_ms : float
        Longer runs are rests, however they start: a lost buffer or a
        glitch lasts milliseconds, and a 100 ms hole is already a missing 16th
        note at 150 BPM.
    edge_ms : float
        Windows just before and just after the run whose levels decide whether
        the sound was cut and resumed abruptly.
    sound_db : float
        The median level (dBFS) of both windows must reach this: the music
        goes on through the hole, as it does when samples are lost. A rest
        is entered by a decaying tail (quiet before the zeros), so it does not
        qualify. The median keeps a single large sample (a click) from counting
        as sound.
    zero_level : float
        Amplitude counted as digital silence (default half an LSB of 16-bit).
    interior_only : bool
        Ignore runs touching the first or last sample.
    """
    x = np.asarray(x)
    n = x.size
    if n == 0:
        return []
    zr = runs(np.abs(x) < zero_level, max(1, int(round(min_ms * sr / 1000))))
    out = []
    edge = max(2, int(edge_ms * sr / 1000))
    loud = 10.0 ** (sound_db / 20.0)
    max_len = int(max_ms * sr / 1000)
    for s, e in zr:
        if interior_only and (s == 0 or e == n):
            continue
        if e - s > max_len:
            continue
        before = np.abs(x[max(0, s - edge) : s])
        after = np.abs(x[e : min(n, e + edge)])
        # "median >= loud" without sorting: at least half the samples reach it
        if _mostly_loud(before, loud) and _mostly_loud(after, loud):
            out.append((int(s), int(e), float(db(float(np.median(before))))))
    return out


#: How far above a coarse quantisation step sound must be for a run of zeros inside it to be a dropout.
COARSE_MARGIN_DB = 30.0


def quantisation_step(x: np.ndarray, max_bits: int = 12) -> float | None:
    """The step of a coarse sample grid: ``2**-(b-1)`` when every sample of ``x`` is a multiple of it for some
    ``b <= max_bits`` (an 8-bit file decoded to float lies on multiples of 1/128), else None.

    At 8 bits the step is -42 dBFS: quiet passages round to runs of exact zeros, which would read as dropouts.
    """
    x = np.asarray(x).ravel()

    def on_grid(a: np.ndarray, bits: int) -> bool:
        y = a * float(2 ** (bits - 1))
        return bool(np.array_equal(y, np.round(y)))

    # the finest grid contains the coarser ones: almost every file fails it on its first samples
    if x.size == 0 or not np.any(x) or not on_grid(x[:4096], max_bits) or not on_grid(x, max_bits):
        return None
    return next(2.0 ** -(b - 1) for b in range(2, max_bits + 1) if on_grid(x, b))


def _mostly_loud(a: np.ndarray, level: float) -> bool:
    return a.size > 0 and 2 * int(np.count_nonzero(a >= level)) >= a.size


def check_dropout(
    audio,
    sr: int | None = None,
    *,
    min_ms: float = 0.5,
    max_ms: float = 100.0,
    edge_ms: float = 2.0,
    sound_db: float = -50.0,
    error_ms: float = 1.0,
    max_findings: int = 20,
) -> list[Finding]:
    """Find dropouts: runs of digital silence inside sound, entered abruptly.

    Parameters
    ----------
    audio : Audio or np.ndarray
    sr : int, optional
    min_ms, max_ms, edge_ms, sound_db
        See :func:`find_dropouts`.
    error_ms : float
        Dropouts at least this long are ``error`` (clearly audible as a gap),
        shorter ones ``warn`` (heard as a click).
    max_findings : int
        At most this many findings, plus a summary line.

    Returns
    -------
    list of Finding
        ``value`` = length in ms. Simultaneous dropouts in several channels are
        one finding with ``channel`` None.
    """
    x, sr = as_array(audio, sr)
    step = quantisation_step(x)
    if step is not None:
        # coarse samples (8-bit): quiet sound rounds to runs of exact zeros by itself, so only sound well
        # above the step can be said to have been cut
        sound_db = max(sound_db, float(db(step)) + COARSE_MARGIN_DB)
    events: list[tuple[int, int, int]] = []
    for ch in range(x.shape[0]):
        for s, e, _lvl in find_dropouts(x[ch], sr, min_ms=min_ms, max_ms=max_ms, edge_ms=edge_ms,
                                        sound_db=sound_db):
            events.append((s, e, ch))
    events.sort()
    merged: list[list] = []
    for s, e, ch in events:
        if merged and s <= merged[-1][1] + int(0.001 * sr):
            merged[-1][1] = max(merged[-1][1], e)
            merged[-1][2].add(ch)
        else:
            merged.append([s, e, {ch}])
    out = []
    for s, e, chans in merged:
        ms = (e - s) * 1000.0 / sr
        ch = next(iter(chans)) if len(chans) == 1 and x.shape[0] > 1 else None
        where = f" (channel {ch + 1})" if ch is not None else ""
        sev = "error" if ms >= error_ms else "warn"
        out.append(finding(NAME, sev, s / sr, e / sr, ms, "ms",
                           f"dropout at {s / sr:.3f} s{where} ({ms:.1f} ms of digital silence inside sound)", channel=ch))
    if len(out) > max_findings:
        total = len(out)
        keep = sorted(out, key=lambda f: -f.value)[:max_findings]
        keep.sort(key=lambda f: f.t0)
        keep.append(finding(NAME, "error", out[0].t0, out[-1].t1, float(total), "count",
                            f"{total} dropouts in {out[0].t0:.3f}-{out[-1].t1:.3f} s "
                            f"({total - max_findings} shorter ones not listed)"))
        out = keep
    return out


class DropoutStream:
    """Streaming dropout and digital-silence detector for live input.

    Feeds blocks ``(channels, frames)``; keeps, per channel, the current zero
    run and the last ``edge_ms`` of samples, so runs spanning blocks are
    measured whole. Reports a dropout when a zero run that began abruptly
    ends (or reaches ``max_ms``), and "digital silence" once when the input has
    been exactly silent for ``silence_s`` (a dead input, a muted bus).
    """

    def __init__(self, channels: int, sr: int = 48000, *, min_ms: float = 0.5, max_ms: float = 100.0,
                 edge_ms: float = 2.0, sound_db: float = -50.0, silence_s: float = 2.0,
                 zero_level: float = DIGITAL_ZERO):
        self.channels, self.sr = int(channels), int(sr)
        self.min_len = max(1, int(round(min_ms * sr / 1000)))
        self.max_len = int(max_ms * sr / 1000)
        self.edge = max(2, int(edge_ms * sr / 1000))
        self.loud = 10.0 ** (sound_db / 20.0)
        self.silence_len = int(silence_s * sr)
        self.zero_level = zero_level
        self.pos = 0
        self._hist = np.zeros((self.channels, self.edge), dtype=np.float32)  # last samples before the block
        self._run_start = np.full(self.channels, -1, dtype=np.int64)
        self._run_abrupt = np.zeros(self.channels, dtype=bool)
        self._silence_reported = np.zeros(self.channels, dtype=bool)

    def process(self, block: np.ndarray) -> list[Finding]:
        block = np.asarray(block, dtype=np.float32)
        if block.ndim == 1:
            block = block[None, :]
        frames = block.shape[1]
        out: list[Finding] = []
        for ch in range(self.channels):
            xc = np.concatenate([self._hist[ch], block[ch]])
            base = self.pos - self.edge  # stream index of xc[0]
            zero = np.abs(xc) < self.zero_level
            zero[: self.edge] = False  # history is only context
            if self._run_start[ch] >= 0 and (frames == 0 or not zero[self.edge]):
                # the carried run ended at the block boundary
                out.extend(self._close(ch, self.pos, np.abs(xc[self.edge : 2 * self.edge])))
            for s, e in runs(zero):
                if s == self.edge and self._run_start[ch] >= 0:
                    start, abrupt = int(self._run_start[ch]), bool(self._run_abrupt[ch])
                else:
                    before = xc[max(0, s - self.edge) : s]
                    start = base + s
                    abrupt = _mostly_loud(np.abs(before), self.loud)
                if e == len(xc):  # still silent at the block's end
                    self._run_start[ch], self._run_abrupt[ch] = start, abrupt
                    length = base + e - start
                    if length >= self.silence_len and not self._silence_reported[ch]:
                        self._silence_reported[ch] = True
                        out.append(finding("silence", "warn", start / self.sr, (base + e) / self.sr,
                                           length / self.sr, "s",
                                           f"digital silence on input channel {ch + 1} since {start / self.sr:.3f} s",
                                           channel=ch))
                    continue
                self._run_start[ch], self._run_abrupt[ch] = start, abrupt
                out.extend(self._close(ch, base + e, np.abs(xc[e : e + self.edge])))
            if frames >= self.edge:
                self._hist[ch] = block[ch, -self.edge :]
            else:
                self._hist[ch] = np.concatenate([self._hist[ch], block[ch]])[-self.edge :]
        self.pos += frames
        return out

    def _close(self, ch: int, end: int, after: np.ndarray) -> list[Finding]:
        start, abrupt = int(self._run_start[ch]), bool(self._run_abrupt[ch])
        self._run_start[ch] = -1
        self._silence_reported[ch] = False
        length = end - start
        if not (abrupt and _mostly_loud(after, self.loud) and self.min_len <= length <= self.max_len):
            return []
        ms = length * 1000.0 / self.sr
        return [finding(NAME, "error" if ms >= 1.0 else "warn", start / self.sr, end / self.sr, ms, "ms",
                        f"dropout at {start / self.sr:.3f} s ({ms:.1f} ms of digital silence)", channel=ch)]
