"""``loopwatch check``: run the quality checks on files and folders."""

from __future__ import annotations

from pathlib import Path

import typer

#: Exit statuses of ``loopwatch check``.
EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERRORS = 2

_STYLE = {"info": "dim", "warn": "yellow", "error": "bold red"}


def check_cmd(
    paths: list[Path] = typer.Argument(None, help="Audio files and folders (folders are walked recursively)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per file on stdout."),
    only: str = typer.Option(None, "--only", help="Comma-separated checks to run: names, aliases or unambiguous "
                             "prefixes, e.g. click,clip,tp."),
    min_severity: str = typer.Option(None, "--min-severity", help="Show findings at or above: info, warn, error "
                                     "(default: info for the table, checks.min_severity from the config for the exit status)."),
    list_checks: bool = typer.Option(False, "--list", help="List the checks and their settings, and exit."),
) -> None:
    """Check loops for clicks, dropouts, a broken loop seam, clipping, true peak, noise, hum, DC offset,
    silence, stereo problems, loudness and length vs tempo, and say where.

    Exit status: 0 when no finding reaches the minimum severity (default: the
    config's checks.min_severity, "warn"), 1 when some do, 2 when a path is
    missing, a file could not be read or the arguments are wrong (the other
    files are still checked).
    """
    from loopwatch.checks import CHECKS, CheckConfigError, check_params, resolve_names
    from loopwatch.cli._common import console, fail, print_json
    from loopwatch.config import ConfigError, load_config
    from loopwatch.findings import SEVERITIES, severity_rank

    if list_checks:
        _print_checks(console(), as_json)
        raise typer.Exit(EXIT_CLEAN)
    if not paths:
        fail("give at least one file or folder (or --list)", EXIT_ERRORS)
    try:
        cfg = load_config()
    except ConfigError as exc:
        fail(str(exc), EXIT_ERRORS)
    table = cfg.get("checks", {})
    threshold = (min_severity or table.get("min_severity") or "warn").lower()
    show = (min_severity or "info").lower()
    for sev in (threshold, show):
        if sev not in SEVERITIES:
            fail(f"unknown severity {sev!r}; expected one of {', '.join(SEVERITIES)}", EXIT_ERRORS)
    try:
        names = resolve_names([only]) if only else list(CHECKS)
        check_params(table, names)
    except CheckConfigError as exc:
        fail(str(exc), EXIT_ERRORS)

    from loopwatch.audio import AudioError, load
    from loopwatch.checks import run_checks
    from loopwatch.files import iter_audio_files
    from loopwatch.unfinished import unfinished_finding

    out = console()
    worst = EXIT_CLEAN
    n_files = 0
    for raw in paths:
        try:
            found = list(iter_audio_files([raw]))
        except FileNotFoundError as exc:
            worst = EXIT_ERRORS
            if as_json:
                print_json({"type": "check", "path": str(raw), "error": "no such file or folder"})
            else:
                typer.echo(str(exc), err=True)
            continue
        for path in found:
            n_files += 1
            try:
                audio = load(path, max_duration=cfg["audio"]["max_duration_s"], recover=True)
                findings = run_checks(audio, only=names, config=table, min_severity=show)
                late = unfinished_finding(audio)  # a recording whose writer never finished it
                if late is not None and severity_rank(late.severity) >= severity_rank(show):
                    findings = [late, *findings]
            except Exception as exc:  # noqa: BLE001 - one file's failure never stops the batch
                worst = EXIT_ERRORS
                if isinstance(exc, AudioError):
                    msg = exc.reason
                else:
                    msg = (str(exc).splitlines() or [""])[0]
                    msg = msg if isinstance(exc, ValueError) else f"cannot check: {type(exc).__name__}: {msg}"
                if as_json:
                    print_json({"type": "check", "path": str(path), "error": msg})
                else:
                    typer.echo(f"{path}: {msg}", err=True)
                continue
            if any(severity_rank(f.severity) >= severity_rank(threshold) for f in findings) and worst == EXIT_CLEAN:
                worst = EXIT_FINDINGS
            if as_json:
                print_json({"type": "check", "path": str(path), "duration": round(audio.duration, 6),
                            "channels": audio.channels, "findings": [f.to_dict() for f in findings]})
            else:
                _print_table(out, path, audio, findings)
    if n_files == 0 and worst != EXIT_ERRORS:
        fail("no audio files found", EXIT_ERRORS)
    raise typer.Exit(worst)


def _print_table(out, path: Path, audio, findings) -> None:
    from rich.table import Table

    from rich.markup import escape

    title = f"{escape(str(path))}  [dim]{audio.duration:.3f} s, {audio.channels} ch[/dim]"
    if not findings:
        out.print(f"{title}  [green]ok[/green]")
        return
    t = Table(title=title, title_justify="left", show_edge=False, box=None, pad_edge=False, expand=False)
    t.add_column("time", justify="right", no_wrap=True)
    t.add_column("check", no_wrap=True)
    t.add_column("sev", no_wrap=True)
    t.add_column("finding", overflow="fold")
    for f in findings:
        when = f"{f.t0:.3f}" if f.t1 - f.t0 < 0.0005 else f"{f.t0:.3f}-{f.t1:.3f}"
        t.add_row(when, f.check, f"[{_STYLE[f.severity]}]{f.severity}[/]", escape(f.message))
    out.print(t)


def _print_checks(out, as_json: bool) -> None:
    from loopwatch.checks import CHECKS
    from loopwatch.cli._common import print_json

    if as_json:
        print_json({n: {"summary": s.summary, "aliases": list(s.aliases), "settings": s.params()}
                    for n, s in CHECKS.items()})
        return
    from rich.table import Table

    t = Table(show_edge=False, box=None, pad_edge=False)
    t.add_column("check", no_wrap=True)
    t.add_column("finds")
    t.add_column("aliases")
    t.add_column("settings (defaults)", overflow="fold")
    for n, s in CHECKS.items():
        t.add_row(n, s.summary, ", ".join(s.aliases), ", ".join(f"{k}={v!r}" for k, v in s.params().items()))
    out.print(t)


def register(app: typer.Typer) -> None:
    app.command("check")(check_cmd)
