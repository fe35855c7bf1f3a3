"""Latency of ``loopwatch listen``: from a defect entering the input to its alert datagram at a UDP listener.

Rig (Linux, ``pulseaudio`` + ``pulseaudio-utils``): a private PulseAudio server
with a null sink (:class:`loopwatch.monitor.pulserig.PulseRig`). ``paplay``
plays a generated signal into the sink in real time; ``loopwatch listen
--device pulse`` (a separate process, default settings: 48 kHz, block 512,
latency "high") records the sink's monitor; its OSC push target is a UDP
socket in this process, which timestamps each ``/loopwatch/alert`` on arrival
(``time.time()`` right after ``recvfrom`` returns, in a thread that does
nothing else).

The signal: a steady two-tone bed at -16 dBFS with, every ``--spacing``
seconds, alternately a click (one sample +0.5) and a clipping burst (a 50 ms
Gaussian gain swell that drives the bed into the full-scale ceiling).

When does a defect enter the input? Two independent answers:

1. **ADC time** (primary). PortAudio stamps each callback's first frame with
   ``inputBufferAdcTime`` (the host API's capture timestamp, here the pulse
   ALSA plugin's: callback time minus the reported capture delay). The monitor
   maps the defect's running input frame through those stamps to the wall
   clock (the stream clock is CLOCK_REALTIME here; the offset is measured
   anyway) and reports it as ``entered`` in ``listen --json``. Error bars: the
   host API's delay report (PulseAudio's latency estimate, a few ms) plus the
   offset sampling (microseconds).
2. **Reference recorder** (cross-check). ``parec --latency-msec=5`` records
   the same monitor source; a thread here timestamps every read and finds the
   defects in the samples (a click is a lone sample above 0.28, a clipping
   burst the first sample at the ceiling). The read that delivered the defect
   happened *after* it entered the input, so ``udp - ref`` is a lower bound of
   the true latency, short by parec's own delivery delay (one 5 ms fragment
   plus scheduling).

The two are matched defect by defect (same kinds, same order, and the spacing
between consecutive defects in the monitor's running input time must equal the
spacing in the reference recording to 2 ms, which proves both saw the same
samples).

Usage::

    .venv/bin/python bench/listen_latency.py                 # 100 defects, ~70 s
    .venv/bin/python bench/listen_latency.py --defects 20    # quick look

Writes ``bench/results/listen_latency.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loopwatch.monitor.pulserig import PulseRig  # noqa: E402

SR = 48000
CLICK = 0.5
BED = 0.16


def make_signal(n_defects: int, spacing: float, lead: float = 1.0, tail: float = 1.5, seed: int = 0):
    """Bed + alternating click / clipping burst; returns (x (2, n), [(kind, sample)])."""
    n = int((lead + spacing * n_defects + tail) * SR)
    t = np.arange(n) / SR
    bed = BED * (0.6 * np.sin(2 * np.pi * 196.0 * t) + 0.4 * np.sin(2 * np.pi * 293.66 * t + 0.3))
    x = np.stack([bed, 0.9 * bed])
    gain = np.ones(n)
    defects = []
    for k in range(n_defects):
        c = int((lead + k * spacing) * SR)
        if k % 2 == 0:
            x[:, c] += CLICK
            defects.append(("click", c))
        else:
            w = np.arange(-int(0.3 * SR), int(0.3 * SR))  # +-6 sigma: no step at the window's ends
            gain[c + w] += 9.0 * np.exp(-0.5 * (w / (0.05 * SR)) ** 2)
            defects.append(("clipping", c))
    x = np.clip(x * gain, -1.0, 1.0)
    q = np.clip(np.round(x * 32768.0), -32768, 32767) / 32768.0
    return q.astype(np.float32), defects


class UdpListener(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.got: list[tuple[float, bytes]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                continue
            self.got.append((time.time(), d))


class Reference(threading.Thread):
    """parec on the monitor source; finds defects in the samples and timestamps the reads that delivered them."""

    def __init__(self, rig: PulseRig) -> None:
        super().__init__(daemon=True)
        self.proc = subprocess.Popen(["parec", f"--device={rig.source}", "--latency-msec=5", "--format=float32le",
                                      f"--rate={SR}", "--channels=2", "--raw"], env=rig.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.events: list[tuple[str, int, float]] = []  # kind, frame in this recording, arrival
        self.frames = 0

    def run(self) -> None:
        fd = self.proc.stdout.fileno()
        rest = b""
        # [first frame above, max, first frame at ceiling, arrival of the defect's frame, frame of the max, last frame above]
        open_ev: list | None = None
        while True:
            data = os.read(fd, 1 << 16)
            now = time.time()
            if not data:
                break
            data = rest + data
            usable = len(data) // 8 * 8
            rest = data[usable:]
            x = np.frombuffer(data[:usable], dtype="<f4").reshape(-1, 2)[:, 0]
            base = self.frames
            self.frames += len(x)
            hot = np.flatnonzero(np.abs(x) > 0.28)
            for i in hot:
                f = base + int(i)
                v = abs(float(x[i]))
                if open_ev is not None and f - open_ev[5] > int(0.05 * SR):
                    self._close(open_ev)
                    open_ev = None
                if open_ev is None:
                    open_ev = [f, v, None, now, f, f]
                open_ev[5] = f
                open_ev[1] = max(open_ev[1], v)
                if v >= 0.98855 and open_ev[2] is None:
                    open_ev[2], open_ev[3] = f, now
                if open_ev[2] is None and v >= open_ev[1]:
                    open_ev[4], open_ev[3] = f, now
            if open_ev is not None and self.frames - open_ev[5] > int(0.05 * SR):
                self._close(open_ev)
                open_ev = None
        if open_ev is not None:
            self._close(open_ev)

    def _close(self, ev) -> None:
        first, peak, ceil, arrival, at_max, _ = ev
        if ceil is not None:
            self.events.append(("clipping", ceil, arrival))
        else:
            self.events.append(("click", at_max, arrival))


def pct(a, q) -> float:
    return float(np.percentile(np.asarray(a), q)) if len(a) else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--defects", type=int, default=100)
    ap.add_argument("--spacing", type=float, default=0.6, help="seconds between defects (same kind: twice that)")
    ap.add_argument("--block", type=int, default=512)
    ap.add_argument("--latency", default="high")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()

    from pythonosc.osc_message import OscMessage

    x, defects = make_signal(args.defects, args.spacing)
    import soundfile as sf

    tmp = Path(tempfile.mkdtemp(prefix="lw-bench-listen-"))
    wav = tmp / "defects.wav"
    sf.write(str(wav), x.T, SR, subtype="PCM_16")
    home = tmp / "home"
    (home / "config").mkdir(parents=True)
    udp = UdpListener()
    (home / "config" / "loopwatch.toml").write_text(f'[osc]\npush_targets = ["127.0.0.1:{udp.port}"]\n')
    udp.start()

    rig = PulseRig().start()
    listen = None
    try:
        env = dict(rig.env, LOOPWATCH_HOME=str(home))
        cmd = [sys.executable, "-m", "loopwatch", "listen", "--device", "pulse", "--json", "--block", str(args.block),
               "--latency", args.latency]
        listen = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready = listen.stderr.readline()
        if "listening on" not in ready:
            raise SystemExit(f"listen did not start: {ready}{listen.stderr.read()}")
        lines: list[dict] = []
        threading.Thread(target=lambda: [lines.append(json.loads(ln)) for ln in listen.stdout], daemon=True).start()
        ref = Reference(rig)
        ref.start()
        time.sleep(1.0)
        t_play = time.time()
        rig.play(wav, timeout=args.defects * args.spacing + 120)
        play_s = time.time() - t_play
        time.sleep(2.0)
        listen.send_signal(signal.SIGINT)
        _, err = listen.communicate(timeout=60)
        ref.proc.terminate()
        ref.join(timeout=10)
    finally:
        if listen is not None and listen.poll() is None:
            listen.kill()
        rig.stop()
        udp.stop.set()
        udp.join(timeout=2)

    alerts = []
    for arrival, d in udp.got:
        m = OscMessage(d)
        if m.address == "/loopwatch/alert":
            aid, path, sev, check, t0, t1, value, msg = m.params
            alerts.append({"id": aid, "check": check, "t0": t0, "arrival": arrival, "message": msg})
    by_id = {ln["id"]: ln for ln in lines}
    for a in alerts:
        a["entered"] = by_id.get(a["id"], {}).get("entered")
        a["published"] = by_id.get(a["id"], {}).get("published")
    alerts.sort(key=lambda a: a["id"])
    kinds = [d[0] for d in defects]
    got_kinds = [a["check"] for a in alerts]
    ref_kinds = [e[0] for e in ref.events]
    problems = []
    if got_kinds != kinds:
        problems.append(f"alerts {len(alerts)} ({got_kinds[:6]}...) do not match the {len(kinds)} defects played")
    if ref_kinds != kinds:
        problems.append(f"reference found {len(ref.events)} defects ({ref_kinds[:6]}...), expected {len(kinds)}")
    rows = []
    if not problems:
        for a, (kind, fr, arr) in zip(alerts, ref.events):
            rows.append({"check": a["check"], "adc_ms": 1000 * (a["arrival"] - a["entered"]),
                         "ref_ms": 1000 * (a["arrival"] - arr), "internal_ms": 1000 * (a["published"] - a["entered"]),
                         "udp_ms": 1000 * (a["arrival"] - a["published"]), "ref_minus_adc_ms": 1000 * (arr - a["entered"]),
                         "conservative_ms": 1000 * (a["arrival"] - min(arr, a["entered"])),
                         "t0": a["t0"], "ref_frame": fr})
        d_mon = np.diff([r["t0"] for r in rows]) * SR
        d_ref = np.diff([r["ref_frame"] for r in rows])
        worst = float(np.max(np.abs(d_mon - d_ref))) if len(rows) > 1 else 0.0
        if worst > 0.002 * SR:
            problems.append(f"defect spacing differs between listen and the reference by up to {worst:.0f} frames")

    def summary(sel):
        out = {}
        for key in ("adc_ms", "ref_ms", "conservative_ms", "internal_ms", "udp_ms", "ref_minus_adc_ms"):
            v = [r[key] for r in sel]
            out[key] = {"p50": round(pct(v, 50), 1), "p95": round(pct(v, 95), 1), "max": round(float(np.max(v)), 1),
                        "min": round(float(np.min(v)), 1)} if v else {}
        return out

    result = {
        "command": " ".join(["bench/listen_latency.py"] + sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "settings": {"rate": SR, "block": args.block, "latency": args.latency, "spacing_s": args.spacing},
        "defects": len(defects), "alerts": len(alerts), "played_s": round(play_s, 1),
        "problems": problems,
        "all": summary(rows),
        "click": summary([r for r in rows if r["check"] == "click"]),
        "clipping": summary([r for r in rows if r["check"] == "clipping"]),
        "listen_stderr_tail": err.strip().splitlines()[-1:] if err else [],
        "rows": [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "listen_latency.json").write_text(json.dumps(result, indent=2) + "\n")
    md = ["# `loopwatch listen` latency: defect entering the input -> alert datagram", "",
          f"`{result['command']}` on {result['machine']}; {result['defects']} defects "
          f"({result['settings']}), {result['alerts']} alerts.", ""]
    if problems:
        md += ["**Problems:** " + "; ".join(problems), ""]
    md += ["| defects | measure | p50 ms | p95 ms | max ms |", "|---|---|---|---|---|"]
    names = {"adc_ms": "ADC time -> datagram (primary)", "ref_ms": "reference read -> datagram (lower bound)",
             "conservative_ms": "earlier of the two -> datagram (conservative)",
             "internal_ms": "ADC time -> published (in listen)", "udp_ms": "published -> datagram",
             "ref_minus_adc_ms": "reference read - ADC time"}
    for group in ("all", "click", "clipping"):
        for key, label in names.items():
            s = result[group].get(key) or {}
            if s:
                md.append(f"| {group} | {label} | {s['p50']} | {s['p95']} | {s['max']} |")
    (args.out / "listen_latency.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
