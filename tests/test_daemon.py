"""The daemon with real parts: a watchdog observer on temp folders, SQLite, and UDP sockets on 127.0.0.1."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import synth_loop
from pythonosc.osc_message import OscMessage

from loopwatch import protocol
from loopwatch.config import load_config
from loopwatch.daemon import Daemon
from loopwatch.store import Store


class Listener:
    """A UDP socket on 127.0.0.1 collecting OSC messages, as a client would."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.msgs: list[tuple[str, list]] = []

    def drain(self, timeout: float = 0.2) -> list[tuple[str, list]]:
        end = time.monotonic() + timeout
        while True:
            self.sock.settimeout(max(0.001, end - time.monotonic()))
            try:
                data, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                break
            m = OscMessage(data)
            self.msgs.append((m.address, list(m.params)))
            assert len(data) < 1024
        return self.msgs

    def wait_for(self, address: str, pred=lambda a: True, timeout: float = 15.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.drain(0.05)
            for addr, args in self.msgs:
                if addr == address and pred(args):
                    return args
        raise AssertionError(f"no {address} within {timeout} s; got {[m[0] for m in self.msgs]}")

    def send(self, dgram: bytes, port: int):
        self.sock.sendto(dgram, ("127.0.0.1", port))

    def close(self):
        self.sock.close()


def clipped_loop(seed=0):
    x = synth_loop(2.0, seed=seed) * 6.0
    return np.clip(x, -1.0, 1.0)


def write_wav(path: Path, x: np.ndarray, subtype="PCM_16"):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.T, 48000, subtype=subtype)
    return path


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.close()


@pytest.fixture
def make_daemon(tmp_path, listener):
    made = []

    def make(folders=None, **overrides):
        cfg = load_config(overrides={"osc.port": 0, "osc.push_targets": [f"127.0.0.1:{listener.port}"],
                                     "watch.settle_s": 0.3, **overrides})
        d = Daemon(cfg, folders if folders is not None else [tmp_path / "watched"])
        d.start()
        made.append(d)
        return d

    (tmp_path / "watched").mkdir()
    yield make
    for d in made:
        d.stop()


def results_for(path: Path) -> list:
    s = Store()
    try:
        return s._query("SELECT id, verdict, n_alerts FROM results WHERE path = ?", (str(path),))
    finally:
        s.close()


def test_slow_writer_gives_exactly_one_result_after_it_finishes(make_daemon, tmp_path, listener):
    d = make_daemon()
    target = tmp_path / "watched" / "Samples" / "Recorded" / "take 1.wav"
    target.parent.mkdir(parents=True)
    x = (np.clip(synth_loop(2.0, seed=1), -1, 1) * 32767).astype("<i2").T.copy()
    data = x.tobytes()
    # Write like a DAW: a header with placeholder sizes, audio in chunks over ~2 s, then the real header.
    header = bytearray(b"RIFF" + struct.pack("<I", 0) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 2, 48000,
                       48000 * 4, 4, 16) + b"data" + struct.pack("<I", 0))
    with open(target, "wb") as fh:
        fh.write(header)
        fh.flush()
        chunks = np.array_split(np.frombuffer(data, np.uint8), 10)
        for c in chunks:
            fh.write(c.tobytes())
            fh.flush()
            os.fsync(fh.fileno())
            time.sleep(0.2)
        fh.seek(4)
        fh.write(struct.pack("<I", 36 + len(data)))
        fh.seek(40)
        fh.write(struct.pack("<I", len(data)))
    finish = time.time()
    args = listener.wait_for(protocol.FILE, lambda a: a[0] == str(target))
    assert args[1] in ("ok", "warn", "error") and args[1] != "failed"
    assert d.wait_idle(10)
    time.sleep(1.0)  # any late second scoring would show up now
    d.wait_idle(5)
    rows = results_for(target)
    assert len(rows) == 1, rows
    s = Store()
    created = s._query("SELECT created FROM results WHERE path = ?", (str(target),))[0][0]
    s.close()
    assert created >= finish - 0.05


def test_sidecars_and_temp_files_are_ignored(make_daemon, tmp_path, listener):
    d = make_daemon()
    w = tmp_path / "watched"
    for name in ("loop.wav.asd", "loop.wav.reapeaks", "loop.reapindex", ".hidden.wav", "take.wav.tmp",
                 "notes.txt", "Backup.als"):
        (w / name).write_bytes(b"RIFF....not audio at all")
    real = write_wav(w / "loop.wav", synth_loop(1.0))
    listener.wait_for(protocol.FILE, lambda a: a[0] == str(real))
    assert d.wait_idle(10)
    s = Store()
    paths = [r[0] for r in s._query("SELECT path FROM queue")]
    s.close()
    assert paths == [str(real)]


