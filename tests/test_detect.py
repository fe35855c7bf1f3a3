"""Detectors on synthetic embeddings with known anomalies: quality, determinism, files, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from loopwatch.detect import DETECTOR_TYPES, Detector, DetectorError, load_detector, make_detector
from loopwatch.detect.svdd import shuffled_columns

DIM = 40
FAST = {"max_epochs": 10, "patience": 5, "threads": 1}  # tests cap epochs; every other default stays loopwatch's
#: For the quality test: the one-class phase's small steps (svdd_lr, svdd_batch_size) need more than 10 epochs
#: on 240 rows (10 epochs gave the AE 0.65).
QUALITY = {**FAST, "max_epochs": 60}


def _params(kind: str) -> dict:
    return dict(QUALITY) if kind in ("ae", "aewres") else {}


def synthetic(seed: int = 0):
    """Normal rows: 3 clusters in an 6-d subspace plus noise. Anomalies: another subspace, another centre."""
    rng = np.random.default_rng(seed)
    B = rng.normal(size=(6, DIM))
    C = rng.normal(size=(3, 6)) * 2.0

    def normal(n):
        k = rng.integers(0, 3, n)
        return (C[k] + rng.normal(size=(n, 6))) @ B + 0.3 * rng.normal(size=(n, DIM))

    A = rng.normal(size=(6, DIM))
    shift = rng.normal(size=DIM) * 5.0

    def anomalous(n):
        return rng.normal(size=(n, 6)) @ A + shift + 0.3 * rng.normal(size=(n, DIM))

    X_train, X_val = normal(240), normal(60)
    X_test = np.vstack([normal(100), anomalous(100)])
    y = np.r_[np.zeros(100), np.ones(100)]
    return X_train, X_val, X_test, y


def auroc(y, s) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


@pytest.fixture(scope="module")
def data():
    return synthetic()


@pytest.fixture(scope="module")
def fitted(data):
    X_train, X_val, _, _ = data
    return {k: make_detector(k, **_params(k)).fit(X_train, X_val) for k in DETECTOR_TYPES}


@pytest.mark.parametrize("kind", DETECTOR_TYPES)
def test_auroc_above_095_on_known_anomalies(fitted, data, kind):
    _, _, X_test, y = data
    assert auroc(y, fitted[kind].score_samples(X_test)) > 0.95


@pytest.mark.parametrize("kind", DETECTOR_TYPES)
def test_save_load_gives_identical_scores(fitted, data, kind, tmp_path):
    det = fitted[kind]
    X_test = data[2]
    path = det.save(tmp_path / f"{kind}.safetensors")
    back = load_detector(path)
    assert type(back) is type(det)
    assert np.array_equal(back.score_samples(X_test), det.score_samples(X_test))
    assert back.threshold_ == det.threshold_
    assert back.params == det.params
    assert np.array_equal(back.val_scores_, det.val_scores_)


@pytest.mark.parametrize("kind", DETECTOR_TYPES)
def test_threshold_is_validation_quantile_and_percentiles(fitted, kind):
    det = fitted[kind]
    v = det.val_scores_
    assert det.threshold_ == pytest.approx(np.quantile(v, 0.95))
    assert det.unusual_threshold_ == pytest.approx(np.quantile(v, 0.90))
    assert np.all(np.diff(v) >= 0)
    pct = det.percentile([v.min() - 1, v.max() + 1, np.median(v)])
    assert pct[0] == 0.0 and pct[1] == 100.0 and 40 <= pct[2] <= 60


def test_set_quantile_moves_threshold(fitted):
    det = make_detector("pca").fit(*synthetic(1)[:2])
    det.set_quantile(0.5)
    assert det.threshold_ == pytest.approx(np.median(det.val_scores_))
    with pytest.raises(DetectorError):
        det.set_quantile(1.5)


def test_neural_training_is_deterministic(data):
    X_train, X_val, X_test, _ = data
    small = {**FAST, "hidden": [64, 32, 16, 8], "max_epochs": 6}  # the code path is what matters, not the width
    a = make_detector("aewres", **small).fit(X_train, X_val).score_samples(X_test)
    b = make_detector("aewres", **small).fit(X_train, X_val).score_samples(X_test)
    assert np.array_equal(a, b)
    c = make_detector("aewres", **{**small, "seed": 1}).fit(X_train, X_val).score_samples(X_test)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kind", ["iforest", "pca"])
def test_classic_training_is_deterministic(data, kind):
    X_train, X_val, X_test, _ = data
    a = make_detector(kind).fit(X_train, X_val).score_samples(X_test)
    b = make_detector(kind).fit(X_train, X_val).score_samples(X_test)
    assert np.array_equal(a, b)


def test_iforest_equals_sklearn_negated_score_samples(fitted, data):
    from sklearn.ensemble import IsolationForest

    X_train, _, X_test, _ = data
    det = fitted["iforest"]
    ref = IsolationForest(n_estimators=100, random_state=0).fit(det.standardise(X_train))
    expected = -ref.score_samples(det.standardise(X_test))
    np.testing.assert_allclose(det.score_samples(X_test), expected, rtol=1e-12, atol=0)
    assert det.feature_.shape[0] == 100


def test_pca_is_algorithm_d1(fitted, data):
    X_train, _, X_test, _ = data
    det = fitted["pca"]
    mu, sd = X_train.mean(0), X_train.std(0)
    Z = (X_train - mu) / sd
    _, s, vt = np.linalg.svd(Z - Z.mean(0), full_matrices=False)
    ratio = np.cumsum(s**2) / np.sum(s**2)
    k = int(np.argmax(ratio >= 0.95)) + 1
    assert det.components_.shape == (k, DIM)
    assert ratio[k - 1] >= 0.95 and (k == 1 or ratio[k - 2] < 0.95)
    Zt = (X_test - mu) / sd - Z.mean(0)
    V = vt[:k]
    expected = ((Zt - Zt @ V.T @ V) ** 2).sum(1)
    np.testing.assert_allclose(det.score_samples(X_test), expected, rtol=1e-4)


def test_svdd_keeps_best_weights_and_val_loss_is_mean_val_score(fitted, data):
    det = fitted["aewres"]
    hist = det.history_["svdd"]
    assert hist.shape[1] == 3  # train loss, validation loss, validation contrast (what the phase stops on)
    kept = int(np.argmin(hist[:, 2]))
    assert det.info_["val_loss"] == pytest.approx(hist[kept, 1])
    assert det.info_["val_contrast"] == pytest.approx(hist[kept, 2])
    # the one-class validation loss is the mean validation score, so the stored
    # (kept-epoch) network must reproduce that epoch's loss, not the last one's
    assert np.mean(det.val_scores_) == pytest.approx(hist[kept, 1], rel=1e-4)
    # and the contrast is that loss over the mean score of the validation rows with shuffled columns
    # (shuffling raw columns and then standardising gives the rows the detector shuffled)
    X_val = data[1]
    ref = np.mean(det.score_samples(shuffled_columns(X_val, det.params["seed"])))
    assert det.info_["val_contrast"] == pytest.approx(hist[kept, 1] / ref, rel=1e-4)
    assert det.info_["epochs_svdd"] == len(hist) <= QUALITY["max_epochs"]


def test_shuffled_columns_keeps_each_column_and_breaks_the_rows():
    Z = np.arange(60, dtype=np.float32).reshape(20, 3) + np.array([0, 1000, 2000], dtype=np.float32)
    S = shuffled_columns(Z, 7)
    assert S.dtype == Z.dtype and S.shape == Z.shape
    for j in range(3):
        assert sorted(S[:, j]) == sorted(Z[:, j])  # each feature keeps its values
    assert not (np.diff(S[:, 0] - S[:, 1]) == 0).all()  # rows are no longer the original rows
    assert len({tuple(r) for r in S} & {tuple(r) for r in Z}) < 5
    np.testing.assert_array_equal(S, shuffled_columns(Z, 7))  # drawn from the seed alone
    assert not np.array_equal(S, shuffled_columns(Z, 8))


def test_svdd_stop_on_loss_is_the_papers_rule(data):
    X_train, X_val, _, _ = data
    det = make_detector("aewres", max_epochs=60, patience=3, threads=1, hidden=[16, 8],
                        svdd_stop="loss").fit(X_train, X_val)
    h = det.history_["svdd"]
    assert h.shape[1] == 2 and det.info_["val_contrast"] is None
    best = int(np.argmin(h[:, 1]))
    assert len(h) == best + 1 + 3 < 60
    assert det.info_["val_loss"] == pytest.approx(h[best, 1])


def test_svdd_stop_is_the_contrast_for_both_variants():
    assert make_detector("aewres").params["svdd_stop"] == "contrast"
    assert make_detector("ae").params["svdd_stop"] == "contrast"  # the plain AE's was the loss until stop 21
    assert make_detector("ae", svdd_stop="loss").params["svdd_stop"] == "loss"


def test_svdd_stop_on_contrast_stops_patience_epochs_after_the_best_contrast(data):
    X_train, X_val, _, _ = data
    det = make_detector("aewres", max_epochs=400, patience=3, threads=1, hidden=[16, 8]).fit(X_train, X_val)
    h = det.history_["svdd"]
    best = int(np.argmin(h[:, 2]))
    assert len(h) == best + 1 + 3 < 400
    assert det.info_["best_epoch_svdd"] == best + 1


def test_early_stopping_stops_before_max_epochs(data):
    X_train, X_val, _, _ = data
    det = make_detector("ae", max_epochs=400, pretrain_patience=2, patience=3, threads=1, svdd_stop="loss",
                        hidden=[16, 8]).fit(X_train, X_val)
    assert det.info_["epochs_pretrain"] < 400 and det.info_["epochs_svdd"] < 400
    h = det.history_["pretrain"]
    assert len(h) == int(np.argmin(h[:, 1])) + 1 + 2  # stopped exactly `pretrain_patience` epochs after the best
    h = det.history_["svdd"]  # with svdd_stop="loss" the one-class phase watches its validation loss
    assert len(h) == int(np.argmin(h[:, 1])) + 1 + 3  # and stopped `patience` epochs after its best


def test_a_model_saved_before_pretrain_patience_existed_pretrained_with_its_patience(data, tmp_path):
    X_train, X_val, _, _ = data
    det = make_detector("aewres", max_epochs=4, patience=3, threads=1, hidden=[16, 8]).fit(X_train, X_val)
    assert det.params["pretrain_patience"] == 5  # the default, separate from `patience`
    tensors, meta = det.state()
    del meta["params"]["pretrain_patience"]
    old = type(det).from_state(tensors, meta)
    assert old.params["pretrain_patience"] == 3 and old.params["patience"] == 3


def test_the_one_class_phase_takes_its_own_learning_rate_and_batch_size(data, monkeypatch):
    """Pre-training steps with lr and batch_size, the one-class phase with svdd_lr and svdd_batch_size (defaults
    1e-4 and 128, against the paper's 1e-3 and 32 for both phases), each annealed from its own start."""
    from loopwatch.detect import svdd as svdd_mod

    calls = []
    real = svdd_mod.train_epoch

    def spy(loss_fn, opt, Xt, perm, batch_size, lr):
        calls.append((batch_size, lr))
        return real(loss_fn, opt, Xt, perm, batch_size, lr)

    monkeypatch.setattr(svdd_mod, "train_epoch", spy)
    X_train, X_val, _, _ = data
    det = make_detector("aewres", max_epochs=8, patience=3, threads=1, hidden=[16, 8]).fit(X_train, X_val)
    assert det.params["svdd_lr"] == 1e-4 and det.params["svdd_batch_size"] == 128
    n_pre = det.info_["epochs_pretrain"]
    pre, one = calls[:n_pre], calls[n_pre:]
    assert len(one) == det.info_["epochs_svdd"] > 0
    assert {b for b, _ in pre} == {32} and {b for b, _ in one} == {128}
    assert pre[0][1] == 1e-3 and one[0][1] == 1e-4  # cosine annealing starts at each phase's own rate
    assert all(a > b for (_, a), (_, b) in zip(one, one[1:]))
    calls.clear()
    make_detector("ae", max_epochs=3, patience=3, threads=1, hidden=[16, 8], lr=2e-3, batch_size=16,
                  svdd_lr=5e-4, svdd_batch_size=64).fit(X_train, X_val)
    assert calls[0] == (16, 2e-3) and calls[3] == (64, 5e-4)


def test_a_model_saved_before_the_one_class_phase_had_its_own_rate_trained_both_phases_alike(data):
    X_train, X_val, _, _ = data
    det = make_detector("ae", max_epochs=2, threads=1, hidden=[16, 8], lr=2e-3, batch_size=16).fit(X_train, X_val)
    tensors, meta = det.state()
    del meta["params"]["svdd_lr"], meta["params"]["svdd_batch_size"]
    old = type(det).from_state(tensors, meta)
    assert old.params["svdd_lr"] == 2e-3 and old.params["svdd_batch_size"] == 16


def test_svdd_centre_eps_rule():
    from loopwatch.detect.svdd import svdd_center

    c = svdd_center(np.array([0.5, -0.5, 0.05, -0.05, 0.0, 0.1]), eps=0.1)
    assert c.tolist() == [0.5, -0.5, 0.1, -0.1, 0.1, 0.1]


def test_network_architecture_and_residual_links():
    import torch
    from torch import nn

    from loopwatch.detect.svdd import build_network

    net = build_network(20, [512, 256, 128, 64, 32], 0.2, 0.1, residual=True)
    widths = [(m.in_features, m.out_features) for m in net.enc.modules() if isinstance(m, nn.Linear)]
    assert widths == [(20, 512), (512, 256), (256, 128), (128, 64), (64, 32)]
    widths = [(m.in_features, m.out_features) for m in net.dec.modules() if isinstance(m, nn.Linear)]
    assert widths == [(32, 64), (64, 128), (128, 256), (256, 512), (512, 20)]
    assert all(m.bias is None for m in net.modules() if isinstance(m, nn.Linear))
    block = net.enc[0]
    assert [type(m) for m in block] == [nn.Linear, nn.BatchNorm1d, nn.ELU, nn.Dropout]
    assert not block[1].affine  # no learnable shift: it would act as a bias (see loopwatch.detect.svdd)
    assert block[2].alpha == 0.1 and block[3].p == 0.2
    assert isinstance(net.enc[-1], nn.Linear) and isinstance(net.dec[-1], nn.Linear)
    # U-Net links: encoder hidden output i (512, 256, 128, 64) is added to the input of the
    # decoder layer of the same width; computed by hand in eval mode
    net.eval()
    x = torch.randn(5, 20)
    with torch.no_grad():
        e = []
        h = x
        for layer in net.enc[:-1]:
            h = layer(h)
            e.append(h)
        z = net.enc[-1](h)
        d = net.dec[0](z) + e[3]
        d = net.dec[1](d) + e[2]
        d = net.dec[2](d) + e[1]
        d = net.dec[3](d) + e[0]
        expected = net.dec[4](d)
        assert torch.allclose(net(x), expected)
        plain = build_network(20, [512, 256, 128, 64, 32], 0.2, 0.1, residual=False)
        plain.load_state_dict(net.state_dict())
        plain.eval()
        assert not torch.allclose(plain(x), expected)


def test_orthogonal_initialisation_and_its_alternative(data):
    """By default every linear layer starts as a random (semi-)orthogonal matrix, so the untrained network
    keeps distances between inputs; ``init="torch"`` keeps PyTorch's uniform default. Models saved before
    the parameter existed say they were initialised the PyTorch way."""
    import torch
    from torch import nn

    from loopwatch.detect.svdd import build_network

    torch.manual_seed(0)
    net = build_network(20, [512, 256, 128, 64, 32], 0.2, 0.1, residual=True)
    for m in net.modules():
        if isinstance(m, nn.Linear):
            W = m.weight.detach().double()
            small = W @ W.T if W.shape[0] <= W.shape[1] else W.T @ W
            assert torch.allclose(small, torch.eye(small.shape[0], dtype=torch.float64), atol=1e-5)
    torch.manual_seed(0)
    plain = build_network(20, [512, 256, 128, 64, 32], 0.2, 0.1, residual=True, init="torch")
    W = plain.enc[1][0].weight.detach()
    assert W.abs().max() <= 1 / 512 ** 0.5 and not torch.allclose(W @ W.T, torch.eye(256), atol=0.1)
    with pytest.raises(ValueError, match="init must be one of orthogonal, torch"):
        build_network(20, [64, 32], 0.2, 0.1, residual=False, init="xavier")
    with pytest.raises(DetectorError, match="init must be one of"):
        make_detector("aewres", init="zeros", max_epochs=1).fit(data[0], data[1])
    X_train, X_val = data[0], data[1]
    det = make_detector("aewres", max_epochs=2, threads=1).fit(X_train, X_val)
    assert det.params["init"] == "orthogonal"
    tensors, meta = det.state()
    assert det.params["svdd_stop"] == "contrast" and det.history_["svdd"].shape[1] == 3
    del meta["params"]["init"]  # as a model from before init (and svdd_stop) were hyper-parameters
    del meta["params"]["svdd_stop"]
    old = Detector.from_state(tensors, meta)
    assert old.params["init"] == "torch" and old.params["svdd_stop"] == "loss"
    assert np.array_equal(old.score_samples(data[2]), det.score_samples(data[2]))


@pytest.mark.parametrize("kernel", [True, False])
def test_adamw_steps_equal_torch_adamw(kernel):
    """loopwatch's AdamW calls torch's fused kernel directly: the same parameters to the bit as
    torch.optim.AdamW(fused=True) over steps with a changing learning rate; its fallback (no kernel) is torch's
    optimizer itself."""
    import torch

    from loopwatch.detect.svdd import AdamW, cosine_lr

    torch.manual_seed(0)
    a = [torch.randn(30, 20, requires_grad=True), torch.randn(20, requires_grad=True)]
    b = [t.detach().clone().requires_grad_(True) for t in a]
    start = a[0].detach().clone()
    ours = AdamW(a, 1e-5, fused_kernel=kernel)
    ref = torch.optim.AdamW(b, lr=1e-3, weight_decay=1e-5, fused=True)
    for k in range(25):
        lr = cosine_lr(k, 25, 1e-3, 5e-6)
        g = [torch.randn_like(t) for t in a]
        ours.zero_grad()
        for t, gg in zip(a, g):
            t.grad = gg.clone()
        ours.step(lr)
        ref.param_groups[0]["lr"] = lr
        for t, gg in zip(b, g):
            t.grad = gg.clone()
        ref.step()
    for t, u in zip(a, b):
        assert torch.equal(t, u)
    assert (a[0] - start).abs().max() > 1e-3  # it did move


def test_cosine_lr_is_torch_cosine_annealing():
    import torch

    from loopwatch.detect.svdd import cosine_lr

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=1000, eta_min=5e-6)
    for epoch in range(1000):
        assert cosine_lr(epoch, 1000, 1e-3, 5e-6) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9, abs=1e-15)
        opt.step()
        sched.step()
    assert cosine_lr(0, 1000, 1e-3, 5e-6) == 1e-3 and cosine_lr(1000, 1000, 1e-3, 5e-6) == pytest.approx(5e-6)


