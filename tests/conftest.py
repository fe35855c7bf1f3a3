"""Shared fixtures. Every test runs with LOOPWATCH_HOME in a fresh temp folder,
so nothing touches the real user's config, data or cache."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def lw_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("lwhome")
    monkeypatch.setenv("LOOPWATCH_HOME", str(home))
    monkeypatch.delenv("LOOPWATCH_CONFIG", raising=False)
    return home


def synth_loop(seconds: float = 2.0, sr: int = 48000, channels: int = 2, seed: int = 0) -> np.ndarray:
    """A musical-ish test loop: decaying plucked partials on a beat grid, shape (channels, samples)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    out = np.zeros(n)
    beat = 0.5
    for k, start in enumerate(np.arange(0, seconds, beat)):
        f0 = 55.0 * 2 ** (rng.integers(0, 24) / 12)
        idx = t >= start
        tt = t[idx] - start
        env = np.exp(-tt * 6.0) * (1 - np.exp(-tt * 400.0))
        note = sum(np.sin(2 * np.pi * f0 * h * tt) / h for h in range(1, 6))
        out[idx] += 0.25 * env * note
    x = np.stack([out * (1 - 0.1 * c) for c in range(channels)])
    return x.astype(np.float32)


@pytest.fixture
def loop_stereo() -> np.ndarray:
    return synth_loop()


def make_laion_checkpoint(path, model: str, fusion: bool, seed: int = 0):
    """Write a randomly initialised CLAP checkpoint in the exact layout LAION publishes.

    ``{"epoch", "name", "state_dict", "optimizer"...}`` where ``state_dict`` has every
    key prefixed ``module.``: the audio tower (``audio_branch.*``,
    ``audio_projection.*``) plus text-tower keys (``text_branch.*`` including
    ``embeddings.position_ids``, ``text_projection.*``, ``text_transform.*``),
    ``audio_transform.*`` and the logit scales, which conversion must drop. The text
    tower is shrunk (a few RoBERTa-named tensors) to keep the file small.
    """
    import torch

    from loopwatch.embed.htsat import build_audio_model

    torch.manual_seed(seed)
    tower = build_audio_model(model, fusion)
    # Non-trivial BatchNorm statistics, so running stats must be loaded to match.
    for name, buf in tower.named_buffers():
        if name.endswith("running_mean"):
            buf.normal_(0, 0.1)
        elif name.endswith("running_var"):
            buf.uniform_(0.5, 1.5)
    sd = {f"module.{k}": v.clone() for k, v in tower.state_dict().items()}
    text = {
        "text_branch.embeddings.word_embeddings.weight": torch.randn(64, 16),
        "text_branch.embeddings.position_embeddings.weight": torch.randn(80, 16),
        "text_branch.embeddings.position_ids": torch.arange(80)[None],
        "text_branch.encoder.layer.0.attention.self.query.weight": torch.randn(16, 16),
        "text_branch.pooler.dense.weight": torch.randn(16, 16),
        "text_projection.0.weight": torch.randn(512, 16),
        "text_projection.0.bias": torch.randn(512),
        "text_projection.2.weight": torch.randn(512, 512),
        "text_projection.2.bias": torch.randn(512),
        "text_transform.sequential.0.weight": torch.randn(512, 512),
        "audio_transform.sequential.0.weight": torch.randn(512, 512),
        "logit_scale_a": torch.tensor(2.6),
        "logit_scale_t": torch.tensor(2.6),
    }
    sd.update({f"module.{k}": v for k, v in text.items()})
    ckpt = {"epoch": 15, "name": "random-test-weights", "state_dict": sd,
            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4}]}, "best_score": np.float64(0.9014)}
    torch.save(ckpt, str(path))
    return tower


@pytest.fixture(scope="session")
def laion_fusion_ckpt(tmp_path_factory):
    """(path, torch tower) of a random HTSAT-tiny fusion checkpoint in LAION layout."""
    p = tmp_path_factory.mktemp("ckpt") / "630k-audioset-fusion-best.pt"
    tower = make_laion_checkpoint(p, "tiny", True, seed=1)
    return p, tower


@pytest.fixture(scope="session")
def laion_music_ckpt(tmp_path_factory):
    """(path, torch tower) of a random HTSAT-base non-fusion checkpoint in LAION layout."""
    p = tmp_path_factory.mktemp("ckpt") / "music_audioset_epoch_15_esc_90.14.pt"
    tower = make_laion_checkpoint(p, "base", False, seed=2)
    return p, tower
