"""The corpus's own file writers: Standard MIDI Files, PCM WAV with an acid chunk, and FluidSynth rendering."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf

from loopwatch.evaluation import midi
from loopwatch.evaluation.wav import AcidInfo, WavError, acid_chunk_bytes, pcm_roundtrip, read_acid, riff_chunks, write_wav


# --- MIDI ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,encoded",
    # the examples of the SMF 1.0 specification
    [(0x00, "00"), (0x40, "40"), (0x7F, "7F"), (0x80, "81 00"), (0x2000, "C0 00"), (0x3FFF, "FF 7F"),
     (0x4000, "81 80 00"), (0x100000, "C0 80 00"), (0x1FFFFF, "FF FF 7F"), (0x200000, "81 80 80 00"),
     (0x0FFFFFFF, "FF FF FF 7F")],
)
def test_vlq_matches_the_smf_specification(value, encoded):
    assert midi.vlq(value) == bytes.fromhex(encoded)


def test_vlq_rejects_out_of_range():
    with pytest.raises(ValueError):
        midi.vlq(-1)
    with pytest.raises(ValueError):
        midi.vlq(1 << 28)


def _read_vlq(b: bytes, i: int) -> tuple[int, int]:
    v = 0
    while True:
        c = b[i]
        i += 1
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            return v, i


def _parse(data: bytes) -> tuple[int, list[tuple[int, bytes]]]:
    """Independent minimal SMF reader: (division, [(absolute tick, event bytes)])."""
    assert data[:4] == b"MThd"
    length, fmt, ntrk, division = struct.unpack(">IHHH", data[4:14])
    assert (length, fmt, ntrk) == (6, 0, 1)
    assert data[14:18] == b"MTrk"
    tlen = struct.unpack(">I", data[18:22])[0]
    trk = data[22 : 22 + tlen]
    assert len(trk) == tlen
    i, tick, out = 0, 0, []
    while i < len(trk):
        dt, i = _read_vlq(trk, i)
        tick += dt
        st = trk[i]
        if st == 0xFF:
            ln = trk[i + 2]
            ev = trk[i : i + 3 + ln]
        elif st & 0xF0 in (0xC0, 0xD0):
            ev = trk[i : i + 2]
        else:
            ev = trk[i : i + 3]
        i += len(ev)
        out.append((tick, ev))
    return division, out


def test_song_bytes_round_trip_through_an_independent_parser():
    notes = [midi.Note(0, 480, 40, 100), midi.Note(480, 240, 43, 90, channel=1), midi.Note(480, 960, 47, 80)]
    song = midi.Song(120.0, notes, {0: 33, 1: 25}, [(0, 0, 10, 50)], end_tick=4 * 960, ticks_per_beat=960)
    division, events = _parse(midi.song_bytes(song))
    assert division == 960
    assert events[0] == (0, b"\xff\x51\x03" + (500000).to_bytes(3, "big"))
    assert (0, bytes([0xC0, 33])) in events and (0, bytes([0xC1, 25])) in events
    assert (0, bytes([0xB0, 10, 50])) in events
    ons = [(t, e[1]) for t, e in events if e[0] & 0xF0 == 0x90]
    offs = [(t, e[1]) for t, e in events if e[0] & 0xF0 == 0x80]
    assert sorted(ons) == [(0, 40), (480, 43), (480, 47)]
    assert sorted(offs) == [(480, 40), (720, 43), (1440, 47)]
    # a note-off and a note-on at the same tick: the off comes first
    i_off = next(k for k, (t, e) in enumerate(events) if t == 480 and e[0] == 0x80)
    i_on = next(k for k, (t, e) in enumerate(events) if t == 480 and e[0] == 0x90)
    assert i_off < i_on
    assert events[-1] == (3840, b"\xff\x2f\x00")


def test_note_and_song_validation():
    with pytest.raises(ValueError):
        midi.Note(0, 0, 40, 100)
    with pytest.raises(ValueError):
        midi.Note(0, 10, 128, 100)
    with pytest.raises(ValueError):
        midi.Note(0, 10, 40, 0)
    with pytest.raises(ValueError):
        midi.song_bytes(midi.Song(120.0, [], denominator=3))
    assert midi.tempo_to_us(130) == 461538


# --- WAV + acid ---------------------------------------------------------------------------------------


def test_write_wav_round_trips_through_libsndfile(tmp_path):
    x = np.random.default_rng(0).uniform(-0.99, 0.99, (2, 4801))
    for bits, subtype in ((24, "PCM_24"), (16, "PCM_16")):
        p = write_wav(tmp_path / f"a{bits}.wav", x, bits=bits)
        y, sr = sf.read(p, dtype="float64", always_2d=True)
        assert sr == 48000 and sf.info(str(p)).subtype == subtype
        np.testing.assert_array_equal(y.T, pcm_roundtrip(x, bits).astype(np.float64))
        assert np.max(np.abs(y.T - x)) <= 0.5 / (1 << (bits - 1)) + 1e-12


def test_write_wav_is_byte_deterministic_and_clips_at_full_scale(tmp_path):
    x = np.array([[0.0, 1.0, -1.0, 2.0, -2.0, 0.5]])
    a = write_wav(tmp_path / "a.wav", x).read_bytes()
    b = write_wav(tmp_path / "b.wav", x).read_bytes()
    assert a == b
    y, _ = sf.read(tmp_path / "a.wav", dtype="int32")
    np.testing.assert_array_equal(y >> 8, [0, 8388607, -8388608, 8388607, -8388608, 4194304])


def test_acid_chunk_is_read_by_libsndfile_and_by_our_reader(tmp_path):
    x = np.zeros((2, 96000))
    info = AcidInfo(tempo=123.0, beats=8, root_note=62)
    p = write_wav(tmp_path / "loop.wav", x, acid=info)
    chunks = [c[0] for c in riff_chunks(p)]
    assert chunks == [b"fmt ", b"acid", b"data"]
    got = read_acid(p)
    assert (got.tempo, got.beats, got.root_note, got.numerator, got.denominator, got.one_shot) == (123.0, 8, 62, 4, 4,
                                                                                                       False)
    # libsndfile parses the chunk into SF_LOOP_INFO (SFC_GET_LOOP_INFO = 0x10E0): an independent reader
    with sf.SoundFile(str(p)) as f:
        buf = sf._ffi.new("char[44]")
        assert sf._snd.sf_command(f._file, 0x10E0, buf, 44) == 1
        num, den, mode, beats, bpm, root = struct.unpack("<hhiifi", bytes(sf._ffi.buffer(buf, 20)))
    assert (num, den, beats, bpm, root) == (4, 4, 8, 123.0, 62)
    assert mode == 801  # SF_LOOP_FORWARD: a loop, not a one-shot
    assert len(acid_chunk_bytes(info)) == 8 + 24
    assert read_acid(write_wav(tmp_path / "plain.wav", x)) is None


def test_loopwatch_audio_accepts_the_files(tmp_path):
    from loopwatch.audio import check_container, load

    x = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 1001))
    p = write_wav(tmp_path / "odd.wav", x, acid=AcidInfo(100.0, 4))
    check_container(p)
    a = load(p)
    assert a.data.shape == (2, 1001)


def test_write_wav_rejects_bad_input(tmp_path):
    with pytest.raises(WavError):
        write_wav(tmp_path / "x.wav", np.zeros((2, 0)))
    with pytest.raises(WavError):
        write_wav(tmp_path / "x.wav", np.full((1, 4), np.nan))
    with pytest.raises(ValueError):
        write_wav(tmp_path / "x.wav", np.zeros((1, 4)), bits=32)
    (tmp_path / "n.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(WavError):
        read_acid(tmp_path / "n.wav")


# --- FluidSynth ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def renderer():
    from loopwatch.evaluation.corpus import CorpusError, Tools

    try:
        return Tools.find(need_espeak=False)
    except CorpusError as exc:  # pragma: no cover - the test machine has them (scripts/setup-system)
        pytest.skip(str(exc))


def _test_song() -> midi.Song:
    notes = [midi.Note(i * 480 + (i % 3) * 17, 400, 36 + 5 * i, 90 + i, 0) for i in range(6)]
    notes += [midi.Note(960, 960, 64, 80, 1), midi.Note(1920, 480, 67, 70, 1)]
    return midi.Song(97.0, notes, {0: 33, 1: 80}, [(0, 0, 10, 40), (0, 1, 10, 90)], end_tick=8 * 480,
                     ticks_per_beat=960)


def test_fluidsynth_library_render_is_repeatable_and_equals_the_program(renderer, tmp_path):
    from loopwatch.evaluation.fluid import FluidRenderer

    mid = midi.write_midi(tmp_path / "t.mid", _test_song())
    lib = FluidRenderer(renderer.soundfont, renderer.fluidsynth, mode="library")
    cli = FluidRenderer(renderer.soundfont, renderer.fluidsynth, mode="cli")
    a = lib.render(mid)
    # something else in between must not change the next render (a fresh synth per file)
    other = midi.write_midi(tmp_path / "o.mid", midi.Song(150.0, [midi.Note(0, 2000, 50, 120)], {0: 81}))
    lib.render(other)
    b = lib.render(mid)
    c = cli.render(mid)
    d = cli.render(mid)
    assert a.dtype == np.float32 and a.shape[0] == 2 and np.abs(a).max() > 0.01
    assert a.tobytes() == b.tobytes()
    assert c.tobytes() == d.tobytes()
    n = min(a.shape[1], c.shape[1])
    assert np.abs(a[:, n:]).max(initial=0) == 0 and np.abs(c[:, n:]).max(initial=0) == 0
    assert a[:, :n].tobytes() == c[:, :n].tobytes()


def test_fluidsynth_latency_is_one_block(renderer, tmp_path):
    from loopwatch.evaluation.fluid import LATENCY

    for tick, sample in ((0, 0), (1920, 48000)):  # beat 3 at 120 BPM is sample 48000, on a block boundary
        song = midi.Song(120.0, [midi.Note(tick, 960, 45, 110)], {0: 34}, end_tick=4 * 960)
        x = renderer.renderer.render(midi.write_midi(tmp_path / f"l{tick}.mid", song))
        nz = np.flatnonzero(np.abs(x).max(axis=0) > 0)
        assert nz[0] == sample + LATENCY + 1  # the attack's first sample is exactly 0
