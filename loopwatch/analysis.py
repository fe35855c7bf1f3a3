"""One file in, one verdict out: decode, run the quality checks, embed, score against a model.

:class:`Analyzer` is the library behind the daemon's worker, ``loopwatch client
score`` when no daemon runs, and the REAPER ``ExecProcess`` fallback. It keeps
encoders and models loaded between calls and embeds through the cache.

Model choice for a file (``[models]`` in the configuration, documented in
``docs/daemon.md``):

1. a model named explicitly (``--model`` on a request);
2. the first ``[[models.rules]]`` entry whose ``pattern`` (a glob, matched
   case-insensitively against the path with forward slashes) matches;
3. a model whose name appears as a word in the file name (``Bass 3.wav`` ->
   ``bass``), when such a model exists;
4. ``[models] default``; empty means no outlier score, checks only.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from loopwatch.audio import Audio, AudioError, SectionError, load
from loopwatch.findings import Finding, severity_rank
from loopwatch.unfinished import unfinished_finding

log = logging.getLogger(__name__)


def exception_line(exc: BaseException) -> str:
    """An unexpected exception in one line: ``"OverflowError: math range error"`` (the type alone when it has no
    message; only the first line of a long one)."""
    first = (str(exc).splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


@dataclass
class ModelScore:
    """A model's assessment of one file."""

    model: str
    encoder: str
    score: float
    ratio: float
    percentile: float
    verdict: str  # normal | unusual | outlier
    fingerprint: str = ""
    nearest: list[str] = field(default_factory=list)


@dataclass
class FileResult:
    """What loopwatch found in one file (or section)."""

    path: str
    file_hash: str | None = None
    size: int | None = None
    mtime_ns: int | None = None
    start_s: float | None = None
    length_s: float | None = None
    duration: float | None = None
    findings: list[Finding] = field(default_factory=list)
    model: ModelScore | None = None
    error: str | None = None
    model_error: str | None = None
    bad_section: bool = False  # error is about the section asked for, not the file

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class Job:
    """A file (or a section of it) to analyse."""

    path: str
    start_s: float | None = None
    length_s: float | None = None
    model: str = ""  # explicit model name; "" = by rule


