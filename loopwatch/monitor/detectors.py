"""Streaming forms of the quality checks, for consecutive blocks of live input.

Each tracker consumes ``(channels, frames)`` float32 blocks in order, keeps the
state a defect spanning block boundaries needs, and returns :class:`Event`\\ s
with sample positions in **running input time** (frames since the stream
started). :class:`LiveAnalyzer` runs them all, merges what several channels
report at once, applies hysteresis (one alert per defect episode, see
``hold_s``) and turns events into :class:`loopwatch.findings.Finding`\\ s.

Detection logic comes from :mod:`loopwatch.checks`, in its block-friendly forms:

=================  ===========================================================
live check         detection
=================  ===========================================================
``click``,         :func:`loopwatch.checks.click.detect_impulses` with
``discontinuity``  :func:`~loopwatch.checks.click.exclusion_mask`, run on
                   overlapping windows (:class:`ClickTracker`): each hop of
                   2048 samples is analysed with 4096 samples of history and
                   1536 of look-ahead, and only events whose peak falls in the
                   hop are kept, so an impulse on a block boundary is found
                   exactly once, with the context the offline check has.
``clipping``       :class:`loopwatch.checks.clipping.ClipStream`
``true-peak``      :class:`loopwatch.checks.truepeak.TruePeakStream`
``dropout``,       :class:`loopwatch.checks.dropout.DropoutStream` (digital
``silence``        silence is ``info`` here: a stopped DAW transport on a
                   loopback input is not a defect)
``dc-offset``      :class:`loopwatch.checks.dc.DCStream`
``noise``          :class:`NoiseTracker`: the noise floor measured only while
                   the player is quiet (steady frames under ``quiet_db``).
                   ``loopwatch.checks.noise.NoiseFloorStream`` takes minimum
                   statistics over any 5 s, which on a continuous performance
                   is the music's own level, so it is not used live.
``xrun``           reported by the monitor (PortAudio input overflow, or the
                   analysis falling behind the ring).
=================  ===========================================================

Those streams count time from their first block; :class:`ChecksStream`
re-bases them on the running input position (and restarts them after a gap).
"""

from __future__ import annotations

import inspect
import math
import time as _time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from loopwatch.checks._common import DIGITAL_ZERO, db, finding
from loopwatch.config import DEFAULTS
from loopwatch.findings import Finding, severity_rank

#: Settings of the live analysis and their defaults: the detector keys of ``[listen]`` in
#: :data:`loopwatch.config.DEFAULTS` (the reasoning behind each is in ``docs/listen.md``).
LIVE_DEFAULTS: dict[str, Any] = {k: DEFAULTS["listen"][k] for k in (
    "hold_s", "clip_level_db", "true_peak_db", "dropout_min_ms", "dropout_max_s", "silence_s", "dc_db",
    "noise_floor_db", "quiet_db", "quiet_s")}


@dataclass
class Event:
    """A live detection before hysteresis: sample positions are running input frames."""

    check: str
    severity: str
    start: int
    stop: int
    value: float
    unit: str
    detail: str
    channel: int | None = None


_LABELS = {
    "click": "click", "discontinuity": "discontinuity", "clipping": "clipping", "true-peak": "true peak",
    "dropout": "dropout", "silence": "digital silence", "dc-offset": "DC offset", "noise": "noise floor",
    "xrun": "xrun",
}


# --- clicks ---------------------------------------------------------------------------


