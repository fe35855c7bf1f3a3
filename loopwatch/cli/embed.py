"""``loopwatch embed``: embed files and folders through the cache."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from loopwatch.cli._common import collect_audio_files, fail, print_json, warn


def embed_cmd(
    paths: list[Path] = typer.Argument(..., help="Audio files and folders (walked recursively)."),
    encoder: str = typer.Option(None, "--encoder", "-e", help="clap-music (default), clap-fusion or spectral."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the vectors, paths and hashes to this .npz file."),
    device: str = typer.Option(None, "--device", help="cuda, mps or cpu (default: the best available)."),
    precision: str = typer.Option("auto", "--precision", help="auto, fp32, fp16 or bf16."),
    batch_size: int = typer.Option(None, "--batch-size", help="Clips per forward pass (default: per device)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON record per file and a summary."),
) -> None:
    """Embed audio files with an encoder, reusing cached vectors for unchanged content."""
    from loopwatch.cli._common import progress
    from loopwatch.config import load_config
    from loopwatch.embed import EncoderError
    from loopwatch.embedding import embed_files

    cfg = load_config()
    name = encoder or cfg["embed"]["encoder"]
    if out is not None:
        if not out.name or out.is_dir():
            fail(f"--out {str(out)!r} is a folder; give the name of the .npz file to write")
        if out.suffix.lower() != ".npz":
            out = out.with_name(out.name + ".npz")  # what numpy writes anyway: say so
    files = collect_audio_files(paths)
    t0 = time.perf_counter()
    try:
        with progress(transient=True) as bar:
            task = bar.add_task(f"embedding ({name})", total=len(files))
            res = embed_files(files, name, device=device or cfg["embed"]["device"], precision=precision,
                              max_duration=cfg["audio"]["max_duration_s"],
                              batch_size=batch_size or cfg["embed"]["batch_size"] or None,
                              progress=lambda d, t: bar.update(task, completed=d))
    except EncoderError as exc:
        fail(str(exc))
    elapsed = time.perf_counter() - t0
    if out is not None:
        import numpy as np

        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out, X=res.X, paths=np.array([str(p) for p in res.paths]),
                            hashes=np.array(res.hashes), durations=np.array(res.durations),
                            encoder=res.encoder, prep_version=res.prep_version)
    summary = {"type": "summary", "encoder": res.encoder, "prep_version": res.prep_version, "files": len(files),
               "embedded": len(res), "cached": res.n_cached, "computed": res.n_computed,
               "skipped": len(res.errors), "seconds": round(elapsed, 3), "out": str(out) if out else None}
    if as_json:
        for p, h, d, v in zip(res.paths, res.hashes, res.durations, res.X):
            print_json({"type": "embedding", "path": str(p), "hash": h, "duration": d, "norm": float((v**2).sum() ** 0.5)})
        for p, reason in res.errors:
            print_json({"type": "error", "path": str(p), "error": reason})
        print_json(summary)
        return
    for _, reason in res.errors:
        warn(f"skipped {reason}")
    typer.echo(f"{len(res)} of {len(files)} files embedded with {res.encoder} ({res.X.shape[1] if len(res) else 0}-d): "
               f"{res.n_cached} from cache, {res.n_computed} computed, {len(res.errors)} skipped, {elapsed:.1f} s"
               + (f"; wrote {out}" if out else ""))


def register(app: typer.Typer) -> None:
    app.command("embed")(embed_cmd)
