"""A preallocated single-producer / single-consumer ring of fixed-size audio blocks.

The producer is the PortAudio callback (:meth:`BlockRing.callback`); the
consumer is the monitor's analysis thread (:meth:`BlockRing.read`).

Real-time safety of the callback
--------------------------------
A Python callback can never be as strict as C (it needs the GIL, which the
analysis thread may hold for a moment), but everything under our control is
O(1), lock-free and allocation-free:

* Every object the callback touches exists before the stream starts: the
  sample memory (one numpy array), one writable ``memoryview`` per slot, the
  per-slot arrays for ADC time, callback time and overflow flags, and a
  one-element array holding the sequence number of the last complete block.
* The slot to write comes from an :func:`itertools.cycle` over a prebuilt list
  of ``(sequence, slot, view)`` tuples. The cycle is advanced through one full
  lap at construction, so afterwards it only hands out the saved tuples: no
  Python int, tuple or slice is created per call (a running counter would
  create a new int object on every call past 256).
* The copy is ``cffi``'s ``memmove`` from the buffer PortAudio hands over into
  the slot's view (a plain ``memcpy``; no numpy array is built).
* The per-slot metadata are stored with ``ndarray.__setitem__`` of a float/bool
  into preallocated arrays; no ufunc is called (a ufunc call allocates its
  iteration state, measured at ~800 bytes each).
* No lock, no ``Event.set()`` (which takes a lock), no logging, no I/O, no
  exception path: a block of an unexpected size is not copied, only flagged.

``tests/test_listen_ring.py`` checks this with :mod:`tracemalloc`: after
warm-up, a thousand callback calls allocate nothing beyond what an empty
function call does.

The consumer detects being lapped: it re-reads the producer's sequence number
after copying, and discards (counts as lost) every block whose slot the
producer may have started to overwrite meanwhile.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

try:  # cffi comes with sounddevice; its memmove works on any buffer, with or without PortAudio
    import cffi

    _memmove = cffi.FFI().memmove
except ImportError:  # pragma: no cover - sounddevice (and so cffi) is a hard dependency
    _memmove = None


def _py_memmove(dest: memoryview, src, n: int) -> None:  # pragma: no cover - fallback only
    dest[:n] = memoryview(src).cast("B")[:n]


@dataclass
class Chunk:
    """Consecutive blocks read from the ring.

    Attributes
    ----------
    start : int
        Absolute frame index (frames since the stream started, lost ones included) of ``data[:, 0]``.
    data : np.ndarray
        float32 ``(channels, frames)``, a fresh copy.
    adc : np.ndarray
        Per block: PortAudio's ``inputBufferAdcTime`` (stream clock, seconds; 0 when the host API has none).
    now : np.ndarray
        Per block: PortAudio's ``currentTime`` when the callback ran.
    overflow : np.ndarray of bool
        Per block: PortAudio reported an input overflow (an xrun) before or in this block.
    lost : int
        Blocks skipped just before this chunk because the reader fell behind (slots overwritten).
    """

    start: int
    data: np.ndarray
    adc: np.ndarray
    now: np.ndarray
    overflow: np.ndarray
    lost: int


class BlockRing:
    """Fixed-size blocks of interleaved float32 frames, written by a real-time callback.

    Parameters
    ----------
    block : int
        Frames per block: the stream must be opened with this fixed ``blocksize``.
    channels : int
        Interleaved channels per frame.
    n_slots : int
        Blocks the ring holds (at least 4). With 512-frame blocks at 48 kHz,
        ``n_slots=376`` is 4 s: how long the reader may stall without losing audio.
    laps : int
        The sequence number wraps after ``n_slots * laps`` blocks; the reader must
        look at least that often (64 s with the numbers above, and the monitor
        polls every few milliseconds).
    """

    def __init__(self, block: int, channels: int, n_slots: int, laps: int = 16) -> None:
        if block < 1 or channels < 1 or n_slots < 4 or laps < 2:
            raise ValueError(f"bad ring geometry: block={block} channels={channels} n_slots={n_slots} laps={laps}")
        self.block, self.channels, self.n_slots = int(block), int(channels), int(n_slots)
        self.modulus = self.n_slots * int(laps)
        self.nbytes = self.block * self.channels * 4
        self.data = np.zeros((self.n_slots, self.block, self.channels), dtype=np.float32)
        flat = memoryview(self.data.reshape(-1).view(np.uint8))
        self._views = [flat[i * self.nbytes:(i + 1) * self.nbytes] for i in range(self.n_slots)]
        self.adc = np.zeros(self.n_slots, dtype=np.float64)
        self.now = np.zeros(self.n_slots, dtype=np.float64)
        self.overflow = np.zeros(self.n_slots, dtype=bool)
        #: Sequence number (mod ``modulus``) of the last complete block; -1 before the first.
        self.last = np.full(1, -1, dtype=np.int64)
        #: Frames of the last block that had the wrong size (0: none so far); such blocks are lost.
        self.bad_frames = np.zeros(1, dtype=np.int64)
        entries = [(j, j % self.n_slots, self._views[j % self.n_slots]) for j in range(self.modulus)]
        self._cycle = itertools.cycle(entries)
        for _ in range(self.modulus):  # one lap: from now on the cycle only returns its saved tuples
            next(self._cycle)
        self._read = 0  # absolute index of the next block to read
        self.lost_total = 0
        self.callback = self._make_callback()

    def _make_callback(self):
        cycle = self._cycle
        memmove = _memmove or _py_memmove
        nbytes, block = self.nbytes, self.block
        frame_bytes = self.channels * 4
        zeros = bytes(nbytes)
        adc, now, overflow, last, bad = self.adc, self.now, self.overflow, self.last, self.bad_frames

        def callback(indata, frames, time, status):
            """sounddevice ``RawInputStream`` callback: copy one block in, nothing else."""
            seq, slot, view = next(cycle)
            if frames == block:
                memmove(view, indata, nbytes)
            else:  # cannot happen with a fixed blocksize: copy what fits, zero the rest, flag it
                n = min(frames, block) * frame_bytes
                memmove(view, indata, n)
                memmove(view[n:], zeros, nbytes - n)
                bad[0] = frames
            adc[slot] = time.inputBufferAdcTime
            now[slot] = time.currentTime
            overflow[slot] = status.input_overflow
            last[0] = seq

        return callback

    # -- consumer ----------------------------------------------------------------------

    def written(self) -> int:
        """Absolute number of blocks the producer has completed (as seen now)."""
        last = int(self.last[0])
        if last < 0:
            return 0
        return self._read + (last + 1 - self._read) % self.modulus

    def read(self, max_blocks: int | None = None) -> Chunk | None:
        """Copy out the blocks written since the last call (at most ``max_blocks``); None when there are none."""
        w = self.written()
        r = self._read
        lost = 0
        keep = self.n_slots - 1
        if w - r > keep:
            lost = w - r - keep
            r += lost
        if max_blocks is not None:
            w = min(w, r + max_blocks)
        if w <= r:
            if lost:
                self._read = r
                self.lost_total += lost
                return Chunk(r * self.block, np.zeros((self.channels, 0), np.float32), np.zeros(0), np.zeros(0),
                             np.zeros(0, bool), lost)
            return None
        idx = np.arange(r, w) % self.n_slots
        data = self.data[idx]  # fancy indexing: a copy
        adc = self.adc[idx]
        now = self.now[idx]
        overflow = self.overflow[idx]
        # Was any of these slots overwritten while we copied? The producer may be
        # writing block w2 now; block i shares its slot with blocks i + k * n_slots.
        w2 = self.written()
        first_valid = w2 - self.n_slots + 1
        if first_valid > r:
            drop = min(first_valid - r, w - r)
            lost += drop
            r += drop
            data, adc, now, overflow = data[drop:], adc[drop:], now[drop:], overflow[drop:]
        self._read = w
        self.lost_total += lost
        frames = data.reshape(-1, self.channels).T.copy()  # (channels, frames), contiguous
        return Chunk(r * self.block, frames, adc, now, overflow, lost)