class ClickTracker:
    """Clicks and discontinuities on overlapping windows of :func:`detect_impulses`.

    Parameters
    ----------
    channels, sr : int
    params : dict
        Keyword arguments for :func:`loopwatch.checks.click.detect_impulses`
        (``[checks.click]`` overrides), e.g. ``threshold_db``.
    hop : int
        New samples judged per analysis (2048 = 43 ms at 48 kHz).
    left : int
        History before the hop: enough for the detector's robust floor (9 x 256
        samples) and its LPC fit.
    right : int
        Look-ahead after the hop: the isolation test's 20 ms context plus the
        onset test's 10 ms, so an event is judged with the same context as
        offline. A click is reported at most ``hop + right`` samples after it
        entered (75 ms at 48 kHz).
    error_level_db : float
        Impulses at least this loud (estimated amplitude, dBFS) are ``error``.
    """

    def __init__(self, channels: int, sr: int, params: Mapping[str, Any] | None = None, *, hop: int = 2048,
                 left: int = 4096, right: int = 1536, error_level_db: float = -30.0) -> None:
        from loopwatch.checks.click import NAME, NAME_DISCONTINUITY, detect_impulses, exclusion_mask

        self._detect, self._exclude = detect_impulses, exclusion_mask
        self._click, self._disc = NAME, NAME_DISCONTINUITY
        accepted = set(inspect.signature(detect_impulses).parameters) - {"x", "sr", "channel", "exclude", "offset"}
        self.params = {k: v for k, v in dict(params or {}).items() if k in accepted}
        self.channels, self.sr = int(channels), int(sr)
        self.hop, self.left, self.right = int(hop), int(left), int(right)
        self.error_level_db = float(error_level_db)
        self.reset(0)

    def reset(self, pos: int) -> None:
        self.buf = np.zeros((self.channels, 0), dtype=np.float32)
        self.buf_start = int(pos)
        self.next = int(pos)  # start of the next hop to judge

    def _window(self, w0: int, w1: int, keep0: int, keep1: int) -> list[Event]:
        seg = self.buf[:, w0 - self.buf_start:w1 - self.buf_start]
        found = []
        for ch in range(self.channels):
            xc = np.ascontiguousarray(seg[ch])
            evs = self._detect(xc, self.sr, channel=ch, exclude=self._exclude(xc, self.sr), offset=w0, **self.params)
            found += [e for e in evs if keep0 <= e.peak < keep1]
        found.sort(key=lambda e: (e.peak, e.channel))
        out: list[Event] = []
        tol = max(1, self.sr // 1000)
        groups: list[list] = []
        for e in found:  # one event per impulse, even when several channels show it
            if groups and e.peak - groups[-1][0].peak <= tol:
                groups[-1].append(e)
            else:
                groups.append([e])
        for grp in groups:
            best = max(grp, key=lambda e: e.score_db)
            chans = sorted({e.channel for e in grp})
            ch = chans[0] if len(chans) == 1 and self.channels > 1 else None
            sev = "error" if best.level_db >= self.error_level_db else "warn"
            if best.kind == self._click:
                detail = f"+{best.score_db:.0f} dB above local residual, {best.level_db:.0f} dBFS"
            else:
                detail = f"waveform jump, +{best.score_db:.0f} dB above local residual"
            out.append(Event(best.kind, sev, min(e.start for e in grp), max(max(e.stop for e in grp), best.peak + 1),
                             best.score_db, "dB", detail, ch))
        return out

    def process(self, x: np.ndarray, pos: int) -> list[Event]:
        if self.buf.shape[1] == 0:
            self.buf_start = pos
            self.next = max(self.next, pos)
        self.buf = np.concatenate([self.buf, x], axis=1) if self.buf.shape[1] else x.copy()
        end = self.buf_start + self.buf.shape[1]
        out: list[Event] = []
        while end >= self.next + self.hop + self.right:
            w0 = max(self.buf_start, self.next - self.left)
            out += self._window(w0, self.next + self.hop + self.right, self.next, self.next + self.hop)
            self.next += self.hop
        drop = max(0, (self.next - self.left) - self.buf_start)
        if drop:
            self.buf = self.buf[:, drop:]
            self.buf_start += drop
        return out

    def flush(self) -> list[Event]:
        end = self.buf_start + self.buf.shape[1]
        if end <= self.next:
            return []
        out = self._window(max(self.buf_start, self.next - self.left), end, self.next, end)
        self.next = end
        return out


# --- the streaming classes of loopwatch.checks ---------------------------------------


def _ch(channel: int | None, names: list[int] | None, channels: int) -> str:
    if channel is None or channels <= 1:
        return ""
    return f", input {names[channel] if names and channel < len(names) else channel + 1}"


class ChecksStream:
    """One of :mod:`loopwatch.checks`' streaming detectors, re-based on running input frames.

    The checks' stream classes (``ClipStream``, ``TruePeakStream``,
    ``DropoutStream``, ``DCStream``) count time from their own first block;
    this adapter adds the input position they were (re)started at, rewrites
    the message detail for the live form (times are the analyzer's to add) and
    can override a check's severity (``severity={"silence": "info"}``).

    Parameters
    ----------
    factory : callable
        ``factory()`` returns a fresh stream object with ``process(block) -> list[Finding]``.
    sr : int
    detail : callable
        ``detail(finding) -> str``, the part of the live message after the wall-clock time.
    severity : dict, optional
        Severity to use per check name, instead of the stream's.
    """

    def __init__(self, factory: Callable[[], Any], sr: int, detail: Callable[[Finding], str],
                 severity: Mapping[str, str] | None = None) -> None:
        self.factory, self.sr, self.detail = factory, int(sr), detail
        self.severity = dict(severity or {})
        self.reset(0)

    def reset(self, pos: int) -> None:
        self._stream = self.factory()
        self._base = int(pos)

    def _events(self, findings: list[Finding]) -> list[Event]:
        out = []
        for f in findings:
            s = self._base + int(round(f.t0 * self.sr))
            e = max(s, self._base + int(round(f.t1 * self.sr)))
            out.append(Event(f.check, self.severity.get(f.check, f.severity), s, e, float(f.value), f.unit,
                             self.detail(f), f.channel))
        return out

    def process(self, x: np.ndarray, pos: int) -> list[Event]:
        return self._events(self._stream.process(x))

    def flush(self) -> list[Event]:
        fl = getattr(self._stream, "flush", None)
        return self._events(fl()) if fl is not None else []


# --- noise floor while the player is quiet -------------------------------------------


class NoiseTracker:
    """Noise floor measured while the player is quiet.

    The input is cut into 20 ms frames; a frame is *quiet* when its RMS (the
    loudest channel's) is under ``quiet_db`` and it is not digital silence.
    Once the last ``quiet_s`` of frames are all quiet and steady (their levels
    within ``steady_db``), the noise floor is their median level; above
    ``floor_db`` it is reported (``warn``), once per quiet stretch. After a
    report, further ones wait until a quiet stretch measures 3 dB under the
    limit (one alert for a noisy setup, not one per pause).
    """

    def __init__(self, channels: int, sr: int, *, floor_db: float = -60.0, quiet_db: float = -40.0,
                 quiet_s: float = 1.0, frame_s: float = 0.02, steady_db: float = 6.0) -> None:
        self.channels, self.sr = int(channels), int(sr)
        self.floor_db, self.quiet_db, self.steady_db = float(floor_db), float(quiet_db), float(steady_db)
        self.frame = max(1, int(round(frame_s * sr)))
        self.need = max(2, int(round(quiet_s / frame_s)))
        self.reset(0)

    def reset(self, pos: int) -> None:
        self.part = np.zeros((self.channels, 0), dtype=np.float32)
        self.part_start = int(pos)
        self.levels: deque = deque(maxlen=self.need)
        self.quiet_start: int | None = None
        self.decided = False  # this quiet stretch has been judged
        self.armed = True

    def process(self, x: np.ndarray, pos: int) -> list[Event]:
        if self.part.shape[1] == 0:
            self.part_start = pos
        buf = np.concatenate([self.part, x], axis=1) if self.part.shape[1] else x
        nf = buf.shape[1] // self.frame
        out: list[Event] = []
        if nf:
            fr = buf[:, :nf * self.frame].reshape(self.channels, nf, self.frame).astype(np.float64)
            rms = np.sqrt(np.mean(fr * fr, axis=2)).max(axis=0)
            peak = np.abs(fr).max(axis=(0, 2))
            lv = db(rms)
            for k in range(nf):
                start = self.part_start + k * self.frame
                if peak[k] < DIGITAL_ZERO or lv[k] >= self.quiet_db:
                    self.levels.clear()
                    self.quiet_start, self.decided = None, False
                    continue
                if self.quiet_start is None:
                    self.quiet_start = start
                self.levels.append(float(lv[k]))
                if self.decided or len(self.levels) < self.need:
                    continue
                lv_arr = np.array(self.levels)
                if lv_arr.max() - lv_arr.min() > self.steady_db:
                    continue  # still a decaying tail, or a quiet part being played
                self.decided = True
                floor = float(np.median(lv_arr))
                if floor > self.floor_db and self.armed:
                    self.armed = False
                    s = start + self.frame - self.need * self.frame
                    out.append(Event("noise", "warn", s, start + self.frame, round(floor, 2), "dBFS",
                                     f"{floor:.0f} dBFS while the input is quiet, limit {self.floor_db:.0f} dBFS", None))
                elif floor <= self.floor_db - 3.0:
                    self.armed = True
        self.part = buf[:, nf * self.frame:].copy()
        self.part_start += nf * self.frame
        return out

    def flush(self) -> list[Event]:
        return []


# --- the analyzer ---------------------------------------------------------------------


@dataclass
class Levels:
    """Input levels per channel for a meter (dBFS; ``-inf`` for digital silence)."""

    peak_db: list[float] = field(default_factory=list)
    rms_db: list[float] = field(default_factory=list)


class LiveAnalyzer:
    """Runs every streaming check over consecutive blocks; returns findings once per defect episode.

    Episodes: events of one check less than ``hold_s`` apart (end to start)
    form one episode, which gives one alert, unless a later event in it is
    more severe than what was reported (a ``warn`` click, then an ``error``
    one), which is reported too. A true-peak event is held for 50 ms and
    dropped when clipping is found within ``hold_s`` before it or 50 ms after.

    Parameters
    ----------
    channels : int
        Channels of the blocks fed to :meth:`process`.
    sr : int
        Sample rate (48000 by default; the checks' time constants scale with it).
    settings : mapping, optional
        Overrides of :data:`LIVE_DEFAULTS` (the ``[listen]`` config section; extra keys are ignored).
    checks_cfg : mapping, optional
        The ``[checks]`` config section: ``[checks.click]`` keys are passed to
        the click detector, ``min_severity`` is not applied here (the monitor does it).
    clock : callable, optional
        ``clock(input_seconds) -> epoch seconds``, for the wall-clock time in
        messages; by default the time of the call.
    only : iterable of str, optional
        Run only these checks (names as in the table above).

    Attributes
    ----------
    pos : int
        Frames consumed (running input time x sr), including gaps.
    counts : dict
        Events per check, including those folded into an episode.
    levels : Levels
    """

    CHECKS = ("click", "clipping", "true-peak", "dropout", "dc-offset", "noise")
    SLOW = ("dc-offset", "silence", "noise")

    def __init__(self, channels: int, sr: int = 48000, settings: Mapping[str, Any] | None = None,
                 checks_cfg: Mapping[str, Any] | None = None, clock: Callable[[float], float] | None = None,
                 only: Any = None, channel_numbers: list[int] | None = None) -> None:
        from loopwatch.checks.clipping import ClipStream
        from loopwatch.checks.dc import DCStream
        from loopwatch.checks.dropout import DropoutStream
        from loopwatch.checks.truepeak import TruePeakStream

        self.channels, self.sr = int(channels), int(sr)
        s = {**LIVE_DEFAULTS, **{k: v for k, v in dict(settings or {}).items() if k in LIVE_DEFAULTS}}
        self.settings = s
        checks_cfg = dict(checks_cfg or {})
        click_cfg = dict(checks_cfg.get("click") or {}) if isinstance(checks_cfg.get("click"), Mapping) else {}
        self.clock = clock
        self.channel_numbers = list(channel_numbers) if channel_numbers else list(range(1, self.channels + 1))
        self.hold = int(round(float(s["hold_s"]) * self.sr))
        enabled = set(only) if only is not None else set(self.CHECKS)
        unknown = enabled - set(self.CHECKS)
        if unknown:
            raise ValueError(f"unknown live check(s): {', '.join(sorted(unknown))}; known: {', '.join(self.CHECKS)}")
        C, sr_ = self.channels, self.sr
        tp_db = float(s["true_peak_db"])
        self.trackers: list[Any] = []
        if "clipping" in enabled:
            self.trackers.append(ChecksStream(lambda: ClipStream(C, sr_, level_db=float(s["clip_level_db"])), sr_,
                                              lambda f: f"{int(f.value)} samples at full scale"))
        if "click" in enabled:
            self.trackers.append(ClickTracker(C, sr_, click_cfg,
                                              error_level_db=float(click_cfg.get("error_level_db", -30.0))))
        if "dropout" in enabled:
            self.trackers.append(ChecksStream(
                lambda: DropoutStream(C, sr_, min_ms=float(s["dropout_min_ms"]), max_ms=1000.0 * float(s["dropout_max_s"]),
                                      silence_s=float(s["silence_s"])), sr_,
                lambda f: (f"{f.value:.1f} ms of digital silence inside sound" if f.check == "dropout"
                           else f"exact zeros for {f.value:.1f} s"),
                severity={"silence": "info"}))
        if "dc-offset" in enabled:
            self.trackers.append(ChecksStream(
                lambda: DCStream(C, sr_, warn_db=float(s["dc_db"])), sr_,
                lambda f: f"offset {f.value:.1f} dBFS ({100.0 * 10 ** (f.value / 20.0):.2f} % of full scale)"))
        if "noise" in enabled:
            self.trackers.append(NoiseTracker(C, sr_, floor_db=float(s["noise_floor_db"]),
                                              quiet_db=float(s["quiet_db"]), quiet_s=float(s["quiet_s"])))
        self.true_peak = ChecksStream(lambda: TruePeakStream(C, sr_, threshold_dbtp=tp_db), sr_,
                                      lambda f: f"{f.value:+.1f} dBTP, over {tp_db:+.1f} dBTP") \
            if "true-peak" in enabled else None
        self._tp_wait = int(0.05 * self.sr)
        self._tp_pending: list[Event] = []
        self._clip_spans: deque = deque(maxlen=64)
        self._last_end: dict[str, int] = {}
        self._episode_rank: dict[str, int] = {}
        self.pos = 0
        self.counts: dict[str, int] = {}
        self.levels = Levels([-math.inf] * self.channels, [-math.inf] * self.channels)
        self._ms: np.ndarray | None = None

    # -- feeding -----------------------------------------------------------------------

    def process(self, x: np.ndarray) -> list[Finding]:
        """Analyse the next block(s) ``(channels, frames)``; return new findings in time order."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] != self.channels:
            raise ValueError(f"expected ({self.channels}, frames) audio, got shape {x.shape}")
        n = x.shape[1]
        if n == 0:
            return []
        if not np.isfinite(x).all():
            x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
        pos = self.pos
        events: list[Event] = []
        for t in self.trackers:
            events += t.process(x, pos)
        if self.true_peak is not None:
            self._tp_pending += self.true_peak.process(x, pos)
        self.pos = pos + n
        self._meter(x)
        return self._episodes(events)

    def _meter(self, x: np.ndarray) -> None:
        """Levels for a meter: peak with a 20 dB/s fall-back, RMS averaged over about 300 ms."""
        dt = x.shape[1] / self.sr
        peak = np.abs(x).max(axis=1).astype(np.float64)
        ms = np.mean(x.astype(np.float64) ** 2, axis=1)
        a = math.exp(-dt / 0.3)
        self._ms = ms if self._ms is None else a * self._ms + (1.0 - a) * ms
        pk, rm = [], []
        for c in range(self.channels):
            p_db = float(db(peak[c])) if peak[c] > 0 else -math.inf
            prev = self.levels.peak_db[c] - 20.0 * dt
            pk.append(max(p_db, prev) if math.isfinite(prev) or math.isfinite(p_db) else -math.inf)
            rm.append(10.0 * math.log10(self._ms[c]) if self._ms[c] > 1e-20 else -math.inf)
        self.levels = Levels(pk, rm)

    def gap(self, frames: int) -> list[Finding]:
        """``frames`` of input were lost: flush what can be judged, restart every tracker after the gap."""
        out = self.flush()
        self.pos += int(frames)
        for t in self.trackers:
            t.reset(self.pos)
        if self.true_peak is not None:
            self.true_peak.reset(self.pos)
        return out

    def xrun(self, start: int, stop: int, detail: str) -> list[Finding]:
        """Report an input overflow or a reader overrun at running input frames ``[start, stop)``."""
        return self._episodes([Event("xrun", "warn", int(start), int(max(stop, start)), 1.0, "count", detail)])

    def flush(self) -> list[Finding]:
        """End of input: report what the look-ahead was waiting for."""
        events: list[Event] = []
        for t in self.trackers:
            events += t.flush()
        return self._episodes(events, final=True)

    # -- episodes ----------------------------------------------------------------------

    def _episodes(self, events: list[Event], final: bool = False) -> list[Finding]:
        for e in events:
            if e.check == "clipping":
                self._clip_spans.append((e.start, e.stop))
        # true peak: held for 50 ms, dropped when clipping (the stronger report) is around
        ready = [e for e in self._tp_pending if final or e.start + self._tp_wait <= self.pos]
        self._tp_pending = [e for e in self._tp_pending if e not in ready]
        for e in ready:
            if not any(s <= e.start + self._tp_wait and t >= e.start - self.hold for s, t in self._clip_spans):
                events.append(e)
        events = self._merge_channels(events)
        out: list[Finding] = []
        for e in events:
            self.counts[e.check] = self.counts.get(e.check, 0) + 1
            last = self._last_end.get(e.check)
            self._last_end[e.check] = max(e.stop, last if last is not None else e.stop)
            rank = severity_rank(e.severity)
            if last is not None and e.start - last < self.hold and rank <= self._episode_rank.get(e.check, 0):
                continue  # same episode, and no worse than what was already reported
            if last is None or e.start - last >= self.hold:
                self._episode_rank[e.check] = rank
            else:
                self._episode_rank[e.check] = max(rank, self._episode_rank.get(e.check, 0))  # it got worse: tell
            out.append(self.to_finding(e))
        return out

    def _merge_channels(self, events: list[Event]) -> list[Event]:
        """Sort by time; one event for what several channels report at once (``channel`` None).

        "At once" is within 1 ms, or 0.5 s for the slow conditions (:attr:`SLOW`).
        """
        events = sorted(events, key=lambda e: (e.start, e.check))
        out: list[Event] = []
        for e in events:
            # the same instant for defects; within half a second for slow conditions (levels measured per channel)
            tol = self.sr // 2 if e.check in self.SLOW else max(1, self.sr // 1000)
            twin = next((o for o in reversed(out) if o.check == e.check and e.start - o.start <= tol
                         and o.channel != e.channel), None)
            if twin is None or e.channel is None:
                out.append(e)
                continue
            if severity_rank(e.severity) > severity_rank(twin.severity) or (
                    e.severity == twin.severity and abs(e.value) > abs(twin.value) and e.unit in ("dBTP", "dBFS")):
                twin.severity, twin.value, twin.detail = e.severity, e.value, e.detail
            twin.stop = max(twin.stop, e.stop)
            twin.channel = None
        return out

    def to_finding(self, e: Event) -> Finding:
        t0, t1 = e.start / self.sr, max(e.stop, e.start) / self.sr
        wall = self.clock(t0) if self.clock is not None else _time.time()
        clock = _time.strftime("%H:%M:%S", _time.localtime(wall))
        label = _LABELS.get(e.check, e.check)
        text = (e.detail or "") + _ch(e.channel, self.channel_numbers, self.channels)
        detail = f"; {text.lstrip(', ')}" if text else ""
        msg = f"{label} at input {t0:.3f} s ({clock}{detail})"
        return finding(e.check, e.severity, t0, t1, e.value, e.unit, msg.replace("\n", " "), channel=e.channel)


def at_least(findings: list[Finding], min_severity: str) -> list[Finding]:
    """The findings at or above ``min_severity``."""
    r = severity_rank(min_severity)
    return [f for f in findings if severity_rank(f.severity) >= r]
