"""Embed audio files through the cache: paths in, a matrix of vectors out.

This is what ``loopwatch embed``, ``loopwatch train``, ``loopwatch score`` and the
benchmark use. Files are hashed (or their hash read from the cache's stat
index), cached vectors are reused, and only the misses are decoded, in a small
thread pool that stays ahead of the encoder.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from loopwatch.audio import DEFAULT_MAX_DURATION_S, AudioError, load
from loopwatch.cache import EmbeddingCache
from loopwatch.embed import Encoder, get_encoder
from loopwatch.embed import prep_version as _prep_version

log = logging.getLogger(__name__)


@dataclass
class EmbedResult:
    """Vectors for the files that could be embedded, in input order, and reasons for the rest."""

    encoder: str
    prep_version: str
    paths: list[Path] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    X: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    errors: list[tuple[Path, str]] = field(default_factory=list)
    n_cached: int = 0
    n_computed: int = 0

    def __len__(self) -> int:
        return len(self.paths)


def embed_files(
    paths: Iterable[str | os.PathLike],
    encoder: str | Encoder = "spectral",
    *,
    cache: EmbeddingCache | bool | None = True,
    device: str | None = None,
    precision: str = "auto",
    max_duration: float | None = DEFAULT_MAX_DURATION_S,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    decode_workers: int = 2,
) -> EmbedResult:
    """Embed every file in ``paths``.

    Parameters
    ----------
    encoder : str or Encoder
        A name (built only if some file is not cached) or a built encoder.
    cache : EmbeddingCache, True, or None/False
        ``True`` opens the default cache; ``None``/``False`` disables caching.
    progress : callable, optional
        ``progress(done, total)`` after each file.

    Returns
    -------
    EmbedResult
        Files that failed (unreadable, corrupt, too long...) are listed in
        ``errors`` with a one-line reason and do not stop the others.
    """
    from loopwatch.embed import check_device_name, check_precision

    check_device_name(device)  # refused before anything is read, even when every file is cached
    check_precision(precision)
    own_cache = cache is True
    store: EmbeddingCache | None = EmbeddingCache() if cache is True else (cache or None)
    built: Encoder | None = encoder if isinstance(encoder, Encoder) else None
    name = built.name if built else str(encoder)
    prep = built.prep_version if built else _prep_version(name)
    plist = [Path(p) for p in paths]
    total = len(plist)
    res = EmbedResult(encoder=name, prep_version=prep)
    rows: dict[int, tuple[str, np.ndarray, float]] = {}
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    # 1. hashes and cache hits
    hashes: dict[int, str] = {}
    for i, p in enumerate(plist):
        try:
            hashes[i] = store.file_hash(p) if store else _hash(p)
        except OSError as exc:
            res.errors.append((p, f"{p}: cannot read: {exc.strerror or exc}"))
            tick()
    hits = store.get_many(list(hashes.values()), name, prep) if store else {}
    misses: list[int] = []
    for i, h in hashes.items():
        if h in hits:
            dur = store.duration(h, name, prep) if store else None
            rows[i] = (h, hits[h], float(dur or 0.0))
            res.n_cached += 1
            tick()
        else:
            misses.append(i)

    # 2. decode the misses ahead of the encoder; identical content is embedded once
    if misses:
        if built is None:
            built = get_encoder(name, device=device, precision=precision)
            if built.prep_version != prep:
                raise RuntimeError(f"encoder {name} reports {built.prep_version}, expected {prep}")
        bs = batch_size or max(1, getattr(built, "default_batch_size", lambda: 8)())
        first_of: dict[str, int] = {}
        dupes: dict[int, int] = {}
        todo = []
        for i in misses:
            h = hashes[i]
            if h in first_of:
                dupes[i] = first_of[h]
            else:
                first_of[h] = i
                todo.append(i)

        def decode(i: int):
            try:
                a = load(plist[i], max_duration=max_duration)
                return i, a.mono, a.duration, None
            except AudioError as exc:
                return i, None, 0.0, str(exc)

        computed: dict[int, tuple[np.ndarray, float]] = {}
        failed: dict[int, str] = {}
        with ThreadPoolExecutor(max_workers=max(1, decode_workers)) as pool:
            window = max(2 * bs, 4)
            futures = [pool.submit(decode, i) for i in todo[:window]]
            next_submit = len(futures)
            batch: list[tuple[int, np.ndarray, float]] = []
            k = 0
            while k < len(futures):
                i, mono, dur, err = futures[k].result()
                futures[k] = None  # release the decoded audio once consumed
                k += 1
                if next_submit < len(todo):
                    futures.append(pool.submit(decode, todo[next_submit]))
                    next_submit += 1
                if err is not None:
                    failed[i] = err
                    tick()
                else:
                    batch.append((i, mono, dur))
                if batch and (len(batch) >= bs or k == len(futures)):
                    vecs = built.embed([m for _, m, _ in batch], batch_size=bs)
                    for (j, _, d), v in zip(batch, vecs):
                        if not np.isfinite(v).all():
                            failed[j] = f"{plist[j]}: encoder produced non-finite values"
                        else:
                            computed[j] = (v, d)
                            if store:
                                store.put(hashes[j], name, prep, v, d)
                        tick()
                    batch = []
        for i in todo:
            if i in computed:
                rows[i] = (hashes[i], computed[i][0], computed[i][1])
                res.n_computed += 1
            else:
                res.errors.append((plist[i], failed[i]))
        for i, j in dupes.items():
            if j in computed:
                rows[i] = (hashes[i], computed[j][0], computed[j][1])
                res.n_cached += 1
            else:
                res.errors.append((plist[i], failed[j].replace(str(plist[j]), str(plist[i]), 1)))
            tick()

    order = sorted(rows)
    res.paths = [plist[i] for i in order]
    res.hashes = [rows[i][0] for i in order]
    res.durations = [rows[i][2] for i in order]
    dim = built.dim if built else (len(rows[order[0]][1]) if order else 0)
    res.X = np.stack([rows[i][1] for i in order]).astype(np.float32) if order else np.zeros((0, dim), np.float32)
    res.errors.sort(key=lambda e: str(e[0]))
    if own_cache and store is not None:
        store.close()
    return res


def _hash(p: Path) -> str:
    from loopwatch.hashing import content_hash

    return content_hash(p)
