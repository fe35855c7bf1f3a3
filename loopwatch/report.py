"""A static HTML report of trained models, with the paper's figures as PNG files.

For each model:

* **score histograms**: training vs validation scores on shared bins, log
  frequency axis, with the threshold (and the "unusual" 90th percentile) drawn;
* **latent PCA scatter**: the detector's internal representation of every
  stored training file (Deep SVDD latent, PCA components, or the standardised
  inputs for the Isolation Forest) projected on its first two principal
  components, with their explained variance on the axes; the Deep SVDD centre
  is marked;
* **latent density and heatmap**: a 2-D histogram (log colour) of the same
  projection, and a heatmap of the latent coordinates (minus the centre for
  Deep SVDD) of files sorted by score;
* **training curves** of the neural detectors (train and validation loss per epoch).

Across all models: **box plots** of training and validation scores divided by
each model's threshold, so models with different score scales share one axis.

matplotlib (Agg backend) is imported only when a report is built. Figures go
next to the HTML file in ``<stem>_files/``; the HTML refers to them relatively,
so the folder can be moved or zipped as a whole.
"""

from __future__ import annotations

import html
import os
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from loopwatch.modelstore import TrainedModel

_TRAIN_C = "#e07b00"
_VAL_C = "#1f5fbf"
_MAX_HEATMAP_ROWS = 400


def _pca2(L: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Project ``L`` on its first two principal components: (projection, ratios, mean, components)."""
    L = np.asarray(L, dtype=np.float64)
    mu = L.mean(axis=0)
    _, s, vt = np.linalg.svd(L - mu, full_matrices=False)
    k = min(2, vt.shape[0])
    comps = vt[:k]
    if k < 2:
        comps = np.vstack([comps, np.zeros((2 - k, L.shape[1]))])
    var = s**2
    ratios = np.zeros(2)
    if var.sum() > 0:
        ratios[:k] = var[:k] / var.sum()
    return (L - mu) @ comps.T, ratios, mu, comps


def _savefig(fig, path: Path) -> str:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path.name


def _histograms(m: "TrainedModel", out: Path) -> str:
    import matplotlib.pyplot as plt

    det = m.detector
    tr, va = det.train_scores_, det.val_scores_
    allv = np.concatenate([tr, va])
    lo, hi = float(allv.min()), float(max(allv.max(), m.threshold))
    bins = np.linspace(lo, hi + 1e-12 * max(1.0, abs(hi)), 50)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.hist(tr, bins=bins, histtype="step", lw=1.6, color=_TRAIN_C, label=f"train (n={len(tr)})")
    ax.hist(va, bins=bins, histtype="step", lw=1.6, color=_VAL_C, label=f"validation (n={len(va)})")
    ax.axvline(m.threshold, color="red", ls="--", lw=1.4, label=f"threshold {m.threshold:.4g} (q{det.quantile:g})")
    ax.axvline(m.unusual_threshold, color="red", ls=":", lw=1.0, label=f"unusual {m.unusual_threshold:.4g} (q0.9)")
    ax.set_yscale("log")
    ax.set_xlabel("anomaly score")
    ax.set_ylabel("frequency (log)")
    ax.set_title(f"{m.name}: score distribution ({m.kind})")
    ax.legend(fontsize=8)
    return _savefig(fig, out / f"{m.name}_hist.png")


def _latent(m: "TrainedModel") -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(latent rows, split mask is_val, scores) for the stored training files, or None without embeddings."""
    if m.embeddings is None or len(m.embeddings) == 0:
        return None
    L = m.detector.transform(m.embeddings).astype(np.float64)
    is_val = np.array([f["split"] == "val" for f in m.files])
    return L, is_val, m.detector.score_samples(m.embeddings)


def _scatter(m: "TrainedModel", L: np.ndarray, is_val: np.ndarray, out: Path) -> str:
    import matplotlib.pyplot as plt

    P, ratios, mu, comps = _pca2(L)
    fig, ax = plt.subplots(figsize=(6.2, 5))
    ax.scatter(P[~is_val, 0], P[~is_val, 1], s=8, alpha=0.55, color=_TRAIN_C, label="train", linewidths=0)
    ax.scatter(P[is_val, 0], P[is_val, 1], s=10, alpha=0.75, color=_VAL_C, label="validation", linewidths=0)
    centre = getattr(m.detector, "center_", None)
    if centre is not None and m.kind in ("ae", "aewres"):
        c = (np.asarray(centre) - mu) @ comps.T
        ax.scatter([c[0]], [c[1]], marker="x", s=80, color="red", label="centre c")
    ax.set_xlabel(f"PC1 ({100 * ratios[0]:.1f} % of variance)")
    ax.set_ylabel(f"PC2 ({100 * ratios[1]:.1f} % of variance)")
    ax.set_title(f"{m.name}: {m.detector.latent_name}, 2-D PCA ({100 * ratios.sum():.1f} % explained)")
    ax.legend(fontsize=8)
    return _savefig(fig, out / f"{m.name}_latent_pca.png")


def _density_heatmap(m: "TrainedModel", L: np.ndarray, scores: np.ndarray, out: Path) -> str:
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm, TwoSlopeNorm

    P, ratios, _, _ = _pca2(L)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1, 1.25]},
                                 layout="constrained")
    h = a1.hist2d(P[:, 0], P[:, 1], bins=40, norm=LogNorm(), cmap="viridis", cmin=1)
    fig.colorbar(h[3], ax=a1, label="files per bin (log)")
    a1.set_xlabel(f"PC1 ({100 * ratios[0]:.1f} %)")
    a1.set_ylabel(f"PC2 ({100 * ratios[1]:.1f} %)")
    a1.set_title("latent density")
    centre = getattr(m.detector, "center_", None)
    V = L - np.asarray(centre) if centre is not None and m.kind in ("ae", "aewres") else L
    order = np.argsort(scores, kind="stable")
    if len(order) > _MAX_HEATMAP_ROWS:
        order = order[np.linspace(0, len(order) - 1, _MAX_HEATMAP_ROWS).round().astype(int)]
    H = V[order]
    lim = float(np.quantile(np.abs(H), 0.99)) or 1.0
    im = a2.imshow(H, aspect="auto", interpolation="nearest", cmap="RdBu_r",
                   norm=TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim))
    fig.colorbar(im, ax=a2, label="z - c" if V is not L else "value")
    a2.set_xlabel("latent coordinate" if m.kind in ("ae", "aewres") else m.detector.latent_name)
    a2.set_ylabel("files, sorted by score (low to high)")
    a2.set_title("latent heatmap")
    fig.suptitle(f"{m.name}: {m.detector.latent_name}")
    return _savefig(fig, out / f"{m.name}_latent_density.png")


