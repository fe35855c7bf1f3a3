"""The harness on synthetic data with known answers: detectors, check scoring, figures, report."""

from __future__ import annotations

import numpy as np
import pytest

from loopwatch.evaluation import harness as H
from loopwatch.evaluation import reference as R
from loopwatch.evaluation.manifest import Entry, read_manifest, write_manifest
from loopwatch.findings import Finding

SR = 48000


def entries_for(n_normal: int, kinds: dict[str, tuple[str, int]]) -> list[Entry]:
    out = [Entry(f"lib/test/n{i}.wav", "lib", "test", "normal", "normal", "lib") for i in range(n_normal)]
    for kind, (family, n) in kinds.items():
        out += [Entry(f"lib/a/{kind}{i}.wav", "lib", "test", "anomaly", family, kind) for i in range(n)]
    return out


def test_detector_metrics_known_answer():
    rng = np.random.default_rng(0)
    X_tr, X_va = rng.normal(size=(200, 8)), rng.normal(size=(100, 8))
    te = entries_for(50, {"far": ("out-of-style", 30), "near": ("defect", 30)})
    X_te = np.vstack([rng.normal(size=(50, 8)), rng.normal(size=(30, 8)) + 8.0, rng.normal(size=(30, 8))])
    res = H.evaluate_detector("mean-distance", R.MeanDistance(), X_tr, X_va, X_te, te, quantile=0.9, boot=100)
    det = R.MeanDistance().fit(X_tr)
    assert res.threshold == pytest.approx(np.quantile(det.score_samples(X_va), 0.9))
    assert res.metrics["val_flagged"] == pytest.approx(0.1, abs=0.011)
    fam = res.metrics["family"]
    # far-away anomalies are found, anomalies drawn like the normals are not
    assert fam["out-of-style"]["auroc"] == 1.0 and fam["out-of-style"]["recall"] == 1.0
    assert 0.3 < fam["defect"]["auroc"] < 0.7
    k = res.metrics["kind"]
    assert k["far"]["auroc"] == 1.0 and k["far"]["family"] == "out-of-style" and k["far"]["n"] == 30
    allm = res.metrics["all"]
    assert allm["n_normal"] == 50 and allm["n_anomaly"] == 60
    s = res.scores["test"]
    y = np.array([e.is_anomaly for e in te])
    tp = int(((s > res.threshold) & y).sum())
    assert allm["tp"] == tp and allm["precision"] == pytest.approx(tp / max(1, int((s > res.threshold).sum())))
    lo, hi = allm["auroc_ci"]
    assert lo <= allm["auroc"] <= hi


def test_a_useless_detector_scores_chance():
    class Coin:
        def fit(self, X_train, X_val):
            return self

        def score_samples(self, X):
            return np.random.default_rng(len(X)).random(len(X))

    rng = np.random.default_rng(1)
    te = entries_for(300, {"x": ("out-of-style", 300)})
    X = rng.normal(size=(600, 3))
    X[300:] += 10
    res = H.evaluate_detector("coin", Coin(), X[:50], X[50:100], X, te, boot=0)
    assert abs(res.metrics["all"]["auroc"] - 0.5) < 0.08


def test_knn_reference_detector():
    rng = np.random.default_rng(2)
    tr = rng.normal(size=(100, 4))
    d = R.KNNDistance(k=3).fit(tr)
    s = d.score_samples(np.vstack([tr[:5], tr[:5] + 20]))
    assert np.all(s[5:] > 10 * s[:5].max() + 1)


def test_evaluate_detectors_splits_by_library():
    rng = np.random.default_rng(3)
    es = []
    for lib in ("a", "b"):
        for sp, n in (("train", 20), ("val", 6), ("test", 6)):
            es += [Entry(f"{lib}/{sp}/{i}.wav", lib, sp, "normal", "normal", lib) for i in range(n)]
        es += [Entry(f"{lib}/x/{i}.wav", lib, "test", "anomaly", "out-of-style", "x") for i in range(4)]
    fs = H.FeatureSet("toy", [e.file for e in es], rng.normal(size=(len(es), 3)))
    fs.X[[i for i, e in enumerate(es) if e.label == "anomaly"]] += 6
    out = H.evaluate_detectors(es, fs, ["mean-distance", "knn"], boot=0)
    assert [(r.library, r.detector) for r in out] == [("a", "mean-distance"), ("a", "knn"), ("b", "mean-distance"),
                                                      ("b", "knn")]
    for r in out:
        assert r.scores["train"].size == 20 and r.scores["val"].size == 6 and r.scores["test"].size == 10
        assert r.metrics["all"]["auroc"] == 1.0
        assert all(f.startswith(r.library + "/") for f in r.test_files)


