"""The offline demo (``loopwatch demo``): everything loopwatch does, on loops it makes itself.

1. Renders a small library of real-instrument loops (FluidSynth + the FluidR3 GM
   soundfont when installed; plain synthesised loops otherwise), plus loops that
   do not belong (drums, speech, noise...) and copies with injected defects.
2. Decodes and embeds them: the ``spectral`` encoder, and the CLAP fusion
   encoder with *random* weights in LAION's checkpoint layout (it proves the
   HTS-AT pipeline runs offline; real weights come from ``loopwatch encoders download``).
3. Trains a Deep SVDD (AEwRES) model on the bass loops and scores loops it has
   not seen: normal ones and ones that do not belong.
4. Runs the quality checks on the defective copies and shows what they found, where.
5. Starts the daemon on a folder, drops files into it, and prints the OSC
   alerts as the Max for Live device or the REAPER panel would receive them.

Everything lives in the output folder (``LOOPWATCH_HOME`` is pointed there), so
the demo never touches your own models, cache or configuration. No network.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

Say = Callable[[str], None]


def _synth_library(root: Path, n_normal: int, seed: int) -> list[Any]:
    """Fallback when FluidSynth is missing: synthesised bass loops, drum-like and noise loops, and defects."""
    import soundfile as sf

    from loopwatch.evaluation.defects import DEFECTS, EXPECTED_CHECK, InjectionError, inject
    from loopwatch.evaluation.manifest import Entry

    rng = np.random.default_rng(seed)
    entries: list[Entry] = []

    def write(rel: str, x: np.ndarray) -> None:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, x.T, 48000, subtype="PCM_24")

    def bass(i: int, bpm: float) -> np.ndarray:
        n = int(4 * 4 * 60 / bpm * 48000) if i % 2 else int(2 * 4 * 60 / bpm * 48000)
        t = np.arange(n) / 48000
        x = np.zeros(n)
        step = 60 / bpm / 2
        root_f = 41.2 * 2 ** (rng.integers(0, 12) / 12)
        for k, start in enumerate(np.arange(0, n / 48000, step)):
            f = root_f * 2 ** (rng.choice([0, 0, 7, 12, 3, 5]) / 12)
            m = (t >= start) & (t < start + step * 0.95)
            tt = t[m] - start
            x[m] += np.exp(-tt * 4) * (1 - np.exp(-tt * 800)) * sum(np.sin(2 * np.pi * f * h * tt) / h for h in (1, 2, 3))
        x *= 10 ** (rng.uniform(-10, -4) / 20) / max(1e-9, np.abs(x).max())
        return np.stack([x, x * 0.98])

    splits = ["train"] * int(n_normal * 0.6) + ["val"] * int(n_normal * 0.2)
    splits += ["test"] * (n_normal - len(splits))
    for i, split in enumerate(splits):
        bpm = float(rng.integers(70, 160))
        rel = f"bass/normal/{split}/bass_{i:03d}_{bpm:.0f}bpm.wav"
        write(rel, bass(i, bpm))
        entries.append(Entry(rel, "bass", split, "normal", "normal", "bass", tempo=bpm))
    for i in range(4):
        n = 4 * 48000
        kind = "noise-bed" if i % 2 else "drums"
        x = rng.standard_normal(n) * (0.05 if kind == "noise-bed" else 0.0)
        if kind == "drums":
            for start in range(0, n, 12000):
                seg = min(6000, n - start)
                x[start : start + seg] += rng.standard_normal(seg) * np.exp(-np.arange(seg) / 800) * 0.5
        rel = f"bass/out-of-style/{kind}_{i}.wav"
        write(rel, np.stack([x, x]))
        entries.append(Entry(rel, "bass", "test", "anomaly", "out-of-style", kind))
    tests = [e for e in entries if e.split == "test" and e.family == "normal"]
    for j, kind in enumerate(("click", "clipping", "dropout", "seam", "hum", "dc-offset")):
        src = tests[j % len(tests)]
        x, _ = sf.read(root / src.file, always_2d=True)
        try:
            inj = inject(kind, x.T.astype(np.float64), rng=np.random.default_rng(seed + j))
        except InjectionError:
            continue
        rel = f"bass/defects/{kind}/{Path(src.file).stem}_{kind}.wav"
        write(rel, inj.audio)
        entries.append(Entry(rel, "bass", "test", "anomaly", "defect", kind, check=EXPECTED_CHECK[kind],
                             strength=DEFECTS[kind].default, positions=[list(s) for s in inj.spans],
                             source=src.file))
    return entries


def run_demo(out: Path, *, clap: bool = True, say: Say = print, seed: int = 0) -> dict[str, Any]:
    """Run every step; return a summary (also used by the tests)."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ["LOOPWATCH_HOME"] = str(out / "home")
    summary: dict[str, Any] = {"out": str(out)}
    t_start = time.perf_counter()

    # 1. loops --------------------------------------------------------------------------
    corpus = out / "loops"
    if corpus.exists():
        shutil.rmtree(corpus)
    say("1. Making loops")
    try:
        from loopwatch.evaluation.corpus import CorpusError, CorpusSize, build_corpus

        t0 = time.perf_counter()
        entries, meta = build_corpus(corpus, size=CorpusSize("demo", 60, 1, 1, 0), seed=seed)
        say(f"   rendered {meta['counts']['bass'].get('normal/train', 0) + meta['counts']['bass'].get('normal/val', 0) + meta['counts']['bass'].get('normal/test', 0)} bass and "
            f"{sum(v for k, v in meta['counts']['guitar'].items() if k.startswith('normal'))} guitar loops with FluidSynth "
            f"(FluidR3 GM), plus out-of-style loops and defective copies, in {time.perf_counter() - t0:.1f} s")
        summary["renderer"] = "fluidsynth"
    except CorpusError as exc:
        say(f"   FluidSynth is not available ({exc}); synthesising simple loops instead")
        corpus.mkdir(parents=True)
        entries = _synth_library(corpus, 40, seed)
        summary["renderer"] = "numpy"
    bass = [e for e in entries if e.library == "bass"]
    summary["files"] = len(entries)

    # 2. decode and embed ---------------------------------------------------------------
    say("2. Decoding and embedding")
    from loopwatch.audio import load
    from loopwatch.embedding import embed_files

    sample = load(corpus / bass[0].file)
    say(f"   {Path(bass[0].file).name}: {sample.duration:.2f} s, {sample.channels} channels, decoded at "
        f"{sample.sr} Hz (source {sample.orig_sr} Hz)")
    t0 = time.perf_counter()
    res = embed_files([corpus / e.file for e in entries], "spectral", cache=True)
    say(f"   spectral encoder: {len(res)} files -> {res.X.shape[1]}-d vectors in {time.perf_counter() - t0:.1f} s "
        f"({len(res.errors)} unreadable)")
    again = embed_files([corpus / e.file for e in entries], "spectral", cache=True)
    say(f"   a second pass reads nothing: {again.n_cached} of {len(again)} vectors from the cache")
    summary["embedded"] = len(res)
    vec = dict(zip((str(p) for p in res.paths), res.X))
    hash_of = dict(zip((str(p) for p in res.paths), res.hashes))
    if clap:
        from loopwatch.embed import get_encoder, weights
        from loopwatch.embed.testing import write_laion_checkpoint

        t0 = time.perf_counter()
        ck = out / "random-630k-audioset-fusion-best.pt"
        write_laion_checkpoint(ck, "tiny", True, seed=seed)
        weights.convert(ck, "clap-fusion")
        ck.unlink()
        enc = get_encoder("clap-fusion")
        longest = max(bass, key=lambda e: e.n_samples or 0)
        clips = [load(corpus / e.file).mono for e in (bass[0], longest)]
        z = enc.embed(clips)
        say(f"   clap-fusion (HTS-AT tiny + feature fusion, RANDOM weights in LAION's layout, offline): "
            f"{z.shape[0]} loops ({', '.join(f'{len(c) / 48000:.1f} s' for c in clips)}) -> {z.shape[1]}-d "
            f"on {enc.device} ({enc.precision}) in {time.perf_counter() - t0:.1f} s")
        say("   (real weights: loopwatch encoders download clap-music)")
        summary["clap_dim"] = int(z.shape[1])

    # 3. train and score -----------------------------------------------------------------
    say("3. Learning what normal bass loops look like (Deep SVDD, AEwRES)")
    from loopwatch.modelstore import TrainedModel

    train = [e for e in bass if e.family == "normal" and e.split in ("train", "val")]
    rows = [str(corpus / e.file) for e in train if str(corpus / e.file) in vec]
    hashes = [hash_of[p] for p in rows]
    X = np.stack([vec[p] for p in rows])
    t0 = time.perf_counter()
    model = TrainedModel.train("demo-bass", X, hashes, rows, encoder="spectral", prep_version=res.prep_version,
                               detector="aewres", params={"threads": 1})
    model.save(overwrite=True)
    info = model.detector.info_
    say(f"   trained on {len(rows)} loops in {time.perf_counter() - t0:.1f} s ({info.get('epochs')} epochs); "
        f"threshold {model.threshold:.4g} (95th percentile of validation scores)")
    test = [e for e in bass if e.split == "test" and e.family in ("normal", "out-of-style")]
    test = [e for e in test if str(corpus / e.file) in vec]
    Xt = np.stack([vec[str(corpus / e.file)] for e in test])
    verdicts = model.assess(Xt)
    say(f"   {'file':44s} {'really':14s} {'ratio':>6s}  verdict")
    for e, a in sorted(zip(test, verdicts), key=lambda t: t[1].ratio):
        say(f"   {Path(e.file).name[:44]:44s} {e.kind:14s} {a.ratio:6.2f}  {a.verdict}")
    y = np.array([e.family != "normal" for e in test])
    s = np.array([a.score for a in verdicts])
    if y.any() and (~y).any():
        from loopwatch.evaluation.metrics import roc_auc as auroc

        summary["auroc"] = float(auroc(y, s))
        say(f"   AUROC normal vs out-of-style on these {len(test)} unseen loops: {summary['auroc']:.2f}")

    # 4. checks --------------------------------------------------------------------------
    say("4. Quality checks on defective copies (what, and where)")
    from loopwatch.checks import run_checks

    found_right = 0
    defects = [e for e in bass if e.family == "defect"]
    for e in defects:
        findings = [f for f in run_checks(load(corpus / e.file)) if f.severity != "info"]
        want = e.positions[0][0] / 48000 if e.positions else None
        hit = [f for f in findings if f.check == e.check]
        ok = bool(hit)
        found_right += ok
        where = f" at {want:.3f} s" if want is not None and e.positions and e.positions[0][1] - e.positions[0][0] < 48000 else ""
        got = "; ".join(f.message for f in (hit or findings)[:2]) or "nothing found"
        say(f"   {'ok ' if ok else 'MISS'} {e.kind}{where}: {got}")
    summary["defects"] = len(defects)
    summary["defects_found"] = found_right

    # 5. the daemon ----------------------------------------------------------------------
    say("5. The daemon: files land in a watched folder, alerts go out over OSC")
    from pythonosc.osc_message import OscMessage

    from loopwatch.config import load_config
    from loopwatch.daemon import Daemon

    import logging

    logging.getLogger("loopwatch.daemon").setLevel(logging.ERROR)  # the OSC lines below say it all
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    watch = out / "watched" / "Samples" / "Recorded"
    if watch.parent.parent.exists():
        shutil.rmtree(watch.parent.parent)
    watch.mkdir(parents=True)
    cfg = load_config(overrides={"osc.port": 0, "osc.push_targets": [f"127.0.0.1:{port}"], "models.default": "demo-bass",
                                 "watch.settle_s": 0.3})
    daemon = Daemon(cfg, [watch.parent.parent])
    daemon.start()
    say(f"   daemon listening on {daemon.osc_address[0]}:{daemon.osc_address[1]}, pushing to 127.0.0.1:{port} "
        f"(where the Max device or REAPER panel would be)")
    drops = [e for e in test if e.family == "normal"][:1] + [e for e in defects if e.kind in ("click", "clipping")][:2]
    drops += [e for e in test if e.family == "out-of-style"][:1]
    received: list[tuple[str, list]] = []
    try:
        for e in drops:
            shutil.copy(corpus / e.file, watch / Path(e.file).name)
        deadline = time.monotonic() + 60
        files_seen = 0
        listener.settimeout(0.2)
        while files_seen < len(drops) and time.monotonic() < deadline:
            try:
                data, _ = listener.recvfrom(65536)
            except socket.timeout:
                continue
            m = OscMessage(data)
            received.append((m.address, list(m.params)))
            if m.address == "/loopwatch/alert":
                a = m.params
                say(f"   /loopwatch/alert #{a[0]} {a[2]:5s} {a[3]:10s} {Path(a[1]).name}: {a[7]}")
            elif m.address == "/loopwatch/file":
                files_seen += 1
                say(f"   /loopwatch/file  {Path(m.params[0]).name}: {m.params[1]}"
                    + (f", outlier ratio {m.params[2]:.2f}" if m.params[2] >= 0 else ""))
    finally:
        daemon.stop()
        listener.close()
    summary["osc_messages"] = len(received)
    summary["osc_files"] = sum(1 for a, _ in received if a == "/loopwatch/file")
    summary["seconds"] = round(time.perf_counter() - t_start, 1)
    say(f"Done in {summary['seconds']} s. Everything is in {out}.")
    say("Next: loopwatch encoders download clap-music; loopwatch train ~/Samples/Bass --name bass; "
        "loopwatch watch --daw ableton --model bass")
    return summary
