"""``loopwatch devices`` and ``loopwatch listen``: live input monitoring."""

from __future__ import annotations

import math
import signal
import sys
import threading
import time

import typer

from loopwatch.cli._common import console, fail, print_json


def devices_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """List audio input and output devices (PortAudio), with channels and default rates."""
    from loopwatch.monitor.devices import PortAudioMissing, list_devices

    try:
        info = list_devices()
    except PortAudioMissing as exc:
        fail(str(exc))
    except Exception as exc:  # PortAudio present but failing to enumerate
        fail(f"cannot list audio devices: {' '.join(str(exc).split())}")
    if as_json:
        print_json(info)
        return
    from rich.table import Table

    t = Table(box=None, pad_edge=False, header_style="bold")
    for col, just in (("", "left"), ("#", "right"), ("name", "left"), ("host API", "left"), ("in", "right"),
                      ("out", "right"), ("default rate", "right")):
        t.add_column(col, justify=just)
    for d in info["devices"]:
        mark = (">" if d["default_input"] else " ") + ("<" if d["default_output"] else " ")
        t.add_row(mark, str(d["index"]), d["name"], d["hostapi"], str(d["inputs"]), str(d["outputs"]),
                  f"{d['default_rate']:.0f} Hz")
    con = console()
    if not info["devices"]:
        con.print("no audio devices found")
        return
    con.print(t)
    con.print("> default input, < default output; use 'loopwatch listen --device NAME|INDEX'")


