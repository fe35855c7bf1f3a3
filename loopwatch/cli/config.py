"""``loopwatch config show|path|init``."""

from __future__ import annotations

import typer

from loopwatch.cli._common import fail, print_json

config_app = typer.Typer(help="Show or create the configuration file.", no_args_is_help=True)


@config_app.command("show")
def show_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Print the configuration in force (defaults, then the file) and where loopwatch keeps its files."""
    from loopwatch import config

    try:
        cfg = config.load_config()
    except config.ConfigError as exc:
        fail(str(exc))
    places = {"config_file": str(config.config_path()), "data_dir": str(config.data_dir()),
              "cache_dir": str(config.cache_dir()), "models_dir": str(config.models_dir()),
              "weights_dir": str(config.weights_dir()), "journal": str(config.journal_path()),
              "inbox": str(config.inbox_dir()), "database": str(config.daemon_db_path())}
    if as_json:
        print_json({"config": cfg, "paths": places})
        return
    typer.echo("# paths")
    for k, v in places.items():
        typer.echo(f"# {k}: {v}")
    typer.echo("")
    typer.echo(config.dumps_toml(cfg), nl=False)


@config_app.command("path")
def path_cmd() -> None:
    """Print the path of the configuration file."""
    from loopwatch import config

    typer.echo(str(config.config_path()))


@config_app.command("init")
def init_cmd(force: bool = typer.Option(False, "--force", help="Overwrite an existing file.")) -> None:
    """Write the defaults to the configuration file, as a starting point to edit."""
    from loopwatch import config

    path = config.config_path()
    if path.exists() and not force:
        fail(f"{path} exists (use --force to overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# loopwatch configuration: delete what you do not change. See docs/configuration.md.\n\n"
                    + config.dumps_toml(config.DEFAULTS), encoding="utf-8")
    typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
