"""``--record-on-alert N``: keep the N seconds around each alert, to write them as a WAV.

The analysis thread feeds every analysed block to :class:`AlertRecorder`,
which keeps a history ring of the last ``N + margin`` seconds. An alert at
``[t0, t1]`` asks for ``[t0 - N/2, t1 + N/2]`` (so an instantaneous defect gets
N seconds centred on it); overlapping requests are merged into one clip. A
clip is handed out once the input has passed its end, or at :meth:`finish`
with what there is.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Clip:
    """A stretch of input to write: ``data`` is ``(channels, frames)`` starting at running frame ``start``."""

    start: int
    data: np.ndarray
    checks: list[str]
    wall: float  # wall-clock time of the first alert in it


class AlertRecorder:
    """History of the input and the clips asked for around alerts.

    Parameters
    ----------
    channels, sr : int
    seconds : float
        N: the length kept around each alert.
    margin_s : float
        Extra history, so that a clip's start is still there when an alert is
        raised late (the click look-ahead, a stalled thread).
    """

    def __init__(self, channels: int, sr: int, seconds: float, margin_s: float = 5.0) -> None:
        if seconds <= 0:
            raise ValueError(f"record-on-alert length must be positive, got {seconds}")
        self.channels, self.sr = int(channels), int(sr)
        self.half = int(round(seconds * sr / 2))
        self.size = 2 * self.half + int(round(margin_s * sr)) + 1
        self.hist = np.zeros((self.channels, self.size), dtype=np.float32)
        self.end = 0  # running frame after the last one stored
        self.pending: list[list] = []  # [start, stop, checks, wall]

    def add(self, x: np.ndarray, start: int) -> list[Clip]:
        """Store a block that begins at running frame ``start``; return the clips now complete."""
        n = x.shape[1]
        if start > self.end:  # a gap in the input: those frames are silence in the clip
            self._write(np.zeros((self.channels, min(start - self.end, self.size)), np.float32),
                        max(self.end, start - self.size))
        self._write(x[:, -self.size:], start + max(0, n - self.size))
        self.end = start + n
        return self._ready(final=False)

    def _write(self, x: np.ndarray, start: int) -> None:
        n = x.shape[1]
        i = start % self.size
        first = min(n, self.size - i)
        self.hist[:, i:i + first] = x[:, :first]
        if first < n:
            self.hist[:, :n - first] = x[:, first:]

    def request(self, start: int, stop: int, check: str, wall: float) -> None:
        """Ask for the clip around an alert at running frames ``[start, stop)``."""
        a, b = max(0, start - self.half), stop + self.half
        if self.pending and a <= self.pending[-1][1]:
            p = self.pending[-1]
            p[1] = max(p[1], b)
            if check not in p[2]:
                p[2].append(check)
        else:
            self.pending.append([a, b, [check], wall])

    def finish(self) -> list[Clip]:
        """End of input: the pending clips, cut at what was received."""
        return self._ready(final=True)

    def _ready(self, final: bool) -> list[Clip]:
        out = []
        while self.pending and (final or self.pending[0][1] <= self.end):
            a, b, checks, wall = self.pending.pop(0)
            b = min(b, self.end)
            a = max(a, self.end - self.size, 0)
            if b <= a:
                continue
            idx = np.arange(a, b) % self.size
            out.append(Clip(a, self.hist[:, idx].copy(), checks, wall))
        return out


def clip_path(folder: Path, clip: Clip) -> Path:
    """``listen-YYYYmmdd-HHMMSS-<checks>.wav`` in ``folder``, not overwriting anything."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(clip.wall))
    what = re.sub(r"[^A-Za-z0-9-]+", "-", "+".join(clip.checks))[:40] or "alert"
    p = folder / f"listen-{stamp}-{what}.wav"
    k = 2
    while p.exists():
        p = folder / f"listen-{stamp}-{what}-{k}.wav"
        k += 1
    return p


def write_clip(folder: Path, clip: Clip, sr: int) -> Path:
    """Write ``clip`` as a 32-bit float WAV (levels and clipped samples exactly as received); return its path."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    p = clip_path(folder, clip)
    sf.write(str(p), clip.data.T, int(sr), subtype="FLOAT", format="WAV")
    return p
