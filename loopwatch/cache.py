"""A local SQLite store of embeddings keyed by content hash, encoder and preprocessing version.

Two tables:

* ``files``: path -> (size, mtime_ns, content hash). A file whose size and
  modification time are unchanged is not read again, not even to hash it.
* ``embeddings``: (content hash, encoder, prep_version) -> vector. A moved or
  renamed file has the same content hash, so it is a cache hit; a file whose
  content changes gets a new hash and is embedded again.

The database uses WAL mode, so several processes (the daemon, a ``loopwatch
train`` run) can share it. A damaged file is moved aside and a new cache started
(:func:`loopwatch.dbfile.open_db`); one that cannot be opened raises
:class:`loopwatch.dbfile.DatabaseFileError`, one line.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np

from loopwatch import config
from loopwatch.dbfile import open_db
from loopwatch.hashing import content_hash

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (
    hash TEXT NOT NULL,
    encoder TEXT NOT NULL,
    prep TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vec BLOB NOT NULL,
    duration REAL,
    created REAL NOT NULL,
    PRIMARY KEY (hash, encoder, prep)
);
"""


class EmbeddingCache:
    """Embedding store; safe to share between threads of one process.

    Parameters
    ----------
    path : path-like, optional
        Database file; default ``<cache>/embeddings.sqlite``.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else config.embed_cache_path()
        self._lock = threading.Lock()
        # a damaged cache is moved aside and rebuilt: embeddings are recomputed as needed
        self._db = open_db(self.path, _SCHEMA, "embedding cache")
        self.hashed = 0  # files read to hash them (stat-index misses), for reports and tests

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "EmbeddingCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def file_hash(self, path: str | os.PathLike) -> str:
        """Content hash of ``path``, read from the index while size and mtime are unchanged."""
        p = os.path.abspath(os.fspath(path))
        st = os.stat(p)
        with self._lock:
            row = self._db.execute("SELECT size, mtime_ns, hash FROM files WHERE path = ?", (p,)).fetchone()
        if row and row[0] == st.st_size and row[1] == st.st_mtime_ns:
            return row[2]
        h = content_hash(p)
        self.hashed += 1
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO files (path, size, mtime_ns, hash) VALUES (?, ?, ?, ?)",
                             (p, st.st_size, st.st_mtime_ns, h))
        return h

    def get(self, h: str, encoder: str, prep: str) -> np.ndarray | None:
        return self.get_many([h], encoder, prep).get(h)

    def get_many(self, hashes: list[str], encoder: str, prep: str) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        uniq = list(dict.fromkeys(hashes))
        with self._lock:
            for i in range(0, len(uniq), 500):
                part = uniq[i : i + 500]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT hash, dim, vec FROM embeddings WHERE encoder = ? AND prep = ? AND hash IN ({marks})",
                    (encoder, prep, *part),
                ).fetchall()
                for h, dim, blob in rows:
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if vec.shape == (dim,):
                        out[h] = vec.copy()
        return out

    def duration(self, h: str, encoder: str, prep: str) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT duration FROM embeddings WHERE hash=? AND encoder=? AND prep=?",
                                   (h, encoder, prep)).fetchone()
        return None if row is None else row[0]

    def put(self, h: str, encoder: str, prep: str, vec: np.ndarray, duration: float | None = None) -> None:
        v = np.ascontiguousarray(vec, dtype=np.float32).ravel()
        if not np.isfinite(v).all():
            raise ValueError(f"refusing to cache a non-finite embedding for {h}")
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO embeddings (hash, encoder, prep, dim, vec, duration, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (h, encoder, prep, int(v.shape[0]), v.tobytes(), duration, time.time()),
            )

    def count(self, encoder: str | None = None) -> int:
        with self._lock:
            if encoder is None:
                return self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
            return self._db.execute("SELECT COUNT(*) FROM embeddings WHERE encoder = ?", (encoder,)).fetchone()[0]
