"""Quality checks: each finds its synthesised defect at the right time, and stays quiet on clean music."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import synth_loop
from loopwatch.checks import (
    CHECKS,
    check_click,
    check_clipping,
    check_dc_offset,
    check_discontinuity,
    check_dropout,
    check_hum,
    check_loudness,
    check_noise,
    check_seam,
    check_silence,
    check_stereo,
    check_true_peak,
    run_checks,
)
from test_checks_signals import SR, drum_loop, pluck_loop, saw_bass_loop

CLEAN = {
    "synth": lambda: synth_loop(4.0),
    "bass-plucks": lambda: pluck_loop(4.0, seed=11),
    "guitar-plucks": lambda: pluck_loop(4.0, seed=12, low=110.0, high=660.0),
    "guitar-chords": lambda: pluck_loop(4.0, seed=13, low=98.0, high=660.0, chords=True, notes_per_s=2.0),
    "saw-bass": lambda: saw_bass_loop(4.0),
    "drums": lambda: drum_loop(4.0),
}


@pytest.fixture(scope="module")
def clean_loops() -> dict[str, np.ndarray]:
    return {name: make() for name, make in CLEAN.items()}


def _serious(findings):
    return [f for f in findings if f.severity != "info"]


# --- clean material --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CLEAN))
def test_clean_loops_raise_nothing(clean_loops, name):
    """No check may warn on clean loops with sharp attacks, chords, saw edges or drums."""
    # 4 s loops: 8 beats at 120 BPM, as the name says (the length and silence checks read it)
    found = _serious(run_checks(clean_loops[name], path=f"{name}_120bpm.wav"))
    assert found == [], [f.message for f in found]


def test_clean_loop_reports_its_loudness(clean_loops):
    found = run_checks(clean_loops["synth"], only="loudness")
    assert len(found) == 1 and found[0].unit == "LUFS" and found[0].severity == "info"
    assert -40 < found[0].value < -5


# --- clicks ----------------------------------------------------------------------------------------


def _add(x: np.ndarray, pos: int, pulse: np.ndarray) -> np.ndarray:
    y = x.copy()
    y[:, pos : pos + pulse.size] += pulse.astype(np.float32)
    return y


@pytest.mark.parametrize("name", ["synth", "bass-plucks", "guitar-chords", "saw-bass"])
@pytest.mark.parametrize("pos", [42_123, 101_777, 150_001])
def test_single_sample_click_at_minus_40_dbfs_is_found_within_2_ms(clean_loops, name, pos):
    y = _add(clean_loops[name], pos, np.array([-0.01]))
    found = check_click(y)
    assert len(found) == 1, [f.message for f in found]
    f = found[0]
    assert abs(f.t0 - pos / SR) <= 0.002 and f.t0 <= pos / SR + 0.002 <= f.t1 + 0.004
    assert f.check == "click" and f.unit == "dB" and "click at" in f.message


@pytest.mark.parametrize("shape", ["burst", "step", "ring"])
def test_multi_sample_clicks_are_found(clean_loops, shape):
    rng = np.random.default_rng(5)
    w = 9
    if shape == "burst":
        pulse = np.hanning(w + 2)[1:-1] * rng.choice((-1.0, 1.0), w)
    elif shape == "step":
        pulse = np.ones(w)
    else:
        k = np.arange(w)
        pulse = np.exp(-k / 3.0) * np.cos(2 * np.pi * 7000 * k / SR)
    pulse = 0.03 * pulse / np.abs(pulse).max()
    pos = 123_456
    found = check_click(_add(clean_loops["guitar-plucks"], pos, pulse))
    assert [round(f.t0, 2) for f in found] == [round(pos / SR, 2)]


def test_click_in_one_channel_names_the_channel(clean_loops):
    y = clean_loops["synth"].copy()
    y[1, 90_000] += 0.02
    (f,) = check_click(y)
    assert f.channel == 1 and "channel 2" in f.message


def test_click_in_digital_silence_is_found():
    x = pluck_loop(2.0, seed=4)
    x[:, 40_000:60_000] = 0.0
    x[:, 50_000] = 0.005
    found = check_click(x)
    assert [round(f.t0, 3) for f in found] == [round(50_000 / SR, 3)]


def test_full_scale_square_wave_is_clipping_not_clicks():
    t = np.arange(2 * SR) / SR
    sq = np.sign(np.sin(2 * np.pi * 110 * t + 0.1)).astype(np.float32)
    x = np.stack([sq, sq])
    assert check_click(x) == [] and check_discontinuity(x) == []
    clip = check_clipping(x)
    assert clip and clip[0].severity == "error"


def test_quiet_square_and_saw_synths_raise_no_clicks():
    t = np.arange(2 * SR) / SR
    for f0 in (55.0, 110.0, 220.0):
        saw = (0.3 * (2 * ((t * f0) % 1.0) - 1)).astype(np.float32)
        sq = (0.3 * np.sign(np.sin(2 * np.pi * f0 * t + 0.1))).astype(np.float32)
        assert check_click(saw) == [], f0
        assert check_click(sq) == [], f0


def test_discontinuity_splice_in_a_sustained_tone():
    t = np.arange(2 * SR) / SR
    tone = 0.4 * np.sin(2 * np.pi * 82.4 * t) + 0.1 * np.sin(2 * np.pi * 164.8 * t)
    cut = 60_145  # near a crest of the 82.4 Hz tone
    # an edit that drops half a period: the waveform carries on from the opposite crest
    spliced = np.concatenate([tone[:cut], tone[cut + 291 :]]).astype(np.float32)
    found = check_discontinuity(spliced)
    assert [round(f.t0, 3) for f in found] == [round(cut / SR, 3)]
    # one event, one finding: a jump is not also reported as a click
    assert check_click(spliced) == []


# --- dropouts, seam, clipping, true peak -----------------------------------------------------------


@pytest.mark.parametrize("ms", [1.0, 5.0, 20.0])
def test_dropout_is_found_at_its_position(clean_loops, ms):
    y = clean_loops["guitar-chords"].copy()
    pos, d = 70_001, int(ms * SR / 1000)
    y[:, pos : pos + d] = 0.0
    found = check_dropout(y)
    assert len(found) == 1
    assert found[0].t0 == pytest.approx(pos / SR, abs=1e-4)
    assert found[0].value == pytest.approx(ms, abs=0.1)
    assert found[0].severity == "error"


def test_rests_are_not_dropouts():
    x = pluck_loop(2.0, seed=8)
    # a rest: the sound decays smoothly into digital silence, then a note starts
    fade = np.linspace(1.0, 0.0, 2400) ** 3
    x[:, 30_000:32_400] *= fade
    x[:, 32_400:40_000] = 0.0
    assert check_dropout(x) == []


@pytest.mark.parametrize("cut", [48, 480, 1500])
def test_seam_cut_short_is_found_at_the_wrap(clean_loops, cut):
    x = clean_loops["guitar-plucks"]
    # cut where the end no longer meets the start by at least -30 dBFS
    n = x.shape[1]
    ends = np.arange(n - cut - 200, n - cut)
    jumps = np.abs(x[0, ends] - x[0, 0])
    end = int(ends[np.argmax(jumps)])
    y = x[:, : end + 1]
    assert np.abs(y[0, -1] - y[0, 0]) > 10 ** (-30 / 20)
    found = check_seam(y)
    assert len(found) == 1
    assert found[0].t1 == pytest.approx(y.shape[1] / SR) and "seam" in found[0].message


def test_seamless_loop_has_no_seam_finding(clean_loops):
    for name, x in clean_loops.items():
        assert check_seam(x) == [], name


def test_seam_level_drop_is_found():
    x = pluck_loop(2.0, seed=21, chords=True, low=98.0, notes_per_s=8.0)
    y = x.copy()
    y[:, :4800] *= np.linspace(0.0, 1.0, 4800) ** 2  # a fade-in: the start is quieter than the end
    found = check_seam(y)
    assert found and found[0].check == "seam"


@pytest.mark.parametrize("drive_db", [1.0, 3.0, 6.0])
def test_hard_clipping_is_found(clean_loops, drive_db):
    x = clean_loops["bass-plucks"]
    y = np.clip(x / np.abs(x).max() * 10 ** (drive_db / 20), -1.0, 1.0).astype(np.float32)
    over = np.flatnonzero(np.any(np.abs(x / np.abs(x).max() * 10 ** (drive_db / 20)) >= 1.0, axis=0))
    found = check_clipping(y)
    assert found and all(f.severity == "error" for f in found)
    first = min(f.t0 for f in found)
    assert abs(first - over[0] / SR) < 0.005


def test_clipped_then_attenuated_is_found_below_full_scale(clean_loops):
    x = clean_loops["bass-plucks"]
    lightly = (np.clip(x / np.abs(x).max() * 1.3, -1.0, 1.0) * 0.5).astype(np.float32)
    found = check_clipping(lightly)
    assert found and {f.severity for f in found} == {"warn"} and "-6.0 dBFS" in found[0].message
    # many flat samples: audible distortion whatever the level
    heavily = (np.clip(x / np.abs(x).max() * 2.0, -1.0, 1.0) * 0.5).astype(np.float32)
    assert "error" in {f.severity for f in check_clipping(heavily)}


def test_natural_low_sine_peaks_are_not_clipping():
    t = np.arange(SR) / SR
    for f0 in (30.0, 41.2, 55.0):
        x = np.round(0.999 * np.sin(2 * np.pi * f0 * t) * 32767) / 32768
        assert check_clipping(x.astype(np.float32)) == []


def test_true_peak_inter_sample_over():
    t = np.arange(SR) / SR
    x = (0.99 * np.sin(2 * np.pi * 12000 * t + np.pi / 4)).astype(np.float32)  # sample peak -3.1 dBFS
    (f,) = check_true_peak(x)
    assert f.unit == "dBTP" and f.value == pytest.approx(-0.13, abs=0.1) and f.severity == "warn"
    assert check_true_peak(x * 0.8) == []
    assert check_true_peak(x * 1.02)[0].severity == "error"


# --- noise, hum, DC --------------------------------------------------------------------------------


@pytest.mark.parametrize("colour", ["white", "pink"])
def test_noise_at_20_db_snr_is_found(clean_loops, colour):
    x = clean_loops["bass-plucks"].astype(np.float64)
    rng = np.random.default_rng(3)
    noise = rng.normal(size=x.shape)
    if colour == "pink":
        spec = np.fft.rfft(noise, axis=1)
        f = np.fft.rfftfreq(x.shape[1], 1 / SR)
        spec /= np.sqrt(np.maximum(f, 20.0))
        noise = np.fft.irfft(spec, x.shape[1], axis=1)
    noise *= np.sqrt(np.mean(x**2) / 10**2 / np.mean(noise**2))
    (f,) = check_noise((x + noise).astype(np.float32))
    assert f.unit == "dB SNR" and f.value == pytest.approx(20.0, abs=4.0)
    assert colour in f.message


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_hum_at_minus_40_dbfs_is_found(clean_loops, mains):
    x = clean_loops["guitar-chords"]
    t = np.arange(x.shape[1]) / SR
    hum = sum(a * np.sin(2 * np.pi * mains * 1.001 * k * t + k) for k, a in enumerate((1, 0.5, 0.35, 0.2), 1))
    hum = hum / np.sqrt(np.mean(hum**2)) * 10 ** (-40 / 20) / np.sqrt(2)
    (f,) = check_hum((x + hum).astype(np.float32))
    assert f"{mains:.0f} Hz hum" in f.message and f.value == pytest.approx(-40, abs=3)


@pytest.mark.parametrize("seed", [0, 5, 10])
def test_a_loop_repeated_for_30_s_is_not_hum(seed):
    """Every partial of a loop tiled 13 times is a steady line on the loop's frequency grid, phase-continuous like
    hum; the check analyses one repetition. (All 12 seeds of this bass loop drew hum warnings before.)"""
    from loopwatch.checks.hum import repetition_period

    x = pluck_loop(2.3, seed=seed, low=41.2, high=200.0)
    y = np.tile(x, 13)
    assert repetition_period(y) == pytest.approx(2.3, abs=0.0005)
    assert check_hum(y) == []


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_hum_under_a_repeated_loop_is_found(mains):
    """Hum recorded over a repeated loop (one sinusoid running through every repetition) is still found."""
    y = np.tile(pluck_loop(2.3, seed=3, low=98.0, high=660.0), 13)
    t = np.arange(y.shape[1]) / SR
    hum = sum(a * np.sin(2 * np.pi * mains * 1.001 * k * t + k) for k, a in enumerate((1, 0.5, 0.35, 0.2), 1))
    hum = hum / np.sqrt(np.mean(hum**2)) * 10 ** (-40 / 20) / np.sqrt(2)
    (f,) = check_hum((y + hum).astype(np.float32))
    assert f"{mains:.0f} Hz hum" in f.message and f.value == pytest.approx(-40, abs=3)
    assert f.t1 == pytest.approx(y.shape[1] / SR)


def test_music_that_does_not_repeat_has_no_period(clean_loops):
    from loopwatch.checks.hum import repetition_period

    rng = np.random.default_rng(0)
    assert repetition_period(rng.standard_normal((2, 30 * SR)).astype(np.float32) * 0.1) is None
    assert repetition_period(clean_loops["synth"]) is None  # notes of random pitch on a beat grid
    assert repetition_period(np.concatenate([clean_loops["synth"], clean_loops["drums"]], axis=1)) is None
    # a loop whose bars repeat once is a loop, not a file that repeats: three repetitions are needed
    twice = np.tile(pluck_loop(2.3, seed=0, low=41.2, high=200.0), 2)
    assert repetition_period(twice) is None and repetition_period(np.tile(twice, 2)) == pytest.approx(2.3, abs=5e-4)


def test_bass_notes_near_mains_are_not_hum():
    # G1 (49.0 Hz) and A#1 (58.3 Hz) held for the whole loop, with harmonics
    t = np.arange(3 * SR) / SR
    x = sum(0.2 / k * np.sin(2 * np.pi * f * k * t) for f in (49.0, 58.27) for k in (1, 2, 3))
    assert check_hum(x.astype(np.float32)) == []


def test_dc_offset(clean_loops):
    x = clean_loops["guitar-plucks"]
    (f,) = check_dc_offset(x + 0.02)
    assert f.value == pytest.approx(20 * np.log10(0.02), abs=0.5) and f.severity == "warn"
    assert check_dc_offset(x + 0.05)[0].severity == "error"
    assert check_dc_offset(x + 0.001) == []


# --- silence, stereo, loudness --------------------------------------------------------------------


def test_leading_and_trailing_silence(clean_loops):
    x = clean_loops["synth"]
    lead = np.concatenate([np.zeros((2, 2400), np.float32), x], axis=1)
    (f,) = check_silence(lead)
    assert f.t0 == 0.0 and f.t1 == pytest.approx(0.05, abs=1e-4) and "leading" in f.message
    trail = np.concatenate([x, np.zeros((2, 480), np.float32)], axis=1)
    (g,) = check_silence(trail)
    assert g.t1 == pytest.approx(trail.shape[1] / SR) and g.value == pytest.approx(10.0, abs=0.1)
    assert "trailing" in g.message and g.severity == "warn"


def test_silence_judged_against_the_tempo(clean_loops):
    x = clean_loops["synth"]  # 4.0 s: 8 beats at 120 BPM
    padded = np.concatenate([np.zeros((2, 4800), np.float32), x], axis=1)
    (f,) = check_silence(padded, bpm=120)
    assert f.severity == "error" and "padding" in f.message
    rest = padded[:, : x.shape[1]]  # a 100 ms rest at the start, still 8 beats long
    (g,) = check_silence(rest, bpm=120)
    assert g.severity == "info" and "rest" in g.message


def test_polarity_inversion_and_fake_stereo(clean_loops):
    x = clean_loops["guitar-chords"]
    inv = x.copy()
    inv[1] = -inv[1]
    (f,) = check_stereo(inv)
    assert f.severity in ("warn", "error") and "polarity" in f.message and f.value < -0.9
    (g,) = check_stereo(np.stack([x[0], x[0]]))
    assert g.severity == "info" and "identical" in g.message
    assert check_stereo(x) == []


def test_a_dead_channel_is_reported(clean_loops):
    """A mono mic recorded on one side of a stereo track, or a dead input: one channel is digital silence."""
    x = clean_loops["guitar-chords"].copy()
    x[1] = 0.0
    (f,) = check_stereo(x)
    assert f.severity == "warn" and f.channel == 1 and f.message.startswith("the right channel is digital silence")
    assert check_stereo(np.zeros_like(x)) == []  # an all-silent file is the silence check's
    quiet = x.copy()
    quiet[1] = 1e-4 * np.sign(x[0])  # a very quiet side is still a side: not dead
    assert [g.check for g in check_stereo(quiet) if "digital silence" in g.message] == []


def test_loudness_matches_pyloudnorm(clean_loops):
    import pyloudnorm

    for name in ("synth", "drums"):
        x = clean_loops[name]
        ours = check_loudness(x)[0].value
        ref = pyloudnorm.Meter(SR).integrated_loudness(x.T.astype(np.float64))
        assert ours == pytest.approx(ref, abs=0.01)


# --- every check's own defect, and config ----------------------------------------------------------


def test_every_check_is_registered_with_documented_settings():
    import importlib

    from loopwatch.checks.click import detect_impulses

    assert list(CHECKS) == ["click", "discontinuity", "dropout", "seam", "clipping", "true-peak", "noise", "hum",
                            "dc-offset", "silence", "stereo", "loudness", "length"]
    for spec in CHECKS.values():
        assert (spec.func.__doc__ or "").strip(), spec.name
        assert spec.func.check_names == (spec.name,)
        docs = (spec.func.__doc__ or "") + (importlib.import_module(spec.func.__module__).__doc__ or "")
        if spec.name in ("click", "discontinuity", "seam"):
            docs += detect_impulses.__doc__
        for p in spec.params():
            assert p in docs, (spec.name, p)


# --- files at other sample rates -------------------------------------------------------------------


@pytest.mark.parametrize("rate", [44100, 96000])
def test_checks_on_a_file_run_at_its_own_rate(tmp_path, rate):
    """Checks see a decoded file's samples at its own rate, not the 48 kHz copy made for the encoders: resampling
    smears a one-sample click, rounds off clipped runs, rings into a gap of digital zeros, and treats the file's two
    ends as silence, which puts a jump into the wrap of a seamless loop."""
    import soundfile as sf

    from loopwatch.audio import load

    clean = pluck_loop(4.0, seed=11, sr=rate)
    click, gap, clip = clean.copy(), clean.copy(), clean.copy()
    at = int(1.3 * rate)
    click[:, at] += 10 ** (-30 / 20)
    gap[:, at : at + int(0.005 * rate)] = 0.0
    clip = np.clip(clip / np.abs(clip).max() * 10 ** (6 / 20), -1.0, 1.0)
    files = {}
    for name, x in {"clean": clean, "click": click, "gap": gap, "clip": clip}.items():
        files[name] = tmp_path / f"{name}_120bpm.wav"
        sf.write(files[name], x.T, rate, subtype="PCM_24")
    audio = {name: load(p) for name, p in files.items()}
    assert audio["clean"].orig_sr == rate and audio["clean"].source.shape == clean.shape
    found = {name: _serious(run_checks(a)) for name, a in audio.items()}
    assert found["clean"] == [], [f.message for f in found["clean"]]
    assert [(f.check, round(f.t0, 3)) for f in found["click"]] == [("click", round(at / rate, 3))]
    assert [(f.check, round(f.t0, 3)) for f in found["gap"]] == [("dropout", round(at / rate, 3))]
    assert {f.check for f in found["clip"]} >= {"clipping"}
    assert "seam" not in {f.check for fs in found.values() for f in fs}


def test_a_failing_check_costs_the_file_only_that_check(clean_loops, monkeypatch):
    """A check that raises becomes one warn finding naming it; the other checks still run."""
    from loopwatch import checks

    def broken(audio, sr=None):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(checks.CHECKS, "seam", checks.CheckSpec("seam", broken, "test"))
    x = clean_loops["synth"].copy()
    x[:, 50_000] += 0.1
    found = run_checks(x, only="click,seam")
    assert sorted(f.check for f in found) == ["click", "seam"]
    bad = [f for f in found if f.check == "seam"][0]
    assert bad.message == "the seam check could not run: ZeroDivisionError: division by zero"


def test_absurd_array_magnitudes_are_refused():
    with pytest.raises(ValueError, match="samples reach 1e\\+19"):
        run_checks(np.full((2, 4800), 1e19, np.float32))


def test_a_few_milliseconds_get_only_the_checks_that_mean_something():
    """One sample of 0.2 was "DC offset error, 20 % of full scale"; 2 ms of a sine got a seam error."""
    one = run_checks(np.array([0.2], np.float32))
    assert [f.check for f in one if f.severity != "info"] == []
    note = [f for f in one if f.check == "length"][0]
    assert note.severity == "info" and "too short for the click" in note.message and "dc-offset" in note.message
    t = np.arange(96) / SR
    clipped = np.clip(2.0 * np.sin(2 * np.pi * 1000 * t), -1, 1).astype(np.float32)
    assert "clipping" in {f.check for f in run_checks(clipped) if f.severity != "info"}  # still found when short


def test_8_bit_files_quiet_sound_is_not_dropouts_but_a_real_gap_is(tmp_path):
    """In an 8-bit file the step is -42 dBFS: quiet sound rounds to runs of exact zeros. Those are not dropouts; five
    milliseconds of zeros cut into loud sound still are."""
    import soundfile as sf

    from loopwatch.audio import load
    from loopwatch.checks.dropout import quantisation_step

    x = pluck_loop(4.0, seed=11, notes_per_s=2.0)  # decaying notes: their tails fall through the 8-bit floor
    sf.write(tmp_path / "quiet.wav", x.T, SR, subtype="PCM_U8")
    a = load(tmp_path / "quiet.wav")
    assert quantisation_step(a.source) == 2.0**-7 and quantisation_step(x) is None
    assert check_dropout(a) == []
    y = np.clip(x / np.abs(x).max() * 0.9, -1, 1)
    env = np.convolve(np.abs(y[0]), np.ones(480) / 480, mode="same")  # 10 ms mean level
    at = int(np.argmax(env[SR : 2 * SR])) + SR - 120  # in the loudest stretch of the second second
    assert env[at] > 0.3
    y[:, at : at + 240] = 0.0
    sf.write(tmp_path / "gap.wav", y.T, SR, subtype="PCM_U8")
    found = check_dropout(load(tmp_path / "gap.wav"))
    assert [round(f.t0, 3) for f in found] == [round(at / SR, 3)]
