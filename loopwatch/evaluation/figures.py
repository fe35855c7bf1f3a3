"""The paper's figures, re-drawn from benchmark results as PNG files (matplotlib, Agg backend).

* :func:`score_histogram`: training vs validation scores, log-frequency axis,
  the threshold as a vertical line;
* :func:`detector_boxplots`: score / threshold per detector for train, val,
  held-out normal, out-of-style and defect files (log axis);
* :func:`latent_pca`: a 2-D PCA of the embedding (or the detector's latent
  space), fitted on training vectors, normal vs anomalous;
* :func:`roc_curves`: ROC curves of the detectors on one library;
* :func:`check_recall`: recall of each defect kind against strength.

Every function writes one file and returns its path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=110, bbox_inches="tight", metadata={"Software": None})
    _plt().close(fig)
    return p


def score_histogram(train: np.ndarray, val: np.ndarray, threshold: float, path: str | os.PathLike, *,
                    title: str = "", bins: int = 40) -> Path:
    """Histogram of training and validation scores with a log frequency axis and the threshold line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    allv = np.concatenate([np.asarray(train, float), np.asarray(val, float)])
    lo, hi = float(np.min(allv)), float(np.max(allv))
    hi = max(hi, threshold) * 1.02 if hi > 0 else hi + 1
    edges = np.linspace(min(lo, threshold), hi, bins + 1)
    ax.hist(train, bins=edges, alpha=0.6, label=f"train (n={len(train)})", color="#4477aa")
    ax.hist(val, bins=edges, alpha=0.6, label=f"validation (n={len(val)})", color="#ee7733")
    ax.axvline(threshold, color="k", ls="--", lw=1.2, label=f"threshold {threshold:.3g}")
    ax.set_yscale("log")
    ax.set_xlabel("anomaly score")
    ax.set_ylabel("count (log)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


GROUP_ORDER = ("train", "val", "test normal", "out-of-style", "defect")


def score_groups(res: Any) -> dict[str, np.ndarray]:
    """Scores of a :class:`~loopwatch.evaluation.harness.DetectorResult` by group, divided by the threshold."""
    thr = res.threshold if res.threshold > 0 else 1.0
    fam = np.array(res.test_family)
    t = res.scores["test"] / thr
    return {"train": res.scores["train"] / thr, "val": res.scores["val"] / thr, "test normal": t[fam == "normal"],
            "out-of-style": t[fam == "out-of-style"], "defect": t[fam == "defect"]}


def detector_boxplots(results: list[Any], path: str | os.PathLike, *, title: str = "") -> Path:
    """Box plots of score / threshold for each detector and group (the line at 1 is the threshold)."""
    plt = _plt()
    groups = [g for g in GROUP_ORDER]
    colours = ("#4477aa", "#66ccee", "#228833", "#ee6677", "#ccbb44")
    fig, ax = plt.subplots(figsize=(max(6.4, 1.6 * len(results) + 2), 4.0))
    width = 0.8 / len(groups)
    for i, res in enumerate(results):
        g = score_groups(res)
        for j, name in enumerate(groups):
            v = g[name]
            v = v[np.isfinite(v) & (v > 0)]
            if v.size == 0:
                continue
            bp = ax.boxplot([v], positions=[i + (j - (len(groups) - 1) / 2) * width], widths=width * 0.9,
                            patch_artist=True, showfliers=True, flierprops={"markersize": 2})
            for b in bp["boxes"]:
                b.set_facecolor(colours[j])
    ax.axhline(1.0, color="k", ls="--", lw=1)
    ax.set_yscale("log")
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels([r.detector for r in results])
    ax.set_ylabel("score / threshold (log)")
    ax.set_title(title, fontsize=10)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=c, label=n) for c, n in zip(colours, groups)], fontsize=7, loc="upper left")
    return _save(fig, path)


