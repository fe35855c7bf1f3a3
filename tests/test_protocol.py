"""OSC encoding rules: types, size limit, truncation; request validation."""

from __future__ import annotations

import pytest
from pythonosc.osc_message import OscMessage

from loopwatch import protocol
from loopwatch.protocol import ProtocolError, encode, encode_request, parse_request


def decode(d):
    m = OscMessage(d)
    return m.address, list(m.params)


def test_alert_roundtrip_types():
    d = encode(protocol.ALERT, 7, "/a/b.wav", "error", "click", 1.25, 1.2501, 18.5, "click at 1.250 s")
    addr, args = decode(d)
    assert addr == protocol.ALERT
    assert args[:4] == [7, "/a/b.wav", "error", "click"] and args[7] == "click at 1.250 s"
    assert OscMessage(d).dgram[len("/loopwatch/alert") + 4:].startswith(b",isssfffs")


@pytest.mark.parametrize("n", [100, 900, 5000])
def test_long_paths_and_messages_fit_in_1024_bytes(n):
    path = "/Users/me/Music/" + "Very Long Folder Name/" * (n // 22) + "take.wav"
    msg = "click at 1.234 s " + "x" * n
    d = encode(protocol.ALERT, 1, path, "warn", "click", 0.0, 0.0, 0.0, msg)
    assert len(d) < 1024
    _, args = decode(d)
    if len(path.encode()) + len(msg.encode()) > 900:
        assert args[7].endswith("\u2026") or args[1].startswith("\u2026")
    assert args[1].endswith("take.wav")  # the tail of a path is what identifies it
    d = encode(protocol.FILE, path, "ok", 0.5, 0, "bass")
    assert len(d) < 1024 and decode(d)[1][0].endswith("take.wav")


def test_unicode_paths_are_cut_on_character_boundaries():
    path = "/Musik/" + "Überraschung_ß_🎸/" * 80 + "Gitarre.wav"
    d = encode(protocol.CLEAR, path)
    assert len(d) < 1024
    got = decode(d)[1][0]
    assert got.startswith("\u2026") and got.endswith("Gitarre.wav")


def test_encode_rejects_wrong_arity_and_unknown_address():
    with pytest.raises(ValueError):
        encode(protocol.DONE)
    with pytest.raises(ValueError):
        encode("/loopwatch/nope", "x")


@pytest.mark.parametrize(
    "dgram,ok",
    [
        (encode_request(protocol.SUBSCRIBE, "dev-1", "m4l", 9702), True),
        (encode_request(protocol.SCORE, "r", "/x.wav"), True),
        (encode_request(protocol.SCORE, "r", "/x.wav", 1.0, 2.0), True),
        (encode_request(protocol.SCORE, "r", "/x.wav", 1, 2), True),  # ints accepted where floats are expected
        (encode_request(protocol.SCORE, "r", "/x.wav", -1.0, 2.0), False),
        (encode_request(protocol.SCORE, "r", "/x.wav", 1.0), False),
        (encode_request(protocol.STATUS), True),
        (encode_request(protocol.STATUS, "extra"), False),
        (encode_request(protocol.ACK, "7"), False),
        (encode_request(protocol.SUBSCRIBE, "x" * 200, "m4l", 1), False),
        (b"#bundle\x00", False),
        (b"/loopwatch/status\x00\x00\x00,b\x00\x00\x00\x00\x00\x04abcd", False),
    ],
)
def test_parse_request(dgram, ok):
    if ok:
        req = parse_request(dgram)
        assert req.address.startswith("/loopwatch/")
        if req.address == protocol.SCORE and len(req.args) == 4:
            assert all(isinstance(v, float) for v in req.args[2:])
    else:
        with pytest.raises(ProtocolError):
            parse_request(dgram)


def test_oversized_datagram_is_rejected_unparsed():
    with pytest.raises(ProtocolError, match="over the 4096-byte limit"):
        parse_request(b"/" + b"a" * 5000)
