"""The REAPER scripts' OSC and JSON helpers against the real Python side.

Lua-encoded requests are parsed by ``loopwatch.protocol.parse_request`` (what
the daemon runs) and by python-osc; daemon pushes built with
``loopwatch.protocol.encode`` are decoded in Lua. Strings of every padding
length (0-3 NUL bytes after the terminator) are covered.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage

from loopwatch import protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reaper_scripts" / "tests"))
import lua_harness as H  # noqa: E402

pytestmark = pytest.mark.skipif(H.LUA is None, reason="lua5.4 is not installed (scripts/setup-system)")

# Lengths 0..7 give every padding: len+1 NUL-terminated bytes padded to 4.
STRINGS = ["", "a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "Bässe – ü.wav", "日本語/ループ 1.wav"]


def f32(x: float) -> float:
    return struct.unpack(">f", struct.pack(">f", x))[0]


def lua_encode(messages: list[dict], tmp_path: Path) -> list[bytes]:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(messages))
    return [bytes.fromhex(line) for line in H.run_lib("osc-encode", str(spec)).split()]


def lua_decode(dgrams: list[bytes], tmp_path: Path) -> list[dict]:
    hexfile = tmp_path / "dgrams.txt"
    hexfile.write_text("\n".join(d.hex() for d in dgrams) + "\n")
    return json.loads(H.run_lib("osc-decode", str(hexfile)))


def test_string_padding_matches_python_osc(tmp_path):
    msgs = [{"address": "/loopwatch/unsubscribe", "tags": "s", "args": [s]} for s in STRINGS]
    dgrams = lua_encode(msgs, tmp_path)
    for s, d in zip(STRINGS, dgrams):
        assert len(d) % 4 == 0
        n = len(s.encode()) + 1
        expected_len = len(protocol.encode_request(protocol.UNSUBSCRIBE, s))
        assert len(d) == expected_len, (s, n)
        # byte-identical to what the Python client encoder produces
        assert d == protocol.encode_request(protocol.UNSUBSCRIBE, s)
        assert OscMessage(d).params == [s]
        assert protocol.parse_request(d).args == (s,)


def test_lua_requests_are_valid_daemon_requests(tmp_path):
    msgs = [
        {"address": "/loopwatch/subscribe", "tags": "ssi", "args": ["reaper-panel-1f", "reaper", 9703]},
        {"address": "/loopwatch/sync", "tags": "si", "args": ["reaper-panel-1f", 0]},
        {"address": "/loopwatch/sync", "tags": "si", "args": ["x", 2147483647]},
        {"address": "/loopwatch/ack", "tags": "i", "args": [42]},
        {"address": "/loopwatch/status", "tags": "", "args": []},
        {"address": "/loopwatch/unsubscribe", "tags": "s", "args": ["abc"]},
        {"address": "/loopwatch/score", "tags": "ss", "args": ["reaper-7", "/Music/take.wav"]},
        {"address": "/loopwatch/score", "tags": "ssff", "args": ["reaper-8", "/Music/Bässe 1.wav", 1.5, 0.1]},
    ]
    dgrams = lua_encode(msgs, tmp_path)
    for m, d in zip(msgs, dgrams):
        req = protocol.parse_request(d)
        assert req.address == m["address"]
        want = tuple(f32(a) if t == "f" else a for t, a in zip(m["tags"], m["args"]))
        assert req.args == want
        msg = OscMessage(d)
        assert msg.address == m["address"]
        assert [f32(a) if isinstance(a, float) else a for a in m["args"]] == list(msg.params)


def test_int32_and_float32_extremes(tmp_path):
    msgs = [
        {"address": "/t", "tags": "iiif", "args": [-2147483648, 2147483647, 0, -0.0]},
        {"address": "/t", "tags": "fff", "args": [3.4e38, 1e-40, 123.456]},
    ]
    a, b = lua_encode(msgs, tmp_path)
    assert OscMessage(a).params[:3] == [-2147483648, 2147483647, 0]
    assert OscMessage(b).params == pytest.approx([f32(3.4e38), f32(1e-40), f32(123.456)], rel=0, abs=0)


def test_lua_encoder_rejects_out_of_range_and_bad_types(tmp_path):
    for bad in ([2147483648], [1.5]):
        spec = tmp_path / "spec.json"
        spec.write_text(json.dumps([{"address": "/t", "tags": "i", "args": bad}]))
        r = subprocess.run([H.LUA, str(H.HERE / "run_lib.lua"), "osc-encode", str(spec)], capture_output=True,
                           text=True)
        assert r.returncode != 0
        assert "int32" in r.stderr


def push_messages() -> list[tuple[str, tuple]]:
    out: list[tuple[str, tuple]] = []
    for k, s in enumerate(STRINGS):
        out.append((protocol.ALERT, (k + 1, "/Music/" + s, "error", "click" + s[:k % 4], 1.25 + k, 1.5 + k,
                                     -18.5, "message " + s)))
        out.append((protocol.CLEAR, (s,)))
        out.append((protocol.DONE, ("reaper-" + s,)))
    out += [
        (protocol.FILE, ("/Music/Set/Bass 1.wav", "warn", 1.37, 2, "bass")),
        (protocol.FILE, ("/x.wav", "failed", -1.0, 1, "")),
        (protocol.STATUS, ("idle", 0, "bass", "cpu")),
        (protocol.STATUS, ("busy", 12, "", "none")),
        (protocol.ERROR, ("reaper-9", "path is not inside an allowed root")),
        # Over 1024 bytes: the daemon shortens the message, then the path from the front.
        (protocol.ALERT, (7, "/very/" + "long/" * 300 + "Bass 1.wav", "warn", "seam", 0.0, 0.1, 3.0, "m" * 900)),
    ]
    return out


def test_python_pushes_decode_in_lua(tmp_path):
    msgs = push_messages()
    dgrams = [protocol.encode(addr, *args) for addr, args in msgs]
    decoded = lua_decode(dgrams, tmp_path)
    assert len(decoded) == len(msgs)
    for (addr, args), d, dg in zip(msgs, decoded, dgrams):
        assert "error" not in d, d
        assert d["address"] == addr
        assert d["tags"] == protocol.PUSH_TYPES[addr]
        ref = OscMessage(dg).params  # what python-osc reads back from the same bytes
        assert len(d["args"]) == len(ref)
        for t, got, want in zip(d["tags"], d["args"], ref):
            if t == "f":
                assert got == pytest.approx(want, rel=0, abs=0)
            else:
                assert got == want
    # the long alert was shortened with a leading ellipsis on the path
    long_path = decoded[-1]["args"][1]
    assert long_path.startswith("\u2026") and long_path.endswith("/Bass 1.wav")


def test_lua_decoder_rejects_malformed_packets(tmp_path):
    good = protocol.encode(protocol.DONE, "reaper-1")
    bad = [
        good[:-4],  # string runs past the end
        good[:-1],  # length not a multiple of 4
        b"#bundle\x00" + b"\x00" * 8,
        b"nope",
        protocol.encode(protocol.STATUS, "idle", 0, "", "cpu")[:-8],  # missing arguments
        b"/a\x00\x00,x\x00\x00",  # unknown type tag
        b"/a\x00\x00,s\x00\x00abcd",  # unterminated string
        good + b"\x00\x00\x00\x00",  # trailing bytes
        b"/a\x00\x01,\x00\x00\x00",  # non-NUL padding
    ]
    decoded = lua_decode(bad, tmp_path)
    assert all("error" in d for d in decoded), decoded


def test_json_round_trip_against_python(tmp_path):
    doc = {
        "v": 1,
        "client_id": "reaper",
        "requests": [
            {"request_id": "reaper-7", "path": "C:\\Music\\Bässe \"1\".wav", "start_s": 1.5, "length_s": 4.0},
            {"request_id": "reaper-8", "path": "/Music/日本語 😀.wav"},
        ],
        "nested": {"empty_list": [], "empty_obj": {}, "t": True, "f": False, "n": None,
                   "nums": [0, -1, 2.5e-7, 1e300, 0.1, 123456789012]},
        "ctrl": "tab\tnewline\nbell\x07",
    }
    lua = r"""
      local json = require("loopwatch_json")
      local parsed_ascii = assert(json.decode(S.sc.ascii))
      local parsed_utf8 = assert(json.decode(S.sc.utf8))
      return { ascii = json.encode(parsed_ascii), utf8 = json.encode(parsed_utf8),
               bad = { json.decode('{"a":1,}') == nil, json.decode('[1 2]') == nil,
                       json.decode('"\\x"') == nil, json.decode('01') == nil, json.decode('') == nil } }
    """
    res = H.run_eval(tmp_path, lua, ascii=json.dumps(doc, ensure_ascii=True),
                     utf8=json.dumps(doc, ensure_ascii=False))
    assert json.loads(res["ascii"]) == doc
    assert json.loads(res["utf8"]) == doc
    assert res["bad"] == [True] * 5
