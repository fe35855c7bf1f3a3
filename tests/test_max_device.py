"""The LoopWatch Max for Live device (max_for_live/), tested without Live or Max.

- build: build_amxd.py reproduces the committed LoopWatch.maxpat/.amxd byte for byte;
- container: a parser written from the format description reads the .amxd back;
- patch graph: objects, patch cords, default ports, routed OSC addresses;
- protocol: what the script sends parses as valid requests; what the daemon
  sends reaches the script as udpreceive decodes it (over a real UDP socket);
- the Node test suite of loopwatch.js (max_for_live/tests/*.test.js).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message import OscMessage
from pythonosc.osc_server import BlockingOSCUDPServer

from loopwatch import protocol
from loopwatch.config import DEFAULT_M4L_PORT, DEFAULT_OSC_PORT

ROOT = Path(__file__).resolve().parents[1]
M4L = ROOT / "max_for_live"
NODE = shutil.which("node")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"m4l_{name}", M4L / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


build_amxd = _load("build_amxd")
osc_fixtures = _load("osc_fixtures")


# ---------------------------------------------------------------- container parser


def parse_amxd(data: bytes) -> dict:
    """Read an unfrozen .amxd: chunks of 4-byte tag, u32le length, payload.

    Expected chunks, in order: ``ampf`` (4: device type), ``meta`` (4: u32le
    flag), ``ptch`` (N: patcher JSON followed by ``\\n\\0``).
    """
    chunks = []
    pos = 0
    while pos < len(data):
        if pos + 8 > len(data):
            raise ValueError(f"truncated chunk header at byte {pos}")
        tag = data[pos:pos + 4].decode("ascii")
        (length,) = struct.unpack("<I", data[pos + 4:pos + 8])
        payload = data[pos + 8:pos + 8 + length]
        if len(payload) != length:
            raise ValueError(f"chunk {tag} claims {length} bytes, {len(payload)} left")
        chunks.append((tag, length, payload))
        pos += 8 + length
    tags = [c[0] for c in chunks]
    if tags != ["ampf", "meta", "ptch"]:
        raise ValueError(f"chunks {tags}, expected ampf, meta, ptch")
    (_, ampf_len, device_type), (_, meta_len, meta), (_, _, ptch) = chunks
    if ampf_len != 4 or meta_len != 4:
        raise ValueError("ampf and meta chunks hold 4 bytes")
    if not ptch.endswith(b"\n\x00"):
        raise ValueError("ptch must end with \\n\\0")
    return {
        "chunks": chunks,
        "device_type": device_type.decode("ascii"),
        "meta_flag": struct.unpack("<I", meta)[0],
        "patcher": json.loads(ptch[:-2].decode("utf-8")),
        "json_text": ptch[:-2].decode("utf-8"),
    }


@pytest.fixture(scope="module")
def amxd() -> dict:
    return parse_amxd((M4L / "LoopWatch.amxd").read_bytes())


@pytest.fixture(scope="module")
def patcher() -> dict:
    return json.loads((M4L / "LoopWatch.maxpat").read_text(encoding="utf-8"))["patcher"]


class Graph:
    """Boxes and patch cords of a patcher, for assertions."""

    def __init__(self, patcher: dict) -> None:
        self.boxes = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
        self.lines = [(l["patchline"]["source"], l["patchline"]["destination"]) for l in patcher["lines"]]

    def find(self, pred) -> list[dict]:
        return [b for b in self.boxes.values() if pred(b)]

    def one(self, pred, what: str) -> dict:
        found = self.find(pred)
        assert len(found) == 1, f"expected one {what}, found {len(found)}"
        return found[0]

    def text(self, prefix: str) -> dict:
        return self.one(lambda b: b.get("text", "").split(" ")[0] == prefix.split(" ")[0]
                        and b.get("text", "").startswith(prefix), f"[{prefix}]")

    def named(self, varname: str) -> dict:
        return self.one(lambda b: b.get("varname") == varname, varname)

    def targets(self, box: dict, outlet: int) -> list[tuple[dict, int]]:
        return [(self.boxes[d[0]], d[1]) for s, d in self.lines if s == [box["id"], outlet]]

    def sources(self, box: dict, inlet: int) -> list[tuple[dict, int]]:
        return [(self.boxes[s[0]], s[1]) for s, d in self.lines if d == [box["id"], inlet]]

    def connected(self, a: dict, outlet: int, b: dict, inlet: int) -> bool:
        return ([a["id"], outlet], [b["id"], inlet]) in self.lines


@pytest.fixture(scope="module")
def graph(patcher) -> Graph:
    return Graph(patcher)


# ---------------------------------------------------------------- build and container


def test_build_reproduces_committed_files_byte_for_byte():
    maxpat, amxd_data = build_amxd.build()
    assert maxpat == (M4L / "LoopWatch.maxpat").read_bytes(), "run python max_for_live/build_amxd.py"
    assert amxd_data == (M4L / "LoopWatch.amxd").read_bytes(), "run python max_for_live/build_amxd.py"
    assert build_amxd.build() == (maxpat, amxd_data)
    # the script's own check, in a fresh interpreter with another hash seed
    for seed in ("0", "12345"):
        proc = subprocess.run([sys.executable, str(M4L / "build_amxd.py"), "--check"],
                              capture_output=True, text=True, env={"PYTHONHASHSEED": seed, "PATH": ""})
        assert proc.returncode == 0, proc.stderr


def test_build_check_reports_a_stale_device(tmp_path, monkeypatch):
    stale = tmp_path / "LoopWatch.amxd"
    stale.write_bytes((M4L / "LoopWatch.amxd").read_bytes()[:-10])
    monkeypatch.setattr(build_amxd, "AMXD_PATH", stale)
    monkeypatch.setattr(build_amxd, "MAXPAT_PATH", M4L / "LoopWatch.maxpat")
    assert build_amxd.main(["--check"]) == 1


def test_container_chunks_add_up_to_the_file_size(amxd):
    size = (M4L / "LoopWatch.amxd").stat().st_size
    assert sum(8 + length for _, length, _ in amxd["chunks"]) == size
    assert amxd["device_type"] == "aaaa"
    assert amxd["meta_flag"] == 0
    assert amxd["patcher"]["patcher"]["project"]["amxdtype"] == 1633771873 == int.from_bytes(b"aaaa", "big")


def test_container_holds_exactly_the_maxpat(amxd):
    maxpat_text = (M4L / "LoopWatch.maxpat").read_text(encoding="utf-8")
    assert amxd["json_text"] + "\n" == maxpat_text


def test_parser_rejects_broken_containers():
    good = (M4L / "LoopWatch.amxd").read_bytes()
    with pytest.raises(ValueError, match="claims"):
        parse_amxd(good[:-1])
    with pytest.raises(ValueError, match="chunks"):
        parse_amxd(good[12:24] + good[:12] + good[24:])  # meta before ampf
    assert parse_amxd(good[:8] + b"mmmm" + good[12:])["device_type"] == "mmmm"
    with pytest.raises(ValueError, match="ptch must end"):
        parse_amxd(build_amxd.amxd_bytes("{}")[:-2] + b"  ")


def test_realistic_patcher_layout(patcher):
    assert patcher["fileversion"] == 1
    assert patcher["appversion"]["major"] == 9
    assert patcher["openinpresentation"] == 1
    assert patcher["classnamespace"] == "box"
    width = patcher["devicewidth"]
    for entry in patcher["boxes"]:
        box = entry["box"]
        assert re.fullmatch(r"obj-\d+", box["id"])
        assert len(box["patching_rect"]) == 4
        if box.get("presentation"):
            x, y, w, h = box["presentation_rect"]
            assert x >= 0 and y >= 0 and x + w <= width and y + h <= 169, box
    for entry in patcher["lines"]:
        line = entry["patchline"]
        assert set(line) == {"source", "destination"}


# ---------------------------------------------------------------- patch graph


def test_every_cord_joins_existing_outlets_and_inlets(graph):
    for (src, outlet), (dst, inlet) in graph.lines:
        assert src in graph.boxes and dst in graph.boxes
        assert 0 <= outlet < graph.boxes[src]["numoutlets"], (src, outlet)
        assert 0 <= inlet < graph.boxes[dst]["numinlets"], (dst, inlet)
        outlettype = graph.boxes[src].get("outlettype")
        assert outlettype is None or len(outlettype) == graph.boxes[src]["numoutlets"]
    assert len(set(map(repr, graph.lines))) == len(graph.lines), "duplicate cords"


def test_audio_passes_through_untouched(graph):
    plugin = graph.text("plugin~")
    plugout = graph.text("plugout~")
    assert graph.targets(plugin, 0) == [(plugout, 0)]
    assert graph.targets(plugin, 1) == [(plugout, 1)]
    assert graph.sources(plugout, 0) == [(plugin, 0)]
    assert graph.sources(plugout, 1) == [(plugin, 1)]
    signal_boxes = graph.find(lambda b: "signal" in (b.get("outlettype") or []))
    assert {b["id"] for b in signal_boxes} == {plugin["id"], plugout["id"]}


def test_receiving_chain_udpreceive_route_prepend_script(graph):
    udp = graph.text("udpreceive ")
    assert udp["text"] == f"udpreceive {DEFAULT_M4L_PORT} @defer 1"
    (route, inlet), = graph.targets(udp, 0)
    assert inlet == 0 and route["text"].startswith("route ")
    addresses = route["text"].split()[1:]
    assert route["numoutlets"] == len(addresses) + 1
    v8 = graph.named("engine_v8")
    gate = graph.text("gate ")
    for i, address in enumerate(addresses):
        (prepend, _), = graph.targets(route, i)
        assert prepend["text"] == f"prepend osc_{address.rsplit('/', 1)[1]}"
        assert set((b["id"], n) for b, n in graph.targets(prepend, 0)) == {(v8["id"], 0), (gate["id"], 1)}
    assert graph.targets(route, len(addresses)) == [], "unknown addresses are dropped"


def test_engines_v8_embedded_and_js_fallback(graph):
    v8 = graph.named("engine_v8")
    js = graph.named("engine_js")
    gate = graph.text("gate ")
    assert v8["text"] == "v8 @embed 1"
    assert v8["textfile"]["embed"] == 1
    assert v8["textfile"]["text"] == (M4L / "loopwatch.js").read_text(encoding="utf-8")
    assert js["text"] == "js loopwatch.js fallback"
    assert js["saved_object_attributes"]["filename"] == "loopwatch.js"
    assert gate["text"] == "gate 1 1"  # open unless [v8] closes it
    assert graph.targets(gate, 0) == [(js, 0)]
    # [v8] announces itself on outlet 5 -> [t b] -> [0( -> gate control: [js] stops
    (t_b, _), = graph.targets(v8, 5)
    (zero, _), = graph.targets(t_b, 0)
    assert t_b["text"] == "t b" and zero["maxclass"] == "message" and zero["text"] == "0"
    assert graph.targets(zero, 0) == [(gate, 0)]
    assert graph.targets(js, 5) == []
    # both engines drive the same outputs
    udpsend = graph.text("udpsend ")
    table = graph.named("alert_table")
    expected = [udpsend, table, graph.named("status_line"), graph.named("alert_count"), graph.named("info_line")]
    expected.append(None)  # outlet 5: the engine announcement (checked above)
    expected.append(graph.named("selection_line"))
    for engine in (v8, js):
        assert engine["numoutlets"] == 7 and engine["numinlets"] == 1
        for outlet, box in enumerate(expected):
            if box is not None:
                assert graph.targets(engine, outlet) == [(box, 0)], (engine["text"], outlet)


def test_lifecycle_thisdevice_probe_init_metro_and_freebang(graph):
    v8 = graph.named("engine_v8")
    gate = graph.text("gate ")
    engines = {(v8["id"], 0), (gate["id"], 1)}
    thisdevice = graph.text("live.thisdevice")
    (trig, _), = graph.targets(thisdevice, 0)
    assert trig["text"] == "t b b b"
    # trigger fires right to left: probe [v8], then init, then start the metro
    (probe, _), = graph.targets(trig, 2)
    assert probe["text"] == "probe" and graph.targets(probe, 0) == [(v8, 0)]
    (init, _), = graph.targets(trig, 1)
    assert init["text"] == "init" and {(b["id"], n) for b, n in graph.targets(init, 0)} == engines
    (metro, _), = graph.targets(trig, 0)
    assert metro["text"] == "metro 5000"
    (tick, _), = graph.targets(metro, 0)
    assert tick["text"] == "tick" and {(b["id"], n) for b, n in graph.targets(tick, 0)} == engines
    freebang = graph.text("freebang")
    (shutdown, _), = graph.targets(freebang, 0)
    assert shutdown["text"] == "shutdown" and {(b["id"], n) for b, n in graph.targets(shutdown, 0)} == engines


def _param(box: dict) -> dict:
    return box["saved_attribute_attributes"]["valueof"]


def test_ports_are_live_parameters_with_the_daemon_defaults(graph, patcher):
    udp_in = graph.text("udpreceive ")
    udp_out = graph.text("udpsend ")
    assert udp_out["text"] == f"udpsend 127.0.0.1 {DEFAULT_OSC_PORT}"
    assert build_amxd.DEFAULT_LISTEN_PORT == DEFAULT_M4L_PORT == protocol.DEFAULT_PORTS["m4l"]
    assert build_amxd.DEFAULT_DAEMON_PORT == DEFAULT_OSC_PORT == protocol.DEFAULT_PORTS["daemon"]
    js = (M4L / "loopwatch.js").read_text(encoding="utf-8")
    assert re.search(rf"var DEFAULT_REPLY_PORT = {DEFAULT_M4L_PORT};", js)
    assert re.search(rf"var DEFAULT_DAEMON_PORT = {DEFAULT_OSC_PORT};", js)
    v8 = graph.named("engine_v8")
    gate = graph.text("gate ")
    for varname, default, udp, handler in (("listen_port", DEFAULT_M4L_PORT, udp_in, "setport"),
                                           ("daemon_port", DEFAULT_OSC_PORT, udp_out, "setdaemonport")):
        numbox = graph.named(varname)
        assert numbox["maxclass"] == "live.numbox" and numbox["parameter_enable"] == 1
        p = _param(numbox)
        assert p["parameter_initial"] == [default] and p["parameter_initial_enable"] == 1
        assert p["parameter_type"] == 1 and p["parameter_mmin"] <= default <= p["parameter_mmax"]
        assert p["parameter_invisible"] == 1, "stored with the Set, not automatable"
        assert numbox["id"] in patcher["parameters"]
        (trig, _), = graph.targets(numbox, 0)
        assert trig["text"] == "t i i"
        (to_udp, _), = graph.targets(trig, 1)  # right outlet first: the socket moves before re-subscribing
        assert to_udp["text"] == "prepend port" and graph.targets(to_udp, 0) == [(udp, 0)]
        (to_script, _), = graph.targets(trig, 0)
        assert to_script["text"] == f"prepend {handler}"
        assert {(b["id"], n) for b, n in graph.targets(to_script, 0)} == {(v8["id"], 0), (gate["id"], 1)}


def test_ui_controls_reach_the_script(graph, patcher):
    v8 = graph.named("engine_v8")
    gate = graph.text("gate ")
    engines = {(v8["id"], 0), (gate["id"], 1)}

    def reaches(box: dict, outlet: int, text: str) -> None:
        (msg, _), = graph.targets(box, outlet)
        assert msg["text"] == text
        assert {(b["id"], n) for b, n in graph.targets(msg, 0)} == engines

    for varname in ("ack_button", "clear_button"):
        button = graph.named(varname)
        assert button["maxclass"] == "live.text" and button["mode"] == 0  # momentary
        reaches(button, 0, f"prepend {varname}")  # the script ignores a release (0)
    toggle = graph.named("colour_clips")
    assert toggle["maxclass"] == "live.toggle"
    assert _param(toggle)["parameter_initial"] == [1], "clip colouring is on by default"
    reaches(toggle, 0, "prepend colour_clips")
    table = graph.named("alert_table")
    assert table["maxclass"] == "jit.cellblock" and table["readonly"] == 1
    reaches(table, 0, "prepend select_row")
    for varname in ("status_line", "alert_count", "info_line", "selection_line", "alert_table", "ack_button", "clear_button",
                    "colour_clips", "listen_port", "daemon_port"):
        assert graph.named(varname).get("presentation") == 1, varname
    # the column headers sit over the table's columns
    js = (M4L / "loopwatch.js").read_text(encoding="utf-8")
    widths = [int(w) for w in re.search(r"var COLUMN_WIDTHS = \[([\d, ]+)\];", js).group(1).split(",")]
    x = graph.named("alert_table")["presentation_rect"][0]
    for name, width in zip(("sev", "file", "check", "time"), widths):
        assert graph.named(f"header_{name}")["presentation_rect"][0::2] == [x, width], name
        x += width
    # every Live parameter is listed once, with a unique long name
    params = {k: v for k, v in patcher["parameters"].items() if k.startswith("obj-")}
    assert len({v[0] for v in params.values()}) == len(params) == 5
    for box_id, (longname, shortname, _) in params.items():
        assert _param(graph.boxes[box_id])["parameter_longname"] == longname


def _docs_push_addresses() -> set[str]:
    text = (ROOT / "docs" / "osc.md").read_text(encoding="utf-8")
    section = text.split("## Daemon → clients", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(/loopwatch/[a-z_]+)` \|", section, flags=re.M))


def test_routed_addresses_exist_in_docs_and_in_the_protocol(graph):
    route = graph.text("route ")
    routed = route["text"].split()[1:]
    assert routed == [address for address, _ in build_amxd.ROUTED]
    documented = _docs_push_addresses()
    assert documented, "could not read the Daemon -> clients table of docs/osc.md"
    for address in routed:
        assert address in documented, address
        assert address in protocol.PUSH_TYPES, address
    assert set(routed) == set(protocol.PUSH_TYPES) == documented, "every push is routed"


def test_readme_documents_colours_ports_and_versions():
    readme = (M4L / "README.md").read_text(encoding="utf-8")
    js = (M4L / "loopwatch.js").read_text(encoding="utf-8")
    colours = dict(re.findall(r"^\s+(ok|warn|error|failed): 0x([0-9A-F]{6}),?", js, flags=re.M))
    assert set(colours) == {"ok", "warn", "error", "failed"}
    for verdict, hexcode in colours.items():
        assert re.search(rf"`{verdict}`.*#{hexcode}", readme, flags=re.I), verdict
    for needle in (str(DEFAULT_M4L_PORT), str(DEFAULT_OSC_PORT), "Live 12.2", "Max 9", "freez", "Ack", "Clear"):
        assert needle in readme, needle


# ---------------------------------------------------------------- protocol in both directions


def test_udpreceive_decoding_agrees_with_python_osc():
    for dgram in osc_fixtures.session_datagrams():
        ours = osc_fixtures.udpreceive_decode(dgram)
        theirs = OscMessage(dgram)
        assert ours[0] == theirs.address
        assert ours[1:] == list(theirs.params)
    with pytest.raises(osc_fixtures.OscDecodeError):
        osc_fixtures.udpreceive_decode(b"#bundle\x00" + bytes(8))
    with pytest.raises(osc_fixtures.OscDecodeError):
        osc_fixtures.udpreceive_decode(protocol.encode(protocol.DONE, "x")[:-3])


def test_committed_fixture_is_what_the_daemon_encoder_produces():
    committed = osc_fixtures.SESSION_FIXTURE.read_text(encoding="utf-8")
    assert committed == osc_fixtures.dump_fixture(osc_fixtures.session_messages()), \
        "run python max_for_live/osc_fixtures.py"
    messages = json.loads(committed)
    # the long path really was shortened by the encoder, and every datagram fits
    assert any(str(m[2]).startswith(protocol.ELLIPSIS) for m in messages if m[0] == protocol.ALERT)
    assert all(len(d) <= protocol.MAX_SEND_BYTES for d in osc_fixtures.session_datagrams())


def _node(*args: str, **kw) -> subprocess.CompletedProcess:
    if NODE is None:
        pytest.skip("node is not installed: the Max for Live script's tests need Node.js (scripts/setup-system)")
    return subprocess.run([NODE, *args], capture_output=True, text=True, timeout=120, cwd=ROOT, **kw)


def test_requests_the_script_sends_are_valid_protocol_requests():
    proc = _node(str(M4L / "tests" / "harness.js"), "requests")
    assert proc.returncode == 0, proc.stderr
    requests = json.loads(proc.stdout)
    seen = []
    for address, *args in requests:
        # [udpsend] types a Max int as i, a float as f, a symbol as s: as encode_request does
        parsed = protocol.parse_request(protocol.encode_request(address, *args))
        seen.append(parsed.address)
        if parsed.address == protocol.SUBSCRIBE:
            assert parsed.args[1] == "m4l" and isinstance(parsed.args[2], int)
    assert seen[:2] == [protocol.SUBSCRIBE, protocol.SYNC]
    assert {protocol.SUBSCRIBE, protocol.SYNC, protocol.ACK, protocol.UNSUBSCRIBE} <= set(seen)
    acks = [args[0] for address, *args in requests if address == protocol.ACK]
    assert acks == [41, 42]
    ports = [args[2] for address, *args in requests if address == protocol.SUBSCRIBE]
    assert ports[0] == DEFAULT_M4L_PORT and ports[-1] == 9712


def test_end_to_end_daemon_datagrams_reach_the_device_as_udpreceive_decodes_them(graph, tmp_path):
    """python-osc plays the device: it listens on the device's port for the
    device's routed addresses; the daemon's datagrams are sent over UDP."""
    udp = graph.text("udpreceive ")
    device_port = int(udp["text"].split()[1])
    routed = graph.text("route ")["text"].split()[1:]
    datagrams = osc_fixtures.session_datagrams()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    ours = sender.getsockname()

    received: list[list] = []
    unexpected: list[str] = []
    done = threading.Event()

    def on_routed(client, address, *args):
        if client != ours:
            return  # a daemon running on this machine may push to the same port
        received.append([address, *args])
        if len(received) == len(datagrams):
            done.set()

    def on_other(client, address, *args):
        if client == ours:
            unexpected.append(address)

    dispatcher = Dispatcher()
    for address in routed:
        dispatcher.map(address, on_routed, needs_reply_address=True)
    dispatcher.set_default_handler(on_other, needs_reply_address=True)
    try:
        server = BlockingOSCUDPServer(("127.0.0.1", device_port), dispatcher)
    except OSError:  # the port is taken (a LoopWatch test or device elsewhere): any port shows the same
        server = BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        for dgram in datagrams:
            sender.sendto(dgram, ("127.0.0.1", port))
            time.sleep(0.001)
        assert done.wait(5.0), f"received {len(received)} of {len(datagrams)} datagrams"
    finally:
        server.shutdown()
        server.server_close()
        sender.close()
        thread.join(5)
    assert unexpected == []
    assert received == [osc_fixtures.udpreceive_decode(d) for d in datagrams]
    assert received == osc_fixtures.session_messages()

    # what arrived, replayed into loopwatch.js through the patch's route map
    fixture = tmp_path / "received.json"
    fixture.write_text(osc_fixtures.dump_fixture(received), encoding="utf-8")
    proc = _node(str(M4L / "tests" / "harness.js"), "replay", str(fixture))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [a["id"] for a in result["alerts"]] == [9, 8, 7, 6, 5, 4, 3]
    assert result["table"][0] == ["WARN", "Voix \u00e9t\u00e9 1.wav", "click", "0.750 s"]
    assert result["table"][2] == ["ERR", "Pad 7.wav", "clipping", "10.000 s"]
    assert result["text"]["count"] == "7 alerts (2 error, 5 warn)"
    assert result["posts"] == []


def test_node_suite_for_the_device_script():
    tests = sorted(str(p) for p in (M4L / "tests").glob("*.test.js"))
    assert len(tests) >= 3
    proc = _node("--test", *tests)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    passed = re.search(r"^# pass (\d+)$", proc.stdout, flags=re.M)
    failed = re.search(r"^# fail (\d+)$", proc.stdout, flags=re.M)
    assert passed and int(passed.group(1)) >= 20 and failed and failed.group(1) == "0", proc.stdout[-2000:]


# ---------------------------------------------------------------- recorded from the real daemon


def test_session_recorded_from_the_real_daemon_replays_in_the_script(tmp_path):
    """Run loopwatch's daemon, record every datagram it pushes to the device's port while files
    land, move, change and disappear, and replay that exact sequence through loopwatch.js."""
    import os

    import numpy as np
    import soundfile as sf

    from loopwatch.config import load_config
    from loopwatch.daemon import Daemon

    device = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    device.bind(("127.0.0.1", 0))
    port = device.getsockname()[1]
    watched = tmp_path / "Set Project" / "Samples" / "Recorded"
    watched.mkdir(parents=True)
    cfg = load_config(overrides={"osc.port": 0, "osc.push_targets": [f"127.0.0.1:{port}"], "watch.settle_s": 0.2})
    daemon = Daemon(cfg, [tmp_path])
    daemon.start()
    recorded: list[bytes] = []

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            device.settimeout(max(0.01, end - time.monotonic()))
            try:
                recorded.append(device.recvfrom(65536)[0])
            except socket.timeout:
                break

    def settle() -> None:
        assert daemon.wait_idle(20)
        pump(0.4)

    try:
        # the device subscribes (as loopwatch.js does after live.thisdevice) on its own port
        device.sendto(protocol.encode_request(protocol.SUBSCRIBE, "m4l-test-1", "m4l", port), daemon.osc_address)
        pump(0.3)
        t = np.arange(96000) / 48000
        tone = 0.3 * np.sin(2 * np.pi * 110 * t) * np.exp(-3 * (t % 0.5))
        clipped = np.clip(tone * 8, -1, 1)
        sf.write(watched / "Bass 1.wav", np.stack([clipped, clipped]).T, 48000)
        sf.write(watched / "Pad 2.wav", np.stack([tone, tone]).T, 48000)
        (watched / "Broken 3.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunkjunk")
        settle()
        os.rename(watched / "Bass 1.wav", watched / "Bass 1 renamed.wav")  # clear + same alerts, new path
        settle()
        sf.write(watched / "Pad 2.wav", np.stack([clipped * 0.99, clipped]).T, 48000)  # new content
        settle()
        (watched / "Broken 3.wav").unlink()  # clear after the grace period
        time.sleep(2.5)
        settle()
        device.sendto(protocol.encode_request(protocol.SYNC, "m4l-test-1", 0), daemon.osc_address)
        pump(0.5)
    finally:
        daemon.stop()
        device.close()
    messages = [osc_fixtures.udpreceive_decode(d) for d in recorded]
    addresses = {m[0] for m in messages}
    assert {protocol.ALERT, protocol.FILE, protocol.CLEAR, protocol.STATUS} <= addresses, addresses
    fixture = tmp_path / "recorded_session.json"
    fixture.write_text(osc_fixtures.dump_fixture(messages), encoding="utf-8")
    if NODE is None:
        pytest.skip("node is not installed; the recorded session was checked for its messages only")
    env = dict(os.environ, LOOPWATCH_M4L_REPLAY=str(fixture))
    proc = subprocess.run([NODE, "--test", str(M4L / "tests" / "replay.test.js")], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "recorded_session.json" in proc.stdout
    out = subprocess.run([NODE, str(M4L / "tests" / "harness.js"), "replay", str(fixture)], capture_output=True,
                         text=True, timeout=60)
    result = json.loads(out.stdout)
    names = {row[1] for row in result["table"]}
    assert "Bass 1 renamed.wav" in names and "Bass 1.wav" not in names and "Broken 3.wav" not in names
    assert result["posts"] == []