@pytest.mark.parametrize("affine,alpha", [(False, 1.0), (True, 1.0), (True, 0.1)])
def test_folded_numpy_encoder_matches_torch(data, affine, alpha):
    """Scoring folds batch normalisation into the linear layers and runs in numpy with the model's ELU alpha;
    it must equal torch's eval mode."""
    import torch

    from loopwatch.detect.svdd import _fold_encoder, build_network

    X_train, _, X_test, _ = data
    torch.manual_seed(0)
    net = build_network(DIM, [64, 32, 8], 0.2, alpha, residual=False, bn_affine=affine)
    net.train()
    with torch.no_grad():
        for _ in range(5):
            net.encode(torch.randn(64, DIM) * 3 + 1)  # non-trivial running statistics
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm1d) and affine:
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    net.eval()
    Z = ((X_test - X_train.mean(0)) / X_train.std(0)).astype(np.float32)
    with torch.no_grad():
        ref = net.encode(torch.from_numpy(Z)).numpy()
    det = make_detector("ae", hidden=[64, 32, 8], elu_alpha=alpha)
    det.members_ = [(_fold_encoder(net), np.zeros(8))]
    np.testing.assert_allclose(det._latent(Z), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["ae", "aewres"])
def test_elu_is_the_standard_one_by_default_and_the_papers_alpha_is_kept(data, kind, tmp_path):
    """Both Deep SVDD variants default to the standard ELU (alpha=1, chosen on the development corpora); the paper's
    ELU(alpha=0.1) is a parameter that is trained with, stored, and scored with after loading."""
    X_train, X_val, X_test, _ = data
    assert make_detector(kind).params["elu_alpha"] == 1.0
    std = make_detector(kind, **FAST).fit(X_train, X_val)
    paper = make_detector(kind, elu_alpha=0.1, **FAST).fit(X_train, X_val)
    assert not np.allclose(paper.score_samples(X_test), std.score_samples(X_test))
    back = load_detector(paper.save(tmp_path / "paper.safetensors"))
    assert back.params["elu_alpha"] == 0.1
    assert np.array_equal(back.score_samples(X_test), paper.score_samples(X_test))
    tensors, meta = std.state()
    del meta["params"]["elu_alpha"]  # a file without the key: every model saved so far stores it, but were it
    assert type(std).from_state(tensors, meta).params["elu_alpha"] == 0.1  # missing, it was the paper's