def pca_2d(train: np.ndarray, *others: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Project arrays onto the first two principal components of ``train`` (standardised with train stats).

    Returns the projections (train first) and the explained-variance ratios of the two components.
    """
    train = np.asarray(train, dtype=np.float64)
    mu = train.mean(axis=0)
    sd = train.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    Z = (train - mu) / sd
    _, s, vt = np.linalg.svd(Z, full_matrices=False)
    k = min(2, vt.shape[0])
    comps = vt[:k]
    var = s**2
    ratio = var[:k] / var.sum() if var.sum() > 0 else np.zeros(k)
    proj = [Z @ comps.T] + [((np.asarray(o, dtype=np.float64) - mu) / sd) @ comps.T for o in others]
    if k == 1:
        proj = [np.column_stack([p[:, 0], np.zeros(len(p))]) for p in proj]
        ratio = np.array([ratio[0], 0.0])
    return proj, ratio


def latent_pca(train: np.ndarray, test: np.ndarray, test_family: list[str], path: str | os.PathLike, *,
               title: str = "", space: str = "embedding") -> Path:
    """2-D PCA scatter: training points, held-out normal loops and anomalies by family."""
    plt = _plt()
    (p_tr, p_te), ratio = pca_2d(train, test)
    fam = np.array(test_family)
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    ax.scatter(p_tr[:, 0], p_tr[:, 1], s=6, c="#bbbbbb", label="train")
    styles = {"normal": ("#228833", "o", "normal (test)"), "out-of-style": ("#ee6677", "^", "out-of-style"),
              "defect": ("#ccbb44", "x", "defect")}
    for f, (c, m, lab) in styles.items():
        sel = fam == f
        if sel.any():
            ax.scatter(p_te[sel, 0], p_te[sel, 1], s=12, c=c, marker=m, label=f"{lab} ({int(sel.sum())})")
    ax.set_xlabel(f"PC1 ({ratio[0] * 100:.1f} %)")
    ax.set_ylabel(f"PC2 ({ratio[1] * 100:.1f} %)")
    ax.set_title(title or f"PCA of the {space} space", fontsize=10)
    ax.legend(fontsize=7)
    return _save(fig, path)


def roc_curves(results: list[Any], path: str | os.PathLike, *, title: str = "") -> Path:
    """ROC curves (all anomalies vs held-out normal loops) of several detectors."""
    from loopwatch.evaluation.metrics import roc_curve

    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    for res in results:
        y = np.array([f != "normal" for f in res.test_family])
        if y.all() or not y.any():
            continue
        fpr, tpr = roc_curve(y, res.scores["test"])
        auc = res.metrics["all"].get("auroc", float("nan"))
        ax.plot(fpr, tpr, label=f"{res.detector} (AUROC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="#999999", ls=":", lw=1)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def check_recall(grades: list[dict[str, Any]], path: str | os.PathLike, *, title: str = "") -> Path:
    """Recall of each defect kind (pooled libraries) against its strength, one panel per kind."""
    plt = _plt()
    rows = [g for g in grades if g["library"] == "all" and not g.get("not_run")]
    kinds = []
    for g in rows:
        if g["kind"] not in kinds:
            kinds.append(g["kind"])
    n = max(1, len(kinds))
    cols = 4
    r = (n + cols - 1) // cols
    fig, axes = plt.subplots(r, cols, figsize=(3.0 * cols, 2.4 * r), squeeze=False)
    for ax, kind in zip(axes.flat, kinds):
        gs = sorted([g for g in rows if g["kind"] == kind], key=lambda g: g["strength"])
        x = [g["strength"] for g in gs]
        ax.plot(x, [g["recall"] for g in gs], "o-", label="recall")
        ax.plot(x, [g["f1"] for g in gs], "s--", label="F1", alpha=0.7)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(f"{kind} → {gs[0]['check']}", fontsize=9)
        ax.set_xlabel(gs[0]["unit"] or "grade", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(kinds):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