class Analyzer:
    """Checks and outlier scores for files, with models and encoders kept warm.

    Parameters
    ----------
    cfg : dict
        The configuration (``loopwatch.config.load_config()``).
    device : str, optional
        Torch device for the encoders (default ``[embed] device``).
    cache : EmbeddingCache, True or None
        Where embeddings are cached (``True``: the default cache).
    """

    def __init__(self, cfg: dict[str, Any], *, device: str | None = None, cache: Any = True) -> None:
        from loopwatch.cache import EmbeddingCache

        self.cfg = cfg
        self.device = device or cfg["embed"].get("device") or "auto"
        self.cache = EmbeddingCache() if cache is True else cache
        self.max_duration = float(cfg["audio"]["max_duration_s"])
        self.check_cfg = {k: v for k, v in cfg.get("checks", {}).items() if isinstance(v, dict)}
        self._models: dict[str, tuple[int | None, Any]] = {}
        self._encoders: dict[str, Any] = {}
        self._names: tuple[float, list[str]] | None = None
        self._lock = threading.Lock()

    # -- models ------------------------------------------------------------------------

    def available_models(self) -> list[str]:
        """Names of the installed models (listed at most every few seconds)."""
        import time

        from loopwatch.modelstore import list_models

        now = time.monotonic()
        if self._names is None or now - self._names[0] > 5.0:
            self._names = (now, [m["name"] for m in list_models() if "error" not in m])
        return self._names[1]

    def model_for(self, path: str, explicit: str = "") -> str:
        """Name of the model that scores ``path`` ("" for none); see the module docstring."""
        if explicit:
            return explicit
        mcfg = self.cfg.get("models", {})
        posix = str(path).replace("\\", "/").lower()
        for rule in mcfg.get("rules", []):
            pattern = str(rule.get("pattern", "")).replace("\\", "/").lower()
            if pattern and fnmatch.fnmatchcase(posix, pattern):
                return str(rule.get("model", ""))
        words = set(re.split(r"[^a-z0-9]+", Path(posix).stem))
        for name in self.available_models():
            if name.lower() in words:
                return name
        return str(mcfg.get("default", ""))

    def model(self, name: str):
        """The model called ``name``, loaded once and again whenever its file changes (a re-train)."""
        from loopwatch.modelstore import TrainedModel, model_paths

        try:
            stamp = model_paths(name)[1].stat().st_mtime_ns
        except (OSError, ValueError):
            stamp = None
        with self._lock:
            cached = self._models.get(name)
            if cached is None or cached[0] != stamp:
                self._models[name] = (stamp, TrainedModel.load(name))
            return self._models[name][1]

    def encoder(self, name: str):
        from loopwatch.embed import get_encoder

        with self._lock:
            if name not in self._encoders:
                self._encoders[name] = get_encoder(name, device=self.device)
            return self._encoders[name]

    def warm_up(self, model_names: Sequence[str]) -> str:
        """Load the named models and their encoders now; return the torch device in use ("none" if none)."""
        device = "none"
        for name in model_names:
            if not name:
                continue
            m = self.model(name)
            enc = self.encoder(m.encoder)
            device = getattr(enc, "device", "cpu")
        return device

    # -- analysis ----------------------------------------------------------------------

    def decode(self, job: Job) -> tuple[Audio | None, FileResult]:
        import os

        res = FileResult(path=job.path, start_s=job.start_s, length_s=job.length_s)
        try:
            st = os.stat(job.path)
            res.size, res.mtime_ns = st.st_size, st.st_mtime_ns
            audio = load(job.path, max_duration=self.max_duration, start_s=job.start_s or 0.0,
                         length_s=job.length_s, recover=True)
            res.file_hash = self.cache.file_hash(job.path) if self.cache else _hash(job.path)
        except AudioError as exc:
            res.error = exc.reason
            res.bad_section = isinstance(exc, SectionError)
            return None, res
        except OSError as exc:
            res.error = f"cannot read: {exc.strerror or exc}"
            return None, res
        except Exception as exc:  # a decoder bug or an absurd file must cost this file only, never the batch
            log.exception("decoding %s failed", job.path)
            res.error = f"cannot decode: {exception_line(exc)}"
            return None, res
        res.duration = audio.duration
        return audio, res

    def analyze(self, jobs: Sequence[Job], *, checks: bool = True) -> list[FileResult]:
        """Analyse a batch: decode every file, run the checks, embed and score per model."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=2) as pool:
            decoded = list(pool.map(self.decode, jobs))
        results = []
        by_model: dict[str, list[tuple[Job, Audio, FileResult]]] = {}
        for job, (audio, res) in zip(jobs, decoded):
            results.append(res)
            if audio is None:
                continue
            if checks:
                res.findings = self.run_checks(audio, job)
            if audio.unfinished:  # a recording whose writer never finished it: say so, then judge what is there
                res.findings = [unfinished_finding(audio, job.start_s or 0.0), *res.findings]
            name = self.model_for(job.path, job.model)
            if name:
                by_model.setdefault(name, []).append((job, audio, res))
        for name, group in by_model.items():
            self._score(name, group)
        return results

    def run_checks(self, audio: Audio, job: Job) -> list[Finding]:
        """The quality checks on a decoded file; for a section, the time-local ones, in file time.

        A section of a file is not a loop, so the checks about the file as a
        whole (seam, length, leading/trailing silence) are skipped for it.
        """
        from loopwatch.checks import CHECKS, run_checks

        section = job.start_s is not None or job.length_s is not None
        only = [n for n in CHECKS if n not in SECTION_SKIPS] if section else None
        try:
            found = run_checks(audio, config=self.check_cfg, only=only)
        except Exception as exc:  # a check must never take the daemon down
            log.exception("checks failed on %s", job.path)
            return [Finding("checks", "warn", 0.0, 0.0, 0.0, "", f"quality checks failed: {exc}")]
        offset = job.start_s or 0.0
        if offset:
            found = [Finding(f.check, f.severity, f.t0 + offset, f.t1 + offset, f.value, f.unit,
                             shift_message_times(f.message, f.t0, f.t1, offset), f.channel) for f in found]
        return found

    def _score(self, name: str, group: list[tuple[Job, Audio, FileResult]]) -> None:
        from loopwatch.modelstore import ModelError

        try:
            model = self.model(name)
            enc = self.encoder(model.encoder)
            model.check_encoder(enc.name, enc.prep_version)
        except Exception as exc:  # missing model or weights: checks still count
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            for _, _, res in group:
                res.model_error = f"model {name}: {msg}"
            log.warning("cannot score with model %s: %s", name, msg)
            return
        vecs: list[np.ndarray | None] = [None] * len(group)
        keys = [self._cache_key(res) for _, _, res in group]
        if self.cache:
            hits = self.cache.get_many([k for k in keys if k], enc.name, enc.prep_version)
            vecs = [hits.get(k) if k else None for k in keys]
        todo = [i for i, v in enumerate(vecs) if v is None]
        if todo:
            out = enc.embed([group[i][1].mono for i in todo])
            for i, v in zip(todo, out):
                vecs[i] = v
                if self.cache and keys[i] and np.isfinite(v).all():
                    self.cache.put(keys[i], enc.name, enc.prep_version, v, group[i][2].duration)
        X = np.stack(vecs)
        try:
            assessments = model.assess(X)
        except ModelError as exc:
            for _, _, res in group:
                res.model_error = str(exc)
            return
        nearest: list[list[str]] = [[] for _ in group]
        if model.embeddings is not None:
            try:
                nearest = [[Path(n.path).name for n in row] for row in model.nearest(X, k=1)]
            except ModelError:
                pass
        # Identifies this trained instance: a re-trained model re-scores moved files.
        fp = f"{model.name}@{model.meta.get('created', '')}"
        for (_, _, res), a, nn in zip(group, assessments, nearest):
            res.model = ModelScore(model=model.name, encoder=model.encoder, score=a.score, ratio=a.ratio,
                                   percentile=a.percentile, verdict=a.verdict, fingerprint=fp, nearest=nn)

    @staticmethod
    def _cache_key(res: FileResult) -> str | None:
        if res.file_hash is None:
            return None
        if res.start_s is None and res.length_s is None:
            return res.file_hash
        return f"{res.file_hash}@{res.start_s or 0:.6f}+{res.length_s or -1:.6f}"


#: Checks about a file as a whole, which mean nothing for a section of it.
SECTION_SKIPS = frozenset({"seam", "length", "silence"})

# A time is written X.XXX (three decimals); in a range "t0-t1" the second one follows a hyphen.
_TIME = re.compile(r"(?<![\d.+])(?<![^\d]-)(\d+\.\d{3})(?![\d])")


def shift_message_times(message: str, t0: float, t1: float, offset: float) -> str:
    """Move the times quoted in a section finding's message (``X.XXX`` within ``[t0, t1]``) into file time."""

    def repl(m: re.Match) -> str:
        v = float(m.group(1))
        if t0 - 5e-4 <= v <= t1 + 5e-4:
            return f"{v + offset:.3f}"
        return m.group(1)

    return _TIME.sub(repl, message)