def test_ensemble_averages_validation_scaled_members(data, tmp_path):
    """ensemble=N trains members with seeds seed..seed+N-1; the score is the mean of each member's distance over the
    median of its validation distances; member 1 is the single model of the same seed; the file round-trips."""
    X_train, X_val, X_test, y = data
    single = [make_detector("aewres", seed=s, **QUALITY).fit(X_train, X_val) for s in (3, 4, 5)]
    ens = make_detector("aewres", seed=3, ensemble=3, **QUALITY).fit(X_train, X_val)
    assert len(ens.members_) == 3 and ens.params["ensemble"] == 3
    scales = [np.median(d.score_samples(X_val)) for d in single]
    np.testing.assert_allclose(ens.member_scales_, scales, rtol=1e-12)
    expected = np.mean([d.score_samples(X_test) / s for d, s in zip(single, scales)], axis=0)
    np.testing.assert_allclose(ens.score_samples(X_test), expected, rtol=1e-10)
    np.testing.assert_array_equal(ens.transform(X_test), single[0].transform(X_test))  # figures show member 1
    assert ens.info_["epochs"] == sum(d.info_["epochs"] for d in single) and len(ens.info_["members"]) == 3
    assert auroc(y, ens.score_samples(X_test)) > 0.95
    path = ens.save(tmp_path / "ens.safetensors")
    back = Detector.load(path)
    np.testing.assert_array_equal(back.score_samples(X_test), ens.score_samples(X_test))
    assert back.threshold_ == ens.threshold_ and len(back.members_) == 3
    assert back.latent_name == ens.latent_name == "Deep SVDD latent (member 1 of 3)"
    assert single[0].latent_name == "Deep SVDD latent"


