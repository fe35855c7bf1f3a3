"""Evaluate outlier detectors and quality checks on a labelled corpus.

Two kinds of scorer are measured:

**Detectors**: anything with ``fit(X_train, X_val)`` and ``score_samples(X)``
(higher = more anomalous), over one vector per file (an encoder's embedding or
a reference feature). For each library the detector is fitted on the library's
``train`` split (``val`` given for early stopping), the threshold is the 95th
percentile (``quantile``) of its validation scores, and the test set is the
library's held-out normal loops plus all its anomalies (out-of-style loops and
defect files). Reported: AUROC (with a bootstrap interval), average precision,
precision/recall/F1 at the threshold, overall, per family and per kind.

**Checks**: anything callable as ``check(audio) -> list[Finding]``. Each
check runs on every clean loop and every defect file. A defect file counts as
*detected* by a check when a finding with the expected check name
(:data:`~loopwatch.evaluation.defects.EXPECTED_CHECK`) and severity at least
``min_severity`` lies within ``tolerance_s`` of an injected span (on the loop
circle). Per defect kind and strength, on the defect files and their clean
originals (a 1:1 mix):

* TP = detected defect files; FN = missed ones;
* FP = clean originals where the check fires at all, plus defect files where
  it fires somewhere that is not the defect;
* precision, recall, F1 from those; the localisation error is the onset error
  of the best-matching finding, in ms.

The false-positive rate of every check name is measured on all clean loops
(train, val and test), and a cross-fire table shows which checks fire on which
defect kinds.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from loopwatch.evaluation import metrics as M
from loopwatch.evaluation.defects import DEFECTS
from loopwatch.evaluation.manifest import Entry
from loopwatch.findings import Finding, severity_rank

Progress = Callable[[str, int, int], None]


class HarnessError(Exception):
    """The evaluation cannot run (bad spec, too little data)."""


# --- resolving scorers by name ----------------------------------------------------------------------


def load_object(spec: str) -> Any:
    """Import ``"package.module:attribute"`` (attributes may be dotted)."""
    if ":" not in spec:
        raise HarnessError(f"{spec!r} is not a known name; give module:attribute, e.g. loopwatch.checks:run_all")
    mod_name, attr = spec.split(":", 1)
    try:
        obj: Any = importlib.import_module(mod_name)
    except ImportError as exc:
        raise HarnessError(f"{spec}: cannot import {mod_name} ({exc})") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise HarnessError(f"{spec}: {mod_name} has no attribute {attr}") from None
    return obj


def loopwatch_detector_spec(spec: str) -> tuple[str, dict[str, Any]] | None:
    """``(type, params)`` for a ``loopwatch.detect`` spec: a type (``aewres``) or a Deep SVDD ensemble of N
    members (``aewres-x5`` -> ``("aewres", {"ensemble": 5})``); None for anything else."""
    import re

    from loopwatch.detect import DETECTOR_TYPES

    if spec in DETECTOR_TYPES:
        return spec, {}
    ens = re.fullmatch(r"(aewres|ae)-x(\d+)", spec)
    return (ens[1], {"ensemble": int(ens[2])}) if ens else None


def detector_factory(spec: str) -> tuple[str, Callable[[], Any]]:
    """``(label, factory)`` for a detector spec.

    Specs: a ``loopwatch.detect`` type (``aewres``, ``ae``, ``iforest``,
    ``pca``), a Deep SVDD ensemble of N members (``aewres-x5``, ``ae-x3``), a
    reference detector (``mean-distance``, ``knn``), or ``module:attribute``
    naming a class or a factory returning an object with ``fit`` and
    ``score_samples``.
    """
    from loopwatch.evaluation import reference

    if spec in reference.DETECTORS:
        return spec, reference.DETECTORS[spec]
    if ":" not in spec:
        try:
            from loopwatch.detect import DETECTOR_TYPES, make_detector
        except ImportError:
            DETECTOR_TYPES, make_detector = (), None
        ours = loopwatch_detector_spec(spec) if make_detector is not None else None
        if ours is not None:
            return spec, lambda: make_detector(ours[0], **ours[1])
        known = list(reference.DETECTORS) + list(DETECTOR_TYPES)
        raise HarnessError(f"unknown detector {spec!r}; choose from {', '.join(known)} or give module:attribute")
    obj = load_object(spec)
    if not callable(obj):
        raise HarnessError(f"{spec} is not a class or factory")
    return spec.split(":", 1)[1], obj


def check_function(spec: str) -> tuple[str, Callable]:
    """``(label, check)`` for a check spec: ``reference`` (all reference checks),
    a reference check name (``ref-click``...), or ``module:attribute``."""
    from loopwatch.evaluation import reference

    if spec == "reference":
        return "reference", reference.all_reference_checks
    if spec in reference.CHECKS:
        return spec, reference.CHECKS[spec]
    fn = load_object(spec)
    if not callable(fn):
        raise HarnessError(f"{spec} is not callable")
    return spec.split(":", 1)[1], fn


# --- features -------------------------------------------------------------------------------------


@dataclass
class FeatureSet:
    """One vector per file: ``X[i]`` belongs to ``files[i]`` (paths relative to the corpus)."""

    encoder: str
    files: list[str]
    X: np.ndarray
    errors: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def rows(self, files: list[str]) -> tuple[np.ndarray, list[str]]:
        """The rows for ``files`` that have vectors, and those files."""
        index = {f: i for i, f in enumerate(self.files)}
        keep = [f for f in files if f in index]
        return (self.X[[index[f] for f in keep]] if keep else np.zeros((0, self.X.shape[1]))), keep


def compute_features(
    root: str | Path,
    entries: list[Entry],
    encoder: str,
    *,
    cache: Any = True,
    progress: Progress | None = None,
) -> FeatureSet:
    """Vectors for every entry: an encoder from :mod:`loopwatch.embed` through the embedding cache,
    or a reference feature (``level``, ``basic``).

    Files that cannot be read are left out and listed in ``errors``.
    """
    from loopwatch.evaluation import reference

    root = Path(root)
    files = [e.file for e in entries]
    t0 = time.perf_counter()
    if encoder in reference.FEATURES:
        from loopwatch.audio import AudioError, load

        fn = reference.FEATURES[encoder]
        rows, ok, errors = [], [], {}
        for i, f in enumerate(files):
            try:
                a = load(root / f)
                rows.append(fn(a.mono, a.sr))
                ok.append(f)
            except AudioError as exc:
                errors[f] = str(exc)
            if progress:
                progress(f"features {encoder}", i + 1, len(files))
        X = np.stack(rows) if rows else np.zeros((0, 1))
        return FeatureSet(encoder, ok, X, errors, {"seconds": round(time.perf_counter() - t0, 2), "kind": "reference"})
    try:
        from loopwatch.embedding import embed_files
    except ImportError as exc:  # pragma: no cover - the package ships it
        raise HarnessError(f"encoder {encoder!r} needs loopwatch.embedding ({exc})") from None
    from loopwatch.embed import EncoderError

    paths = [root / f for f in files]
    cb = (lambda done, total: progress(f"embed {encoder}", done, total)) if progress else None
    try:
        res = embed_files(paths, encoder, cache=cache, progress=cb)
    except EncoderError as exc:
        raise HarnessError(str(exc)) from None
    rel = {str(p): f for p, f in zip(paths, files)}
    ok = [rel[str(p)] for p in res.paths]
    errors = {rel.get(str(p), str(p)): reason for p, reason in res.errors}
    info = {"seconds": round(time.perf_counter() - t0, 2), "kind": "embedding", "prep_version": res.prep_version,
            "cached": res.n_cached, "computed": res.n_computed, "dim": int(res.X.shape[1]) if res.X.ndim == 2 else 0}
    return FeatureSet(encoder, ok, np.asarray(res.X, dtype=np.float64), errors, info)


# --- detectors ------------------------------------------------------------------------------------


@dataclass
class DetectorResult:
    """Everything measured for one detector on one library and one encoder."""

    detector: str
    encoder: str
    library: str
    quantile: float
    threshold: float
    scores: dict[str, np.ndarray]  # train, val, test
    test_files: list[str]
    test_family: list[str]
    test_kind: list[str]
    metrics: dict[str, Any]
    fit_seconds: float
    latent: dict[str, np.ndarray] | None = None  # split -> transform(X), when the detector has one

    def to_dict(self) -> dict[str, Any]:
        return {"detector": self.detector, "encoder": self.encoder, "library": self.library,
                "quantile": self.quantile, "threshold": self.threshold, "fit_seconds": self.fit_seconds,
                "n_train": int(self.scores["train"].size), "n_val": int(self.scores["val"].size),
                "n_test": int(self.scores["test"].size), "metrics": self.metrics}


def score_metrics(y: np.ndarray, s: np.ndarray, threshold: float, *, boot: int = 500) -> dict[str, Any]:
    """AUROC (+ bootstrap 95 % interval), AP and P/R/F1 of ``s > threshold`` for labels ``y``."""
    y = np.asarray(y, dtype=bool)
    out: dict[str, Any] = {"n_normal": int((~y).sum()), "n_anomaly": int(y.sum())}
    prf = M.prf_from_predictions(y, s > threshold)
    out.update({"precision": prf.precision, "recall": prf.recall, "f1": prf.f1, "fpr": prf.fpr,
                "tp": prf.tp, "fp": prf.fp, "fn": prf.fn, "tn": prf.tn})
    if y.any() and (~y).any():
        out["auroc"] = M.roc_auc(y, s)
        out["ap"] = M.average_precision(y, s)
        if boot:
            out["auroc_ci"] = list(M.bootstrap_auc_interval(y, s, n_boot=boot))
    return out


def evaluate_detector(
    name: str,
    detector: Any,
    X_train: np.ndarray,
    X_val: np.ndarray,
    X_test: np.ndarray,
    test_entries: list[Entry],
    *,
    encoder: str = "",
    library: str = "",
    quantile: float = 0.95,
    boot: int = 500,
    keep_latent: bool = True,
) -> DetectorResult:
    """Fit ``detector`` and measure it on ``X_test`` (rows aligned with ``test_entries``).

    The threshold is the ``quantile`` of the validation scores; a test file is
    flagged when its score is strictly above it.
    """
    if X_train.shape[0] < 2 or X_val.shape[0] < 1:
        raise HarnessError(f"{library}: need at least 2 training and 1 validation vectors, "
                           f"got {X_train.shape[0]} and {X_val.shape[0]}")
    if len(test_entries) != X_test.shape[0]:
        raise HarnessError("test rows and test entries differ in number")
    t0 = time.perf_counter()
    detector.fit(X_train, X_val)
    fit_s = time.perf_counter() - t0
    s_train = np.asarray(detector.score_samples(X_train), dtype=np.float64)
    s_val = np.asarray(detector.score_samples(X_val), dtype=np.float64)
    s_test = np.asarray(detector.score_samples(X_test), dtype=np.float64)
    thr = M.quantile_threshold(s_val, quantile)
    y = np.array([e.is_anomaly for e in test_entries])
    fam = np.array([e.family for e in test_entries])
    kind = np.array([e.kind for e in test_entries])
    normal = ~y
    metrics: dict[str, Any] = {"all": score_metrics(y, s_test, thr, boot=boot)}
    metrics["val_flagged"] = float(np.mean(s_val > thr))
    metrics["test_normal_flagged"] = float(np.mean(s_test[normal] > thr)) if normal.any() else None
    fams: dict[str, Any] = {}
    for f in sorted(set(fam[y])):
        sel = normal | (fam == f)
        fams[f] = score_metrics(y[sel], s_test[sel], thr, boot=boot)
    metrics["family"] = fams
    kinds: dict[str, Any] = {}
    for k in sorted(set(kind[y])):
        sel = normal | (y & (kind == k))
        m = score_metrics(y[sel], s_test[sel], thr, boot=0)
        kinds[k] = {"family": str(fam[y & (kind == k)][0]), "n": m["n_anomaly"], "auroc": m.get("auroc"),
                    "ap": m.get("ap"), "recall": m["recall"]}
    metrics["kind"] = kinds
    latent = None
    if keep_latent and hasattr(detector, "transform") and getattr(detector, "latent_name", "latent") == "latent":
        try:
            latent = {"train": np.asarray(detector.transform(X_train)), "val": np.asarray(detector.transform(X_val)),
                      "test": np.asarray(detector.transform(X_test))}
        except Exception:  # a detector without a usable latent space: figures fall back to the inputs
            latent = None
    return DetectorResult(name, encoder, library, quantile, thr,
                          {"train": s_train, "val": s_val, "test": s_test},
                          [e.file for e in test_entries], fam.tolist(), kind.tolist(), metrics, round(fit_s, 3), latent)


def library_splits(entries: list[Entry], library: str) -> tuple[list[Entry], list[Entry], list[Entry]]:
    """Train and val normal loops, and the test set (normal test loops and every anomaly) of ``library``."""
    lib = [e for e in entries if e.library == library]
    train = [e for e in lib if e.label == "normal" and e.split == "train"]
    val = [e for e in lib if e.label == "normal" and e.split == "val"]
    test = [e for e in lib if e.split == "test"]
    return train, val, test


def evaluate_detectors(
    entries: list[Entry],
    features: FeatureSet,
    detectors: list[str],
    *,
    libraries: list[str] | None = None,
    quantile: float = 0.95,
    boot: int = 500,
    progress: Progress | None = None,
) -> list[DetectorResult]:
    """Run every detector spec on every library with one feature set."""
    libs = libraries or sorted({e.library for e in entries})
    out = []
    total = len(libs) * len(detectors)
    done = 0
    for lib in libs:
        tr, va, te = library_splits(entries, lib)
        X_tr, _ = features.rows([e.file for e in tr])
        X_va, _ = features.rows([e.file for e in va])
        X_te, kept = features.rows([e.file for e in te])
        keep = set(kept)
        te = [e for e in te if e.file in keep]
        for spec in detectors:
            label, factory = detector_factory(spec)
            res = evaluate_detector(label, factory(), X_tr, X_va, X_te, te, encoder=features.encoder, library=lib,
                                    quantile=quantile, boot=boot)
            out.append(res)
            done += 1
            if progress:
                progress("detectors", done, total)
    return out


# --- checks ---------------------------------------------------------------------------------------


@dataclass
class CheckRun:
    """Findings of the checks on every evaluated file.

    ``declared`` holds the check names the checks say they produce (their
    ``check_names`` attribute), or None when some check does not say: then
    only the names seen in findings are known to have run.
    """

    findings: dict[str, list[Finding]]
    errors: dict[str, str]
    seconds: float
    audio_seconds: float
    declared: tuple[str, ...] | None = None


def declared_names(checks: list[Callable]) -> tuple[str, ...] | None:
    """Union of the checks' ``check_names`` attributes, or None if any check lacks one."""
    names: list[str] = []
    for fn in checks:
        got = getattr(fn, "check_names", None)
        if got is None:
            return None
        names += [str(n) for n in got]
    return tuple(dict.fromkeys(names))


