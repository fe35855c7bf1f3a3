"""The REAPER scripts against the real daemon (loopwatch.daemon.Daemon, in process).

* Inbox: the Lua script writes its request into the inbox, the daemon takes it,
  scores the section and answers in journal.jsonl; the script turns that into
  take markers at the right take time (a section source played at 2x).
* OSC: the same over UDP.
* Panel: subscribes over OSC, gets the daemon's replay, and a click selects the
  item and moves the edit cursor to the alert.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import synth_loop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reaper_scripts" / "tests"))
import lua_harness as H  # noqa: E402

daemon_mod = pytest.importorskip("loopwatch.daemon")
# The daemon's analysis imports the quality checks; without them it cannot score.
pytest.importorskip("loopwatch.checks", reason="loopwatch.checks (the quality checks) is not in the tree yet")

from loopwatch import config  # noqa: E402
from loopwatch.config import load_config  # noqa: E402

pytestmark = pytest.mark.skipif(
    not H.lua_socket_available(), reason="lua5.4 with LuaSocket is needed (scripts/setup-system installs lua-socket)"
)

COLORS = {"ok": (64, 170, 90), "warn": (230, 150, 30), "error": (215, 50, 45), "failed": (140, 140, 140)}


@pytest.fixture
def daemon(tmp_path):
    watched = tmp_path / "watched"
    watched.mkdir()
    x = synth_loop(3.0, seed=6)
    x[:, 96000:] = np.clip(x[:, 96000:] * 8, -1, 1)  # clipped from 2 s on
    take = watched / "take.wav"
    sf.write(take, x.T, 48000, subtype="PCM_16")
    cfg = load_config(overrides={"osc.port": 0, "osc.push_targets": [], "watch.settle_s": 0.3})
    d = daemon_mod.Daemon(cfg, [watched])
    d.start()
    assert d.wait_idle(20)
    yield d, take
    d.stop()


def section_item(take: Path) -> dict:
    # section = file 1.0 .. 3.0 s, take offset 0.5 s at playrate 2: plays file 1.5 .. 2.5 s
    return H.item(str(take), position=10.0, length=0.5, startoffs=0.5, playrate=2.0, file_length=3.0,
                  section={"offs": 1.0, "len": 2.0})


def journal_records() -> list[dict]:
    return [json.loads(line) for line in config.journal_path().read_text(encoding="utf-8").splitlines() if line]


def check_markers(out: dict, transport: str) -> None:
    assert f"via {transport}" in out["console"], out["console"]
    marks = out["items"][0]["takes"][0]["markers"]
    assert marks, out["console"]
    assert all(m["name"].startswith("loopwatch: ") for m in marks)
    clip = [m for m in marks if m["name"].startswith("loopwatch: clipping")]
    assert clip, [m["name"] for m in marks]
    for m in clip:
        t_file = m["pos"] + 1.0  # take source time + section offset
        assert 2.0 - 0.05 <= t_file <= 2.5 + 1e-6  # the clipped part of the requested section
        assert m["project_time"] == pytest.approx(10.0 + (m["pos"] - 0.5) / 2.0)
    verdicts = {H.color_native(*c): v for v, c in COLORS.items()}
    assert verdicts[out["items"][0]["color"]] in ("warn", "error")
    assert out["undo"] == [{"label": "loopwatch: score selected items", "flags": -1}]


def test_inbox_with_the_real_daemon(daemon, tmp_path):
    d, take = daemon
    sc = H.scenario(tmp_path, items=[section_item(take)],
                    settings={"data_dir": str(config.data_dir()), "score_transport": "inbox", "timeout_s": 60})
    out = H.run_script(sc, tmp_path, timeout=90)
    check_markers(out, "inbox")
    mine = [r for r in journal_records() if r.get("type") == "file" and r.get("path") == str(take)
            and r.get("request_id", "").startswith("reaper-")]
    assert mine, "the daemon answered the script's request in the journal"
    assert list(config.inbox_dir().glob("*.json")) == []


def test_osc_with_the_real_daemon(daemon, tmp_path):
    d, take = daemon
    sc = H.scenario(tmp_path, items=[section_item(take)],
                    settings={"daemon_port": d.osc_address[1], "timeout_s": 60})
    out = H.run_script(sc, tmp_path, timeout=90)
    check_markers(out, f"OSC 127.0.0.1:{d.osc_address[1]}")


def test_panel_with_the_real_daemon(daemon, tmp_path):
    d, take = daemon
    alerts = [r for r in journal_records() if r.get("type") == "alert" and r.get("path") == str(take)]
    assert alerts, "the watched file produced alerts"
    newest = max(alerts, key=lambda r: r["id"])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    panel_port = s.getsockname()[1]
    s.close()
    items = [H.item(str(take), position=4.0, length=3.0, file_length=3.0, selected=False)]
    sc = H.scenario(tmp_path, H.PANEL_SCRIPT, items=items, imgui=True, imgui_click="take.wav##",
                    stop_when_cursor_moved=True, max_s=20,
                    settings={"daemon_port": d.osc_address[1], "panel_port": panel_port})
    out = H.run_script(sc, tmp_path, timeout=60)
    assert out["imgui"]["clicks"] == [f"take.wav##{newest['id']}"]
    assert out["items"][0]["selected"] is True
    assert out["edit_cursor"] == pytest.approx(4.0 + newest["t0"], abs=1e-4)


def test_exec_with_the_real_cli(daemon, tmp_path, lw_home):
    pytest.importorskip("loopwatch.cli.client")
    d, take = daemon
    # `loopwatch client score` reads the same configuration: point it at this daemon.
    cfg_dir = lw_home / "config"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    (cfg_dir / "loopwatch.toml").write_text(f"[osc]\nport = {d.osc_address[1]}\n")
    sc = H.scenario(tmp_path, items=[section_item(take)],
                    settings={"score_transport": "exec", "loopwatch_cmd": f"'{sys.executable}' -m loopwatch",
                              "timeout_s": 60})
    out = H.run_script(sc, tmp_path, timeout=90, env={"LOOPWATCH_HOME": str(lw_home)})
    check_markers(out, "exec")
