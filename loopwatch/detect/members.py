"""Training the members of a Deep SVDD ensemble at once, each in its own worker process.

The members of an ensemble are independent trainings (seeds ``seed .. seed + N - 1``),
so they can run side by side: on a machine with several cores, ``N`` members take
about the time of ``ceil(N / jobs)`` trainings. :func:`fit_members` starts up to
``jobs`` workers, each a new Python process running this module's worker
(by hand: ``python -m loopwatch.detect.members DIR INDEX SEED``):

* the parent writes the standardised training and validation rows (``.npy``)
  and the detector's description (JSON) to a temporary folder ``DIR`` once;
* a worker trains its member exactly as :meth:`DeepSVDD._fit_member` does in
  one process (same seed, same thread count, so the same numbers), prints one
  JSON line per epoch on its standard output, and writes its result as an
  ``.npz`` of arrays plus a JSON of facts;
* the parent passes each epoch to ``progress`` (in the calling thread) and
  reads the results with ``allow_pickle=False``: nothing is unpickled.

Workers are plain subprocesses rather than a ``multiprocessing`` pool on purpose:
"spawn" (the only start method on Windows, the default on macOS) re-runs the
caller's main script in every worker, which breaks a script that calls
``fit`` without an ``if __name__ == "__main__":`` guard. Here nothing of the
caller's runs in a worker.

A frozen application has no interpreter to start workers with (:func:`workers_available`);
the caller then trains the members one after another itself.

A worker's error (a diverged phase, say) is raised as soon as it is known, with
the worker's own message; the other workers are stopped. So are they when the
caller is interrupted.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from loopwatch.detect.base import DetectorError, ProgressFn
from loopwatch.detect.svdd import _tagged

_POLL_S = 0.5  # how often a wait for worker output wakes up, so an interrupt is seen on every platform
# A worker's main: the folder holding this loopwatch goes at the *end* of sys.path (a source checkout that is not
# installed still imports; an installed one is found first, and nothing is put before the standard library).
_WORKER_MAIN = ("import sys; root = sys.argv.pop(1); root in sys.path or sys.path.append(root); "
                "from loopwatch.detect.members import _worker; sys.exit(_worker(sys.argv[1:]))")


def workers_available() -> bool:
    """Whether worker processes can be started: a Python interpreter to run them must exist.

    A frozen application (PyInstaller, py2app...) has no interpreter to run ``-c``
    with (``sys.executable`` is the application itself), and an embedding host may
    report none; there the members train one after another in the calling process.
    """
    return bool(sys.executable) and not getattr(sys, "frozen", False)


def fit_members(kind: str, params: dict[str, Any], dim: int, Z_train: np.ndarray, Z_val: np.ndarray,
                seeds: list[int], tags: list[str], threads: int, jobs: int,
                progress: ProgressFn | None = None) -> list[dict]:
    """Train one member per seed in up to ``jobs`` worker processes; their results in seed order.

    Parameters
    ----------
    kind, params, dim :
        The detector's kind ("ae", "aewres"), hyper-parameters and input width.
    Z_train, Z_val : float32 arrays (n, dim)
        Standardised training and validation rows.
    seeds, tags : lists of the same length
        Each member's seed, and the text appended to its phase names in ``progress``
        (" 2/5" makes "pretrain 2/5").
    threads : int
        torch threads per member.
    jobs : int
        Members trained at once.
    progress : callable, optional
        ``progress(phase + tag, epoch, max_epochs, train_loss, val_loss)``, called in this thread.

    Returns
    -------
    list of dict
        What :meth:`DeepSVDD._fit_member` returns, for each seed.
    """
    events: queue.Queue = queue.Queue()
    running: dict[int, subprocess.Popen] = {}
    results: dict[int, dict] = {}
    todo = list(range(len(seeds)))
    relays = [_tagged(progress, tag) for tag in tags]
    with tempfile.TemporaryDirectory(prefix="loopwatch-members-") as tmp:
        work = Path(tmp)
        np.save(work / "train.npy", np.ascontiguousarray(Z_train, dtype=np.float32))
        np.save(work / "val.npy", np.ascontiguousarray(Z_val, dtype=np.float32))
        (work / "spec.json").write_text(json.dumps({"kind": kind, "params": params, "dim": int(dim),
                                                    "threads": int(threads)}))
        try:
            while todo or running:
                while todo and len(running) < jobs:
                    k = todo.pop(0)
                    running[k] = _start(work, k, seeds[k], events)
                try:
                    k, line = events.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                if line is not None:
                    _relay(line, relays[k])
                    continue
                proc = running.pop(k)  # the worker closed its output: it has finished
                if proc.wait() != 0:
                    raise DetectorError(_failure(work, k, seeds[k], proc.returncode))
                results[k] = _read_result(work, k)
        finally:
            for proc in running.values():  # an error or an interrupt: stop the members still training
                proc.kill()
            for proc in running.values():
                proc.wait()
    return [results[k] for k in range(len(seeds))]


def _start(work: Path, k: int, seed: int, events: queue.Queue) -> subprocess.Popen:
    """Start the worker of member ``k``; a thread forwards its output lines to ``events`` (None at the end)."""
    root = str(Path(__file__).resolve().parents[2])  # the folder holding the loopwatch package
    log = open(work / f"member{k}.log", "wb")
    try:
        proc = subprocess.Popen([sys.executable, "-c", _WORKER_MAIN, root, str(work), str(k), str(seed)],
                                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                text=True, encoding="utf-8", bufsize=1)
    except OSError as exc:
        raise DetectorError(f"ensemble member {k + 1} (seed {seed}): cannot start a worker process with "
                            f"{sys.executable}: {exc.strerror or exc}; train with jobs=1 (--jobs 1)") from None
    finally:
        log.close()

    def forward() -> None:
        assert proc.stdout is not None
        with proc.stdout:
            for line in proc.stdout:
                events.put((k, line))
        events.put((k, None))

    threading.Thread(target=forward, name=f"loopwatch-member-{k}", daemon=True).start()
    return proc


def _relay(line: str, progress: ProgressFn | None) -> None:
    """Pass one epoch line of a worker to ``progress``; other output (a library's print) is ignored."""
    try:
        event = json.loads(line)
    except ValueError:
        return
    if progress is not None and isinstance(event, dict) and "epoch" in event:
        progress(*event["epoch"])


def _failure(work: Path, k: int, seed: int, code: int) -> str:
    """The one-line reason a worker failed: its own error message, or the last line it wrote."""
    err = work / f"member{k}.error"
    if err.exists():
        return err.read_text(encoding="utf-8").strip()
    try:
        tail = [ln for ln in (work / f"member{k}.log").read_text(encoding="utf-8", errors="replace").splitlines()
                if ln.strip()]
    except OSError:
        tail = []
    return f"ensemble member {k + 1} (seed {seed}) stopped with exit code {code}" + (f": {tail[-1]}" if tail else "")


def _write_result(work: Path, k: int, result: dict) -> None:
    layers = result["layers"]
    arrays: dict[str, np.ndarray] = {"center": result["center"]}
    for i, (W, b) in enumerate(layers):
        arrays[f"W{i}"] = W
        if b is not None:
            arrays[f"b{i}"] = b
    for phase, h in result["history"].items():
        arrays[f"history.{phase}"] = h
    np.savez(work / f"member{k}.npz", **arrays)
    facts = {"n_layers": len(layers), "phases": list(result["history"]), "info": result["info"]}
    (work / f"member{k}.json").write_text(json.dumps(facts))


def _read_result(work: Path, k: int) -> dict:
    facts = json.loads((work / f"member{k}.json").read_text())
    with np.load(work / f"member{k}.npz", allow_pickle=False) as z:
        layers = [(z[f"W{i}"], z[f"b{i}"] if f"b{i}" in z.files else None) for i in range(facts["n_layers"])]
        history = {phase: z[f"history.{phase}"] for phase in facts["phases"]}
        center = z["center"]
    return {"layers": layers, "center": center, "history": history, "info": facts["info"]}


def _worker(argv: list[str]) -> int:
    """``python -m loopwatch.detect.members DIR INDEX SEED``: train one member (see the module docstring)."""
    from loopwatch.detect import make_detector

    work, k, seed = Path(argv[0]), int(argv[1]), int(argv[2])
    spec = json.loads((work / "spec.json").read_text())
    det = make_detector(spec["kind"], **spec["params"])
    det.dim = int(spec["dim"])
    Z_train = np.load(work / "train.npy", allow_pickle=False)
    Z_val = np.load(work / "val.npy", allow_pickle=False)

    def progress(phase: str, epoch: int, total: int, train_loss: float, val_loss: float) -> None:
        print(json.dumps({"epoch": [phase, epoch, total, train_loss, val_loss]}), flush=True)

    try:
        result = det._fit_member(Z_train, Z_val, seed, int(spec["threads"]), progress)
    except DetectorError as exc:
        (work / f"member{k}.error").write_text(str(exc), encoding="utf-8")
        return 1
    _write_result(work, k, result)
    return 0


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1:]))