def run_checks(
    root: str | Path,
    entries: list[Entry],
    checks: list[Callable],
    *,
    progress: Progress | None = None,
) -> CheckRun:
    """Load every entry's file and run every check on it. Exceptions are recorded per file."""
    from loopwatch.audio import AudioError, load

    root = Path(root)
    findings: dict[str, list[Finding]] = {}
    errors: dict[str, str] = {}
    t_checks = 0.0
    audio_s = 0.0
    for i, e in enumerate(entries):
        try:
            a = load(root / e.file)
        except AudioError as exc:
            errors[e.file] = str(exc)
            continue
        audio_s += a.duration
        out: list[Finding] = []
        t0 = time.perf_counter()
        for fn in checks:
            try:
                out.extend(fn(a))
            except Exception as exc:  # a crashing check is a result, not a reason to stop
                errors[e.file] = f"{getattr(fn, '__name__', fn)}: {type(exc).__name__}: {exc}"
        t_checks += time.perf_counter() - t0
        findings[e.file] = out
        if progress:
            progress("checks", i + 1, len(entries))
    return CheckRun(findings, errors, round(t_checks, 3), round(audio_s, 3), declared_names(checks))


def _flagged(findings: list[Finding], check: str, min_rank: int) -> list[Finding]:
    return [f for f in findings if f.check == check and severity_rank(f.severity) >= min_rank]


