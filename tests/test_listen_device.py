"""``loopwatch listen`` on a real real-time device: a PulseAudio null sink, played into with ``paplay``.

The session fixture starts a private PulseAudio server (``pulseaudio
--daemonize=no`` as our child, own runtime/home folders, ``module-null-sink``
``vsink`` at 48 kHz, its monitor the default source) and stops only that
process. ``loopwatch listen --device pulse`` records the monitor in real time.

Robust on a loaded 2-core machine: defects are spaced well apart, waits are
generous and end as soon as the expected datagrams are in, and nothing asserts
wall-clock durations.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from listen_audio import SR, add_click, add_clipping, performance, write_wav

from loopwatch.monitor.pulserig import PulseRig, RigUnavailable

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the PulseAudio rig is for Linux CI")


@pytest.fixture(scope="session")
def rig():
    try:
        sd = __import__("sounddevice")
    except OSError as exc:
        pytest.skip(f"PortAudio is not installed: {exc}")
    r = PulseRig()
    try:
        r.start()
    except RigUnavailable as exc:
        pytest.skip(f"PulseAudio cannot start here: {exc}")
    try:
        from loopwatch.monitor import rescan

        r.activate()  # PortAudio lists ALSA's 'pulse' device only while a server answers
        rescan()
        r.deactivate()
        if not any(d["name"] == "pulse" and d["max_input_channels"] > 0 for d in sd.query_devices()):
            pytest.skip("PortAudio has no 'pulse' device (the ALSA pulse plugin, libasound2-plugins, is missing)")
        yield r
    finally:
        r.stop()


def _cli(rig: PulseRig, home: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    env = dict(rig.env, LOOPWATCH_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "loopwatch", *args], env=env, capture_output=True, text=True,
                          timeout=120, **kw)


class Listener:
    """A ``loopwatch listen --json`` process and the UDP socket its alerts are pushed to."""

    def __init__(self, rig: PulseRig, home: Path) -> None:
        self.rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rx.bind(("127.0.0.1", 0))
        (home / "config").mkdir(parents=True, exist_ok=True)
        (home / "config" / "loopwatch.toml").write_text(
            f'[osc]\npush_targets = ["127.0.0.1:{self.rx.getsockname()[1]}"]\n')
        self.home = home
        env = dict(rig.env, LOOPWATCH_HOME=str(home))
        self.proc = subprocess.Popen([sys.executable, "-m", "loopwatch", "listen", "--device", "pulse", "--json"],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr: list[str] = []
        line = self.proc.stderr.readline()
        self.stderr.append(line)
        if "listening on 'pulse'" not in line:
            self.proc.kill()
            raise AssertionError(f"listen did not start: {line}{self.proc.stderr.read()}")
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def drain(self) -> None:
        self.rx.settimeout(0.05)
        try:
            while True:
                self.rx.recv(65536)
        except (socket.timeout, BlockingIOError):
            pass

    def collect(self, n: int, timeout: float, quiet: float = 1.5) -> list[list]:
        """Alert datagrams (but xruns) until ``n`` have come and nothing more for ``quiet`` s, or ``timeout``.

        An xrun is a real event on a loaded machine, not a verdict on the audio, so it is left out.
        """
        from pythonosc.osc_message import OscMessage

        out: list[list] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.rx.settimeout(quiet if len(out) >= n else max(0.05, deadline - time.monotonic()))
            try:
                m = OscMessage(self.rx.recv(65536))
            except socket.timeout:
                if len(out) >= n:
                    break
                continue
            if m.address == "/loopwatch/alert" and m.params[3] != "xrun":
                out.append(list(m.params))
        return out

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.rx.close()
        return self.proc.returncode, "".join(self.stderr)


@pytest.fixture(scope="module")
def listener(rig, tmp_path_factory):
    lst = Listener(rig, tmp_path_factory.mktemp("listen-home"))
    yield lst
    lst.stop()


def test_devices_lists_the_pulse_device(rig):
    from typer.testing import CliRunner

    from loopwatch.cli import app

    r = CliRunner().invoke(app, ["devices", "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    pulse = [d for d in info["devices"] if d["name"] == "pulse"]
    assert pulse and pulse[0]["inputs"] > 0 and pulse[0]["default_rate"] > 0
    r = CliRunner().invoke(app, ["devices"])
    assert r.exit_code == 0 and "pulse" in r.stdout and "default rate" in r.stdout


def test_listen_reports_played_clicks_and_clipping_in_order(rig, listener, tmp_path):
    x = performance(6.0, seed=11)
    # clipping swells centred between note onsets (0.25 s grid), so no onset is amplified 12-fold
    plan = [(1.0, "click"), (1.875, "clipping"), (2.8, "click"), (3.625, "clipping"), (4.6, "click")]
    for t, kind in plan:
        (add_click if kind == "click" else add_clipping)(x, int(t * SR))
    wav = write_wav(tmp_path / "defects.wav", x)
    listener.drain()
    rig.play(wav)
    got = listener.collect(len(plan), timeout=60)
    checks = [a[3] for a in got]
    assert checks == [k for _, k in plan], [a[7] for a in got]
    ids = [a[0] for a in got]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(a[1] == "input:pulse" and a[2] == "error" for a in got)
    # the spacing in running input time is the spacing in the file (the device is sample-exact)
    t0 = np.array([a[4] for a in got])
    clicks = t0[0::2]
    np.testing.assert_allclose(np.diff(clicks), np.diff([t for t, k in plan if k == "click"]), atol=0.003)
    file_time = t0 - clicks[0] + plan[0][0]  # running input time -> time in the played file
    clip_plan = np.array([t for t, k in plan if k == "clipping"])
    assert np.all(np.abs(file_time[1::2] - clip_plan) < 0.1)  # the plateaus start a little before the swell's peak
    # ... and they are in the journal, with the same ids, from the live monitor
    journal = listener.home / "data" / "journal.jsonl"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        recs = [json.loads(ln) for ln in journal.read_text().splitlines()] if journal.exists() else []
        if {r["id"] for r in recs} >= set(ids):
            break
        time.sleep(0.1)
    assert {r["id"]: r["source"] for r in recs if r["id"] in ids} == {i: "listen" for i in ids}


def test_a_clean_loop_gives_no_alert(rig, listener, tmp_path):
    wav = write_wav(tmp_path / "clean.wav", performance(3.0, seed=12))
    listener.drain()
    rig.play(wav)
    got = listener.collect(0, timeout=2.0, quiet=2.0)  # the look-ahead is 75 ms; 2 s is plenty
    assert [a[7] for a in got] == []


def test_a_missing_device_gives_a_clear_error(rig, tmp_path):
    r = _cli(rig, tmp_path, "listen", "--device", "Focusrite USB 9000")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "no input device 'Focusrite USB 9000'" in lines[0] and "'pulse'" in lines[0]


def test_a_missing_channel_is_refused_before_opening(rig, lw_home):
    from loopwatch.monitor import DeviceError, Monitor

    m = Monitor(device="pulse", channels="1,40")
    with pytest.raises(DeviceError, match="channel 40 does not exist"):
        m.start()
    assert m.stream is None


def test_the_stream_is_closed_on_stop_and_on_errors(rig, lw_home):
    from loopwatch.monitor import Monitor

    rig.activate()
    try:
        before = len(rig.recording_streams())
        m = Monitor(device="pulse")
        m.start()
        assert m.running and len(rig.recording_streams()) == before + 1
        m.stop()
        assert m.stream is None and m.closed_stream.closed and not m.running
        assert len(rig.recording_streams()) == before
        m.stop()  # twice is harmless

        with pytest.raises(RuntimeError, match="boom"):
            with Monitor(device="pulse") as m2:
                assert len(rig.recording_streams()) == before + 1
                raise RuntimeError("boom")
        assert m2.closed_stream.closed and len(rig.recording_streams()) == before
    finally:
        rig.deactivate()


def test_ctrl_c_exits_cleanly_and_releases_the_device(rig, tmp_path):
    before = len(rig.recording_streams())
    lst = Listener(rig, tmp_path / "home")
    deadline = time.monotonic() + 20
    while len(rig.recording_streams()) != before + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(rig.recording_streams()) == before + 1
    rc, err = lst.stop()  # SIGINT, as Ctrl-C sends
    assert rc == 0, err
    assert "input stream closed" in err and "Traceback" not in err
    assert len(rig.recording_streams()) == before


def test_a_rig_stops_only_the_server_it_started(rig):
    other = PulseRig(sink="vsink2").start()
    pid = other.proc.pid
    assert other.pactl("get-default-source").strip() == "vsink2.monitor"
    other.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone (and reaped)
    assert rig.proc.poll() is None and "vsink" in rig.pactl("list", "short", "sinks")  # the session's server lives on
