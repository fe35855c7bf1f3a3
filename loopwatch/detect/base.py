"""The interface every outlier detector implements, and what they share.

A detector learns what "normal" embeddings look like from a training split and
scores new embeddings; a higher score means more anomalous. In the style of
scikit-learn::

    det = make_detector("aewres").fit(X_train, X_val)
    det.score_samples(X)        # (n,) float64, higher = more anomalous
    det.threshold_              # quantile of the validation scores (default 0.95)
    det.save("bass.safetensors"); Detector.load("bass.safetensors")

Shared by all detectors (this module):

* **standardisation** with the training split's per-feature mean and standard
  deviation (features with a standard deviation below 1e-8 are only centred);
* the **threshold**: the ``quantile`` (default 0.95) of the validation scores,
  and the **score distribution**: all validation and training scores are kept,
  so a new score can be reported as a percentile and as a ratio to the threshold;
* **files**: one safetensors file holding every array, with the small JSON
  description (type, hyper-parameters, threshold, training info) in the
  safetensors header. Nothing is pickled, so loading a file runs no code.

Subclasses implement ``_fit(Z_train, Z_val, progress)``, ``_score(Z)``,
``_latent(Z)``, ``_tensors()`` and ``_restore(tensors, meta)`` on standardised
float32 inputs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

#: Default threshold quantile of the validation scores.
DEFAULT_QUANTILE = 0.95
#: Validation quantile above which a score is "unusual" (below the threshold it raises no alert).
UNUSUAL_QUANTILE = 0.90
#: Version of the detector file layout; bumped on incompatible changes.
FORMAT_VERSION = 1
_META_KEY = "loopwatch_detector"

#: ``progress(phase, epoch, max_epochs, train_loss, val_loss)`` after each epoch.
ProgressFn = Callable[[str, int, int, float, float], None]


class DetectorError(ValueError):
    """Bad input to a detector, or a detector file that cannot be used (one-line message)."""


def as_matrix(X: Any, what: str = "X", dim: int | None = None) -> np.ndarray:
    """Validate ``X`` as a finite 2-D float matrix (optionally of width ``dim``); return float64."""
    try:
        A = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DetectorError(f"{what}: not a numeric matrix ({exc})") from None
    if A.ndim == 1 and dim is not None and A.shape[0] == dim:
        A = A[None, :]
    if A.ndim != 2:
        raise DetectorError(f"{what}: expected a 2-D array (rows x features), got shape {A.shape}")
    if dim is not None and A.shape[1] != dim:
        raise DetectorError(f"{what}: expected {dim} features, got {A.shape[1]}")
    if A.size and not np.isfinite(A).all():
        bad = int((~np.isfinite(A)).any(axis=1).sum())
        raise DetectorError(f"{what}: {bad} row(s) contain NaN or infinite values")
    return A


class Detector:
    """Base class of the four detectors (see :mod:`loopwatch.detect`).

    Parameters
    ----------
    quantile : float in (0, 1)
        Quantile of the validation scores used as the threshold.
    **params
        Detector hyper-parameters; unknown names raise :class:`DetectorError`.
        Defaults are in the subclass's ``defaults``.

    Attributes (after :meth:`fit` or :meth:`load`)
    ----------------------------------------------
    dim : int
        Input width.
    mean_, scale_ : np.ndarray (dim,)
        Standardisation statistics of the training split.
    threshold_ : float
        Score above which an input is an outlier.
    unusual_threshold_ : float
        The 90th percentile of validation scores ("unusual" starts here).
    val_scores_ : np.ndarray
        Sorted validation scores (the distribution percentiles refer to).
    train_scores_ : np.ndarray
        Training scores in training-row order.
    info_ : dict
        What training did: rows, epochs, losses, seconds.
    """

    kind: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    #: Values of hyper-parameters added since models were first saved, as those models were trained (used when a
    #: saved model's parameters lack them).
    legacy_params: ClassVar[dict[str, Any]] = {}
    #: Hyper-parameters whose type :meth:`check_params` leaves to the detector's own ``_check_params``.
    free_params: ClassVar[frozenset[str]] = frozenset()
    #: What :meth:`transform` returns, for reports ("latent", "components", "inputs").
    latent_name: ClassVar[str] = "latent"

    @classmethod
    def saved_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        """The hyper-parameters a saved model was trained with, from those its file lists: ``params`` plus
        :attr:`legacy_params` for the keys it lacks."""
        return {**cls.legacy_params, **params}

    def __init__(self, quantile: float = DEFAULT_QUANTILE, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise DetectorError(f"{self.kind}: unknown hyper-parameter(s) {', '.join(unknown)}; "
                                f"known: {', '.join(sorted(self.defaults))}")
        if not 0.0 < float(quantile) < 1.0:
            raise DetectorError(f"quantile must be between 0 and 1 (exclusive), got {quantile}")
        self.quantile = float(quantile)
        self.params: dict[str, Any] = {**self.defaults, **params}
        self.dim: int | None = None
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.threshold_: float = float("nan")
        self.unusual_threshold_: float = float("nan")
        self.val_scores_: np.ndarray = np.zeros(0)
        self.train_scores_: np.ndarray = np.zeros(0)
        self.info_: dict[str, Any] = {}

    # -- public API -------------------------------------------------------------------------

    def check_params(self) -> "Detector":
        """Check the hyper-parameters before any training; raise :class:`DetectorError` naming the first bad one.

        Each value must have the type of its default (a whole number where the default is one, a finite
        number where it is a float, ``true``/``false`` where it is a flag, a list of whole numbers where it is a
        list), except those a detector checks itself (``free_params``); then the detector checks ranges and
        choices. :meth:`fit` calls this first; the CLI calls it before embedding anything.
        """
        for key, default in self.defaults.items():
            if key in self.free_params:
                continue
            v = self.params[key]
            if isinstance(default, bool):
                ok, want = isinstance(v, (bool, np.bool_)), "true or false"
            elif isinstance(default, int):
                ok, want = isinstance(v, (int, np.integer)) and not isinstance(v, bool), "a whole number"
            elif isinstance(default, float):
                ok = (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                      and bool(np.isfinite(v)))
                want = "a finite number"
            elif isinstance(default, list):
                ok = isinstance(v, (list, tuple)) and all(
                    isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in v)
                want = "a list of whole numbers"
            else:
                ok, want = isinstance(v, type(default)), f"a {type(default).__name__}"
            if not ok:
                raise DetectorError(f"{self.kind}: {key} must be {want}, got {v!r}")
        self._check_params()
        return self

    def _check_params(self) -> None:
        """Ranges and choices of the hyper-parameters (their types are checked already); subclasses extend it."""
        if "seed" in self.params and self.params["seed"] < 0:
            raise DetectorError(f"{self.kind}: seed must be 0 or more, got {self.params['seed']}")

    @property
    def fitted(self) -> bool:
        return self.mean_ is not None

    def fit(self, X_train: Any, X_val: Any = None, *, progress: ProgressFn | None = None) -> "Detector":
        """Learn the training distribution and set the threshold from validation scores.

        Parameters
        ----------
        X_train : array (n_train, dim)
        X_val : array (n_val, dim), optional
            Held-out rows for early stopping and the threshold. When omitted,
            20 % of the training rows are held out (rows taken as distinct files,
            see :func:`loopwatch.detect.split.split_rows`).
        progress : callable, optional
            ``progress(phase, epoch, max_epochs, train_loss, val_loss)`` per epoch
            (neural detectors only).

        Returns
        -------
        self
        """
        import time

        self.check_params()
        A = as_matrix(X_train, "X_train")
        if X_val is None:
            from loopwatch.detect.split import split_rows

            if len(A) < 3:
                raise DetectorError(f"need at least 3 training rows, got {len(A)}")
            tr, va = split_rows(len(A), seed=int(self.params.get("seed", 0)))
            A, V = A[tr], A[va]
        else:
            V = as_matrix(X_val, "X_val", dim=A.shape[1])
        if len(A) < 2:
            raise DetectorError(f"need at least 2 training rows, got {len(A)}")
        if len(V) < 1:
            raise DetectorError("need at least 1 validation row")
        t0 = time.perf_counter()
        self.dim = int(A.shape[1])
        self.mean_ = A.mean(axis=0)
        sd = A.std(axis=0)
        self.scale_ = np.where(sd > 1e-8, sd, 1.0)
        Zt, Zv = self._standardise(A), self._standardise(V)
        self.info_ = {"n_train": int(len(A)), "n_val": int(len(V))}
        self._fit(Zt, Zv, progress)
        self.train_scores_ = self._score(Zt)
        self.val_scores_ = np.sort(self._score(Zv))
        self._set_thresholds()
        self.info_["seconds"] = round(time.perf_counter() - t0, 3)
        return self

    def score_samples(self, X: Any) -> np.ndarray:
        """Anomaly scores of the rows of ``X`` (higher = more anomalous), float64 of shape (n,)."""
        self._require_fitted()
        return self._score(self._standardise(as_matrix(X, "X", dim=self.dim)))

    def transform(self, X: Any) -> np.ndarray:
        """The detector's internal representation of ``X`` for figures (see ``latent_name``)."""
        self._require_fitted()
        return self._latent(self._standardise(as_matrix(X, "X", dim=self.dim)))

    def standardise(self, X: Any) -> np.ndarray:
        """``X`` standardised with the training statistics, float32."""
        self._require_fitted()
        return self._standardise(as_matrix(X, "X", dim=self.dim))

    def set_quantile(self, quantile: float) -> None:
        """Move the threshold to another quantile of the stored validation scores."""
        if not 0.0 < float(quantile) < 1.0:
            raise DetectorError(f"quantile must be between 0 and 1 (exclusive), got {quantile}")
        self.quantile = float(quantile)
        self._set_thresholds()

    def percentile(self, scores: Any) -> np.ndarray:
        """Percent of validation scores at or below each score (0-100)."""
        self._require_fitted()
        s = np.atleast_1d(np.asarray(scores, dtype=np.float64))
        return 100.0 * np.searchsorted(self.val_scores_, s, side="right") / len(self.val_scores_)

    def score_quantiles(self, qs: Any = (0.5, 0.75, 0.9, 0.95, 0.99)) -> dict[str, float]:
        """Selected quantiles of the validation scores, keyed like ``"0.95"``."""
        self._require_fitted()
        return {f"{q:g}": float(np.quantile(self.val_scores_, q)) for q in qs}

    def describe(self) -> dict[str, Any]:
        """JSON-ready description: type, hyper-parameters, threshold, training info."""
        return {"type": self.kind, "params": dict(self.params), "quantile": self.quantile,
                "threshold": self.threshold_, "unusual_threshold": self.unusual_threshold_,
                "dim": self.dim, "info": dict(self.info_)}

    # -- state and files ---------------------------------------------------------------------

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Every array (name -> contiguous ndarray) and the JSON description needed to rebuild the detector."""
        self._require_fitted()
        tensors = {"std.mean": self.mean_, "std.scale": self.scale_,
                   "scores.val": self.val_scores_, "scores.train": self.train_scores_}
        tensors.update({f"p.{k}": v for k, v in self._tensors().items()})
        meta = self.describe()
        meta["format"] = FORMAT_VERSION
        meta["state"] = self._meta()
        return {k: np.ascontiguousarray(v) for k, v in tensors.items()}, meta

    @classmethod
    def from_state(cls, tensors: dict[str, np.ndarray], meta: dict[str, Any], where: str = "detector") -> "Detector":
        """Rebuild a detector from :meth:`state`'s output (dispatching on ``meta["type"]``)."""
        from loopwatch.detect import detector_class

        try:
            if int(meta.get("format", -1)) != FORMAT_VERSION:
                raise DetectorError(f"{where}: detector format {meta.get('format')!r} is not supported "
                                    f"(this loopwatch reads format {FORMAT_VERSION})")
            klass = detector_class(str(meta["type"]))
            det = klass(quantile=float(meta["quantile"]), **klass.saved_params(dict(meta["params"])))
            det.dim = int(meta["dim"])
            det.mean_ = _arr(tensors, "std.mean", (det.dim,))
            det.scale_ = _arr(tensors, "std.scale", (det.dim,))
            det.val_scores_ = np.asarray(tensors["scores.val"], dtype=np.float64)
            det.train_scores_ = np.asarray(tensors["scores.train"], dtype=np.float64)
            det.info_ = dict(meta.get("info", {}))
            det._restore({k[2:]: v for k, v in tensors.items() if k.startswith("p.")}, dict(meta.get("state", {})))
            det._set_thresholds()
        except DetectorError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DetectorError(f"{where}: incomplete or inconsistent detector state ({type(exc).__name__}: {exc})") from None
        if len(det.val_scores_) == 0:
            raise DetectorError(f"{where}: no validation scores stored")
        return det

    def save(self, path: str | os.PathLike) -> Path:
        """Write the detector to ``path`` (one safetensors file; the description sits in its header)."""
        tensors, meta = self.state()
        p = Path(path)
        write_safetensors(p, tensors, {_META_KEY: json.dumps(meta)})
        return p

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Detector":
        """Read a file written by :meth:`save`; any detector type. Raises :class:`DetectorError`."""
        p = Path(path)
        tensors, header = read_safetensors(p)
        try:
            meta = json.loads(header[_META_KEY])
        except (KeyError, ValueError) as exc:
            raise DetectorError(f"{p}: not a loopwatch detector file (no readable description: {exc})") from None
        det = Detector.from_state(tensors, meta, where=str(p))
        if cls is not Detector and not isinstance(det, cls):
            raise DetectorError(f"{p}: holds a {det.kind} detector, not {cls.kind}")
        return det

    # -- helpers ----------------------------------------------------------------------------

    def _standardise(self, A: np.ndarray) -> np.ndarray:
        return ((A - self.mean_) / self.scale_).astype(np.float32)

    def _set_thresholds(self) -> None:
        v = self.val_scores_
        self.threshold_ = float(np.quantile(v, self.quantile))
        self.unusual_threshold_ = float(np.quantile(v, UNUSUAL_QUANTILE))

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise DetectorError(f"{self.kind} detector is not fitted")

    # -- for subclasses ---------------------------------------------------------------------

    def _fit(self, Z_train: np.ndarray, Z_val: np.ndarray, progress: ProgressFn | None) -> None:
        raise NotImplementedError

    def _score(self, Z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _latent(self, Z: np.ndarray) -> np.ndarray:
        return Z

    def _tensors(self) -> dict[str, np.ndarray]:
        return {}

    def _meta(self) -> dict[str, Any]:
        return {}

    def _restore(self, tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        pass


def _arr(tensors: dict[str, np.ndarray], key: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    a = np.asarray(tensors[key])
    if shape is not None and a.shape != shape:
        raise ValueError(f"{key} has shape {a.shape}, expected {shape}")
    return a


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> str:
    """Write ``tensors`` atomically (temp file + rename); return the file's SHA-256."""
    import hashlib

    from safetensors.numpy import save

    blob = save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata=metadata)
    from loopwatch.files import atomic_write_bytes

    atomic_write_bytes(path, blob)
    return hashlib.sha256(blob).hexdigest()


def read_safetensors(path: Path, sha256: str | None = None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read every array and the header metadata of a safetensors file.

    Raises :class:`DetectorError` with a one-line reason when the file is
    missing, truncated, corrupt, or (given ``sha256``) not the file that was written.
    """
    import hashlib

    from safetensors.numpy import load

    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise DetectorError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if sha256 is not None and hashlib.sha256(blob).hexdigest() != sha256:
        raise DetectorError(f"{path}: corrupt or truncated model file (checksum mismatch); re-train or restore it")
    try:
        header = _safetensors_header(blob)
        tensors = load(blob)
    except Exception as exc:  # safetensors raises its own error type; any failure means an unusable file
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DetectorError(f"{path}: corrupt or truncated model file ({reason[:160]})") from None
    return tensors, header


def _safetensors_header(blob: bytes) -> dict[str, str]:
    if len(blob) < 8:
        raise ValueError("file too short")
    n = int.from_bytes(blob[:8], "little")
    if n <= 0 or 8 + n > len(blob):
        raise ValueError("header length out of range")
    head = json.loads(blob[8 : 8 + n].decode("utf-8"))
    meta = head.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise ValueError("bad metadata")
    return {str(k): str(v) for k, v in meta.items()}
