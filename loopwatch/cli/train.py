"""``loopwatch train``: learn a library's normal loops and save the model by name."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import typer

from loopwatch.cli._common import collect_audio_files, epochs_text, fail, fmt_number as _fmt, print_json, warn

_PHASES = {"pretrain": "pre-training autoencoder", "svdd": "Deep SVDD"}


def train_cmd(
    paths: list[Path] = typer.Argument(..., help="Folders (walked recursively) and audio files of normal loops."),
    name: str = typer.Option(..., "--name", "-n", help="Name to save the model under."),
    encoder: str = typer.Option(None, "--encoder", "-e", help="clap-music (default), clap-fusion or spectral."),
    detector: str = typer.Option(None, "--detector", "-d", help="aewres, ae, iforest or pca "
                                 "(default: train.detector in the config, aewres)."),
    quantile: float = typer.Option(None, "--quantile", "-q", help="Threshold quantile of the validation scores "
                                   "(default: train.quantile in the config, 0.95)."),
    compare: bool = typer.Option(False, "--compare", help="Also train the other three detectors on the same "
                                 "split and print their thresholds and validation score spreads side by side."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an existing model of the same name."),
    seed: int = typer.Option(0, "--seed", help="Seed of the split, the initialisation and the batch order."),
    max_epochs: int = typer.Option(None, "--max-epochs", help="Cap on epochs per training phase (default 1000)."),
    ensemble: int = typer.Option(None, "--ensemble", help="Deep SVDD: average N members trained with seeds SEED.."
                                 "SEED+N-1 (N times the training time; steadier than one, see docs/detectors.md; default: "
                                 "train.<detector>.ensemble in the config, 1)."),
    threads: int = typer.Option(0, "--threads", help="CPU threads for training the neural detectors "
                                "(0: half the CPUs, at most 4; 1 per ensemble member)."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Ensemble members trained at once, each in its own process "
                             "(0: as many as the CPUs hold at --threads each). The model does not depend on it."),
    no_embeddings: bool = typer.Option(False, "--no-embeddings", help="Do not store the training embeddings "
                                       "(smaller file; `score --nearest` and `report` latent views need them)."),
    settings: list[str] = typer.Option(None, "--set", "-s", metavar="KEY=VALUE",
                                       help="A detector hyper-parameter (repeatable), e.g. --set init=torch --set "
                                       "patience=30; VALUE is read as JSON (numbers, true/false, lists), else as "
                                       "text. See docs/detectors.md for each detector's."),
    device: str = typer.Option(None, "--device", help="Encoder device: cuda, mps or cpu (default: the best)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON records (skipped files, comparison, summary)."),
) -> None:
    """Train a detector on a folder of normal loops and save it as NAME.

    Files are embedded through the cache, split 80/20 by file into training and
    validation sets, and the detector's threshold is set to the QUANTILE of the
    validation scores.
    """
    from loopwatch.cli._common import progress
    from loopwatch.config import load_config, train_params
    from loopwatch.detect import DETECTOR_LABELS, DETECTOR_TYPES, DetectorError, detector_class
    from loopwatch.embed import EncoderError
    from loopwatch.embedding import embed_files
    from loopwatch.modelstore import (FEW_TRAIN_FILES, MIN_TRAIN_FILES, ModelError, TrainedModel, build_detector,
                                      model_paths)

    t_start = time.perf_counter()
    cfg = load_config()
    enc_name = encoder or cfg["embed"]["encoder"]
    detector = detector or cfg["train"]["detector"]
    quantile = cfg["train"]["quantile"] if quantile is None else quantile
    if detector not in DETECTOR_TYPES:
        fail(f"unknown detector {detector!r}; choose from {', '.join(DETECTOR_TYPES)}")
    if not 0.0 < quantile < 1.0:
        fail(f"--quantile must be between 0 and 1, got {quantile}")
    try:
        st_path, js_path = model_paths(name)
    except ModelError as exc:
        fail(str(exc))
    if not force and (st_path.exists() or js_path.exists()):
        fail(f"a model named {name!r} exists already ({js_path}); choose another name or pass --force")
    params: dict[str, Any] = {}
    if max_epochs is not None:
        if max_epochs < 1:
            fail("--max-epochs must be at least 1")
        params["max_epochs"] = max_epochs
    if seed < 0:
        fail("--seed must be 0 or more")
    if threads < 0:
        fail("--threads must be 0 or more")
    if jobs < 0:
        fail("--jobs must be 0 or more")
    if ensemble is not None:
        from loopwatch.detect.svdd import MAX_MEMBERS

        if not 1 <= ensemble <= MAX_MEMBERS:
            fail(f"--ensemble must be between 1 and {MAX_MEMBERS}, got {ensemble}")
        params["ensemble"] = ensemble
    if threads:
        params["threads"] = threads
    if jobs:
        params["jobs"] = jobs
    kinds = [detector, *([k for k in DETECTOR_TYPES if k != detector] if compare else [])]
    try:
        extra = parse_settings(settings or [])
    except ValueError as exc:
        fail(str(exc))
    for key in extra:
        if not any(key in detector_class(k).defaults for k in kinds):
            known = sorted(set().union(*(detector_class(k).defaults for k in kinds)) - set(_OWN_OPTIONS))
            who = f"{detector} has no" if len(kinds) == 1 else "no detector has a"
            fail(f"--set {key}: {who} hyper-parameter {key!r}; known: {', '.join(known)}")

    def params_for(kind: str) -> dict[str, Any]:
        """The hyper-parameters for ``kind``: its [train.<kind>] table in the config, then the options above (neural
        detectors), then the --set values it knows."""
        klass = detector_class(kind)
        base = params if kind in ("ae", "aewres") else {}
        return {**train_params(cfg, kind), **base, **{k: v for k, v in extra.items() if k in klass.defaults}}

    for kind in kinds:  # refuse a bad value now, not after embedding
        try:
            build_detector(kind, quantile, params_for(kind), seed).check_params()
        except DetectorError as exc:
            fail(f"--set: {exc}")
    try:  # refuse now, not after embedding and training, when the model cannot be saved
        st_path.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(st_path.parent, os.W_OK):
            raise PermissionError(13, "Permission denied", str(st_path.parent))
    except OSError as exc:
        fail(f"cannot save models in {st_path.parent}: {exc.strerror or exc}")
    files = collect_audio_files(paths)

    # 1. embeddings, through the cache
    try:
        with progress(transient=True) as bar:
            task = bar.add_task(f"embedding ({enc_name})", total=len(files))
            res = embed_files(files, enc_name, device=device or cfg["embed"]["device"],
                              max_duration=cfg["audio"]["max_duration_s"],
                              batch_size=cfg["embed"]["batch_size"] or None,
                              progress=lambda d, t: bar.update(task, completed=d))
    except EncoderError as exc:
        fail(str(exc))
    for p, reason in res.errors:
        if as_json:
            print_json({"type": "skipped", "path": str(p), "error": reason})
        else:
            warn(f"skipped {reason}")
    n_distinct = len(set(res.hashes))
    if n_distinct < MIN_TRAIN_FILES:
        fail(f"need at least {MIN_TRAIN_FILES} distinct readable audio files to train, got {n_distinct} "
             f"({len(res.errors)} skipped)")
    if n_distinct < FEW_TRAIN_FILES and not as_json:
        warn(f"only {n_distinct} files: the threshold rests on about {round(0.2 * n_distinct)} validation scores; "
             f"{FEW_TRAIN_FILES}+ loops give a steadier model")


    def fit(kind: str) -> TrainedModel:
        p = params_for(kind)
        with progress(transient=True) as bar:
            tasks: dict[str, int] = {}

            def on_epoch(phase: str, epoch: int, total: int, train_loss: float, val_loss: float) -> None:
                base, _, member = phase.partition(" ")  # an ensemble's phases read "pretrain 2/5"
                label = f"{kind}: {_PHASES.get(base, base)}" + (f", member {member}" if member else "")
                if phase not in tasks:
                    # this member's previous phase stopped early: show it complete (members may train at once)
                    for other_phase, other in tasks.items():
                        if other_phase.partition(" ")[2] == member and not bar.tasks[other].finished:
                            bar.update(other, total=bar.tasks[other].completed)
                    tasks[phase] = bar.add_task(label, total=total)
                bar.update(tasks[phase], completed=epoch, description=f"{label} (val loss {val_loss:.4g})")

            try:
                return TrainedModel.train(name, res.X, res.hashes, [os.path.abspath(p_) for p_ in res.paths],
                                          encoder=res.encoder, prep_version=res.prep_version, detector=kind,
                                          quantile=quantile, params=p,
                                          seed=seed, keep_embeddings=not no_embeddings, n_skipped=len(res.errors),
                                          progress=on_epoch)
            except ModelError as exc:
                fail(str(exc))

    model = fit(detector)
    others = [fit(k) for k in kinds[1:]]
    try:
        model.save(overwrite=force)
    except (ModelError, OSError) as exc:
        fail(str(exc))
    elapsed = time.perf_counter() - t_start
    info = model.detector.info_

    if compare:
        rows = [_spread(m) for m in sorted([model, *others], key=lambda m: DETECTOR_TYPES.index(m.kind))]
        if as_json:
            for r in rows:
                print_json({"type": "detector", **r})
        else:
            _print_compare(rows, DETECTOR_LABELS)

    summary = {
        "type": "summary", "name": name, "detector": model.kind, "encoder": res.encoder,
        "prep_version": res.prep_version, "files_found": len(files), "files_used": len(res),
        "files_skipped": len(res.errors), "n_train": info.get("n_train"), "n_val": info.get("n_val"),
        "epochs": info.get("epochs"), "epochs_pretrain": info.get("epochs_pretrain"),
        "epochs_svdd": info.get("epochs_svdd"), "val_loss": info.get("val_loss"),
        "members": len(info.get("members", [])) or (1 if info.get("epochs") is not None else None),
        "jobs": info.get("jobs"),
        "threshold": model.threshold, "quantile": model.detector.quantile,
        "train_seconds": info.get("seconds"), "seconds": round(elapsed, 3),
        "cached": res.n_cached, "computed": res.n_computed, "model_path": str(js_path),
    }
    if as_json:
        print_json(summary)
        return
    lines = [
        f"model        {name} ({DETECTOR_LABELS[model.kind]}, {res.encoder} {model.dim}-d)",
        f"files        {len(res)} used ({info.get('n_train')} train / {info.get('n_val')} validation), "
        f"{len(res.errors)} skipped; {res.n_cached} embeddings from cache, {res.n_computed} computed",
        f"epochs       {epochs_text(info)}",
        f"val loss     {_fmt(info.get('val_loss'))}" + (" (members' mean)" if info.get("members") else ""),
        f"threshold    {model.threshold:.6g} ({model.detector.quantile:g} quantile of validation scores)",
        f"time         {elapsed:.1f} s (training {info.get('seconds', 0):.1f} s)",
        f"saved        {js_path}",
    ]
    typer.echo("\n".join(lines))


#: Hyper-parameters with an option of their own, refused by ``--set``.
_OWN_OPTIONS = {"seed": "--seed", "max_epochs": "--max-epochs", "ensemble": "--ensemble", "threads": "--threads",
                "jobs": "--jobs"}


def parse_settings(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings as a dict; each VALUE is read as JSON (``30``, ``1e-4``, ``true``, ``[512, 256, 32]``),
    and as plain text where it is not JSON (``init=torch``). Raises ``ValueError`` with a one-line reason for an
    item without ``=``, an empty or repeated key, or a key that has an option of its own."""
    import json

    out: dict[str, Any] = {}
    for item in items:
        key, eq, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or not key:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. --set init=torch")
        if key in _OWN_OPTIONS:
            raise ValueError(f"--set {key}: use {_OWN_OPTIONS[key]}")
        if key in out:
            raise ValueError(f"--set {key}: given twice")
        try:
            value = json.loads(text)
        except ValueError:
            value = text.strip()
        out[key] = value
    return out


