"""'loopwatch: Score selected items' under lua5.4 with the stub reaper table.

* File time <-> take time mapping: plain sources, section sources, playrate
  2.0, reversed and nested sections; markers land at the right take (source)
  position and project time.
* Inbox transport: the script writes its request into the inbox folder; the
  test reads it as the daemon would (validating it against docs/osc.md), and
  answers in journal.jsonl in the documented format, including other clients'
  records and a line written in two halves. The daemon itself (issue 6) does
  not exist yet; see the report for the test to add once it does.
* OSC transport against a UDP peer that validates every request with
  loopwatch.protocol.parse_request and answers with loopwatch.protocol.encode.
* Fallback from OSC to the inbox, the exec fallback, and the timeout.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from loopwatch import protocol

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reaper_scripts" / "tests"))
import lua_harness as H  # noqa: E402

pytestmark = pytest.mark.skipif(
    not H.lua_socket_available(), reason="lua5.4 with LuaSocket is needed (scripts/setup-system installs lua-socket)"
)

COLORS = {"ok": (64, 170, 90), "info": (70, 130, 200), "warn": (230, 150, 30), "error": (215, 50, 45),
          "failed": (140, 140, 140)}


def native(name: str) -> int:
    return H.color_native(*COLORS[name])


def ts() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# Mapping ------------------------------------------------------------------------------------

MAPPING_LUA = r"""
local items = require("loopwatch_items")
local out = {}
for i = 0, reaper.CountMediaItems(0) - 1 do
  local info, why = items.item_info(reaper.GetMediaItem(0, i))
  if info then
    local probes = {}
    for _, t in ipairs(S.sc.probes[i + 1] or {}) do
      local s = items.alert_source_pos(info, t[1], t[2])
      probes[#probes + 1] = { srcpos = s, project = items.source_to_project(info, s),
                              file_back = items.source_to_file(info, s) }
    end
    out[#out + 1] = { start_s = info.start_s, length_s = info.length_s, reversed = info.reversed,
                      path = info.path, probes = probes }
  else
    out[#out + 1] = { skipped = why }
  end
end
return out
"""


def test_mapping_sections_playrate_reverse(tmp_path):
    items = [
        # plain file, slipped by 1 s
        H.item("/m/a.wav", position=5.0, length=2.0, startoffs=1.0),
        # section (offset 3 s, 6 s long) played at 2x, take offset 1 s
        H.item("/m/b.wav", position=10.0, length=2.0, startoffs=1.0, playrate=2.0, file_length=20.0,
               section={"offs": 3.0, "len": 6.0}),
        # reversed section: source time s is file time 2 + 4 - s
        H.item("/m/c.wav", position=20.0, length=2.0, startoffs=0.5, section={"offs": 2.0, "len": 4.0, "rev": True}),
        # item longer than its source (looped) and starting before it
        H.item("/m/d.wav", position=30.0, length=20.0, startoffs=-1.0, file_length=8.0),
    ]
    # a section of a section: offsets add up (inner length 0 = to the end of the file)
    nested = H.item("/m/e.wav", position=40.0, length=5.0, file_length=20.0)
    nested["takes"][0]["source"] = {"type": "SECTION", "offs": 1.0, "len": 5.0, "rev": False,
                                    "parent": {"type": "SECTION", "offs": 2.0, "len": 0.0, "rev": False,
                                               "parent": {"type": "WAVE", "file": "/m/e.wav", "length": 20.0}}}
    items.append(nested)
    midi = H.item("/m/f.mid")
    midi["takes"][0]["midi"] = True
    items.append(midi)
    items.append(H.item("Audio/rel.wav"))  # a path relative to the project folder
    probes = [
        [[2.0, 2.0]],
        [[5.0, 5.01], [7.5, 7.5]],
        [[4.0, 4.1]],
        [[3.0, 3.0]],
        [[4.0, 4.0]],
    ]
    res = H.run_eval(tmp_path, MAPPING_LUA, items=items, probes=probes, project_file="/proj/Song/song.RPP")
    a, b, c, d, e, f, g = res
    assert (a["start_s"], a["length_s"]) == pytest.approx((1.0, 2.0))
    assert a["probes"][0]["srcpos"] == pytest.approx(2.0)
    assert a["probes"][0]["project"] == pytest.approx(6.0)

    # visible file range: 3 + 1 .. 3 + 1 + 2 * 2
    assert (b["start_s"], b["length_s"]) == pytest.approx((4.0, 4.0))
    # take marker srcpos is in the take's source time: t_file - section offset
    assert b["probes"][0]["srcpos"] == pytest.approx(2.0)
    assert b["probes"][0]["project"] == pytest.approx(10.0 + (2.0 - 1.0) / 2.0)
    assert b["probes"][1]["srcpos"] == pytest.approx(4.5)
    assert b["probes"][1]["project"] == pytest.approx(10.0 + (4.5 - 1.0) / 2.0)
    assert b["probes"][1]["file_back"] == pytest.approx(7.5)

    # reversed: visible source [0.5, 2.5] is file [3.5, 5.5]; the problem [4.0, 4.1]
    # plays backwards, so on the take it starts at source time 6 - 4.1 = 1.9
    assert c["reversed"] is True
    assert (c["start_s"], c["length_s"]) == pytest.approx((3.5, 2.0))
    assert c["probes"][0]["srcpos"] == pytest.approx(1.9)
    assert c["probes"][0]["project"] == pytest.approx(20.0 + (1.9 - 0.5))

    # looped / pre-roll item: the whole 8 s file once
    assert (d["start_s"], d["length_s"]) == pytest.approx((0.0, 8.0))
    assert d["probes"][0]["project"] == pytest.approx(30.0 + (3.0 + 1.0))

    assert (e["start_s"], e["length_s"]) == pytest.approx((3.0, 5.0))
    assert e["probes"][0]["srcpos"] == pytest.approx(1.0)
    assert e["probes"][0]["project"] == pytest.approx(41.0)

    assert f == {"skipped": "MIDI take"}
    assert g["path"] == "/proj/Song/Audio/rel.wav"


# Inbox + journal ------------------------------------------------------------------------------


class InboxDaemonRole(threading.Thread):
    """Does what docs/osc.md says the daemon does with the inbox: take each
    ``*.json`` request file, delete it, and answer in journal.jsonl.
    ``answer(request) -> list of records`` supplies the findings."""

    def __init__(self, data_dir: Path, answer, split_line: bool = True):
        super().__init__(daemon=True)
        self.inbox = data_dir / "inbox"
        self.journal = data_dir / "journal.jsonl"
        self.answer = answer
        self.split_line = split_line
        self.names_seen: set[str] = set()
        self.documents: list[dict] = []
        self.stop = threading.Event()
        self.next_id = 100

    def write(self, lines: list[str]) -> None:
        with open(self.journal, "a", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line + "\n")

    def run(self) -> None:
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.journal.touch()
        while not self.stop.is_set():
            for p in sorted(self.inbox.iterdir()):
                if not p.is_file():
                    continue
                self.names_seen.add(p.name)
                if not p.name.endswith(".json"):
                    continue
                doc = json.loads(p.read_text(encoding="utf-8"))
                p.unlink()
                self.documents.append(doc)
                # unrelated records first: another client's request and a watched file
                self.write([
                    json.dumps({"v": 1, "type": "alert", "ts": ts(), "id": 1, "path": "/other.wav",
                                "severity": "error", "check": "click", "t0": 0.1, "t1": 0.1, "value": 9.0,
                                "unit": "dB", "message": "x", "model": "", "request_id": "", "source": "watch"}),
                    json.dumps({"v": 1, "type": "done", "ts": ts(), "request_id": "someone-else", "ok": True,
                                "error": ""}),
                    json.dumps({"v": 2, "type": "alert", "request_id": "from-the-future"}),
                    "",
                ])
                for req in doc["requests"]:
                    recs = self.answer(req, self)
                    lines = [json.dumps(r, ensure_ascii=False) for r in recs]
                    if self.split_line and lines:
                        half = len(lines[0]) // 2
                        with open(self.journal, "a", encoding="utf-8") as fh:
                            fh.write(lines[0][:half])
                        time.sleep(0.15)
                        with open(self.journal, "a", encoding="utf-8") as fh:
                            fh.write(lines[0][half:] + "\n")
                        lines = lines[1:]
                    self.write(lines)
            time.sleep(0.02)


def alert(rid: str, path: str, t0: float, sev: str, check: str, daemon: InboxDaemonRole, value: float = 12.0,
          unit: str = "dB") -> dict:
    daemon.next_id += 1
    return {"v": 1, "type": "alert", "ts": ts(), "id": daemon.next_id, "path": path, "severity": sev,
            "check": check, "t0": t0, "t1": t0 + 0.01, "value": value, "unit": unit,
            "message": f"{check} at {t0:.3f} s", "model": "", "request_id": rid, "source": "request"}


def file_rec(rid: str, path: str, verdict: str) -> dict:
    return {"v": 1, "type": "file", "ts": ts(), "path": path, "verdict": verdict, "outlier_ratio": -1.0,
            "n_alerts": 0, "model": "", "request_id": rid}


def done_rec(rid: str, ok: bool = True, error: str = "") -> dict:
    return {"v": 1, "type": "done", "ts": ts(), "request_id": rid, "ok": ok, "error": error}


# File-time findings per file, used by the inbox, OSC and exec tests.
FINDINGS = {
    "a.wav": [(2.0, "warn", "clipping")],
    "b.wav": [(5.0, "error", "click"), (7.5, "warn", "seam")],
    "c.wav": [(4.0, "error", "click")],
    "whole.wav": [],
    "broken.wav": [(0.0, "error", "decode")],
}
VERDICTS = {"a.wav": "warn", "b.wav": "error", "c.wav": "error", "whole.wav": "ok", "broken.wav": "failed"}


def project_items(tmp_path: Path) -> tuple[list[dict], dict[str, Path]]:
    paths = {name: tmp_path / "Media" / name for name in FINDINGS}
    items = [
        H.item(str(paths["a.wav"]), position=5.0, length=2.0, startoffs=1.0,
               markers=[{"pos": 1.2, "name": "loopwatch: click (error)", "color": 1},
                        {"pos": 1.5, "name": "my own marker", "color": 0}]),
        H.item(str(paths["b.wav"]), position=10.0, length=2.0, startoffs=1.0, playrate=2.0, file_length=20.0,
               section={"offs": 3.0, "len": 6.0}),
        H.item(str(paths["c.wav"]), position=20.0, length=2.0, startoffs=0.5,
               section={"offs": 2.0, "len": 4.0, "rev": True}),
        H.item(str(paths["whole.wav"]), position=30.0, length=10.0, file_length=10.0),
        H.item(str(paths["broken.wav"]), position=45.0, length=1.0),
        H.item(str(tmp_path / "Media" / "unselected.wav"), selected=False),
    ]
    return items, paths


def inbox_answer(req: dict, daemon: InboxDaemonRole) -> list[dict]:
    name = Path(req["path"]).name
    rid = req["request_id"]
    recs = [alert(rid, req["path"], t0, sev, chk, daemon) for t0, sev, chk in FINDINGS[name]]
    recs.append(file_rec(rid, req["path"], VERDICTS[name]))
    recs.append(done_rec(rid))
    return recs


def check_results(out: dict, transport_word: str, unit: str = " dB") -> None:
    a, b, c, whole, broken, unselected = out["items"]
    assert out["undo"] == [{"label": "loopwatch: score selected items", "flags": -1}]
    assert out["changes_outside_undo"] == []
    assert out["undo_depth"] == 0 and out["refresh_depth"] == 0
    assert out["missing_api"] == []  # only modelled ReaScript functions were used
    assert f"via {transport_word}" in out["console"]

    # a: previous loopwatch marker replaced, the user's marker kept
    marks = a["takes"][0]["markers"]
    assert [m["name"] for m in marks] == ["my own marker", f"loopwatch: clipping (warn) 12{unit}"]
    assert marks[1]["pos"] == pytest.approx(2.0)
    assert marks[1]["project_time"] == pytest.approx(6.0)
    assert marks[1]["color"] == native("warn")
    assert a["color"] == native("warn") and a["ext"] == {"loopwatch_verdict": "warn"}

    # b: section at offset 3 s, playrate 2, take offset 1 s
    marks = b["takes"][0]["markers"]
    assert [m["pos"] for m in marks] == pytest.approx([2.0, 4.5])
    assert [m["project_time"] for m in marks] == pytest.approx([10.5, 11.75])
    assert [m["color"] for m in marks] == [native("error"), native("warn")]
    assert b["color"] == native("error")

    # c: reversed section
    marks = c["takes"][0]["markers"]
    assert [m["pos"] for m in marks] == pytest.approx([1.99])
    assert marks[0]["project_time"] == pytest.approx(21.49)

    assert whole["takes"][0]["markers"] == [] and whole["color"] == native("ok")
    assert broken["color"] == native("failed")
    assert [m["name"] for m in broken["takes"][0]["markers"]] == [f"loopwatch: decode (error) 12{unit}"]
    assert unselected["color"] == 0 and unselected["ext"] == {}


def test_inbox_request_and_journal_results(tmp_path):
    items, paths = project_items(tmp_path)
    sc = H.scenario(tmp_path, items=items, settings={"score_transport": "inbox", "inbox_pickup_s": 10})
    data = Path(sc["extstate"]["loopwatch"]["data_dir"])
    role = InboxDaemonRole(data, inbox_answer)
    role.start()
    try:
        out = H.run_script(sc, tmp_path)
    finally:
        role.stop.set()
        role.join()
    assert len(role.documents) == 1
    doc = role.documents[0]
    # docs/osc.md: {"v": 1, "client_id": ..., "requests": [{request_id, path[, start_s, length_s]}]}
    assert doc["v"] == 1 and isinstance(doc["client_id"], str) and doc["client_id"]
    reqs = doc["requests"]
    assert [Path(r["path"]).name for r in reqs] == list(FINDINGS)
    assert len({r["request_id"] for r in reqs}) == len(reqs)
    by_name = {Path(r["path"]).name: r for r in reqs}
    assert (by_name["a.wav"]["start_s"], by_name["a.wav"]["length_s"]) == pytest.approx((1.0, 2.0))
    assert (by_name["b.wav"]["start_s"], by_name["b.wav"]["length_s"]) == pytest.approx((4.0, 4.0))
    assert (by_name["c.wav"]["start_s"], by_name["c.wav"]["length_s"]) == pytest.approx((3.5, 2.0))
    assert "start_s" not in by_name["whole.wav"] and "length_s" not in by_name["whole.wav"]
    assert by_name["a.wav"]["path"] == str(paths["a.wav"])
    # written under a temporary name, then renamed: every name seen is *.json or not *.json-final
    assert role.names_seen and all(n.endswith((".json", ".json.tmp")) for n in role.names_seen)
    assert list((data / "inbox").iterdir()) == []
    check_results(out, "inbox")


def test_rejected_request_and_pickup_timeout(tmp_path):
    def reject(req, daemon):
        return [done_rec(req["request_id"], ok=False, error="path is not inside an allowed root")]

    items = [H.item(str(tmp_path / "x.wav"), length=1.0)]
    sc = H.scenario(tmp_path, items=items, settings={"score_transport": "inbox"})
    role = InboxDaemonRole(Path(sc["extstate"]["loopwatch"]["data_dir"]), reject, split_line=False)
    role.start()
    try:
        out = H.run_script(sc, tmp_path)
    finally:
        role.stop.set()
        role.join()
    assert "x.wav [0:00.000 - 0:01.000]: failed - path is not inside an allowed root" in out["console"]
    assert out["items"][0]["color"] == native("failed")

    # Nobody takes the request: the script removes it again and says so.
    sc = H.scenario(tmp_path, items=items, settings={"score_transport": "inbox", "inbox_pickup_s": 0.5})
    out = H.run_script(sc, tmp_path, name="nobody")
    assert "did not take the request" in out["console"]
    assert "is `loopwatch watch` running?" in out["console"]
    assert out["undo"] == [] and out["items"][0]["color"] == 0
    assert list((Path(sc["extstate"]["loopwatch"]["data_dir"]) / "inbox").iterdir()) == []


def test_nothing_selected(tmp_path):
    out = H.run_script(H.scenario(tmp_path, items=[H.item("/m/a.wav", selected=False)]), tmp_path)
    assert "select one or more audio items first" in out["console"]
    assert out["undo"] == []


# OSC --------------------------------------------------------------------------------------------


class OscDaemonRole(threading.Thread):
    """A UDP peer on 127.0.0.1 that validates every datagram with the daemon's own
    parser and answers requests with loopwatch.protocol.encode, as docs/osc.md says."""

    def __init__(self, answer_scores: bool = True):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.answer_scores = answer_scores
        self.requests: list[protocol.Request] = []
        self.timeline: list[str] = []
        self.stop = threading.Event()
        self.next_id = 500

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            req = protocol.parse_request(data)  # raises on anything invalid
            self.requests.append(req)
            if req.address == protocol.STATUS:
                self.sock.sendto(protocol.encode(protocol.STATUS, "idle", 0, "", "cpu"), addr)
            elif req.address == protocol.SCORE and self.answer_scores:
                rid, path = req.args[0], req.args[1]
                self.timeline.append("score " + rid)
                name = Path(path).name
                for t0, sev, chk in FINDINGS[name]:
                    self.next_id += 1
                    self.sock.sendto(protocol.encode(protocol.ALERT, self.next_id, path, sev, chk, t0, t0 + 0.01,
                                                     12.0, f"{chk} at {t0}"), addr)
                self.sock.sendto(protocol.encode(protocol.FILE, path, VERDICTS[name], -1.0,
                                                 len(FINDINGS[name]), ""), addr)
                time.sleep(0.05)
                self.timeline.append("done " + rid)
                self.sock.sendto(protocol.encode(protocol.DONE, rid), addr)
        self.sock.close()


def test_osc_transport(tmp_path):
    items, paths = project_items(tmp_path)
    role = OscDaemonRole()
    role.start()
    try:
        sc = H.scenario(tmp_path, items=items, settings={"daemon_port": role.port})
        out = H.run_script(sc, tmp_path)
    finally:
        role.stop.set()
        role.join()
    scores = [r for r in role.requests if r.address == protocol.SCORE]
    assert [Path(r.args[1]).name for r in scores] == list(FINDINGS)
    by_name = {Path(r.args[1]).name: r for r in scores}
    assert by_name["b.wav"].args[2:] == pytest.approx((4.0, 4.0))
    assert len(by_name["whole.wav"].args) == 2
    # one request at a time: each score is sent only after the previous done
    for k in range(0, len(role.timeline) - 2, 2):
        assert role.timeline[k].startswith("score") and role.timeline[k + 1].startswith("done")
        assert role.timeline[k].split()[1] == role.timeline[k + 1].split()[1]
    # OSC alerts carry no unit: marker names have the bare value
    check_results(out, f"OSC 127.0.0.1:{role.port}", unit="")


def test_osc_silent_falls_back_to_inbox(tmp_path):
    items, _ = project_items(tmp_path)
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # a port where nobody answers
    sc = H.scenario(tmp_path, items=items, settings={"daemon_port": silent.getsockname()[1], "osc_probe_s": 0.5})
    role = InboxDaemonRole(Path(sc["extstate"]["loopwatch"]["data_dir"]), inbox_answer, split_line=False)
    role.start()
    try:
        out = H.run_script(sc, tmp_path)
    finally:
        role.stop.set()
        role.join()
        silent.close()
    assert "skipped transport osc: no answer from the daemon" in out["console"]
    check_results(out, "inbox")


def test_osc_timeout_leaves_items_untouched(tmp_path):
    role = OscDaemonRole(answer_scores=False)
    role.start()
    items = [H.item(str(tmp_path / "a.wav"), markers=[{"pos": 0.5, "name": "loopwatch: old", "color": 0}])]
    try:
        sc = H.scenario(tmp_path, items=items, settings={"daemon_port": role.port, "timeout_s": 1.0})
        out = H.run_script(sc, tmp_path)
    finally:
        role.stop.set()
        role.join()
    assert "(timed out)" in out["console"] and "no answer within 1 s" in out["console"]
    assert out["undo"] == []
    assert out["items"][0]["color"] == 0
    assert [m["name"] for m in out["items"][0]["takes"][0]["markers"]] == ["loopwatch: old"]


def test_no_socket_library_skips_osc(tmp_path):
    items, _ = project_items(tmp_path)
    sc = H.scenario(tmp_path, items=items, no_socket=True, settings={"inbox_pickup_s": 5})
    role = InboxDaemonRole(Path(sc["extstate"]["loopwatch"]["data_dir"]), inbox_answer, split_line=False)
    role.start()
    try:
        out = H.run_script(sc, tmp_path)
    finally:
        role.stop.set()
        role.join()
    assert "skipped transport osc: LuaSocket is not installed" in out["console"]
    check_results(out, "inbox")


# exec ---------------------------------------------------------------------------------------------

STAND_IN = r'''
"""Prints what docs/osc.md's journal section specifies for `loopwatch client score --json`
(a stand-in for the command while it is being written; it records its argv)."""
import json, sys
from pathlib import Path
args = sys.argv[1:]
Path(sys.argv[0]).with_suffix(".argv").open("a").write(json.dumps(args) + "\n")
assert args[:3] == ["client", "score", "--json"], args
path = args[-1]
if "--start" in args:
    start = float(args[args.index("--start") + 1])
findings = json.loads(Path(sys.argv[0]).with_suffix(".json").read_text())
name = Path(path).name
if name == "missing.wav":
    print("loopwatch: " + path + ": no such file", file=sys.stderr)
    sys.exit(2)
for k, (t0, sev, chk) in enumerate(findings[name]):
    print(json.dumps({"v": 1, "type": "alert", "ts": "2026-11-21T17:43:00.123Z", "id": k + 1, "path": path,
                      "severity": sev, "check": chk, "t0": t0, "t1": t0 + 0.01, "value": 12.0, "unit": "dB",
                      "message": chk, "model": "", "request_id": "", "source": "cli"}))
print(json.dumps({"v": 1, "type": "file", "ts": "2026-11-21T17:43:00.124Z", "path": path,
                  "verdict": json.loads(Path(sys.argv[0]).with_suffix(".verdicts").read_text())[name],
                  "outlier_ratio": -1.0, "n_alerts": len(findings[name]), "model": "", "request_id": ""}))
print(json.dumps({"v": 1, "type": "done", "ts": "2026-11-21T17:43:00.125Z", "request_id": "", "ok": True,
                  "error": ""}))
'''


def test_exec_fallback(tmp_path):
    bindir = tmp_path / "bin dir"
    bindir.mkdir()
    stand_in = bindir / "loopwatch_cli.py"
    stand_in.write_text(STAND_IN)
    stand_in.with_suffix(".json").write_text(json.dumps({k: [list(f) for f in v] for k, v in FINDINGS.items()}))
    stand_in.with_suffix(".verdicts").write_text(json.dumps(VERDICTS))
    items, paths = project_items(tmp_path / "it's here")
    items.append(H.item(str(tmp_path / "missing.wav")))
    cmd = f"'{sys.executable}' '{stand_in}'"
    sc = H.scenario(tmp_path, items=items, settings={"score_transport": "exec", "loopwatch_cmd": cmd})
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out = H.run_script(sc, tmp_path, env={"TMPDIR": str(tmpdir)})
    argv = [json.loads(line) for line in stand_in.with_suffix(".argv").read_text().splitlines()]
    by_name = {Path(a[-1]).name: a for a in argv}
    assert by_name["b.wav"] == ["client", "score", "--json", "--start", "4.000000", "--length", "4.000000",
                                str(paths["b.wav"])]
    assert by_name["whole.wav"] == ["client", "score", "--json", str(paths["whole.wav"])]
    assert len(out["exec_calls"]) == 1 and out["exec_calls"][0]["cmd"].startswith("/bin/sh ")
    check_results({**out, "items": out["items"][:6]}, "exec")
    assert f"missing.wav [0:00.000 - 0:01.000]: failed - loopwatch: {tmp_path}/missing.wav: no such file" in out["console"]
    # the background job's script and output files are removed afterwards
    assert list(tmpdir.iterdir()) == []
