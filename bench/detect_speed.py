#!/usr/bin/env python3
"""Detector speed: training time on 6,110 cached embeddings, and the time to score one cached embedding.

Usage::

    .venv/bin/python bench/detect_speed.py [--dims 1024,236] [--threads 1] [--epochs-compare 3]
                                           [--skip-full] [--ensemble-train N]
                                           [--out bench/results/detect_speed.md]

What it measures, for each input width (1024 = clap-music, 236 = spectral), on
6,110 synthetic embeddings (the paper's dataset size; 12 clusters in a 24-d
subspace plus isotropic noise, split 80/20 by row):

1. **Full training** of the default detector (Deep SVDD AEwRES with loopwatch's
   default hyper-parameters: at most 1000 epochs per phase; pre-training at lr
   1e-3 with batches of 32 and patience 5, the one-class phase at lr 1e-4 with
   batches of 128 and patience 20; docs/detectors.md):
   wall time, CPU time, epochs per phase. Target: under 60 s.
2. **Per-epoch time against a reference loop, side by side** in this process,
   interleaved (ours, reference, ours, reference, ...) so both see the same
   machine load. The reference is the paper's training-loop style without
   PyTorch Lightning's own overhead: ``DataLoader(TensorDataset, batch_size=32,
   shuffle=True)``, ``torch.optim.AdamW`` with its default (per-parameter)
   implementation, the loss read with ``.item()`` after every step (as
   Lightning's logging does), and the validation loss computed batch by batch
   through a second DataLoader. Same network, same data, same number of epochs,
   both at the paper's batch of 32 and lr 1e-3 in both phases (a comparison of
   training loops, not of settings).
3. **Scoring one cached embedding**: the median over 2,000 calls of
   ``TrainedModel.assess(x)`` (standardise, folded numpy encoder, distance,
   percentile, verdict), the same plus the cache lookup of a real file
   (stat-index hash + SQLite read), and the reference code's per-file path
   (``torch.tensor(x).float().unsqueeze(0)``, the torch encoder in eval mode,
   mean squared distance, ``.item()``). Target: under 1 ms. Also ``assess``
   with a five-member ensemble (``--ensemble 5``).
4. Optionally (``--ensemble-train N``), **training an N-member ensemble** one
   member at a time and then with the default number of worker processes, side
   by side; the two models must give identical scores.

The machine is a shared 2-core VM; ``--threads 1`` (the default here) keeps the
numbers from collapsing when another process holds the second core (torch's
OpenMP threads spin-wait on each other). The load average is printed with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N_ROWS = 6110


def synthetic_embeddings(dim: int, n: int = N_ROWS, seed: int = 0) -> np.ndarray:
    """Clustered low-rank vectors plus noise, float32 (n, dim)."""
    rng = np.random.default_rng(seed)
    k = 24
    B = rng.normal(size=(k, dim)) / np.sqrt(k)
    C = rng.normal(size=(12, k)) * 1.5
    lab = rng.integers(0, 12, n)
    return ((C[lab] + rng.normal(size=(n, k))) @ B + 0.3 * rng.normal(size=(n, dim))).astype(np.float32)


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except (OSError, AttributeError):
        return "n/a"


# --- the two training loops, epoch by epoch ------------------------------------------------------------


def ours_epochs(net, Xt, Xv, epochs: int, phase: str, c=None) -> list[float]:
    """loopwatch's loop (loopwatch.detect.svdd's own pieces): index batches, the fused AdamW kernel called
    directly, one-pass validation."""
    import torch

    from loopwatch.detect.svdd import AdamW, cosine_lr, train_epoch

    params = list(net.parameters()) if phase == "pretrain" else list(net.enc.parameters())
    opt = AdamW(params, 1e-5)
    rng = np.random.default_rng(0)
    n = Xt.shape[0]

    def loss_fn(x):
        if phase == "pretrain":
            return torch.mean((net(x) - x) ** 2)
        return torch.mean(torch.sum((net.encode(x) - c) ** 2, dim=1))

    times = []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        net.train()
        perm = torch.from_numpy(rng.permutation(n))
        total, rows = train_epoch(loss_fn, opt, Xt, perm, 32, cosine_lr(epoch, 1000, 1e-3, 5e-6))
        net.eval()
        with torch.no_grad():
            float(loss_fn(Xv))
        float(total) / rows
        times.append(time.perf_counter() - t0)
    return times


def reference_epochs(net, Xt, Xv, epochs: int, phase: str, c=None) -> list[float]:
    """The paper's loop style: DataLoader batches, default AdamW, .item() per step, batched validation."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    params = list(net.parameters()) if phase == "pretrain" else list(net.enc.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=1000, eta_min=5e-6)
    g = torch.Generator().manual_seed(0)
    train_dl = DataLoader(TensorDataset(Xt), batch_size=32, shuffle=True, generator=g, drop_last=False)
    val_dl = DataLoader(TensorDataset(Xv), batch_size=32)
    mse = nn.MSELoss()

    def loss_fn(x):
        if phase == "pretrain":
            return mse(net(x), x)
        return mse(net.encode(x), c.repeat(x.shape[0], 1))  # the reference's SVDD loss: MSE to the repeated centre

    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        net.train()
        logged = []
        for (xb,) in train_dl:
            if xb.shape[0] < 2:
                continue
            opt.zero_grad()
            loss = loss_fn(xb)
            loss.backward()
            opt.step()
            logged.append(loss.item())
        sched.step()
        net.eval()
        with torch.no_grad():
            vals = [loss_fn(xb).item() for (xb,) in val_dl]
        float(np.mean(vals))
        times.append(time.perf_counter() - t0)
    return times