def test_rename_is_not_rescored(make_daemon, tmp_path, listener):
    d = make_daemon()
    src = write_wav(tmp_path / "watched" / "Freeze" / "Bass Freeze.wav", clipped_loop())
    listener.wait_for(protocol.FILE, lambda a: a[0] == str(src))
    assert d.wait_idle(10)
    first = results_for(src)
    dest = tmp_path / "watched" / "Processed" / "Freeze" / "Bass Freeze.wav"
    dest.parent.mkdir(parents=True)
    os.rename(src, dest)
    args = listener.wait_for(protocol.FILE, lambda a: a[0] == str(dest))
    assert d.wait_idle(10)
    s = Store()
    n_results = s._query("SELECT COUNT(*) FROM results")[0][0]
    moved_alerts = s._query("SELECT COUNT(*) FROM alerts WHERE path = ?", (str(dest),))[0][0]
    old_alerts = s._query("SELECT COUNT(*) FROM alerts WHERE path = ?", (str(src),))[0][0]
    s.close()
    assert n_results == len(first) == 1  # not re-scored
    assert old_alerts == 0 and moved_alerts == first[0][2]
    assert args[3] == first[0][2]
    # clients were told to forget the old path
    assert (protocol.CLEAR, [str(src)]) in listener.msgs


def test_changed_content_is_rescored(make_daemon, tmp_path, listener):
    d = make_daemon()
    p = write_wav(tmp_path / "watched" / "loop.wav", synth_loop(1.0, seed=2))
    listener.wait_for(protocol.FILE, lambda a: a[0] == str(p))
    assert d.wait_idle(10)
    write_wav(p, clipped_loop(seed=3))
    end = time.monotonic() + 15
    while len(results_for(p)) < 2 and time.monotonic() < end:
        time.sleep(0.05)
    assert len(results_for(p)) == 2


def test_catch_up_on_start(tmp_path, listener, make_daemon):
    w = tmp_path / "watched"
    a = write_wav(w / "a.wav", synth_loop(1.0, seed=4))
    b = write_wav(w / "sub" / "b.flac", synth_loop(1.0, seed=5))
    d = make_daemon()
    assert d.wait_idle(15)
    assert len(results_for(a)) == 1 and len(results_for(b)) == 1


def test_fuzzed_osc_leaves_the_daemon_serving(make_daemon, listener):
    d = make_daemon(folders=[])
    port = d.osc_address[1]
    rng = random.Random(7)
    good = protocol.encode_request(protocol.STATUS)
    junk = [
        b"",
        b"\x00" * 10,
        b"#bundle\x00" + b"\x00" * 16,
        protocol.encode_request(protocol.SCORE, "r1", "/x.wav")[:11],  # truncated
        protocol.encode_request(protocol.SUBSCRIBE, 5, "m4l", "nine"),  # wrong types
        protocol.encode_request(protocol.SUBSCRIBE, "c", "toaster", 9000),  # bad kind
        protocol.encode_request(protocol.SUBSCRIBE, "c", "m4l", 70000),  # bad port
        protocol.encode_request(protocol.SCORE, "r2", "x" * 60000),  # huge string
        protocol.encode_request("/loopwatch/format_disk", "now"),  # unknown address
        protocol.encode_request(protocol.SYNC, "c", -5),
        b"/loopwatch/status\x00\x00\x00,zzzz\x00\x00\x00",
    ]
    junk += [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))) for _ in range(300)]
    junk += [good[: rng.randint(0, len(good))] + bytes(rng.getrandbits(8) for _ in range(8)) for _ in range(100)]
    for i, j in enumerate(junk):
        listener.send(j, port)
        if i % 20 == 0:
            time.sleep(0.005)  # stay under the socket buffer: every packet must be handled, not dropped
    listener.msgs.clear()
    listener.send(good, port)
    args = listener.wait_for(protocol.STATUS)
    assert args[0] in ("idle", "busy")
    assert d.endpoint.rejected >= 350 and d.endpoint.received >= len(junk) - 5


def test_a_take_whose_writer_stopped_is_scored_with_a_warning(make_daemon, tmp_path, listener):
    """A DAW that crashes mid-take leaves placeholder sizes in the header. Once the file has sat unchanged for the
    incomplete timeout it is handed over, and the audio it holds is checked: its clipping gives an error alert and
    a decode warning says the file is unfinished (not a 'failed' verdict with nothing checked)."""
    d = make_daemon()
    d.watcher.incomplete_timeout_s = 1.0
    target = tmp_path / "watched" / "crashed take.wav"
    x = (clipped_loop(seed=4) * 32767).astype("<i2").T.copy()
    data = x.tobytes()
    header = (b"RIFF" + struct.pack("<I", 0) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 2, 48000, 48000 * 4, 4, 16)
              + b"data" + struct.pack("<I", 0))
    target.write_bytes(header + data)
    args = listener.wait_for(protocol.FILE, lambda a: a[0] == str(target), timeout=20)
    assert args[1] == "error"
    assert d.wait_idle(10)
    alerts = [a for a in d.store.alerts(0) if a.path == str(target)]
    decode = [a for a in alerts if a.check == "decode"]
    assert len(decode) == 1 and decode[0].severity == "warn" and "placeholder" in decode[0].message
    assert any(a.check == "clipping" and a.severity == "error" for a in alerts)


