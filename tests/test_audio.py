"""loopwatch.audio: formats, conversion, and every kind of bad input."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest
import soundfile as sf
from conftest import synth_loop

from loopwatch import audio
from loopwatch.audio import AudioError, IncompleteFileError


def write(path, x, sr=48000, **kw):
    sf.write(str(path), np.asarray(x).T, sr, **kw)
    return path


@pytest.fixture(scope="module")
def stereo():
    return synth_loop(1.0, channels=2, seed=3)


@pytest.mark.parametrize(
    "name,fmt,subtype,tol",
    [
        ("u8.wav", "WAV", "PCM_U8", 1e-2),
        ("s16.wav", "WAV", "PCM_16", 1e-4),
        ("s24.wav", "WAV", "PCM_24", 1e-6),
        ("s32.wav", "WAV", "PCM_32", 1e-6),
        ("f32.wav", "WAV", "FLOAT", 1e-7),
        ("f64.wav", "WAV", "DOUBLE", 1e-7),
        ("x.rf64", "RF64", "PCM_24", 1e-6),
        ("x.w64", "W64", "PCM_16", 1e-4),
        ("x.aiff", "AIFF", "PCM_16", 1e-4),
        ("x.flac", "FLAC", "PCM_24", 1e-6),
    ],
)
def test_lossless_formats_roundtrip(tmp_path, stereo, name, fmt, subtype, tol):
    p = write(tmp_path / name, stereo, format=fmt, subtype=subtype)
    a = audio.load(p)
    assert a.sr == 48000 and a.orig_sr == 48000 and a.channels == 2
    assert a.data.dtype == np.float32 and a.data.shape == stereo.shape
    assert np.max(np.abs(a.data - stereo)) < tol
    assert a.stereo is not None and a.stereo.shape == (2, stereo.shape[1])


@pytest.mark.parametrize("name,fmt,subtype", [("x.ogg", "OGG", "VORBIS"), ("x.mp3", "MP3", "MPEG_LAYER_III")])
def test_lossy_formats_decode(tmp_path, stereo, name, fmt, subtype):
    p = write(tmp_path / name, stereo, format=fmt, subtype=subtype)
    a = audio.load(p)
    assert a.channels == 2
    assert abs(a.duration - 1.0) < 0.1  # codec priming/padding
    # energy is preserved to within a couple of dB
    e_in, e_out = np.mean(stereo**2), np.mean(a.data**2)
    assert abs(10 * np.log10(e_out / e_in)) < 2.0


def test_mono_is_int16_roundtripped_mixdown(tmp_path, stereo):
    a = audio.load(write(tmp_path / "f.wav", stereo, subtype="FLOAT"))
    expected = (np.clip(stereo.mean(axis=0), -1, 1) * 32767).astype(np.int16) / 32767
    assert np.array_equal(a.mono, expected.astype(np.float32))
    assert a.data.dtype == np.float32 and a.mono.dtype == np.float32
    # quantisation really happened: values sit on the int16 grid
    assert np.allclose(a.mono * 32767, np.round(a.mono * 32767), atol=1e-3)


def test_mono_file_has_no_stereo_view(tmp_path):
    a = audio.load(write(tmp_path / "m.wav", synth_loop(0.5, channels=1)))
    assert a.channels == 1 and a.stereo is None and a.mono.shape == (24000,)


def test_resamples_44100_to_48000(tmp_path):
    sr = 44100
    t = np.arange(sr) / sr
    tone = 0.5 * np.sin(2 * np.pi * 1000 * t)
    a = audio.load(write(tmp_path / "t.wav", tone[None], sr=sr, subtype="FLOAT"))
    assert a.orig_sr == 44100 and a.sr == 48000
    assert abs(a.n_samples - 48000) <= 1
    spec = np.abs(np.fft.rfft(a.mono[4800:-4800]))
    freqs = np.fft.rfftfreq(len(a.mono[4800:-4800]), 1 / 48000)
    assert abs(freqs[np.argmax(spec)] - 1000) < 2
    # the samples at the file's own rate stay available, untouched (the quality checks look at them)
    np.testing.assert_array_equal(a.source, tone[None].astype(np.float32))


def test_a_48k_file_shares_its_source_and_data(tmp_path):
    a = audio.load(write(tmp_path / "s.wav", synth_loop(0.5)))
    assert a.source is a.data and a.orig_sr == 48000
    from loopwatch.checks._common import as_array

    by_hand = audio.Audio(path="<array>", data=a.data, mono=a.mono, orig_sr=44100)
    x, rate = as_array(by_hand)
    assert x is a.data and rate == 48000  # no source: the checks use data, at its rate
    b = audio.from_array(synth_loop(0.5, sr=96000), 96000)
    assert b.orig_sr == 96000 and b.source.shape == (2, 48000) and b.data.shape == (2, 24000)


@pytest.mark.parametrize("sr", [8000, 192000])
def test_extreme_but_valid_rates(tmp_path, sr):
    x = synth_loop(0.25, sr=sr, channels=1)
    a = audio.load(write(tmp_path / f"r{sr}.wav", x, sr=sr))
    assert a.orig_sr == sr and abs(a.duration - 0.25) < 1e-3


@pytest.mark.parametrize("sr", [4000, 384000])
def test_absurd_rates_are_refused(tmp_path, sr):
    p = write(tmp_path / f"r{sr}.wav", np.zeros((1, sr // 10), np.float32), sr=sr)
    with pytest.raises(AudioError, match=r"sample rate .* outside 8000-192000 Hz") as ei:
        audio.load(p)
    assert str(p) in str(ei.value)


@pytest.mark.parametrize("channels", [1, 2, 6, 8])
def test_one_to_eight_channels(tmp_path, channels):
    x = np.stack([synth_loop(0.3, channels=1, seed=c)[0] for c in range(channels)])
    a = audio.load(write(tmp_path / f"c{channels}.wav", x))
    assert a.channels == channels and a.mono.shape == (x.shape[1],)


def test_nine_channels_are_refused(tmp_path):
    p = write(tmp_path / "c9.wav", np.zeros((9, 4800), np.float32))
    with pytest.raises(AudioError, match="9 channels"):
        audio.load(p)


def test_zero_length_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty file \(0 bytes\)"):
        audio.load(p)


def test_truncated_header(tmp_path, stereo):
    full = write(tmp_path / "full.wav", stereo).read_bytes()
    p = tmp_path / "cut.wav"
    p.write_bytes(full[:10])
    with pytest.raises(IncompleteFileError, match="header truncated"):
        audio.load(p)


def test_text_renamed_to_wav(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("these are my session notes, not audio\n" * 20)
    with pytest.raises(AudioError, match="not a readable audio file"):
        audio.load(p)


def test_file_still_being_written_placeholder_sizes(tmp_path, stereo):
    """A DAW writes 0 in the RIFF and data sizes until it closes the file."""
    raw = bytearray(write(tmp_path / "full.wav", stereo, subtype="PCM_16").read_bytes())
    struct.pack_into("<I", raw, 4, 0)
    p = tmp_path / "recording.wav"
    p.write_bytes(bytes(raw[: len(raw) // 2]))
    with pytest.raises(IncompleteFileError, match="still being written"):
        audio.load(p)


def test_file_still_being_written_header_longer_than_file(tmp_path, stereo):
    raw = write(tmp_path / "full.wav", stereo, subtype="PCM_24").read_bytes()
    p = tmp_path / "growing.wav"
    p.write_bytes(raw[: len(raw) - 5000])
    with pytest.raises(IncompleteFileError, match="truncated, or still being written"):
        audio.load(p)
    assert not audio.container_complete(p)


def test_truncated_aiff_and_rf64(tmp_path, stereo):
    for name, fmt in (("a.aiff", "AIFF"), ("r.rf64", "RF64")):
        raw = write(tmp_path / name, stereo, format=fmt, subtype="PCM_16").read_bytes()
        p = tmp_path / ("cut-" + name)
        p.write_bytes(raw[:-1000])
        with pytest.raises(IncompleteFileError):
            audio.load(p)


def test_trailing_bytes_after_riff_are_accepted(tmp_path, stereo):
    """Some tools append tag data after the declared RIFF size; that is not a half-written file."""
    p = write(tmp_path / "tagged.wav", stereo)
    with open(p, "ab") as fh:
        fh.write(b"ID3" + b"\0" * 61)
    assert audio.container_complete(p)
    assert audio.load(p).n_samples == stereo.shape[1]


def test_truncated_flac_is_an_error(tmp_path, stereo):
    raw = write(tmp_path / "f.flac", np.tile(stereo, 4), format="FLAC").read_bytes()
    p = tmp_path / "cut.flac"
    p.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(AudioError):
        audio.load(p)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(tmp_path, stereo, bad):
    x = stereo.copy()
    x[1, 24000] = bad
    p = write(tmp_path / "nan.wav", x, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"1 NaN/inf samples \(first at 0\.500 s\)"):
        audio.load(p)


def test_absurd_float_magnitudes_are_refused_and_hot_float_is_kept(tmp_path, stereo):
    """Float files may go over full scale (+26 dBFS is kept), but 1e19 is no sound: its squares overflow float32."""
    x = stereo.copy()
    x[0, 12000] = 20.0
    assert audio.load(write(tmp_path / "hot.wav", x, subtype="FLOAT")).source.max() == 20.0
    x[1, 24000] = 1e19
    with pytest.raises(AudioError, match=r"samples reach 1e\+19 \(\+380 dBFS, first at 0\.500 s\)"):
        audio.load(write(tmp_path / "huge.wav", x, subtype="FLOAT"))


def test_too_long(tmp_path):
    p = write(tmp_path / "long.wav", np.zeros((1, 48000 * 3), np.float32))
    with pytest.raises(AudioError, match="longer than the 2 s maximum"):
        audio.load(p, max_duration=2.0)
    assert audio.load(p, max_duration=None).duration == 3.0


def test_missing_and_directory(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        audio.load(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="not a regular file"):
        audio.load(tmp_path)


def test_section(tmp_path, stereo):
    p = write(tmp_path / "s.wav", stereo, subtype="FLOAT")
    a = audio.load(p, start_s=0.25, length_s=0.5)
    assert a.n_samples == 24000
    assert np.allclose(a.data, stereo[:, 12000:36000])
    with pytest.raises(AudioError, match="after the end"):
        audio.load(p, start_s=5.0, length_s=1.0)


def test_from_array_shapes_and_ints():
    x = (synth_loop(0.5, channels=2) * 32767).astype(np.int16)
    a = audio.from_array(x.T, 48000)  # (samples, channels) is accepted
    assert a.channels == 2 and a.n_samples == x.shape[1]
    with pytest.raises(AudioError, match="NaN"):
        audio.from_array(np.array([0.0, np.nan] * 100), 48000)


def test_random_bytes_named_mp3_are_not_audio(tmp_path):
    """libsndfile's MP3 decoder says the file "does not exist or is not a regular file": the reason must not."""
    p = tmp_path / "noise.mp3"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(AudioError) as ei:
        audio.load(p)
    assert ei.value.reason.startswith("not a readable audio file") and "exist" not in str(ei.value)


def test_error_message_is_one_line_naming_file(tmp_path):
    p = tmp_path / "junk.wav"
    p.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunkjunk")
    with pytest.raises(AudioError) as ei:
        audio.load(p)
    msg = str(ei.value)
    assert msg.startswith(str(p) + ": ") and "\n" not in msg


def test_paths_longer_than_libsndfile_takes_are_read(tmp_path, stereo):
    """libsndfile refuses paths over 1024 bytes ("filename too long"): deep sample-library folders reach that."""
    deep = tmp_path
    for i in range(6):
        deep = deep / (f"{i} " + "Sample Pack Volume Drums Bass Loops " * 5)
    deep.mkdir(parents=True)
    p = deep / "kick.wav"
    os.replace(write(tmp_path / "kick.wav", stereo), p)  # libsndfile cannot write there either
    assert len(os.fsencode(str(p))) > 1024
    a = audio.load(p)
    assert a.channels == 2 and a.n_samples == stereo.shape[1]