def listen_cmd(
    device: str = typer.Option(None, "--device", "-d", help="Input device name (or a unique part of it) or index "
                               "(default: listen.device in the config, else the system's default input)."),
    channels: str = typer.Option(None, "--channels", "-c", help="Input channels to analyse, from 1, e.g. 1,2 "
                                 "(default: the first two)."),
    rate: int = typer.Option(None, "--rate", "-r", help="Sample rate in Hz (default 48000)."),
    block: int = typer.Option(None, "--block", "-b", help="Frames per audio callback (default 512)."),
    latency: str = typer.Option(None, "--latency", help="PortAudio input latency: high (default), low, or seconds."),
    record_on_alert: float = typer.Option(None, "--record-on-alert", metavar="N",
                                          help="Keep the N seconds around each alert in a WAV under the data "
                                               "folder's recordings/ (default: off)."),
    duration: float = typer.Option(None, "--duration", help="Stop after this many seconds of input."),
    no_meter: bool = typer.Option(False, "--no-meter", help="No live meter: print alerts as lines."),
    as_json: bool = typer.Option(False, "--json", help="Print each alert as a JSON line (implies --no-meter)."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More log detail: info findings (-vv debug)."),
) -> None:
    """Monitor an audio input in real time: clipping, clicks, dropouts, DC, noise and xruns, pushed over OSC.

    Alerts go to the same places as the daemon's (database, journal, OSC push
    targets and subscribers), with the path input:<device>. Ctrl-C stops.
    """
    from loopwatch.config import ConfigError, journal_path, load_config
    from loopwatch.monitor import DeviceError, Monitor, MonitorError, PortAudioMissing, parse_channels

    if verbose:
        from loopwatch.cli._common import setup_logging

        setup_logging(verbose)  # `listen -v` as `loopwatch -v listen`

    try:
        cfg = load_config(overrides={"listen.device": device, "listen.rate": rate, "listen.block": block,
                                     "listen.latency": latency, "listen.record_on_alert": record_on_alert})
    except ConfigError as exc:
        fail(str(exc))
    lc = cfg["listen"]
    try:
        chans = parse_channels(channels if channels is not None else (lc.get("channels") or None))
    except ValueError as exc:
        fail(str(exc))
    if duration is not None and duration <= 0:
        fail("--duration must be positive")
    rec = float(lc.get("record_on_alert") or 0.0)
    if rec < 0:
        fail("--record-on-alert must be positive (seconds)")

    from loopwatch.journal import Journal
    from loopwatch.publish import Publisher
    from loopwatch.store import Store
    from loopwatch.transport import Pusher, udp_sender

    store = Store()
    sock, send = udp_sender()
    timeout = float(cfg["osc"]["subscriber_timeout_s"])
    try:
        pusher = Pusher(send, lambda: [(h, p) for _, _, h, p in store.subscribers(timeout)], cfg["osc"]["push_targets"])
    except ConfigError as exc:
        fail(str(exc))
    publisher = Publisher(store, Journal(journal_path()), pusher, cfg)
    meter = not (no_meter or as_json) and sys.stdout.isatty()
    out = console()
    print_lock = threading.Lock()

    def on_alert(info) -> None:
        r, f = info.record, info.finding
        with print_lock:
            if as_json:
                print_json({"id": r.id if r is not None else None, "path": r.path if r is not None else "",
                            "severity": f.severity, "check": f.check, "t0": f.t0, "t1": f.t1, "value": f.value,
                            "unit": f.unit, "message": f.message, "entered": round(info.entered, 6),
                            "published": round(info.published, 6)})
            else:
                style = {"error": "bold red", "warn": "yellow"}.get(f.severity, "")
                text = f"#{r.id if r is not None else '-'} {f.severity} {f.check}: {f.message}"
                if meter:
                    out.print(text, style=style, markup=False)
                else:
                    sys.stdout.write(text + "\n")
                    sys.stdout.flush()

    def on_record(path, clip) -> None:
        with print_lock:
            text = f"recorded {clip.data.shape[1] / monitor.rate:.1f} s around {'+'.join(clip.checks)}: {path}"
            if meter:
                out.print(text, style="dim", markup=False)
            else:
                _note(text)

    try:
        monitor = Monitor(lc.get("device") or None, chans, int(lc["rate"]), int(lc["block"]),
                          latency=lc.get("latency", "high"), cfg=cfg, publisher=publisher, record_on_alert=rec,
                          on_alert=on_alert, on_record=on_record)
    except ValueError as exc:
        store.close()
        sock.close()
        fail(str(exc))
    # Ctrl-C and SIGTERM only ask to stop (a flag the wait loop reads): an exception raised at an arbitrary
    # point could skip closing the stream, and PortAudio's shutdown at exit then hangs on the open stream.
    # A second Ctrl-C still interrupts (a stream that never opens, say).
    stop_requested = threading.Event()
    cleaning_up = threading.Event()
    previous: dict = {}
    if threading.current_thread() is threading.main_thread():
        def _request_stop(signum, frame):
            if cleaning_up.is_set():
                return
            if stop_requested.is_set() and signum == signal.SIGINT:
                raise KeyboardInterrupt
            stop_requested.set()

        for name in ("SIGINT", "SIGTERM"):
            sig = getattr(signal, name, None)
            if sig is not None:
                previous[sig] = signal.signal(sig, _request_stop)
    problem, listening = "", False
    try:
        try:
            monitor.start()
        except (PortAudioMissing, DeviceError, MonitorError) as exc:
            problem = str(exc)
        if not problem and not stop_requested.is_set():
            listening = True
            info = monitor.device_info
            sel = ",".join(map(str, chans or range(1, min(2, info["inputs"]) + 1)))
            latency_ms = 1000.0 * float(monitor.stream.latency)
            _note(f"listening on '{info['name']}' (channels {sel}, {monitor.rate} Hz, block {monitor.block}, "
                  f"input latency {latency_ms:.0f} ms); alerts go to {monitor.path}. Ctrl-C stops.")
            if meter:
                from rich.live import Live

                with Live(_meter(monitor), console=out, refresh_per_second=10, transient=True) as live:
                    problem = _wait(monitor, duration, lambda: live.update(_meter(monitor)), stop_requested)
            else:
                problem = _wait(monitor, duration, None, stop_requested)
    except KeyboardInterrupt:  # the second Ctrl-C
        pass
    finally:
        cleaning_up.set()  # from here on a Ctrl-C changes nothing: the clean-up must not be cut short
        try:
            monitor.stop()
        finally:
            store.close()
            sock.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    if not listening:
        if problem:
            fail(problem)
        raise typer.Exit(130)  # Ctrl-C while the stream was opening
    st = monitor.stats()
    rec_note = f", {st.recordings} recording(s) in {monitor.record_dir}" if st.recordings else ""
    _note(f"stopped after {st.input_s:.1f} s of input: {st.n_alerts} alert(s), {st.xruns} xrun(s)"
          f"{rec_note}; input stream closed.")
    if problem:
        fail(problem)


def _note(text: str) -> None:
    """One unwrapped line on stderr (scripts and tests read these)."""
    sys.stderr.write(f"loopwatch: {text}\n")
    sys.stderr.flush()


def _wait(monitor, duration: float | None, tick, stop: threading.Event) -> str:
    """Run until ``stop`` is set (Ctrl-C), the duration, or a failure; return a problem description or ''."""
    started = time.monotonic()
    while not stop.wait(0.1):
        if tick is not None:
            tick()
        if monitor.error is not None:
            return f"live analysis failed: {type(monitor.error).__name__}: {monitor.error}"
        if not monitor.running:
            return f"the input stream of '{monitor.device_info['name']}' stopped (device disconnected?)"
        if duration is not None:
            if monitor.stats().input_s >= duration:
                return ""
            if time.monotonic() - started > duration + 30.0:
                return f"the input delivered only {monitor.stats().input_s:.1f} s of audio in {duration + 30:.0f} s"
    return ""


def _bar(db_value: float, width: int = 30) -> str:
    if not math.isfinite(db_value):
        return "·" * width
    fill = int(round(width * max(0.0, min(1.0, (db_value + 60.0) / 60.0))))
    return "█" * fill + "·" * (width - fill)


def _meter(monitor):
    from rich.table import Table
    from rich.text import Text

    st = monitor.stats()
    t = Table.grid(padding=(0, 1))
    t.add_column()
    t.add_column()
    t.add_column(justify="right")
    t.add_column(justify="right")
    chans = monitor.channels or list(range(1, len(st.peak_db) + 1))
    for i, (pk, rms) in enumerate(zip(st.peak_db, st.rms_db)):
        colour = "red" if pk >= -0.1 else "yellow" if pk >= -6.0 else "green"
        t.add_row(f"in {chans[i] if i < len(chans) else i + 1}", Text(_bar(pk), style=colour),
                  f"{pk:6.1f} dBFS peak" if math.isfinite(pk) else "   -inf dBFS peak",
                  f"{rms:6.1f} dB RMS" if math.isfinite(rms) else "  -inf dB RMS")
    mins, secs = divmod(st.input_s, 60.0)
    status = (f"input {int(mins):02d}:{secs:04.1f}   alerts {st.n_alerts}   xruns {st.xruns}"
              + (f"   skipped blocks {st.lost_blocks}" if st.lost_blocks else "")
              + (f"   recordings {st.recordings}" if st.recordings else "")
              + ("   [digital silence]" if st.silent else ""))
    grid = Table.grid()
    grid.add_row(Text(f"{st.path}", style="bold"))
    grid.add_row(t)
    grid.add_row(Text(status))
    grid.add_row(Text(f"last alert: {st.last_alert or '(none)'}", style="bold red" if st.last_alert else "dim"))
    return grid


def register(app: typer.Typer) -> None:
    app.command("devices")(devices_cmd)
    app.command("listen")(listen_cmd)