def test_a_file_that_breaks_the_analysis_cannot_stall_the_queue(make_daemon, tmp_path, listener):
    """An unexpected error (a decoder bug, an encoder crash) on one file: the other files of its batch are still
    scored, and the file itself is retried a few times, then given up with a decode alert naming the error
    instead of being re-queued forever."""
    d = make_daemon()
    real = d.analyzer.analyze

    def analyze(jobs, **kw):
        if any("poison" in j.path for j in jobs):
            raise RuntimeError("decoder exploded")
        return real(jobs, **kw)

    d.analyzer.analyze = analyze
    good = write_wav(tmp_path / "watched" / "good.wav", clipped_loop(seed=6))
    bad = write_wav(tmp_path / "watched" / "poison.wav", clipped_loop(seed=7))
    args = listener.wait_for(protocol.FILE, lambda a: a[0] == str(good))
    assert args[1] == "error"  # clipped: scored normally
    args = listener.wait_for(protocol.FILE, lambda a: a[0] == str(bad), timeout=30)
    assert args[1] == "failed"
    assert d.wait_idle(10)
    (alert,) = [a for a in d.store.alerts(0) if a.path == str(bad)]
    assert alert.check == "decode" and "analysis failed 3 times (RuntimeError: decoder exploded)" in alert.message
    assert d.store.pending_count() == 0


def test_subscribe_and_sync_replay_missed_alerts_in_order(make_daemon, tmp_path, listener):
    d = make_daemon()
    port = d.osc_address[1]
    paths = []
    for i in range(3):
        p = tmp_path / "watched" / f"broken{i}.wav"
        p.write_bytes(b"RIFF" + struct.pack("<I", 20) + b"WAVEjunkjunkjunkjunk")  # decodes to an error
        paths.append(p)
    for p in paths:
        listener.wait_for(protocol.FILE, lambda a, p=p: a[0] == str(p))
    assert d.wait_idle(10)
    # a client that was offline subscribes and asks for everything after alert 1
    client = Listener()
    try:
        client.send(protocol.encode_request(protocol.SUBSCRIBE, "m4l-test", "m4l", client.port), port)
        client.wait_for(protocol.STATUS)
        client.msgs.clear()
        client.send(protocol.encode_request(protocol.SYNC, "m4l-test", 1), port)
        client.wait_for(protocol.STATUS)
        ids = [a[0] for addr, a in client.msgs if addr == protocol.ALERT]
        assert ids == sorted(ids) and ids[0] == 2 and len(ids) == 2
        files = [a[0] for addr, a in client.msgs if addr == protocol.FILE]
        assert len(files) == 2
        # acknowledged alerts are not replayed
        client.send(protocol.encode_request(protocol.ACK, 2), port)
        time.sleep(0.2)
        client.msgs.clear()
        client.send(protocol.encode_request(protocol.SYNC, "m4l-test", 0), port)
        client.wait_for(protocol.STATUS)
        ids = [a[0] for addr, a in client.msgs if addr == protocol.ALERT]
        assert ids == [1, 3]
        # a subscriber receives new pushes too
        client.msgs.clear()
        p = tmp_path / "watched" / "broken-late.wav"
        p.write_bytes(b"not audio at all, just text")
        client.wait_for(protocol.ALERT, lambda a: a[1] == str(p))
    finally:
        client.close()


def test_score_request_outside_allowed_roots_is_refused(make_daemon, tmp_path, listener):
    d = make_daemon()
    outside = write_wav(tmp_path / "elsewhere" / "secret.wav", synth_loop(1.0))
    listener.send(protocol.encode_request(protocol.SCORE, "req-1", str(outside)), d.osc_address[1])
    err = listener.wait_for(protocol.ERROR)
    assert err[0] == "req-1" and "outside the allowed roots" in err[1]
    listener.wait_for(protocol.DONE, lambda a: a == ["req-1"])
    assert results_for(outside) == []
    # ../ tricks resolve before the check
    sneaky = str(tmp_path / "watched" / ".." / "elsewhere" / "secret.wav")
    listener.send(protocol.encode_request(protocol.SCORE, "req-2", sneaky), d.osc_address[1])
    assert "outside" in listener.wait_for(protocol.ERROR, lambda a: a[0] == "req-2")[1]


def test_score_request_for_a_section_answers_the_sender(make_daemon, tmp_path, listener):
    d = make_daemon()
    x = synth_loop(3.0, seed=6)
    x[:, 96000:] = np.clip(x[:, 96000:] * 8, -1, 1)  # clipped from 2 s on
    p = write_wav(tmp_path / "watched" / "long take.wav", x)
    listener.wait_for(protocol.FILE, lambda a: a[0] == str(p))  # the watcher's own scoring first
    d.wait_idle(10)
    listener.msgs.clear()
    listener.send(protocol.encode_request(protocol.SCORE, "sec-1", str(p), 1.5, 1.0), d.osc_address[1])
    listener.wait_for(protocol.DONE, lambda a: a == ["sec-1"])
    alerts = [a for addr, a in listener.msgs if addr == protocol.ALERT and a[1] == str(p)]
    clip = [a for a in alerts if a[3] == "clipping"]
    assert clip, alerts
    assert all(1.5 <= a[4] <= 2.5 for a in clip)  # file time, inside the section
    assert all(f"{a[4]:.3f}" in a[7] for a in clip)  # the message quotes file time too
    assert not [a for a in alerts if a[3] in ("seam", "length")]  # a section is not a loop


