"""Quality checks on awkward input, their configuration, the tempo sources, and the streaming forms."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf

from conftest import synth_loop
from loopwatch.audio import from_array, load
from loopwatch.checks import CHECKS, CheckConfigError, check_click, check_params, resolve_names, run_all, run_checks
from loopwatch.checks.streaming import (
    ClickStream,
    ClipStream,
    DCStream,
    DropoutStream,
    NoiseFloorStream,
    StreamChecks,
    TruePeakStream,
)
from loopwatch.checks.tempo import check_length, estimate_tempo, read_acid, tempo_from_name
from loopwatch.checks.truepeak import oversample, true_peak
from test_checks_signals import SR, pluck_loop

ALL = list(CHECKS)


def _by_check(findings):
    out: dict[str, list] = {}
    for f in findings:
        out.setdefault(f.check, []).append(f)
    return out


# --- edge cases ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 48000), (2, 48000), (8, 48000)])
def test_digital_silence_is_reported_once_and_nothing_else_fires(shape):
    got = _by_check([f for f in run_checks(np.zeros(shape, np.float32)) if f.severity != "info"])
    assert list(got) == ["silence"] and got["silence"][0].message == "file is digital silence"


@pytest.mark.parametrize("n", [1, 2, 7, 100, 480])
def test_very_short_input_does_not_crash(n):
    x = (0.3 * np.sin(np.arange(n) * 0.3)).astype(np.float32)
    for name in ALL:
        CHECKS[name].func(x)  # every check accepts it
    assert run_checks(np.zeros(n, np.float32))[0].check == "silence"


def test_dc_only_is_a_dc_offset_not_clipping_or_clicks():
    got = _by_check(run_checks(np.full((2, 48000), 0.25, np.float32)))
    assert "dc-offset" in got and got["dc-offset"][0].severity == "error"
    assert not ({"clipping", "click", "discontinuity", "dropout", "seam"} & set(got)), list(got)
    # one sample is no offset of anything: under 50 ms only the sample-level checks run
    assert [f.check for f in run_checks(np.full(1, 0.5, np.float32)) if f.severity != "info"] == []


def test_full_scale_square_is_clipping_only():
    t = np.arange(2 * SR) / SR
    sq = np.sign(np.sin(2 * np.pi * 100 * t + 0.2)).astype(np.float32)
    got = _by_check([f for f in run_checks(np.stack([sq, sq])) if f.severity != "info"])
    assert "clipping" in got and got["clipping"][0].severity == "error"
    assert not ({"click", "discontinuity", "dropout"} & set(got)), list(got)


def test_mono_and_eight_channels():
    x = pluck_loop(2.0, seed=14, channels=1)
    assert [f for f in run_checks(x[0]) if f.severity != "info"] == []
    y = pluck_loop(2.0, seed=14, channels=8)
    assert [f for f in run_checks(y) if f.severity != "info"] == []
    y[5, 40_000] += 0.05
    clicks = [f for f in run_checks(y) if f.check == "click"]
    assert len(clicks) == 1 and clicks[0].channel == 5 and abs(clicks[0].t0 - 40_000 / SR) < 0.002


def test_audio_objects_and_other_rates():
    x = pluck_loop(2.0, seed=15)
    x[:, 50_000] += 0.02
    a = from_array(x, SR)
    assert [f.check for f in run_checks(a) if f.severity != "info"] == ["click"]
    # an array at 44.1 kHz: times stay in seconds of file time
    y = synth_loop(2.0, sr=44100)
    y[:, 44_100] += 0.02
    (c,) = [f for f in run_checks(y, sr=44100) if f.check == "click"]
    assert c.t0 == pytest.approx(1.0, abs=0.002)


def test_bad_input_is_a_one_line_error():
    with pytest.raises(ValueError, match="NaN"):
        run_checks(np.array([0.0, np.nan, 0.1], np.float32))
    with pytest.raises(ValueError, match="shape"):
        run_checks(np.zeros((2, 2, 2), np.float32))
    with pytest.raises(ValueError, match="float"):
        run_checks(np.zeros(10, np.int16))


# --- names, config, severity -----------------------------------------------------------------------


def test_names_aliases_and_prefixes():
    assert resolve_names(["clip", "click,tp", "dc", "lufs", "bpm", "disc", "hu"]) == [
        "clipping", "click", "true-peak", "dc-offset", "loudness", "length", "discontinuity", "hum"]
    with pytest.raises(CheckConfigError, match="ambiguous"):
        resolve_names(["c"])
    with pytest.raises(CheckConfigError, match="unknown check"):
        resolve_names(["crackle"])


def test_config_overrides_thresholds_and_is_validated():
    x = synth_loop(2.0)
    x[:, 50_000] += 0.02
    assert [f.check for f in run_checks(x, only="click")] == ["click"]
    assert run_checks(x, only="click", config={"click": {"threshold_db": 200.0}}) == []
    assert run_checks(x, only="click", config={"min_severity": "warn", "clicks": {"min_level_db": -10.0}}) == []
    with pytest.raises(CheckConfigError, match="no setting 'treshold_db'"):
        check_params({"click": {"treshold_db": 3}})
    with pytest.raises(CheckConfigError, match="unknown check"):
        check_params({"clik2": {}})


def test_min_severity_and_time_order():
    x = pluck_loop(3.0, seed=16)
    x[:, 100_000] += 0.02
    x[:, 30_000] += 0.2
    everything = run_checks(x)
    assert [f.t0 for f in everything] == sorted(f.t0 for f in everything)
    assert {f.severity for f in everything} >= {"info", "warn"}
    errors = run_checks(x, min_severity="error")
    assert [f.t0 for f in errors] == [pytest.approx(30_000 / SR, abs=0.002)]


def test_run_all_declares_its_check_names():
    assert run_all.check_names == tuple(CHECKS)
    assert all(f.check in CHECKS for f in run_all(synth_loop(1.0)))


def test_every_threshold_has_the_same_default_in_the_detector_and_the_checks():
    import inspect

    from loopwatch.checks.click import _DETECT_PARAMS, detect_impulses

    sig = inspect.signature(detect_impulses)
    for name in ("click", "discontinuity"):
        params = CHECKS[name].params()
        for k in _DETECT_PARAMS:
            assert params[k] == sig.parameters[k].default, (name, k)


# --- tempo: acid chunk, file name, estimate --------------------------------------------------------


def _wav_with_acid(path, x, tempo, beats, num=4, den=4, flags=0x06):
    sf.write(str(path), x.T, SR, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    payload = struct.pack("<IHHfIHHf", flags, 60, 0x8000, 0.0, beats, den, num, tempo)
    chunk = b"acid" + struct.pack("<I", len(payload)) + payload
    # insert after the fmt chunk (before data), fix the RIFF size
    pos = data.find(b"data")
    data[pos:pos] = chunk
    struct.pack_into("<I", data, 4, len(data) - 8)
    path.write_bytes(bytes(data))


def test_acid_chunk_beats_the_file_name(tmp_path):
    x = synth_loop(2.0)  # 2.0 s = 4 beats at 120 BPM
    p = tmp_path / "loop_100bpm.wav"
    _wav_with_acid(p, x, 120.0, 4)
    acid = read_acid(p)
    assert acid.tempo == 120.0 and acid.beats == 4 and acid.numerator == 4 and not acid.one_shot
    assert check_length(load(p)) == []
    # the soundfile reads it fine, and the name alone would be wrong
    q = tmp_path / "plain_100bpm.wav"
    sf.write(str(q), x.T, SR, subtype="PCM_16")
    assert read_acid(q) is None
    (f,) = check_length(load(q))
    assert "100 BPM (file name)" in f.message


def test_length_error_in_ms(tmp_path):
    x = synth_loop(2.0)
    y = np.concatenate([x, np.zeros((2, 1440), np.float32) + 1e-3], axis=1)  # 30 ms too long
    (f,) = check_length(y, bpm=120)
    assert f.value == pytest.approx(30.0, abs=0.1) and f.severity == "error" and "too long" in f.message
    (g,) = check_length(y[:, : 96_000 - 144], bpm=120)  # 3 ms short
    assert g.value == pytest.approx(-3.0, abs=0.1) and g.severity == "warn" and "too short" in g.message
    assert check_length(x, bpm=120) == []
    p = tmp_path / "x_120bpm.wav"
    sf.write(str(p), y.T, SR, subtype="FLOAT")
    assert [f.check for f in run_checks(load(p), only="length")] == ["length"]


@pytest.mark.parametrize("name,bpm", [("bass_0042_prog33_120bpm_Cmin_2bar.wav", 120.0), ("Loop 92 BPM.aif", 92.0),
                                      ("bpm140_kick.wav", 140.0), ("x_87.5bpm.wav", 87.5),
                                      ("BPM-128 loop.flac", 128.0), ("take 3.wav", None), ("1120bpm.wav", None),
                                      ("track120.wav", None)])
def test_tempo_from_name(name, bpm):
    assert tempo_from_name(name) == bpm


def test_tempo_estimate_of_a_steady_loop():
    x = pluck_loop(4.0, seed=3, notes_per_s=4.0)  # 8ths at 120 BPM
    bpm, conf = estimate_tempo(x)
    assert conf > 0.15
    assert min(abs(bpm - b) for b in (120.0, 60.0, 240.0)) < 3.0


def test_corrupt_acid_chunk_is_ignored(tmp_path):
    p = tmp_path / "bad.wav"
    _wav_with_acid(p, synth_loop(1.0), float("nan"), 2)
    assert read_acid(p) is None
    assert read_acid(tmp_path / "missing.wav") is None


# --- true peak -------------------------------------------------------------------------------------


def test_true_peak_fast_path_is_exact():
    """The fast path equals oversampling everything (the samples themselves count too: the reconstructed
    waveform passes through them, while the 4 filter phases sit between them)."""
    rng = np.random.default_rng(0)
    for scale in (0.05, 0.3, 0.9):
        x = rng.normal(size=20_000) * scale
        full = max(float(np.abs(oversample(x)).max()), float(np.abs(x).max()))
        assert true_peak(x)[0] == pytest.approx(full, rel=1e-12)


# --- streaming forms --------------------------------------------------------------------------------


def _feed(det, x, block):
    out = []
    for i in range(0, x.shape[1], block):
        out += det.process(x[:, i : i + block])
    if hasattr(det, "flush"):
        out += det.flush()
    return out


@pytest.mark.parametrize("block", [64, 512, 4096])
def test_streaming_clip_and_dropout_match_the_blocks(block):
    x = pluck_loop(2.0, seed=6)
    x[:, 30_000:30_010] = 1.0  # a 10-sample clip at full scale
    x[:, 60_000:60_240] = 0.0  # a 5 ms dropout
    clips = _feed(ClipStream(2), x, block)
    assert [(round(f.t0, 4), f.value) for f in clips] == [(round(30_000 / SR, 4), 10.0)] * 2
    drops = _feed(DropoutStream(2), x, block)
    assert sorted({round(f.t0, 4) for f in drops}) == [round(60_000 / SR, 4)]
    assert all(f.value == pytest.approx(5.0) for f in drops)


@pytest.mark.parametrize("block", [100, 1024])
def test_streaming_true_peak_equals_the_batch_filter(block):
    t = np.arange(SR) / SR
    x = (0.99 * np.sin(2 * np.pi * 12000 * t + np.pi / 4))[None, :]
    det = TruePeakStream(1)
    peaks = []
    found = []
    for i in range(0, x.shape[1], block):
        found += det.process(x[:, i : i + block])
        peaks.append(det.last[0])
    assert max(peaks) == pytest.approx(float(np.abs(oversample(x[0])).max()), rel=1e-12)
    assert len(found) == 1 and found[0].unit == "dBTP"


@pytest.mark.parametrize("block", [256, 2048])
def test_streaming_clicks_match_the_file_check(block):
    x = pluck_loop(3.0, seed=9)
    for pos in (30_123, 101_111):
        x[:, pos] += 0.02
    assert [round(f.t0, 3) for f in check_click(x)] == [round(30_123 / SR, 3), round(101_111 / SR, 3)]
    got = _feed(ClickStream(2), x, block)
    assert [round(f.t0, 3) for f in got] == [round(30_123 / SR, 3), round(101_111 / SR, 3)]
    clean = _feed(ClickStream(2), pluck_loop(3.0, seed=9), block)
    assert clean == []


def test_streaming_dc_and_noise_floor():
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(1, 8 * SR)) * 10 ** (-50 / 20) + 0.02).astype(np.float32)
    dc = _feed(DCStream(1, hold_s=1.0), x, 1024)
    assert len(dc) == 1 and dc[0].check == "dc-offset"
    nf = _feed(NoiseFloorStream(1, window_s=2.0), x - 0.02, 1024)
    assert len(nf) == 1 and nf[0].value == pytest.approx(-50, abs=2)
    quiet = _feed(NoiseFloorStream(1, window_s=2.0), (x - 0.02) * 0.01, 1024)
    assert quiet == []


def test_stream_checks_bundle():
    x = pluck_loop(2.0, seed=6)
    x[:, 30_000:30_010] = 1.0
    sc = StreamChecks(2, only=["clipping", "dropout"])
    got = _feed(sc, x, 512)
    assert {f.check for f in got} == {"clipping"}
    with pytest.raises(ValueError, match="no streaming form"):
        StreamChecks(2, only=["hum"])
