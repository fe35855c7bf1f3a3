#!/usr/bin/env python3
"""Build the LoopWatch Max for Live device from its sources.

Sources: this file (the patcher graph, written out as ``LoopWatch.maxpat``)
and ``loopwatch.js`` (the device logic, embedded verbatim in the patcher's
``[v8 @embed 1]`` object and loaded from disk by its ``[js loopwatch.js]``
fallback).

Outputs, both committed and reproducible byte for byte (no timestamps, no
absolute paths, no dict-order or platform dependence):

``LoopWatch.maxpat``
    The patcher as readable JSON, in the layout Max 9 writes.
``LoopWatch.amxd``
    The unfrozen audio-effect device: ``ampf`` u32le(4) ``aaaa`` |
    ``meta`` u32le(4) u32le(0) | ``ptch`` u32le(N) + the patcher JSON +
    ``\\n\\0`` (N counts the JSON and the two trailing bytes), so the chunk
    lengths add up to the file size.

Usage::

    python max_for_live/build_amxd.py          # write both files
    python max_for_live/build_amxd.py --check  # exit 1 if they are stale

Only the standard library is used, so it runs anywhere Python 3.8+ runs.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
JS_PATH = HERE / "loopwatch.js"
MAXPAT_PATH = HERE / "LoopWatch.maxpat"
AMXD_PATH = HERE / "LoopWatch.amxd"

#: Must equal loopwatch.config.DEFAULT_M4L_PORT (tests check it).
DEFAULT_LISTEN_PORT = 9702
#: Must equal loopwatch.config.DEFAULT_OSC_PORT (tests check it).
DEFAULT_DAEMON_PORT = 9701
DAEMON_HOST = "127.0.0.1"

#: The daemon -> client addresses the device routes, in [route] order, with
#: the script handler each one reaches through [prepend].
ROUTED = [
    ("/loopwatch/alert", "osc_alert"),
    ("/loopwatch/file", "osc_file"),
    ("/loopwatch/status", "osc_status"),
    ("/loopwatch/clear", "osc_clear"),
    ("/loopwatch/done", "osc_done"),
    ("/loopwatch/error", "osc_error"),
]

#: 'aaaa' read as a big-endian u32: Max's code for an audio-effect device.
AMXDTYPE_AUDIO_EFFECT = 0x61616161  # 1633771873
DEVICE_WIDTH = 520.0
SCRIPT_OUTLETS = 7

APPVERSION = {"major": 9, "minor": 0, "revision": 7, "architecture": "x64", "modernui": 1}

# Colours (RGBA 0..1) close to Live's default dark theme.
LCD_BG = [0.129, 0.129, 0.129, 1.0]
TEXT_FG = [0.85, 0.85, 0.85, 1.0]
DIM_FG = [0.6, 0.6, 0.6, 1.0]


class Patch:
    """A patcher under construction: boxes with sequential ids and patch cords."""

    def __init__(self) -> None:
        self.boxes: List[Dict[str, Any]] = []
        self.lines: List[Tuple[str, int, str, int]] = []
        self.parameters: Dict[str, List[Any]] = {}

    def add(self, box: Dict[str, Any]) -> str:
        box_id = f"obj-{len(self.boxes) + 1}"
        box["id"] = box_id
        self.boxes.append(box)
        return box_id

    def connect(self, src: str, outlet: int, dst: str, inlet: int) -> None:
        self.lines.append((src, outlet, dst, inlet))

    # -- object factories ------------------------------------------------

    def newobj(self, text: str, numinlets: int, numoutlets: int, outlettype: Optional[List[str]],
               rect: List[float], **extra: Any) -> str:
        box: Dict[str, Any] = {
            "maxclass": "newobj",
            "numinlets": numinlets,
            "numoutlets": numoutlets,
            "patching_rect": _rect(rect),
            "text": text,
        }
        if outlettype is not None:
            box["outlettype"] = outlettype
        box.update(extra)
        return self.add(box)

    def message(self, text: str, rect: List[float]) -> str:
        return self.add({
            "maxclass": "message",
            "numinlets": 2,
            "numoutlets": 1,
            "outlettype": [""],
            "patching_rect": _rect(rect),
            "text": text,
        })

    def comment(self, text: str, rect: List[float], linecount: int = 1) -> str:
        box = {
            "maxclass": "comment",
            "numinlets": 1,
            "numoutlets": 0,
            "patching_rect": _rect(rect),
            "text": text,
        }
        if linecount > 1:
            box["linecount"] = linecount
        return self.add(box)

    def live_comment(self, text: str, rect: List[float], prect: List[float], varname: str,
                     color: Optional[List[float]] = None, fontsize: float = 9.5) -> str:
        return self.add({
            "fontsize": fontsize,
            "maxclass": "live.comment",
            "numinlets": 1,
            "numoutlets": 0,
            "patching_rect": _rect(rect),
            "presentation": 1,
            "presentation_rect": _rect(prect),
            "text": text,
            "textcolor": color or TEXT_FG,
            "textjustification": 0,
            "varname": varname,
        })

    def parameter(self, box_id: str, longname: str, shortname: str) -> None:
        self.parameters[box_id] = [longname, shortname, 0]


def _rect(r: List[float]) -> List[float]:
    return [float(v) for v in r]


def _port_numbox(patch: Patch, longname: str, shortname: str, varname: str, value: int,
                 rect: List[float], prect: List[float], annotation: str) -> str:
    box_id = patch.add({
        "annotation": annotation,
        "annotation_name": longname,
        "maxclass": "live.numbox",
        "numinlets": 1,
        "numoutlets": 2,
        "outlettype": ["", "float"],
        "parameter_enable": 1,
        "patching_rect": _rect(rect),
        "presentation": 1,
        "presentation_rect": _rect(prect),
        "saved_attribute_attributes": {
            "valueof": {
                "parameter_annotation_name": longname,
                "parameter_info": annotation,
                "parameter_initial": [value],
                "parameter_initial_enable": 1,
                # 1 = stored only: saved with the Set, not automatable.
                "parameter_invisible": 1,
                "parameter_longname": longname,
                "parameter_mmax": 65535.0,
                "parameter_mmin": 1024.0,
                "parameter_modmode": 0,
                "parameter_shortname": shortname,
                "parameter_type": 1,
                "parameter_unitstyle": 0,
            }
        },
        "varname": varname,
    })
    patch.parameter(box_id, longname, shortname)
    return box_id


def _button(patch: Patch, text: str, longname: str, varname: str, rect: List[float],
            prect: List[float], annotation: str) -> str:
    box_id = patch.add({
        "annotation": annotation,
        "annotation_name": longname,
        "maxclass": "live.text",
        "mode": 0,
        "numinlets": 1,
        "numoutlets": 2,
        "outlettype": ["", ""],
        "parameter_enable": 1,
        "patching_rect": _rect(rect),
        "presentation": 1,
        "presentation_rect": _rect(prect),
        "saved_attribute_attributes": {
            "valueof": {
                "parameter_enum": ["val1", "val2"],
                "parameter_info": annotation,
                # 2 = hidden: a button is not a parameter worth automating.
                "parameter_invisible": 2,
                "parameter_longname": longname,
                "parameter_mmax": 1,
                "parameter_modmode": 0,
                "parameter_shortname": longname,
                "parameter_type": 2,
            }
        },
        "text": text,
        "varname": varname,
    })
    patch.parameter(box_id, longname, longname)
    return box_id


def build_patch(js_source: str) -> Dict[str, Any]:
    """Return the patcher dict (``{"patcher": {...}}``) with ``js_source`` embedded."""
    p = Patch()

    # ---- documentation comments (patching mode only)
    p.comment("LoopWatch: shows loopwatch alerts (docs/osc.md, protocol v1) and colours clips by verdict. "
              "Sources: max_for_live/build_amxd.py + loopwatch.js (see README.md).", [20, 10, 620, 33], 2)

    # ---- audio passes through untouched
    plugin = p.newobj("plugin~", 2, 2, ["signal", "signal"], [20, 60, 55, 22])
    plugout = p.newobj("plugout~", 2, 2, ["signal", "signal"], [20, 110, 55, 22])
    p.connect(plugin, 0, plugout, 0)
    p.connect(plugin, 1, plugout, 1)
    p.comment("audio passes through untouched", [80, 85, 180, 20])

    # ---- the two engines: embedded [v8] (Max 9 / Live 12.2+) and [js] fallback
    v8 = p.newobj(
        "v8 @embed 1", 1, SCRIPT_OUTLETS, [""] * SCRIPT_OUTLETS, [360, 430, 160, 22],
        filename="none",
        saved_object_attributes={"embed": 1, "parameter_enable": 0},
        textfile={"text": js_source, "filename": "none", "flags": 0, "embed": 1, "autowatch": 1},
        varname="engine_v8",
    )
    js_gate = p.newobj("gate 1 1", 2, 1, [""], [560, 400, 55, 22])
    js = p.newobj(
        "js loopwatch.js fallback", 1, SCRIPT_OUTLETS, [""] * SCRIPT_OUTLETS, [560, 430, 160, 22],
        saved_object_attributes={"filename": "loopwatch.js", "parameter_enable": 0},
        varname="engine_js",
    )
    p.connect(js_gate, 0, js, 0)
    engine_t = p.newobj("t b", 1, 1, ["bang"], [360, 470, 30, 22])
    close_js = p.message("0", [360, 500, 30, 22])
    p.connect(v8, 5, engine_t, 0)
    p.connect(engine_t, 0, close_js, 0)
    p.connect(close_js, 0, js_gate, 0)
    p.comment("[v8] runs the embedded code (Max 9 / Live 12.2+) and closes the gate; without [v8] "
              "(older Max) the gate stays open and [js loopwatch.js fallback] runs", [740, 400, 300, 47], 3)

    def to_engines(src: str, outlet: int = 0) -> None:
        """Feed a message to both engines; only one of them is live."""
        p.connect(src, outlet, v8, 0)
        p.connect(src, outlet, js_gate, 1)

    # ---- lifecycle: live.thisdevice -> probe, init, start the subscribe metro
    thisdevice = p.newobj("live.thisdevice", 1, 3, ["bang", "int", "int"], [360, 60, 90, 22])
    init_t = p.newobj("t b b b", 1, 3, ["bang", "bang", "bang"], [360, 90, 60, 22])
    probe = p.message("probe", [470, 120, 45, 22])
    init = p.message("init", [415, 120, 35, 22])
    metro = p.newobj("metro 5000", 2, 1, ["bang"], [360, 150, 70, 22])
    tick = p.message("tick", [360, 180, 35, 22])
    p.connect(thisdevice, 0, init_t, 0)
    p.connect(init_t, 2, probe, 0)
    p.connect(probe, 0, v8, 0)
    p.connect(init_t, 1, init, 0)
    to_engines(init)
    p.connect(init_t, 0, metro, 0)
    p.connect(metro, 0, tick, 0)
    to_engines(tick)
    p.comment("after load: probe [v8], init (subscribe + sync), then renew the subscription every 5 s",
              [470, 60, 260, 33], 2)

    freebang = p.newobj("freebang", 0, 1, ["bang"], [560, 180, 60, 22])
    shutdown = p.message("shutdown", [560, 210, 60, 22])
    p.connect(freebang, 0, shutdown, 0)
    to_engines(shutdown)
    p.comment("device removed: unsubscribe", [625, 210, 170, 20])

    # ---- receiving: udpreceive -> route -> prepend -> engines
    udprecv = p.newobj(f"udpreceive {DEFAULT_LISTEN_PORT} @defer 1", 1, 1, [""], [20, 250, 160, 22])
    route_text = "route " + " ".join(address for address, _ in ROUTED)
    route = p.newobj(route_text, len(ROUTED) + 1, len(ROUTED) + 1, [""] * (len(ROUTED) + 1), [20, 290, 620, 22])
    p.connect(udprecv, 0, route, 0)
    for i, (_, handler) in enumerate(ROUTED):
        prepend = p.newobj(f"prepend {handler}", 1, 1, [""], [20 + 105 * i, 330, 100, 22])
        p.connect(route, i, prepend, 0)
        to_engines(prepend)
    p.comment("daemon pushes arrive here (OSC; the address becomes the selector)", [185, 250, 360, 20])

    # ---- sending: engines outlet 0 -> udpsend
    udpsend = p.newobj(f"udpsend {DAEMON_HOST} {DEFAULT_DAEMON_PORT}", 1, 0, None, [360, 560, 150, 22])
    p.comment("requests to the daemon: subscribe, sync, ack, unsubscribe", [515, 560, 320, 20])

    # ---- UI (presentation)
    status = p.live_comment("starting\u2026", [20, 620, 330, 18], [4, 2, 346, 16], "status_line")
    count = p.live_comment("no alerts", [360, 620, 160, 18], [356, 2, 162, 16], "alert_count", DIM_FG)
    info = p.live_comment("", [20, 860, 330, 18], [4, 151, 514, 16], "info_line", DIM_FG, 9.0)
    selection = p.live_comment("click a row to select it", [700, 620, 160, 30], [356, 114, 162, 34],
                               "selection_line", DIM_FG, 9.0)
    # column headers over the table; widths match loopwatch.js COLUMN_WIDTHS
    headers = [("sev", 4, 40), ("file", 44, 150), ("check", 194, 80), ("time", 274, 62)]
    for i, (text, x, w) in enumerate(headers):
        p.live_comment(text, [20 + 60 * i, 650, 50, 18], [x, 18, w, 14], f"header_{text}", DIM_FG, 9.0)

    table = p.add({
        "bgcolor": LCD_BG,
        "border": 1,
        "bordercolor": [0.3, 0.3, 0.3, 1.0],
        "colhead": 0,
        "cols": 4,
        "colwidth": 80,
        "fgcolor": TEXT_FG,
        "fontname": "Arial",
        "fontsize": 10.0,
        "gridlinecolor": [0.25, 0.25, 0.25, 1.0],
        "hcellcolor": [0.35, 0.35, 0.35, 1.0],
        "hscroll": 0,
        "maxclass": "jit.cellblock",
        "numinlets": 2,
        "numoutlets": 4,
        "outlettype": ["list", "", "", ""],
        "patching_rect": _rect([20, 680, 346, 116]),
        "presentation": 1,
        "presentation_rect": _rect([4, 32, 346, 116]),
        "readonly": 1,
        "rowhead": 0,
        "rowheight": 16,
        "rows": 1,
        "selmode": 3,
        "varname": "alert_table",
        "vscroll": 1,
    })
    select = p.newobj("prepend select_row", 1, 1, [""], [20, 810, 110, 22])
    p.connect(table, 0, select, 0)
    to_engines(select)

    for engine in (v8, js):
        p.connect(engine, 0, udpsend, 0)
        p.connect(engine, 1, table, 0)
        p.connect(engine, 2, status, 0)
        p.connect(engine, 3, count, 0)
        p.connect(engine, 4, info, 0)
        p.connect(engine, 6, selection, 0)

    ack = _button(p, "Ack", "Ack", "ack_button", [400, 680, 60, 18], [356, 22, 78, 18],
                  "Acknowledge the selected alert, or every alert in the list when none is "
                  "selected: the daemon stops replaying it.")
    ack_msg = p.newobj("prepend ack_button", 1, 1, [""], [400, 710, 110, 22])
    p.connect(ack, 0, ack_msg, 0)
    to_engines(ack_msg)
    clear = _button(p, "Clear", "Clear", "clear_button", [480, 680, 60, 18], [440, 22, 78, 18],
                    "Empty the list in this device only (nothing is acknowledged).")
    clear_msg = p.newobj("prepend clear_button", 1, 1, [""], [520, 740, 115, 22])
    p.connect(clear, 0, clear_msg, 0)
    to_engines(clear_msg)

    colour = p.add({
        "annotation": "Colour audio clips by the daemon's verdict for their file "
                      "(ok green, warn orange, error red, failed violet). Off restores the "
                      "colours this device changed.",
        "annotation_name": "Colour Clips",
        "maxclass": "live.toggle",
        "numinlets": 1,
        "numoutlets": 1,
        "outlettype": [""],
        "parameter_enable": 1,
        "patching_rect": _rect([560, 680, 16, 16]),
        "presentation": 1,
        "presentation_rect": _rect([356, 47, 16, 16]),
        "saved_attribute_attributes": {
            "valueof": {
                "parameter_enum": ["off", "on"],
                "parameter_initial": [1],
                "parameter_initial_enable": 1,
                "parameter_invisible": 1,
                "parameter_longname": "Colour Clips",
                "parameter_mmax": 1,
                "parameter_modmode": 0,
                "parameter_shortname": "Colour",
                "parameter_type": 2,
            }
        },
        "varname": "colour_clips",
    })
    p.parameter(colour, "Colour Clips", "Colour")
    p.live_comment("colour clips", [580, 680, 80, 18], [376, 46, 140, 18], "colour_label")
    colour_msg = p.newobj("prepend colour_clips", 1, 1, [""], [560, 710, 120, 22])
    p.connect(colour, 0, colour_msg, 0)
    to_engines(colour_msg)

    p.live_comment("listen port", [400, 750, 70, 18], [356, 70, 80, 18], "listen_port_label")
    listen = _port_numbox(p, "Listen Port", "Port", "listen_port", DEFAULT_LISTEN_PORT,
                          [400, 775, 60, 15], [440, 71, 76, 16],
                          "UDP port this device listens on. Give each LoopWatch instance its own port.")
    listen_t = p.newobj("t i i", 1, 2, ["int", "int"], [400, 800, 40, 22])
    listen_port = p.newobj("prepend port", 1, 1, [""], [440, 830, 80, 22])
    listen_set = p.newobj("prepend setport", 1, 1, [""], [400, 860, 90, 22])
    p.connect(listen, 0, listen_t, 0)
    p.connect(listen_t, 1, listen_port, 0)
    p.connect(listen_port, 0, udprecv, 0)
    p.connect(listen_t, 0, listen_set, 0)
    to_engines(listen_set)

    p.live_comment("daemon port", [560, 750, 70, 18], [356, 92, 80, 18], "daemon_port_label")
    daemon = _port_numbox(p, "Daemon Port", "Daemon", "daemon_port", DEFAULT_DAEMON_PORT,
                          [560, 775, 60, 15], [440, 93, 76, 16],
                          "UDP port of the loopwatch daemon on 127.0.0.1 ([osc] port, --osc-port).")
    daemon_t = p.newobj("t i i", 1, 2, ["int", "int"], [560, 800, 40, 22])
    daemon_port = p.newobj("prepend port", 1, 1, [""], [600, 830, 80, 22])
    daemon_set = p.newobj("prepend setdaemonport", 1, 1, [""], [560, 860, 130, 22])
    p.connect(daemon, 0, daemon_t, 0)
    p.connect(daemon_t, 1, daemon_port, 0)
    p.connect(daemon_port, 0, udpsend, 0)
    p.connect(daemon_t, 0, daemon_set, 0)
    to_engines(daemon_set)


    parameters: Dict[str, Any] = dict(sorted(p.parameters.items(), key=lambda kv: int(kv[0][4:])))
    parameters["inherited_shortname"] = 1

    patcher: Dict[str, Any] = {
        "fileversion": 1,
        "appversion": APPVERSION,
        "classnamespace": "box",
        "rect": [100.0, 100.0, 1080.0, 920.0],
        "openrect": [0.0, 0.0, DEVICE_WIDTH, 169.0],
        "bglocked": 0,
        "openinpresentation": 1,
        "default_fontsize": 10.0,
        "default_fontface": 0,
        "default_fontname": "Arial Bold",
        "gridonopen": 1,
        "gridsize": [8.0, 8.0],
        "gridsnaponopen": 1,
        "objectsnaponopen": 1,
        "statusbarvisible": 2,
        "toolbarvisible": 1,
        "lefttoolbarpinned": 0,
        "toptoolbarpinned": 0,
        "righttoolbarpinned": 0,
        "bottomtoolbarpinned": 0,
        "toolbars_unpinned_last_save": 0,
        "tallnewobj": 0,
        "boxanimatetime": 500,
        "enablehscroll": 1,
        "enablevscroll": 1,
        "devicewidth": DEVICE_WIDTH,
        "description": "LoopWatch: loopwatch alerts (clicks, clipping, seams, outliers) for the files "
                       "in this Set, newest first, and clip colours by verdict. Needs the loopwatch "
                       "daemon: loopwatch watch.",
        "digest": "loopwatch alerts inside Live",
        "tags": "loopwatch",
        "style": "",
        "subpatcher_template": "",
        "assistshowspatchername": 0,
        "boxes": [{"box": dict(sorted(box.items()))} for box in p.boxes],
        "lines": [
            {"patchline": {"destination": [dst, inlet], "source": [src, outlet]}}
            for src, outlet, dst, inlet in p.lines
        ],
        "parameters": parameters,
        "dependency_cache": [
            {"name": "loopwatch.js", "bootpath": ".", "patcherrelativepath": ".", "type": "TEXT", "implicit": 1}
        ],
        "latency": 0,
        "is_mpe": 0,
        "minimum_live_version": "",
        "minimum_max_version": "",
        "platform_compatibility": 0,
        "project": {
            "version": 1,
            "creationdate": 3590052493,
            "modificationdate": 3590052493,
            "viewrect": [0.0, 0.0, 300.0, 500.0],
            "autoorganize": 1,
            "hideprojectwindow": 1,
            "showdependencies": 1,
            "autolocalize": 0,
            "contents": {"patchers": {}},
            "layout": {},
            "searchpath": {},
            "detailsvisible": 0,
            "amxdtype": AMXDTYPE_AUDIO_EFFECT,
            "readonly": 0,
            "devpathtype": 0,
            "devpath": ".",
            "sortmode": 0,
            "viewmode": 0,
            "includepackages": 0,
        },
        "autosave": 0,
    }
    return {"patcher": patcher}


# ---------------------------------------------------------------- serialisation

def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def _dump(value: Any, indent: int) -> str:
    pad = "    " * indent
    inner = "    " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_dump(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        if all(_is_scalar(v) for v in value):
            return "[ " + ", ".join(json.dumps(v, ensure_ascii=False) for v in value) + " ]"
        return "[\n" + ",\n".join(inner + _dump(v, indent + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False)


def patcher_json(patch: Dict[str, Any]) -> str:
    """Serialise like Max 9: 4-space indents, ``"key": value``, scalar lists on one line."""
    return _dump(patch, 0)


def amxd_bytes(json_text: str, device_type: bytes = b"aaaa", meta_flag: int = 0) -> bytes:
    """Wrap patcher JSON in the unfrozen ``.amxd`` container."""
    if len(device_type) != 4:
        raise ValueError("device type must be 4 bytes (aaaa, mmmm or iiii)")
    payload = json_text.encode("utf-8") + b"\n\x00"
    return (
        b"ampf" + struct.pack("<I", 4) + device_type
        + b"meta" + struct.pack("<I", 4) + struct.pack("<I", meta_flag)
        + b"ptch" + struct.pack("<I", len(payload)) + payload
    )


def read_js(path: Path = JS_PATH) -> str:
    """The script text exactly as committed (LF line endings enforced)."""
    text = path.read_bytes().decode("utf-8")
    if "\r" in text:
        raise ValueError(f"{path}: CR line endings; the embedded copy must match byte for byte")
    return text


def build(js_path: Path = JS_PATH) -> Tuple[bytes, bytes]:
    """Return ``(maxpat_bytes, amxd_bytes)`` built from the sources."""
    text = patcher_json(build_patch(read_js(js_path)))
    return (text + "\n").encode("utf-8"), amxd_bytes(text)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 when LoopWatch.maxpat or LoopWatch.amxd is stale")
    args = parser.parse_args(argv)
    maxpat, amxd = build()
    stale = [p for p, data in ((MAXPAT_PATH, maxpat), (AMXD_PATH, amxd))
             if not p.exists() or p.read_bytes() != data]
    if args.check:
        for p in stale:
            print(f"{p.name} is stale: run python max_for_live/build_amxd.py", file=sys.stderr)
        return 1 if stale else 0
    MAXPAT_PATH.write_bytes(maxpat)
    AMXD_PATH.write_bytes(amxd)
    print(f"wrote {MAXPAT_PATH.name} ({len(maxpat)} bytes) and {AMXD_PATH.name} ({len(amxd)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