def compare_epochs(X: np.ndarray, epochs: int, rounds: int = 2) -> dict:
    """Interleave our loop and the reference loop; return median epoch seconds per phase and the ratios."""
    import torch

    from loopwatch.detect.split import split_rows
    from loopwatch.detect.svdd import build_network

    tr, va = split_rows(len(X))
    mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-8
    Xt = torch.from_numpy(((X[tr] - mu) / sd).astype(np.float32))
    Xv = torch.from_numpy(((X[va] - mu) / sd).astype(np.float32))
    c = torch.full((32,), 0.1)
    res: dict = {}
    for phase in ("pretrain", "svdd"):
        ours, ref = [], []
        for _ in range(rounds):
            torch.manual_seed(0)
            ours += ours_epochs(build_network(X.shape[1], [512, 256, 128, 64, 32], 0.2, 0.1, True), Xt, Xv, epochs,
                                phase, c)
            torch.manual_seed(0)
            ref += reference_epochs(build_network(X.shape[1], [512, 256, 128, 64, 32], 0.2, 0.1, True), Xt, Xv,
                                    epochs, phase, c)
        o, r = statistics.median(ours), statistics.median(ref)
        res[phase] = {"ours_s_per_epoch": round(o, 4), "reference_s_per_epoch": round(r, 4),
                      "speedup": round(r / o, 2), "epochs_each": len(ours)}
    return res


# --- full training and scoring --------------------------------------------------------------------------


def full_training(X: np.ndarray, threads: int, home: Path, dim_tag: str):
    from loopwatch.modelstore import TrainedModel

    hashes = [f"{i:032x}" for i in range(len(X))]
    paths = [f"synthetic/{i:05d}.wav" for i in range(len(X))]
    t0, c0 = time.perf_counter(), time.process_time()
    m = TrainedModel.train(f"speed-{dim_tag}", X, hashes, paths, encoder="synthetic", prep_version="synthetic-1",
                           detector="aewres", params={"threads": threads})
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    info = m.detector.info_
    hist = m.detector.history_
    return m, {
        "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "epochs_pretrain": info["epochs_pretrain"],
        "epochs_svdd": info["epochs_svdd"], "best_epoch_pretrain": info["best_epoch_pretrain"],
        "best_epoch_svdd": info["best_epoch_svdd"], "val_loss": info["val_loss"],
        "rows_train": info["n_train"], "rows_val": info["n_val"],
        "history_len": {k: int(len(v)) for k, v in hist.items()},
    }


