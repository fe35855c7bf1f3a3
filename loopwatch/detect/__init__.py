"""Outlier detectors over embeddings: Deep SVDD (AE, AEwRES), Isolation Forest, PCA.

==========  ================================================================
type        what
==========  ================================================================
aewres      Deep SVDD on an autoencoder-pre-trained encoder with U-Net-style
            residual links during pre-training (default)
ae          Deep SVDD on a plain autoencoder-pre-trained encoder
iforest     scikit-learn Isolation Forest, 100 trees
pca         PCA reconstruction error, 95 % of the variance (Algorithm D.1)
==========  ================================================================

All share :class:`~loopwatch.detect.base.Detector`'s interface:
``fit(X_train, X_val)``, ``score_samples(X)`` (higher = more anomalous),
``threshold_``, ``save(path)``/``Detector.load(path)``. Importing this package
does not import torch or scikit-learn.
"""

from __future__ import annotations

from typing import Any

from loopwatch.detect.base import DEFAULT_QUANTILE, UNUSUAL_QUANTILE, Detector, DetectorError

#: Detector types, the default first.
DETECTOR_TYPES = ("aewres", "ae", "iforest", "pca")

DETECTOR_LABELS = {
    "aewres": "Deep SVDD (AEwRES)",
    "ae": "Deep SVDD (AE)",
    "iforest": "Isolation Forest",
    "pca": "PCA reconstruction",
}


def detector_class(kind: str) -> type[Detector]:
    """The class implementing detector type ``kind``."""
    if kind == "aewres":
        from loopwatch.detect.svdd import DeepSVDDAEwRES

        return DeepSVDDAEwRES
    if kind == "ae":
        from loopwatch.detect.svdd import DeepSVDDAE

        return DeepSVDDAE
    if kind == "iforest":
        from loopwatch.detect.iforest import IsolationForestDetector

        return IsolationForestDetector
    if kind == "pca":
        from loopwatch.detect.pca import PCADetector

        return PCADetector
    raise DetectorError(f"unknown detector {kind!r}; choose from {', '.join(DETECTOR_TYPES)}")


def make_detector(kind: str = "aewres", quantile: float = DEFAULT_QUANTILE, **params: Any) -> Detector:
    """A new, unfitted detector of type ``kind`` with hyper-parameters ``params``."""
    return detector_class(kind)(quantile=quantile, **params)


def load_detector(path) -> Detector:
    """Read a detector saved with :meth:`Detector.save` (any type)."""
    return Detector.load(path)


__all__ = ["DEFAULT_QUANTILE", "DETECTOR_LABELS", "DETECTOR_TYPES", "UNUSUAL_QUANTILE", "Detector", "DetectorError",
           "detector_class", "load_detector", "make_detector"]
