"""'loopwatch: Alerts panel' under lua5.4 with the stub reaper table.

* The panel model: journal records and OSC pushes (built with
  loopwatch.protocol.encode) become the right rows; duplicates, clears and
  the "Clear list" mark are honoured.
* The journal follower: partial lines, rotation to journal.jsonl.1 (both when
  the new file is shorter and when it is already longer than the read
  position), the backlog start.
* The panel script itself: gfx window + journal feed, ReaImGui window + OSC
  feed (subscribe, renew, sync, unsubscribe against a UDP peer that validates
  with loopwatch.protocol.parse_request); clicking a row selects the item that
  plays the file at that time, moves the edit cursor and scrolls.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from loopwatch import protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reaper_scripts" / "tests"))
import lua_harness as H  # noqa: E402

pytestmark = pytest.mark.skipif(
    not H.lua_socket_available(), reason="lua5.4 with LuaSocket is needed (scripts/setup-system installs lua-socket)"
)


def alert_rec(i: int, path: str, t0: float, sev: str = "error", check: str = "click") -> dict:
    return {"v": 1, "type": "alert", "ts": "2026-11-21T17:43:00.123Z", "id": i, "path": path, "severity": sev,
            "check": check, "t0": t0, "t1": t0 + 0.001, "value": 18.2, "unit": "dB",
            "message": f"{check} at {t0} s", "model": "", "request_id": "", "source": "watch"}


MODEL_LUA = r"""
local P = require("loopwatch_panel")
local osc = require("loopwatch_osc")
local p = P.new({ cleared_id = 2 })
for _, r in ipairs(S.sc.records) do p:apply(r) end
local function snapshot()
  local rows = {}
  for i, r in ipairs(p.rows) do
    rows[i] = { r.id, r.file, r.check, r.time_text, r.severity }
  end
  return rows
end
local after_journal = snapshot()
for _, h in ipairs(S.sc.packets) do
  local data = h:gsub("%x%x", function(b) return string.char(tonumber(b, 16)) end)
  local address, tags, args = assert(osc.decode(data))
  p:apply_osc(address, tags, args)
end
local after_osc = snapshot()
local cleared = p:clear_rows()
p:apply({ type = "alert", id = 8, path = "/m/x.wav", severity = "warn", check = "seam", t0 = 1 })
p:apply({ type = "alert", id = 30, path = "/m/x.wav", severity = "warn", check = "seam", t0 = 61.5 })
return { after_journal = after_journal, after_osc = after_osc, cleared = cleared, final = snapshot(),
         daemon = p.daemon, file_verdict = p.files["/m/Bass 1.wav"] and p.files["/m/Bass 1.wav"].verdict }
