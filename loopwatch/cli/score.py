"""``loopwatch score``: score files against a trained model."""

from __future__ import annotations

from pathlib import Path

import typer

from loopwatch.cli._common import collect_audio_files, fail, print_json, warn


def score_cmd(
    paths: list[Path] = typer.Argument(..., help="Audio files and folders (walked recursively)."),
    model: str = typer.Option(None, "--model", "-m", help="Model name (default: models.default in the config)."),
    nearest: int = typer.Option(0, "--nearest", "-k", help="Also name the K training loops closest in embedding "
                                "space."),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per file."),
    device: str = typer.Option(None, "--device", help="Encoder device: cuda, mps or cpu (default: the best)."),
) -> None:
    """Print each file's score, ratio to the threshold, percentile and verdict (normal / unusual / outlier).

    "unusual" means above the 90th percentile of the model's validation scores but
    not above its threshold; "outlier" means above the threshold.
    Exits with status 1 when no file could be scored.
    """
    from loopwatch.cli._common import progress
    from loopwatch.config import load_config
    from loopwatch.embed import EncoderError
    from loopwatch.modelstore import ModelError, TrainedModel

    cfg = load_config()
    name = model or cfg["models"]["default"]
    if not name:
        fail("no model given: pass --model NAME or set [models] default in the config (`loopwatch models list`)")
    if nearest < 0:
        fail("--nearest must be 0 or more")
    try:
        m = TrainedModel.load(name)
    except ModelError as exc:
        fail(str(exc))
    files = collect_audio_files(paths)
    try:
        with progress(transient=True) as bar:
            task = bar.add_task(f"embedding ({m.encoder})", total=len(files))
            res, verdicts = m.embed_and_assess(files, device=device or cfg["embed"]["device"],
                                               max_duration=cfg["audio"]["max_duration_s"],
                                               progress=lambda d, t: bar.update(task, completed=d))
        neighbours = m.nearest(res.X, nearest) if nearest and len(res) else [[] for _ in res.paths]
    except (ModelError, EncoderError) as exc:
        fail(str(exc))

    if as_json:
        for p, h, a, nb in zip(res.paths, res.hashes, verdicts, neighbours):
            rec = {"type": "score", "path": str(p), "hash": h, "model": m.name, "detector": m.kind,
                   "encoder": m.encoder, **a.to_dict(), "threshold": m.threshold}
            if nearest:
                rec["nearest"] = [n.to_dict() for n in nb]
            print_json(rec)
        for p, reason in res.errors:
            print_json({"type": "error", "path": str(p), "error": reason})
    else:
        for p, reason in res.errors:
            warn(f"skipped {reason}")
        if len(res):
            typer.echo(f"model {m.name} ({m.kind}, {m.encoder}): threshold {m.threshold:.6g}")
            typer.echo(f"{'verdict':<8} {'ratio':>7} {'pctile':>7} {'score':>11}  file")
        for p, a, nb in zip(res.paths, verdicts, neighbours):
            typer.echo(f"{a.verdict:<8} {a.ratio:>7.3f} {a.percentile:>6.1f}% {a.score:>11.5g}  {p}")
            if nb:
                typer.echo("         sounds most like: " + "; ".join(f"{Path(n.path).name} ({n.distance:.3g})"
                                                                    for n in nb))
    if len(res) == 0:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("score")(score_cmd)
