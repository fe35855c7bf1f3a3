"""CLAP encoders built from laion-clap's modules, with random weights in LAION's checkpoint layout."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import synth_loop

from loopwatch.embed import EncoderError, get_encoder, weights
from loopwatch.embed.clap import (
    CHUNK_FRAMES,
    CLIP_SAMPLES,
    ClapEncoder,
    fusion_chunk_starts,
    repeat_pad,
    window_starts,
)


def clip(seconds, seed):
    return synth_loop(seconds, channels=1, seed=seed)[0]


@pytest.fixture(scope="module")
def music(laion_music_ckpt):
    path, tower = laion_music_ckpt
    weights.convert(path, "clap-music")
    return get_encoder("clap-music", device="cpu", precision="fp32"), tower


@pytest.fixture(scope="module")
def fusion(laion_fusion_ckpt):
    path, tower = laion_fusion_ckpt
    weights.convert(path, "clap-fusion")
    return get_encoder("clap-fusion", device="cpu", precision="fp32"), tower


@pytest.fixture(autouse=True, scope="module")
def module_home(tmp_path_factory):
    # weights installed by the module fixtures must outlive the per-test home
    home = tmp_path_factory.mktemp("clap-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("LOOPWATCH_HOME", str(home))
    yield home
    mp.undo()


@pytest.fixture(autouse=True)
def lw_home(module_home, monkeypatch):  # overrides the per-test home of conftest
    monkeypatch.setenv("LOOPWATCH_HOME", str(module_home))
    return module_home


def test_loader_runs_no_package_init_and_no_torchvision():
    code = textwrap.dedent(
        """
        import sys
        from loopwatch.embed.htsat import build_audio_model
        m = build_audio_model("tiny", True)
        assert "laion_clap" not in sys.modules, "laion_clap/__init__ ran"
        assert not any(k == "torchvision" or k.startswith("torchvision.") for k in sys.modules), "torchvision imported"
        assert "transformers" not in sys.modules
        print(sum(p.numel() for p in m.parameters()))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert 31_000_000 < int(out.stdout.strip()) < 32_000_000  # HTSAT-tiny + fusion + projection


def test_conversion_keeps_only_audio_keys(music):
    enc, tower = music
    from safetensors import safe_open

    path = weights.weights_path("clap-music")
    with safe_open(str(path), framework="pt") as fh:
        keys = set(fh.keys())
        meta = fh.metadata()
    assert keys == set(tower.state_dict())
    assert all(k.startswith(("audio_branch.", "audio_projection.")) for k in keys)
    assert not any(k.startswith("module.") for k in keys)
    assert meta["encoder"] == "clap-music" and meta["source"] == "music_audioset_epoch_15_esc_90.14.pt"
    assert len(meta["source_sha256"]) == 64
    assert enc.prep_version == f"clap-music-1+{meta['source_sha256'][:12]}"


def test_music_embedding_equals_original_tower(music):
    enc, tower = music
    x = clip(3.0, 0)
    got = enc.embed([x])[0]
    with torch.inference_mode():
        ref = tower.audio_branch({"waveform": torch.as_tensor(repeat_pad(x))[None]}, device="cpu")["embedding"][0]
    assert got.shape == (1024,)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5, atol=1e-5)


def test_music_long_clip_is_mean_of_fixed_windows(music):
    enc, _ = music
    x = clip(12.5, 1)
    starts = window_starts(len(x))
    assert starts == [0, len(x) - CLIP_SAMPLES]
    assert window_starts(23 * 48000) == [0, (23 * 48000 - CLIP_SAMPLES) // 2, 23 * 48000 - CLIP_SAMPLES]
    parts = enc.embed([x[s : s + CLIP_SAMPLES] for s in starts])
    np.testing.assert_allclose(enc.embed([x])[0], parts.mean(axis=0), rtol=1e-5, atol=1e-5)
    # deterministic: no random crop
    np.testing.assert_array_equal(enc.embed([x]), enc.embed([x]))


def test_music_batch_composition_does_not_matter(music):
    enc, _ = music
    clips = [clip(0.8, 2), clip(10.5, 3), clip(4.0, 4)]
    together = enc.embed(clips, batch_size=4)
    alone = np.stack([enc.embed([c], batch_size=1)[0] for c in clips])
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-5)


def test_fusion_short_and_long_inputs(fusion):
    enc, tower = fusion
    short, long_ = clip(4.0, 5), clip(14.0, 6)
    mel, longer = enc.fusion_input(short)
    assert mel.shape == (4, CHUNK_FRAMES, 64) and not longer
    assert torch.equal(mel[0], mel[3])
    mel_l, longer_l = enc.fusion_input(long_)
    assert longer_l and mel_l.shape == (4, CHUNK_FRAMES, 64)
    total = len(long_) // 480 + 1
    starts = fusion_chunk_starts(total)
    from loopwatch.embed.mel import htk_log_mel_torch

    full = htk_log_mel_torch(torch.as_tensor(long_))
    for ch, s in zip((1, 2, 3), starts):
        assert torch.allclose(mel_l[ch], full[s : s + CHUNK_FRAMES])
    # the embedding equals the original tower fed the same fusion input
    with torch.inference_mode():
        ref = tower.audio_branch({"mel_fusion": mel_l[None], "longer": torch.tensor([[True]])}, device="cpu")
    np.testing.assert_allclose(enc.embed([long_])[0], ref["embedding"][0].numpy(), rtol=1e-4, atol=1e-5)


