"""``loopwatch report``: a static HTML page with figures of one or more trained models."""

from __future__ import annotations

from pathlib import Path

import typer

from loopwatch.cli._common import fail


def report_cmd(
    out: Path = typer.Argument(..., help="HTML file to write; figures go to <stem>_files/ beside it."),
    model: list[str] = typer.Option(None, "--model", "-m", help="Model name; repeat to compare several "
                                    "(default: models.default in the config)."),
) -> None:
    """Draw score histograms, box plots, the latent PCA scatter and latent density/heatmap views as PNG + HTML."""
    from loopwatch.config import load_config
    from loopwatch.modelstore import ModelError, TrainedModel

    names = list(model or [])
    if not names:
        default = load_config()["models"]["default"]
        if not default:
            fail("no model given: pass --model NAME (repeatable) or set [models] default in the config")
        names = [default]
    try:
        models = [TrainedModel.load(n) for n in names]
    except ModelError as exc:
        fail(str(exc))
    from loopwatch.report import build_report, figure_paths

    try:
        path = build_report(models, out)
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror or exc}")
    figs = figure_paths(path)
    typer.echo(f"wrote {path} ({len(figs)} figures in {figs[0].parent if figs else path.parent})")


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
