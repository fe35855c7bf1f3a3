"""Talk to a running daemon over OSC: status, and score requests (``loopwatch client``).

:func:`score_via_daemon` sends ``/loopwatch/score`` from an ephemeral UDP port
and collects the answers (``/loopwatch/alert``, ``/loopwatch/file``,
``/loopwatch/error``, ``/loopwatch/done``) as journal-style records (see
``docs/osc.md``): ``{"type": "alert" | "file" | "done", ...}``.
:func:`score_in_process` produces the same records without a daemon.
"""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path
from typing import Any

from pythonosc.osc_message import OscMessage

from loopwatch import protocol


class NoDaemon(RuntimeError):
    """No daemon answered on the configured address."""


def _sock() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def _recv(s: socket.socket, deadline: float) -> tuple[str, list[Any]] | None:
    s.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        data, _ = s.recvfrom(65536)
    except (socket.timeout, ConnectionResetError):
        return None
    try:
        msg = OscMessage(data)
    except Exception:
        return None
    return msg.address, list(msg.params)


def status(host: str, port: int, timeout: float = 0.5) -> dict[str, Any]:
    """Ask the daemon for ``/loopwatch/status``; raise :class:`NoDaemon` if nothing answers in ``timeout``."""
    with _sock() as s:
        s.sendto(protocol.encode_request(protocol.STATUS), (host, port))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = _recv(s, deadline)
            if got and got[0] == protocol.STATUS and len(got[1]) == 4:
                state, queue_len, model, device = got[1]
                return {"state": state, "queue_len": queue_len, "model": model, "device": device}
    raise NoDaemon(f"no loopwatch daemon answered on {host}:{port}")


def daemon_addresses(cfg: dict[str, Any]) -> list[tuple[str, int]]:
    """Where a daemon may listen: the address the running daemon recorded in its database (it may have been started
    with ``--osc-port``), then the configuration's ``[osc]`` host and port."""
    def loopback(host: str) -> str:
        return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host

    out: list[tuple[str, int]] = []
    try:
        from loopwatch.store import Store

        store = Store()
        try:
            recorded = store.get_meta("osc") if store.get_meta("pid") else None
        finally:
            store.close()
    except Exception:  # no database yet, or one that cannot be read: the configuration still says where to look
        recorded = None
    if recorded:
        host, _, port = recorded.rpartition(":")
        if port.isdigit():
            out.append((loopback(host.strip("[]")), int(port)))
    configured = (loopback(str(cfg["osc"]["host"])), int(cfg["osc"]["port"]))
    if configured not in out:
        out.append(configured)
    return out


def find_daemon(cfg: dict[str, Any], timeout: float = 0.5) -> tuple[tuple[str, int], dict[str, Any]]:
    """The address of the running daemon and its status; :class:`NoDaemon` naming every address tried."""
    tried = []
    for addr in daemon_addresses(cfg):
        try:
            return addr, status(*addr, timeout=timeout)
        except NoDaemon:
            tried.append(f"{addr[0]}:{addr[1]}")
    raise NoDaemon(f"no loopwatch daemon answered on {' or '.join(tried)}")


def alert_record(args: list[Any], request_id: str) -> dict[str, Any]:
    alert_id, path, severity, check, t0, t1, value, message = args
    return {"type": "alert", "id": alert_id, "path": path, "severity": severity, "check": check,
            "t0": round(float(t0), 6), "t1": round(float(t1), 6), "value": float(value), "message": message,
            "request_id": request_id}


def score_via_daemon(paths: list[str], host: str, port: int, *, start_s: float | None = None,
                     length_s: float | None = None, timeout: float = 120.0) -> list[dict[str, Any]]:
    """Ask the daemon to score ``paths``; return the records it answered, in arrival order.

    Raises :class:`NoDaemon` when no daemon answers a status ping first.
    """
    status(host, port)
    out: list[dict[str, Any]] = []
    with _sock() as s:
        pending: dict[str, str] = {}
        for p in paths:
            rid = f"cli-{uuid.uuid4().hex[:10]}"
            pending[rid] = str(Path(p).expanduser().resolve())
            args: list[Any] = [rid, pending[rid]]
            if start_s is not None or length_s is not None:
                args += [float(start_s or 0.0), float(length_s if length_s is not None else 1e9)]
            s.sendto(protocol.encode_request(protocol.SCORE, *args), (host, port))
        path_of = dict(pending)
        by_path = {v: k for k, v in pending.items()}
        errors: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            got = _recv(s, deadline)
            if got is None:
                continue
            address, a = got
            if address == protocol.ALERT and len(a) == 8:
                out.append(alert_record(a, by_path.get(a[1], "")))
            elif address == protocol.FILE and len(a) == 5:
                out.append({"type": "file", "path": a[0], "verdict": a[1], "outlier_ratio": round(float(a[2]), 6),
                            "n_alerts": a[3], "model": a[4], "request_id": by_path.get(a[0], "")})
            elif address == protocol.ERROR and len(a) == 2:
                errors[str(a[0])] = str(a[1])
            elif address == protocol.DONE and len(a) == 1 and a[0] in pending:
                rid = a[0]
                del pending[rid]
                err = errors.get(rid, "")
                out.append({"type": "done", "request_id": rid, "path": path_of[rid], "ok": not err, "error": err})
        for rid, p in pending.items():
            out.append({"type": "done", "request_id": rid, "path": p, "ok": False,
                        "error": f"no answer from the daemon within {timeout:g} s"})
    return out


def score_in_process(paths: list[str], cfg: dict[str, Any], *, start_s: float | None = None,
                     length_s: float | None = None, model: str = "") -> list[dict[str, Any]]:
    """Score ``paths`` here, without a daemon; same records as :func:`score_via_daemon` (alert ids are 0)."""
    from loopwatch.analysis import Analyzer, Job, alerts_for

    analyzer = Analyzer(cfg)
    jobs = [Job(str(Path(p).expanduser().resolve()), start_s, length_s, model) for p in paths]
    out: list[dict[str, Any]] = []
    for job, res in zip(jobs, analyzer.analyze(jobs)):
        rid = f"local-{uuid.uuid4().hex[:10]}"
        findings, verdict = alerts_for(res, cfg)
        for f in findings:
            out.append({"type": "alert", "id": 0, "path": job.path, "severity": f.severity, "check": f.check,
                        "t0": round(f.t0, 6), "t1": round(f.t1, 6), "value": float(f.value), "unit": f.unit,
                        "message": f.message, "request_id": rid})
        m = res.model
        out.append({"type": "file", "path": job.path, "verdict": verdict,
                    "outlier_ratio": round(m.ratio, 6) if m else -1.0, "n_alerts": len(findings),
                    "model": m.model if m else "", "request_id": rid})
        if res.model_error:
            out.append({"type": "note", "path": job.path, "message": res.model_error})
        out.append({"type": "done", "request_id": rid, "path": job.path, "ok": res.error is None,
                    "error": res.error or ""})
    return out
