"""Shared fixtures. Every test runs with LOOPWATCH_HOME in a fresh temp folder,
so nothing touches the real user's config, data or cache."""

from __future__ import annotations

import numpy as np
import pytest

from loopwatch.embed.testing import write_laion_checkpoint


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


@pytest.fixture(scope="session")
def laion_fusion_ckpt(tmp_path_factory):
    """(path, torch tower) of a random HTSAT-tiny fusion checkpoint in LAION layout."""
    p = tmp_path_factory.mktemp("ckpt") / "630k-audioset-fusion-best.pt"
    tower = write_laion_checkpoint(p, "tiny", True, seed=1)
    return p, tower


@pytest.fixture(scope="session")
def laion_music_ckpt(tmp_path_factory):
    """(path, torch tower) of a random HTSAT-base non-fusion checkpoint in LAION layout."""
    p = tmp_path_factory.mktemp("ckpt") / "music_audioset_epoch_15_esc_90.14.pt"
    tower = write_laion_checkpoint(p, "base", False, seed=2)
    return p, tower