def test_fusion_chunk_starts_are_centres_of_thirds():
    # 1100 frames -> starts 0..99 split 34/33/33 -> centres 17, 50, 83
    assert fusion_chunk_starts(1100) == [17, 50, 83]
    # only one valid start: the other thirds are empty and fall back to 0 as CLAP does
    assert fusion_chunk_starts(CHUNK_FRAMES) == [0, 0, 0]


def test_fusion_batch_composition_does_not_matter(fusion):
    enc, _ = fusion
    clips = [clip(2.0, 7), clip(13.0, 8), clip(9.0, 9)]
    together = enc.embed(clips, batch_size=3)
    alone = np.stack([enc.embed([c], batch_size=1)[0] for c in clips])
    assert together.shape == (3, 768)
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("which", ["music", "fusion"])
def test_reduced_precision_keeps_cosine(which, request):
    enc32, _ = request.getfixturevalue(which)
    name = enc32.name
    enc16 = ClapEncoder(name, device="cpu", precision="bf16")
    assert enc16.precision == "bf16"
    clips = [clip(3.0, 10), clip(10.5, 11)] if which == "fusion" else [clip(3.0, 10)]
    a, b = enc32.embed(clips), enc16.embed(clips)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() >= 0.999, cos


def test_auto_precision_policy():
    from loopwatch.embed.clap import resolve_precision

    assert resolve_precision("cuda", "auto") == "fp16"
    assert resolve_precision("mps", "auto") == "fp32"
    assert resolve_precision("cpu", "fp32") == "fp32"
    with pytest.raises(EncoderError):
        resolve_precision("cpu", "int8")


def test_missing_weights_message_names_both_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("LOOPWATCH_HOME", str(tmp_path))
    with pytest.raises(EncoderError) as ei:
        get_encoder("clap-fusion")
    msg = str(ei.value)
    assert "loopwatch encoders download clap-fusion" in msg and "loopwatch encoders import" in msg


def test_cuda_request_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(EncoderError, match="no CUDA GPU"):
        get_encoder("clap-fusion", device="cuda")


def test_wrong_checkpoint_kind_is_refused(laion_fusion_ckpt, tmp_path):
    path, _ = laion_fusion_ckpt
    with pytest.raises(weights.WeightsError, match="not a non-fusion HTSAT-base checkpoint"):
        weights.convert(path, "clap-music", folder=tmp_path)


def test_unknown_keys_are_refused(laion_fusion_ckpt, tmp_path):
    path, _ = laion_fusion_ckpt
    ckpt = torch.load(path, weights_only=False)
    ckpt["state_dict"]["module.mystery_head.weight"] = torch.zeros(3)
    bad = tmp_path / "bad.pt"
    torch.save(ckpt, bad)
    with pytest.raises(weights.WeightsError, match="unexpected keys.*module.mystery_head.weight"):
        weights.convert(bad, folder=tmp_path)


def test_missing_audio_key_is_refused(laion_fusion_ckpt, tmp_path):
    path, _ = laion_fusion_ckpt
    ckpt = torch.load(path, weights_only=False)
    del ckpt["state_dict"]["module.audio_branch.norm.weight"]
    bad = tmp_path / "bad.pt"
    torch.save(ckpt, bad)
    with pytest.raises(weights.WeightsError, match="missing: \\['audio_branch.norm.weight'\\]"):
        weights.convert(bad, folder=tmp_path)


class Payload:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickled_code_is_never_run(tmp_path, capsys):
    bad = tmp_path / "evil.pt"
    torch.save({"state_dict": {"module.audio_branch.x": Payload()}}, bad)
    with pytest.raises(weights.WeightsError, match="not a readable PyTorch checkpoint"):
        weights.convert(bad, folder=tmp_path)
    assert "pwned" not in capsys.readouterr().out


def test_truncated_checkpoint_is_a_one_line_error(laion_fusion_ckpt, tmp_path):
    path, _ = laion_fusion_ckpt
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(weights.WeightsError) as ei:
        weights.convert(cut, folder=tmp_path)
    assert "\n" not in str(ei.value) and str(cut) in str(ei.value)


def test_runtime_never_touches_the_network(fusion, tmp_path):
    """Embedding with installed weights works with every socket call failing."""
    import soundfile as sf

    wav = tmp_path / "a.wav"
    sf.write(wav, clip(1.0, 12), 48000)
    code = textwrap.dedent(
        f"""
        import socket
        def refuse(*a, **k):
            raise AssertionError("network access attempted")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from loopwatch.embedding import embed_files
        r = embed_files([{str(wav)!r}], "clap-fusion", cache=False, precision="fp32")
        assert r.X.shape == (1, 768) and not r.errors, r.errors
        print("ok")
        """
    )
    import os

    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
