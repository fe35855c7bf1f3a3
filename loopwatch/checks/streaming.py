"""Streaming forms of the checks, for live input (``loopwatch listen``).

Every class here takes blocks ``(channels, frames)`` of float samples in
order through ``process(block) -> list[Finding]`` and keeps what it needs
between blocks; finding times are stream time in seconds (samples consumed
since the object was made, divided by the rate). None of them allocates per
sample or blocks; they are meant for an analysis thread, not the audio
callback.

============================  ==========================================  ===================
class                         finds                                       latency
============================  ==========================================  ===================
:class:`ClipStream`           flat runs at full scale                     end of the run
:class:`TruePeakStream`       true peak above -1 dBTP (exact, carried     none (per block)
                              FIR state)
:class:`ClickStream`          clicks and discontinuities (the file        ``hop + context``
                              detector on overlapping windows)            (~150 ms)
:class:`DropoutStream`        dropouts; digital silence on the input      end of the run
:class:`DCStream`             a DC offset held for ``hold_s``             ``hold_s``
:class:`NoiseFloorStream`     the floor while the player is silent        ``window_s``
============================  ==========================================  ===================

:class:`StreamChecks` bundles them with one ``process`` call.
"""

from __future__ import annotations

import numpy as np

from loopwatch.checks._common import finding
from loopwatch.checks.click import NAME as CLICK, NAME_DISCONTINUITY, detect_impulses, exclusion_mask
from loopwatch.checks.clipping import ClipStream
from loopwatch.checks.dc import DCStream
from loopwatch.checks.dropout import DropoutStream
from loopwatch.checks.noise import NoiseFloorStream
from loopwatch.checks.truepeak import TruePeakStream
from loopwatch.findings import Finding

__all__ = ["ClipStream", "TruePeakStream", "ClickStream", "DropoutStream", "DCStream", "NoiseFloorStream",
           "StreamChecks"]


