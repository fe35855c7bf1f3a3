"""Embedding files through the cache, and the `loopwatch embed` command."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from conftest import synth_loop
from typer.testing import CliRunner

from loopwatch.cache import EmbeddingCache
from loopwatch.cli import app
from loopwatch.embedding import embed_files
from loopwatch.files import iter_audio_files


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "loops"
    (d / "sub").mkdir(parents=True)
    for i in range(3):
        sf.write(d / f"loop{i}.wav", synth_loop(1.0 + i, seed=i).T, 48000)
    sf.write(d / "sub" / "deep.flac", synth_loop(1.5, seed=9).T, 48000)
    (d / "sub" / "deep.flac.asd").write_bytes(b"ableton analysis")
    (d / ".hidden.wav").write_bytes(b"RIFF")
    (d / "broken.wav").write_text("not audio")
    return d


def test_walk_skips_sidecars_and_dotfiles(folder):
    names = sorted(p.name for p in iter_audio_files([folder]))
    assert names == ["broken.wav", "deep.flac", "loop0.wav", "loop1.wav", "loop2.wav"]


def test_second_pass_reads_nothing(folder, tmp_path):
    files = list(iter_audio_files([folder]))
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        first = embed_files(files, "spectral", cache=cache)
        assert first.n_computed == 4 and first.n_cached == 0 and len(first.errors) == 1
        assert "broken.wav: not a readable audio file" in first.errors[0][1]
        hashed = cache.hashed
        second = embed_files(files, "spectral", cache=cache)
        assert cache.hashed == hashed  # no file was even re-hashed
        assert second.n_computed == 0 and second.n_cached == 4
        np.testing.assert_array_equal(first.X, second.X)
        assert [p.name for p in second.paths] == [p.name for p in first.paths]


def test_moved_file_is_a_cache_hit_and_changed_file_is_not(folder, tmp_path):
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        before = embed_files([folder / "loop0.wav"], "spectral", cache=cache)
        moved = tmp_path / "Processed" / "Freeze" / "renamed.wav"
        moved.parent.mkdir(parents=True)
        shutil.move(folder / "loop0.wav", moved)
        after = embed_files([moved], "spectral", cache=cache)
        assert after.n_cached == 1 and after.n_computed == 0
        np.testing.assert_array_equal(before.X, after.X)
        sf.write(moved, synth_loop(1.0, seed=42).T, 48000)  # new content, same path
        changed = embed_files([moved], "spectral", cache=cache)
        assert changed.n_computed == 1 and not np.array_equal(changed.X, before.X)


def test_duplicate_content_is_embedded_once(folder, tmp_path):
    shutil.copy(folder / "loop1.wav", folder / "copy.wav")
    res = embed_files([folder / "loop1.wav", folder / "copy.wav"], "spectral", cache=None)
    assert res.n_computed == 1 and res.n_cached == 1
    np.testing.assert_array_equal(res.X[0], res.X[1])


def test_progress_reaches_total(folder):
    seen = []
    files = list(iter_audio_files([folder]))
    embed_files(files, "spectral", cache=None, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (len(files), len(files))


def test_embed_command_json_and_npz(folder, tmp_path):
    out = tmp_path / "emb.npz"
    res = CliRunner().invoke(app, ["embed", str(folder), "--encoder", "spectral", "--json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    records = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    kinds = [r["type"] for r in records]
    assert kinds.count("embedding") == 4 and kinds.count("error") == 1 and kinds[-1] == "summary"
    assert records[-1]["computed"] == 4 and records[-1]["skipped"] == 1
    z = np.load(out)
    assert z["X"].shape == (4, 236) and str(z["encoder"]) == "spectral"
    res2 = CliRunner().invoke(app, ["embed", str(folder), "-e", "spectral"])
    assert res2.exit_code == 0 and "4 from cache, 0 computed, 1 skipped" in res2.stdout
    # the file written is the file named: numpy adds ".npz" to other names, so the summary says so
    res3 = CliRunner().invoke(app, ["embed", str(folder), "-e", "spectral", "--json", "--out", str(tmp_path / "e.txt")])
    assert json.loads(res3.stdout.splitlines()[-1])["out"] == str(tmp_path / "e.txt.npz")
    assert (tmp_path / "e.txt.npz").exists()
    res4 = CliRunner().invoke(app, ["embed", str(folder), "-e", "spectral", "--out", str(tmp_path)])
    assert res4.exit_code == 1 and "is a folder" in res4.output


def test_embed_command_without_weights_explains(folder):
    res = CliRunner().invoke(app, ["embed", str(folder), "--encoder", "clap-music"])
    assert res.exit_code == 1
    assert "loopwatch encoders download clap-music" in res.output


def test_embed_command_missing_path(tmp_path):
    res = CliRunner().invoke(app, ["embed", str(tmp_path / "nope")])
    assert res.exit_code == 1 and "no such file or folder" in res.output


@pytest.mark.parametrize("kw,message", [({"device": "tpu"}, "unknown device 'tpu'"),
                                        ({"precision": "fp8"}, "unknown precision 'fp8'")])
def test_unknown_device_or_precision_is_refused_before_reading(tmp_path, kw, message):
    """Even when every file would come from the cache (so no encoder is built), a typo is an error, not ignored."""
    from loopwatch.embed import EncoderError

    with pytest.raises(EncoderError, match=message):
        embed_files([tmp_path / "never-read.wav"], "spectral", cache=False, **kw)
