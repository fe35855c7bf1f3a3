"""The ``loopwatch`` command.

Each sibling module not starting with ``_`` defines ``register(app)`` and adds
its commands; modules import heavy libraries (torch, the encoders) only inside
command bodies, so ``loopwatch --help`` stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

from loopwatch import __version__

app = typer.Typer(
    name="loopwatch",
    help="Quality control for music loops: checks, outlier scores and live alerts for Ableton Live and REAPER.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"loopwatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More log detail (-vv for debug)."),
) -> None:
    from loopwatch.cli._common import setup_logging

    setup_logging(verbose)


def _register_all() -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        module.register(app)


_register_all()


def main() -> None:
    """The console script: the app, with any file or folder loopwatch cannot use, and a wrong configuration, reported
    in one line (exit 2)."""
    from loopwatch.config import ConfigError

    try:
        app()
    except OSError as exc:  # a cache, database, config or output path that cannot be created, read or written
        from loopwatch.cli._common import describe_os_error

        typer.echo(f"loopwatch: error: {describe_os_error(exc)}", err=True)
        raise SystemExit(2) from None
    except ConfigError as exc:  # the configuration file, for commands that do not report it themselves
        from loopwatch.config import config_path

        typer.echo(f"loopwatch: error: {exc} (in {config_path()})", err=True)
        raise SystemExit(2) from None
