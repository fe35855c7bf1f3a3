"""``loopwatch watch``, ``loopwatch status`` and ``loopwatch alerts``."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from loopwatch.cli._common import console, fail, print_json


def watch_cmd(
    folders: list[Path] = typer.Argument(None, help="Folders to watch recursively (default: watch.folders in the config)."),
    daw: str = typer.Option(None, "--daw", help="Preset: ableton or reaper (see docs/daemon.md)."),
    root: list[Path] = typer.Option(None, "--root", help="Project root(s) for --daw (repeatable)."),
    model: str = typer.Option(None, "--model", "-m", help="Default model (overrides models.default in the config)."),
    device: str = typer.Option(None, "--device", help="cuda, mps or cpu (default: embed.device in the config)."),
    osc_port: int = typer.Option(None, "--osc-port", help="UDP port to listen on (default 9701)."),
    osc_host: str = typer.Option(None, "--osc-host", help="Address to listen on (default 127.0.0.1)."),
    settle: float = typer.Option(None, "--settle", help="Seconds a file must be unchanged before it is read."),
    log_file: Path = typer.Option(None, "--log-file", help="Also write the log to this file."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="Detailed (debug) logs."),
) -> None:
    """Watch DAW folders, score finished recordings and bounces, and push alerts over OSC."""
    from loopwatch import daw as daws
    from loopwatch.config import ConfigError, load_config
    from loopwatch.daemon import Daemon, run

    try:
        cfg = load_config(overrides={"osc.port": osc_port, "osc.host": osc_host, "models.default": model,
                                     "embed.device": device, "watch.settle_s": settle, "watch.daw": daw})
    except ConfigError as exc:
        fail(str(exc))
    log = logging.getLogger("loopwatch")
    if verbose:
        from loopwatch.cli._common import setup_logging

        setup_logging(2)  # `watch -v`: debug detail (`loopwatch -v watch` works too)
    if log.level > logging.INFO or log.level == logging.NOTSET:
        log.setLevel(logging.INFO)  # concise progress lines by default; -v for detail
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(log_file, encoding="utf-8")
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(fh)
    watched = [Path(f) for f in (folders or cfg["watch"]["folders"])]
    accept = None
    preset = cfg["watch"].get("daw") or ""
    if preset:
        if preset not in daws.PRESETS:
            fail(f"--daw must be ableton or reaper, not {preset!r}")
        key = "ableton_roots" if preset == "ableton" else "reaper_media"
        roots = [Path(r) for r in (root or cfg["watch"][key])] or daws.default_roots(preset)
        watched += roots
        accept = daws.path_filter(preset)
    if not watched:
        fail("nothing to watch: name folders, use --daw ableton|reaper, or set [watch] folders in "
             f"{__import__('loopwatch.config', fromlist=['x']).config_path()}")
    missing = [str(f) for f in watched if not Path(f).expanduser().is_dir()]
    if missing:
        log.warning("these folders do not exist yet; each is watched as soon as it appears: %s", ", ".join(missing))
    try:
        daemon = Daemon(cfg, watched, accept=accept)
    except OSError as exc:
        fail(str(exc))
    log.info("watching %s; OSC on %s:%s; model %s", ", ".join(str(f) for f in daemon.folders) or "(no folders)",
             cfg["osc"]["host"], cfg["osc"]["port"], cfg["models"]["default"] or "(none: checks only)")
    try:
        run(daemon)
    except OSError as exc:
        fail(str(exc))


def status_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Show whether the daemon runs, its queue and model; and what the database holds."""
    from loopwatch.client import NoDaemon, find_daemon
    from loopwatch.config import load_config
    from loopwatch.store import Store

    cfg = load_config()
    try:
        addr, live = find_daemon(cfg)
        live["address"] = f"{addr[0]}:{addr[1]}"
    except NoDaemon as exc:
        live = {"state": "not running", "error": str(exc)}
    store = Store()
    info = {"daemon": live, "queue": store.queue_states(), "alerts": store.max_alert_id(),
            "database": str(store.path)}
    store.close()
    if as_json:
        print_json(info)
        return
    c = console()
    if "error" in live:
        c.print(f"daemon: not running ({live['error']})")
    else:
        c.print(f"daemon: {live['state']} on {live['address']}, {live['queue_len']} queued, "
                f"model {live['model'] or '(none)'}, device {live['device']}")
    q = info["queue"]
    c.print(f"database: {q.get('pending', 0)} pending, {q.get('done', 0)} done, {q.get('failed', 0)} failed; "
            f"{info['alerts']} alerts ({info['database']})")


def alerts_cmd(
    since: int = typer.Option(0, "--since", help="Only alerts with a larger id."),
    limit: int = typer.Option(50, "--limit", help="At most this many (the newest)."),
    all_: bool = typer.Option(False, "--all", help="Include acknowledged and cleared alerts."),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per alert (journal format)."),
) -> None:
    """List alerts from the local database (works whether or not the daemon runs)."""
    from loopwatch.journal import VERSION as JOURNAL_VERSION
    from loopwatch.store import Store

    store = Store()
    rows = store.alerts(since, include_acked=all_, include_cleared=all_, limit=limit)
    store.close()
    if as_json:
        for a in rows:
            print_json({"v": JOURNAL_VERSION, **a.journal_record(), "acked": a.acked})
        return
    if not rows:
        typer.echo("no alerts")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for col in ("id", "severity", "check", "time", "file", "message"):
        table.add_column(col, overflow="fold")
    colours = {"error": "red", "warn": "yellow", "info": "cyan"}
    for a in rows:
        table.add_row(str(a.id), f"[{colours.get(a.severity, '')}]{a.severity}[/]", a.check, f"{a.t0:.3f} s",
                      Path(a.path).name, a.message)
    console().print(table)


def register(app: typer.Typer) -> None:
    app.command("watch")(watch_cmd)
    app.command("status")(status_cmd)
    app.command("alerts")(alerts_cmd)
