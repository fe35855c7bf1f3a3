"""Watch folders and report audio files once they are finished, never while they are being written.

A file is *ready* when all three hold:

1. **quiet**: its size and modification time have not changed for ``settle_s``
   seconds (default 1 s), or for ``close_settle_s`` (default 0.05 s) after the
   OS reported that a writer closed it (``IN_CLOSE_WRITE`` on Linux; macOS
   FSEvents and Windows do not report closes, so there only the settle time applies);
2. **complete**: its container agrees with its length (RIFF/RF64/W64/AIFF/CAF size
   fields, :func:`loopwatch.audio.check_container`); a file that stays
   incomplete but unchanged for ``incomplete_timeout_s`` (default 10 s) is
   reported anyway, so an unfinished or truncated file is not forgotten: the
   analysis reads the audio it holds (with a decode warning) or reports why it
   cannot (a decode error);
3. **interesting**: :func:`loopwatch.files.is_candidate` accepts its name
   (no sidecars such as ``.asd``/``.reapeaks``, no dot-files or temp files) and
   the watcher's ``accept`` predicate does too.

A growing recording therefore produces one report, when it stops growing.
Deleted files are reported after ``delete_grace_s`` unless they reappear.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from loopwatch.audio import AudioError, check_container, container_complete
from loopwatch.files import is_candidate

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    size: int
    mtime_ns: int
    changed: float  # time.time() of the last observed change
    closed: bool
    complete_since: float | None = None


class FileWatcher:
    """Recursive watcher over ``roots`` calling ``on_ready(path, stat)`` and ``on_deleted(path)``.

    Parameters
    ----------
    roots : iterable of path
        Folders to watch recursively (missing ones are created only if ``create``).
    on_ready : callable
        Called from the watcher's thread with a finished file's path and ``os.stat_result``.
    on_deleted : callable, optional
        Called with the path of a file, or of a folder, that disappeared and did not come back.
    accept : callable, optional
        Extra filter on paths (e.g. the Ableton preset's sub-folders).
    """

    def __init__(
        self,
        roots: Iterable[str | os.PathLike],
        on_ready: Callable[[Path, os.stat_result], None],
        on_deleted: Callable[[Path], None] | None = None,
        *,
        accept: Callable[[Path], bool] | None = None,
        settle_s: float = 1.0,
        close_settle_s: float = 0.05,
        incomplete_timeout_s: float = 10.0,
        delete_grace_s: float = 2.0,
        tick_s: float = 0.02,
        root_check_s: float = 1.0,
    ) -> None:
        self.roots = [Path(r).expanduser().resolve() for r in roots]
        self.on_ready = on_ready
        self.on_deleted = on_deleted
        self.accept = accept
        self.settle_s = settle_s
        self.close_settle_s = close_settle_s
        self.incomplete_timeout_s = incomplete_timeout_s
        self.delete_grace_s = delete_grace_s
        self.tick_s = tick_s
        self.root_check_s = root_check_s
        self._watches: dict[Path, tuple[object, tuple[int, int]]] = {}  # root -> (watchdog watch, (dev, inode))
        self._handler: _Handler | None = None
        self._roots_checked = 0.0
        self._pending: dict[str, _Pending] = {}
        self._handing = 0  # files taken out of _pending whose on_ready call has not returned yet
        self._deleted: dict[str, float] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._observer = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        from watchdog.observers import Observer

        observer = Observer()
        self._handler = _Handler(self)
        observer.daemon = True
        observer.start()
        self._observer = observer
        for root in self.roots:
            if not self._arm(root):
                log.warning("not watching %s yet: no such folder (it is watched as soon as it appears)", root)
        self._roots_checked = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="loopwatch-settle", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5.0)
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def _arm(self, root: Path) -> bool:
        """Watch ``root`` if it is a folder (again, if it was deleted and re-created); True when watched."""
        try:
            st = os.stat(root)
        except OSError:
            return False
        if not os.path.isdir(root):
            return False
        ident = (st.st_dev, st.st_ino)
        old = self._watches.get(root)
        if old is not None and old[1] == ident:
            return True
        assert self._observer is not None
        if old is not None:
            self._disarm(root)
        try:
            watch = self._observer.schedule(self._handler, str(root), recursive=True)
        except OSError as exc:
            log.warning("cannot watch %s: %s", root, exc.strerror or exc)
            return False
        self._watches[root] = (watch, ident)
        return True

    def _disarm(self, root: Path) -> None:
        old = self._watches.pop(root, None)
        if old is not None and self._observer is not None:
            try:
                self._observer.unschedule(old[0])
            except Exception:  # the emitter may have stopped by itself when the folder went
                pass

    def _check_roots(self) -> None:
        """Re-arm roots that appeared or came back (deleted and re-created, a disk mounted), and take in the files
        already there; note roots that went away."""
        for root in self.roots:
            present = root.is_dir()
            if root in self._watches and not present:
                self._disarm(root)
                log.warning("%s went away; it is watched again when it comes back", root)
            elif present:
                known = root in self._watches
                ident = self._watches[root][1] if known else None
                if self._arm(root) and (not known or self._watches[root][1] != ident):
                    log.info("watching %s (it %s)", root, "came back" if known else "appeared")
                    self._scan_root(root, {}, set())  # files already there (the daemon skips unchanged ones)

    def wanted(self, path: Path) -> bool:
        return is_candidate(path) and (self.accept is None or self.accept(path))

    def scan(self, known: dict[str, tuple[int | None, int | None]] | None = None) -> tuple[int, list[str]]:
        """Catch up after downtime: files new or changed since ``known`` (path -> (size, mtime_ns)) become pending.

        Returns the number of files marked and the known paths that no longer exist.
        """
        known = known or {}
        seen: set[str] = set()
        marked = sum(self._scan_root(root, known, seen) for root in self.roots if root.is_dir())
        gone = [p for p in known if p not in seen and any(_under(p, r) for r in self.roots) and not os.path.exists(p)]
        return marked, gone

    def _scan_root(self, root: Path, known: dict[str, tuple[int | None, int | None]], seen: set[str]) -> int:
        """Mark the wanted files under ``root`` that are not in ``known`` as they are now; add every one to
        ``seen``; return how many were marked."""
        marked = 0
        for dirpath, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                p = Path(dirpath) / name
                if not self.wanted(p):
                    continue
                key = str(p)
                seen.add(key)
                try:
                    st = p.stat()
                except OSError:
                    continue
                if known.get(key) == (st.st_size, st.st_mtime_ns):
                    continue
                self.touch(p, closed=False, changed=st.st_mtime)
                marked += 1
        return marked

    # -- events ------------------------------------------------------------------------

    def touch(self, path: Path, *, closed: bool, changed: float | None = None) -> None:
        """Note activity on ``path`` (called by the event handler, and by :meth:`scan`)."""
        if not self.wanted(path):
            return
        key = str(path)
        try:
            st = os.stat(key)
        except OSError:
            return
        now = time.time()
        with self._lock:
            self._deleted.pop(key, None)
            cur = self._pending.get(key)
            if cur is None:
                self._pending[key] = _Pending(st.st_size, st.st_mtime_ns, changed if changed is not None else now, closed)
            else:
                if (st.st_size, st.st_mtime_ns) != (cur.size, cur.mtime_ns):
                    cur.size, cur.mtime_ns, cur.changed = st.st_size, st.st_mtime_ns, now
                    cur.complete_since = None
                cur.closed = cur.closed or closed
                if not closed and changed is None:
                    cur.changed = max(cur.changed, now)
        self._wake.set()

    def gone(self, path: Path) -> None:
        key = str(path)
        with self._lock:
            self._pending.pop(key, None)
            if self.on_deleted is not None and is_candidate(path):
                self._deleted[key] = time.time()
        self._wake.set()

    def gone_tree(self, folder: Path) -> None:
        """A folder disappeared (deleted, or moved away): ``on_deleted(folder)`` after the grace time unless it
        comes back; files waiting under it are dropped."""
        key = str(folder)
        prefix = os.path.join(key, "")
        with self._lock:
            for k in [k for k in self._pending if k.startswith(prefix)]:
                self._pending.pop(k, None)
            if self.on_deleted is not None:
                self._deleted[key] = time.time()
        self._wake.set()

    # -- settle loop -------------------------------------------------------------------

    def pending_count(self) -> int:
        """Files still waiting to settle, plus those being handed to ``on_ready`` right now."""
        with self._lock:
            return len(self._pending) + self._handing

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=0.25)
            self._wake.clear()
            if time.monotonic() - self._roots_checked >= self.root_check_s:
                self._roots_checked = time.monotonic()
                try:
                    self._check_roots()
                except Exception:
                    log.exception("error checking the watched folders")
            while not self._stop.is_set():
                busy = self._tick()
                if not busy:
                    break
                time.sleep(self.tick_s)

    def _tick(self) -> bool:
        """Check pending files once; return True while some are still waiting."""
        now = time.time()
        ready: list[tuple[str, os.stat_result]] = []
        with self._lock:
            items = list(self._pending.items())
        for key, p in items:
            try:
                st = os.stat(key)
            except OSError:
                with self._lock:
                    self._pending.pop(key, None)
                continue
            with self._lock:
                cur = self._pending.get(key)
                if cur is None:
                    continue
                if (st.st_size, st.st_mtime_ns) != (cur.size, cur.mtime_ns):
                    cur.size, cur.mtime_ns, cur.changed, cur.closed = st.st_size, st.st_mtime_ns, now, False
                    cur.complete_since = None
                    continue
                quiet = now - cur.changed >= (self.close_settle_s if cur.closed else self.settle_s)
            if not quiet:
                continue
            if container_complete(key):
                ready.append((key, st))
                continue
            with self._lock:
                cur = self._pending.get(key)
                if cur is not None:
                    cur.complete_since = cur.complete_since or now
                    if now - cur.changed >= self.incomplete_timeout_s:
                        ready.append((key, st))
        with self._lock:
            for key, _ in ready:
                self._pending.pop(key, None)
            self._handing += len(ready)
            expired = [k for k, t in self._deleted.items() if now - t >= self.delete_grace_s]
            for k in expired:
                self._deleted.pop(k, None)
            waiting = bool(self._pending or self._deleted)
        for key, st in ready:
            try:
                self.on_ready(Path(key), st)
            except Exception:
                log.exception("error queueing %s", key)
            finally:
                with self._lock:
                    self._handing -= 1
        for key in expired:
            if not os.path.exists(key):
                try:
                    self.on_deleted(Path(key))  # type: ignore[misc]
                except Exception:
                    log.exception("error handling deletion of %s", key)
        return waiting


def arrived_whole(path: Path) -> bool:
    """True when a file that has just appeared is already complete: a move or rename into place.

    Only containers with size fields (WAV/RF64/W64/AIFF, CAF with a data size) can prove it: a writer
    that creates such a file writes placeholder sizes first, so a fresh file whose
    sizes already agree with its length was written elsewhere and moved here.
    Formats without size fields (FLAC, OGG, MP3) always wait for the settle time.
    """
    try:
        return check_container(path)
    except AudioError:
        return False


def _under(path: str, root: Path) -> bool:
    try:
        Path(path).relative_to(root)
        return True
    except ValueError:
        return False


class _Handler:
    """watchdog event handler feeding a :class:`FileWatcher` (a plain object: watchdog only calls dispatch)."""

    def __init__(self, watcher: FileWatcher) -> None:
        self.w = watcher

    def dispatch(self, event) -> None:
        if event.is_directory:
            if event.event_type in ("moved", "deleted"):
                # a folder renamed, moved away or deleted: what was known under its old path is gone (a move out
                # of the watched tree is reported as a deletion, with no event for the files inside)
                self.w.gone_tree(Path(os.fsdecode(event.src_path)))
            if event.event_type == "moved":  # a folder moved in: its files are new here
                dest = Path(os.fsdecode(event.dest_path))
                for dirpath, _, files in os.walk(dest):
                    for f in files:
                        self.w.touch(Path(dirpath) / f, closed=True)
            return
        kind = event.event_type
        src = Path(os.fsdecode(event.src_path))
        if kind == "created":
            # A file moved in from outside the watched tree arrives as "created", already whole.
            self.w.touch(src, closed=arrived_whole(src))
        elif kind == "modified":
            self.w.touch(src, closed=False)
        elif kind == "closed":
            self.w.touch(src, closed=True)
        elif kind == "moved":
            self.w.gone(src)
            # A rename hands over a complete file (DAWs write a temp name, then rename).
            self.w.touch(Path(os.fsdecode(event.dest_path)), closed=True)
        elif kind == "deleted":
            self.w.gone(src)
