"""A small Standard MIDI File (SMF) writer: just what the corpus generator needs.

Only format 0 files (one track) are written: a tempo and a time signature meta
event, optional program changes and controllers, note on/off pairs and the end
of track. Times are in ticks (``ticks_per_beat`` per quarter note).

The layout follows the SMF 1.0 specification:

* header chunk ``MThd``: length 6, format (0), number of tracks (1), division
  (ticks per quarter note, 15-bit positive);
* track chunk ``MTrk``: a list of ``<delta-time> <event>`` pairs, where the
  delta time is a variable-length quantity (7 bits per byte, most significant
  first, bit 7 set on every byte but the last);
* meta events ``FF 51 03 tttttt`` (tempo, microseconds per quarter note),
  ``FF 58 04 nn dd cc bb`` (time signature), ``FF 2F 00`` (end of track);
* channel events ``9n key vel`` (note on), ``8n key vel`` (note off),
  ``Cn prog`` (program change), ``Bn ctl val`` (control change).

Running status is not used, so every event carries its status byte.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

#: The General MIDI percussion channel (channel 10, zero-based 9).
DRUM_CHANNEL = 9


@dataclass(frozen=True)
class Note:
    """One note: onset and length in ticks, MIDI key 0-127, velocity 1-127, channel 0-15."""

    start: int
    length: int
    key: int
    velocity: int
    channel: int = 0

    def __post_init__(self) -> None:
        if self.start < 0 or self.length <= 0:
            raise ValueError(f"note needs start >= 0 and length > 0, got start={self.start} length={self.length}")
        if not 0 <= self.key <= 127:
            raise ValueError(f"MIDI key {self.key} is outside 0-127")
        if not 1 <= self.velocity <= 127:
            raise ValueError(f"velocity {self.velocity} is outside 1-127")
        if not 0 <= self.channel <= 15:
            raise ValueError(f"MIDI channel {self.channel} is outside 0-15")


@dataclass
class Song:
    """Everything one MIDI file holds.

    Attributes
    ----------
    tempo_bpm : float
        Quarter notes per minute; stored as whole microseconds per quarter note.
    notes : list of Note
    programs : dict
        ``{channel: GM program 0-127}``, sent at tick 0.
    controllers : list of (tick, channel, controller, value)
        E.g. ``(0, 0, 10, 64)`` for centre pan.
    end_tick : int
        Tick of the end-of-track event (at least the last note-off).
    ticks_per_beat : int
    numerator, denominator : int
        Time signature (the denominator a power of two).
    """

    tempo_bpm: float
    notes: list[Note] = field(default_factory=list)
    programs: dict[int, int] = field(default_factory=dict)
    controllers: list[tuple[int, int, int, int]] = field(default_factory=list)
    end_tick: int = 0
    ticks_per_beat: int = 960
    numerator: int = 4
    denominator: int = 4

    @property
    def us_per_beat(self) -> int:
        """The tempo as written to the file: whole microseconds per quarter note."""
        return tempo_to_us(self.tempo_bpm)

    def seconds(self, tick: int) -> float:
        """File time of ``tick`` at this (constant) tempo."""
        return tick * self.us_per_beat / 1e6 / self.ticks_per_beat


def tempo_to_us(bpm: float) -> int:
    """Microseconds per quarter note for ``bpm``, rounded to the integer the file stores."""
    if not 1.0 <= bpm <= 1000.0:
        raise ValueError(f"tempo {bpm} BPM is outside 1-1000")
    return int(round(60_000_000 / bpm))


def vlq(value: int) -> bytes:
    """Encode a non-negative integer (< 2**28) as a MIDI variable-length quantity."""
    if not 0 <= value < 1 << 28:
        raise ValueError(f"variable-length quantity {value} is outside 0..2**28-1")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def song_bytes(song: Song) -> bytes:
    """Serialise ``song`` as a format-0 Standard MIDI File."""
    if not 1 <= song.ticks_per_beat < 1 << 15:
        raise ValueError(f"ticks per beat {song.ticks_per_beat} is outside 1-32767")
    den_pow = song.denominator.bit_length() - 1
    if 1 << den_pow != song.denominator:
        raise ValueError(f"time signature denominator {song.denominator} is not a power of two")
    # (tick, order, bytes): order puts meta first, then setup, then note-offs before note-ons at one tick.
    events: list[tuple[int, int, int, bytes]] = []
    seq = 0

    def add(tick: int, order: int, data: bytes) -> None:
        nonlocal seq
        events.append((tick, order, seq, data))
        seq += 1

    us = song.us_per_beat
    add(0, 0, b"\xff\x51\x03" + us.to_bytes(3, "big"))
    add(0, 0, bytes([0xFF, 0x58, 0x04, song.numerator, den_pow, 24, 8]))
    for ch, prog in sorted(song.programs.items()):
        if not (0 <= ch <= 15 and 0 <= prog <= 127):
            raise ValueError(f"program change {prog} on channel {ch} is out of range")
        add(0, 1, bytes([0xC0 | ch, prog]))
    for tick, ch, ctl, val in song.controllers:
        if not (tick >= 0 and 0 <= ch <= 15 and 0 <= ctl <= 127 and 0 <= val <= 127):
            raise ValueError(f"controller event {(tick, ch, ctl, val)} is out of range")
        add(tick, 2, bytes([0xB0 | ch, ctl, val]))
    last = 0
    for n in song.notes:
        add(n.start, 4, bytes([0x90 | n.channel, n.key, n.velocity]))
        add(n.start + n.length, 3, bytes([0x80 | n.channel, n.key, 64]))
        last = max(last, n.start + n.length)
    end = max(last, song.end_tick)
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    track = bytearray()
    now = 0
    for tick, _order, _seq, data in events:
        track += vlq(tick - now) + data
        now = tick
    track += vlq(end - now) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, song.ticks_per_beat)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def write_midi(path: str | os.PathLike, song: Song) -> Path:
    """Write ``song`` to ``path`` as a Standard MIDI File and return the path."""
    p = Path(path)
    p.write_bytes(song_bytes(song))
    return p