def test_members_trained_at_once_equal_members_trained_one_by_one(data):
    """jobs=2 trains members in two worker processes: the same model, bit for bit, and every epoch reaches progress."""
    X_train, X_val, X_test, _ = data
    events: dict[int, list] = {1: [], 2: []}
    one = make_detector("aewres", ensemble=3, jobs=1, **FAST).fit(X_train, X_val, progress=lambda *e: events[1].append(e))
    two = make_detector("aewres", ensemble=3, jobs=2, **FAST).fit(X_train, X_val, progress=lambda *e: events[2].append(e))
    assert one.info_["jobs"] == 1 and two.info_["jobs"] == 2
    np.testing.assert_array_equal(two.score_samples(X_test), one.score_samples(X_test))
    np.testing.assert_array_equal(two.member_scales_, one.member_scales_)
    assert two.info_["members"] == one.info_["members"]
    assert sorted(events[2]) == sorted(events[1]) and len(events[1]) == one.info_["epochs"]
    assert {e[0] for e in events[2]} == {f"{phase} {k}/3" for phase in ("pretrain", "svdd") for k in (1, 2, 3)}


def test_ensemble_members_default_to_one_thread_and_one_job_per_cpu(data, monkeypatch):
    from loopwatch.detect import svdd

    monkeypatch.setattr(svdd.os, "cpu_count", lambda: 8)
    assert svdd.default_threads() == 4 and svdd.default_threads(5) == 1
    assert [svdd.default_jobs(t) for t in (1, 3, 4, 16)] == [8, 2, 2, 1]
    det = make_detector("aewres", ensemble=2, jobs=1, max_epochs=2).fit(*data[:2])
    assert det.info_["threads"] == 1 and det.info_["jobs"] == 1


