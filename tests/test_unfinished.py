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


def test_aiff_left_open_by_a_libsndfile_writer(tmp_path, stereo):
    """While libsndfile writes an AIFF, its header says FORM 0xFFFFFFF8 and an SSND chunk of 8 bytes: a copy
    taken then (a crash) holds every frame written so far."""
    import shutil

    f = sf.SoundFile(str(tmp_path / "open.aif"), "w", 48000, 2, subtype="PCM_16", format="AIFF")
    f.write(stereo.T)
    f.flush()
    shutil.copy(tmp_path / "open.aif", tmp_path / "crash.aif")
    f.close()
    a = audio.load(tmp_path / "crash.aif", recover=True)
    np.testing.assert_array_equal(a.source, decoded(tmp_path / "open.aif"))


def test_a_tag_appended_after_placeholder_samples_is_not_audio(tmp_path, stereo):
    """A writer that never seeks back leaves the data size at 0; a tagger then appends a LIST chunk. Its bytes
    must not become samples (they would add a click at the loop's end)."""
    full = tmp_path / "full.wav"
    raw = written(full, stereo, subtype="PCM_16")
    info = b"INFOISFT" + struct.pack("<I", 14) + b"loopwatch 0.1\0"
    p = tmp_path / "tagged take.wav"
    p.write_bytes(placeholder_wav(raw) + b"LIST" + struct.pack("<I", len(info)) + info)
    a = audio.load(p, recover=True)
    np.testing.assert_array_equal(a.source, decoded(full))


@pytest.mark.parametrize("comp,bits", [(b"twos", 16), (b"in24", 24), (b"in32", 32), (b"sowt", 24)])
def test_aifc_plain_sample_encodings(tmp_path, comp, bits):
    x = (synth_loop(0.5, channels=2, seed=2) * 0.8).T  # (frames, channels)
    width = bits // 8
    scale = float(1 << (bits - 1))
    ints = np.round(x * (scale - 1)).astype(np.int64)
    if width == 3:
        u = np.ascontiguousarray(ints & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3]
        data = (u if comp == b"sowt" else u[:, ::-1]).tobytes()
    else:
        data = ints.astype(("<" if comp == b"sowt" else ">") + f"i{width}").tobytes()
    rate = bytes.fromhex("400EBB80000000000000")  # 48000.0 as an 80-bit extended float
    comm = struct.pack(">HIH", 2, 0, bits) + rate + comp + b"\0\0"
    body = b"AIFC" + b"COMM" + struct.pack(">I", len(comm)) + comm + b"SSND" + struct.pack(">III", 0, 0, 0) + data
    p = tmp_path / "take.aifc"
    p.write_bytes(b"FORM" + struct.pack(">I", 0) + body)
    a = audio.load(p, recover=True)
    np.testing.assert_array_equal(a.source, (ints / scale).astype(np.float32).T)
    assert f"{bits}-bit PCM" in a.unfinished


def test_impossible_headers_are_one_line_errors(tmp_path, stereo):
    raw = written(tmp_path / "full.aiff", stereo, format="AIFF", subtype="PCM_16")
    b = bytearray(raw)
    struct.pack_into(">I", b, 4, 0)
    at = raw.index(b"COMM") + 8 + 8
    b[at:at + 10] = struct.pack(">HQ", 0x7FFE, 1 << 63)  # a sample rate of about 10^4932 Hz
    p = tmp_path / "absurd.aif"
    p.write_bytes(bytes(b))
    with pytest.raises(IncompleteFileError, match="sample rate of 0 Hz"):
        audio.load(p, recover=True)
    wav = bytearray(placeholder_wav(written(tmp_path / "s.wav", stereo, subtype="PCM_16")))
    struct.pack_into("<I", wav, 24, 1)  # 1 Hz
    (tmp_path / "slow.wav").write_bytes(bytes(wav))
    with pytest.raises(IncompleteFileError, match="sample rate of 1 Hz"):
        audio.load(tmp_path / "slow.wav", recover=True)
    caf = bytearray(placeholder_caf(tmp_path, stereo, "PCM_16"))
    struct.pack_into(">d", caf, 20, 1e300)  # the desc chunk's sample rate
    (tmp_path / "absurd.caf").write_bytes(bytes(caf))
    with pytest.raises(IncompleteFileError, match="sample rate of 0 Hz"):
        audio.load(tmp_path / "absurd.caf", recover=True)


def test_a_section_too_short_for_one_frame_is_the_requests_fault(tmp_path, stereo):
    raw = written(tmp_path / "full.wav", stereo, subtype="PCM_16")
    p = tmp_path / "take.wav"
    p.write_bytes(placeholder_wav(raw))
    with pytest.raises(audio.SectionError, match="no whole frame"):
        audio.load(p, recover=True, length_s=1e-7)


