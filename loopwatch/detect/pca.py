"""PCA reconstruction error, Algorithm D.1 of the paper.

1. Standardise each feature with the training split's mean and standard
   deviation (done by :class:`~loopwatch.detect.base.Detector`).
2. Fit PCA on the standardised training rows and keep the fewest leading
   components whose explained variance reaches ``variance`` (0.95).
3. Score a row by the sum of squared differences between it and its
   reconstruction from those components.

The decomposition is a plain SVD in float64 (numpy), so the result does not
depend on a random solver.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from loopwatch.detect.base import Detector, DetectorError, ProgressFn


class PCADetector(Detector):
    """PCA reconstruction-error detector.

    Hyper-parameters
    ----------------
    variance : float, default 0.95
        Share of the training variance the kept components must explain.
    """

    kind = "pca"
    defaults = {"variance": 0.95}
    latent_name = "principal components"

    def _check_params(self) -> None:
        super()._check_params()
        v = float(self.params["variance"])
        if not 0.0 < v <= 1.0:
            raise DetectorError(f"pca: variance must be in (0, 1], got {v}")

    def _fit(self, Z_train: np.ndarray, Z_val: np.ndarray, progress: ProgressFn | None) -> None:
        v = float(self.params["variance"])
        Z = Z_train.astype(np.float64)
        self.center_ = Z.mean(axis=0)
        _, s, vt = np.linalg.svd(Z - self.center_, full_matrices=False)
        var = s**2
        total = var.sum()
        if total <= 0:
            raise DetectorError("pca: the training rows have no variance")
        ratio = np.cumsum(var) / total
        k = int(np.searchsorted(ratio, v - 1e-12) + 1)
        k = min(k, len(s))
        self.components_ = vt[:k].copy()
        self.explained_ = (var[:k] / total).copy()
        self.info_.update({"n_components": k, "explained_variance": float(ratio[k - 1])})

    def _project(self, Z: np.ndarray) -> np.ndarray:
        return (Z.astype(np.float64) - self.center_) @ self.components_.T

    def _score(self, Z: np.ndarray) -> np.ndarray:
        Zc = Z.astype(np.float64) - self.center_
        rec = (Zc @ self.components_.T) @ self.components_
        return ((Zc - rec) ** 2).sum(axis=1)

    def _latent(self, Z: np.ndarray) -> np.ndarray:
        return self._project(Z).astype(np.float32)

    def _tensors(self) -> dict[str, np.ndarray]:
        return {"center": self.center_, "components": self.components_, "explained": self.explained_}

    def _restore(self, tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.center_ = np.asarray(tensors["center"], dtype=np.float64)
        self.components_ = np.asarray(tensors["components"], dtype=np.float64)
        self.explained_ = np.asarray(tensors["explained"], dtype=np.float64)
        if self.center_.shape != (self.dim,) or self.components_.ndim != 2 or self.components_.shape[1] != self.dim:
            raise ValueError("pca arrays do not match the input width")
