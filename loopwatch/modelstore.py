"""Named, trained models in the user's data folder, and how to score with them.

A model is two files in :func:`loopwatch.config.models_dir`:

* ``NAME.safetensors``: every array: the detector's weights or trees, the
  standardisation statistics, the training and validation scores, and (unless
  disabled) the training embeddings used by :meth:`TrainedModel.nearest`;
* ``NAME.json``: the human-readable description: encoder name, dimension and
  preprocessing version; detector type and hyper-parameters; threshold and score
  quantiles; training-set size, a fingerprint of the training files (their
  content hashes), the files and their split; loopwatch's version; and the
  SHA-256 of the safetensors file, checked on every load.

Nothing is unpickled on load. The daemon and the commands use::

    model = TrainedModel.load("bass")
    model.encoder, model.prep_version, model.threshold
    res, verdicts = model.embed_and_assess(paths)      # embeds through the cache
    model.assess(X)                                     # -> [Assessment(score, ratio, percentile, verdict)]
    model.nearest(X, k=3)                               # -> [[Neighbour(path, hash, distance, split)]]

Verdicts: ``outlier`` when the score is above the threshold (default: the
95th percentile of validation scores), ``unusual`` when it is above the 90th
percentile but not the threshold, ``normal`` otherwise.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from loopwatch import __version__, config
from loopwatch.detect.base import DEFAULT_QUANTILE, Detector, DetectorError, ProgressFn, read_safetensors, \
    write_safetensors

#: Fewest readable training files ``train`` accepts (16 to learn from, 4 to set the threshold on).
MIN_TRAIN_FILES = 20
#: Below this many files ``train`` warns that the threshold rests on few validation scores.
FEW_TRAIN_FILES = 100
MODEL_FORMAT = "loopwatch-model"
MODEL_FORMAT_VERSION = 1
VERDICTS = ("normal", "unusual", "outlier")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ModelError(RuntimeError):
    """A model cannot be trained, found, read or used (one-line message)."""


@dataclass(frozen=True)
class Assessment:
    """A model's judgement of one embedding.

    Attributes
    ----------
    score : float
        Detector score; higher is more anomalous.
    ratio : float
        ``score / threshold``; above 1 is an outlier.
    percentile : float
        Percent of the model's validation scores at or below ``score`` (0-100).
    verdict : {"normal", "unusual", "outlier"}
    """

    score: float
    ratio: float
    percentile: float
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Neighbour:
    """A training loop close to a scored file in (standardised) embedding space."""

    path: str
    hash: str
    distance: float
    split: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_name(name: str) -> str:
    """Return ``name`` if it can name a model file on every platform, else raise :class:`ModelError`."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or name.lower().endswith((".json", ".safetensors")):
        raise ModelError(f"bad model name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
                         "letter or digit")
    return name


def model_paths(name: str) -> tuple[Path, Path]:
    """``(NAME.safetensors, NAME.json)`` in the models folder."""
    validate_name(name)
    d = config.models_dir()
    return d / f"{name}.safetensors", d / f"{name}.json"


def fingerprint(hashes: Iterable[str]) -> str:
    """SHA-256 over the sorted distinct content hashes: identical for the same set of training files."""
    return hashlib.sha256("\n".join(sorted(set(hashes))).encode()).hexdigest()


