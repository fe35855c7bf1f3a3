"""The live monitor without a device: streaming checks, hysteresis, publishing, recordings, errors."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from listen_audio import SR, add_click, add_clipping, performance, quantise

from loopwatch.checks.click import check_click
from loopwatch.monitor import LiveAnalyzer, Monitor, install_hint, parse_channels
from loopwatch.monitor.devices import DeviceError, PortAudioMissing, resolve_input


def run(x: np.ndarray, block: int = 512, **kw):
    """Feed ``x`` block by block; return (findings, analyzer)."""
    an = LiveAnalyzer(x.shape[0], SR, **kw)
    out = []
    for i in range(0, x.shape[1], block):
        out += an.process(x[:, i:i + block])
    out += an.flush()
    return out, an


def alerts(findings, min_rank=("warn", "error")):
    return [f for f in findings if f.severity in min_rank]


@pytest.fixture(scope="module")
def clean():
    return performance(6.0, seed=3)


def test_a_clean_performance_gives_no_alert(clean):
    out, an = run(clean)
    assert alerts(out) == []
    assert an.pos == clean.shape[1]
    assert max(an.levels.peak_db) < 0


@pytest.mark.parametrize("block", [441, 2048, 4096])  # 512 is every other test's
def test_clicks_on_block_and_hop_boundaries_are_found_exactly_once(block):
    x = performance(3.2, seed=3)
    # on the click tracker's hop edges (2048), on block edges, and one sample either side
    where = [2048 * 20, 2048 * 40 - 1, 2048 * 60 + 1, 512 * 200, 441 * 300]
    for w in where:
        add_click(x, w, amp=0.3)
    out, an = run(x, block, settings={"hold_s": 0.0})  # no episode folding: every event is an alert
    clicks = [f for f in out if f.check == "click"]
    assert [round(f.t0 * SR) for f in clicks] == pytest.approx(sorted(where), abs=2)
    assert an.counts["click"] == len(where)  # found once each, not once per window
    assert [f for f in alerts(out) if f.check != "click"] == []
    # the same clicks as the file check finds offline
    offline = check_click(x, SR)
    assert [round(f.t0 * SR) for f in offline] == pytest.approx([round(f.t0 * SR) for f in clicks], abs=2)


def test_clicks_and_clipping_in_order_with_wall_clock_in_the_message():
    x = performance(6.0, seed=1)
    plan = [(1.0, "click"), (1.875, "clipping"), (2.8, "click"), (3.625, "clipping"), (4.6, "click")]
    for t, kind in plan:
        (add_click if kind == "click" else add_clipping)(x, int(t * SR))
    out, _ = run(x, clock=lambda s: 1_800_000_000.0 + s)
    got = alerts(out)
    assert [f.check for f in got] == [k for _, k in plan]
    for f, (t, kind) in zip(got, plan):
        assert abs(f.t0 - t) < (0.002 if kind == "click" else 0.15)
        assert f.severity == "error"
        assert f.message.startswith(f"{kind} at input {f.t0:.3f} s (")
        assert "\n" not in f.message
    import time as _t

    assert _t.strftime("%H:%M:%S", _t.localtime(1_800_000_001.0)) in got[0].message


def test_a_long_clipped_passage_is_one_alert_and_a_later_one_another():
    x = performance(8.0, seed=2)
    x[:, int(1.0 * SR):int(3.5 * SR)] = quantise(np.clip(x[:, int(1.0 * SR):int(3.5 * SR)] * 8.0, -1, 1))
    # the gain jump at the passage's edges is a real discontinuity; keep the test about clipping
    out, an = run(x, only=["clipping", "true-peak"])
    clips = [f for f in alerts(out) if f.check == "clipping"]
    assert len(clips) == 1 and 1.0 <= clips[0].t0 < 1.1
    assert an.counts["clipping"] > 50  # many flat runs, folded into one episode
    assert [f for f in alerts(out) if f.check == "true-peak"] == []  # clipping is the stronger report
    add_clipping(x, int(6.0 * SR))
    out, _ = run(x, only=["clipping", "true-peak"])
    assert [round(f.t0) for f in alerts(out) if f.check == "clipping"] == [1, 6]


def test_inter_sample_peaks_over_minus_one_dbtp_without_clipping():
    n = 3 * SR
    t = np.arange(n)
    x = 0.3 * np.sin(2 * np.pi * 1000 * t / SR)
    seg = slice(SR, SR + SR // 10)
    # fs/4 at 45 degrees: samples at 0.85, the waveform between them at 1.2 (+1.6 dBTP)
    x[seg] = 1.2 * np.sin(np.pi / 2 * t[seg] + np.pi / 4)
    x = quantise(np.stack([x, x]))
    out, _ = run(x, only=["true-peak", "clipping"])
    got = alerts(out)
    assert [f.check for f in got] == ["true-peak"]
    assert got[0].value == pytest.approx(20 * np.log10(1.2), abs=0.3)
    assert abs(got[0].t0 - 1.0) < 0.01


def test_dropouts_inside_sound_and_digital_silence():
    x = performance(9.0, seed=4)
    gaps = [(2.0, 0.004), (4.0 - 0.002, 0.010)]  # 4 ms, and 10 ms straddling many block edges
    for t, d in gaps:
        x[:, int(t * SR):int((t + d) * SR)] = 0.0
    x[:, int(5.5 * SR):int(8.0 * SR)] = 0.0  # 2.5 s of digital silence, then sound again
    out, an = run(x, block=300, only=["dropout"])
    drops = [f for f in out if f.check == "dropout"]
    assert len(drops) == 2
    for f, (t, d) in zip(drops, gaps):
        assert abs(f.t0 - t) < 0.001 and f.value == pytest.approx(d * 1000, abs=0.1) and f.severity == "error"
    silence = [f for f in out if f.check == "silence"]
    assert len(silence) == 1 and silence[0].severity == "info" and abs(silence[0].t0 - 5.5) < 0.001
    assert [f.check for f in alerts(out)] == ["dropout", "dropout"]


def test_dc_offset_is_reported_once_per_episode():
    x = performance(12.0, seed=5).astype(np.float64)
    x[:, int(2 * SR):int(6 * SR)] += 0.03  # -30 dBFS of DC for 4 s
    x[:, int(9 * SR):] += 0.03
    out, _ = run(quantise(x), only=["dc-offset"])
    got = alerts(out)
    assert [f.check for f in got] == ["dc-offset", "dc-offset"]
    assert 2.0 <= got[0].t0 < 4.0 and 9.0 <= got[1].t0 < 11.0
    assert got[0].value == pytest.approx(20 * np.log10(0.03), abs=1.5)


@pytest.mark.parametrize("noise_db, expect", [(-50.0, True), (-80.0, False)])
def test_noise_floor_while_the_player_is_quiet(noise_db, expect):
    rng = np.random.default_rng(0)
    music = performance(3.0, seed=6)
    quiet = rng.standard_normal((2, 3 * SR)) * 10 ** (noise_db / 20)
    x = quantise(np.concatenate([music, quiet, music, quiet], axis=1) + rng.standard_normal((2, 12 * SR)) * 1e-5)
    out, _ = run(x, only=["noise"])
    got = alerts(out)
    if expect:
        assert len(got) == 1  # the second pause is the same noisy setup: no second alert
        assert 3.0 <= got[0].t0 < 4.5 and got[0].value == pytest.approx(noise_db, abs=2.0)
    else:
        assert got == []


def test_unknown_check_name_is_refused():
    with pytest.raises(ValueError, match="unknown live check"):
        LiveAnalyzer(2, only=["clik"])


def test_parse_channels():
    assert parse_channels("1,2") == [1, 2]
    assert parse_channels(" 3 ") == [3]
    assert parse_channels(2) == [1, 2]
    assert parse_channels(None) is None and parse_channels([]) is None
    for bad in ("0", "a,b", "1,1"):
        with pytest.raises(ValueError):
            parse_channels(bad)


# --- the Monitor without a device: the real callback, ring, threads' work, publisher ----------------------------


@pytest.fixture
def publisher_and_udp(lw_home):
    from loopwatch.config import journal_path, load_config
    from loopwatch.journal import Journal
    from loopwatch.publish import Publisher
    from loopwatch.store import Store
    from loopwatch.transport import Pusher, udp_sender

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2.0)
    cfg = load_config()
    cfg["osc"]["push_targets"] = [f"127.0.0.1:{rx.getsockname()[1]}"]
    store = Store()
    sock, send = udp_sender()
    pub = Publisher(store, Journal(journal_path()), Pusher(send, lambda: [], cfg["osc"]["push_targets"]), cfg)
    yield pub, rx, cfg, store
    store.close()
    sock.close()
    rx.close()


def _datagrams(rx, n):
    from pythonosc.osc_message import OscMessage

    out = []
    for _ in range(n):
        m = OscMessage(rx.recv(65536))
        out.append((m.address, list(m.params)))
    return out


def test_monitor_feed_publishes_to_store_journal_and_osc(publisher_and_udp):
    pub, rx, cfg, store = publisher_and_udp
    x = performance(5.0, seed=7)
    add_click(x, int(1.5 * SR))
    add_click(x, int(3.5 * SR))
    m = Monitor(channels="1,2", cfg=cfg, publisher=pub, name="Scarlett 2i2")
    got = []
    for i in range(0, x.shape[1], 3000):  # odd-sized pieces: the monitor cuts them into blocks
        got += m.feed(x[:, i:i + 3000])
    got += m.finish()
    assert [a.finding.check for a in got] == ["click", "click"]
    ids = [a.record.id for a in got]
    assert ids == sorted(ids) and len(set(ids)) == 2
    dg = _datagrams(rx, 2)
    assert [d[0] for d in dg] == ["/loopwatch/alert"] * 2
    assert [d[1][0] for d in dg] == ids
    assert all(d[1][1] == "input:Scarlett 2i2" and d[1][3] == "click" for d in dg)
    assert [round(d[1][4], 3) for d in dg] == [1.5, 3.5]
    from loopwatch.config import journal_path

    recs = [json.loads(ln) for ln in journal_path().read_text().splitlines()]
    assert [(r["id"], r["source"], r["path"]) for r in recs] == [(i, "listen", "input:Scarlett 2i2") for i in ids]
    assert [a.id for a in store.alerts(0)] == ids
    assert m.stats().n_alerts == 2 and m.stats().last_alert.startswith("click at input 3.500 s")


def test_monitor_feed_counts_xruns_and_selects_channels(publisher_and_udp):
    pub, rx, cfg, _ = publisher_and_udp
    x = performance(3.0, seed=8)
    four = np.concatenate([x, np.zeros_like(x)], axis=0)  # a 4-channel interface; only inputs 3,4 are silent
    add_click(four[:2], int(1.0 * SR))
    m = Monitor(channels="2", cfg=cfg, publisher=pub, name="quad")
    got = m.feed(four, overflow=[40, 41, 200])
    got += m.finish()
    assert m.xruns == 3
    checks = [a.finding.check for a in got]
    assert checks.count("xrun") == 2  # blocks 40/41 are one episode, block 200 (2.1 s) another
    assert checks.count("click") == 1
    assert m.analyzer.channels == 1
    xr = [a.finding for a in got if a.finding.check == "xrun"]
    assert xr[0].t0 == pytest.approx(40 * 512 / SR) and "input overflow" in xr[0].message


def test_record_on_alert_keeps_the_seconds_around_each_alert(publisher_and_udp, tmp_path):
    pub, rx, cfg, _ = publisher_and_udp
    x = performance(6.5, seed=9)
    add_click(x, int(2.0 * SR))
    add_clipping(x, int(4.625 * SR))
    m = Monitor(channels=2, cfg=cfg, publisher=pub, name="rec", record_on_alert=2.0, record_dir=tmp_path / "rec")
    m.feed(x)
    m.finish()
    files = sorted(m.recordings)
    assert len(files) == 2
    for p, kind in zip(files, ["click", "clipping"]):
        assert kind in p.name and p.suffix == ".wav"
        y, sr = sf.read(str(p), dtype="float32", always_2d=True)
        assert sr == SR and y.shape[1] == 2
        assert 2.0 <= y.shape[0] / SR <= 2.2
        # the clip is the input itself, bit for bit, around the alert
        start = int(round(m.alerts[files.index(p)].finding.t0 * SR)) - SR
        np.testing.assert_array_equal(y.T, x[:, start:start + y.shape[0]])


def test_a_missing_device_is_a_one_line_error_naming_it():
    pytest.importorskip("sounddevice", exc_type=OSError)
    with pytest.raises(DeviceError) as ei:
        resolve_input("no-such-interface-xyz")
    msg = str(ei.value)
    assert "no-such-interface-xyz" in msg and "\n" not in msg
    assert "input devices" in msg  # lists what exists (or says there is none)


def test_install_hints_per_platform():
    assert "libportaudio2" in install_hint("linux")
    assert "sounddevice" in install_hint("darwin") and "wheel" in install_hint("darwin")
    assert "sounddevice" in install_hint("win32") and "wheel" in install_hint("win32")


def test_devices_explains_a_missing_portaudio(lw_home):
    """``sounddevice`` raises OSError at import when it cannot find PortAudio; the CLI says how to install it."""
    code = ("import ctypes.util, sys; ctypes.util.find_library = lambda name: None; "
            "sys.argv = ['loopwatch', 'devices']; from loopwatch.cli import main; main()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "PortAudio library is not installed" in r.stderr
    assert "libportaudio2" in r.stderr  # this is Linux
    assert "Traceback" not in r.stderr
    with pytest.raises(PortAudioMissing):  # and the library raises the typed error
        raise PortAudioMissing(install_hint())


def test_an_episode_that_gets_worse_is_reported_again():
    x = performance(4.6, seed=13)
    add_click(x, int(1.0 * SR), amp=0.004)  # about -48 dBFS: a warning
    add_click(x, int(1.5 * SR), amp=0.4)  # -8 dBFS, 0.5 s later: an error, reported although in the episode
    add_click(x, int(2.0 * SR), amp=0.4)  # as bad again, 0.5 s later: same episode, no new alert
    add_click(x, int(4.0 * SR), amp=0.4)  # 2 s later: a new episode
    out, an = run(x, only=["click"])
    assert [(f.severity, round(f.t0, 2)) for f in out] == [("warn", 1.0), ("error", 1.5), ("error", 4.0)]
    assert an.counts["click"] == 4


def test_times_stay_in_running_input_time_across_a_gap():
    x = performance(4.0, seed=14)
    add_clipping(x, int(1.125 * SR))
    y = performance(4.0, seed=15)
    add_clipping(y, int(2.125 * SR))
    add_click(y, int(3.0 * SR))
    an = LiveAnalyzer(2, SR)
    out = []
    for i in range(0, x.shape[1], 512):
        out += an.process(x[:, i:i + 512])
    out += an.gap(SR)  # one second of input lost (the ring overflowed): every stream restarts after it
    for i in range(0, y.shape[1], 512):
        out += an.process(y[:, i:i + 512])
    out += an.flush()
    got = [(f.check, f.t0) for f in alerts(out)]
    assert [c for c, _ in got] == ["clipping", "clipping", "click"]
    assert abs(got[0][1] - 1.125) < 0.1 and abs(got[1][1] - (5.0 + 2.125)) < 0.1
    assert got[2][1] == pytest.approx(8.0, abs=0.001)
    assert an.pos == x.shape[1] + SR + y.shape[1]
