"""Named models: training metadata, save/load, verdicts, nearest loops, refusals."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from loopwatch import __version__
from loopwatch.modelstore import MIN_TRAIN_FILES, ModelError, TrainedModel, fingerprint, list_models, model_paths, \
    remove_model

DIM = 24


def _library(n: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    B = rng.normal(size=(4, DIM))
    X = rng.normal(size=(n, 4)) @ B + 0.2 * rng.normal(size=(n, DIM))
    hashes = [f"{i:032x}" for i in range(n)]
    paths = [f"/lib/loop{i:03d}.wav" for i in range(n)]
    return X.astype(np.float32), hashes, paths


def _train(name="lib", detector="pca", **kw):
    X, hashes, paths = _library()
    params = {"max_epochs": 6, "patience": 3, "threads": 1} if detector in ("ae", "aewres") else None
    return TrainedModel.train(name, X, hashes, paths, encoder="spectral", prep_version="spectral-1",
                              detector=detector, params=params, **kw)


@pytest.fixture
def saved():
    m = _train()
    m.save()
    return m


def test_metadata_has_everything_the_issue_lists(saved):
    _, js = model_paths("lib")
    meta = json.loads(js.read_text())
    assert meta["encoder"] == {"name": "spectral", "dim": DIM, "prep_version": "spectral-1"}
    assert meta["detector"]["type"] == "pca" and meta["detector"]["params"] == {"variance": 0.95}
    assert meta["threshold"] == saved.threshold and meta["quantile"] == 0.95
    assert set(meta["score_quantiles"]) >= {"0.5", "0.9", "0.95", "0.99"}
    t = meta["training"]
    assert t["n_files"] == 120 and t["n_train"] + t["n_val"] == 120 and t["n_val"] == 24
    assert t["fingerprint"] == fingerprint(f"{i:032x}" for i in range(120))
    assert meta["loopwatch_version"] == __version__
    assert len(meta["files"]) == 120 and {f["split"] for f in meta["files"]} == {"train", "val"}
    assert len(meta["tensors"]["sha256"]) == 64


def test_fingerprint_depends_on_the_set_of_files_only():
    assert fingerprint(["b", "a", "a"]) == fingerprint(["a", "b"])
    assert fingerprint(["a", "b"]) != fingerprint(["a", "c"])


@pytest.mark.parametrize("detector", ["aewres", "iforest", "pca"])
def test_round_trip_gives_identical_assessments(detector):
    m = _train(f"m-{detector}", detector=detector)
    m.save()
    back = TrainedModel.load(f"m-{detector}")
    Q = _library(30, seed=5)[0] * 1.5
    assert back.assess(Q) == m.assess(Q)
    assert np.array_equal(back.score_samples(Q), m.score_samples(Q))
    assert back.encoder == "spectral" and back.prep_version == "spectral-1" and back.kind == detector


def test_load_never_unpickles(saved, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "Unpickler", boom)
    TrainedModel.load("lib").score_samples(np.zeros((1, DIM)))


def test_verdicts_ratio_and_percentile(saved):
    m = saved
    thr, unusual = m.threshold, m.unusual_threshold
    assert unusual < thr
    a = m.assess_scores([0.0, (unusual + thr) / 2, thr, thr * 2, thr * 3.5])
    assert [x.verdict for x in a] == ["normal", "unusual", "unusual", "outlier", "outlier"]  # at the threshold: not above
    assert a[3].ratio == pytest.approx(2.0) and a[4].ratio == pytest.approx(3.5)
    assert a[0].percentile == 0.0 and a[3].percentile == 100.0
    assert 80.0 <= a[1].percentile <= 100.0  # count-based percentile vs interpolated quantiles: close, not equal
    assert set(a[0].to_dict()) == {"score", "ratio", "percentile", "verdict"}


def test_far_away_embedding_is_an_outlier_and_library_rows_mostly_normal(saved):
    X, _, _ = _library()
    far = X[:1] + 50.0
    assert saved.assess(far)[0].verdict == "outlier"
    verdicts = [a.verdict for a in saved.assess(X)]
    assert verdicts.count("normal") > 0.8 * len(X)


def test_nearest_names_training_loops(saved):
    X, _, paths = _library()
    nb = saved.nearest(X[[7, 42]], k=3)
    assert [n.path for n in nb[0]][0] == paths[7] and nb[0][0].distance == pytest.approx(0.0, abs=1e-4)
    assert nb[1][0].path == paths[42]
    assert len(nb[0]) == 3 and nb[0][0].distance <= nb[0][1].distance <= nb[0][2].distance
    m = _train("noemb", keep_embeddings=False)
    with pytest.raises(ModelError, match="without its training embeddings"):
        m.nearest(X[:1], 2)


def test_mismatched_encoder_is_refused(saved):
    m = TrainedModel.load("lib")
    with pytest.raises(ModelError, match="trained on spectral embeddings; these come from clap-music"):
        m.score_samples(np.zeros((1, DIM)), encoder="clap-music")
    with pytest.raises(ModelError, match="re-train"):
        m.check_encoder("spectral", "spectral-2")
    with pytest.raises(ModelError, match="expected 24 features"):
        m.score_samples(np.zeros((1, 236)))


def test_too_few_training_files_is_refused():
    X, hashes, paths = _library(MIN_TRAIN_FILES - 1)
    with pytest.raises(ModelError, match=f"at least {MIN_TRAIN_FILES} distinct"):
        TrainedModel.train("few", X, hashes, paths, encoder="spectral", prep_version="spectral-1", detector="pca")
    # duplicates of the same content do not count twice
    X, hashes, paths = _library(40)
    with pytest.raises(ModelError, match="got 10"):
        TrainedModel.train("dups", X, [hashes[i % 10] for i in range(40)], paths, encoder="spectral",
                           prep_version="spectral-1", detector="pca")


@pytest.mark.parametrize("damage", ["truncate", "flip", "json", "missing"])
def test_corrupt_or_truncated_files_give_one_line_errors(saved, damage):
    st, js = model_paths("lib")
    if damage == "truncate":
        st.write_bytes(st.read_bytes()[:100])
    elif damage == "flip":
        b = bytearray(st.read_bytes())
        b[-10] ^= 0xFF
        st.write_bytes(bytes(b))
    elif damage == "json":
        js.write_text(js.read_text()[:50])
    else:
        st.unlink()
    with pytest.raises(ModelError) as err:
        TrainedModel.load("lib")
    msg = str(err.value)
    assert "\n" not in msg and ("lib.safetensors" in msg or "lib.json" in msg)


def test_safetensors_without_matching_checksum_but_valid_layout_is_still_checked(saved):
    # a structurally valid safetensors file that is not the one the JSON describes
    from safetensors.numpy import save_file

    st, _ = model_paths("lib")
    save_file({"det.std.mean": np.zeros(DIM)}, str(st))
    with pytest.raises(ModelError, match="checksum mismatch"):
        TrainedModel.load("lib")


def test_unknown_name_and_bad_names():
    with pytest.raises(ModelError, match="no model named 'nope'"):
        TrainedModel.load("nope")
    for bad in ("../evil", "a/b", "", ".hidden", "x" * 80):
        with pytest.raises(ModelError, match="bad model name"):
            model_paths(bad)


def test_save_refuses_to_overwrite_unless_asked(saved):
    with pytest.raises(ModelError, match="exists already"):
        _train().save()
    _train(detector="iforest").save(overwrite=True)
    assert TrainedModel.load("lib").kind == "iforest"


def test_list_and_remove(saved):
    _train("other", detector="iforest").save()
    _, js = model_paths("broken")
    js.write_text("{not json")
    rows = {r["name"]: r for r in list_models()}
    assert rows["lib"]["detector"] == "pca" and rows["other"]["detector"] == "iforest"
    assert "error" in rows["broken"]
    # a hand-edited description: listed as unreadable, with the reason, rather than breaking the listing
    _, edited = model_paths("other")
    meta = json.loads(edited.read_text())
    meta["threshold"] = "abc"
    edited.write_text(json.dumps(meta))
    rows = {r["name"]: r for r in list_models()}
    assert rows["other"]["error"].endswith("unreadable model description (threshold is 'abc', not a number)")
    assert rows["lib"]["detector"] == "pca"
    gone = remove_model("other")
    assert len(gone) == 2 and not any(p.exists() for p in gone)
    with pytest.raises(ModelError, match="no model named"):
        remove_model("other")


def test_load_by_path(saved):
    st, js = model_paths("lib")
    assert TrainedModel.load(js).name == "lib"
    assert TrainedModel.load(st).name == "lib"