class ClickStream:
    """Clicks and discontinuities on a stream, with the file detector
    (:func:`loopwatch.checks.click.detect_impulses`) run on overlapping windows.

    Every ``hop_ms`` of new input, the detector analyses the last
    ``context_ms + hop_ms + context_ms`` and reports the events whose peak
    falls in the middle ``hop_ms``: each event is judged with the same
    context on both sides as in a file, and reported exactly once. The
    latency is ``hop_ms + context_ms`` (150 ms by default).

    ``params`` are passed to :func:`~loopwatch.checks.click.detect_impulses`
    (thresholds, isolation, onset rules, ...).
    """

    def __init__(self, channels: int, sr: int = 48000, *, hop_ms: float = 85.0, context_ms: float = 65.0,
                 **params):
        self.channels, self.sr = int(channels), int(sr)
        self.hop = max(256, int(hop_ms * sr / 1000))
        self.ctx = max(512, int(context_ms * sr / 1000))
        self.params = params
        self.pos = 0  # samples consumed
        self._size = self.ctx + self.hop + self.ctx
        self._buf = np.zeros((self.channels, self._size), dtype=np.float32)
        self._filled = 0  # valid samples at the end of _buf
        self._next = 0  # stream index where the next centre region starts

    def process(self, block: np.ndarray) -> list[Finding]:
        block = np.asarray(block, dtype=np.float32)
        if block.ndim == 1:
            block = block[None, :]
        out: list[Finding] = []
        i = 0
        frames = block.shape[1]
        while i < frames:
            # the window is ready when it holds data up to _next + hop + ctx
            need = self._next + self.hop + self.ctx - self.pos
            take = min(frames - i, max(1, need))
            chunk = block[:, i : i + take]
            self._buf = np.roll(self._buf, -take, axis=1)
            self._buf[:, -take:] = chunk[:, -self._size :] if take > self._size else chunk
            self._filled = min(self._size, self._filled + take)
            self.pos += take
            i += take
            if self.pos >= self._next + self.hop + self.ctx:
                out.extend(self._analyse())
                self._next += self.hop
        return out

    def flush(self) -> list[Finding]:
        """End of stream: analyse what is left (zeros stand in for the missing right-hand context)."""
        out: list[Finding] = []
        end = self.pos
        while self._next < end:
            pad = self._next + self.hop + self.ctx - self.pos
            if pad > 0:
                self._buf = np.roll(self._buf, -pad, axis=1)
                self._buf[:, -pad:] = 0.0
                self._filled = min(self._size, self._filled + pad)
                self.pos += pad
            out.extend(self._analyse(end=end))
            self._next += self.hop
        return out

    def _analyse(self, end: int | None = None) -> list[Finding]:
        win_end = self._next + self.hop + self.ctx  # stream index of the buffer's end
        win_start = win_end - self._size
        valid0 = max(0, self._size - self._filled)
        lo, hi = self._next, min(self._next + self.hop, end if end is not None else self._next + self.hop)
        events = []
        for ch in range(self.channels):
            x = self._buf[ch, valid0:]
            off = win_start + valid0
            ev = detect_impulses(x, self.sr, channel=ch, exclude=exclusion_mask(x, self.sr), offset=off,
                                 **self.params)
            events += [e for e in ev if lo <= e.peak < hi]
        out = []
        events.sort(key=lambda e: e.peak)
        for e in events:
            if out and e.peak - out[-1][0].peak <= int(0.001 * self.sr):
                out[-1].append(e)
            else:
                out.append([e])
        res = []
        for grp in out:
            best = max(grp, key=lambda e: e.score_db)
            t = best.peak / self.sr
            chans = sorted({e.channel for e in grp})
            ch = chans[0] if len(chans) == 1 and self.channels > 1 else None
            kind = best.kind
            word = "click" if kind == CLICK else "discontinuity"
            res.append(finding(kind if kind in (CLICK, NAME_DISCONTINUITY) else CLICK, "warn", t, t,
                               best.score_db, "dB",
                               f"{word} at {t:.3f} s (+{best.score_db:.0f} dB above local residual, "
                               f"{best.level_db:.0f} dBFS)", channel=ch))
        return res


class StreamChecks:
    """All streaming checks behind one ``process(block)`` call.

    Parameters
    ----------
    channels, sr : int
    only : iterable of str, optional
        Subset of ``"clipping"``, ``"true-peak"``, ``"click"``, ``"dropout"``,
        ``"dc-offset"``, ``"noise"`` (default all).
    params : dict, optional
        Per-check keyword arguments, e.g. ``{"click": {"threshold_db": 24}}``.
    """

    KINDS = ("clipping", "true-peak", "click", "dropout", "dc-offset", "noise")

    def __init__(self, channels: int, sr: int = 48000, *, only=None, params: dict | None = None):
        params = params or {}
        chosen = list(only) if only else list(self.KINDS)
        makers = {"clipping": ClipStream, "true-peak": TruePeakStream, "click": ClickStream,
                  "dropout": DropoutStream, "dc-offset": DCStream, "noise": NoiseFloorStream}
        unknown = [k for k in chosen if k not in makers]
        if unknown:
            raise ValueError(f"no streaming form of {', '.join(unknown)}; choose from {', '.join(self.KINDS)}")
        self.detectors = {k: makers[k](channels, sr, **params.get(k, {})) for k in chosen}

    def process(self, block: np.ndarray) -> list[Finding]:
        out: list[Finding] = []
        for det in self.detectors.values():
            out.extend(det.process(block))
        out.sort(key=lambda f: f.t0)
        return out

    def flush(self) -> list[Finding]:
        out: list[Finding] = []
        for det in self.detectors.values():
            fl = getattr(det, "flush", None)
            if fl is not None:
                out.extend(fl())
        out.sort(key=lambda f: f.t0)
        return out
