"""The fusion front end's HTK log-mel, written in plain torch, against librosa."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import synth_loop

from loopwatch.embed.mel import htk_log_mel_torch, mel_filterbank

librosa = pytest.importorskip("librosa")


def reference_db(x: np.ndarray) -> np.ndarray:
    S = librosa.feature.melspectrogram(
        y=x.astype(np.float64), sr=48000, n_fft=1024, hop_length=480, win_length=1024, window="hann",
        center=True, pad_mode="reflect", power=2.0, n_mels=64, fmin=50, fmax=14000, htk=True, norm=None,
    )
    return librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=None).T  # (frames, mels)


def test_filterbank_matches_librosa():
    ours = mel_filterbank(48000, 1024, 64, 50.0, 14000.0)
    ref = librosa.filters.mel(sr=48000, n_fft=1024, n_mels=64, fmin=50, fmax=14000, htk=True, norm=None)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("seconds", [0.3, 2.0, 10.0])
def test_log_mel_matches_librosa_within_1e3_db(seconds):
    rng = np.random.default_rng(0)
    x = synth_loop(seconds, channels=1, seed=4)[0] + 1e-3 * rng.standard_normal(int(seconds * 48000))
    x = x.astype(np.float32)
    ours = htk_log_mel_torch(torch.from_numpy(x)).numpy()
    ref = reference_db(x)
    assert ours.shape == ref.shape == (len(x) // 480 + 1, 64)
    assert np.max(np.abs(ours - ref)) < 1e-3


def test_batched_equals_single():
    x = torch.from_numpy(np.stack([synth_loop(1.0, channels=1, seed=s)[0] for s in range(3)]))
    batched = htk_log_mel_torch(x)
    for i in range(3):
        assert torch.allclose(batched[i], htk_log_mel_torch(x[i]), atol=1e-5)


def test_silence_floor_is_minus_100_db():
    out = htk_log_mel_torch(torch.zeros(4800))
    assert torch.all(out == -100.0)