def _curves(m: "TrainedModel", out: Path) -> str | None:
    raw = getattr(m.detector, "history_", None) or {}
    order = ["pretrain", "svdd"] + sorted(k for k in raw if k not in ("pretrain", "svdd"))
    hist = {k: raw[k] for k in order if k in raw}
    if not hist:
        return None
    import matplotlib.pyplot as plt

    from loopwatch.detect.svdd import kept_epoch

    fig, axes = plt.subplots(1, len(hist), figsize=(5.5 * len(hist), 3.4), squeeze=False)
    names = {"pretrain": "autoencoder pre-training (MSE)", "svdd": "Deep SVDD (one-class loss)"}
    for ax, (phase, h) in zip(axes[0], hist.items()):
        h = np.asarray(h)
        if len(h) == 0:
            continue
        ep = np.arange(1, len(h) + 1)
        ax.plot(ep, h[:, 0], color=_TRAIN_C, label="train")
        ax.plot(ep, h[:, 1], color=_VAL_C, label="validation")
        handles = []
        if h.shape[1] > 2:  # the one-class phase stopped on the contrast (svdd_stop="contrast")
            tw = ax.twinx()
            handles = tw.plot(ep, h[:, 2], color="black", lw=1, alpha=0.7, label="validation contrast (stops)")
            tw.set_yscale("log")
            tw.set_ylabel("contrast (log)")
        best = kept_epoch(h)
        ax.axvline(best + 1, color="grey", ls=":", lw=1, label=f"kept epoch {best + 1}")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (log)")
        ax.set_title(names.get(phase, phase))
        h0, l0 = ax.get_legend_handles_labels()
        ax.legend(h0 + handles, l0 + [x.get_label() for x in handles], fontsize=8)
    return _savefig(fig, out / f"{m.name}_training.png")


