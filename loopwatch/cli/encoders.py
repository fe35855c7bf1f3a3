"""``loopwatch encoders list|download|import``."""

from __future__ import annotations

from pathlib import Path

import typer

from loopwatch.cli._common import console, fail, print_json

encoders_app = typer.Typer(help="List encoders and install CLAP weights.", no_args_is_help=True)


@encoders_app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Show each encoder, its weights file and whether they are installed."""
    from loopwatch.embed import list_encoders
    from loopwatch.embed.weights import weights_path

    infos = list_encoders()
    if as_json:
        print_json([{**info.__dict__, "path": str(weights_path(info.name)) if info.weights else ""} for info in infos])
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for col in ("encoder", "dim", "weights", "installed", "description"):
        table.add_column(col)
    for info in infos:
        state = "yes" if info.installed else "no"
        table.add_row(info.name, str(info.dim), info.weights or "(none needed)", state, info.description)
    console().print(table)
    if not all(i.installed for i in infos):
        console().print("Install weights with: loopwatch encoders download NAME  (or: loopwatch encoders import FILE.pt)")


@encoders_app.command("download")
def download_cmd(
    name: str = typer.Argument(..., help="clap-music or clap-fusion."),
    url: str = typer.Option(None, help="Download from this URL instead of LAION's Hugging Face repository."),
    sha256: str = typer.Option(None, help="Expected sha256 of the checkpoint, if you know better than the server."),
    keep: bool = typer.Option(False, "--keep", help="Keep the original .pt file after conversion."),
) -> None:
    """Fetch LAION's published checkpoint (resumable, checksummed) and install its audio tower."""
    from loopwatch.cli._common import progress
    from loopwatch.embed.weights import CHECKPOINTS, WeightsError, download

    if name not in CHECKPOINTS:
        fail(f"{name}: no weights to download (choose from {', '.join(CHECKPOINTS)})")
    with progress(transient=True) as bar:
        task = bar.add_task(f"downloading {CHECKPOINTS[name].filename}", total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        try:
            out = download(name, url=url, sha256=sha256, progress=update, keep_checkpoint=keep)
        except WeightsError as exc:
            fail(str(exc))
    typer.echo(f"installed {name} weights: {out}")


@encoders_app.command("import")
def import_cmd(
    checkpoint: Path = typer.Argument(..., help="A LAION-CLAP .pt checkpoint you already have."),
    name: str = typer.Option(None, "--encoder", help="Encoder to install it for (default: from the file's keys)."),
) -> None:
    """Convert a LAION-CLAP checkpoint you already have into loopwatch's audio-only weights."""
    from loopwatch.embed.weights import WeightsError, convert

    try:
        out = convert(checkpoint, name)
    except WeightsError as exc:
        fail(str(exc))
    typer.echo(f"installed weights: {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(encoders_app, name="encoders")
