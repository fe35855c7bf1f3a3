"""Score requests dropped as JSON files into the inbox folder (for clients without sockets).

Format (``docs/osc.md``, "Inbox")::

    {"v": 1, "client_id": "reaper", "requests": [
      {"request_id": "reaper-7", "path": "/Music/take.wav", "start_s": 1.5, "length_s": 4.0}]}

or one request's fields at the top level. Writers write a temporary name and
rename it to ``*.json``; only ``*.json`` names are read.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MAX_INBOX_FILE_BYTES = 1 << 20
MAX_REQUESTS_PER_FILE = 1000


@dataclass(frozen=True)
class InboxRequest:
    request_id: str
    path: str
    start_s: float | None = None
    length_s: float | None = None
    model: str = ""


class InboxError(ValueError):
    """An inbox file is not a valid request (the message names the file and the reason)."""

    def __init__(self, path: Path, reason: str, request_ids: list[str] | None = None):
        super().__init__(f"{path}: {reason}")
        self.request_ids = request_ids or []


def parse_inbox_file(path: Path) -> list[InboxRequest]:
    """Read and validate one inbox file; raise :class:`InboxError` with a one-line reason."""
    try:
        if path.stat().st_size > MAX_INBOX_FILE_BYTES:
            raise InboxError(path, f"larger than {MAX_INBOX_FILE_BYTES} bytes")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except InboxError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise InboxError(path, f"cannot read: {exc}") from None
    except ValueError as exc:
        raise InboxError(path, f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise InboxError(path, "top level must be a JSON object")
    raw = doc.get("requests", [doc] if "path" in doc else None)
    ids = [str(r.get("request_id", "")) for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []
    if not isinstance(raw, list) or not raw:
        raise InboxError(path, "no requests (expected 'requests': [...] or a 'path' field)", ids)
    if len(raw) > MAX_REQUESTS_PER_FILE:
        raise InboxError(path, f"more than {MAX_REQUESTS_PER_FILE} requests", ids)
    out = []
    for i, r in enumerate(raw):
        if not isinstance(r, dict):
            raise InboxError(path, f"request {i} is not an object", ids)
        rid, p = r.get("request_id"), r.get("path")
        if not isinstance(rid, str) or not 0 < len(rid) <= 128:
            raise InboxError(path, f"request {i}: request_id must be a string of 1-128 characters", ids)
        if not isinstance(p, str) or not p:
            raise InboxError(path, f"request {i}: path must be a non-empty string", ids)
        start, length = r.get("start_s"), r.get("length_s")
        for name, v in (("start_s", start), ("length_s", length)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise InboxError(path, f"request {i}: {name} must be a number", ids)
        if (start is not None and start < 0) or (length is not None and length <= 0):
            raise InboxError(path, f"request {i}: start_s must be >= 0 and length_s > 0", ids)
        model = r.get("model", "")
        out.append(InboxRequest(rid, p, None if start is None else float(start),
                                None if length is None else float(length), model if isinstance(model, str) else ""))
    return out


def pending_files(folder: Path) -> list[Path]:
    """``*.json`` files waiting in the inbox, oldest first."""
    try:
        entries = [e for e in os.scandir(folder) if e.is_file() and e.name.endswith(".json") and not e.name.startswith(".")]
    except FileNotFoundError:
        return []
    entries.sort(key=lambda e: (e.stat().st_mtime_ns, e.name))
    return [Path(e.path) for e in entries]


def reject(path: Path, reason: str) -> Path:
    """Move a bad inbox file to ``rejected/`` beside a ``.txt`` with the reason; return the new path."""
    folder = path.parent / "rejected"
    folder.mkdir(exist_ok=True)
    dest = folder / path.name
    try:
        shutil.move(str(path), dest)
        dest.with_suffix(".txt").write_text(reason + "\n", encoding="utf-8")
    except OSError as exc:
        log.warning("cannot move %s to %s: %s", path, folder, exc)
    return dest