def left_open(tmp_path, x, fmt, subtype, **kw) -> tuple[bytes, bytes]:
    """(the bytes of a file libsndfile is still writing, after all samples are in; the finished file)."""
    p = tmp_path / f"open.{fmt.lower()}"
    with sf.SoundFile(str(p), "w", 48000, x.shape[0], subtype, format=fmt, **kw) as f:
        f.write(np.asarray(x).T)
        f.flush()
        mid = p.read_bytes()
    return mid, p.read_bytes()


def placeholder_caf(tmp_path, x, subtype) -> bytes:
    return left_open(tmp_path, x, "CAF", subtype)[0]


@pytest.mark.parametrize("fmt,subtype,endian", [("W64", "PCM_16", "FILE"), ("W64", "PCM_24", "FILE"),
                                                ("W64", "FLOAT", "FILE"), ("CAF", "PCM_16", "FILE"),
                                                ("CAF", "PCM_24", "FILE"), ("CAF", "PCM_32", "LITTLE"),
                                                ("CAF", "FLOAT", "FILE"), ("CAF", "DOUBLE", "LITTLE")])
def test_wave64_and_caf_left_open_by_their_writer(tmp_path, stereo, fmt, subtype, endian):
    """libsndfile's own placeholders (W64: a zero file size and a data chunk of its header alone; CAF: a data
    chunk of its edit count alone), read from a copy taken before the writer closed the file, then cut short
    with half a frame: every whole frame, exactly as the finished file decodes."""
    mid, full = left_open(tmp_path, stereo, fmt, subtype, endian=endian)
    done = tmp_path / f"done.{fmt.lower()}"
    done.write_bytes(full)
    ref = decoded(done)
    width = {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}[subtype]
    p = tmp_path / f"take.{fmt.lower()}"
    p.write_bytes(mid)
    with pytest.raises(IncompleteFileError, match="unfinished"):
        audio.load(p)
    a = audio.load(p, recover=True)
    np.testing.assert_array_equal(a.source, ref)
    assert "read the 1.000 s" in a.unfinished
    frames = 20000
    start = len(mid) - ref.shape[1] * 2 * width
    p.write_bytes(mid[: start + frames * 2 * width + width])
    x, sr, what = read_unfinished(p)
    assert sr == 48000 and x.shape == (2, frames)
    np.testing.assert_array_equal(x, ref[:, :frames])
    assert what.startswith(f"{frames / 48000:.3f} s of {8 * width}-bit")


@pytest.mark.parametrize("fmt", ["W64", "CAF"])
def test_truncated_wave64_and_caf(tmp_path, stereo, fmt):
    """A finished file cut short (a copy that failed): its sizes promise more than it has."""
    done = tmp_path / f"done.{fmt.lower()}"
    full = written(done, stereo, format=fmt, subtype="PCM_24")
    ref = decoded(done)
    p = tmp_path / f"cut.{fmt.lower()}"
    p.write_bytes(full[: len(full) // 2])
    with pytest.raises(IncompleteFileError, match="truncated"):
        audio.load(p)
    a = audio.load(p, recover=True)
    n = a.source.shape[1]
    assert 20000 < n < ref.shape[1]
    np.testing.assert_array_equal(a.source, ref[:, :n])


def test_caf_of_unknown_length_is_complete_and_compressed_caf_is_refused(tmp_path, stereo):
    """A data size of -1 is CAF's legal "to the end of the file" (Core Audio writes it while recording): nothing
    to check, so such a file is decoded as it is and cannot prove it arrived whole. Compressed CAF (ALAC)
    cannot be recovered, and says so."""
    from loopwatch.files import is_candidate
    from loopwatch.watcher import arrived_whole

    assert is_candidate("/Music/Logic/Audio Files/Take 1.caf")  # Logic Pro can record CAF
    done = tmp_path / "done.caf"
    full = bytearray(written(done, stereo, format="CAF", subtype="PCM_16"))
    assert arrived_whole(done)
    at = full.index(b"data")
    struct.pack_into(">q", full, at + 4, -1)
    p = tmp_path / "open-ended.caf"
    p.write_bytes(bytes(full))
    assert not arrived_whole(p)
    for recover in (False, True):  # libsndfile cannot open it: loopwatch reads it, as a complete file
        a = audio.load(p, recover=recover)
        assert a.unfinished is None
        np.testing.assert_array_equal(a.source, decoded(done))
    a = audio.load(p, start_s=0.5, length_s=0.25)
    np.testing.assert_array_equal(a.source, decoded(done)[:, 24000:36000])
    alac = tmp_path / "alac.caf"
    raw = written(alac, stereo, format="CAF", subtype="ALAC_16")
    cut = tmp_path / "alac-cut.caf"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(IncompleteFileError, match="'alac' is not plain samples"):
        audio.load(cut, recover=True)
    raw = bytearray(raw)
    struct.pack_into(">q", raw, raw.index(b"data") + 4, -1)
    cut.write_bytes(bytes(raw))
    with pytest.raises(AudioError, match="'alac' is not plain samples") as e:
        audio.load(cut)
    assert "None" not in str(e.value) and not isinstance(e.value, IncompleteFileError)