def test_specs_resolve_and_refuse():
    assert H.detector_factory("knn")[0] == "knn"
    label, fac = H.detector_factory("loopwatch.evaluation.reference:MeanDistance")
    assert label == "MeanDistance" and isinstance(fac(), R.MeanDistance)
    assert H.loopwatch_detector_spec("ae-x2") == ("ae", {"ensemble": 2})
    assert H.loopwatch_detector_spec("pca") == ("pca", {}) and H.loopwatch_detector_spec("knn") is None
    label, fac = H.detector_factory("aewres-x3")
    det = fac()
    assert label == "aewres-x3" and det.kind == "aewres" and det.params["ensemble"] == 3
    with pytest.raises(H.HarnessError, match="unknown detector"):
        H.detector_factory("svm")
    with pytest.raises(H.HarnessError, match="unknown detector"):
        H.detector_factory("pca-x3")
    with pytest.raises(H.HarnessError, match="cannot import"):
        H.detector_factory("no.such.module:X")
    with pytest.raises(H.HarnessError, match="no attribute"):
        H.check_function("loopwatch.evaluation.reference:nothing_here")
    assert H.check_function("ref-click")[1] is R.ref_click
    assert H.check_function("loopwatch.evaluation.reference:ref_dc_offset")[1] is R.ref_dc_offset


# --- checks -------------------------------------------------------------------------------------------


def _defect(file, kind, check, strength, spans, n=96000, source="lib/test/c0.wav", lib="lib"):
    return Entry(file, lib, "test", "anomaly", "defect", kind, check=check, strength=strength, unit="dBFS",
                 grade=f"{strength:g} dBFS", default=True, positions=spans, n_samples=n, source=source)


def _clean(file, lib="lib"):
    return Entry(file, lib, "test", "normal", "normal", lib, n_samples=96000)


def F(check, t0, t1=None, sev="warn"):
    return Finding(check, sev, t0, t0 if t1 is None else t1, 1.0, "", "x")


