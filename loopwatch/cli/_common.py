"""Helpers shared by the command modules: console output, errors, JSON."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, NoReturn

import typer

log = logging.getLogger("loopwatch")


def setup_logging(verbose: int = 0) -> None:
    """Concise logs by default (warnings), ``-v`` info, ``-vv`` debug; to stderr."""
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger("loopwatch")
    root.setLevel(level)
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        root.addHandler(handler)


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error to stderr and exit with ``code``."""
    typer.echo(f"loopwatch: error: {message}", err=True)
    raise typer.Exit(code)


def describe_os_error(exc: OSError) -> str:
    """One line for an OSError: the file it names and the reason ("<path>: Permission denied")."""
    if exc.filename is None or not exc.strerror:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    names = str(exc.filename) + (f" -> {exc.filename2}" if exc.filename2 else "")
    return f"{names}: {exc.strerror}"


def collect_audio_files(paths) -> list:
    """The audio files named by ``paths`` (folders walked); exit with a one-line error if none."""
    from loopwatch.files import iter_audio_files

    try:
        files = list(iter_audio_files(paths))
    except FileNotFoundError as exc:
        fail(str(exc))
    if not files:
        fail("no audio files found")
    return files


def warn(message: str) -> None:
    typer.echo(f"loopwatch: {message}", err=True)


def fmt_number(v: Any, digits: int = 4) -> str:
    """``v`` for a table: a float to ``digits`` significant digits, ``None`` as ``-``, anything else as ``str``."""
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def epochs_text(info: dict) -> str:
    """A Deep SVDD training's epochs, as ``train`` and ``models show`` print them: ``454 (214 pre-training + 240
    Deep SVDD)``, with the members and how many trained at a time for an ensemble; ``-`` for a detector that
    has no epochs."""
    if info.get("epochs") is None:
        return "-"
    text = f"{info['epochs']} ({info.get('epochs_pretrain')} pre-training + {info.get('epochs_svdd')} Deep SVDD"
    if info.get("members"):
        return text + f", over {len(info['members'])} members, {info.get('jobs', 1)} at a time)"
    return text + ")"


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return str(o)


def progress(**kwargs: Any):
    """A rich progress bar on stderr (quiet when stderr is not a terminal and ``transient``)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=kwargs.pop("transient", False),
        **kwargs,
    )