"""


def test_panel_model_rows(tmp_path):
    records = [
        alert_rec(3, "/m/Bass 1.wav", 1.234),
        alert_rec(1, "/m/old.wav", 0.5),  # at or below the "Clear list" mark (2): hidden
        alert_rec(2, "/m/cleared.wav", 0.5),
        alert_rec(5, "/m/Pad.wav", 75.0, "warn", "seam"),
        alert_rec(5, "/m/Pad.wav", 75.0, "warn", "seam"),  # duplicate id
        alert_rec(4, "/m/mid.wav", 0.5),  # arrives late: sorted between 5 and 3
        {"v": 1, "type": "file", "ts": "x", "path": "/m/Bass 1.wav", "verdict": "error", "outlier_ratio": 0.5,
         "n_alerts": 1, "model": "", "request_id": ""},
        {"v": 1, "type": "done", "ts": "x", "request_id": "r", "ok": True, "error": ""},
        alert_rec(6, "/m/gone.wav", 2.0),
        {"v": 1, "type": "clear", "ts": "x", "path": "/m/gone.wav"},
    ]
    packets = [
        protocol.encode(protocol.ALERT, 8, "/m/Kick.wav", "error", "clipping", 0.25, 0.3, 1.0, "clipped"),
        protocol.encode(protocol.ALERT, 7, "/m/Hat.wav", "warn", "outlier", 0.0, 2.0, 1.4, "outlier"),
        protocol.encode(protocol.ALERT, 8, "/m/Kick.wav", "error", "clipping", 0.25, 0.3, 1.0, "clipped"),
        protocol.encode(protocol.CLEAR, "/m/Pad.wav"),
        protocol.encode(protocol.STATUS, "busy", 3, "bass", "cpu"),
    ]
    res = H.run_eval(tmp_path, MODEL_LUA, records=records, packets=[p.hex() for p in packets])
    assert res["after_journal"] == [
        [5, "Pad.wav", "seam", "1:15.000", "warn"],
        [4, "mid.wav", "click", "0:00.500", "error"],
        [3, "Bass 1.wav", "click", "0:01.234", "error"],
    ]
    assert res["after_osc"] == [
        [8, "Kick.wav", "clipping", "0:00.250", "error"],
        [7, "Hat.wav", "outlier", "0:00.000", "warn"],
        [4, "mid.wav", "click", "0:00.500", "error"],
        [3, "Bass 1.wav", "click", "0:01.234", "error"],
    ]
    assert res["cleared"] == 8
    assert res["final"] == [[30, "x.wav", "seam", "1:01.500", "warn"]]
    assert res["daemon"] == {"state": "busy", "queue_len": 3, "model": "bass", "device": "cpu"}
    assert res["file_verdict"] == "error"


ROTATION_LUA = r"""
local J = require("loopwatch_journal")
local path = S.sc.journal
local L = S.sc.lines
local function append(p, s) local f = assert(io.open(p, "ab")); f:write(s); f:close() end
local got = {}
local t = J.tail(path, "start")
local function poll(tag) for _, r in ipairs(t:poll()) do got[#got + 1] = tag .. r.id end end
append(path, L[1] .. "\n" .. L[2] .. "\n")
poll("a")
append(path, L[3]:sub(1, 10)); poll("b")                   -- half a line: nothing yet
append(path, L[3]:sub(11) .. "\n" .. L[4] .. "\n")          -- written, not read before...
os.rename(path, path .. ".1")                                -- ...the journal rotates
append(path, L[5] .. "\n" .. L[6] .. "\n" .. L[7] .. "\n" .. L[8] .. "\n")  -- new file, already longer
poll("c")
os.remove(path .. ".1"); os.rename(path, path .. ".1")
append(path, L[9] .. "\n")                                   -- shorter than the read position
poll("d")
local e = J.tail(path, "end"); e:poll(); append(path, L[10] .. "\n")
for _, r in ipairs(e:poll()) do got[#got + 1] = "e" .. r.id end
local b = J.tail(path, #L[10] + 5)                           -- backlog: from the next full line
for _, r in ipairs(b:poll()) do got[#got + 1] = "f" .. r.id end
return got
"""


def test_journal_follower_rotation_and_partial_lines(tmp_path):
    lines = [json.dumps(alert_rec(i, f"/m/{i}.wav", 0.1 * i)) for i in range(1, 11)]
    got = H.run_eval(tmp_path, ROTATION_LUA, journal=str(tmp_path / "journal.jsonl"), lines=lines)
    assert got == ["a1", "a2", "c3", "c4", "c5", "c6", "c7", "c8", "d9", "e10", "f10"]


def panel_items(tmp_path: Path) -> tuple[list[dict], Path, Path]:
    bass = tmp_path / "Media" / "Bass 1.wav"
    pad = tmp_path / "Media" / "Pad.wav"
    items = [
        # the same file twice: the first plays file time 0-4, the second 4-8
        H.item(str(bass), position=0.0, length=4.0, selected=True),
        H.item(str(bass), position=10.0, length=4.0, startoffs=4.0, track=2, selected=False),
        # a section at offset 3 s played at 2x
        H.item(str(pad), position=20.0, length=2.0, startoffs=1.0, playrate=2.0, file_length=20.0,
               section={"offs": 3.0, "len": 6.0}, track=2, selected=False),
    ]
    return items, bass, pad


def test_gfx_panel_journal_click(tmp_path):
    items, bass, pad = panel_items(tmp_path)
    sc = H.scenario(tmp_path, H.PANEL_SCRIPT, items=items, tracks=[{"name": "A"}, {"name": "B"}],
                    no_socket=True, gfx_click_text="Bass 1.wav", stop_when_cursor_moved=True, max_s=15)
    data = Path(sc["extstate"]["loopwatch"]["data_dir"])
    data.mkdir(parents=True)
    (data / "journal.jsonl").write_text("\n".join(json.dumps(r) for r in [
        alert_rec(11, str(bass), 5.0),
        alert_rec(12, str(pad), 5.5, "warn", "seam"),
        alert_rec(13, str(tmp_path / "elsewhere.wav"), 1.0),
    ]) + "\n")
    out = H.run_script(sc, tmp_path)
    assert out["gfx"]["opened"] and out["gfx"]["quit"]
    for text in ["Bass 1.wav", "click", "0:05.000", "error", "Pad.wav", "seam", "elsewhere.wav"]:
        assert text in out["gfx"]["last_texts"]
    assert any("journal" in t for t in out["gfx"]["last_texts"])
    # the second item plays file time 4-8: it is selected, alone
    assert [i["selected"] for i in out["items"]] == [False, True, False]
    assert out["edit_cursor"] == pytest.approx(10.0 + (5.0 - 4.0))
    assert out["cursor_moves"][-1]["moveview"] is True
    assert [t["selected"] for t in out["tracks"]] == [False, True]
    assert 40913 in out["commands"]
    # relaunch toggles: terminate-on-relaunch + toggle on, then toggle off at exit
    assert out["action_options"] == [1 | 4, 8]
    assert out["extstate"]["loopwatch"]["panel_gfx_dock"] == "0"
    assert out["extstate"]["loopwatch"]["panel_client_id"].startswith("reaper-panel-")
    # the only function looked up that this REAPER lacks is ReaImGui's (not installed here)
    assert out["missing_api"] == ["ImGui_GetBuiltinPath"]


class OscDaemonPeer(threading.Thread):
    """Answers the panel's subscribe/sync as docs/osc.md says (replies go to the
    subscriber's IP at reply_port); every datagram is validated with
    loopwatch.protocol.parse_request."""

    def __init__(self, alerts: list[tuple], port: int = 0):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.alerts = alerts
        self.requests: list[tuple[float, protocol.Request]] = []
        self.subscriber: tuple[str, int] | None = None
        self.stop = threading.Event()

    def push(self, dgram: bytes) -> None:
        assert self.subscriber is not None
        self.sock.sendto(dgram, self.subscriber)

    def run(self) -> None:
        pushed_live = False
        while not self.stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                if self.subscriber and not pushed_live and len(self.requests) >= 2:
                    # a new finding while the panel is open, pushed twice (subscriber + push target)
                    live = protocol.encode(protocol.ALERT, 99, self.alerts[0][1], "warn", "seam", 7.0, 7.1, 2.0, "new")
                    self.push(live)
                    self.push(live)
                    pushed_live = True
                continue
            req = protocol.parse_request(data)
            self.requests.append((time.monotonic(), req))
            if req.address == protocol.SUBSCRIBE:
                self.subscriber = (addr[0], req.args[2])
                self.push(protocol.encode(protocol.STATUS, "idle", 0, "", "cpu"))
            elif req.address == protocol.SYNC:
                for a in self.alerts:
                    if a[0] > req.args[1]:
                        self.push(protocol.encode(protocol.ALERT, *a))
                self.push(protocol.encode(protocol.STATUS, "idle", 0, "", "cpu"))
        self.sock.close()


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_imgui_panel_osc_subscribe_sync_click(tmp_path):
    items, bass, pad = panel_items(tmp_path)
    peer = OscDaemonPeer([
        (21, str(bass), "error", "click", 1.0, 1.01, 18.0, "click"),
        (22, str(pad), "warn", "seam", 5.5, 5.6, 3.0, "seam"),
    ])
    peer.start()
    panel_port = free_udp_port()
    sc = H.scenario(tmp_path, H.PANEL_SCRIPT, items=items, tracks=[{"name": "A"}, {"name": "B"}], imgui=True,
                    imgui_click="Pad.wav##", stop_when_seen="Bass 1.wav##99", stop_not_before_s=1.0, max_s=15,
                    settings={"daemon_port": peer.port, "panel_port": panel_port, "panel_renew_s": 0.3})
    try:
        out = H.run_script(sc, tmp_path)
        time.sleep(0.2)
    finally:
        peer.stop.set()
        peer.join()
    addrs = [r.address for _, r in peer.requests]
    assert addrs[0] == protocol.SUBSCRIBE and addrs[1] == protocol.SYNC
    sub = peer.requests[0][1]
    assert sub.args[1:] == ("reaper", panel_port) and sub.args[0].startswith("reaper-panel-")
    assert peer.requests[1][1].args == (sub.args[0], 0)
    assert addrs.count(protocol.SUBSCRIBE) >= 3  # renewed every 0.3 s here (5 s by default)
    assert addrs[-1] == protocol.UNSUBSCRIBE and peer.requests[-1][1].args == (sub.args[0],)
    # rows: newest first, the live alert pushed twice shows once
    assert out["imgui"]["rows_last_frame"] == ["Bass 1.wav##99", "Pad.wav##22", "Bass 1.wav##21"]
    assert out["imgui"]["clicks"] == ["Pad.wav##22"]
    # Pad.wav 5.5 s is source time 2.5 of the section (offset 3), project 20 + (2.5 - 1) / 2
    assert [i["selected"] for i in out["items"]] == [False, False, True]
    assert out["edit_cursor"] == pytest.approx(20.75)
    assert out["action_options"] == [5, 8]
    assert out["missing_api"] == []


def test_old_reaper_toggle_and_gfx_dock_menu(tmp_path):
    sc = H.scenario(tmp_path, H.PANEL_SCRIPT, no_socket=True, old_reaper=True, gfx_right_click_cycle=3,
                    gfx_menu_choice=1, gfx_close_at_cycle=8, max_s=10)
    out = H.run_script(sc, tmp_path)
    assert out["action_options"] == []
    assert out["missing_api"] == ["ImGui_GetBuiltinPath", "set_action_options"]
    assert out["toggles"] == [1, 0]
    assert out["gfx"]["menu"].startswith("Dock window|Clear list||!Alerts from: auto|Alerts from: osc|")
    assert out["gfx"]["dock"] == 1
    assert out["extstate"]["loopwatch"]["panel_gfx_dock"] == "1"
    assert out["gfx"]["quit"] is True


def test_panel_syncs_when_the_daemon_starts_later(tmp_path):
    items, bass, pad = panel_items(tmp_path)
    daemon_port, panel_port = free_udp_port(), free_udp_port()
    sc = H.scenario(tmp_path, H.PANEL_SCRIPT, items=items, imgui=True, imgui_click="Bass 1.wav##31",
                    stop_when_cursor_moved=True, max_s=15,
                    settings={"daemon_port": daemon_port, "panel_port": panel_port, "panel_renew_s": 0.3})
    proc, out_path = H.start_script(sc, tmp_path)
    time.sleep(2.5)  # the panel's first subscribe and sync went nowhere
    peer = OscDaemonPeer([(31, str(bass), "error", "click", 6.0, 6.01, 18.0, "click")], port=daemon_port)
    peer.start()
    try:
        out = H.finish(proc, out_path)
    finally:
        peer.stop.set()
        peer.join()
    addrs = [r.address for _, r in peer.requests]
    assert addrs[0] == protocol.SUBSCRIBE and protocol.SYNC in addrs
    assert out["imgui"]["clicks"] == ["Bass 1.wav##31"]
    assert [i["selected"] for i in out["items"]] == [False, True, False]
    assert out["edit_cursor"] == pytest.approx(12.0)


CLICK_LUA = r"""
local P = require("loopwatch_panel")
local p = P.new()
for _, r in ipairs(S.sc.records) do p:apply(r) end
local out = {}
for i = 1, #p.rows do
  local ok, msg, info, proj = p:click(i)
  local sel = {}
  for k = 0, reaper.CountMediaItems(0) - 1 do
    sel[#sel + 1] = reaper.IsMediaItemSelected(reaper.GetMediaItem(0, k))
  end
  out[i] = { id = p.rows[i].id, ok = ok, msg = msg, proj = proj or false, selected = sel }
end
return out
"""


def test_click_matching_rules(tmp_path):
    items, bass, pad = panel_items(tmp_path)
    records = [
        alert_rec(1, "/mnt/elsewhere/Media/Pad.wav", 5.5),  # same name, other mount: fallback
        alert_rec(2, "input:Scarlett 2i2", 3.0),
        alert_rec(3, str(bass), 9.0),  # no item plays file time 9
        alert_rec(4, "\u2026/Media/Bass 1.wav", 2.0),  # shortened path: matched by its end
    ]
    res = H.run_eval(tmp_path, CLICK_LUA, items=items, records=records)
    by_id = {r["id"]: r for r in res}
    assert by_id[4]["ok"] and by_id[4]["proj"] == pytest.approx(2.0)
    assert by_id[4]["selected"] == [True, False, False]
    assert by_id[3]["ok"] is False and by_id[3]["msg"] == "no item in this project plays Bass 1.wav at 0:09.000"
    assert by_id[2]["ok"] is False and "live input alert" in by_id[2]["msg"]
    assert by_id[1]["ok"] and by_id[1]["proj"] == pytest.approx(20.75)
    assert by_id[1]["selected"] == [False, False, True]
