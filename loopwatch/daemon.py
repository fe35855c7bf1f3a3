"""``loopwatch watch``: watch folders, score finished files, push alerts.

Threads, each with one job:

* **watcher** (:mod:`loopwatch.watcher`): file events -> finished files -> queue;
* **OSC endpoint** (:mod:`loopwatch.transport`): requests -> queue / answers;
* **inbox** poller: JSON request files -> queue;
* **worker**: queue -> :class:`loopwatch.analysis.Analyzer` -> :class:`loopwatch.publish.Publisher`.

The queue lives in SQLite (:mod:`loopwatch.store`), so memory stays bounded
however many files land, and a restart after any crash resumes where it stopped.
Use :class:`Daemon` from Python (``start()``/``stop()``) or :func:`run` from the CLI.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

from loopwatch import config, protocol
from loopwatch.analysis import Analyzer, FileResult, Job, exception_line
from loopwatch.audio import is_audio_path
from loopwatch.inbox import InboxError, parse_inbox_file, pending_files, reject
from loopwatch.journal import Journal
from loopwatch.publish import Publisher
from loopwatch.store import QueueItem, Store
from loopwatch.transport import Address, OscEndpoint, Pusher

log = logging.getLogger("loopwatch.daemon")


class Daemon:
    """The long-running service.

    Parameters
    ----------
    cfg : dict
        Configuration in force (``load_config()``, with flags applied).
    folders : list of path
        Folders to watch (recursive). Empty: no watching, requests only.
    accept : callable, optional
        Extra path filter (the ``--daw ableton`` preset's sub-folders).
    analyzer : Analyzer, optional
        Injected by tests; built from ``cfg`` otherwise.
    """

    def __init__(self, cfg: dict[str, Any], folders: list[str | os.PathLike] | None = None, *,
                 accept: Callable[[Path], bool] | None = None, analyzer: Analyzer | None = None) -> None:
        self.cfg = cfg
        wcfg = cfg["watch"]
        self.folders = [Path(f).expanduser().resolve() for f in (folders if folders is not None else wcfg["folders"])]
        roots = wcfg.get("allowed_roots") or []
        self.allowed_roots = [Path(r).expanduser().resolve() for r in roots] or list(self.folders)
        self.accept = accept
        self.batch_size = max(1, int(wcfg.get("batch_size", 8)))
        self.store = Store()
        self.journal = Journal(config.journal_path())
        self.inbox = config.inbox_dir()
        self.analyzer = analyzer or Analyzer(cfg)
        self.default_model = str(cfg["models"].get("default", ""))
        self.device = "none"
        self.state = "starting"
        self.endpoint: OscEndpoint | None = None
        self.pusher: Pusher | None = None
        self.publisher: Publisher | None = None
        self.watcher = None
        self._stop = threading.Event()
        self._work = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_status: tuple[str, int] | None = None
        self.processed = 0

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        ocfg = self.cfg["osc"]
        host, port = str(ocfg["host"]), int(ocfg["port"])
        if not _is_loopback(host):
            log.warning("OSC is listening on %s:%s, not on 127.0.0.1: anyone who can reach it can ask loopwatch "
                        "to read audio under %s", host, port, ", ".join(map(str, self.allowed_roots)) or "(nothing)")
        self.endpoint = OscEndpoint(host, port, self._handle)
        timeout = float(ocfg.get("subscriber_timeout_s", 30.0))
        self.pusher = Pusher(self.endpoint.send, lambda: [(h, p) for _, _, h, p in self.store.subscribers(timeout)],
                             ocfg.get("push_targets", []))
        self.publisher = Publisher(self.store, self.journal, self.pusher, self.cfg)
        requeued = self.store.requeue_working()
        recovered = self.publisher.recover_journal()
        if requeued or recovered:
            log.info("recovered after an unclean stop: %d files back in the queue, %d alerts journaled",
                     requeued, recovered)
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.store.set_meta("pid", str(os.getpid()))
        self.store.set_meta("osc", f"{self.endpoint.address[0]}:{self.endpoint.address[1]}")
        self.endpoint.start()
        if self.folders:
            from loopwatch.watcher import FileWatcher

            wcfg = self.cfg["watch"]
            self.watcher = FileWatcher(self.folders, self._file_ready, self._file_deleted, accept=self.accept,
                                       settle_s=float(wcfg.get("settle_s", 1.0)))
            self.watcher.start()
            marked, gone = self.watcher.scan(self.store.known_paths())
            for p in gone:
                self.publisher.forget(p)
            if marked:
                log.info("catching up on %d files that changed while loopwatch was not running", marked)
        for target, name in ((self._worker, "loopwatch-worker"), (self._inbox_loop, "loopwatch-inbox")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        self._work.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop gracefully: no new work, finish the batch in hand, close everything."""
        if self._stop.is_set():
            return
        self._set_state("stopping")
        self._stop.set()
        self._work.set()
        if self.watcher is not None:
            self.watcher.stop()
        for t in self._threads:
            t.join(timeout=timeout)
        if self.endpoint is not None:
            self.endpoint.stop()
        self.store.set_meta("pid", "")
        self.store.close()

    @property
    def osc_address(self) -> Address:
        assert self.endpoint is not None
        return self.endpoint.address

    def wait_idle(self, timeout: float = 30.0, quiet: float = 0.15) -> bool:
        """Block until the queue is empty and the worker idle (for tests and benchmarks).

        Idle must hold for ``quiet`` seconds in a row: a file written just before the call may
        not have reached the watcher yet (file events arrive on the observer's thread a moment
        later), and an instant of idleness would then end the wait before the file is queued.
        Returns False if ``timeout`` seconds pass first.
        """
        now = time.monotonic()
        deadline, idle_since = now + timeout, None
        while now < deadline:
            pending_watch = self.watcher.pending_count() if self.watcher is not None else 0
            if self.state == "idle" and self.store.pending_count() == 0 and pending_watch == 0:
                idle_since = now if idle_since is None else idle_since
                if now - idle_since >= quiet:
                    return True
            else:
                idle_since = None
            time.sleep(0.02)
            now = time.monotonic()
        return False

    # -- queue producers ---------------------------------------------------------------

    def _file_ready(self, path: Path, st: os.stat_result) -> None:
        # enqueue skips a version that has been scored, in the transaction that would add it: a check here,
        # before it, could pass just before the worker finishes this very version
        if self.store.enqueue(str(path), "watch", size=st.st_size, mtime_ns=st.st_mtime_ns) is not None:
            self._work.set()

    def _file_deleted(self, path: Path) -> None:
        """A file, or a whole folder, is gone: clients forget the alerts of everything known under it."""
        assert self.publisher is not None
        key = str(path)
        for p in [key, *self.store.paths_under(key)]:
            self.publisher.forget(p)

    def allowed(self, path: str) -> str | None:
        """None if a request may read ``path``, else the reason it may not."""
        try:
            p = Path(path).expanduser()
            if not p.is_absolute():
                return "path must be absolute"
            real = p.resolve()
        except (OSError, ValueError) as exc:
            return f"bad path ({exc})"
        if not any(_under(real, r) for r in self.allowed_roots):
            return "outside the allowed roots ([watch] allowed_roots)"
        if not real.is_file():
            return "not a regular file" if real.exists() else "no such file"
        if not is_audio_path(real):
            return "not an audio file name"
        return None

    def request(self, request_id: str, path: str, *, source: str, reply: Address | None = None,
                start_s: float | None = None, length_s: float | None = None, model: str = "") -> bool:
        """Queue a score request, or answer it at once with an error; True if queued."""
        assert self.publisher is not None
        why = self.allowed(path)
        if why is not None:
            log.info("refused %s request %s for %s: %s", source, request_id, path, why)
            item = QueueItem(id=0, path=path, source=source, request_id=request_id,
                             reply_host=reply[0] if reply else None, reply_port=reply[1] if reply else None)
            self.publisher.done(item, ok=False, error=f"{path}: {why}")
            return False
        self.store.enqueue(str(Path(path).expanduser().resolve()), source, request_id=request_id, reply=reply,
                           start_s=start_s, length_s=length_s, model=model)
        self._work.set()
        return True

    def _inbox_loop(self) -> None:
        while not self._stop.wait(0.1):
            for f in pending_files(self.inbox):
                try:
                    reqs = parse_inbox_file(f)
                except InboxError as exc:
                    log.warning("inbox: %s", exc)
                    reject(f, str(exc))
                    for rid in exc.request_ids:
                        if rid:
                            self.journal.append({"type": "done", "request_id": rid, "ok": False, "error": str(exc)})
                    continue
                for r in reqs:
                    self.request(r.request_id, r.path, source="inbox", start_s=r.start_s, length_s=r.length_s,
                                 model=r.model)
                try:
                    f.unlink()
                except OSError as exc:
                    log.warning("inbox: cannot remove %s: %s", f, exc)

    # -- OSC ---------------------------------------------------------------------------

    def _handle(self, req: protocol.Request, sender: Address) -> None:
        assert self.endpoint is not None and self.publisher is not None
        a = req.args
        timeout = float(self.cfg["osc"].get("subscriber_timeout_s", 30.0))
        if req.address == protocol.SUBSCRIBE:
            client_id, kind, port = a
            if self.store.subscribe(client_id, kind, sender[0], port):
                log.info("client %s (%s) subscribed at %s:%s", client_id, kind, sender[0], port)
            self.endpoint.send(self._status_dgram(), (sender[0], port))
        elif req.address == protocol.UNSUBSCRIBE:
            self.store.unsubscribe(a[0])
        elif req.address == protocol.SCORE:
            start, length = (a[2], a[3]) if len(a) == 4 else (None, None)
            self.request(a[0], a[1], source="osc", reply=sender, start_s=start, length_s=length)
        elif req.address == protocol.SYNC:
            dest = self.store.subscriber(a[0], timeout) or sender
            self.publisher.replay(int(a[1]), dest)
            self.endpoint.send(self._status_dgram(), dest)
        elif req.address == protocol.ACK:
            if not self.store.ack(int(a[0])):
                self.endpoint.send(protocol.encode(protocol.ERROR, protocol.ACK, f"no alert {a[0]}"), sender)
        elif req.address == protocol.STATUS:
            self.endpoint.send(self._status_dgram(), sender)

    def _status_dgram(self) -> bytes:
        return protocol.encode(protocol.STATUS, self.state, self.store.pending_count(), self.default_model, self.device)

    def _set_state(self, state: str) -> None:
        self.state = state
        if self.pusher is None:
            return
        key = (state, self.store.pending_count() if state != "stopping" else 0)
        if key != self._last_status:
            self._last_status = key
            self.pusher.push([protocol.encode(protocol.STATUS, state, key[1], self.default_model, self.device)])

    # -- worker ------------------------------------------------------------------------

    def _worker(self) -> None:
        try:
            models = {self.default_model} | {str(r.get("model", "")) for r in self.cfg["models"].get("rules", [])}
            self.device = self.analyzer.warm_up(sorted(m for m in models if m))
        except Exception as exc:
            log.warning("could not load models at start (%s); files get quality checks only until that is fixed",
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        self._set_state("idle")
        while not self._stop.is_set():
            items = self.store.claim(self.batch_size)
            if not items:
                self._set_state("idle")
                self._work.wait(timeout=0.5)
                self._work.clear()
                continue
            self._set_state("busy")
            self._process_guarded(items)
        # Items claimed but not processed cannot exist here: a batch is always finished.

    #: Attempts one file's analysis gets (failed, or cut short by a crash) before it is given up with a decode
    #: alert saying why.
    MAX_FAILURES = 3

    def _process_guarded(self, items: list[QueueItem]) -> None:
        """:meth:`_process`, such that no file can stall the queue.

        An unexpected error in a batch sends each of its files through again on its own, so the others go
        on. A file that fails alone goes back to the queue (the cause may pass: a full disk, a busy GPU) until
        it has failed :attr:`MAX_FAILURES` times; then it is given up with a ``decode`` error alert naming the
        error, so it is not retried forever and not forgotten either. The attempts are counted in the
        database (:meth:`Store.claim`), so a file whose analysis brings the whole process down (a crash in a
        native decoder, the out-of-memory killer) is given up the same way after :attr:`MAX_FAILURES`
        restarts, instead of crashing the daemon at every start; the files queued with it are claimed
        without it and scored.
        """
        overdue = [it for it in items if it.attempts > self.MAX_FAILURES]
        for it in overdue:
            self._give_up(it, f"analysis did not finish in {it.attempts - 1} attempts (loopwatch stopped or "
                              f"failed while analysing it); given up")
        items = [it for it in items if it.attempts <= self.MAX_FAILURES]
        if not items:
            return
        try:
            self._process(items)
            return
        except Exception as exc:  # noqa: BLE001 - the daemon must keep running
            error = exc
            log.exception("worker error on %d file(s)", len(items))
        pending = [it for it in items if self.store.item_state(it.id) == "working"]
        if len(pending) > 1:
            for it in pending:
                self._process_guarded([it])
            return
        if not pending:
            return
        it = pending[0]
        if it.attempts < self.MAX_FAILURES:
            self.store.release([it])
            time.sleep(1.0)
            return
        self._give_up(it, f"analysis failed {it.attempts} times ({exception_line(error)}); given up")

    def _give_up(self, it: QueueItem, reason: str) -> None:
        """Finish ``it`` with a ``decode`` error alert saying ``reason``, so it leaves the queue for good.

        The file is recorded at the size and time it was queued with, so the catch-up scan at the next start
        does not queue the same version again; a changed file is analysed afresh."""
        size, mtime_ns = self.store.item_version(it.id)
        res = FileResult(path=it.path, start_s=it.start_s, length_s=it.length_s, error=reason, size=size,
                         mtime_ns=mtime_ns)
        try:
            assert self.publisher is not None
            self.publisher.publish_result(it, res)
            log.error("%s: %s", Path(it.path).name, reason)
        except Exception:  # noqa: BLE001 - even recording the failure failed: keep the item out of the loop
            log.exception("could not record the failure of %s", it.path)
            self.store.mark_done(it, state="failed", error=reason)

    def _process(self, items: list[QueueItem]) -> None:
        assert self.publisher is not None
        jobs: list[tuple[QueueItem, Job]] = []
        for it in items:
            if not os.path.isfile(it.path):
                if it.request_id:
                    self.publisher.done(it, ok=False, error=f"{it.path}: no such file")
                self.store.mark_done(it, state="failed", error="file vanished before it was scored")
                continue
            if not it.section and self._answer_from_store(it):
                continue
            jobs.append((it, Job(it.path, it.start_s, it.length_s, it.model)))
        if not jobs:
            return
        results = self.analyzer.analyze([j for _, j in jobs])
        for (it, _), res in zip(jobs, results):
            if res.bad_section:  # the request asked for a section the file does not have: the file is not at fault
                self.publisher.done(it, ok=False, error=f"{it.path}: {res.error}")
                self.store.mark_done(it, state="failed", error=res.error)
                log.info("%s: request %s: %s", Path(it.path).name, it.request_id, res.error)
                continue
            verdict, alerts = self.publisher.publish_result(it, res)
            self.processed += 1
            _log_result(it, res, verdict, alerts)

    def _answer_from_store(self, it: QueueItem) -> bool:
        """Answer from the database instead of re-scoring, when the same model scored this content before.

        * the path's own record has this content: touched but unchanged; nothing to say (a request gets the
          stored alerts again);
        * a path that held this content has vanished: the file was moved or renamed here; its alerts move with it
          (same ids) and clients are told to forget the old path;
        * a request about content another path holds: answered with that path's alerts.

        Anything else (new content, a copy beside a live original, content whose last holder was deleted and
        forgotten) is scored in its own right.
        """
        assert self.publisher is not None
        try:
            h = self.analyzer.cache.file_hash(it.path) if self.analyzer.cache else None
            st = os.stat(it.path)
        except OSError:
            return False
        if h is None:
            return False
        name = self.analyzer.model_for(it.path, it.model)
        fp = ""
        if name:
            try:
                m = self.analyzer.model(name)
                fp = f"{m.name}@{m.meta.get('created', '')}"
            except Exception:
                return False  # let the analysis report the model problem
        own = self.store.latest_result(it.path)
        if own is not None and own.hash == h and own.model_fp == fp:
            alerts = self.store.record_move(None, it.path, h, st.st_size, st.st_mtime_ns, own.result_id)
            self.store.mark_done(it)
            if it.request_id:
                self.publisher.resend(it, own, alerts)
            return True
        rec = self.store.find_result(h, "", fp)
        if rec is None:
            return False
        holders = [p for p in self.store.paths_of_result(rec.result_id) if p != it.path]
        vanished = [p for p in holders if not os.path.exists(p)]
        if vanished:
            old = vanished[0]
            alerts = self.store.record_move(old, it.path, h, st.st_size, st.st_mtime_ns, rec.result_id)
            self.store.mark_done(it)
            self.publisher.resend(it, rec, alerts, clear_path=old)
            log.info("%s: moved from %s, not re-scored", it.path, old)
            return True
        if it.request_id and holders:
            alerts = self.store.live_alerts(holders[0], rec.result_id)
            self.store.mark_done(it)
            self.publisher.resend(it, rec, alerts)
            return True
        return False


def _log_result(it: QueueItem, res: FileResult, verdict: str, alerts) -> None:
    name = Path(it.path).name
    if res.error:
        log.warning("%s: %s", name, res.error)
    elif alerts:
        summary = "; ".join(a.message for a in alerts[:3]) + (f"; +{len(alerts) - 3} more" if len(alerts) > 3 else "")
        log.warning("%s: %s: %s", name, verdict, summary)
    else:
        log.info("%s: ok", name)
    if res.model_error:
        log.warning("%s", res.model_error)


def _is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _under(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def run(daemon: Daemon) -> None:
    """Run until SIGINT/SIGTERM (Ctrl-C), then stop gracefully."""
    stop = threading.Event()

    def handler(signum, frame):
        stop.set()

    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGBREAK", None)):
        if sig is not None:
            old[sig] = signal.signal(sig, handler)
    daemon.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        daemon.stop()
        for sig, h in old.items():
            signal.signal(sig, h)
