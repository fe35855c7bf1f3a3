"""Opening the SQLite files loopwatch keeps: the embedding cache and the daemon's database.

:func:`open_db` creates the folder, opens the file in WAL mode and applies the
schema. What can go wrong with such a file becomes one :class:`DatabaseFileError`
line naming it, never a traceback:

* a folder or file that cannot be created or written (permissions, a full or
  read-only disk);
* a file that is not a SQLite database, or a damaged one. Both files hold
  state that can be rebuilt (embeddings are recomputed, the daemon re-queues
  what it sees), so with ``rebuild=True`` the damaged file (and its ``-wal``
  and ``-shm`` companions) is moved aside as ``NAME.damaged-YYYYmmdd-HHMMSS``,
  a warning is logged, and a new, empty database is opened in its place.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

log = logging.getLogger("loopwatch.dbfile")


class DatabaseFileError(OSError):
    """A database file cannot be used; ``str(err)`` is one line naming the file and the reason."""


def open_db(path: Path, schema: str, what: str, *, rebuild: bool = True,
            pragmas: tuple[str, ...] = ()) -> sqlite3.Connection:
    """Open ``path`` (WAL mode, ``synchronous=NORMAL``, then ``pragmas``) and run ``schema``.

    Parameters
    ----------
    path : Path
        The database file; its folder is created.
    schema : str
        SQL run with ``executescript`` (``CREATE TABLE IF NOT EXISTS ...``).
    what : str
        What the file is, for messages ("embedding cache").
    rebuild : bool
        Move a damaged file aside and start a new one (else raise).

    Raises
    ------
    DatabaseFileError
        The folder or file cannot be created or opened, or (``rebuild=False``) the file is damaged.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseFileError(f"{path}: cannot create the folder of the {what}: {exc.strerror or exc}") from None
    try:
        return _connect(path, schema, pragmas)
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and not _damaged(exc):
            raise DatabaseFileError(f"{path}: cannot open the {what}: {exc}") from None
        if not rebuild:
            raise DatabaseFileError(f"{path}: the {what} is damaged ({exc})") from None
        aside = _move_aside(path, what, exc)
        log.warning("%s: the %s was damaged (%s); moved it to %s and started a new one", path, what, exc, aside.name)
        try:
            return _connect(path, schema, pragmas)
        except sqlite3.DatabaseError as again:
            raise DatabaseFileError(f"{path}: cannot open the {what}: {again}") from None


def _connect(path: Path, schema: str, pragmas: tuple[str, ...]) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        for pragma in pragmas:
            db.execute(pragma)
        db.executescript(schema)
    except BaseException:
        db.close()
        raise
    return db


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text


def _move_aside(path: Path, what: str, exc: BaseException) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            try:
                os.replace(src, Path(str(aside) + suffix))
            except OSError as err:
                raise DatabaseFileError(f"{path}: the {what} is damaged ({exc}) and cannot be moved aside: "
                                        f"{err.strerror or err}") from None
    return aside
