#!/usr/bin/env python3
"""Daemon message fixtures for the LoopWatch device tests.

A fixture is what the device's ``[udpreceive]`` hands to ``[route]`` for a
sequence of daemon datagrams: a JSON list with one entry per datagram,
``[address, arg1, arg2, ...]``, where the OSC address is the message
selector and each argument is the atom udpreceive makes of it (``i`` -> int,
``f`` -> the float32 value as a float, ``s`` -> string). The Node harness
(``tests/harness.js``) replays such a list through the patch's route map into
``loopwatch.js``; ``tests/replay.test.js`` replays every committed fixture and
every file listed in ``$LOOPWATCH_M4L_REPLAY``.

Recording a session from a real daemon is: capture its datagrams, decode
each with :func:`udpreceive_decode`, and write the list with
:func:`dump_fixture`.

``python max_for_live/osc_fixtures.py`` rewrites the committed fixture
``tests/fixtures/daemon_session.json`` from :func:`session_datagrams`, which
builds every datagram with ``loopwatch.protocol.encode`` (the daemon's own
encoder).
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Any, List, Sequence

HERE = Path(__file__).resolve().parent
FIXTURE_DIR = HERE / "tests" / "fixtures"
SESSION_FIXTURE = FIXTURE_DIR / "daemon_session.json"


class OscDecodeError(ValueError):
    """The datagram is not one OSC message with i/f/s arguments."""


def _read_string(data: bytes, pos: int) -> tuple[str, int]:
    end = data.find(b"\x00", pos)
    if end < 0:
        raise OscDecodeError(f"unterminated OSC string at byte {pos}")
    text = data[pos:end].decode("utf-8")
    pos = end + 1
    pos += -pos % 4
    if pos > len(data):
        raise OscDecodeError("OSC string padding runs past the end")
    return text, pos


def udpreceive_decode(dgram: bytes) -> List[Any]:
    """Decode one datagram the way Max's ``[udpreceive]`` outputs it.

    Returns ``[address, *atoms]``: the address becomes the selector; ``i``
    gives an int, ``f`` the float32 value widened to a float (Max atoms are
    doubles), ``s`` a string (a symbol; an empty OSC string is the empty
    symbol ``""``). Written from the OSC 1.0 spec, independently of
    python-osc, so tests can compare the two decoders.

    Raises :class:`OscDecodeError` for bundles, other type tags or truncation.
    """
    if dgram.startswith(b"#bundle"):
        raise OscDecodeError("bundles are not part of the loopwatch protocol")
    if not dgram.startswith(b"/"):
        raise OscDecodeError("an OSC message starts with '/'")
    address, pos = _read_string(dgram, 0)
    if pos >= len(dgram):
        return [address]
    tags, pos = _read_string(dgram, pos)
    if not tags.startswith(","):
        raise OscDecodeError("missing type tag string")
    out: List[Any] = [address]
    for tag in tags[1:]:
        if tag == "i":
            if pos + 4 > len(dgram):
                raise OscDecodeError("truncated int32")
            out.append(struct.unpack(">i", dgram[pos:pos + 4])[0])
            pos += 4
        elif tag == "f":
            if pos + 4 > len(dgram):
                raise OscDecodeError("truncated float32")
            out.append(float(struct.unpack(">f", dgram[pos:pos + 4])[0]))
            pos += 4
        elif tag == "s":
            text, pos = _read_string(dgram, pos)
            out.append(text)
        else:
            raise OscDecodeError(f"type tag {tag!r} is not used by the loopwatch protocol")
    if pos != len(dgram):
        raise OscDecodeError(f"{len(dgram) - pos} trailing bytes")
    return out


# Paths as the daemon would report them on the producers' machines.
SET = "/Users/sam/Music/Night Drive Project"
BASS = f"{SET}/Samples/Recorded/Bass 1 [2026-11-21 174300].wav"
DRUMS = f"{SET}/Samples/Processed/Consolidate/Drums 3 [2026-11-21 174512].wav"
KEYS = f"{SET}/Samples/Recorded/Keys 2.aif"
BROKEN = "C:\\Users\\sam\\Music\\Night Drive Project\\Samples\\Imported\\broken take.wav"
LONG = "/Users/sam/Music/" + "A Very Long Folder Name That Producers Use/" * 30 + "Pad 7.wav"
CAFE = "/Users/sam/Music/Caf\u00e9 Sessions/Samples/Recorded/Voix \u00e9t\u00e9 1.wav"
INPUT = "input:Scarlett 2i2 USB"


def session_datagrams() -> List[bytes]:
    """A daemon session as the device sees it: the answer to subscribe and
    sync, then live pushes (a re-scored file, a path too long for one
    datagram, the live monitor, an error, another client's done)."""
    from loopwatch.protocol import ALERT, CLEAR, DONE, ERROR, FILE, STATUS, encode

    m = [
        # answer to /loopwatch/subscribe
        (STATUS, "idle", 0, "bass", "cpu"),
        # /loopwatch/sync replay: unacknowledged alerts oldest first, files, status
        (ALERT, 1, BASS, "error", "click", 1.234, 1.2345, 18.2, "click at 1.234 s (+18 dB above local residual)"),
        (ALERT, 2, BASS, "warn", "clipping", 3.5, 3.75, 4.0, "4 clipped samples (max run 2)"),
        (ALERT, 3, DRUMS, "warn", "seam", 7.99, 8.0, 12.5, "loop seam: 12.5 dB jump at the loop point"),
        (ALERT, 4, DRUMS, "warn", "outlier", 0.0, 8.0, 1.4, "outlier: score 1.40 x threshold (model drums)"),
        (ALERT, 5, BROKEN, "error", "decode", 0.0, 0.0, 0.0, f"{BROKEN}: not a WAV file"),
        (FILE, BASS, "error", 0.62, 2, "bass"),
        (FILE, DRUMS, "warn", 1.4, 2, "drums"),
        (FILE, BROKEN, "failed", -1.0, 1, ""),
        (STATUS, "idle", 0, "bass", "cpu"),
        # live pushes
        (STATUS, "busy", 2, "bass", "cpu"),
        (FILE, KEYS, "ok", 0.31, 0, "keys"),
        (CLEAR, BASS),
        (ALERT, 6, BASS, "warn", "click", 2.5, 2.5005, 13.0, "click at 2.500 s (+13 dB above local residual)"),
        (FILE, BASS, "warn", 0.7, 1, "bass"),
        (ALERT, 7, LONG, "error", "clipping", 10.0, 10.5, 120.0, "120 clipped samples (max run 31)"),
        (FILE, LONG, "error", 0.2, 1, "bass"),
        (ALERT, 8, INPUT, "warn", "clipping", 125.3, 125.31, 3.0, "3 clipped samples on input"),
        (ALERT, 9, CAFE, "warn", "click", 0.75, 0.7505, 11.0, "click at 0.750 s (+11 dB above local residual)"),
        (FILE, CAFE, "warn", 0.5, 1, "bass"),
        (ERROR, "/loopwatch/score", "path outside the allowed roots: /etc/passwd"),
        (DONE, "reaper-7"),
        (STATUS, "idle", 0, "bass", "cpu"),
    ]
    return [encode(address, *args) for address, *args in m]


def session_messages() -> List[List[Any]]:
    """:func:`session_datagrams`, decoded as udpreceive decodes them."""
    return [udpreceive_decode(d) for d in session_datagrams()]


def dump_fixture(messages: Sequence[Sequence[Any]]) -> str:
    """Deterministic JSON for a fixture: one message per line, UTF-8 kept."""
    lines = [json.dumps(list(m), ensure_ascii=False) for m in messages]
    return "[\n" + ",\n".join(lines) + "\n]\n"


def main() -> int:
    FIXTURE_DIR.mkdir(parents=True, exist_ok=True)
    SESSION_FIXTURE.write_text(dump_fixture(session_messages()), encoding="utf-8")
    print(f"wrote {SESSION_FIXTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