def build_detector(kind: str, quantile: float = DEFAULT_QUANTILE, params: dict[str, Any] | None = None,
                   seed: int = 0):
    """The unfitted detector :meth:`TrainedModel.train` fits: ``kind`` with ``params``, and ``seed`` for the
    detectors that take one (unless ``params`` gives it). Raises ``DetectorError`` for an unknown kind or
    hyper-parameter; call ``check_params()`` on it to check the values before any work."""
    from loopwatch.detect import detector_class

    klass = detector_class(kind)
    p = dict(params or {})
    if "seed" in klass.defaults:
        p.setdefault("seed", seed)
    return klass(quantile=quantile, **p)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class TrainedModel:
    """A detector together with what it was trained on.

    Attributes
    ----------
    name : str
    detector : Detector
    encoder : str
        Encoder the training embeddings came from; new files must be embedded with it.
    prep_version : str
        Preprocessing version of those embeddings; a different one is refused.
    dim : int
    threshold : float
    unusual_threshold : float
    meta : dict
        The JSON description (see the module docstring).
    files : list of dict
        ``{"path", "hash", "split"}`` per training file, in ``embeddings`` row order.
    embeddings : np.ndarray or None
        float32 ``(n_files, dim)``; None when trained with ``keep_embeddings=False``.
    """

    def __init__(self, name: str, detector: Detector, meta: dict[str, Any], files: list[dict[str, str]],
                 embeddings: np.ndarray | None) -> None:
        self.name = name
        self.detector = detector
        self.meta = meta
        self.files = files
        self.embeddings = embeddings
        self._Zlib: np.ndarray | None = None

    # -- properties -------------------------------------------------------------------------

    @property
    def encoder(self) -> str:
        return self.meta["encoder"]["name"]

    @property
    def prep_version(self) -> str:
        return self.meta["encoder"]["prep_version"]

    @property
    def dim(self) -> int:
        return int(self.meta["encoder"]["dim"])

    @property
    def kind(self) -> str:
        return self.detector.kind

    @property
    def threshold(self) -> float:
        return float(self.detector.threshold_)

    @property
    def unusual_threshold(self) -> float:
        return float(self.detector.unusual_threshold_)

    # -- training ---------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        name: str,
        X: np.ndarray,
        hashes: Sequence[str],
        paths: Sequence[str | os.PathLike],
        *,
        encoder: str,
        prep_version: str,
        detector: str = "aewres",
        quantile: float = DEFAULT_QUANTILE,
        params: dict[str, Any] | None = None,
        seed: int = 0,
        val_fraction: float = 0.2,
        keep_embeddings: bool = True,
        n_skipped: int = 0,
        progress: ProgressFn | None = None,
        min_files: int = MIN_TRAIN_FILES,
    ) -> "TrainedModel":
        """Split by file, fit a detector and describe the result (not saved: call :meth:`save`).

        Parameters
        ----------
        X : array (n_files, dim)
            One embedding per training file.
        hashes, paths : sequences of length n_files
            Content hash and path of each file; rows with equal hashes stay in one split.
        encoder, prep_version : str
            Where the embeddings came from (checked when scoring).
        detector : {"aewres", "ae", "iforest", "pca"}
        params : dict, optional
            Detector hyper-parameters (defaults: the paper's). ``seed`` is added to
            those of the detectors that take one.
        min_files : int
            Fewest distinct files accepted (:data:`MIN_TRAIN_FILES`).

        Raises
        ------
        ModelError
            Too few files, mismatched lengths, or a detector failure.
        """
        from loopwatch.detect.split import split_by_file

        validate_name(name)
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or len(X) != len(hashes) or len(X) != len(paths):
            raise ModelError(f"X has shape {X.shape} but there are {len(hashes)} hashes and {len(paths)} paths")
        n_distinct = len(set(hashes))
        if n_distinct < min_files:
            raise ModelError(f"need at least {min_files} distinct readable audio files to train a model, got "
                             f"{n_distinct}")
        try:
            det = build_detector(detector, quantile, params, seed)
            tr, va = split_by_file(list(hashes), val_fraction=val_fraction, seed=seed)
            det.fit(X[tr], X[va], progress=progress)
        except DetectorError as exc:
            raise ModelError(str(exc)) from None
        split = np.full(len(X), "train", dtype=object)
        split[va] = "val"
        files = [{"path": str(p_), "hash": str(h), "split": str(s)} for p_, h, s in zip(paths, hashes, split)]
        info = det.info_
        meta: dict[str, Any] = {
            "format": MODEL_FORMAT,
            "format_version": MODEL_FORMAT_VERSION,
            "name": name,
            "created": _now(),
            "loopwatch_version": __version__,
            "encoder": {"name": encoder, "dim": int(X.shape[1]), "prep_version": prep_version},
            "detector": None,  # filled from the detector's state at save time
            "threshold": det.threshold_,
            "quantile": det.quantile,
            "unusual_threshold": det.unusual_threshold_,
            "score_quantiles": det.score_quantiles(),
            "training": {
                "n_files": int(len(X)),
                "n_distinct": n_distinct,
                "n_train": int(len(tr)),
                "n_val": int(len(va)),
                "n_skipped": int(n_skipped),
                "fingerprint": fingerprint(hashes),
                "seed": int(seed),
                "val_fraction": float(val_fraction),
                "seconds": info.get("seconds"),
                "epochs": info.get("epochs"),
                "val_loss": info.get("val_loss"),
            },
        }
        _, meta["detector"] = det.state()
        return cls(name, det, meta, files, X.copy() if keep_embeddings else None)

    # -- files ------------------------------------------------------------------------------

    def save(self, overwrite: bool = False) -> tuple[Path, Path]:
        """Write ``NAME.safetensors`` and ``NAME.json`` to the models folder (atomically, tensors first)."""
        st_path, js_path = model_paths(self.name)
        if not overwrite and (st_path.exists() or js_path.exists()):
            raise ModelError(f"a model named {self.name!r} exists already ({js_path}); choose another name or "
                             "replace it (--force)")
        tensors, det_meta = self.detector.state()
        out = {f"det.{k}": v for k, v in tensors.items()}
        if self.embeddings is not None:
            out["data.X"] = np.ascontiguousarray(self.embeddings, dtype=np.float32)
        sha = write_safetensors(st_path, out, {"loopwatch_model": self.name})
        meta = dict(self.meta)
        meta["detector"] = det_meta
        meta["threshold"] = self.threshold
        meta["quantile"] = self.detector.quantile
        meta["unusual_threshold"] = self.unusual_threshold
        meta["tensors"] = {"file": st_path.name, "sha256": sha, "bytes": st_path.stat().st_size,
                           "embeddings": self.embeddings is not None}
        meta["files"] = self.files
        _write_json(js_path, meta)
        self.meta = meta
        return st_path, js_path

    @classmethod
    def load(cls, name_or_path: str | os.PathLike) -> "TrainedModel":
        """Load a model by name (from the models folder) or from a ``.json``/``.safetensors`` path.

        Raises :class:`ModelError` with a one-line reason: unknown name, unreadable,
        corrupt or truncated file, or a file from an incompatible version.
        """
        s = str(name_or_path)
        if isinstance(name_or_path, Path) or s.endswith((".json", ".safetensors")) or os.sep in s or "/" in s:
            p = Path(name_or_path)
            js_path = p.with_suffix(".json")
        else:
            _, js_path = model_paths(s)
            if not js_path.exists():
                known = [m["name"] for m in list_models() if "error" not in m]
                hint = f"; models: {', '.join(known)}" if known else "; train one with `loopwatch train`"
                raise ModelError(f"no model named {s!r} in {js_path.parent}{hint}")
        try:
            meta = json.loads(js_path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ModelError(f"{js_path}: cannot read: {exc.strerror or exc}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelError(f"{js_path}: corrupt or truncated model description ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
            raise ModelError(f"{js_path}: not a loopwatch model description")
        if int(meta.get("format_version", -1)) != MODEL_FORMAT_VERSION:
            raise ModelError(f"{js_path}: model format {meta.get('format_version')!r} is not supported by loopwatch "
                             f"{__version__} (reads {MODEL_FORMAT_VERSION}); re-train the model")
        try:
            tinfo = meta["tensors"]
            st_path = js_path.parent / Path(str(tinfo["file"])).name
            tensors, _ = read_safetensors(st_path, sha256=str(tinfo["sha256"]))
            det = Detector.from_state({k[4:]: v for k, v in tensors.items() if k.startswith("det.")},
                                      meta["detector"], where=str(st_path))
            files = [{"path": str(f["path"]), "hash": str(f["hash"]), "split": str(f["split"])}
                     for f in meta["files"]]
            emb = tensors.get("data.X")
            enc = meta["encoder"]
            if det.dim != int(enc["dim"]):
                raise ModelError(f"{st_path}: detector input width {det.dim} differs from encoder dim {enc['dim']}")
            if emb is not None and emb.shape != (len(files), det.dim):
                raise ModelError(f"{st_path}: stored embeddings have shape {emb.shape}, expected "
                                 f"({len(files)}, {det.dim})")
            str(enc["name"]), str(enc["prep_version"])
        except DetectorError as exc:
            raise ModelError(str(exc)) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{js_path}: incomplete model description ({type(exc).__name__}: {exc})") from None
        return cls(str(meta.get("name", js_path.stem)), det, meta, files, emb)

    # -- scoring ----------------------------------------------------------------------------

    def check_encoder(self, encoder: str, prep_version: str | None = None) -> None:
        """Refuse embeddings from another encoder or preprocessing version (:class:`ModelError`)."""
        if encoder != self.encoder:
            raise ModelError(f"model {self.name!r} was trained on {self.encoder} embeddings; these come from "
                             f"{encoder}. Score with the model's encoder ({self.encoder}) or train a model with "
                             f"--encoder {encoder}")
        if prep_version is not None and prep_version != self.prep_version:
            raise ModelError(f"model {self.name!r} was trained with {self.encoder} preprocessing {self.prep_version}, "
                             f"but the embeddings have {prep_version} (the encoder's weights or front end changed); "
                             f"re-train the model")

    def score_samples(self, X: Any, encoder: str | None = None, prep_version: str | None = None) -> np.ndarray:
        """Scores of embeddings ``X`` (n, dim); pass ``encoder``/``prep_version`` to have them checked."""
        if encoder is not None:
            self.check_encoder(encoder, prep_version)
        try:
            return self.detector.score_samples(X)
        except DetectorError as exc:
            raise ModelError(f"model {self.name!r}: {exc}") from None

    def verdict(self, score: float) -> str:
        """``"outlier"`` above the threshold, ``"unusual"`` above the 90th percentile, else ``"normal"``."""
        if score > self.threshold:
            return "outlier"
        if score > self.unusual_threshold:
            return "unusual"
        return "normal"

    def assess_scores(self, scores: Any) -> list[Assessment]:
        """:class:`Assessment` of each score."""
        s = np.atleast_1d(np.asarray(scores, dtype=np.float64))
        pct = self.detector.percentile(s)
        thr = self.threshold
        out = []
        for v, p in zip(s, pct):
            ratio = float(v / thr) if thr > 0 else (0.0 if v <= 0 else float("inf"))
            out.append(Assessment(float(v), ratio, float(p), self.verdict(float(v))))
        return out

    def assess(self, X: Any, encoder: str | None = None, prep_version: str | None = None) -> list[Assessment]:
        """Score, ratio, percentile and verdict of each row of ``X``."""
        return self.assess_scores(self.score_samples(X, encoder, prep_version))

    def embed_and_assess(self, paths: Sequence[str | os.PathLike], *, cache: Any = True,
                         progress: Callable[[int, int], None] | None = None, **embed_kwargs: Any):
        """Embed ``paths`` with the model's encoder (through the cache) and assess them.

        Returns ``(EmbedResult, list[Assessment])``, the assessments in
        ``EmbedResult.paths`` order; unreadable files are in ``EmbedResult.errors``.
        Raises :class:`ModelError` if the installed encoder's preprocessing differs
        from the model's, and :class:`loopwatch.embed.EncoderError` if it cannot be built.
        """
        from loopwatch.embed import prep_version as current_prep
        from loopwatch.embedding import embed_files

        self.check_encoder(self.encoder, current_prep(self.encoder))
        res = embed_files(paths, self.encoder, cache=cache, progress=progress, **embed_kwargs)
        self.check_encoder(res.encoder, res.prep_version)
        if len(res) == 0:
            return res, []
        return res, self.assess(res.X)

    def nearest(self, X: Any, k: int = 3) -> list[list[Neighbour]]:
        """The ``k`` stored training loops closest to each row of ``X``.

        Distance is Euclidean between embeddings standardised with the training
        statistics (the space every detector works in). Raises :class:`ModelError`
        when the model was saved without its embeddings.
        """
        if self.embeddings is None:
            raise ModelError(f"model {self.name!r} was saved without its training embeddings; --nearest needs them")
        if self._Zlib is None:
            self._Zlib = self.detector.standardise(self.embeddings).astype(np.float64)
        try:
            Q = self.detector.standardise(X).astype(np.float64)
        except DetectorError as exc:
            raise ModelError(f"model {self.name!r}: {exc}") from None
        L = self._Zlib
        k = max(0, min(int(k), len(L)))
        d2 = (Q**2).sum(1)[:, None] + (L**2).sum(1)[None, :] - 2.0 * Q @ L.T
        np.maximum(d2, 0.0, out=d2)
        out = []
        for row in d2:
            idx = np.argsort(row, kind="stable")[:k]
            out.append([Neighbour(self.files[i]["path"], self.files[i]["hash"], float(np.sqrt(row[i])),
                                  self.files[i]["split"]) for i in idx])
        return out

    # -- descriptions -----------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """The fields ``loopwatch models list/show`` print."""
        t = self.meta.get("training", {})
        return {"name": self.name, "detector": self.kind, "encoder": self.encoder, "dim": self.dim,
                "prep_version": self.prep_version, "threshold": self.threshold, "quantile": self.detector.quantile,
                "unusual_threshold": self.unusual_threshold, "n_files": t.get("n_files"), "n_train": t.get("n_train"),
                "n_val": t.get("n_val"), "epochs": t.get("epochs"), "val_loss": t.get("val_loss"),
                "fingerprint": t.get("fingerprint"), "created": self.meta.get("created"),
                "loopwatch_version": self.meta.get("loopwatch_version")}


def _write_json(path: Path, obj: Any) -> None:
    from loopwatch.files import atomic_write_bytes

    text = json.dumps(obj, indent=1, ensure_ascii=False, allow_nan=True) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def list_models() -> list[dict[str, Any]]:
    """Every model in the models folder (cheap: reads the JSON files only).

    Each entry has ``name``, ``detector``, ``encoder``, ``threshold``,
    ``n_files``, ``created``; an unreadable description gives ``{"name", "error"}``.
    """
    d = config.models_dir()
    out: list[dict[str, Any]] = []
    if not d.is_dir():
        return out
    for js in sorted(d.glob("*.json")):
        try:
            meta = json.loads(js.read_text(encoding="utf-8"))
            if meta.get("format") != MODEL_FORMAT:
                continue
            t = meta.get("training", {})
            row = {"name": js.stem, "detector": str(meta["detector"]["type"]), "encoder": str(meta["encoder"]["name"]),
                   "threshold": meta.get("threshold"), "n_files": t.get("n_files"), "created": meta.get("created")}
            for key in ("threshold", "n_files"):
                v = row[key]
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                    raise ValueError(f"{key} is {v!r}, not a number")
            if row["created"] is not None and not isinstance(row["created"], str):
                raise ValueError(f"created is {row['created']!r}, not a date")
            out.append(row)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            why = str(exc) if isinstance(exc, ValueError) and not isinstance(exc, json.JSONDecodeError) else \
                type(exc).__name__
            out.append({"name": js.stem, "error": f"{js}: unreadable model description ({why})"})
    return out


def remove_model(name: str) -> list[Path]:
    """Delete a model's files; return the paths removed. Raises :class:`ModelError` if there is no such model."""
    st_path, js_path = model_paths(name)
    gone = []
    for p in (js_path, st_path):
        if p.exists():
            p.unlink()
            gone.append(p)
    if not gone:
        raise ModelError(f"no model named {name!r} in {js_path.parent}")
    return gone
