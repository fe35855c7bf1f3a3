"""``loopwatch client score``: ask the running daemon, or score in-process when there is none."""

from __future__ import annotations

from pathlib import Path

import typer

from loopwatch.cli._common import print_json, warn

client_app = typer.Typer(help="Talk to a running daemon.", no_args_is_help=True)


@client_app.command("score")
def score_cmd(
    files: list[Path] = typer.Argument(..., help="Audio files to score."),
    start: float = typer.Option(None, "--start", help="Score only from this time (seconds of file time)."),
    length: float = typer.Option(None, "--length", help="Score only this many seconds."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines: alert, file and done records (journal format)."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait for the daemon's answers."),
    local: bool = typer.Option(False, "--local", help="Do not ask the daemon; score in this process."),
) -> None:
    """Score files through the daemon (checks and outlier score); without a daemon, score here."""
    from loopwatch.client import NoDaemon, find_daemon, score_in_process, score_via_daemon
    from loopwatch.config import load_config

    cfg = load_config()
    paths = [str(f) for f in files]
    records = None
    if not local:
        try:
            (host, port), _ = find_daemon(cfg)
            records = score_via_daemon(paths, host, port, start_s=start, length_s=length, timeout=timeout)
        except NoDaemon as exc:
            warn(f"{exc}; scoring in this process")
        else:
            refused = [r for r in records if r["type"] == "done" and not r["ok"] and "allowed roots" in r["error"]]
            if refused:
                warn("the daemon may only read files under its allowed roots; scoring those here")
                redo = [r["path"] for r in refused]
                records = [r for r in records if r.get("path") not in redo and r.get("request_id") not in
                           {x["request_id"] for x in refused}]
                records += score_in_process(redo, cfg, start_s=start, length_s=length)
    if records is None:
        records = score_in_process(paths, cfg, start_s=start, length_s=length)
    if as_json:
        from loopwatch.journal import VERSION, utc_now_iso

        for r in records:  # journal format: version and time first
            print_json({"v": VERSION, "ts": r.get("ts") or utc_now_iso(), **r})
    else:
        for r in records:
            if r["type"] == "alert":
                typer.echo(f"  {r['severity']:5s} {r['check']:12s} {r['t0']:8.3f} s  {r['message']}")
            elif r["type"] == "file":
                ratio = f", outlier ratio {r['outlier_ratio']:.2f} ({r['model']})" if r["model"] else ""
                typer.echo(f"{r['path']}: {r['verdict']}, {r['n_alerts']} alerts{ratio}")
            elif r["type"] == "note":
                warn(r["message"])
            elif r["type"] == "done" and not r["ok"]:
                warn(f"{r['error']}")
    failed = any(r["type"] == "done" and not r["ok"] for r in records)
    bad = any(r["type"] == "file" and r["verdict"] in ("warn", "error") for r in records)
    raise typer.Exit(2 if failed else 1 if bad else 0)


def register(app: typer.Typer) -> None:
    app.add_typer(client_app, name="client")