def evaluate_checks(
    entries: list[Entry],
    run: CheckRun,
    *,
    tolerance_s: float = 0.01,
    min_severity: str = "warn",
    sr: int = 48000,
) -> dict[str, Any]:
    """Score the findings of :func:`run_checks` against the manifest (see the module docstring).

    Returns a JSON-ready dict with ``grades`` (one row per library × kind ×
    strength, plus ``all`` libraries pooled), ``false_positives`` (per check
    name and library on clean loops) and ``crossfire`` (share of files of each
    defect kind on which each check name fires).
    """
    min_rank = severity_rank(min_severity)
    clean = [e for e in entries if e.family == "normal" and e.file in run.findings]
    defects = [e for e in entries if e.family == "defect" and e.file in run.findings]
    seen = {f.check for fs in run.findings.values() for f in fs if severity_rank(f.severity) >= min_rank}
    ran = set(run.declared) | seen if run.declared is not None else seen
    names = sorted(ran)
    libs = sorted({e.library for e in clean + defects})

    # false positives on clean loops
    fps: dict[str, dict[str, Any]] = {}
    for name in names:
        row: dict[str, Any] = {}
        for lib in libs + ["all"]:
            cl = [e for e in clean if lib == "all" or e.library == lib]
            k = sum(1 for e in cl if _flagged(run.findings[e.file], name, min_rank))
            lo, hi = M.wilson_interval(k, len(cl))
            row[lib] = {"n": len(cl), "flagged": k, "rate": k / len(cl) if cl else 0.0, "ci": [lo, hi]}
        fps[name] = row

    # per grade
    grades = []
    groups: dict[tuple[str, str, float], list[Entry]] = {}
    for e in defects:
        groups.setdefault((e.library, e.kind, float(e.strength or 0.0)), []).append(e)
        groups.setdefault(("all", e.kind, float(e.strength or 0.0)), []).append(e)
    kind_order = {k: i for i, k in enumerate(DEFECTS)}
    for (lib, kind, strength), items in sorted(groups.items(), key=lambda kv: (kv[0][0] != "all", kv[0][0],
                                                                                kind_order.get(kv[0][1], 99),
                                                                                kv[0][2])):
        check = items[0].check
        if check not in ran:
            grades.append({"library": lib, "kind": kind, "check": check, "strength": strength,
                           "unit": items[0].unit, "grade": items[0].grade, "default": bool(items[0].default),
                           "n": len(items), "not_run": True})
            continue
        tp = fn = fp = 0
        errs = []
        for e in items:
            fl = _flagged(run.findings[e.file], check, min_rank)
            m = M.match_findings(e.positions, [(f.t0, f.t1) for f in fl], sr=sr, n_samples=e.n_samples,
                                 tolerance_s=tolerance_s)
            if m.detected:
                tp += 1
                if m.error_s is not None:
                    errs.append(m.error_s * 1000.0)
            else:
                fn += 1
            if m.n_unmatched:
                fp += 1
        sources = sorted({e.source for e in items if e.source in run.findings})
        fp_clean = sum(1 for s in sources if _flagged(run.findings[s], check, min_rank))
        prf = M.PRF(tp, fp + fp_clean, fn)
        d = DEFECTS.get(kind)
        row = {
            "library": lib, "kind": kind, "check": check, "strength": strength, "unit": items[0].unit,
            "grade": items[0].grade, "default": bool(items[0].default), "n": len(items), "n_clean": len(sources),
            "tp": tp, "fn": fn, "fp_defect_files": fp, "fp_clean": fp_clean,
            "precision": prf.precision, "recall": prf.recall, "f1": prf.f1,
            "recall_ci": list(M.wilson_interval(tp, len(items))),
            "localised": bool(d.localised) if d else True,
        }
        if errs and (d is None or d.localised):
            a = np.array(errs)
            row.update({"loc_median_ms": float(np.median(a)), "loc_p95_ms": float(np.percentile(a, 95)),
                        "loc_max_ms": float(a.max())})
        grades.append(row)

    # cross-fire: which check names fire on which kinds (pooled over libraries and strengths)
    cross: dict[str, dict[str, float]] = {}
    rows = [("clean", clean)] + [(k, [e for e in defects if e.kind == k]) for k in DEFECTS]
    rows += [(k, [e for e in defects if e.kind == k]) for k in sorted({e.kind for e in defects} - set(DEFECTS))]
    for label, items in rows:
        if not items:
            continue
        cross[label] = {name: float(np.mean([bool(_flagged(run.findings[e.file], name, min_rank)) for e in items]))
                        for name in names}
        cross[label]["_n"] = len(items)
    return {"tolerance_ms": tolerance_s * 1000.0, "min_severity": min_severity, "check_names": names,
            "not_run": sorted({e.check for e in defects if e.check} - ran),
            "n_clean": len(clean), "n_defect": len(defects), "grades": grades, "false_positives": fps,
            "crossfire": cross, "errors": dict(run.errors), "seconds": run.seconds,
            "audio_seconds": run.audio_seconds}
