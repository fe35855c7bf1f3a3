"""Daemon latency and load: file complete on disk -> ``/loopwatch/alert`` datagram at a UDP listener.

Usage::

    .venv/bin/python bench/daemon_latency.py [--encoders spectral,clap-music] [--files 40] [--burst 1000]

For each encoder a model is trained on 24 synthetic loops (``clap-music`` uses
random HTSAT-base weights in LAION's layout, so timings are real while scores
are meaningless), then a daemon runs in this process, watching a temp folder,
with a UDP listener as its push target. Each measured file is a 5 s stereo
48 kHz loop with a clipped stretch (so it raises an alert), written to a temp
name in the folder's parent and renamed into the watched folder: the rename is
the moment the file is complete on disk. Latency = arrival time of its first
``/loopwatch/alert`` - time just after the rename. Files are dropped one at a
time (the daemon idle in between), as when a producer bounces a loop.

The reference approach, run side by side, is a polling watcher with the same
analysis: a loop that lists the folder every 0.5 s and scores files whose size
stayed the same for one poll (the usual "poll and settle" design). Its latency
is what loopwatch's close/rename events save.

The burst test drops ``--burst`` files at once, in a fresh process with the
daemon and a ``spectral`` model, and reports throughput (files/s until every
file's ``/loopwatch/file`` arrived) and resident memory with the daemon idle and
at its peak during the burst.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def loop(seconds: float, seed: int, clip: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * 48000)
    t = np.arange(n) / 48000
    x = np.zeros(n)
    for start in np.arange(0, seconds, 0.25):
        f0 = 55 * 2 ** (rng.integers(0, 24) / 12)
        m = t >= start
        tt = t[m] - start
        x[m] += 0.2 * np.exp(-tt * 6) * np.sin(2 * np.pi * f0 * tt) * (1 - np.exp(-tt * 300))
    if clip:
        a, b = int(1.0 * 48000), int(1.5 * 48000)
        x[a:b] = np.clip(x[a:b] * 20, -1, 1)
    return np.stack([x, 0.95 * x]).T


class Listener:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.first_alert: dict[str, float] = {}
        self.files: dict[str, float] = {}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        from pythonosc.osc_message import OscMessage

        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            now = time.perf_counter()
            m = OscMessage(data)
            if m.address == "/loopwatch/alert":
                self.first_alert.setdefault(m.params[1], now)
            elif m.address == "/loopwatch/file":
                self.files.setdefault(m.params[0], now)

    def close(self):
        self._stop.set()
        self.thread.join()
        self.sock.close()


def train_model(name: str, encoder: str, folder: Path, enc_obj=None) -> None:
    import soundfile as sf

    from loopwatch.embedding import embed_files
    from loopwatch.modelstore import TrainedModel

    paths = []
    for i in range(24):
        p = folder / f"train_{i:02d}.wav"
        sf.write(p, loop(5.0, 1000 + i, False), 48000, subtype="PCM_16")
        paths.append(p)
    res = embed_files(paths, enc_obj or encoder, cache=True)
    m = TrainedModel.train(name, res.X, res.hashes, [str(p) for p in res.paths], encoder=res.encoder,
                           prep_version=res.prep_version, detector="aewres", params={"max_epochs": 30})
    m.save(overwrite=True)


def percentile(xs, q):
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def measure_daemon(cfg, watch: Path, stage: Path, n: int, listener: Listener, analyzer=None) -> list[float]:
    import soundfile as sf

    from loopwatch.daemon import Daemon

    d = Daemon(cfg, [watch], analyzer=analyzer)
    d.start()
    lat = []
    try:
        d.wait_idle(120)
        for i in range(n):
            tmp = stage / f"drop_{i:03d}.wav"
            sf.write(tmp, loop(5.0, i, True), 48000, subtype="PCM_16")
            dest = watch / tmp.name
            os.replace(tmp, dest)
            t0 = time.perf_counter()
            end = time.monotonic() + 30
            while str(dest) not in listener.first_alert and time.monotonic() < end:
                time.sleep(0.001)
            if str(dest) in listener.first_alert:
                lat.append(listener.first_alert[str(dest)] - t0)
            d.wait_idle(30)
    finally:
        d.stop()
    return lat


def measure_polling(cfg, watch: Path, stage: Path, n: int, analyzer, poll_s: float = 0.5) -> list[float]:
    """Reference: poll the folder, score files whose size did not change between two polls."""
    import soundfile as sf

    from loopwatch.analysis import Job, alerts_for

    seen: dict[str, int] = {}
    done: set[str] = set()
    alert_at: dict[str, float] = {}
    stop = threading.Event()

    def poller():
        while not stop.is_set():
            for e in os.scandir(watch):
                if e.name in done:
                    continue
                size = e.stat().st_size
                if seen.get(e.name) == size:
                    res = analyzer.analyze([Job(e.path)])[0]
                    if alerts_for(res, cfg)[0]:
                        alert_at[e.name] = time.perf_counter()
                    done.add(e.name)
                else:
                    seen[e.name] = size
            stop.wait(poll_s)

    th = threading.Thread(target=poller, daemon=True)
    th.start()
    lat = []
    for i in range(n):
        tmp = stage / f"poll_{i:03d}.wav"
        sf.write(tmp, loop(5.0, 500 + i, True), 48000, subtype="PCM_16")
        os.replace(tmp, watch / tmp.name)
        t0 = time.perf_counter()
        end = time.monotonic() + 30
        while tmp.name not in alert_at and time.monotonic() < end:
            time.sleep(0.001)
        if tmp.name in alert_at:
            lat.append(alert_at[tmp.name] - t0)
    stop.set()
    th.join()
    return lat


def rss_mib() -> float:
    """Current resident memory of this process (Linux /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, AttributeError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def burst(cfg, watch: Path, stage: Path, n: int, listener: Listener) -> tuple[float, float, float]:
    """Drop ``n`` files at once; return files/s, RSS with the daemon idle, and the peak RSS during the burst."""
    import soundfile as sf

    from loopwatch.daemon import Daemon

    data = loop(5.0, 7, True)
    names = []
    for i in range(n):
        p = stage / f"burst_{i:04d}.wav"
        sf.write(p, np.roll(data, i * 97, axis=0), 48000, subtype="PCM_16")  # distinct content per file
        names.append(p)
    d = Daemon(cfg, [watch])
    d.start()
    d.wait_idle(60)
    rss0 = peak = rss_mib()
    t0 = time.perf_counter()
    for p in names:
        os.replace(p, watch / p.name)
    end = time.monotonic() + 3600
    while time.monotonic() < end:
        peak = max(peak, rss_mib())
        if sum(1 for p in names if str(watch / p.name) in listener.files) == n:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    d.stop()
    return n / elapsed, rss0, peak


def burst_child(home: Path, n: int, enc: str) -> None:
    import json

    from loopwatch.config import load_config

    work = home / ("burst-" + enc)
    for sub in ("train", "watch", "stage"):
        (work / sub).mkdir(parents=True)
    train_model(f"bench-{enc}", enc, work / "train")
    listener = Listener()
    try:
        cfg = load_config(overrides={"osc.port": 0, "osc.push_targets": [f"127.0.0.1:{listener.port}"],
                                     "models.default": f"bench-{enc}", "watch.settle_s": 1.0})
        rate, idle, peak = burst(cfg, work / "watch", work / "stage", n, listener)
    finally:
        listener.close()
    print(json.dumps({"encoder": enc, "files_per_s": rate, "rss_idle": idle, "rss_peak": peak}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoders", default="spectral,clap-music")
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--burst", type=int, default=1000)
    ap.add_argument("--burst-encoder", default="spectral")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "daemon_latency.md")
    ap.add_argument("--burst-child", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()

    import logging

    logging.getLogger("loopwatch").setLevel(logging.ERROR)  # no per-file log lines in the results
    home = Path(tempfile.mkdtemp(prefix="lw-daemon-bench-"))
    os.environ["LOOPWATCH_HOME"] = str(home)
    if args.burst_child:
        burst_child(home, args.burst_child, args.burst_encoder)
        return
    from loopwatch.analysis import Analyzer
    from loopwatch.config import load_config
    from loopwatch.embed import weights
    from loopwatch.embed.testing import write_laion_checkpoint

    lines = ["# Daemon latency and load", "",
             f"Command: `{' '.join([Path(sys.executable).name] + sys.argv)}`  ",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; 5 s stereo 48 kHz loops with a clipped stretch.",
             "", "| path | encoder | files | p50 ms | p95 ms | max ms |", "|---|---|---:|---:|---:|---:|"]
    listener = Listener()
    try:
        for enc in [e for e in args.encoders.split(",") if e]:
            work = home / enc
            (work / "train").mkdir(parents=True)
            (work / "watch").mkdir()
            (work / "stage").mkdir()
            if enc.startswith("clap"):
                ck = work / "ckpt.pt"
                write_laion_checkpoint(ck, "base" if enc == "clap-music" else "tiny", enc == "clap-fusion", seed=0)
                weights.convert(ck, enc)
                ck.unlink()
            train_model(f"bench-{enc}", enc, work / "train")
            cfg = load_config(overrides={"osc.port": 0, "osc.push_targets": [f"127.0.0.1:{listener.port}"],
                                         "models.default": f"bench-{enc}", "watch.settle_s": 1.0})
            analyzer = Analyzer(cfg)
            lat = measure_daemon(cfg, work / "watch", work / "stage", args.files, listener, analyzer)
            lines.append(f"| loopwatch watch (events) | {enc} | {len(lat)} | {1000 * statistics.median(lat):.0f} | "
                         f"{1000 * percentile(lat, 95):.0f} | {1000 * max(lat):.0f} |")
            (work / "poll").mkdir()
            ref = measure_polling(cfg, work / "poll", work / "stage", max(10, args.files // 4), analyzer)
            lines.append(f"| reference: poll 0.5 s + settle | {enc} | {len(ref)} | {1000 * statistics.median(ref):.0f} "
                         f"| {1000 * percentile(ref, 95):.0f} | {1000 * max(ref):.0f} |")
            print("\n".join(lines[-2:]), flush=True)
        if args.burst:
            # In a fresh process, so the memory figures are the daemon's alone.
            import json
            import subprocess

            out = subprocess.run([sys.executable, __file__, "--burst-child", str(args.burst), "--burst-encoder",
                                  args.burst_encoder], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            lines += ["", f"Burst: {args.burst} files landing at once ({r['encoder']} model, one process): "
                          f"{r['files_per_s']:.1f} files/s; resident memory {r['rss_idle']:.0f} MiB with the daemon "
                          f"idle, at most {r['rss_peak']:.0f} MiB during the burst."]
    finally:
        listener.close()
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
