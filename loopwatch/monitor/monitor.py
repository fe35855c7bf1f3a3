"""The live input monitor: a PortAudio input stream, a ring buffer, an analysis thread, alerts.

Three threads take part:

1. **PortAudio's audio thread** runs :attr:`BlockRing.callback`, which only
   copies each block into the preallocated ring (see :mod:`loopwatch.monitor.ring`
   for why that is real-time safe as far as Python allows).
2. **The analysis thread** polls the ring every few milliseconds, runs the
   streaming checks (:class:`loopwatch.monitor.detectors.LiveAnalyzer`),
   counts xruns, maps running input time to the wall clock with PortAudio's
   ADC timestamps, and queues alerts.
3. **The publishing thread** stores, journals and pushes alerts through a
   :class:`loopwatch.publish.Publisher` (the daemon's database, journal and
   OSC targets), and writes ``--record-on-alert`` clips, so that a slow disk
   or a busy database never stalls the analysis.

Without a device (tests, offline use), :meth:`Monitor.feed` pushes blocks
through the same callback, ring, analysis and publishing, synchronously.
"""

from __future__ import annotations

import logging
import queue
from collections import deque
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from loopwatch.checks._common import DIGITAL_ZERO
from loopwatch.findings import Finding
from loopwatch.monitor.detectors import LIVE_DEFAULTS, LiveAnalyzer, at_least
from loopwatch.monitor.devices import DeviceError, import_sounddevice, resolve_input
from loopwatch.monitor.recorder import AlertRecorder, Clip, write_clip
from loopwatch.monitor.ring import BlockRing

log = logging.getLogger(__name__)


class MonitorError(RuntimeError):
    """The input stream cannot be opened or stopped working (one line)."""


@dataclass
class AlertInfo:
    """One alert of this session, with its timing (used by the meter and ``bench/listen_latency.py``).

    Attributes
    ----------
    finding : Finding
    record : AlertRecord or None
        As stored and pushed (``record.id`` is the alert id); None until published, or without a publisher.
    entered : float
        Wall-clock time the defect's first sample entered the input: PortAudio's ADC time of that sample.
    detected : float
        Wall-clock time the analysis thread produced the alert.
    published : float
        Wall-clock time ``publish_findings`` returned (datagrams sent); 0 until then.
    """

    finding: Finding
    entered: float
    detected: float
    record: Any = None
    published: float = 0.0


@dataclass
class MonitorStats:
    """A snapshot for the terminal meter."""

    device: str
    path: str
    input_s: float
    peak_db: list[float]
    rms_db: list[float]
    xruns: int
    lost_blocks: int
    n_alerts: int
    last_alert: str
    counts: dict[str, int] = field(default_factory=dict)
    recordings: int = 0
    silent: bool = False


def parse_channels(spec: str | Sequence[int] | int | None) -> list[int] | None:
    """``"1,2"`` -> ``[1, 2]`` (1-based channel numbers); an int n -> ``[1..n]``; None/empty -> None."""
    if spec is None or spec == "" or (isinstance(spec, (list, tuple)) and not spec):
        return None
    if isinstance(spec, int):
        if spec < 1:
            raise ValueError(f"channel count must be at least 1, got {spec}")
        return list(range(1, spec + 1))
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for it in items:
        try:
            c = int(str(it).strip())
        except ValueError:
            raise ValueError(f"bad channel list {spec!r}: channels are numbers from 1, e.g. 1,2") from None
        if c < 1:
            raise ValueError(f"bad channel list {spec!r}: channels are numbered from 1")
        if c in out:
            raise ValueError(f"bad channel list {spec!r}: channel {c} given twice")
        out.append(c)
    return out


