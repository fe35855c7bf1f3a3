"""Streaming forms of the quality checks, for consecutive blocks of live input.

Each tracker consumes ``(channels, frames)`` float32 blocks in order, keeps the
state a defect spanning block boundaries needs, and returns :class:`Event`\\ s
with sample positions in **running input time** (frames since the stream
started). :class:`LiveAnalyzer` runs them all, merges what several channels
report at once, applies hysteresis (one alert per defect episode, see
``hold_s``) and turns events into :class:`loopwatch.findings.Finding`\\ s.

Detection logic comes from :mod:`loopwatch.checks` wherever it exists in a
block-friendly form:

=================  ===========================================================
live check         detection
=================  ===========================================================
``click``,         :func:`loopwatch.checks.click.detect_impulses` with
``discontinuity``  :func:`~loopwatch.checks.click.exclusion_mask`, run on
                   overlapping windows: each hop of ``hop`` samples is analysed
                   with ``left`` samples of history and ``right`` of look-ahead,
                   and only events whose peak falls in the hop are kept, so an
                   impulse on a block boundary is found exactly once.
``clipping``       :class:`loopwatch.checks.clipping.ClipStream` (flat runs at
                   the absolute ceiling, carried across blocks).
``true-peak``      4x oversampling (polyphase FIR, BS.1770 style) with the
                   filter state carried across blocks.
``dropout``,       runs of digital zero (:data:`loopwatch.checks._common.DIGITAL_ZERO`)
``silence``        inside sound, and long digital silence, carried across blocks.
``dc-offset``      mean over the last 2 s, with 6 dB of hysteresis.
``noise``          noise floor while the player is quiet: frame levels over a
                   steady quiet stretch.
``xrun``           reported by the monitor (PortAudio input overflow, or the
                   analysis falling behind the ring).
=================  ===========================================================
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


# --- clipping -------------------------------------------------------------------------


class ClipTracker:
    """:class:`loopwatch.checks.clipping.ClipStream`, re-based on the running input position."""

    def __init__(self, channels: int, sr: int, level_db: float = -0.1) -> None:
        self.channels, self.sr, self.level_db = int(channels), int(sr), float(level_db)
        self.reset(0)

    def reset(self, pos: int) -> None:
        from loopwatch.checks.clipping import ClipStream

        self._stream = ClipStream(self.channels, self.sr, level_db=self.level_db)
        self._base = int(pos)

    def _events(self, findings: list[Finding]) -> list[Event]:
        out = []
        for f in findings:
            s = self._base + int(round(f.t0 * self.sr))
            e = self._base + int(round(f.t1 * self.sr))
            where = f", channel {f.channel + 1}" if f.channel is not None and self.channels > 1 else ""
            out.append(Event("clipping", f.severity, s, e, float(e - s), "samples",
                             f"{e - s} samples at full scale{where}", f.channel))
        return out

    def process(self, x: np.ndarray, pos: int) -> list[Event]:
        return self._events(self._stream.process(x))

    def flush(self) -> list[Event]:
        return self._events(self._stream.flush())


# --- true peak ------------------------------------------------------------------------


class TruePeakTracker:
    """True peak per ITU-R BS.1770: 4x oversampling by a polyphase FIR, with history carried across blocks.

    The interpolation filter is a Kaiser-windowed sinc (81 taps at the upsampled
    rate, beta 5, cut-off at the input's Nyquist frequency), the design
    :func:`scipy.signal.resample_poly` uses for 4x. Each block is filtered
    together with the last ``taps - 1`` input samples, so the result is
    identical to oversampling the whole stream at once.

    Blocks whose sample peak is more than ``gate_db`` (6 dB) under the limit are
    not oversampled: real audio's inter-sample peaks exceed its sample peaks by
    about 3 dB at most (a full-scale sine at fs/4, sampled at 45 degrees).
    """

    UP = 4

    def __init__(self, channels: int, sr: int, threshold_db: float = -1.0, gate_db: float = 6.0) -> None:
        from scipy.signal import firwin

        self.channels, self.sr = int(channels), int(sr)
        self.threshold_db = float(threshold_db)
        self.thr = 10.0 ** (self.threshold_db / 20.0)
        self.gate = self.thr * 10.0 ** (-gate_db / 20.0)
        half = 10 * self.UP
        h = firwin(2 * half + 1, 1.0 / self.UP, window=("kaiser", 5.0)) * self.UP
        h = np.concatenate([h, np.zeros((-len(h)) % self.UP)])
        phases = np.stack([h[p::self.UP] for p in range(self.UP)])  # (UP, K)
        self.K = phases.shape[1]
        self.H = phases[:, ::-1].T.copy()  # (K, UP): a window of K past-to-present samples @ H = the UP outputs
        self.delay = half // self.UP  # input samples between a sample and its interpolated neighbourhood
        self.reset(0)

    def reset(self, pos: int) -> None:
        self.hist = np.zeros((self.channels, self.K - 1))

    def peaks(self, x: np.ndarray) -> np.ndarray:
        """Oversampled magnitude ``(channels, frames)``: the max over the 4 phases at each input sample."""
        buf = np.concatenate([self.hist, x], axis=1)
        self.hist = buf[:, buf.shape[1] - (self.K - 1):]
        win = np.lib.stride_tricks.sliding_window_view(buf, self.K, axis=1)  # (channels, frames, K)
        return np.abs(win @ self.H).max(axis=2)

    def process(self, x: np.ndarray, pos: int) -> list[Event]:
        if float(np.abs(x).max()) < self.gate:
            self.hist = np.concatenate([self.hist, x], axis=1)[:, -(self.K - 1):].astype(np.float64)
            return []
        mag = self.peaks(x.astype(np.float64))
        over = mag >= self.thr
        if not over.any():
            return []
        col = over.any(axis=0)
        i = int(np.argmax(col))
        j = int(len(col) - np.argmax(col[::-1]))
        chans = [c for c in range(self.channels) if over[c].any()]
        peak = float(mag.max())
        start = max(0, pos + i - self.delay)
        ch = chans[0] if len(chans) == 1 and self.channels > 1 else None
        where = f", channel {ch + 1}" if ch is not None else ""
        return [Event("true-peak", "warn", start, max(start + 1, pos + j - self.delay), round(float(db(peak)), 2), "dBTP",
                      f"{float(db(peak)):+.1f} dBTP, over {self.threshold_db:.1f} dBTP{where}", ch)]

    def flush(self) -> list[Event]:
        return []


# --- dropouts and digital silence ----------------------------------------------------


@dataclass
class _ZeroState:
    open_start: int | None = None  # current run of zeros (still open at the last block's end)
    sound_start: int = 0  # where the current stretch of sound began (end of the last qualifying zero run)
    pending: tuple[int, int] | None = None  # a dropout waiting for enough sound after it
    silence_reported: bool = False


class DropoutTracker:
    """Runs of digital zeros: short ones inside sound are dropouts, long ones digital silence.

    A *dropout* is a run of at least ``min_zero`` samples with ``|x| <`` :data:`DIGITAL_ZERO`,
    at most ``max_zero`` long, with at least ``min_sound`` samples of sound on
    both sides; it is reported once the sound after it is confirmed
    (``min_sound`` = 5 ms). Zero runs shorter than ``min_zero`` are part of
    sound (quiet 16-bit material crosses zero). *Digital silence* is a run
    reaching ``silence`` samples, reported once per run with severity ``info``.
    """

    def __init__(self, channels: int, sr: int, *, min_zero_ms: float = 1.0, max_zero_s: float = 1.0,
                 silence_s: float = 2.0, min_sound_ms: float = 5.0) -> None:
        self.channels, self.sr = int(channels), int(sr)
        self.min_zero = max(2, int(round(min_zero_ms * sr / 1000)))
        self.max_zero = int(round(max_zero_s * sr))
        self.silence = int(round(silence_s * sr))
        self.min_sound = max(1, int(round(min_sound_ms * sr / 1000)))
        self.reset(0)

    def reset(self, pos: int) -> None:
        self.st = [_ZeroState(sound_start=int(pos)) for _ in range(self.channels)]

    def _run_done(self, st: _ZeroState, s: int, e: int, out: list[Event], ch: int) -> None:
        if e - s < self.min_zero:
            return  # part of sound
        if st.pending is not None and s - st.pending[1] < self.min_sound:
            st.pending = None  # not enough sound after it: a gap in something quiet, not a dropout
        if s - st.sound_start >= self.min_sound and e - s <= self.max_zero:
            st.pending = (s, e)
        st.sound_start = e
        st.silence_reported = False

    def process(self, x: np.ndarray, pos: int) -> list[Event]:
        from loopwatch.checks._common import runs

        n = x.shape[1]
        end = pos + n
        out: list[Event] = []
        zero = np.abs(x) < DIGITAL_ZERO
        for ch in range(self.channels):
            st = self.st[ch]
            iv = runs(zero[ch])
            if len(iv):  # short zero runs inside the block are sound: skip them before the Python loop
                iv = iv[((iv[:, 1] - iv[:, 0]) >= self.min_zero) | (iv[:, 0] == 0) | (iv[:, 1] == n)]
            if st.open_start is not None and (len(iv) == 0 or iv[0][0] != 0):
                self._run_done(st, st.open_start, pos, out, ch)  # the block starts with sound
                st.open_start = None
            for s, e in iv:
                s_abs = st.open_start if (s == 0 and st.open_start is not None) else pos + int(s)
                if e == n:
                    st.open_start = s_abs
                else:
                    st.open_start = None
                    self._run_done(st, s_abs, pos + int(e), out, ch)
            if st.open_start is not None:
                length = end - st.open_start
                if (st.pending is not None and length >= self.min_zero
                        and st.open_start - st.pending[1] < self.min_sound):
                    st.pending = None
                if length >= self.silence and not st.silence_reported:
                    st.silence_reported = True
                    out.append(Event("silence", "info", st.open_start, end, round(length / self.sr, 3), "s",
                                     f"exact zeros for {length / self.sr:.1f} s{self._where(ch)}", ch))
            if st.pending is not None and end - st.pending[1] >= self.min_sound and (
                    st.open_start is None or st.open_start - st.pending[1] >= self.min_sound
                    or end - st.open_start < self.min_zero):
                s, e = st.pending
                st.pending = None
                ms = (e - s) * 1000.0 / self.sr
                out.append(Event("dropout", "error", s, e, round(ms, 2), "ms",
                                 f"{ms:.1f} ms of digital silence inside sound{self._where(ch)}", ch))
        return out

    def _where(self, ch: int) -> str:
        return f", channel {ch + 1}" if self.channels > 1 else ""

    def flush(self) -> list[Event]:
        return []


# --- DC offset ------------------------------------------------------------------------


class DcTracker:
    """DC offset: every ``window_s`` mean of the last ``span_s`` at or above ``dc_db``, with one sign.

    Requiring the offset in each window (not only on average) keeps the
    slow, asymmetric swings of bass notes from passing for DC. The event spans
    those ``span_s``; its value is their mean.

    Hysteresis: after a report, a channel is re-armed only once its offset
    falls 6 dB under the threshold.
    """

    def __init__(self, channels: int, sr: int, dc_db: float = -40.0, *, window_s: float = 0.5,
                 span_s: float = 2.0) -> None:
        self.channels, self.sr = int(channels), int(sr)
        self.thr = 10.0 ** (dc_db / 20.0)
        self.window = max(1, int(round(window_s * sr)))
        self.n_windows = max(1, int(round(span_s / window_s)))
        self.reset(0)

    def reset(self, pos: int) -> None:
        self.acc = np.zeros(self.channels)
        self.count = 0
        self.win_start = int(pos)
        self.means: deque = deque(maxlen=self.n_windows)
        self.starts: deque = deque(maxlen=self.n_windows)
        self.armed = np.ones(self.channels, dtype=bool)

    def process(self, x: np.ndarray, pos: int) -> list[Event]:
        out: list[Event] = []
        i, n = 0, x.shape[1]
        while i < n:
            take = min(n - i, self.window - self.count)
            self.acc += x[:, i:i + take].sum(axis=1, dtype=np.float64)
            self.count += take
            i += take
            if self.count == self.window:
                self.means.append(self.acc / self.count)
                self.starts.append(self.win_start)
                self.acc = np.zeros(self.channels)
                self.count = 0
                self.win_start = pos + i
                if len(self.means) == self.n_windows:
                    wins = np.stack(self.means)  # (n_windows, channels)
                    dc = wins.mean(axis=0)
                    for ch in range(self.channels):
                        a = abs(float(dc[ch]))
                        w = wins[:, ch]
                        sustained = bool(np.all(np.abs(w) >= self.thr) and (np.all(w > 0) or np.all(w < 0)))
                        if self.armed[ch] and sustained:
                            self.armed[ch] = False
                            where = f" on channel {ch + 1}" if self.channels > 1 else ""
                            out.append(Event("dc-offset", "warn", self.starts[0], pos + i, round(float(db(a)), 2),
                                             "dBFS", f"mean {float(dc[ch]):+.4f} ({float(db(a)):.0f} dBFS) for "
                                             f"{self.n_windows * self.window / self.sr:.1f} s{where}",
                                             ch if self.channels > 1 else None))
                        elif a < self.thr / 2.0:
                            self.armed[ch] = True
        return out

    def flush(self) -> list[Event]:
        return []


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
    """Input level of the last analysed stretch, per channel, for the meter."""

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

    def __init__(self, channels: int, sr: int = 48000, settings: Mapping[str, Any] | None = None,
                 checks_cfg: Mapping[str, Any] | None = None, clock: Callable[[float], float] | None = None,
                 only: Any = None) -> None:
        self.channels, self.sr = int(channels), int(sr)
        s = {**LIVE_DEFAULTS, **{k: v for k, v in dict(settings or {}).items() if k in LIVE_DEFAULTS}}
        self.settings = s
        checks_cfg = dict(checks_cfg or {})
        click_cfg = dict(checks_cfg.get("click") or {}) if isinstance(checks_cfg.get("click"), Mapping) else {}
        self.clock = clock
        self.hold = int(round(float(s["hold_s"]) * self.sr))
        enabled = set(only) if only is not None else set(self.CHECKS)
        unknown = enabled - set(self.CHECKS)
        if unknown:
            raise ValueError(f"unknown live check(s): {', '.join(sorted(unknown))}; known: {', '.join(self.CHECKS)}")
        self.trackers: list[Any] = []
        if "clipping" in enabled:
            self.trackers.append(ClipTracker(self.channels, self.sr, float(s["clip_level_db"])))
        if "click" in enabled:
            self.trackers.append(ClickTracker(self.channels, self.sr, click_cfg,
                                              error_level_db=float(click_cfg.get("error_level_db", -30.0))))
        if "dropout" in enabled:
            self.trackers.append(DropoutTracker(self.channels, self.sr, min_zero_ms=float(s["dropout_min_ms"]),
                                                max_zero_s=float(s["dropout_max_s"]), silence_s=float(s["silence_s"])))
        if "dc-offset" in enabled:
            self.trackers.append(DcTracker(self.channels, self.sr, float(s["dc_db"])))
        if "noise" in enabled:
            self.trackers.append(NoiseTracker(self.channels, self.sr, floor_db=float(s["noise_floor_db"]),
                                              quiet_db=float(s["quiet_db"]), quiet_s=float(s["quiet_s"])))
        self.true_peak = TruePeakTracker(self.channels, self.sr, float(s["true_peak_db"])) if "true-peak" in enabled else None
        self._tp_wait = int(0.05 * self.sr)
        self._tp_pending: list[Event] = []
        self._clip_spans: deque = deque(maxlen=64)
        self._last_end: dict[str, int] = {}
        self._episode_rank: dict[str, int] = {}
        self.pos = 0
        self.counts: dict[str, int] = {}
        self.levels = Levels([-math.inf] * self.channels, [-math.inf] * self.channels)

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
        peak = np.abs(x).max(axis=1)
        rms = np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=1))
        self.levels = Levels([float(db(v)) for v in peak], [float(db(v)) for v in rms])
        return self._episodes(events)

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
        events.sort(key=lambda e: (e.start, e.check))
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

    def to_finding(self, e: Event) -> Finding:
        t0, t1 = e.start / self.sr, max(e.stop, e.start) / self.sr
        wall = self.clock(t0) if self.clock is not None else _time.time()
        clock = _time.strftime("%H:%M:%S", _time.localtime(wall))
        label = _LABELS.get(e.check, e.check)
        detail = f"; {e.detail}" if e.detail else ""
        msg = f"{label} at input {t0:.3f} s ({clock}{detail})"
        return finding(e.check, e.severity, t0, t1, e.value, e.unit, msg.replace("\n", " "), channel=e.channel)


def at_least(findings: list[Finding], min_severity: str) -> list[Finding]:
    """The findings at or above ``min_severity``."""
    r = severity_rank(min_severity)
    return [f for f in findings if severity_rank(f.severity) >= r]