def _hash(path: str) -> str:
    from loopwatch.hashing import content_hash

    return content_hash(path)


# -- results -> alerts ---------------------------------------------------------------------

def model_finding(score: ModelScore, duration: float, error_ratio: float, start: float = 0.0) -> Finding | None:
    """The ``outlier`` finding of a model verdict (None for normal and unusual), spanning ``start`` to
    ``start + duration`` in file time (a section's own span)."""
    if score.verdict != "outlier":
        return None
    severity = "error" if score.ratio >= error_ratio else "warn"
    like = f"; sounds most like {score.nearest[0]}" if score.nearest else ""
    msg = (f"outlier for model {score.model}: score {score.ratio:.2f}x threshold "
           f"({score.percentile:.1f}th percentile){like}")
    return Finding("outlier", severity, float(start), float(start) + float(duration or 0.0), float(score.ratio),
                   "x threshold", msg)


def alerts_for(res: FileResult, cfg: dict[str, Any]) -> tuple[list[Finding], str]:
    """The findings that become alerts for a result, in time order, and the file's verdict.

    A file that cannot be decoded gives one ``decode`` alert and the verdict
    ``failed``; otherwise every finding at or above ``[checks] min_severity``,
    plus the model's ``outlier`` finding, is an alert, and the verdict is the
    worst alert severity (``ok`` when there is none). See ``docs/osc.md``.
    """
    if res.error is not None:
        return [Finding("decode", "error", 0.0, 0.0, 0.0, "", f"cannot read file: {res.error}")], "failed"
    floor = severity_rank(cfg.get("checks", {}).get("min_severity", "warn"))
    out = [f for f in res.findings if severity_rank(f.severity) >= floor]
    if res.model is not None:
        f = model_finding(res.model, res.duration or 0.0, float(cfg.get("models", {}).get("error_ratio", 3.0)),
                          res.start_s or 0.0)
        if f is not None and severity_rank(f.severity) >= floor:
            out.append(f)
    out.sort(key=lambda f: (f.t0, f.t1, f.check))
    if not out:
        return out, "ok"
    worst = max(severity_rank(f.severity) for f in out)
    return out, ("error" if worst == 2 else "warn" if worst == 1 else "ok")
