"""Reading the audio of unfinished files (loopwatch.unfinished, audio.load(recover=True))."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf
from conftest import synth_loop

from loopwatch import audio
from loopwatch.audio import AudioError, IncompleteFileError
from loopwatch.unfinished import read_unfinished, unfinished_finding


@pytest.fixture(scope="module")
def stereo():
    return synth_loop(1.0, channels=2, seed=5) * 0.9


def written(path, x, **kw) -> bytes:
    sf.write(str(path), np.asarray(x).T, 48000, **kw)
    return path.read_bytes()


def decoded(path) -> np.ndarray:
    return sf.read(str(path), dtype="float32", always_2d=True)[0].T


def data_offset(raw: bytes, chunk: bytes = b"data") -> int:
    return raw.index(chunk) + 8


def placeholder_wav(raw: bytes, cut: int | None = None) -> bytes:
    """``raw`` as a DAW leaves it when it never finishes: 0 in the RIFF and data sizes, maybe cut short."""
    b = bytearray(raw)
    struct.pack_into("<I", b, 4, 0)
    struct.pack_into("<I", b, data_offset(raw) - 4, 0)
    return bytes(b[:cut] if cut else b)


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_U8"), ("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "PCM_32"),
                                         ("WAV", "FLOAT"), ("WAV", "DOUBLE"), ("WAVEX", "PCM_24"),
                                         ("WAVEX", "FLOAT")])
def test_placeholder_wav_gives_every_whole_frame_libsndfile_would(tmp_path, stereo, fmt, subtype):
    full = tmp_path / "full.wav"
    raw = written(full, stereo, format=fmt, subtype=subtype)
    ref = decoded(full)
    width = {"PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}[subtype]
    frames = 20000
    cut = data_offset(raw) + frames * 2 * width + width  # and half a frame that must be dropped
    p = tmp_path / "take.wav"
    p.write_bytes(placeholder_wav(raw, cut))
    with pytest.raises(IncompleteFileError, match="placeholder"):
        audio.load(p)
    x, sr, what = read_unfinished(p)
    assert sr == 48000 and x.shape == (2, frames) and x.dtype == np.float32
    np.testing.assert_array_equal(x, ref[:, :frames])
    assert what.startswith(f"{frames / 48000:.3f} s of {8 * width}-bit")
    a = audio.load(p, recover=True)
    np.testing.assert_array_equal(a.source, ref[:, :frames])
    assert "placeholder" in a.unfinished and "read the 0.417 s" in a.unfinished


def test_a_complete_file_is_not_marked(tmp_path, stereo):
    p = tmp_path / "done.wav"
    written(p, stereo, subtype="PCM_16")
    a = audio.load(p, recover=True)
    assert a.unfinished is None and unfinished_finding(a) is None


@pytest.mark.parametrize("fmt,subtype,width", [("RF64", "PCM_24", 3), ("AIFF", "PCM_16", 2), ("AIFF", "PCM_24", 3),
                                               ("AIFF", "FLOAT", 4), ("WAV", "PCM_16", 2)])
def test_truncated_files_of_each_container(tmp_path, stereo, fmt, subtype, width):
    """The header promises more than the file holds (the writer lost its disk): the frames that are there."""
    full = tmp_path / f"full.{fmt.lower()}"
    raw = written(full, stereo, format=fmt, subtype=subtype)
    ref = decoded(full)
    p = tmp_path / f"cut.{fmt.lower()}"
    p.write_bytes(raw[: len(raw) - 7001])
    with pytest.raises(IncompleteFileError):
        audio.load(p)
    a = audio.load(p, recover=True)
    start = data_offset(raw, b"SSND") + 8 if fmt == "AIFF" else data_offset(raw)
    n = min(ref.shape[1], (len(raw) - 7001 - start) // (2 * width))
    assert 0 < n < ref.shape[1] and a.source.shape == (2, n)
    np.testing.assert_array_equal(a.source, ref[:, :n])
    assert "read the" in a.unfinished


def test_aiff_with_placeholder_sizes(tmp_path, stereo):
    full = tmp_path / "full.aiff"
    raw = bytearray(written(full, stereo, format="AIFF", subtype="PCM_16"))
    ref = decoded(full)
    struct.pack_into(">I", raw, 4, 0)
    struct.pack_into(">I", raw, raw.index(b"SSND") + 4, 0)
    p = tmp_path / "rec.aiff"
    p.write_bytes(bytes(raw))
    a = audio.load(p, recover=True)
    np.testing.assert_array_equal(a.source, ref)


def test_section_of_an_unfinished_file(tmp_path, stereo):
    full = tmp_path / "full.wav"
    raw = written(full, stereo, subtype="PCM_16")
    p = tmp_path / "take.wav"
    p.write_bytes(placeholder_wav(raw))
    a = audio.load(p, recover=True, start_s=0.25, length_s=0.5)
    np.testing.assert_array_equal(a.source, decoded(full)[:, 12000:36000])
    f = unfinished_finding(a, 0.25)
    assert (f.check, f.severity, f.t0, f.t1) == ("decode", "warn", 0.25, 0.75)
    with pytest.raises(audio.SectionError, match="after the end"):
        audio.load(p, recover=True, start_s=5.0)


def test_what_cannot_be_recovered_says_why(tmp_path, stereo):
    full = tmp_path / "adpcm.wav"
    raw = written(full, stereo, subtype="IMA_ADPCM")
    p = tmp_path / "adpcm-take.wav"
    p.write_bytes(placeholder_wav(raw))
    with pytest.raises(IncompleteFileError, match="placeholder.*compressed"):
        audio.load(p, recover=True)
    header_only = tmp_path / "just-started.wav"
    raw16 = written(tmp_path / "s16.wav", stereo, subtype="PCM_16")
    header_only.write_bytes(placeholder_wav(raw16, data_offset(raw16) + 3))
    with pytest.raises(IncompleteFileError, match="no whole audio frame"):
        audio.load(header_only, recover=True)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\0\0\0\0WAVE" + b"LIST" + struct.pack("<I", 10 ** 6) + b"x" * 50)
    with pytest.raises(AudioError, match="impossible size"):
        audio.load(junk, recover=True)
    flac = tmp_path / "x.flac"
    sf.write(str(flac), np.zeros((100, 1)), 48000)
    with pytest.raises(AudioError, match="not a WAV"):
        read_unfinished(flac)


def test_longer_than_the_maximum_is_refused(tmp_path, stereo):
    raw = written(tmp_path / "full.wav", stereo, subtype="PCM_16")
    p = tmp_path / "take.wav"
    p.write_bytes(placeholder_wav(raw))
    with pytest.raises(AudioError, match="longer than the 0.5 s maximum"):
        audio.load(p, recover=True, max_duration=0.5)
