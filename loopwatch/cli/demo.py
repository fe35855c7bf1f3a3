"""``loopwatch demo``: the offline tour."""

from __future__ import annotations

from pathlib import Path

import typer


def demo_cmd(
    out: Path = typer.Option(Path("loopwatch-demo"), "--out", "-o", help="Folder for the demo's loops, models and cache."),
    clap: bool = typer.Option(True, "--clap/--no-clap", help="Also run the CLAP encoder (random weights, offline)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the generated loops."),
) -> None:
    """Render loops, embed, train, score, check and watch: all offline, in one folder."""
    from loopwatch.demo import run_demo

    run_demo(out, clap=clap, seed=seed, say=typer.echo)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
