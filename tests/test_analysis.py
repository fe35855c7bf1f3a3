"""The analysis library behind the daemon: model choice, verdicts, alerts, in-process scoring."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf
from conftest import synth_loop

from loopwatch.analysis import Analyzer, FileResult, Job, ModelScore, alerts_for, shift_message_times
from loopwatch.client import score_in_process
from loopwatch.config import load_config
from loopwatch.findings import Finding


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    d = tmp_path_factory.mktemp("lib")
    paths = []
    for i in range(24):
        p = d / f"loop_{i:02d}.wav"
        sf.write(p, synth_loop(1.5 + (i % 3) * 0.5, seed=100 + i).T, 48000)
        paths.append(p)
    return paths


def train(name, paths, seed=0):
    from loopwatch.embedding import embed_files
    from loopwatch.modelstore import TrainedModel

    res = embed_files(paths, "spectral", cache=True)
    m = TrainedModel.train(name, res.X, res.hashes, [str(p) for p in res.paths], encoder="spectral",
                           prep_version=res.prep_version, detector="pca", seed=seed)
    m.save(overwrite=True)
    return m


def test_model_choice_rules(library):
    train("bass", library)
    train("gtr", library)
    cfg = load_config(overrides={"models.default": "fallback",
                                 "models.rules": [{"pattern": "*/guitars/*", "model": "gtr"}]})
    a = Analyzer(cfg, cache=None)
    assert a.model_for("/x/any.wav", explicit="mine") == "mine"
    assert a.model_for("/Music/Guitars/take.wav") == "gtr"  # case-insensitive glob
    assert a.model_for(r"C:\Music\guitars\take.wav") == "gtr"  # Windows separators
    assert a.model_for("/Music/Bass 3.wav") == "bass"  # a model name as a word of the file name
    assert a.model_for("/Music/bassoon.wav") == "fallback"  # not a whole word
    assert a.model_for("/Music/keys.wav") == "fallback"


def test_analyze_scores_with_the_model_and_reloads_after_retrain(library, tmp_path):
    train("bass", library)
    cfg = load_config(overrides={"models.default": "bass"})
    a = Analyzer(cfg)
    odd = tmp_path / "noise.wav"
    sf.write(odd, (np.random.default_rng(0).standard_normal((48000, 2)) * 0.3), 48000)
    res = a.analyze([Job(str(library[0])), Job(str(odd))])
    assert res[0].model is not None and res[0].model.model == "bass"
    assert res[1].model.verdict == "outlier" and res[1].model.ratio > res[0].model.ratio
    first_fp = res[0].model.fingerprint
    time.sleep(1.1)  # a new `created` stamp
    train("bass", library[:22], seed=1)
    again = a.analyze([Job(str(library[0]))])[0]
    assert again.model.fingerprint != first_fp  # the re-trained model was picked up


def test_missing_model_still_runs_checks(tmp_path, library):
    cfg = load_config(overrides={"models.default": "nope"})
    res = Analyzer(cfg).analyze([Job(str(library[1]))])[0]
    assert res.model is None and "model nope" in res.model_error and res.error is None


def test_verdicts_and_severities():
    cfg = load_config()
    click = Finding("click", "error", 1.0, 1.0, 18.0, "dB", "click at 1.000 s")
    info = Finding("loudness", "info", 0.0, 2.0, -14.0, "LUFS", "loudness -14.0 LUFS")
    warn = Finding("noise", "warn", 0.0, 2.0, 25.0, "dB", "hiss")
    assert alerts_for(FileResult("/a.wav", findings=[info]), cfg) == ([], "ok")
    found, verdict = alerts_for(FileResult("/a.wav", findings=[warn, info]), cfg)
    assert verdict == "warn" and found == [warn]
    assert alerts_for(FileResult("/a.wav", findings=[click, warn]), cfg)[1] == "error"
    failed = alerts_for(FileResult("/a.wav", error="empty file (0 bytes)"), cfg)
    assert failed[1] == "failed" and failed[0][0].check == "decode"
    out = ModelScore("bass", "spectral", 2.0, 1.5, 99.0, "outlier")
    f, v = alerts_for(FileResult("/a.wav", duration=2.0, model=out), cfg)
    assert v == "warn" and f[0].check == "outlier" and f[0].t1 == 2.0
    # a section's outlier alert spans the section, in file time (docs/osc.md), not 0 to its length
    f, _ = alerts_for(FileResult("/a.wav", start_s=2.0, length_s=2.0, duration=2.0, model=out), cfg)
    assert (f[0].t0, f[0].t1) == (2.0, 4.0)
    far = ModelScore("bass", "spectral", 9.0, 4.0, 100.0, "outlier")
    assert alerts_for(FileResult("/a.wav", duration=2.0, model=far), cfg)[1] == "error"
    unusual = ModelScore("bass", "spectral", 0.9, 0.95, 92.0, "unusual")
    assert alerts_for(FileResult("/a.wav", model=unusual), cfg) == ([], "ok")
    strict = load_config(overrides={"checks.min_severity": "error"})
    assert alerts_for(FileResult("/a.wav", findings=[warn]), strict) == ([], "ok")


def test_section_times_in_messages():
    assert shift_message_times("clipping at 0.503-0.689 s (77 samples)", 0.503, 0.689, 1.5) == \
        "clipping at 2.003-2.189 s (77 samples)"
    assert shift_message_times("true peak +0.2 dBTP at 0.021 s", 0.021, 0.021, 2.0) == "true peak +0.2 dBTP at 2.021 s"
    assert shift_message_times("hum 50.000 Hz", 0.0, 2.0, 1.0) == "hum 50.000 Hz"  # outside [t0, t1]: untouched


def test_score_in_process_records(library, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("nope")
    x = synth_loop(2.0, seed=3)
    x[:, 40000:40100] = 1.0
    clipped = tmp_path / "clipped.wav"
    sf.write(clipped, x.T, 48000)
    recs = score_in_process([str(clipped), str(bad)], load_config())
    kinds = [r["type"] for r in recs]
    assert kinds.count("file") == 2 and kinds.count("done") == 2
    files = {r["path"]: r for r in recs if r["type"] == "file"}
    assert files[str(clipped)]["verdict"] in ("warn", "error") and files[str(bad)]["verdict"] == "failed"
    assert any(r["type"] == "alert" and r["check"] == "clipping" for r in recs)


def test_a_decoder_crash_costs_that_file_only(tmp_path, library, monkeypatch):
    """An unexpected exception while decoding one file becomes that file's error; the batch goes on."""
    import loopwatch.analysis as analysis

    real = analysis.load

    def load(path, **kw):
        if "odd" in str(path):
            raise OverflowError("math range error")
        return real(path, **kw)

    monkeypatch.setattr(analysis, "load", load)
    odd = tmp_path / "odd.wav"
    odd.write_bytes(library[0].read_bytes())
    res = Analyzer(load_config(overrides={"models.default": ""})).analyze([Job(str(odd)), Job(str(library[1]))])
    assert res[0].error == "cannot decode: OverflowError: math range error"
    assert res[1].error is None and res[1].duration