class Monitor:
    """Monitor an audio input in real time and raise alerts like the daemon's.

    Parameters
    ----------
    device : str, int or None
        Input device name (exact, or a unique part of it) or index; None: the
        default input. Resolved by :meth:`start`.
    channels : "1,2", list of int, int or None
        1-based input channels to analyse; None: the first two (or one).
    rate : int
        Sample rate (48000).
    block : int
        Frames per PortAudio callback (512).
    latency : "high", "low" or float
        PortAudio's suggested input latency. ``"high"`` (the default) is
        robust; ``"low"`` or a number of seconds trades xrun safety for latency.
    cfg : dict, optional
        The configuration (:func:`loopwatch.config.load_config`); its
        ``[listen]`` settings tune the checks, ``[checks] min_severity``
        decides what becomes an alert, ``[checks.click]`` tunes clicks.
    publisher : loopwatch.publish.Publisher, optional
        Where alerts go (database, journal, OSC). None: only ``on_alert`` and :attr:`alerts`.
    record_on_alert : float
        Keep this many seconds around each alert in a WAV (0: off).
    record_dir : path, optional
        Folder for those WAVs (default ``<data folder>/recordings``).
    name : str, optional
        Device name used in the alert path ``input:<name>`` (default: the device's name, or ``feed``).
    on_alert : callable, optional
        ``on_alert(AlertInfo)``, called from the publishing thread after each alert is published.
    ring_s : float
        Seconds of audio the ring holds (how long analysis may stall without losing input).
    poll_s : float
        How often the analysis thread looks at the ring.
    on_record : callable, optional
        ``on_record(path, clip)``, called after a ``record_on_alert`` WAV was written.

    Examples
    --------
    >>> with Monitor(device="pulse", publisher=pub) as m:   # doctest: +SKIP
    ...     time.sleep(60)
    >>> m = Monitor(channels=2, name="test")               # no device: feed blocks yourself
    >>> m.feed(np.zeros((2, 48000), np.float32))           # doctest: +SKIP
    >>> m.finish()                                          # doctest: +SKIP
    """

    def __init__(self, device: str | int | None = None, channels: Any = None, rate: int = 48000, block: int = 512,
                 *, latency: str | float = "high", cfg: dict[str, Any] | None = None, publisher: Any = None,
                 record_on_alert: float = 0.0, record_dir: str | Path | None = None, name: str | None = None,
                 on_alert: Callable[[AlertInfo], None] | None = None, ring_s: float = 4.0,
                 poll_s: float = 0.004, on_record: Callable[[Path, Clip], None] | None = None) -> None:
        from loopwatch.config import DEFAULTS

        self.cfg = cfg if cfg is not None else DEFAULTS
        if int(rate) < 8000 or int(block) < 16:
            raise ValueError(f"bad stream settings: rate={rate}, block={block}")
        self.device = device
        self.channels = parse_channels(channels)
        self.rate, self.block = int(rate), int(block)
        self.latency = _parse_latency(latency)
        self.publisher = publisher
        self.record_on_alert = float(record_on_alert or 0.0)
        self.record_dir = Path(record_dir) if record_dir is not None else None
        self.name = name
        self.on_alert = on_alert
        self.on_record = on_record
        self.ring_s, self.poll_s = float(ring_s), float(poll_s)
        self.min_severity = str(self.cfg.get("checks", {}).get("min_severity", "warn"))

        self.device_info: dict[str, Any] | None = None
        self.path = f"input:{name}" if name else ""
        self.stream = None
        self.ring: BlockRing | None = None
        self.analyzer: LiveAnalyzer | None = None
        self.recorder: AlertRecorder | None = None
        self.alerts: list[AlertInfo] = []
        self.recordings: list[Path] = []
        self.xruns = 0
        self.lost_blocks = 0
        self.error: BaseException | None = None
        self._sel: np.ndarray | None = None
        self._open_channels = 0
        self._lock = threading.Lock()
        self._stream_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._queue: queue.Queue = queue.Queue()
        self._stamps: deque = deque(maxlen=64)  # per block: stream-clock ADC time - running frame / rate
        self._offset = 0.0  # wall clock - stream clock
        self._offset_at = 0.0
        self._last_alert = ""
        self._started = False
        self._stopped = False
        self._feeding = False
        self._stream_time: Callable[[], float] | None = None
        self._silent = False
        #: The stream after :meth:`stop` closed it (``closed_stream.closed`` is True), for checks and tests.
        self.closed_stream = None

    # -- set-up ------------------------------------------------------------------------

    def _setup(self, open_channels: int, selected: list[int]) -> None:
        self._open_channels = int(open_channels)
        self._sel = np.asarray([c - 1 for c in selected], dtype=np.intp)
        n_slots = max(8, int(np.ceil(self.ring_s * self.rate / self.block)))
        self.ring = BlockRing(self.block, self._open_channels, n_slots)
        listen = {k: v for k, v in dict(self.cfg.get("listen", {})).items() if k in LIVE_DEFAULTS}
        self.analyzer = LiveAnalyzer(len(selected), self.rate, listen, self.cfg.get("checks", {}), clock=self.wall_time)
        if self.record_on_alert > 0:
            self.recorder = AlertRecorder(len(selected), self.rate, self.record_on_alert)
            if self.record_dir is None:
                from loopwatch.config import data_dir

                self.record_dir = data_dir() / "recordings"

    def start(self) -> "Monitor":
        """Resolve the device, open the input stream and start analysing. Raises DeviceError or MonitorError."""
        if self._started:
            raise MonitorError("this monitor was already started")
        sd = import_sounddevice()
        info = resolve_input(self.device, sd)
        self.device_info = info
        chans = self.channels or list(range(1, min(2, info["inputs"]) + 1))
        bad = [c for c in chans if c > info["inputs"]]
        if bad:
            raise DeviceError(f"device '{info['name']}' has {info['inputs']} input channel(s); "
                              f"channel {bad[0]} does not exist")
        if not self.path:
            self.path = f"input:{info['name']}"
        self._setup(max(chans), chans)
        self._started = True
        try:
            self.stream = sd.RawInputStream(device=info["index"], channels=self._open_channels,
                                            samplerate=self.rate, blocksize=self.block, dtype="float32",
                                            latency=self.latency, callback=self.ring.callback)
        except Exception as exc:  # PortAudioError, ValueError: bad rate, channels, busy device
            self._close_stream()
            raise MonitorError(f"cannot open input '{info['name']}' at {self.rate} Hz, "
                               f"{self._open_channels} ch: {_one_line(exc)}") from None
        stream = self.stream
        self._stream_time = lambda: stream.time
        self._refresh_offset()
        self._spawn()
        try:
            self.stream.start()
        except Exception as exc:
            self.stop()
            raise MonitorError(f"cannot start input '{info['name']}': {_one_line(exc)}") from None
        log.info("listening on '%s' (channels %s of %d, %d Hz, block %d, input latency %.1f ms)", info["name"],
                 ",".join(map(str, chans)), info["inputs"], self.rate, self.block, 1000 * float(self.stream.latency))
        return self

    def _spawn(self) -> None:
        self._stop.clear()
        self._threads = [threading.Thread(target=self._analysis_loop, name="loopwatch-listen-analysis", daemon=True),
                         threading.Thread(target=self._publish_loop, name="loopwatch-listen-publish", daemon=True)]
        for t in self._threads:
            t.start()

    def __enter__(self) -> "Monitor":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- stopping ----------------------------------------------------------------------

    def _close_stream(self) -> None:
        with self._stream_lock:  # the analysis thread must not ask a closing stream for its time
            self._stream_time = None
            s, self.stream = self.stream, None
        if s is None:
            return
        try:
            s.stop()
        except Exception as exc:  # device gone: closing still frees it
            log.debug("stream stop: %s", exc)
        finally:
            try:
                s.close()
            except Exception as exc:
                log.debug("stream close: %s", exc)
        self.closed_stream = s

    def stop(self) -> None:
        """Close the stream, analyse what is left, publish the last alerts; safe to call twice."""
        if self._feeding:
            self.finish()
            return
        if self._stopped:
            return
        self._stopped = True
        self._close_stream()
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30.0)
            if t.is_alive():
                log.warning("thread %s did not finish", t.name)
        self._threads = []

    @property
    def running(self) -> bool:
        """True while the stream delivers audio and the analysis works."""
        s = self.stream
        return bool(s is not None and s.active and self.error is None and not self._stopped)

    # -- feeding without a device ------------------------------------------------------

    def feed(self, x: np.ndarray, *, overflow: Iterable[int] = ()) -> list[AlertInfo]:
        """Push audio through the callback, ring, analysis and publishing without a device.

        Parameters
        ----------
        x : np.ndarray
            ``(channels, frames)`` float32 at :attr:`rate`, with the channels
            an input stream would deliver (``max(channels)`` of them). Whole
            blocks are fed; a remainder is kept for the next call.
        overflow : iterable of int
            Indices of blocks (within this call) to flag as PortAudio input overflows.

        Returns
        -------
        list of AlertInfo
            The alerts this call raised, published.
        """
        if self.stream is not None:
            raise MonitorError("feed() is for a monitor without a device; this one has a stream")
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x[None, :]
        if not self._feeding:
            chans = self.channels or list(range(1, x.shape[0] + 1))
            if max(chans) > x.shape[0]:
                raise ValueError(f"channel {max(chans)} asked for, but the fed audio has {x.shape[0]}")
            self.path = self.path or "input:feed"
            self._setup(x.shape[0], chans)
            self._feeding = True
            self._rest = np.zeros((x.shape[0], 0), np.float32)
        if x.shape[0] != self._open_channels:
            raise ValueError(f"expected {self._open_channels} channels, got {x.shape[0]}")
        x = np.concatenate([self._rest, x], axis=1)
        nb = x.shape[1] // self.block
        self._rest = x[:, nb * self.block:]
        inter = np.ascontiguousarray(x[:, :nb * self.block].T)  # interleaved, as PortAudio delivers
        flags = set(int(i) for i in overflow)
        before = len(self.alerts)
        for b in range(nb):
            now = time.time()
            t = SimpleNamespace(inputBufferAdcTime=now, currentTime=now, outputBufferDacTime=0.0)
            st = SimpleNamespace(input_overflow=b in flags)
            self.ring.callback(memoryview(inter[b * self.block:(b + 1) * self.block]).cast("B"), self.block, t, st)
            if (b + 1) % (self.ring.n_slots // 2) == 0 or b == nb - 1:
                self._step()
        self._drain_queue()
        return self.alerts[before:]

    def finish(self) -> list[AlertInfo]:
        """Feeding is over: analyse the look-ahead that was pending and publish it."""
        before = len(self.alerts)
        if self._feeding and not self._stopped:
            self._step()
            self._final()
            self._drain_queue()
            self._stopped = True
        return self.alerts[before:]

    # -- analysis thread ---------------------------------------------------------------

    def _analysis_loop(self) -> None:
        try:
            while True:
                stopping = self._stop.is_set()
                if not self._step():
                    if stopping:
                        break
                    time.sleep(self.poll_s)
                if time.monotonic() - self._offset_at > 2.0:
                    self._refresh_offset()
            self._final()
        except BaseException as exc:  # keep the process alive; the CLI reports it and stops
            self.error = exc
            log.exception("live analysis failed")
        finally:
            self._queue.put(None)

    def _refresh_offset(self) -> None:
        self._offset_at = time.monotonic()
        with self._stream_lock:
            if self._stream_time is None:
                return
            try:
                a = time.time()
                st = float(self._stream_time())
                b = time.time()
            except Exception:
                return
        if st > 0:
            self._offset = (a + b) / 2.0 - st

    def wall_time(self, input_s: float) -> float:
        """Wall-clock time (epoch seconds) at which running input time ``input_s`` entered the input.

        Uses the median of ``ADC time - frame / rate`` over the last 64 blocks'
        PortAudio timestamps (robust to a callback's jittered or bogus stamp),
        converted from the stream clock to the wall clock.
        """
        with self._lock:
            stamps = list(self._stamps)
        if not stamps:
            return time.time() - (self.analyzer.pos / self.rate - input_s if self.analyzer else 0.0)
        return float(np.median(stamps)) + input_s + self._offset

    def _step(self) -> bool:
        """Analyse what the ring holds; False when it held nothing."""
        chunk = self.ring.read()
        if chunk is None:
            return False
        an = self.analyzer
        found: list[Finding] = []
        if self.ring.bad_frames[0]:
            log.warning("PortAudio delivered a block of %d frames instead of %d", int(self.ring.bad_frames[0]),
                        self.block)
            self.ring.bad_frames[0] = 0
        if chunk.start > an.pos:  # the ring overflowed: the analysis fell behind
            gap = chunk.start - an.pos
            self.lost_blocks += chunk.lost
            ms = 1000.0 * gap / self.rate
            found += an.xrun(an.pos, chunk.start, f"analysis fell behind, {ms:.0f} ms of input skipped")
            found += an.gap(gap)
        nb = len(chunk.adc)
        if nb:
            adc = chunk.adc
            if not np.all(adc > 0):  # host API without ADC times: the callback time, less the block
                adc = np.where(adc > 0, adc, chunk.now - self.block / self.rate)
            frames0 = chunk.start + self.block * np.arange(nb)
            good = adc > 0
            if good.any():
                with self._lock:
                    self._stamps.extend((adc[good] - frames0[good] / self.rate).tolist())
            over = np.flatnonzero(chunk.overflow)
            if len(over):
                self.xruns += len(over)
                for k in over:
                    s = chunk.start + int(k) * self.block
                    found += an.xrun(s, s + self.block, "input overflow, audio was lost")
            data = chunk.data[self._sel] if len(self._sel) != chunk.data.shape[0] or np.any(
                self._sel != np.arange(chunk.data.shape[0])) else chunk.data
            found += an.process(data)
            if self.recorder is not None:
                for clip in self.recorder.add(data, chunk.start):
                    self._queue.put(("clip", clip))
        self._dispatch(found)
        with self._lock:
            self._silent = bool(np.all(np.abs(data) < DIGITAL_ZERO)) if nb else self._silent
        return True

    def _final(self) -> None:
        an = self.analyzer
        if an is None:
            return
        self._dispatch(an.flush())
        if self.recorder is not None:
            for clip in self.recorder.finish():
                self._queue.put(("clip", clip))

    def _dispatch(self, found: list[Finding]) -> None:
        if not found:
            return
        for f in found:
            if f.severity == "info":
                log.info("%s", f.message)
        alerts = at_least(found, self.min_severity)
        if not alerts:
            return
        now = time.time()
        infos = [AlertInfo(f, self.wall_time(f.t0), now) for f in alerts]
        with self._lock:
            self.alerts.extend(infos)
            self._last_alert = alerts[-1].message
        if self.recorder is not None:
            for i in infos:
                f = i.finding
                self.recorder.request(int(round(f.t0 * self.rate)), int(round(f.t1 * self.rate)), f.check, i.entered)
        self._queue.put(("alerts", infos))

    # -- publishing thread -------------------------------------------------------------

    def _publish_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            self._handle_item(item)

    def _drain_queue(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._handle_item(item)

    def _handle_item(self, item: tuple) -> None:
        kind, payload = item
        try:
            if kind == "alerts":
                self._publish(payload)
            elif kind == "clip":
                self._write_clip(payload)
        except Exception:  # a full disk or a locked database must not end the monitoring
            log.exception("could not %s", "publish alerts" if kind == "alerts" else "write a recording")

    def _publish(self, infos: list[AlertInfo]) -> None:
        records: list[Any] = [None] * len(infos)
        if self.publisher is not None:
            records = self.publisher.publish_findings(self.path, [i.finding for i in infos], source="listen")
        done = time.time()
        for i, r in zip(infos, records):
            i.record, i.published = r, done
            log.info("alert%s: %s", f" #{r.id}" if r is not None else "", i.finding.message)
            if self.on_alert is not None:
                try:
                    self.on_alert(i)
                except Exception:
                    log.exception("on_alert callback failed")

    def _write_clip(self, clip: Clip) -> None:
        p = write_clip(self.record_dir, clip, self.rate)
        with self._lock:
            self.recordings.append(p)
        log.info("recorded %.1f s around %s: %s", clip.data.shape[1] / self.rate, "+".join(clip.checks), p)
        if self.on_record is not None:
            try:
                self.on_record(p, clip)
            except Exception:
                log.exception("on_record callback failed")

    # -- meter -------------------------------------------------------------------------

    def stats(self) -> MonitorStats:
        an = self.analyzer
        with self._lock:
            return MonitorStats(
                device=(self.device_info or {}).get("name", self.name or "feed"), path=self.path,
                input_s=(an.pos / self.rate) if an else 0.0,
                peak_db=list(an.levels.peak_db) if an else [], rms_db=list(an.levels.rms_db) if an else [],
                xruns=self.xruns, lost_blocks=self.lost_blocks, n_alerts=len(self.alerts),
                last_alert=self._last_alert, counts=dict(an.counts) if an else {},
                recordings=len(self.recordings), silent=self._silent)


def _parse_latency(latency: str | float) -> str | float:
    if isinstance(latency, (int, float)):
        if latency <= 0:
            raise ValueError(f"latency must be positive, got {latency}")
        return float(latency)
    text = str(latency).strip().lower()
    if text in ("high", "low"):
        return text
    try:
        return _parse_latency(float(text))
    except ValueError:
        raise ValueError(f"latency must be 'high', 'low' or seconds, got {latency!r}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
