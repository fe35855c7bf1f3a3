"""Run the whole benchmark on a corpus folder: features, detectors, checks, figures, report.

:func:`run_benchmark` is what ``loopwatch bench evaluate`` and
``bench/evaluate.py`` call; the pieces live in :mod:`~loopwatch.evaluation.harness`,
:mod:`~loopwatch.evaluation.figures` and :mod:`~loopwatch.evaluation.report`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from loopwatch.evaluation import harness as H
from loopwatch.evaluation.manifest import read_manifest, read_meta

Progress = H.Progress


@dataclass
class BenchmarkConfig:
    """What to evaluate and how (the defaults are the documented benchmark)."""

    encoders: list[str] = field(default_factory=lambda: ["spectral"])
    detectors: list[str] = field(default_factory=lambda: ["aewres", "ae", "iforest", "pca", "mean-distance"])
    checks: list[str] = field(default_factory=lambda: ["reference"])
    libraries: list[str] | None = None
    quantile: float = 0.95
    tolerance_ms: float = 10.0
    min_severity: str = "warn"
    figures: bool = True
    cache: bool = True
    boot: int = 500
    threads: int = 1
    run_detectors: bool = True
    run_checks: bool = True
    command: str = ""


def versions() -> dict[str, str]:
    """Versions of loopwatch and the numeric libraries the numbers depend on."""
    import platform
    import sys

    from loopwatch import __version__

    out = {"loopwatch": __version__, "python": sys.version.split()[0], "numpy": np.__version__,
           "platform": platform.platform(terse=True)}
    for mod in ("scipy", "sklearn", "torch", "matplotlib", "soundfile"):
        try:
            m = __import__(mod)
            out["scikit-learn" if mod == "sklearn" else mod] = str(getattr(m, "__version__", "?"))
        except ImportError:
            continue
    return out


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, float) and not np.isfinite(o):
        return None
    return o


def run_benchmark(corpus: str | os.PathLike, out: str | os.PathLike, cfg: BenchmarkConfig | None = None, *,
                  progress: Progress | None = None) -> dict[str, Any]:
    """Evaluate ``cfg``'s detectors and checks on the corpus in ``corpus``; write the report into ``out``.

    Writes ``summary.md``, ``results.json`` and the PNG figures into ``out``
    and returns the results (the content of ``results.json``).
    """
    from loopwatch.evaluation import figures as F
    from loopwatch.evaluation.report import write_report

    cfg = cfg or BenchmarkConfig()
    if cfg.threads > 0 and cfg.run_detectors:
        _set_torch_threads(cfg.threads)
    root = Path(corpus)
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    entries = read_manifest(root)
    meta = read_meta(root)
    libs = cfg.libraries or sorted({e.library for e in entries})
    unknown = set(libs) - {e.library for e in entries}
    if unknown:
        raise H.HarnessError(f"{root}: no library called {', '.join(sorted(unknown))} in the manifest")
    entries = [e for e in entries if e.library in libs]
    t_start = time.perf_counter()
    results: dict[str, Any] = {
        "command": cfg.command, "corpus": str(root), "corpus_meta": meta, "versions": versions(),
        "config": {k: v for k, v in cfg.__dict__.items() if k != "command"},
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "figures": [], "detectors": [], "features": {},
    }
    if cfg.run_detectors and cfg.detectors:
        for enc in cfg.encoders:
            fs = H.compute_features(root, entries, enc, cache=True if cfg.cache else None, progress=progress)
            results["features"][enc] = {"n": len(fs.files), "dim": int(fs.X.shape[1]) if fs.X.ndim == 2 else 0,
                                        "errors": fs.errors, **fs.info}
            det = H.evaluate_detectors(entries, fs, cfg.detectors, libraries=libs, quantile=cfg.quantile,
                                       boot=cfg.boot, progress=progress)
            results["detectors"] += [r.to_dict() for r in det]
            if cfg.figures:
                results["figures"] += _detector_figures(outdir, fs, entries, det, libs, enc, F)
    if cfg.run_checks and cfg.checks:
        fns = [H.check_function(s) for s in cfg.checks]
        todo = [e for e in entries if e.family in ("normal", "defect")]
        run = H.run_checks(root, todo, [fn for _, fn in fns], progress=progress)
        ev = H.evaluate_checks(todo, run, tolerance_s=cfg.tolerance_ms / 1000.0, min_severity=cfg.min_severity)
        ev["checks"] = [label for label, _ in fns]
        results["checks"] = ev
        if cfg.figures and any(not g.get("not_run") for g in ev["grades"]):
            p = F.check_recall(ev["grades"], outdir / "checks_recall.png",
                               title=f"checks: recall and F1 by strength ({', '.join(ev['checks'])})")
            results["figures"].append(p.name)
    results["seconds"] = round(time.perf_counter() - t_start, 1)
    results = _jsonable(results)
    (outdir / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    write_report(results, outdir / "summary.md")
    return results


def _set_torch_threads(n: int) -> None:
    """Small networks train faster on one thread than on busy-waiting OpenMP teams (and reproducibly)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    torch.set_num_threads(n)


def _detector_figures(outdir: Path, fs: H.FeatureSet, entries, det: list[H.DetectorResult], libs: list[str],
                      enc: str, F) -> list[str]:
    names: list[str] = []
    for lib in libs:
        rs = [r for r in det if r.library == lib]
        if not rs:
            continue
        for r in rs:
            p = F.score_histogram(r.scores["train"], r.scores["val"], r.threshold,
                                  outdir / f"hist_{lib}_{enc}_{r.detector}.png",
                                  title=f"{lib} / {enc} / {r.detector}: train vs validation scores")
            names.append(p.name)
            if r.latent is not None and r.latent["train"].ndim == 2 and r.latent["train"].shape[1] >= 1:
                p = F.latent_pca(r.latent["train"], r.latent["test"], r.test_family,
                                 outdir / f"pca_{lib}_{enc}_{r.detector}.png", space=f"{r.detector} latent",
                                 title=f"{lib} / {enc} / {r.detector}: PCA of the latent space")
                names.append(p.name)
        p = F.detector_boxplots(rs, outdir / f"box_{lib}_{enc}.png", title=f"{lib} / {enc}: score / threshold")
        names.append(p.name)
        p = F.roc_curves(rs, outdir / f"roc_{lib}_{enc}.png", title=f"{lib} / {enc}: all anomalies")
        names.append(p.name)
        tr, _, te = H.library_splits(entries, lib)
        X_tr, _ = fs.rows([e.file for e in tr])
        X_te, kept = fs.rows([e.file for e in te])
        fam = {e.file: e.family for e in te}
        if X_tr.shape[0] >= 2:
            p = F.latent_pca(X_tr, X_te, [fam[f] for f in kept], outdir / f"pca_{lib}_{enc}.png",
                             space=f"{enc} embedding", title=f"{lib}: PCA of the {enc} embedding space")
            names.append(p.name)
    return names
