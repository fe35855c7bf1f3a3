"""Isolation Forest (scikit-learn, 100 trees), stored without pickle.

scikit-learn fits the forest. The fitted trees are then flattened into plain
arrays (split feature, threshold, children, and each leaf's path length
including the ``c(n)`` correction for unsplit samples) and scored by a small
vectorised traversal over all trees at once. The score is exactly
``-IsolationForest.score_samples`` (to float rounding; a test checks it):

    s(x) = 2 ** (-mean_over_trees(h(x)) / c(max_samples))

so scikit-learn is needed to train but not to load or score, and a saved
model is a safetensors file of numbers, not a pickled estimator.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from loopwatch.detect.base import Detector, DetectorError, ProgressFn

_EULER_GAMMA = 0.5772156649015329


def average_path_length(n: np.ndarray) -> np.ndarray:
    """c(n): average path length of an unsuccessful BST search among ``n`` points (Liu et al. 2008)."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    two = n == 2
    big = n > 2
    out[two] = 1.0
    nb = n[big]
    out[big] = 2.0 * (np.log(nb - 1.0) + _EULER_GAMMA) - 2.0 * (nb - 1.0) / nb
    return out


class IsolationForestDetector(Detector):
    """Isolation Forest; score = ``-score_samples`` of scikit-learn's estimator.

    Hyper-parameters
    ----------------
    n_estimators : int, default 100
    max_samples : "auto", int or float, default "auto" (min(256, n))
        Rows drawn for each tree: a number of rows, or a share of them in (0, 1].
    seed : int, default 0
        ``random_state`` of the forest.
    """

    kind = "iforest"
    defaults = {"n_estimators": 100, "max_samples": "auto", "seed": 0}
    latent_name = "standardised inputs"
    free_params = frozenset({"max_samples"})

    def _check_params(self) -> None:
        super()._check_params()
        if self.params["n_estimators"] < 1:
            raise DetectorError(f"iforest: n_estimators must be at least 1, got {self.params['n_estimators']}")
        m = self.params["max_samples"]
        if isinstance(m, bool) or not (m == "auto" or (isinstance(m, (int, np.integer)) and m >= 1)
                                       or (isinstance(m, (float, np.floating)) and 0.0 < m <= 1.0)):
            raise DetectorError(f"iforest: max_samples must be \"auto\", a whole number of rows (1 or more) or a "
                                f"share of the rows in (0, 1], got {m!r}")

    def _fit(self, Z_train: np.ndarray, Z_val: np.ndarray, progress: ProgressFn | None) -> None:
        from sklearn.ensemble import IsolationForest

        est = IsolationForest(n_estimators=int(self.params["n_estimators"]), max_samples=self.params["max_samples"],
                              contamination="auto", random_state=int(self.params["seed"]))
        est.fit(Z_train)
        self._from_sklearn(est)
        self.info_.update({"n_trees": len(est.estimators_), "max_samples": int(est.max_samples_)})

    def _from_sklearn(self, est) -> None:
        trees = [e.tree_ for e in est.estimators_]
        T = len(trees)
        M = max(t.node_count for t in trees)
        feat = np.zeros((T, M), np.int32)
        thr = np.zeros((T, M), np.float64)
        left = np.zeros((T, M), np.int32)
        right = np.zeros((T, M), np.int32)
        leaf_val = np.zeros((T, M), np.float64)
        max_depth = 0
        for i, (t, feats) in enumerate(zip(trees, est.estimators_features_)):
            n = t.node_count
            cl, cr = t.children_left[:n], t.children_right[:n]
            is_leaf = cl == -1
            own = np.arange(n)
            f = np.asarray(feats)[np.where(is_leaf, 0, t.feature[:n])]
            feat[i, :n] = np.where(is_leaf, 0, f)
            thr[i, :n] = np.where(is_leaf, np.inf, t.threshold[:n])  # leaves: always "left" = stay
            left[i, :n] = np.where(is_leaf, own, cl)
            right[i, :n] = np.where(is_leaf, own, cr)
            depth = np.zeros(n, np.int64)  # edges from the root; children always follow parents in sklearn trees
            for j in range(n):
                if not is_leaf[j]:
                    depth[cl[j]] = depth[j] + 1
                    depth[cr[j]] = depth[j] + 1
            leaf_val[i, :n] = np.where(is_leaf, depth + average_path_length(t.n_node_samples[:n]), 0.0)
            max_depth = max(max_depth, int(depth.max()))
            # unused padding nodes (n..M) stay leaves pointing at themselves with value 0; never reached
            left[i, n:] = np.arange(n, M)
            right[i, n:] = np.arange(n, M)
            thr[i, n:] = np.inf
        self.feature_, self.threshold_nodes_, self.left_, self.right_ = feat, thr, left, right
        self.leaf_value_ = leaf_val
        self.depth_steps_ = max_depth
        self.denominator_ = float(T * average_path_length(np.array([est.max_samples_]))[0])

    def _depths(self, Z: np.ndarray) -> np.ndarray:
        X = Z.astype(np.float32).astype(np.float64)  # sklearn compares float32 inputs with float64 thresholds
        n, T = len(X), self.feature_.shape[0]
        if n == 0:
            return np.zeros((0, T))
        rows = np.arange(n)[:, None]
        trees = np.arange(T)[None, :]
        node = np.zeros((n, T), np.int64)
        for _ in range(self.depth_steps_):
            f = self.feature_[trees, node]
            go_left = X[rows, f] <= self.threshold_nodes_[trees, node]
            node = np.where(go_left, self.left_[trees, node], self.right_[trees, node])
        return self.leaf_value_[trees, node]

    def _score(self, Z: np.ndarray) -> np.ndarray:
        d = self._depths(Z).sum(axis=1)
        if self.denominator_ <= 0:
            return np.ones(len(Z))
        return 2.0 ** (-d / self.denominator_)

    def _tensors(self) -> dict[str, np.ndarray]:
        return {"feature": self.feature_, "threshold": self.threshold_nodes_, "left": self.left_,
                "right": self.right_, "leaf_value": self.leaf_value_}

    def _meta(self) -> dict[str, Any]:
        return {"depth_steps": self.depth_steps_, "denominator": self.denominator_}

    def _restore(self, tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.feature_ = np.asarray(tensors["feature"], dtype=np.int32)
        self.threshold_nodes_ = np.asarray(tensors["threshold"], dtype=np.float64)
        self.left_ = np.asarray(tensors["left"], dtype=np.int32)
        self.right_ = np.asarray(tensors["right"], dtype=np.int32)
        self.leaf_value_ = np.asarray(tensors["leaf_value"], dtype=np.float64)
        self.depth_steps_ = int(meta["depth_steps"])
        self.denominator_ = float(meta["denominator"])
        shape = self.feature_.shape
        if len(shape) != 2 or any(a.shape != shape for a in (self.threshold_nodes_, self.left_, self.right_,
                                                               self.leaf_value_)):
            raise ValueError("isolation forest arrays have mismatched shapes")
        M = shape[1]
        for a in (self.left_, self.right_):
            if a.size and (a.min() < 0 or a.max() >= M):
                raise ValueError("isolation forest child index out of range")
        if self.feature_.size and (self.feature_.min() < 0 or self.feature_.max() >= self.dim):
            raise ValueError("isolation forest feature index out of range")
        if not 0 <= self.depth_steps_ <= M:
            raise ValueError("isolation forest depth out of range")