def test_check_scoring_hand_counted():
    es = [_clean("lib/test/c0.wav"), _clean("lib/test/c1.wav"), _clean("lib/train/c2.wav"),
          _defect("d/k0.wav", "click", "click", -30.0, [[48000, 48001]], source="lib/test/c0.wav"),
          _defect("d/k1.wav", "click", "click", -30.0, [[24000, 24001]], source="lib/test/c1.wav"),
          _defect("d/k2.wav", "click", "click", -30.0, [[1000, 1001]], source="lib/test/c1.wav"),
          _defect("d/s0.wav", "seam", "seam", -24.0, [[95999, 96000]])]
    findings = {
        "lib/test/c0.wav": [],
        "lib/test/c1.wav": [F("click", 1.7)],  # a false alarm on a clean original
        "lib/train/c2.wav": [F("click", 0.2, sev="info")],  # below min severity: ignored
        "d/k0.wav": [F("click", 1.0 + 0.0015), F("click", 1.0004)],  # found twice (merged), 1.5 / 0.4 ms late
        "d/k1.wav": [F("click", 0.9)],  # in the wrong place: a miss and a false alarm
        "d/k2.wav": [F("click", 1000 / SR + 0.002), F("dropout", 1.2)],  # found 2 ms late; another check fires
        "d/s0.wav": [F("seam", 0.0, 0.001)],  # at the start: the wrap, on the loop circle
    }
    run = H.CheckRun(findings, {}, 0.1, 10.0, declared=("click", "seam", "dropout"))
    ev = H.evaluate_checks(es, run, tolerance_s=0.01)
    row = next(g for g in ev["grades"] if g["library"] == "all" and g["kind"] == "click")
    assert (row["n"], row["tp"], row["fn"], row["fp_defect_files"], row["fp_clean"]) == (3, 2, 1, 1, 1)
    assert row["n_clean"] == 2
    assert row["recall"] == pytest.approx(2 / 3)
    assert row["precision"] == pytest.approx(2 / 4)
    assert row["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert row["loc_median_ms"] == pytest.approx((0.4 + 2.0) / 2, abs=1e-6)
    assert row["loc_max_ms"] == pytest.approx(2.0, abs=1e-6)
    seam = next(g for g in ev["grades"] if g["library"] == "all" and g["kind"] == "seam")
    assert seam["tp"] == 1 and seam["f1"] == 1.0 and seam["loc_median_ms"] == pytest.approx(1 / 48, abs=1e-6)
    fp = ev["false_positives"]
    assert fp["click"]["all"]["flagged"] == 1 and fp["click"]["all"]["n"] == 3
    assert fp["dropout"]["all"]["rate"] == 0.0
    assert ev["crossfire"]["click"]["dropout"] == pytest.approx(1 / 3)
    assert ev["crossfire"]["clean"]["click"] == pytest.approx(1 / 3)
    assert ev["not_run"] == []


def test_checks_that_never_ran_are_marked_not_run():
    es = [_clean("c.wav"), _defect("d.wav", "hum", "hum", -40.0, [[0, 96000]], source="c.wav")]
    ev = H.evaluate_checks(es, H.CheckRun({"c.wav": [], "d.wav": []}, {}, 0.0, 0.0, declared=None))
    assert ev["not_run"] == ["hum"]
    assert ev["grades"][0]["not_run"]
    # declared but silent: it ran and missed
    ev = H.evaluate_checks(es, H.CheckRun({"c.wav": [], "d.wav": []}, {}, 0.0, 0.0, declared=("hum",)))
    assert ev["grades"][0]["recall"] == 0.0 and ev["false_positives"]["hum"]["all"]["rate"] == 0.0


def test_run_checks_records_crashes_and_unreadable_files(tmp_path):
    from loopwatch.evaluation.wav import write_wav

    write_wav(tmp_path / "ok.wav", np.random.default_rng(0).uniform(-0.5, 0.5, (2, 4800)))
    (tmp_path / "bad.wav").write_bytes(b"RIFF")

    def boom(audio):
        raise RuntimeError("kaput")

    run = H.run_checks(tmp_path, [_clean("ok.wav"), _clean("bad.wav")], [R.ref_dc_offset, boom])
    assert run.findings == {"ok.wav": []}
    assert "kaput" in run.errors["ok.wav"] and "bad.wav" in run.errors
    assert run.audio_seconds == pytest.approx(0.1)
    assert run.declared is None


def test_reference_checks_on_synthetic_audio():
    from loopwatch.audio import from_array

    t = np.arange(48000) / SR
    x = np.stack([0.5 * np.sin(2 * np.pi * 220 * t), 0.4 * np.sin(2 * np.pi * 220 * t)])
    a = from_array(x, SR)
    assert R.all_reference_checks(a) == []
    clipped = from_array(np.clip(x * 4, -1, 1), SR)
    assert [f.check for f in R.ref_clipping(clipped)] == ["clipping"]
    y = x.copy()
    y[:, 30000] += 0.05
    (f,) = R.ref_click(from_array(y, SR))
    assert f.t0 == pytest.approx(30000 / SR, abs=2 / SR)
    assert [f.check for f in R.ref_polarity(from_array(x * np.array([[1], [-1]]), SR))] == ["stereo"]
    z = np.concatenate([np.zeros((2, 4800)), x], axis=1)
    (f,) = R.ref_edge_silence(from_array(z, SR))
    assert f.t1 == pytest.approx(0.1, abs=1.5 / SR)  # the sine's first sample is 0 too
    assert R.ref_dc_offset(from_array(x + 0.01, SR))[0].value == pytest.approx(-40.0, abs=0.1)
    assert set(R.all_reference_checks.check_names) == {"clipping", "dc-offset", "silence", "stereo", "click"}


def test_reference_features():
    x = np.random.default_rng(0).normal(size=48000) * 0.1
    assert R.level_features(x)[0] == pytest.approx(-20.0, abs=0.2)
    f = R.basic_features(x)
    assert f.shape == (len(R.BASIC_FEATURES),) and np.all(np.isfinite(f))
    assert R.basic_features(np.sin(np.arange(48000) * 2 * np.pi * 100 / SR))[2] < f[2]  # lower centroid


# --- manifest, figures, report ------------------------------------------------------------------------


def test_manifest_round_trip(tmp_path):
    e = _defect("bass/defects/click/x__click_-30dBFS.wav", "click", "click", -30.0, [[5, 6], [10, 12]])
    e.params = {"shape": "burst", "width": 2}
    e.tempo, e.bars, e.acid, e.peak_dbfs = 120.0, 2, True, -6.5
    write_manifest(tmp_path / "manifest.csv", [e, _clean("bass/train/a.wav", "bass")])
    got = read_manifest(tmp_path)
    assert [g.file for g in got] == ["bass/train/a.wav", e.file]  # sorted by library, family, file
    back = next(g for g in got if g.family == "defect")
    assert back == e
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.csv").write_text("file,label\nx,normal\n")
    from loopwatch.evaluation.manifest import ManifestError

    with pytest.raises(ManifestError, match="missing columns"):
        read_manifest(tmp_path / "bad")
    with pytest.raises(ManifestError, match="no manifest"):
        read_manifest(tmp_path / "nowhere")


def test_figures_are_pngs(tmp_path):
    from loopwatch.evaluation import figures as Fg

    rng = np.random.default_rng(0)
    te = entries_for(20, {"x": ("out-of-style", 10), "y": ("defect", 10)})
    X = rng.normal(size=(40, 5))
    res = [H.evaluate_detector(n, f(), rng.normal(size=(30, 5)), rng.normal(size=(10, 5)), X, te, boot=0)
           for n, f in (("mean-distance", R.MeanDistance), ("knn", R.KNNDistance))]
    paths = [
        Fg.score_histogram(res[0].scores["train"], res[0].scores["val"], res[0].threshold, tmp_path / "h.png"),
        Fg.detector_boxplots(res, tmp_path / "b.png"),
        Fg.latent_pca(rng.normal(size=(30, 5)), X, res[0].test_family, tmp_path / "p.png"),
        Fg.roc_curves(res, tmp_path / "r.png"),
        Fg.check_recall([{"library": "all", "kind": "click", "check": "click", "strength": s, "unit": "dBFS",
                          "recall": r, "f1": r} for s, r in ((-40, 0.5), (-30, 1.0))], tmp_path / "c.png"),
    ]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 2000
    (p_tr, p_te), ratio = Fg.pca_2d(rng.normal(size=(50, 3)) * [3, 1, 0.1], X[:, :3])
    assert p_tr.shape == (50, 2) and p_te.shape == (40, 2) and ratio[0] >= ratio[1]


def test_report_header_and_tables():
    from loopwatch.evaluation.report import render_report

    res = {
        "command": "loopwatch bench evaluate corpus --encoder spectral", "corpus": "corpus",
        "corpus_meta": {"seed": 11, "size": "default", "counts": {"bass": {"normal/train": 180}},
                        "tools": {"fluidsynth": "libfluidsynth 2.3.1", "soundfont": "FluidR3_GM.sf2"}},
        "versions": {"loopwatch": "0.1.0", "numpy": "1.26.4"},
        "features": {"spectral": {"kind": "embedding", "dim": 236, "prep_version": "spectral-1"}},
        "config": {"quantile": 0.95, "tolerance_ms": 10.0, "min_severity": "warn"},
        "detectors": [{"encoder": "spectral", "library": "bass", "detector": "pca", "threshold": 2.5,
                       "fit_seconds": 0.1, "metrics": {
                           "all": {"auroc": 0.9, "auroc_ci": [0.8, 0.95], "ap": 0.8, "precision": 0.7, "recall": 0.6,
                                   "f1": 0.65},
                           "family": {"out-of-style": {"auroc": 0.97, "f1": 0.9}, "defect": {"auroc": 0.6}},
                           "kind": {"drums": {"family": "out-of-style", "n": 10, "auroc": 1.0, "recall": 1.0}},
                           "test_normal_flagged": 0.05}}],
    }
    text = render_report(res)
    assert text.startswith("# loopwatch benchmark")
    head = text.split("## ")[0]
    for needle in ("loopwatch bench evaluate corpus --encoder spectral", "seed **11**", "`spectral`", "numpy 1.26.4",
                   "libfluidsynth 2.3.1", "0.95 quantile"):
        assert needle in head
    assert "| bass | pca | 2.5 | 0.900 [0.800, 0.950] |" in text
    assert "| bass | out-of-style | drums | 10 | 1.000 (1.00) |" in text
