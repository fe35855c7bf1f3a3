"""``loopwatch service install|uninstall``: run the daemon at login."""

from __future__ import annotations

import typer

service_app = typer.Typer(help="Run `loopwatch watch` at login (systemd, launchd or the Windows Startup folder).",
                          no_args_is_help=True)


@service_app.command("install", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def install_cmd(
    ctx: typer.Context,
    print_only: bool = typer.Option(False, "--print", help="Show the service file; write nothing."),
    no_start: bool = typer.Option(False, "--no-start", help="Write the file but do not start it now."),
) -> None:
    """Install a login service running `loopwatch watch ARGS` (pass watch options after --)."""
    from loopwatch import service

    args = list(ctx.args)
    _check_watch_args(args)
    if print_only:
        sf = service.service_file(args)
        typer.echo(f"# {sf.path}")
        typer.echo(sf.content.decode("utf-8"))
        for cmd in sf.activate:
            typer.echo(f"# then: {' '.join(cmd)}")
        return
    sf, notes = service.install(args, activate=not no_start)
    typer.echo(f"wrote {sf.path}")
    for n in notes:
        typer.echo(n)


def _check_watch_args(args: list[str]) -> None:
    """Refuse watch options that `loopwatch watch` would refuse, before they go into a service that would then
    fail and restart every few seconds."""
    from typer.main import get_command

    from loopwatch.cli import app
    from loopwatch.cli._common import fail

    watch = get_command(app).commands["watch"]  # type: ignore[attr-defined]
    try:
        params = watch.make_context("watch", list(args)).params
    except Exception as exc:  # click's usage errors (typer's own copy of click)
        why = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        fail(f"the watch options are wrong: {why}")
    from loopwatch.daw import PRESETS

    if params.get("daw") is not None and params["daw"] not in PRESETS:
        fail(f"the watch options are wrong: --daw must be ableton or reaper, not {params['daw']!r}")


@service_app.command("uninstall")
def uninstall_cmd() -> None:
    """Stop and remove the login service."""
    from loopwatch import service

    path, existed = service.uninstall()
    typer.echo(f"removed {path}" if existed else f"no service installed ({path})")


def register(app: typer.Typer) -> None:
    app.add_typer(service_app, name="service")