def _spread(m) -> dict[str, Any]:
    import numpy as np

    v = m.detector.val_scores_
    t = m.detector.train_scores_
    q = np.quantile(v, [0.0, 0.25, 0.5, 0.75, 0.95, 1.0])
    med = float(q[2])
    return {"detector": m.kind, "threshold": m.threshold, "val_min": float(q[0]), "val_q25": float(q[1]),
            "val_median": med, "val_q75": float(q[3]), "val_q95": float(q[4]), "val_max": float(q[5]),
            "val_iqr_over_median": float((q[3] - q[1]) / med) if med > 0 else None,
            "train_median": float(np.median(t)), "epochs": m.detector.info_.get("epochs"),
            "seconds": m.detector.info_.get("seconds")}


def _print_compare(rows: list[dict[str, Any]], labels: dict[str, str]) -> None:
    cols = [("detector", 8), ("threshold", 10), ("val min", 10), ("val q25", 10), ("val median", 10),
            ("val q75", 10), ("val max", 10), ("IQR/med", 8), ("train med", 10), ("epochs", 6), ("fit s", 7)]
    typer.echo("detectors on the same split: thresholds and validation score spreads")
    typer.echo(" ".join(f"{name:>{w}}" if i else f"{name:<{w}}" for i, (name, w) in enumerate(cols)))
    for r in rows:
        vals = [r["detector"], _fmt(r["threshold"]), _fmt(r["val_min"]), _fmt(r["val_q25"]), _fmt(r["val_median"]),
                _fmt(r["val_q75"]), _fmt(r["val_max"]), _fmt(r["val_iqr_over_median"], 3), _fmt(r["train_median"]),
                _fmt(r["epochs"]), _fmt(r["seconds"], 3)]
        typer.echo(" ".join(f"{v:>{w}}" if i else f"{v:<{w}}" for i, (v, (_, w)) in enumerate(zip(vals, cols))))
    typer.echo("(" + "; ".join(f"{r['detector']} = {labels[r['detector']]}" for r in rows) + ")")
    typer.echo("")


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