def test_bad_score_requests_get_an_error_naming_them_and_a_done(make_daemon, tmp_path, listener):
    """A score request with impossible values, or a section the file does not have, is answered with
    /loopwatch/error <request id> and /loopwatch/done <request id> (clients wait for done), every time; the file
    keeps its own verdict and gets no decode alert."""
    d = make_daemon()
    p = write_wav(tmp_path / "watched" / "take.wav", synth_loop(1.0))
    listener.wait_for(protocol.FILE, lambda a: a[0] == str(p))
    d.wait_idle(10)
    listener.msgs.clear()
    bad = [("z1", 1.0, 0.0), ("z2", -1.0, 1.0), ("z3", float("nan"), 1.0), ("z4", 0.0, float("inf"))]
    for rid, start, length in bad:  # back to back: none is lost to the rate limit on junk
        listener.send(protocol.encode_request(protocol.SCORE, rid, str(p), start, length), d.osc_address[1])
    listener.send(protocol.encode_request(protocol.SCORE, "z5", str(p), 100.0, 2.0), d.osc_address[1])
    for rid in ("z1", "z2", "z3", "z4", "z5"):
        listener.wait_for(protocol.DONE, lambda a, rid=rid: a == [rid])
        err = listener.wait_for(protocol.ERROR, lambda a, rid=rid: a[0] == rid)
        assert ("start_s must be >= 0" in err[1]) if rid != "z5" else ("after the end of the file (1.000 s)" in err[1])
    d.wait_idle(10)
    assert not [a for addr, a in listener.msgs if addr in (protocol.ALERT, protocol.FILE)]
    assert [r for r in results_for(p) if r] and not [a for a in d.store.alerts(0) if a.check == "decode"]


def test_inbox_request_lands_in_the_journal(make_daemon, tmp_path):
    from loopwatch import config

    d = make_daemon()
    p = write_wav(tmp_path / "watched" / "inbox take.wav", clipped_loop(seed=8))
    d.wait_idle(10)
    inbox = config.inbox_dir()
    tmp = inbox / "req-9.json.tmp"
    tmp.write_text(json.dumps({"v": 1, "client_id": "reaper", "requests": [
        {"request_id": "reaper-9", "path": str(p)}]}))
    os.replace(tmp, inbox / "req-9.json")
    (inbox / "bad.json").write_text("{not json")
    end = time.monotonic() + 30
    recs = []
    while time.monotonic() < end:
        # The journal is created by the first record: under load the watcher may not even have
        # seen the take yet when wait_idle returns, so a missing journal means "nothing yet".
        jp = config.journal_path()
        recs = [json.loads(line) for line in jp.read_text().splitlines()] if jp.exists() else []
        if any(r["type"] == "done" and r["request_id"] == "reaper-9" for r in recs) and \
                (inbox / "rejected" / "bad.json").exists():  # two files: the inbox loop may take them in either order
            break
        time.sleep(0.05)
    mine = [r for r in recs if r.get("request_id") == "reaper-9"]
    assert [r["type"] for r in mine][-1] == "done" and mine[-1]["ok"]
    assert any(r["type"] == "file" and r["path"] == str(p) for r in mine)
    assert any(r["type"] == "alert" and r["check"] == "clipping" for r in mine)
    assert not (inbox / "req-9.json").exists()
    assert (inbox / "rejected" / "bad.json").exists()


DAEMON_SCRIPT = """
import sys
from loopwatch.config import load_config
from loopwatch.daemon import Daemon, run
cfg = load_config(overrides={"osc.port": 0, "osc.push_targets": [], "watch.settle_s": 0.2, "watch.batch_size": 2})
run(Daemon(cfg, [sys.argv[1]]))
"""


