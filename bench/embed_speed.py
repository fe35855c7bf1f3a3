"""Embedding speed: loopwatch's encoders against the paper's reference code path, side by side.

Usage::

    .venv/bin/python bench/embed_speed.py [--files 32] [--device cpu|cuda] [--rounds 3]

What is timed, on the same WAV files on disk and the same random HTSAT-base
weights, in one process, interleaved round by round:

* **reference** (the paper's code path, dadmaan/music-anomalizer): ``librosa.load(path,
  sr=48000)`` for each file, CLAP's int16 round trip, repeat-pad (or the first 10 s),
  then one forward pass per clip in fp32.
* **loopwatch** ``clap-music``: :func:`loopwatch.embedding.embed_files` (soundfile +
  soxr decoding in 2 threads ahead of the model, the encoder's precision policy,
  deterministic windows), cache disabled, at batch 1 and at the best batch size.
* ``clap-fusion`` and ``spectral`` throughput for completeness.

Files are synthetic 48 kHz stereo 16-bit loops of 1, 2 and 4 bars at 64-170 BPM
(1.4-15 s, like the evaluation corpus). Reported: loops/s, per-clip latency (ms),
and loopwatch / reference throughput. Results go to stdout and
``bench/results/embed_speed.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_loops(folder: Path, n: int, seed: int = 0) -> list[Path]:
    import soundfile as sf

    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        bpm = rng.uniform(64, 170)
        bars = [1, 2, 4][i % 3]
        seconds = bars * 4 * 60 / bpm
        n_s = int(seconds * 48000)
        t = np.arange(n_s) / 48000
        x = np.zeros(n_s)
        for start in np.arange(0, seconds, 60 / bpm / 2):
            f0 = 55 * 2 ** (rng.integers(0, 24) / 12)
            m = t >= start
            tt = t[m] - start
            x[m] += 0.2 * np.exp(-tt * 5) * np.sin(2 * np.pi * f0 * tt) * (1 - np.exp(-tt * 300))
        stereo = np.stack([x, 0.9 * x]).T
        p = folder / f"loop_{i:03d}_{bpm:.0f}bpm_{bars}bar.wav"
        sf.write(p, stereo, 48000, subtype="PCM_16")
        paths.append(p)
    return paths


def reference_embed(paths, tower, device: str) -> np.ndarray:
    """The paper's path: librosa load, int16 round trip, repeat-pad, one clip per fp32 forward pass."""
    import librosa
    import torch

    from loopwatch.embed.clap import CLIP_SAMPLES, repeat_pad

    out = []
    with torch.no_grad():
        for p in paths:
            y, _ = librosa.load(str(p), sr=48000, mono=True)
            y = (np.clip(y, -1, 1) * 32767).astype(np.int16) / 32767
            y = repeat_pad(y.astype(np.float32)) if len(y) <= CLIP_SAMPLES else y[:CLIP_SAMPLES]
            wav = torch.from_numpy(np.ascontiguousarray(y))[None].to(device)
            out.append(tower.audio_branch({"waveform": wav}, device=device)["embedding"][0].float().cpu().numpy())
    return np.stack(out)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batches", default="1,2,4,8", help="batch sizes to try for loopwatch")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "embed_speed.md")
    args = ap.parse_args()

    import torch

    from loopwatch.embed.clap import ClapEncoder
    from loopwatch.embed.spectral import SpectralEncoder
    from loopwatch.embed.testing import random_audio_tower
    from loopwatch.embedding import embed_files

    device = args.device
    batches = [int(b) for b in args.batches.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="lw-embed-bench-"))
    paths = make_loops(tmp, args.files)
    total_s = sum(__import__("soundfile").info(str(p)).duration for p in paths)

    tower = random_audio_tower("base", False, seed=0).to(device).eval()
    sd = {k: v.detach().cpu() for k, v in tower.state_dict().items()}
    meta = {"source_sha256": "0" * 64}
    music = ClapEncoder("clap-music", device=device, state_dict=sd, weights_meta=meta)
    music32 = ClapEncoder("clap-music", device=device, precision="fp32", state_dict=sd, weights_meta=meta)
    fusion = ClapEncoder("clap-fusion", device=device, state_dict=random_audio_tower("tiny", True, 1).state_dict(),
                         weights_meta=meta)
    spectral = SpectralEncoder()

    # warm-up (first-call allocations, lazy inits) on two files
    reference_embed(paths[:2], tower, device)
    for enc in (music, music32, fusion, spectral):
        embed_files(paths[:2], enc, cache=None)

    runs: dict[str, list[float]] = {}

    def record(key, seconds):
        runs.setdefault(key, []).append(seconds)

    for _ in range(args.rounds):
        record("reference (librosa + fp32, batch 1)", timed(lambda: reference_embed(paths, tower, device)))
        for b in batches:
            record(f"clap-music {music.precision} batch {b}", timed(lambda: embed_files(paths, music, cache=None, batch_size=b)))
        record("clap-music fp32 batch 1", timed(lambda: embed_files(paths, music32, cache=None, batch_size=1)))
        record(f"clap-fusion {fusion.precision} batch 1", timed(lambda: embed_files(paths, fusion, cache=None, batch_size=1)))
        record("spectral", timed(lambda: embed_files(paths, spectral, cache=None)))

    # sanity: both paths compute the same function (first 10 s of each file), up to precision
    ref = reference_embed(paths[:3], tower, device)
    ours = embed_files(paths[:3], music32, cache=None).X
    short = [i for i, p in enumerate(paths[:3]) if __import__("soundfile").info(str(p)).duration <= 10]
    if short:
        err = float(np.max(np.abs(ref[short] - ours[short])))
        assert err < 1e-3, f"reference and loopwatch disagree by {err}"

    n = len(paths)
    rows = []
    ref_key = "reference (librosa + fp32, batch 1)"
    ref_med = statistics.median(runs[ref_key])
    for key, vals in runs.items():
        med = statistics.median(vals)
        rows.append({"path": key, "loops_per_s": n / med, "ms_per_clip": 1000 * med / n, "vs_reference": ref_med / med})
    best = max((r for r in rows if r["path"].startswith(f"clap-music {music.precision}")), key=lambda r: r["loops_per_s"])

    lines = [
        "# Embedding speed",
        "",
        f"Command: `{' '.join([Path(sys.executable).name] + sys.argv)}`  ",
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"device {device}; torch {torch.__version__}; {n} WAV loops, {total_s:.0f} s of audio; "
        f"median of {args.rounds} interleaved rounds.",
        "",
        "| path | loops/s | ms per clip | vs reference |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['path']} | {r['loops_per_s']:.2f} | {r['ms_per_clip']:.0f} | {r['vs_reference']:.2f}x |")
    lines += ["", f"Best clap-music path: **{best['path']}**, {best['vs_reference']:.2f}x the reference."]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    (args.out.with_suffix(".json")).write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
