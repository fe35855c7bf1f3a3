"""``loopwatch models list|show|remove``: the trained models in the data folder."""

from __future__ import annotations

import typer

from loopwatch.cli._common import epochs_text, fail, fmt_number, print_json

models_app = typer.Typer(help="List, inspect and remove trained models.", no_args_is_help=True)


@models_app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="One JSON record per model.")) -> None:
    """List the models in the data folder."""
    from loopwatch.config import models_dir
    from loopwatch.modelstore import list_models

    rows = list_models()
    if as_json:
        for r in rows:
            print_json(r)
        return
    if not rows:
        typer.echo(f"no models in {models_dir()}; train one with `loopwatch train DIR --name NAME`")
        return
    typer.echo(f"{'name':<20} {'detector':<8} {'encoder':<12} {'files':>6} {'threshold':>11}  created")
    for r in rows:
        if "error" in r:
            typer.echo(f"{r['name']:<20} {r['error']}")
            continue
        thr = r.get("threshold")
        typer.echo(f"{r['name']:<20} {r['detector']:<8} {r['encoder']:<12} {r.get('n_files') or 0:>6} "
                   f"{thr if thr is None else format(thr, '.6g'):>11}  {r.get('created') or ''}")


@models_app.command("show")
def show_cmd(
    name: str = typer.Argument(..., help="Model name."),
    as_json: bool = typer.Option(False, "--json", help="Print the model's summary as JSON."),
) -> None:
    """Show a model's encoder, detector, threshold, score quantiles and training set."""
    from loopwatch.modelstore import ModelError, TrainedModel, model_paths

    try:
        m = TrainedModel.load(name)
    except ModelError as exc:
        fail(str(exc))
    s = m.summary()
    s["params"] = m.detector.params
    s["score_quantiles"] = m.detector.score_quantiles()
    s["info"] = m.detector.info_
    s["files"] = [str(p) for p in model_paths(name)]
    if as_json:
        print_json(s)
        return
    t = m.meta.get("training", {})
    lines = [
        f"name          {m.name}",
        f"detector      {m.kind}",
        *_wrap_params(s["params"]),
        f"encoder       {m.encoder} ({m.dim}-d), preprocessing {m.prep_version}",
        f"threshold     {m.threshold:.6g} ({m.detector.quantile:g} quantile); unusual above "
        f"{m.unusual_threshold:.6g} (0.9 quantile)",
        "val scores    " + ", ".join(f"q{k}={v:.4g}" for k, v in s["score_quantiles"].items()),
        f"training      {t.get('n_files')} files ({t.get('n_train')} train / {t.get('n_val')} validation), "
        f"{t.get('n_skipped', 0)} skipped; {fmt_number(t.get('seconds'), 3)} s",
        f"epochs        {epochs_text(s['info'])}",
        f"val loss      {fmt_number(t.get('val_loss'))}" + (" (members' mean)" if s["info"].get("members") else ""),
        f"fingerprint   {t.get('fingerprint')}",
        f"created       {m.meta.get('created')} with loopwatch {m.meta.get('loopwatch_version')}",
        f"files         {s['files'][1]}",
        f"              {s['files'][0]}",
    ]
    typer.echo("\n".join(lines))


def _wrap_params(params: dict, width: int = 100) -> list[str]:
    """Hyper-parameters as ``KEY=VALUE`` words (the form ``train --set`` takes), in lines of at most ``width``."""
    import json

    words = [f"{k}={v if isinstance(v, str) else json.dumps(v, separators=(',', ':'))}" for k, v in params.items()]
    lines, line = [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width - 14:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    if line:
        lines.append(line)
    return [f"{'params' if i == 0 else '':<14}{text}" for i, text in enumerate(lines)]


@models_app.command("remove")
def remove_cmd(name: str = typer.Argument(..., help="Model name.")) -> None:
    """Delete a model's files."""
    from loopwatch.modelstore import ModelError, remove_model

    try:
        gone = remove_model(name)
    except ModelError as exc:
        fail(str(exc))
    typer.echo(f"removed {name} ({', '.join(p.name for p in gone)})")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