def _spawn(folder: Path, script: str = DAEMON_SCRIPT):
    return subprocess.Popen([sys.executable, "-c", script, str(folder)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=dict(os.environ))


def test_kill_9_then_restart_processes_everything_once(tmp_path):
    w = tmp_path / "watched"
    w.mkdir()
    proc = _spawn(w)
    try:
        names = []
        for i in range(24):
            x = clipped_loop(seed=i) if i % 2 else synth_loop(4.0, seed=i)
            names.append(write_wav(w / f"loop{i:02d}.wav", x))
        # wait until some, not all, are done, then kill -9
        end = time.monotonic() + 60
        while time.monotonic() < end:
            s = Store()
            done = s.processed_count()
            s.close()
            if done >= 3:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        s = Store()
        done_at_kill = s.processed_count()
        s.close()
        assert done_at_kill < 24, "the daemon finished before it could be killed; the test proves nothing"
        proc = _spawn(w)
        end = time.monotonic() + 120
        while time.monotonic() < end:
            s = Store()
            n = s._query("SELECT COUNT(DISTINCT path) FROM results")[0][0]
            pending = s.pending_count()
            s.close()
            if n == 24 and pending == 0:
                break
            time.sleep(0.1)
        time.sleep(1.0)
        s = Store()
        per_file = s._query("SELECT path, COUNT(*) FROM results GROUP BY path")
        journaled = s._query("SELECT COUNT(*) FROM alerts WHERE journaled = 0")[0][0]
        alert_ids = [r[0] for r in s._query("SELECT id FROM alerts ORDER BY id")]
        s.close()
        assert sorted(p for p, _ in per_file) == sorted(str(n) for n in names)
        assert all(c == 1 for _, c in per_file), per_file
        assert journaled == 0
        from loopwatch import config

        jids = [r["id"] for r in map(json.loads, config.journal_path().read_text().splitlines()) if r["type"] == "alert"]
        assert sorted(jids) == alert_ids and len(set(jids)) == len(jids)  # no alert lost or doubled
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


CRASHING_DAEMON_SCRIPT = """
import os, sys
from loopwatch.config import load_config
from loopwatch.daemon import Daemon, run
cfg = load_config(overrides={"osc.port": 0, "osc.push_targets": [], "watch.settle_s": 0.2, "watch.batch_size": 8})
d = Daemon(cfg, [sys.argv[1]])
real = d.analyzer.analyze
def analyze(jobs, **kw):
    if any("poison" in j.path for j in jobs):
        os._exit(70)  # what a crash in a native decoder or the out-of-memory killer looks like from outside
    return real(jobs, **kw)
d.analyzer.analyze = analyze
run(d)
"""


def test_a_file_that_crashes_the_process_is_given_up_after_three_restarts(tmp_path):
    """A file whose analysis kills the whole process (no exception to catch): every restart would claim it
    again and die. The attempts are counted in the database, so the files queued with it are scored on the
    next start, and the file itself is given up with a decode alert after three attempts."""
    w = tmp_path / "watched"
    w.mkdir()
    good = [write_wav(w / f"good{i}.wav", synth_loop(2.0, seed=i)) for i in range(3)]
    bad = write_wav(w / "poison.wav", synth_loop(2.0, seed=9))
    crashes = 0
    for _ in range(6):
        proc = _spawn(w, CRASHING_DAEMON_SCRIPT)
        try:
            end = time.monotonic() + 60
            while time.monotonic() < end and proc.poll() is None:
                s = Store()
                settled = s.processed_count() == 4 and s.pending_count() == 0
                s.close()
                if settled:
                    break
                time.sleep(0.1)
            if proc.poll() is None:
                break
            assert proc.returncode == 70, proc.stderr.read().decode(errors="replace")[-2000:]
            crashes += 1
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    assert crashes == Daemon.MAX_FAILURES
    # given up for good: the next start's catch-up scan does not queue the same version again
    s = Store()
    rows = s._query("SELECT COUNT(*) FROM queue")[0][0]
    s.close()
    proc = _spawn(w, CRASHING_DAEMON_SCRIPT)
    try:
        time.sleep(3.0)
        assert proc.poll() is None, "the daemon crashed again on the file it had given up"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    s = Store()
    try:
        assert s._query("SELECT COUNT(*) FROM queue")[0][0] == rows
        verdicts = dict(s._query("SELECT path, verdict FROM results"))
        (alert,) = [a for a in s.alerts(0) if a.path == str(bad)]
    finally:
        s.close()
    assert set(verdicts) == {str(p) for p in good + [bad]}
    assert all(verdicts[str(p)] != "failed" for p in good)
    assert verdicts[str(bad)] == "failed"
    assert alert.check == "decode" and alert.severity == "error"
    assert "did not finish in 3 attempts" in alert.message


def test_sigterm_stops_gracefully(tmp_path):
    w = tmp_path / "watched"
    w.mkdir()
    proc = _spawn(w)
    try:
        for i in range(4):
            write_wav(w / f"t{i}.wav", synth_loop(1.0, seed=i))
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        s = Store()
        assert s._query("SELECT COUNT(*) FROM queue WHERE state = 'working'")[0][0] == 0
        s.close()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_refuses_to_bind_a_port_in_use(make_daemon, tmp_path):
    d = make_daemon(folders=[])
    cfg = load_config(overrides={"osc.port": d.osc_address[1]})
    with pytest.raises(OSError, match="cannot listen on"):
        Daemon(cfg, []).start()


def test_moved_folder_is_not_rescored(make_daemon, tmp_path, listener):
    """Live moves freeze files when a Set is saved: from the temporary folder into the project."""
    w = tmp_path / "watched"
    d = make_daemon()
    src = write_wav(w / "Live Recordings" / "tmp" / "Samples" / "Processed" / "Freeze" / "Freeze Bass.wav",
                    synth_loop(1.0, seed=11))
    listener.wait_for(protocol.FILE, lambda a: a[0] == str(src))
    assert d.wait_idle(10)
    dest_dir = w / "My Set Project" / "Samples" / "Processed"
    dest_dir.mkdir(parents=True)
    shutil.move(str(src.parent), str(dest_dir / "Freeze"))
    dest = dest_dir / "Freeze" / "Freeze Bass.wav"
    listener.wait_for(protocol.FILE, lambda a: a[0] == str(dest))
    assert d.wait_idle(10)
    s = Store()
    assert s._query("SELECT COUNT(*) FROM results")[0][0] == 1
    s.close()


def _live_alerts(path: Path) -> list[int]:
    s = Store()
    try:
        return [a.id for a in s.alerts(0, include_cleared=False) if a.path == str(path)]
    finally:
        s.close()


def test_content_deleted_then_back_under_another_name_gets_its_alerts(make_daemon, tmp_path, listener):
    """a.wav is scored, deleted (its alerts cleared); the same content arriving later as b.wav is not a move of a.wav:
    b.wav gets alerts of its own (it got none: the cleared ones were 'moved' to it)."""
    d = make_daemon()
    w = tmp_path / "watched"
    x = clipped_loop(seed=21)
    a = write_wav(w / "a.wav", x)
    first = listener.wait_for(protocol.FILE, lambda args: args[0] == str(a))
    assert first[3] > 0 and d.wait_idle(10)
    a.unlink()
    listener.wait_for(protocol.CLEAR, lambda args: args == [str(a)])
    b = write_wav(w / "b.wav", x)
    got = listener.wait_for(protocol.FILE, lambda args: args[0] == str(b))
    assert d.wait_idle(10)
    assert got[1] == first[1] and got[3] == first[3]
    assert len([m for m in listener.msgs if m[0] == protocol.ALERT and m[1][1] == str(b)]) == first[3]
    assert len(_live_alerts(b)) == first[3] and _live_alerts(a) == []


def test_rewriting_a_file_that_has_a_copy_unchanged_changes_nothing(make_daemon, tmp_path, listener):
    """n2.wav is a copy of n1.wav (both scored); writing n1.wav again unchanged re-scored it under new alert ids
    while the old ones stayed live (doubled alerts). Its own record says the content is unchanged: nothing to say."""
    d = make_daemon()
    w = tmp_path / "watched"
    n1 = write_wav(w / "n1.wav", clipped_loop(seed=22))
    listener.wait_for(protocol.FILE, lambda args: args[0] == str(n1))
    assert d.wait_idle(10)
    shutil.copy(n1, w / "n2.wav")
    listener.wait_for(protocol.FILE, lambda args: args[0] == str(w / "n2.wav"))
    assert d.wait_idle(10)
    before = _live_alerts(n1)
    assert before
    listener.msgs.clear()
    n1.write_bytes(n1.read_bytes())  # written again, same content (a re-save, a re-bounce)
    end = time.monotonic() + 15
    while d.store.processed_count(str(n1)) < 2 and time.monotonic() < end:
        time.sleep(0.05)
    assert d.store.processed_count(str(n1)) == 2 and d.wait_idle(10)
    listener.drain(0.3)
    assert not [m for m in listener.msgs if m[0] in (protocol.ALERT, protocol.FILE)]
    assert _live_alerts(n1) == before


def test_a_folder_moved_out_of_the_watched_tree_is_forgotten(make_daemon, tmp_path, listener):
    """A folder moved out is reported as one deletion, with no event for the files inside: their alerts are
    cleared all the same."""
    d = make_daemon()
    a = write_wav(tmp_path / "watched" / "takes" / "a.wav", clipped_loop(seed=23))
    listener.wait_for(protocol.FILE, lambda args: args[0] == str(a))
    assert d.wait_idle(10) and _live_alerts(a)
    shutil.move(str(a.parent), str(tmp_path / "elsewhere"))
    listener.wait_for(protocol.CLEAR, lambda args: args == [str(a)])
    assert _live_alerts(a) == []


def test_a_watched_folder_that_appears_late_or_comes_back_is_watched(make_daemon, tmp_path, listener):
    """An external disk mounted later, a project folder deleted and made again: the folder is watched when it
    (re)appears, and the files already in it are taken in."""
    late = tmp_path / "later"
    d = make_daemon(folders=[late])
    a = write_wav(late / "a.wav", clipped_loop(seed=24))
    listener.wait_for(protocol.FILE, lambda args: args[0] == str(a))
    assert d.wait_idle(10)
    shutil.rmtree(late)
    listener.wait_for(protocol.CLEAR, lambda args: args == [str(a)])
    b = write_wav(late / "sub" / "b.wav", clipped_loop(seed=25))
    listener.wait_for(protocol.FILE, lambda args: args[0] == str(b))
    c = write_wav(late / "c.wav", clipped_loop(seed=26))  # and new files after that
    listener.wait_for(protocol.FILE, lambda args: args[0] == str(c))


def test_status_and_client_find_a_daemon_on_another_port(make_daemon, tmp_path):
    """A daemon started with --osc-port records where it listens; status and `client score` look there first."""
    from loopwatch.client import daemon_addresses, find_daemon

    d = make_daemon(folders=[])
    cfg = load_config()  # the configured port (9701) is not the daemon's
    assert daemon_addresses(cfg)[0] == ("127.0.0.1", d.osc_address[1])
    addr, live = find_daemon(cfg)
    assert addr[1] == d.osc_address[1] and live["state"] in ("idle", "busy")


def test_journal_rotates_and_readers_can_follow(tmp_path):
    from loopwatch.journal import Journal

    j = Journal(tmp_path / "journal.jsonl", rotate_bytes=2000)
    for i in range(60):
        j.append({"type": "alert", "id": i + 1, "path": f"/x/{i}.wav", "message": "m" * 20})
    rotated = tmp_path / "journal.jsonl.1"
    assert rotated.exists() and (tmp_path / "journal.jsonl").stat().st_size <= 2000
    ids = [r["id"] for r in Journal(rotated).read()] + [r["id"] for r in j.read()]
    assert ids == sorted(ids) and ids[-1] == 60
    raw = (tmp_path / "journal.jsonl").read_bytes()
    assert b"\r\n" not in raw and raw.endswith(b"\n")


def test_silent_subscriber_is_dropped(make_daemon, listener):
    d = make_daemon(folders=[], **{"osc.subscriber_timeout_s": 0.5})
    client = Listener()
    try:
        client.send(protocol.encode_request(protocol.SUBSCRIBE, "reaper-1", "reaper", client.port), d.osc_address[1])
        client.wait_for(protocol.STATUS)
        assert ("127.0.0.1", client.port) in d.pusher.destinations()
        time.sleep(0.8)  # no renewal
        assert ("127.0.0.1", client.port) not in d.pusher.destinations()
        # renewing brings it back; unsubscribing removes it at once
        client.send(protocol.encode_request(protocol.SUBSCRIBE, "reaper-1", "reaper", client.port), d.osc_address[1])
        client.wait_for(protocol.STATUS)
        assert ("127.0.0.1", client.port) in d.pusher.destinations()
        client.send(protocol.encode_request(protocol.UNSUBSCRIBE, "reaper-1"), d.osc_address[1])
        time.sleep(0.2)
        assert ("127.0.0.1", client.port) not in d.pusher.destinations()
    finally:
        client.close()


def test_binding_beyond_loopback_is_announced(make_daemon, caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="loopwatch.daemon"):
        make_daemon(folders=[], **{"osc.host": "0.0.0.0"})
    assert any("not on 127.0.0.1" in r.getMessage() for r in caplog.records)


def test_static_target_that_also_subscribes_gets_each_message_once(make_daemon, tmp_path, listener):
    d = make_daemon()
    listener.send(protocol.encode_request(protocol.SUBSCRIBE, "m4l-1", "m4l", listener.port), d.osc_address[1])
    listener.wait_for(protocol.STATUS)
    p = tmp_path / "watched" / "broken.wav"
    p.write_bytes(b"not audio")
    listener.wait_for(protocol.FILE, lambda a: a[0] == str(p))
    listener.drain(0.3)
    files = [a for addr, a in listener.msgs if addr == protocol.FILE and a[0] == str(p)]
    assert len(files) == 1


def test_watcher_counts_a_file_as_pending_until_it_is_handed_over(tmp_path):
    """Between leaving the settle list and entering the queue a file is still pending, so ``wait_idle`` cannot
    report idle while a finished file is in neither place."""
    import threading

    from loopwatch.watcher import FileWatcher

    sf.write(tmp_path / "take.wav", synth_loop(0.5, seed=3).T, 48000, subtype="PCM_16")
    counts: list[int] = []
    handed = threading.Event()

    def on_ready(path, st):
        time.sleep(0.1)  # a slow queue write
        counts.append(w.pending_count())
        handed.set()

    w = FileWatcher([tmp_path], on_ready, settle_s=0.1)
    w.start()
    try:
        assert w.scan() == (1, [])
        assert w.pending_count() == 1
        assert handed.wait(10)
        assert counts == [1]
        deadline = time.monotonic() + 5
        while w.pending_count() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert w.pending_count() == 0
    finally:
        w.stop()


def test_a_new_file_counts_as_arrived_whole_only_when_its_size_fields_prove_it(tmp_path):
    from loopwatch.watcher import arrived_whole

    x = synth_loop(0.5, seed=4).T
    for name, kw in (("a.wav", {}), ("a.aiff", {}), ("a.w64", {"format": "W64"})):
        sf.write(tmp_path / name, x, 48000, subtype="PCM_16", **kw)
        assert arrived_whole(tmp_path / name), name
    sf.write(tmp_path / "a.flac", x, 48000, subtype="PCM_16")
    assert not arrived_whole(tmp_path / "a.flac")  # no size fields: it must settle
    whole = (tmp_path / "a.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(whole[:-1000])
    assert not arrived_whole(tmp_path / "cut.wav")  # still being copied in
    (tmp_path / "placeholder.wav").write_bytes(whole[:4] + b"\x00\x00\x00\x00" + whole[8:])
    assert not arrived_whole(tmp_path / "placeholder.wav")  # a writer's placeholder size
    assert not arrived_whole(tmp_path / "missing.wav")


def test_alerts_and_client_score_json_are_journal_records(make_daemon, tmp_path, listener):
    """Both say "journal format": every record carries the version and a time, as journal lines do."""
    from typer.testing import CliRunner

    from loopwatch.cli import app

    d = make_daemon()
    p = write_wav(tmp_path / "watched" / "hot.wav", clipped_loop(seed=27))
    listener.wait_for(protocol.FILE, lambda args: args[0] == str(p))
    assert d.wait_idle(10)
    out = CliRunner().invoke(app, ["alerts", "--json"])
    recs = [json.loads(line) for line in out.stdout.splitlines()]
    assert recs and all(r["v"] == 1 and r["ts"].endswith("Z") and r["type"] == "alert" for r in recs)
    out = CliRunner().invoke(app, ["client", "score", "--json", str(p)])  # found on its recorded port
    recs = [json.loads(line) for line in out.stdout.splitlines()]
    assert {r["type"] for r in recs} == {"alert", "file", "done"}
    assert all(r["v"] == 1 and r["ts"].endswith("Z") for r in recs)


def test_paths_under_a_folder_are_a_range_of_the_index(tmp_path):
    s = Store(tmp_path / "db.sqlite")
    try:
        for p in ("/m/a/x.wav", "/m/a/sub/y.wav", "/m/ab/z.wav", "/m/a.wav", "/m/b/w.wav"):
            s.record_move(None, p, "h", 1, 1, 1)
        assert s.paths_under("/m/a") == ["/m/a/sub/y.wav", "/m/a/x.wav"]
    finally:
        s.close()


def test_a_scored_version_is_not_queued_again_by_a_late_file_event(tmp_path):
    """The worker can finish a file between the watcher's "is it scored already?" and its enqueue. The test is
    made inside enqueue's transaction, so the late event adds nothing; otherwise the file would be analysed
    twice, and a file given up after three crashes would get a new row with a fresh count (CI, stop 21)."""
    s = Store(tmp_path / "db.sqlite")
    try:
        first = s.enqueue("/m/a.wav", "watch", size=5, mtime_ns=7)
        (it,) = s.claim(8)
        s.complete(it, file_hash="h", size=5, mtime_ns=7, model="", model_fp="", verdict="failed",
                   outlier_ratio=0.0, score=None, percentile=None, findings=[], alerts=[],
                   error="given up", duration=None, state="failed")
        assert s.enqueue("/m/a.wav", "watch", size=5, mtime_ns=7) is None
        assert s.enqueue("/m/a.wav", "catchup", size=5, mtime_ns=7) is None
        assert s.pending_count() == 0
        changed = s.enqueue("/m/a.wav", "watch", size=6, mtime_ns=8)  # a new version is analysed afresh
        assert changed is not None and changed != first
        (it,) = s.claim(8)
        assert it.id == changed and it.attempts == 1
        # a request is always answered, scored version or not
        assert s.enqueue("/m/a.wav", "osc", request_id="r1", reply=("127.0.0.1", 9)) is not None
    finally:
        s.close()


def test_claim_counts_attempts_and_takes_a_retried_item_alone(tmp_path):
    db = tmp_path / "db.sqlite"
    s = Store(db)
    try:
        ids = [s.enqueue(f"/m/{n}.wav", "watch", size=1, mtime_ns=1) for n in "abcd"]
        batch = s.claim(8)
        assert [it.id for it in batch] == ids and all(it.attempts == 1 for it in batch)
    finally:
        s.close()  # as if the process died with the batch in hand
    s = Store(db)
    try:
        assert s.requeue_working() == 4
        # the same version of a file in hand is not queued twice
        assert s.enqueue("/m/a.wav", "catchup", size=1, mtime_ns=1) == ids[0]
        (it,) = s.claim(8)  # each suspect alone, oldest first, its attempts counted on
        assert it.id == ids[0] and it.attempts == 2
        assert s.enqueue("/m/a.wav", "catchup", size=1, mtime_ns=1) == ids[0]  # in hand: not queued twice
        assert s.enqueue("/m/a.wav", "watch", size=2, mtime_ns=2) != ids[0]  # changed: a new row
        s.mark_done(it)
        (it,) = s.claim(8)
        assert it.id == ids[1] and it.attempts == 2
        s.release([it])  # failed: back to the queue, still counted
        (it,) = s.claim(8)
        assert it.id == ids[1] and it.attempts == 3
        s.mark_done(it)
        # fresh items before a retried one are claimed together, without it
        s._query("UPDATE queue SET attempts = 0 WHERE id = ?", (ids[2],))
        batch = s.claim(8)
        assert [x.id for x in batch] == [ids[2]] and batch[0].attempts == 1
        assert [x.id for x in s.claim(8)] == [ids[3]]
        assert len(s.claim(8)) == 1  # the changed /m/a.wav, fresh
    finally:
        s.close()


def test_a_database_from_before_attempts_were_counted_is_upgraded(tmp_path):
    import sqlite3

    db = tmp_path / "db.sqlite"
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE queue (id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending', source TEXT NOT NULL, request_id TEXT NOT NULL DEFAULT '',
            reply_host TEXT, reply_port INTEGER, start_s REAL, length_s REAL, model TEXT NOT NULL DEFAULT '',
            size INTEGER, mtime_ns INTEGER, enqueued REAL NOT NULL, started REAL, finished REAL, error TEXT);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        INSERT INTO meta VALUES ('schema', '1');
        INSERT INTO queue (path, state, source, enqueued) VALUES ('/m/old.wav', 'working', 'watch', 0);
    """)
    con.commit()
    con.close()
    s = Store(db)
    try:
        assert s.get_meta("schema") == "2"
        assert s.requeue_working() == 1
        (it,) = s.claim(8)
        assert it.path == "/m/old.wav" and it.attempts == 1
    finally:
        s.close()