def median_seconds(fn, calls: int, warmup: int = 50) -> float:
    """Median wall time of ``fn()`` over ``calls`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return statistics.median(t)


def scoring(m, X: np.ndarray, home: Path, calls: int = 2000) -> dict:
    import soundfile as sf
    import torch

    from loopwatch.cache import EmbeddingCache
    from loopwatch.detect.svdd import build_network

    x = X[:1].astype(np.float32)
    ours = median_seconds(lambda: m.assess(x), calls)

    # with the cache lookup of a real file (stat index -> content hash -> vector)
    wav = home / "one.wav"
    sf.write(wav, np.zeros((4800, 2), np.float32), 48000)
    cache = EmbeddingCache(home / "cache.sqlite")
    h = cache.file_hash(wav)
    cache.put(h, "synthetic", "synthetic-1", X[0])
    cached = median_seconds(lambda: m.assess(cache.get(cache.file_hash(wav), "synthetic", "synthetic-1")[None]), calls)
    cache.close()

    # the reference code's per-file scoring (a torch encoder of the same shape, eval mode)
    net = build_network(X.shape[1], [512, 256, 128, 64, 32], 0.2, 0.1, True)
    net.eval()
    c = torch.from_numpy(m.detector.center_.astype(np.float32))
    mu, sd = m.detector.mean_, m.detector.scale_
    row = ((X[0] - mu) / sd).astype(np.float32)
    with torch.no_grad():
        ref = median_seconds(lambda: (net.encode(torch.tensor(row).float().unsqueeze(0)) - c).square().mean().item(),
                             calls)
    return {"assess_ms": round(ours * 1e3, 4), "cache_lookup_and_assess_ms": round(cached * 1e3, 4),
            "reference_torch_per_file_ms": round(ref * 1e3, 4), "speedup_vs_reference": round(ref / ours, 2),
            "calls": calls}


def ensemble_scoring(X: np.ndarray, threads: int, members: int = 5, calls: int = 2000) -> dict:
    """``assess`` of one embedding by a ``--ensemble 5`` model (trained for 2 epochs: scoring cost does not depend
    on how long the members trained)."""
    from loopwatch.modelstore import TrainedModel

    m = TrainedModel.train("speed-ensemble", X, [f"{i:032x}" for i in range(len(X))], [str(i) for i in range(len(X))],
                           encoder="synthetic", prep_version="synthetic-1", detector="aewres",
                           params={"threads": threads, "max_epochs": 2, "ensemble": members})
    x = X[:1].astype(np.float32)
    return {"members": members, "assess_ms": round(median_seconds(lambda: m.assess(x), calls) * 1e3, 4),
            "calls": calls}


def ensemble_training(X: np.ndarray, threads: int, members: int) -> dict:
    """Train an ``members``-member ensemble one member at a time (``jobs=1``) and then with the default number of
    worker processes (``jobs=0``); wall times, the speed-up, and whether both give the same scores."""
    from loopwatch.detect import make_detector
    from loopwatch.detect.split import split_rows

    tr, va = split_rows(len(X))
    wall, scores, used = {}, {}, {}
    for jobs in (1, 0):
        t0 = time.perf_counter()
        det = make_detector("aewres", ensemble=members, threads=threads, jobs=jobs).fit(X[tr], X[va])
        wall[jobs] = time.perf_counter() - t0
        scores[jobs] = det.score_samples(X[va])
        used[jobs] = det.info_["jobs"]
    return {"members": members, "jobs": used[0], "one_at_a_time_s": round(wall[1], 1),
            "at_once_s": round(wall[0], 1), "speedup": round(wall[1] / wall[0], 2),
            "same_scores": bool(np.array_equal(scores[1], scores[0]))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dims", default="1024,236", help="input widths to measure (comma-separated)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1, see the docstring)")
    ap.add_argument("--epochs-compare", type=int, default=3, help="epochs per phase and round in the side-by-side")
    ap.add_argument("--skip-full", action="store_true", help="skip the full training runs")
    ap.add_argument("--ensemble-train", type=int, default=0, metavar="N",
                    help="also train an N-member ensemble one member at a time and with the default worker processes "
                    "(2N full trainings per width: minutes)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "detect_speed.md"))
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    results: dict = {"threads": args.threads, "rows": N_ROWS, "torch": torch.__version__,
                     "load_before": loadavg(), "command": "python " + " ".join(sys.argv), "dims": {}}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["LOOPWATCH_HOME"] = str(home)
        for dim in [int(d) for d in args.dims.split(",")]:
            X = synthetic_embeddings(dim)
            r: dict = {}
            print(f"[{dim}-d] side-by-side epochs ...", flush=True)
            r["epoch_compare"] = compare_epochs(X, args.epochs_compare)
            print(json.dumps(r["epoch_compare"]), flush=True)
            if not args.skip_full:
                print(f"[{dim}-d] full training (defaults) ...", flush=True)
                m, r["full_training"] = full_training(X, args.threads, home, str(dim))
                print(json.dumps(r["full_training"]), flush=True)
            else:
                from loopwatch.modelstore import TrainedModel

                m = TrainedModel.train(f"speed-{dim}", X, [f"{i:032x}" for i in range(len(X))],
                                       [str(i) for i in range(len(X))], encoder="synthetic",
                                       prep_version="synthetic-1", detector="aewres",
                                       params={"threads": args.threads, "max_epochs": 2})
            r["scoring"] = scoring(m, X, home)
            print(json.dumps(r["scoring"]), flush=True)
            r["scoring_ensemble"] = ensemble_scoring(X, args.threads)
            print(json.dumps(r["scoring_ensemble"]), flush=True)
            if args.ensemble_train > 1:
                print(f"[{dim}-d] ensemble of {args.ensemble_train}: one member at a time, then at once ...", flush=True)
                r["ensemble_training"] = ensemble_training(X, args.threads, args.ensemble_train)
                print(json.dumps(r["ensemble_training"]), flush=True)
            results["dims"][str(dim)] = r
    results["load_after"] = loadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    out.write_text(render_markdown(results))
    print(out.read_text())
    return 0


def render_markdown(r: dict) -> str:
    lines = ["# Detector speed", "", f"Command: `{r['command']}`  ", f"torch {r['torch']}, {r['threads']} thread(s), "
             f"{r['rows']} synthetic embeddings; load average before {r['load_before']}, after {r['load_after']} "
             "(2-core shared VM).", ""]
    lines += ["## Full training (Deep SVDD AEwRES, loopwatch's defaults)", "",
              "| dim | wall s | CPU s | epochs pre-train (best) | epochs SVDD (best) | target < 60 s |",
              "|---|---|---|---|---|---|"]
    for d, x in r["dims"].items():
        f = x.get("full_training")
        if f:
            lines.append(f"| {d} | {f['wall_s']} | {f['cpu_s']} | {f['epochs_pretrain']} ({f['best_epoch_pretrain']}) | "
                         f"{f['epochs_svdd']} ({f['best_epoch_svdd']}) | {'met' if f['wall_s'] < 60 else 'missed'} |")
    lines += ["", "## Seconds per epoch, side by side with the reference loop style", "",
              "| dim | phase | loopwatch | reference | speed-up |", "|---|---|---|---|---|"]
    for d, x in r["dims"].items():
        for ph, v in x["epoch_compare"].items():
            lines.append(f"| {d} | {ph} | {v['ours_s_per_epoch']} | {v['reference_s_per_epoch']} | {v['speedup']}x |")
    lines += ["", "## Scoring one cached embedding (median of 2,000 calls)", "",
              "| dim | assess ms | cache lookup + assess ms | reference torch per-file ms | speed-up | target < 1 ms |",
              "|---|---|---|---|---|---|"]
    for d, x in r["dims"].items():
        s = x["scoring"]
        lines.append(f"| {d} | {s['assess_ms']} | {s['cache_lookup_and_assess_ms']} | "
                     f"{s['reference_torch_per_file_ms']} | {s['speedup_vs_reference']}x | "
                     f"{'met' if s['cache_lookup_and_assess_ms'] < 1 else 'missed'} |")
    ens = {d: x["scoring_ensemble"] for d, x in r["dims"].items() if "scoring_ensemble" in x}
    if ens:
        lines += ["", "`--ensemble 5` (five members, each distance scaled and averaged), assess ms: "
                  + ", ".join(f"{d}-d {e['assess_ms']}" for d, e in ens.items()) + "."]
    ens_train = {d: x["ensemble_training"] for d, x in r["dims"].items() if "ensemble_training" in x}
    if ens_train:
        lines += ["", "## Training an ensemble: members one at a time, and in worker processes (`--jobs`)", "",
                  "| dim | members | jobs | one at a time s | at once s | speed-up | same scores |",
                  "|---|---|---|---|---|---|---|"]
        for d, e in ens_train.items():
            lines.append(f"| {d} | {e['members']} | {e['jobs']} | {e['one_at_a_time_s']} | {e['at_once_s']} | "
                         f"{e['speedup']}x | {'yes' if e['same_scores'] else 'NO'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