def _boxes(models: Sequence["TrainedModel"], out: Path) -> str:
    import matplotlib.pyplot as plt

    data, labels, colors = [], [], []
    for m in models:
        for split, v, c in (("train", m.detector.train_scores_, _TRAIN_C), ("val", m.detector.val_scores_, _VAL_C)):
            data.append(np.asarray(v) / m.threshold if m.threshold > 0 else np.asarray(v))
            labels.append(f"{m.name}\n{split}")
            colors.append(c)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.3 * len(data)), 4))
    bp = ax.boxplot(data, patch_artist=True, showfliers=True, flierprops={"markersize": 3})
    ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=8)
    for patch, c in zip(bp["boxes"], colors):
        patch.set_facecolor(c)
        patch.set_alpha(0.45)
    ax.axhline(1.0, color="red", ls="--", lw=1.2, label="threshold (ratio 1)")
    ax.set_ylabel("score / threshold")
    if all(np.all(d > 0) for d in data):
        ax.set_yscale("log")
    ax.set_title("score spread, relative to each model's threshold")
    ax.legend(fontsize=8)
    return _savefig(fig, out / "box_scores.png")


def _model_table(m: "TrainedModel") -> str:
    t = m.meta.get("training", {})
    rows = [
        ("detector", f"{m.kind} ({m.detector.latent_name})"),
        ("encoder", f"{m.encoder} ({m.dim}-d), preprocessing {m.prep_version}"),
        ("threshold", f"{m.threshold:.6g} (quantile {m.detector.quantile:g} of validation scores)"),
        ("unusual above", f"{m.unusual_threshold:.6g} (quantile 0.9)"),
        ("files", f"{t.get('n_files')} ({t.get('n_train')} train / {t.get('n_val')} validation), "
                  f"{t.get('n_skipped', 0)} skipped at training"),
        ("epochs", str(t.get("epochs") if t.get("epochs") is not None else "-")),
        ("validation loss", str(t.get("val_loss") if t.get("val_loss") is not None else "-")),
        ("hyper-parameters", ", ".join(f"{k}={v}" for k, v in m.detector.params.items())),
        ("fingerprint", str(t.get("fingerprint"))),
        ("created", f"{m.meta.get('created')} with loopwatch {m.meta.get('loopwatch_version')}"),
    ]
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def build_report(models: Sequence["TrainedModel"], out: str | os.PathLike, title: str | None = None) -> Path:
    """Write ``out`` (HTML) and its figures to ``<out stem>_files/``; return the HTML path.

    Parameters
    ----------
    models : sequence of TrainedModel
        One or more loaded models; box plots compare all of them.
    out : path
        The HTML file to write (its folder is created).
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    out = Path(out)
    if not models:
        raise ValueError("no models to report on")
    fig_dir = out.with_name(out.stem + "_files")
    fig_dir.mkdir(parents=True, exist_ok=True)
    title = title or "loopwatch report: " + ", ".join(m.name for m in models)

    def img(name: str, alt: str) -> str:
        # a relative URL: "#", "?", "%" or spaces in the report's name must not break the links
        src = urllib.parse.quote(f"{fig_dir.name}/{name}")
        return f"<img src=\"{html.escape(src)}\" alt=\"{alt}\">"

    parts = [f"<h1>{html.escape(title)}</h1>",
             "<p>Scores: higher means less like the training library. Verdicts: <b>outlier</b> above the threshold, "
             "<b>unusual</b> above the 90th percentile of validation scores, otherwise <b>normal</b>.</p>"]
    parts.append("<h2>Score spread</h2>" + img(_boxes(models, fig_dir), "box plots"))
    for m in models:
        parts.append(f"<h2>Model {html.escape(m.name)}</h2>{_model_table(m)}")
        parts.append("<h3>Score histograms</h3>" + img(_histograms(m, fig_dir), "score histograms"))
        lat = _latent(m)
        if lat is None:
            parts.append("<p><i>This model was saved without its training embeddings: no latent views.</i></p>")
        else:
            L, is_val, scores = lat
            parts.append("<h3>Latent space</h3>" + img(_scatter(m, L, is_val, fig_dir), "latent PCA scatter"))
            parts.append(img(_density_heatmap(m, L, scores, fig_dir), "latent density and heatmap"))
        curves = _curves(m, fig_dir)
        if curves:
            parts.append("<h3>Training</h3>" + img(curves, "training curves"))
    style = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
             "img{max-width:100%;display:block;margin:.6em 0}table{border-collapse:collapse;margin:.5em 0}"
             "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:.9em}th{background:#f4f4f4}")
    doc = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
           f"<style>{style}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(doc, encoding="utf-8")
    return out


def figure_paths(out: str | os.PathLike) -> list[Path]:
    """The PNG files a report at ``out`` refers to (for tests and packaging)."""
    import re

    out = Path(out)
    text = out.read_text(encoding="utf-8")
    return [out.parent / urllib.parse.unquote(html.unescape(s)) for s in re.findall(r'<img src="([^"]+)"', text)]
