"""The daemon's local database: queue, results, alerts and subscribers (SQLite, WAL).

Durability rules, which make a kill -9 at any moment safe:

* a file enters the ``queue`` as ``pending`` before anything else happens to it;
* the worker marks a batch ``working``; on start-up every ``working`` row goes back
  to ``pending`` (that batch's effects were never committed);
* a file's result, its alerts and its ``done`` mark are written in **one**
  transaction, so a file is processed exactly once and no alert is half-stored;
* journaling and OSC pushes happen after the commit; alerts carry a
  ``journaled`` flag, and on start-up unjournaled alerts are written to the
  journal (skipping ids the journal already has), so none is lost.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from loopwatch import config
from loopwatch.dbfile import open_db

SCHEMA_VERSION = 2  # 2: queue.attempts

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    source TEXT NOT NULL,
    request_id TEXT NOT NULL DEFAULT '',
    reply_host TEXT,
    reply_port INTEGER,
    start_s REAL,
    length_s REAL,
    model TEXT NOT NULL DEFAULT '',
    size INTEGER,
    mtime_ns INTEGER,
    enqueued REAL NOT NULL,
    started REAL,
    finished REAL,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS queue_state ON queue(state, id);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    hash TEXT,
    section TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    model_fp TEXT NOT NULL DEFAULT '',
    verdict TEXT NOT NULL,
    outlier_ratio REAL NOT NULL,
    score REAL,
    percentile REAL,
    n_alerts INTEGER NOT NULL,
    findings TEXT NOT NULL,
    error TEXT,
    request_id TEXT NOT NULL DEFAULT '',
    duration REAL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS results_key ON results(hash, section, model_fp);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    hash TEXT,
    size INTEGER,
    mtime_ns INTEGER,
    result_id INTEGER
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    result_id INTEGER,
    created REAL NOT NULL,
    path TEXT NOT NULL,
    severity TEXT NOT NULL,
    check_name TEXT NOT NULL,
    t0 REAL NOT NULL,
    t1 REAL NOT NULL,
    value REAL NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT 'watch',
    acked INTEGER NOT NULL DEFAULT 0,
    cleared INTEGER NOT NULL DEFAULT 0,
    journaled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_path ON alerts(path);
CREATE TABLE IF NOT EXISTS subscribers (
    client_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


@dataclass
class QueueItem:
    id: int
    path: str
    source: str
    request_id: str = ""
    reply_host: str | None = None
    reply_port: int | None = None
    start_s: float | None = None
    length_s: float | None = None
    model: str = ""
    #: How many times the item has been claimed for analysis, this claim included. More than one means an
    #: earlier analysis of it failed or never finished (loopwatch stopped or crashed during it).
    attempts: int = 0

    @property
    def section(self) -> str:
        """``""`` for the whole file, else ``"<start>+<length>"`` in seconds."""
        if self.start_s is None and self.length_s is None:
            return ""
        return f"{self.start_s or 0.0:.6g}+{self.length_s if self.length_s is not None else -1:.6g}"


@dataclass
class AlertRecord:
    """An alert as stored, journaled and pushed."""

    id: int
    path: str
    severity: str
    check: str
    t0: float
    t1: float
    value: float
    unit: str
    message: str
    model: str = ""
    request_id: str = ""
    source: str = "watch"
    created: float = field(default_factory=time.time)
    acked: bool = False

    def journal_record(self) -> dict[str, Any]:
        from loopwatch.journal import utc_now_iso

        return {"type": "alert", "ts": utc_now_iso(self.created), "id": self.id, "path": self.path,
                "severity": self.severity, "check": self.check, "t0": self.t0, "t1": self.t1,
                "value": self.value, "unit": self.unit, "message": self.message, "model": self.model,
                "request_id": self.request_id, "source": self.source}


@dataclass
class FileRecord:
    """The stored verdict of one scored file (or section)."""

    result_id: int
    path: str
    hash: str | None
    section: str
    model: str
    model_fp: str
    verdict: str
    outlier_ratio: float
    n_alerts: int
    findings: list[dict[str, Any]]
    error: str | None
    request_id: str = ""


_ALERT_COLS = "id, path, severity, check_name, t0, t1, value, unit, message, model, request_id, source, created, acked"


def _alert(row) -> AlertRecord:
    return AlertRecord(id=row[0], path=row[1], severity=row[2], check=row[3], t0=row[4], t1=row[5], value=row[6],
                       unit=row[7], message=row[8], model=row[9], request_id=row[10], source=row[11],
                       created=row[12], acked=bool(row[13]))


class Store:
    """Thread-safe access to the daemon database (one connection, one lock)."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else config.daemon_db_path()
        self._lock = threading.RLock()
        # a damaged database is moved aside and a new one started (the daemon re-queues what it sees);
        # one that cannot be opened raises DatabaseFileError, one line
        self._db = open_db(self.path, _SCHEMA, "daemon database", pragmas=("PRAGMA busy_timeout=30000",))
        with self._lock:
            cols = {r[1] for r in self._db.execute("PRAGMA table_info(queue)")}
            if "attempts" not in cols:  # a database from before schema 2
                self._db.execute("ALTER TABLE queue ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- transactions ------------------------------------------------------------------

    def _tx(self):
        store = self

        class _Tx:
            def __enter__(self_inner):
                store._lock.acquire()
                store._db.execute("BEGIN IMMEDIATE")
                return store._db

            def __exit__(self_inner, exc_type, exc, tb):
                try:
                    store._db.execute("ROLLBACK" if exc_type else "COMMIT")
                finally:
                    store._lock.release()

        return _Tx()

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    # -- queue -------------------------------------------------------------------------

    def enqueue(
        self,
        path: str,
        source: str,
        *,
        request_id: str = "",
        reply: tuple[str, int] | None = None,
        start_s: float | None = None,
        length_s: float | None = None,
        model: str = "",
        size: int | None = None,
        mtime_ns: int | None = None,
    ) -> int | None:
        """Add a file (or section) to the queue; return its id, or None if there is nothing to do.

        Watched files already waiting in the queue are not added twice (their
        size/mtime are updated), nor is a watched file whose same version (size
        and mtime) is being analysed, nor one whose same version has a result
        already (None). That last test is made in the same transaction that adds
        the row, so a file whose analysis finishes while its file event is being
        handled is not queued a second time (with a fresh count of attempts).
        Requests always get their own row, unless the same request id for the
        same path is already queued (an inbox file read twice after a crash).
        """
        with self._tx() as db:
            if request_id:
                row = db.execute("SELECT id FROM queue WHERE request_id = ? AND path = ? AND source = ?",
                                 (request_id, path, source)).fetchone()
                if row:
                    return row[0]
            elif source in ("watch", "catchup"):
                if size is not None and mtime_ns is not None and db.execute(
                        "SELECT 1 FROM files WHERE path = ? AND size = ? AND mtime_ns = ?",
                        (path, size, mtime_ns)).fetchone():
                    return None  # this version has been scored (or given up) already
                row = db.execute("SELECT id FROM queue WHERE path = ? AND state = 'pending' AND request_id = '' "
                                 "AND start_s IS NULL", (path,)).fetchone()
                if row:
                    db.execute("UPDATE queue SET size = ?, mtime_ns = ? WHERE id = ?", (size, mtime_ns, row[0]))
                    return row[0]
                if size is not None and mtime_ns is not None:
                    # the same version of the file is being analysed now: a second row would analyse it twice
                    # and, after a crash, start its count of attempts again
                    row = db.execute("SELECT id FROM queue WHERE path = ? AND state = 'working' AND request_id = '' "
                                     "AND start_s IS NULL AND size = ? AND mtime_ns = ?",
                                     (path, size, mtime_ns)).fetchone()
                    if row:
                        return row[0]
            cur = db.execute(
                "INSERT INTO queue (path, source, request_id, reply_host, reply_port, start_s, length_s, model, size, "
                "mtime_ns, enqueued) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (path, source, request_id, reply[0] if reply else None, reply[1] if reply else None, start_s,
                 length_s, model, size, mtime_ns, time.time()),
            )
            return int(cur.lastrowid)

    def claim(self, n: int) -> list[QueueItem]:
        """Mark up to ``n`` of the oldest pending items ``working``, count the attempt, and return them.

        An item claimed before (its analysis failed, or loopwatch stopped during it: a crash, a kill) is
        claimed alone, so a file that brings the process down cannot take the files of its batch with it
        again; the items before it in the queue are claimed without it.
        """
        with self._tx() as db:
            rows = db.execute(
                "SELECT id, path, source, request_id, reply_host, reply_port, start_s, length_s, model, attempts "
                "FROM queue WHERE state = 'pending' ORDER BY id LIMIT ?", (n,)).fetchall()
            retried = [i for i, r in enumerate(rows) if r[-1] > 0]
            if retried:
                rows = rows[:1] if retried[0] == 0 else rows[:retried[0]]
            now = time.time()
            for r in rows:
                db.execute("UPDATE queue SET state = 'working', started = ?, attempts = attempts + 1 WHERE id = ?",
                           (now, r[0]))
        return [QueueItem(*r[:-1], attempts=r[-1] + 1) for r in rows]

    def requeue_working(self) -> int:
        """Put items left ``working`` by a crash back to ``pending``; return how many."""
        with self._tx() as db:
            return db.execute("UPDATE queue SET state = 'pending', started = NULL WHERE state = 'working'").rowcount

    def release(self, items: Iterable[QueueItem]) -> None:
        """Give claimed items back to the queue (their attempts stay counted)."""
        with self._tx() as db:
            for it in items:
                db.execute("UPDATE queue SET state = 'pending', started = NULL WHERE id = ? AND state = 'working'",
                           (it.id,))

    def pending_count(self) -> int:
        return self._query("SELECT COUNT(*) FROM queue WHERE state IN ('pending', 'working')")[0][0]

    def queue_states(self) -> dict[str, int]:
        return dict(self._query("SELECT state, COUNT(*) FROM queue GROUP BY state"))

    def processed_count(self, path: str | None = None) -> int:
        if path is None:
            return self._query("SELECT COUNT(*) FROM queue WHERE state IN ('done', 'failed')")[0][0]
        return self._query("SELECT COUNT(*) FROM queue WHERE state IN ('done', 'failed') AND path = ?", (path,))[0][0]

    # -- results -----------------------------------------------------------------------

    def complete(
        self,
        item: QueueItem,
        *,
        file_hash: str | None,
        size: int | None,
        mtime_ns: int | None,
        model: str,
        model_fp: str,
        verdict: str,
        outlier_ratio: float,
        score: float | None,
        percentile: float | None,
        findings: list[dict[str, Any]],
        alerts: list[dict[str, Any]],
        error: str | None,
        duration: float | None,
        state: str = "done",
    ) -> tuple[int, list[AlertRecord]]:
        """Store a file's result and alerts and mark its queue item done, atomically."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO results (path, hash, section, model, model_fp, verdict, outlier_ratio, score, percentile, "
                "n_alerts, findings, error, request_id, duration, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (item.path, file_hash, item.section, model, model_fp, verdict, outlier_ratio, score, percentile,
                 len(alerts), json.dumps(findings), error, item.request_id, duration, now),
            )
            result_id = int(cur.lastrowid)
            records = []
            for a in alerts:
                c = db.execute(
                    "INSERT INTO alerts (result_id, created, path, severity, check_name, t0, t1, value, unit, message, "
                    "model, request_id, source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (result_id, now, item.path, a["severity"], a["check"], a["t0"], a["t1"], a["value"],
                     a.get("unit", ""), a["message"], model, item.request_id, item.source),
                )
                records.append(AlertRecord(id=int(c.lastrowid), path=item.path, severity=a["severity"],
                                           check=a["check"], t0=a["t0"], t1=a["t1"], value=a["value"],
                                           unit=a.get("unit", ""), message=a["message"], model=model,
                                           request_id=item.request_id, source=item.source, created=now))
            if not item.section:
                db.execute("INSERT OR REPLACE INTO files (path, hash, size, mtime_ns, result_id) VALUES (?,?,?,?,?)",
                           (item.path, file_hash, size, mtime_ns, result_id))
            db.execute("UPDATE queue SET state = ?, finished = ?, error = ? WHERE id = ?",
                       (state, now, error, item.id))
        return result_id, records

    def item_version(self, item_id: int) -> tuple[int | None, int | None]:
        """The ``(size, mtime_ns)`` of the file when the item was queued (None where unknown)."""
        rows = self._query("SELECT size, mtime_ns FROM queue WHERE id = ?", (item_id,))
        return (rows[0][0], rows[0][1]) if rows else (None, None)

    def item_state(self, item_id: int) -> str | None:
        """The queue state of an item (``pending``, ``working``, ``done``, ``failed``), None when it is gone."""
        rows = self._query("SELECT state FROM queue WHERE id = ?", (item_id,))
        return rows[0][0] if rows else None

    def mark_done(self, item: QueueItem, *, state: str = "done", error: str | None = None) -> None:
        with self._tx() as db:
            db.execute("UPDATE queue SET state = ?, finished = ?, error = ? WHERE id = ?",
                       (state, time.time(), error, item.id))

    def find_result(self, file_hash: str, section: str, model_fp: str) -> FileRecord | None:
        """The latest result for this content, section and model, if any."""
        rows = self._query(
            "SELECT id, path, hash, section, model, model_fp, verdict, outlier_ratio, n_alerts, findings, error, "
            "request_id FROM results WHERE hash = ? AND section = ? AND model_fp = ? ORDER BY id DESC LIMIT 1",
            (file_hash, section, model_fp))
        return self._file_record(rows[0]) if rows else None

    def latest_result(self, path: str) -> FileRecord | None:
        rows = self._query(
            "SELECT r.id, r.path, r.hash, r.section, r.model, r.model_fp, r.verdict, r.outlier_ratio, r.n_alerts, "
            "r.findings, r.error, r.request_id FROM files f JOIN results r ON r.id = f.result_id WHERE f.path = ?",
            (path,))
        return self._file_record(rows[0]) if rows else None

    @staticmethod
    def _file_record(r) -> FileRecord:
        return FileRecord(result_id=r[0], path=r[1], hash=r[2], section=r[3], model=r[4], model_fp=r[5],
                          verdict=r[6], outlier_ratio=r[7], n_alerts=r[8], findings=json.loads(r[9]), error=r[10],
                          request_id=r[11])

    def record_move(self, old_path: str | None, new_path: str, file_hash: str, size: int, mtime_ns: int,
                    result_id: int) -> list[AlertRecord]:
        """Point ``new_path`` at an existing result (moved or copied content); move alerts of ``old_path``.

        Returns the alerts now filed under ``new_path`` (to re-send to clients).
        """
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO files (path, hash, size, mtime_ns, result_id) VALUES (?,?,?,?,?)",
                       (new_path, file_hash, size, mtime_ns, result_id))
            if old_path and old_path != new_path:
                db.execute("DELETE FROM files WHERE path = ?", (old_path,))
                db.execute("UPDATE alerts SET path = ? WHERE path = ? AND result_id = ?", (new_path, old_path, result_id))
            rows = db.execute(f"SELECT {_ALERT_COLS} FROM alerts WHERE result_id = ? AND path = ? AND cleared = 0 "
                              "ORDER BY id", (result_id, new_path)).fetchall()
        return [_alert(r) for r in rows]

    def paths_under(self, folder: str) -> list[str]:
        """Known file paths inside ``folder`` (a range over the path index, not a scan of every file)."""
        prefix = os.path.join(folder, "")
        return [r[0] for r in self._query("SELECT path FROM files WHERE path >= ? AND path < ? ORDER BY path",
                                          (prefix, prefix + "\U0010ffff"))]

    def paths_of_result(self, result_id: int) -> list[str]:
        """The paths whose current record is this result (a file and the places it was moved to are one path)."""
        return [r[0] for r in self._query("SELECT path FROM files WHERE result_id = ? ORDER BY path", (result_id,))]

    def live_alerts(self, path: str, result_id: int) -> list[AlertRecord]:
        """The uncleared alerts of ``path`` from this result, in id order."""
        return [_alert(r) for r in self._query(
            f"SELECT {_ALERT_COLS} FROM alerts WHERE result_id = ? AND path = ? AND cleared = 0 ORDER BY id",
            (result_id, path))]

    def forget_file(self, path: str) -> bool:
        """The file is gone: drop its record and clear its alerts. True if anything was known."""
        with self._tx() as db:
            n = db.execute("DELETE FROM files WHERE path = ?", (path,)).rowcount
            m = db.execute("UPDATE alerts SET cleared = 1 WHERE path = ? AND cleared = 0", (path,)).rowcount
        return bool(n or m)

    def clear_alerts(self, path: str) -> int:
        with self._tx() as db:
            return db.execute("UPDATE alerts SET cleared = 1 WHERE path = ? AND cleared = 0", (path,)).rowcount

    def known_paths(self) -> dict[str, tuple[int | None, int | None]]:
        return {r[0]: (r[1], r[2]) for r in self._query("SELECT path, size, mtime_ns FROM files")}

    # -- alerts ------------------------------------------------------------------------

    def alerts(self, since_id: int = 0, *, include_acked: bool = True, include_cleared: bool = True,
               limit: int | None = None, newest: bool = False) -> list[AlertRecord]:
        """Alerts with id > ``since_id`` in id order (the last ``limit`` of them when given)."""
        where = ["id > ?"]
        if not include_acked:
            where.append("acked = 0")
        if not include_cleared:
            where.append("cleared = 0")
        sql = f"SELECT {_ALERT_COLS} FROM alerts WHERE {' AND '.join(where)} ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = [_alert(r) for r in self._query(sql, (since_id,))]
        rows.reverse()
        return rows

    def max_alert_id(self) -> int:
        return self._query("SELECT COALESCE(MAX(id), 0) FROM alerts")[0][0]

    def insert_alerts(self, alerts: list[dict[str, Any]], *, path: str, source: str, model: str = "") -> list[AlertRecord]:
        """Store free-standing alerts (the live monitor's), returning them with their ids."""
        now = time.time()
        out = []
        with self._tx() as db:
            for a in alerts:
                c = db.execute(
                    "INSERT INTO alerts (result_id, created, path, severity, check_name, t0, t1, value, unit, "
                    "message, model, request_id, source) VALUES (NULL,?,?,?,?,?,?,?,?,?,?,'',?)",
                    (now, path, a["severity"], a["check"], a["t0"], a["t1"], a["value"], a.get("unit", ""),
                     a["message"], model, source))
                out.append(AlertRecord(id=int(c.lastrowid), path=path, severity=a["severity"], check=a["check"],
                                       t0=a["t0"], t1=a["t1"], value=a["value"], unit=a.get("unit", ""),
                                       message=a["message"], model=model, source=source, created=now))
        return out

    def ack(self, alert_id: int) -> bool:
        with self._tx() as db:
            return db.execute("UPDATE alerts SET acked = 1 WHERE id = ?", (alert_id,)).rowcount > 0

    def unjournaled(self) -> list[AlertRecord]:
        return [_alert(r) for r in self._query(f"SELECT {_ALERT_COLS} FROM alerts WHERE journaled = 0 ORDER BY id")]

    def mark_journaled(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        if not ids:
            return
        with self._tx() as db:
            db.executemany("UPDATE alerts SET journaled = 1 WHERE id = ?", [(i,) for i in ids])

    # -- subscribers -------------------------------------------------------------------

    def subscribe(self, client_id: str, kind: str, host: str, port: int) -> bool:
        """Add or renew a subscriber; True when it is new (or its address changed)."""
        with self._tx() as db:
            row = db.execute("SELECT host, port FROM subscribers WHERE client_id = ?", (client_id,)).fetchone()
            db.execute("INSERT OR REPLACE INTO subscribers (client_id, kind, host, port, last_seen) VALUES (?,?,?,?,?)",
                       (client_id, kind, host, port, time.time()))
        return row is None or tuple(row) != (host, port)

    def unsubscribe(self, client_id: str) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM subscribers WHERE client_id = ?", (client_id,)).rowcount > 0

    def subscribers(self, timeout_s: float) -> list[tuple[str, str, str, int]]:
        """Live subscribers (client_id, kind, host, port); ones silent for ``timeout_s`` are dropped."""
        cutoff = time.time() - timeout_s
        with self._tx() as db:
            db.execute("DELETE FROM subscribers WHERE last_seen < ?", (cutoff,))
            return db.execute("SELECT client_id, kind, host, port FROM subscribers ORDER BY client_id").fetchall()

    def subscriber(self, client_id: str, timeout_s: float) -> tuple[str, int] | None:
        rows = self._query("SELECT host, port FROM subscribers WHERE client_id = ? AND last_seen >= ?",
                           (client_id, time.time() - timeout_s))
        return (rows[0][0], rows[0][1]) if rows else None

    # -- meta --------------------------------------------------------------------------

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None
