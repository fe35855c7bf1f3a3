"""The JSON-lines journal: every alert, file verdict, clear and request completion, one object per line.

Clients that cannot open sockets (REAPER without LuaSocket) tail this file.
The format is in ``docs/osc.md``. Writes are whole lines, flushed at once;
past :data:`ROTATE_BYTES` the file is renamed ``journal.jsonl.1`` and a new one
started, so a reader that finds the file shorter than its position starts over.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

ROTATE_BYTES = 10 * 1024 * 1024
VERSION = 1


def utc_now_iso(ts: float | None = None) -> str:
    """``2026-11-21T17:43:00.123Z``."""
    dt = datetime.fromtimestamp(time.time() if ts is None else ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class Journal:
    """Appends records to ``path`` (thread-safe; several processes may append whole lines)."""

    def __init__(self, path: str | os.PathLike, rotate_bytes: int = ROTATE_BYTES) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rotate_bytes = rotate_bytes
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        """Write one record (``v`` and ``ts`` are added when missing)."""
        rec = {"v": VERSION, **record}
        rec.setdefault("ts", utc_now_iso())
        line = json.dumps(rec, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
        data = line.encode("utf-8")
        with self._lock:
            try:
                if self.path.stat().st_size + len(data) > self.rotate_bytes:
                    os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            except FileNotFoundError:
                pass
            except OSError:
                # Windows refuses to rename a file a reader holds open (a REAPER panel
                # tailing it): keep appending and rotate on a later write.
                pass
            # O_APPEND: each write lands whole at the end, even with other writers.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0), 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)

    def alert_ids(self, tail_bytes: int = 1 << 20) -> set[int]:
        """Ids of the alert records in the last ``tail_bytes`` of the journal (for crash recovery)."""
        ids: set[int] = set()
        for rec in self.read(tail_bytes=tail_bytes):
            if rec.get("type") == "alert" and isinstance(rec.get("id"), int):
                ids.add(rec["id"])
        return ids

    def read(self, tail_bytes: int | None = None) -> Iterator[dict[str, Any]]:
        """Records in the current file (only its last ``tail_bytes`` if given); bad lines are skipped."""
        try:
            with open(self.path, "rb") as fh:
                if tail_bytes is not None:
                    size = fh.seek(0, os.SEEK_END)
                    fh.seek(max(0, size - tail_bytes))
                    if size > tail_bytes:
                        fh.readline()  # partial first line
                for raw in fh:
                    try:
                        rec = json.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(rec, dict):
                        yield rec
        except FileNotFoundError:
            return
