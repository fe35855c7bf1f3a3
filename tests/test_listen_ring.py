"""The ring buffer the PortAudio callback writes into: order, overruns, wrap-around, and no allocation."""

from __future__ import annotations

import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest

from loopwatch.monitor.ring import BlockRing


def _block(ring: BlockRing, value: float) -> bytes:
    """An interleaved block (frames, channels) whose samples encode ``value`` and their position."""
    x = value + np.arange(ring.block * ring.channels, dtype=np.float32).reshape(ring.block, ring.channels) * 1e-4
    return x.astype(np.float32).tobytes()


def _expected(ring: BlockRing, value: float) -> np.ndarray:
    return np.frombuffer(_block(ring, value), np.float32).reshape(ring.block, ring.channels).T


def _t(adc: float) -> SimpleNamespace:
    return SimpleNamespace(inputBufferAdcTime=adc, currentTime=adc + 0.01, outputBufferDacTime=0.0)


OK = SimpleNamespace(input_overflow=False)
OVER = SimpleNamespace(input_overflow=True)


def test_blocks_come_out_in_order_with_their_timestamps():
    ring = BlockRing(block=64, channels=2, n_slots=8)
    assert ring.read() is None
    for k in range(5):
        ring.callback(_block(ring, k), 64, _t(100.0 + k), OVER if k == 3 else OK)
    c = ring.read()
    assert c.start == 0 and c.lost == 0
    assert c.data.shape == (2, 5 * 64)
    for k in range(5):
        np.testing.assert_array_equal(c.data[:, k * 64:(k + 1) * 64], _expected(ring, k))
    np.testing.assert_allclose(c.adc, 100.0 + np.arange(5))
    np.testing.assert_allclose(c.now, 100.01 + np.arange(5))
    assert c.overflow.tolist() == [False, False, False, True, False]
    assert ring.read() is None
    ring.callback(_block(ring, 9), 64, _t(200.0), OK)
    c = ring.read()
    assert c.start == 5 * 64 and c.data.shape == (2, 64)
    np.testing.assert_array_equal(c.data, _expected(ring, 9))


def test_a_lapped_reader_skips_overwritten_blocks_and_counts_them():
    ring = BlockRing(block=32, channels=1, n_slots=8)
    for k in range(20):  # 20 blocks into 8 slots, nobody reading
        ring.callback(_block(ring, k), 32, _t(k), OK)
    c = ring.read()
    # the reader keeps n_slots - 1 blocks (the slot the producer writes next is never trusted)
    assert c.lost == 20 - 7
    assert c.start == 13 * 32
    for i, k in enumerate(range(13, 20)):
        np.testing.assert_array_equal(c.data[:, i * 32:(i + 1) * 32], _expected(ring, k))
    assert ring.lost_total == 13
    ring.callback(_block(ring, 20), 32, _t(20), OK)
    c = ring.read()
    assert c.start == 20 * 32 and c.lost == 0


def test_sequence_numbers_wrap_without_losing_count():
    ring = BlockRing(block=16, channels=2, n_slots=4, laps=2)  # wraps every 8 blocks
    got = []
    for k in range(50):
        ring.callback(_block(ring, k), 16, _t(k), OK)
        if k % 3 == 2:
            c = ring.read()
            got.append((c.start, c.data.shape[1], c.lost))
    c = ring.read()
    got.append((c.start, c.data.shape[1], c.lost))
    assert sum(n for _, n, _ in got) == 50 * 16
    assert all(lost == 0 for *_, lost in got)
    assert [s for s, _, _ in got] == [16 * k for k in range(0, 50, 3)][: len(got)]


def test_a_block_of_the_wrong_size_is_not_read_past_and_is_flagged():
    ring = BlockRing(block=64, channels=2, n_slots=8)
    short = np.ones((10, 2), np.float32).tobytes()
    ring.callback(short, 10, _t(1.0), OK)
    c = ring.read()
    assert ring.bad_frames[0] == 10
    assert np.all(c.data[:, :10] == 1.0) and np.all(c.data[:, 10:] == 0.0)