def test_members_train_at_once_from_a_script_without_a_main_guard(tmp_path):
    """Workers run nothing of the caller's: a script that fits an ensemble at top level (no ``__main__`` guard,
    which "spawn" multiprocessing would re-run in every worker) trains it in two processes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "train_ensemble.py"
    script.write_text(
        "import numpy as np\n"
        "from loopwatch.detect import make_detector\n"
        "rng = np.random.default_rng(0)\n"
        "print('top level ran', flush=True)\n"
        "det = make_detector('aewres', ensemble=2, jobs=2, max_epochs=2, threads=1)"
        ".fit(rng.normal(size=(80, 12)), rng.normal(size=(20, 12)))\n"
        "print('jobs', det.info_['jobs'], 'members', len(det.members_))\n")
    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": root})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["top level ran", "jobs 2 members 2"]


def test_a_crashed_member_is_reported_in_one_line(tmp_path):
    from loopwatch.detect.members import _failure

    (tmp_path / "member1.log").write_text("Traceback (most recent call last):\n  File ...\nMemoryError: out of memory\n\n")
    assert _failure(tmp_path, 1, 7, 1) == "ensemble member 2 (seed 7) stopped with exit code 1: MemoryError: out of memory"
    (tmp_path / "member1.error").write_text("aewres: pretrain diverged (validation loss nan) at epoch 1\n")
    assert _failure(tmp_path, 1, 7, 1) == "aewres: pretrain diverged (validation loss nan) at epoch 1"


def test_a_frozen_app_trains_members_one_by_one(data, monkeypatch):
    """A frozen application (PyInstaller...) has no interpreter to run workers with: members train in-process, and
    the model is the one the workers would have made."""
    import sys

    X_train, X_val, X_test, _ = data
    two = make_detector("aewres", ensemble=2, jobs=2, **FAST).fit(X_train, X_val)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr("loopwatch.detect.members.subprocess.Popen", None)  # any worker start would fail loudly
    frozen = make_detector("aewres", ensemble=2, jobs=2, **FAST).fit(X_train, X_val)
    assert two.info_["jobs"] == 2 and frozen.info_["jobs"] == 1
    np.testing.assert_array_equal(frozen.score_samples(X_test), two.score_samples(X_test))


def test_a_worker_that_cannot_start_is_reported_in_one_line(data, monkeypatch):
    import sys

    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    with pytest.raises(DetectorError) as err:
        make_detector("aewres", ensemble=2, jobs=2, **FAST).fit(*data[:2])
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("ensemble member 1 (seed 0): cannot start a worker process with "
                                              "/nonexistent/python") and msg.endswith("(--jobs 1)")


def test_a_failing_member_stops_the_ensemble_with_its_error(data):
    with pytest.raises(DetectorError, match="diverged"):
        make_detector("aewres", ensemble=3, jobs=2, lr=1e12, threads=1).fit(*data[:2])


@pytest.mark.parametrize("key,value", [("jobs", -1), ("jobs", "two"), ("threads", -2), ("threads", 1.5)])
def test_bad_thread_and_job_counts_are_refused(data, key, value):
    with pytest.raises(DetectorError, match=f"{key} must be a whole number, 0 or more"):
        make_detector("aewres", **{**FAST, key: value}).fit(*data[:2])


@pytest.mark.parametrize("n", [0, 33, "many", 2.5])
def test_bad_ensemble_size_is_refused(data, n):
    with pytest.raises(DetectorError, match="ensemble must be a whole number"):
        make_detector("ae", ensemble=n, **FAST).fit(*data[:2])


def test_fit_without_validation_holds_out_a_fifth(data):
    X_train = data[0]
    det = make_detector("pca").fit(X_train)
    assert det.info_["n_val"] == 48 and det.info_["n_train"] == 192


@pytest.mark.parametrize("bad, match", [
    (np.zeros((10,)), "2-D"),
    (np.full((10, DIM), np.nan), "NaN"),
    (np.zeros((1, DIM)), "at least"),
])
def test_bad_training_input_is_refused(bad, match):
    with pytest.raises(DetectorError, match=match):
        make_detector("pca").fit(bad, np.zeros((3, DIM)) if bad.ndim == 2 and len(bad) == 1 else None)


def test_bad_scoring_input_and_parameters_are_refused(fitted):
    with pytest.raises(DetectorError, match="expected 40 features"):
        fitted["pca"].score_samples(np.zeros((2, 7)))
    with pytest.raises(DetectorError, match="unknown hyper-parameter"):
        make_detector("aewres", learning_rate=1.0)
    with pytest.raises(DetectorError, match="unknown detector"):
        make_detector("svm")
    with pytest.raises(DetectorError, match="not fitted"):
        make_detector("pca").score_samples(np.zeros((1, DIM)))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_detector_file_gives_one_line_error(fitted, tmp_path, damage):
    path = fitted["iforest"].save(tmp_path / "d.safetensors")
    blob = path.read_bytes()
    path.write_bytes({"truncate": blob[: len(blob) // 2], "garbage": b"\x00" * 64 + blob[64:], "empty": b""}[damage])
    with pytest.raises(DetectorError) as err:
        Detector.load(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg


def test_tampered_tree_indices_are_refused(fitted, tmp_path):
    from safetensors.numpy import load_file, save_file
    from safetensors import safe_open

    path = fitted["iforest"].save(tmp_path / "d.safetensors")
    with safe_open(str(path), framework="numpy") as fh:
        meta = fh.metadata()
    t = load_file(str(path))
    t["p.left"] = t["p.left"] + 10**6
    save_file(t, str(path), metadata=meta)
    with pytest.raises(DetectorError, match="out of range"):
        Detector.load(path)


@pytest.mark.parametrize("kind,params,message", [
    ("aewres", {"dropout": "0.2"}, "aewres: dropout must be a finite number, got '0.2'"),
    ("aewres", {"lr": float("inf")}, "lr must be a finite number, got inf"),
    ("aewres", {"lr": 0.0}, "lr must be above 0, got 0.0"),
    ("aewres", {"weight_decay": -1e-5}, "weight_decay must be 0 or more"),
    ("aewres", {"lr_min": 0.01}, "lr_min must be from 0 to the smaller of lr and svdd_lr (0.0001), got 0.01"),
    ("aewres", {"svdd_lr": 1e-3, "lr_min": 2e-3}, "lr_min must be from 0 to the smaller of lr and svdd_lr (0.001)"),
    ("ae", {"svdd_lr": -1e-4}, "ae: svdd_lr must be above 0, got -0.0001"),
    ("aewres", {"svdd_batch_size": 1}, "svdd_batch_size must be at least 2 (batch normalisation needs two rows), "
                                       "got 1"),
    ("ae", {"svdd_batch_size": 64.5}, "ae: svdd_batch_size must be a whole number, got 64.5"),
    ("ae", {"elu_alpha": -0.1}, "ae: elu_alpha must be above 0"),
    ("ae", {"eps": 0}, "eps must be above 0"),
    ("aewres", {"batch_size": 32.0}, "batch_size must be a whole number, got 32.0"),
    ("aewres", {"batch_size": 1}, "batch_size must be at least 2 (batch normalisation needs two rows), got 1"),
    ("aewres", {"svdd_dropout": "yes"}, "svdd_dropout must be true or false"),
    ("ae", {"svdd_stop": "auroc"}, "ae: svdd_stop must be one of contrast, loss, got 'auroc'"),
    ("aewres", {"pretrain_patience": 0}, "aewres: pretrain_patience must be at least 1, got 0"),
    ("ae", {"pretrain_patience": 2.5}, "ae: pretrain_patience must be a whole number, got 2.5"),
    ("aewres", {"hidden": [64, 16.5]}, "hidden must be a list of whole numbers"),
    ("aewres", {"seed": -1}, "seed must be 0 or more"),
    ("iforest", {"n_estimators": 0}, "iforest: n_estimators must be at least 1"),
    ("iforest", {"max_samples": 1.5}, "max_samples must be \"auto\""),
    ("iforest", {"max_samples": "all"}, "max_samples must be \"auto\""),
    ("iforest", {"seed": 1.0}, "seed must be a whole number"),
    ("pca", {"variance": 0}, "pca: variance must be in (0, 1]"),
    ("pca", {"variance": True}, "pca: variance must be a finite number, got True"),
])
def test_hyper_parameters_of_the_wrong_type_or_range_are_refused_before_training(data, kind, params, message):
    det = make_detector(kind, **params)
    with pytest.raises(DetectorError, match=re.escape(message)):
        det.check_params()
    with pytest.raises(DetectorError, match=re.escape(message)):
        det.fit(*data[:2])
    assert not det.fitted


def test_checked_hyper_parameters_of_every_accepted_form_train(data):
    for kind, params in [("iforest", {"max_samples": 0.5, "n_estimators": np.int64(20)}), ("iforest", {"max_samples": 64}),
                         ("pca", {"variance": 1}), ("aewres", {**FAST, "dropout": 0, "hidden": (32, 8)})]:
        assert make_detector(kind, **params).check_params().fit(*data[:2]).fitted
