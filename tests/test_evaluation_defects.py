"""Defect injection: every kind at every grade lands where its spans say, at the strength it says."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from loopwatch.evaluation import defects as D
from loopwatch.evaluation.levels import db, undb

SR = 48000


def loop(seconds: float = 2.0, seed: int = 0, channels: int = 2) -> np.ndarray:
    """A seamless stereo test loop: plucked bass-ish notes on a beat grid, continuous across the wrap."""
    return _loop(seconds, seed, channels).copy()


@functools.lru_cache(maxsize=None)
def _loop(seconds: float, seed: int, channels: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    out = np.zeros(n)
    for start in np.arange(0, seconds, 0.25):
        f0 = 55.0 * 2 ** (rng.integers(0, 24) / 12)
        tt = (t - start) % seconds  # wrapped: the last note rings into the start
        env = np.exp(-tt * 4.0) * (1 - np.exp(-tt * 300.0))
        out += 0.2 * env * sum(np.sin(2 * np.pi * f0 * h * tt) / h for h in range(1, 5))
    x = np.stack([out * g for g in (1.0, 0.8, 0.9, 0.7)[:channels]])
    return x / np.max(np.abs(x)) * undb(-6.0)


ALL_GRADES = [(k, g) for k, d in D.DEFECTS.items() for g in d.grades]


def test_catalogue_names_the_checks_of_issue_5():
    assert D.EXPECTED_CHECK == {
        "click": "click", "click-multi": "click", "dropout": "dropout", "clipping": "clipping",
        "white-noise": "noise", "pink-noise": "noise", "hum": "hum", "dc-offset": "dc-offset", "seam": "seam",
        "polarity": "stereo", "leading-silence": "silence", "trailing-silence": "silence",
    }
    for d in D.DEFECTS.values():
        assert d.default in d.grades
    assert D.DEFECTS["click"].grades[0] == -40.0  # graded from -40 dBFS upward
    assert 20.0 in D.DEFECTS["white-noise"].grades and 20.0 in D.DEFECTS["pink-noise"].grades
    assert -40.0 in D.DEFECTS["hum"].grades


@pytest.mark.parametrize("kind,strength", ALL_GRADES)
def test_changes_lie_inside_the_spans(kind, strength):
    x = loop(seed=1)
    inj = D.inject(kind, x, strength, np.random.default_rng(7))
    y = inj.audio
    assert y.ndim == 2 and y.shape[0] == 2 and np.all(np.isfinite(y))
    assert inj.spans and all(0 <= a < b <= y.shape[1] for a, b in inj.spans)
    inside = np.zeros(y.shape[1], bool)
    for a, b in inj.spans:
        inside[a:b] = True
    if kind in ("click", "click-multi", "dropout"):
        changed = np.any(y != x, axis=0)
        assert changed.any()
        assert not np.any(changed & ~inside)  # nothing changed outside the spans
        (a, b), = inj.spans
        assert changed[a] and changed[b - 1] or kind == "click-multi"  # click bursts may touch zero mid-way
    elif kind == "clipping":
        g = undb(strength) / np.max(np.abs(x))
        over = np.any(np.abs(x * g) >= 1.0, axis=0)
        assert over.any() and not np.any(over & ~inside)
        for a, b in inj.spans:
            assert over[a] and over[b - 1]
        assert np.max(np.abs(y)) == 1.0
        np.testing.assert_allclose(y[:, ~over], (x * g)[:, ~over])
    elif kind == "leading-silence":
        (a, b), = inj.spans
        assert a == 0 and b == round(strength * SR / 1000)
        assert not y[:, :b].any()
        np.testing.assert_array_equal(y[:, b:], x)
    elif kind == "trailing-silence":
        (a, b), = inj.spans
        assert a == x.shape[1] and b - a == round(strength * SR / 1000)
        np.testing.assert_array_equal(y[:, :a], x)
        assert not y[:, a:].any()
    elif kind == "seam":
        (a, b), = inj.spans
        assert b == y.shape[1] and a == b - 1
        np.testing.assert_array_equal(y, x[:, : y.shape[1]])
        cut = x.shape[1] - y.shape[1]
        assert 48 <= cut <= int(0.04 * SR)
        jump = np.max(np.abs(y[:, -1] - y[:, 0]))
        assert undb(strength) <= jump < 2 * undb(strength)
        assert db(jump) == pytest.approx(inj.params["jump_dbfs"], abs=1e-3)
    else:  # whole-file defects
        assert inj.spans == [(0, x.shape[1])]


@pytest.mark.parametrize("strength", D.DEFECTS["click"].grades)
def test_click_amplitude_and_sign(strength):
    x = loop(seed=2)
    inj = D.inject("click", x, strength, np.random.default_rng(3))
    (p, _), = inj.spans
    d = inj.audio[:, p] - x[:, p]
    np.testing.assert_allclose(np.abs(d), undb(strength))
    assert d[0] == pytest.approx(d[1], abs=1e-15)  # same impulse in both channels
    # inside sound: the 10 ms frame around it is within 30 dB of the loudest frame
    fr = D.frame_rms(x, 480)
    assert fr[p // 480] >= fr.max() * undb(-30)


@pytest.mark.parametrize("strength", D.DEFECTS["click-multi"].grades)
def test_multi_sample_click_peak(strength):
    x = loop(seed=3)
    for seed in range(6):
        inj = D.inject("click-multi", x, strength, np.random.default_rng(seed))
        (a, b), = inj.spans
        assert 2 <= b - a <= 12
        assert np.max(np.abs(inj.audio[:, a:b] - x[:, a:b])) == pytest.approx(undb(strength))


@pytest.mark.parametrize("kind", ["white-noise", "pink-noise"])
@pytest.mark.parametrize("snr", [40.0, 20.0, 10.0])
def test_noise_snr_is_measured_back(kind, snr):
    x = loop(seed=4)
    inj = D.inject(kind, x, snr, np.random.default_rng(1))
    noise = inj.audio - x
    assert "rescaled_db" not in inj.params
    measured = 10 * np.log10(np.mean(x**2) / np.mean(noise**2))
    assert measured == pytest.approx(snr, abs=1e-6)
    spec = np.abs(np.fft.rfft(noise[0])) ** 2
    f = np.fft.rfftfreq(noise.shape[1], 1 / SR)
    lo = spec[(f > 100) & (f < 200)].mean()
    hi = spec[(f > 10000) & (f < 20000)].mean()
    if kind == "white-noise":
        assert 0.7 < lo / hi < 1.4
    else:  # pink: 1/f, so about 100x more power per bin at 150 Hz than at 15 kHz
        assert 50 < lo / hi < 200


@pytest.mark.parametrize("level", D.DEFECTS["hum"].grades)
def test_hum_level_and_frequency(level):
    x = loop(seed=5)
    inj = D.inject("hum", x, level, np.random.default_rng(2))
    h = inj.audio - x
    np.testing.assert_allclose(h[0], h[1], atol=1e-12)
    # AES17 level: RMS + 3 dB
    assert 20 * np.log10(np.sqrt(np.mean(h[0] ** 2)) * np.sqrt(2)) == pytest.approx(level, abs=1e-6)
    spec = np.abs(np.fft.rfft(h[0] * np.hanning(h.shape[1])))
    f = np.fft.rfftfreq(h.shape[1], 1 / SR)
    assert abs(f[np.argmax(spec)] - inj.params["mains_hz"]) < 1.0
    assert inj.params["mains_hz"] in (50.0, 60.0)


def test_hum_draws_both_mains_frequencies():
    x = loop()
    got = {D.inject("hum", x, -40.0, np.random.default_rng(s)).params["mains_hz"] for s in range(12)}
    assert got == {50.0, 60.0}


@pytest.mark.parametrize("level", D.DEFECTS["dc-offset"].grades)
def test_dc_offset_level(level):
    x = loop(seed=6)
    inj = D.inject("dc-offset", x, level, np.random.default_rng(0))
    d = np.mean(inj.audio - x, axis=1)
    np.testing.assert_allclose(np.abs(d), undb(level))


def test_polarity_inverts_the_second_channel_only():
    x = loop(seed=7)
    inj = D.inject("polarity", x, None, np.random.default_rng(0))
    np.testing.assert_array_equal(inj.audio[0], x[0])
    np.testing.assert_array_equal(inj.audio[1], -x[1])


def test_dropout_zeroes_sound():
    x = loop(seed=8)
    for strength in D.DEFECTS["dropout"].grades:
        inj = D.inject("dropout", x, strength, np.random.default_rng(4))
        (a, b), = inj.spans
        assert b - a == round(strength * SR / 1000)
        assert not inj.audio[:, a:b].any()
        assert np.sqrt(np.mean(x[:, a:b] ** 2)) >= 0.25 * np.sqrt(np.mean(x**2))


def test_injection_refusals():
    x = loop()
    with pytest.raises(D.InjectionError):
        D.inject("polarity", x[:1], None)
    wide = np.stack([x[0], np.random.default_rng(0).normal(size=x.shape[1]) * 0.1])
    with pytest.raises(D.InjectionError):
        D.inject("polarity", wide, None)
    with pytest.raises(D.InjectionError):
        D.inject("clipping", np.zeros((2, 1000)), 3.0)
    with pytest.raises(D.InjectionError):
        D.inject("white-noise", np.zeros((2, 1000)), 20.0)
    with pytest.raises(D.InjectionError):
        D.inject("click", np.zeros((2, 48000)), -30.0)  # silence: no place inside sound
    quiet_end = x.copy()
    quiet_end[:, -3000:] = 0.0
    quiet_end[:, :10] = 0.0
    with pytest.raises(D.InjectionError):  # nothing at the end to jump from
        D.inject("seam", quiet_end, -20.0, np.random.default_rng(0))
    with pytest.raises(KeyError):
        D.inject("wow", x)


def test_injection_is_deterministic():
    x = loop(seed=9)
    for kind in D.DEFECTS:
        a = D.inject(kind, x, None, np.random.default_rng(11))
        b = D.inject(kind, x, None, np.random.default_rng(11))
        assert a.spans == b.spans
        np.testing.assert_array_equal(a.audio, b.audio)


def test_active_positions_keep_away_from_edges_and_silence():
    x = loop()
    x[:, 20000:40000] = 0.0
    pos = D.active_positions(x, 10)
    assert pos.min() >= int(0.02 * SR) and pos.max() + 10 <= x.shape[1] - int(0.02 * SR)
    # no span in the silent gap, nor in the 10 ms frames next to it
    assert not np.any((pos + 10 > 20000 - 320) & (pos < 40000 + 320))
    assert np.any(pos < 19000) and np.any(pos > 41000)


def test_plan_grades():
    plan = D.plan_grades(3, 1)
    assert len(plan) == sum(len(d.grades) for d in D.DEFECTS.values())
    assert ("click", -30.0, 3) in plan and ("click", -40.0, 1) in plan
    assert D.plan_grades(2, 0, ["hum"]) == [("hum", -40.0, 2)]
    assert D.library_code("bass") == 1 and D.library_code("guitar") == 2
    assert D.library_code("my-loops") == D.library_code("my-loops") != D.library_code("other")