def test_the_callback_allocates_nothing():
    """After warm-up, the callback creates no Python objects and no numpy buffers (traced by tracemalloc)."""
    sd = pytest.importorskip("sounddevice", exc_type=OSError)
    ring = BlockRing(block=512, channels=2, n_slots=64)
    cb = ring.callback
    data = sd._ffi.buffer(sd._ffi.new("float[]", 1024), 4096)  # what sounddevice hands a RawInputStream callback
    tinfo = sd._ffi.new("PaStreamCallbackTimeInfo*")
    tinfo.inputBufferAdcTime, tinfo.currentTime = 12.5, 12.6
    status = sd.CallbackFlags(0)

    def empty(indata, frames, time, status):
        pass

    def peak(fn, calls=500):  # 1000 calls in all: under the ring's sequence modulus (64 x 16)
        for _ in range(calls):  # warm-up (and the cycle is already past its first lap)
            fn(data, 512, tinfo, status)
        tracemalloc.start()
        try:
            for _ in range(calls):
                fn(data, 512, tinfo, status)
            return tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    base_now, base_peak = peak(empty)
    now, top = peak(cb)
    assert now <= base_now
    assert top <= base_peak  # not one allocation more than calling an empty function
    c = ring.read()  # the calls really wrote: 1000 blocks, the last 63 still readable
    assert c.lost == 1000 - 63 and c.data.shape[1] == 63 * 512
    assert np.all(c.adc == 12.5) and np.all(c.now == 12.6)


class _FakeMonitor:
    """Stands in for loopwatch.monitor.monitor.Monitor in the listen command: ``at`` names the moment a
    Ctrl-C (SIGINT to this process) arrives."""

    made: list = []

    def __init__(self, *args, at: str = "", **kwargs) -> None:
        import types

        self.at = at
        self.rate, self.block, self.path, self.record_dir = 48000, 512, "input:fake", ""
        self.error, self.stopped, self.running = None, 0, True
        self.stream = types.SimpleNamespace(latency=0.01)
        self._info = {"name": "fake", "inputs": 2}
        _FakeMonitor.made.append(self)

    def _ctrl_c(self, moment: str) -> None:
        import os
        import signal

        if self.at == moment:
            os.kill(os.getpid(), signal.SIGINT)

    def start(self) -> None:
        self._ctrl_c("start")

    @property
    def device_info(self):
        self._ctrl_c("after-start")  # the window between opening the stream and waiting
        return self._info

    def stats(self):
        import types

        return types.SimpleNamespace(input_s=0.0, n_alerts=0, xruns=0, recordings=0)

    def stop(self) -> None:
        self.stopped += 1


@pytest.mark.parametrize("moment,code", [("after-start", 0), ("start", 130)])
def test_ctrl_c_at_any_moment_closes_the_stream(lw_home, monkeypatch, moment, code):
    """A Ctrl-C that lands between opening the stream and the wait loop used to escape as KeyboardInterrupt
    without closing the stream; PortAudio's shutdown then hung the process at exit (CI: killed after 60 s).
    Now Ctrl-C only asks to stop: the stream is always closed, and the signal handlers are restored."""
    import signal

    from typer.testing import CliRunner

    import loopwatch.monitor as mon
    from loopwatch.cli import app

    _FakeMonitor.made.clear()
    monkeypatch.setattr(mon, "Monitor", lambda *a, **k: _FakeMonitor(*a, at=moment, **k))
    before = signal.getsignal(signal.SIGINT)
    r = CliRunner().invoke(app, ["listen", "--no-meter"])
    assert r.exit_code == code, r.output
    (m,) = _FakeMonitor.made
    assert m.stopped == 1
    assert signal.getsignal(signal.SIGINT) is before
    if code == 0:
        assert "stopped after 0.0 s of input" in r.output
