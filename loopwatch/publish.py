"""From results to alerts: store them, journal them, push them over OSC.

The :class:`Publisher` is the last step of the flow
(audio -> checks/embed -> detect -> **alerts -> transport**). It is shared by the
daemon and the live monitor, so both number their alerts from the same
database and reach the same clients.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Iterable

from loopwatch import protocol
from loopwatch.analysis import FileResult, alerts_for
from loopwatch.findings import Finding
from loopwatch.journal import Journal
from loopwatch.store import AlertRecord, FileRecord, QueueItem, Store
from loopwatch.transport import Address, Pusher

log = logging.getLogger(__name__)


def alert_dgram(a: AlertRecord) -> bytes:
    return protocol.encode(protocol.ALERT, a.id, a.path, a.severity, a.check, a.t0, a.t1, a.value, a.message)


def file_dgram(path: str, verdict: str, ratio: float, n_alerts: int, model: str) -> bytes:
    return protocol.encode(protocol.FILE, path, verdict, ratio, n_alerts, model)


class Publisher:
    """Turns results into stored, journaled and pushed alerts."""

    def __init__(self, store: Store, journal: Journal, pusher: Pusher, cfg: dict[str, Any]) -> None:
        self.store = store
        self.journal = journal
        self.pusher = pusher
        self.cfg = cfg

    # -- files -------------------------------------------------------------------------

    def publish_result(self, item: QueueItem, res: FileResult) -> tuple[str, list[AlertRecord]]:
        """Store ``res`` with its alerts (atomically with the queue item), then journal and push them.

        Returns the verdict and the alert records.
        """
        alert_findings, verdict = alerts_for(res, self.cfg)
        # a path scored again (new content, or another model) replaces its alerts: clients forget the old ones
        clear_first = not item.section and self.store.clear_alerts(item.path) > 0
        m = res.model
        ratio = float(m.ratio) if m is not None else -1.0
        model_name = m.model if m is not None else ""
        findings = [f.to_dict() for f in res.findings]
        if res.model_error:
            findings.append({"check": "model", "severity": "info", "message": res.model_error})
        _, records = self.store.complete(
            item, file_hash=res.file_hash, size=res.size, mtime_ns=res.mtime_ns, model=model_name,
            model_fp=m.fingerprint if m is not None else "", verdict=verdict, outlier_ratio=ratio,
            score=m.score if m is not None else None, percentile=m.percentile if m is not None else None,
            findings=findings, alerts=[_alert_dict(f) for f in alert_findings], error=res.error,
            duration=res.duration, state="failed" if res.error else "done")
        self.emit(item, verdict, ratio, model_name, records, clear_first=clear_first)
        return verdict, records

    def emit(self, item: QueueItem, verdict: str, ratio: float, model: str, records: list[AlertRecord], *,
             clear_first: bool = False, journal_alerts: bool = True) -> None:
        """Journal and push one file's messages in protocol order: clear, alerts, file, done."""
        dgrams: list[bytes] = []
        if clear_first:
            self.journal.append({"type": "clear", "path": item.path})
            dgrams.append(protocol.encode(protocol.CLEAR, item.path))
        if journal_alerts:
            for a in records:
                self.journal.append(a.journal_record())
            self.store.mark_journaled(a.id for a in records)
        dgrams += [alert_dgram(a) for a in records]
        self.journal.append({"type": "file", "path": item.path, "verdict": verdict, "outlier_ratio": ratio,
                             "n_alerts": len(records), "model": model, "request_id": item.request_id})
        dgrams.append(file_dgram(item.path, verdict, ratio, len(records), model))
        requester = [(item.reply_host, item.reply_port)] if item.reply_host and item.reply_port else []
        self.pusher.push(dgrams, extra=requester)
        if item.request_id:
            self.done(item, ok=verdict != "failed", error="" if verdict != "failed" else "file could not be read")

    def done(self, item: QueueItem, *, ok: bool = True, error: str = "") -> None:
        """Close a request: journal ``done`` and send ``/loopwatch/done`` to the requester."""
        self.journal.append({"type": "done", "request_id": item.request_id, "ok": ok, "error": error})
        if item.reply_host and item.reply_port:
            addr = (item.reply_host, int(item.reply_port))
            if error and not ok:
                self.pusher._send(protocol.encode(protocol.ERROR, item.request_id, error), addr)
            self.pusher._send(protocol.encode(protocol.DONE, item.request_id), addr)

    def resend(self, item: QueueItem, record: FileRecord, alerts: list[AlertRecord], *,
               clear_path: str | None = None) -> None:
        """Send a stored result again, without re-scoring.

        Used for a moved file (``clear_path`` is its old path: clients forget it,
        then get the same alert ids under the new path) and for a request about
        content that was already scored (the alerts are journaled again under the
        request's id, so a client waiting for that id finds them).
        """
        if clear_path:
            self.journal.append({"type": "clear", "path": clear_path})
            self.pusher.push([protocol.encode(protocol.CLEAR, clear_path)])
        again = [replace(a, path=item.path, request_id=item.request_id or a.request_id) for a in alerts]
        self.emit(item, record.verdict, record.outlier_ratio, record.model, again)

    def forget(self, path: str) -> None:
        """A watched file was deleted: clear its alerts everywhere."""
        if self.store.forget_file(path):
            self.journal.append({"type": "clear", "path": path})
            self.pusher.push([protocol.encode(protocol.CLEAR, path)])

    # -- free-standing alerts (live monitor) ------------------------------------------

    def publish_findings(self, path: str, findings: Iterable[Finding], *, source: str, model: str = "") -> list[AlertRecord]:
        """Store, journal and push findings that are not tied to a queued file."""
        records = self.store.insert_alerts([_alert_dict(f) for f in findings], path=path, source=source, model=model)
        for a in records:
            self.journal.append(a.journal_record())
        self.store.mark_journaled(a.id for a in records)
        self.pusher.push([alert_dgram(a) for a in records])
        return records

    # -- recovery ----------------------------------------------------------------------

    def recover_journal(self) -> int:
        """Journal alerts that were committed but not journaled before a crash; return how many."""
        pending = self.store.unjournaled()
        if not pending:
            return 0
        have = self.journal.alert_ids()
        written = []
        for a in pending:
            if a.id not in have:
                self.journal.append(a.journal_record())
            written.append(a.id)
        self.store.mark_journaled(written)
        return len(written)

    def replay(self, since_id: int, addr: Address, limit: int = 1000) -> int:
        """``/loopwatch/sync``: unacknowledged alerts after ``since_id``, then each file's latest verdict."""
        alerts = self.store.alerts(since_id, include_acked=False, include_cleared=False, limit=limit)
        send = self.pusher._send
        paths: dict[str, None] = {}
        for a in alerts:
            send(alert_dgram(a), addr)
            paths.setdefault(a.path, None)
        for p in paths:
            rec = self.store.latest_result(p)
            if rec is not None:
                send(file_dgram(p, rec.verdict, rec.outlier_ratio, rec.n_alerts, rec.model), addr)
        return len(alerts)


def _alert_dict(f: Finding) -> dict[str, Any]:
    return {"severity": f.severity, "check": f.check, "t0": float(f.t0), "t1": float(f.t1), "value": float(f.value),
            "unit": f.unit, "message": f.message}
