"""The audio an unfinished WAV, RF64, Wave64, AIFF or CAF file already holds.

A DAW writes a recording's header first, with placeholder sizes (0 or
0xFFFFFFFF; libsndfile writes an 8-byte sample chunk), streams the samples
after it, and fills the sizes in when it closes the file. When it crashes, is
killed, or loses its disk first, the samples are there but the header never
says how many: libsndfile then reads no frames at all, or stops where the
placeholder says. :func:`probe_unfinished` walks the chunks itself and takes
the sample format from the ``fmt `` (or ``COMM``) chunk; the sample data runs
from there to the end of the file, or to the end the header declares if that
comes first, or, when the size was a placeholder, to a metadata chunk a tagger
appended after the samples (``LIST``, ``id3``, ``bext``...: a chunk chain that
ends exactly at the end of the file). :func:`read_frames` then reads any range
of its whole frames, so a section costs only its own memory.

Only uncompressed sample data can be recovered this way: integer PCM of 1 to
32 bits in 1 to 4 bytes and IEEE float of 32 or 64 bits, in WAV (``RIFF``,
including WAVE_FORMAT_EXTENSIBLE), RF64/BW64, Sony Wave64, AIFF/AIFC (``NONE``,
``twos``, ``sowt``, ``in24``, ``in32``, ``raw ``, ``fl32``, ``fl64``) and
Apple CAF (``lpcm``, either byte order). Wave64 and CAF samples run to the end
of the file when the size is a placeholder (a crashed writer appends no tag).
Everything else gives an :class:`~loopwatch.audio.AudioError` naming the reason.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass

import numpy as np

from loopwatch.audio import (AIFF_CHUNKS, CAF_CHUNKS, MAX_CHANNELS, MAX_SR, MIN_SR, RIFF_CHUNKS, W64_CHUNKS, Audio,
                             AudioError, ChunkLayout, walk_chunks)
from loopwatch.findings import Finding

#: Most chunks walked before the sample data.
_MAX_CHUNKS = 1024
_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
_W64_RIFF = bytes.fromhex("726966662e91cf11a5d628db04c10000")
_W64_TAIL = bytes.fromhex("f3acd3118cd100c04f8edb8a")
_W64_WAVE, _W64_FMT, _W64_DATA = b"wave" + _W64_TAIL, b"fmt " + _W64_TAIL, b"data" + _W64_TAIL
#: Chunks that writers and taggers put after the sample data.
_TRAILERS = {
    "<": (b"LIST", b"id3 ", b"ID3 ", b"bext", b"iXML", b"_PMX", b"cue ", b"smpl", b"inst", b"acid", b"JUNK",
          b"junk", b"PAD ", b"fact", b"axml", b"umid", b"cart", b"DISP", b"PEAK", b"labl", b"note"),
    ">": (b"COMT", b"MARK", b"INST", b"APPL", b"ID3 ", b"NAME", b"AUTH", b"(c) ", b"ANNO", b"CHAN", b"MIDI",
          b"AESD", b"FVER"),
}
#: How far before the end of the file a trailing chunk is looked for.
_TRAILER_WINDOW = 1 << 20
_NOT = "its audio cannot be recovered"


@dataclass(frozen=True)
class Layout:
    """Where an unfinished file's samples are and how they are stored.

    ``start`` is the byte offset of the first frame, ``frames`` the number of
    whole frames there; ``kind`` is ``"int"``, ``"uint"`` (offset binary) or
    ``"float"``; ``bits`` the significant bits of an integer sample (at most
    ``8 * width``).
    """

    channels: int
    sr: int
    width: int
    kind: str
    big_endian: bool
    bits: int
    start: int
    frames: int

    @property
    def block(self) -> int:
        return self.channels * self.width

    @property
    def duration(self) -> float:
        return self.frames / self.sr

    def describe(self, frames: int | None = None) -> str:
        """``"12.345 s of 24-bit PCM"`` (for ``frames``, by default all of them)."""
        n = self.frames if frames is None else frames
        if self.kind == "float":
            name = f"{8 * self.width}-bit float"
        elif self.bits < 8 * self.width:
            name = f"{self.bits}-bit PCM in {8 * self.width}-bit words"
        else:
            name = f"{self.bits}-bit PCM"
        return f"{n / self.sr:.3f} s of {name}"


def read_unfinished(path: str | os.PathLike, max_duration: float | None = None) -> tuple[np.ndarray, int, str]:
    """Decode every whole frame of an unfinished or truncated WAV/RF64/W64/AIFF/CAF file.

    Parameters
    ----------
    path : path-like
        The file.
    max_duration : float or None
        Refuse (AudioError) when the recoverable audio is longer than this many seconds.

    Returns
    -------
    x : np.ndarray
        float32, shape ``(channels, frames)``, integer formats scaled to [-1, 1) as libsndfile does.
    sr : int
        The sample rate the header gives.
    what : str
        What was read, for messages: "12.345 s of 24-bit PCM".

    Raises
    ------
    AudioError
        When the file is no WAV/RF64/W64/AIFF/CAF, its format chunk is missing, unreadable or impossible, the
        sample data is compressed, or not one whole frame follows the header.
    """
    p = str(path)
    lay = probe_unfinished(p)
    if max_duration is not None and lay.duration > max_duration:
        raise AudioError(p, f"{lay.duration:.1f} s is longer than the {max_duration:g} s maximum")
    return read_frames(p, lay), lay.sr, lay.describe()


def probe_unfinished(path: str | os.PathLike) -> Layout:
    """The :class:`Layout` of an unfinished or truncated WAV/RF64/W64/AIFF/CAF file (reads headers only).

    Raises :class:`~loopwatch.audio.AudioError` as :func:`read_unfinished` does.
    """
    p = str(path)
    try:
        with open(p, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(16)
            if len(head) < 12:
                raise AudioError(p, f"header truncated ({len(head)} bytes): no audio to recover")
            if head[8:12] == b"WAVE" and head[:4] in (b"RIFF", b"RF64", b"BW64"):
                fmt, start, end, open_ended = _walk_riff(p, fh, size)
                order = "<"
            elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
                fmt, start, end, open_ended = _walk_aiff(p, fh, size, head[8:12] == b"AIFC")
                order = ">"
            elif head[:16] == _W64_RIFF:
                fmt, start, end, open_ended = _walk_w64(p, fh, size)
            elif head[:4] == b"caff":
                fmt, start, end, open_ended = _walk_caf(p, fh, size, head)
            else:
                raise AudioError(p, f"not a WAV, RF64, Wave64, AIFF or CAF file: {_NOT}")
            end = min(end, size)
            if open_ended:
                end = _trailer_start(fh, start, end, order)
    except OSError as exc:
        raise AudioError(p, f"cannot read: {exc.strerror or exc}") from None
    channels, sr, width, kind, big_endian, bits = fmt
    frames = (end - start) // (channels * width)
    if frames <= 0:
        raise AudioError(p, "no whole audio frame after the header: nothing to recover")
    return Layout(channels, sr, width, kind, big_endian, bits, start, frames)


def read_frames(path: str | os.PathLike, layout: Layout, first: int = 0, count: int | None = None) -> np.ndarray:
    """Frames ``first`` to ``first + count`` (by default to the end) of a probed file, float32 ``(channels, n)``."""
    p = str(path)
    first = max(0, min(int(first), layout.frames))
    n = layout.frames - first if count is None else max(0, min(int(count), layout.frames - first))
    try:
        with open(p, "rb") as fh:
            fh.seek(layout.start + first * layout.block)
            raw = fh.read(n * layout.block)
    except OSError as exc:
        raise AudioError(p, f"cannot read: {exc.strerror or exc}") from None
    n = len(raw) // layout.block  # the file may have shrunk since it was probed
    x = _samples(raw[: n * layout.block], layout).reshape(n, layout.channels).T
    return np.ascontiguousarray(x, dtype=np.float32)


def unfinished_finding(audio: Audio, offset: float = 0.0) -> Finding | None:
    """The ``decode`` warning for audio read from an unfinished file (``audio.unfinished``), or None.

    It spans the audio read, starting at ``offset`` seconds of file time (a section's start).
    """
    if not audio.unfinished:
        return None
    d = round(float(audio.duration), 6)
    return Finding("decode", "warn", round(float(offset), 6), round(float(offset) + d, 6), d, "s", audio.unfinished)


# --- containers ---------------------------------------------------------------------------------------------


def _chunks(p: str, fh, size: int, layout: ChunkLayout, data_id: bytes):
    """:func:`~loopwatch.audio.walk_chunks` up to and including the chunk named ``data_id`` (whose size may be
    a placeholder); any other chunk that cannot fit the file is an error, and so is finding no ``data_id``."""
    for cid, clen, body, end in walk_chunks(fh, layout, _MAX_CHUNKS):
        yield cid, clen, body, end
        if cid == data_id:
            return
        if end < body or end > size or (layout.size_fmt.endswith("I") and clen == 0xFFFFFFFF):
            raise AudioError(p, f"chunk {cid[:4]!r} has an impossible size ({clen}): {_NOT}")
    raise AudioError(p, "no sample data chunk found: nothing to recover")


def _walk_riff(p: str, fh, size: int):
    """(format, data start, data end, open-ended) of a RIFF/RF64 WAVE file; the end may lie past the file."""
    fmt = None
    data64 = None
    for cid, clen, start, end in _chunks(p, fh, size, RIFF_CHUNKS, b"data"):
        if cid == b"ds64":
            body = fh.read(min(clen, 28))
            if len(body) >= 16:
                data64 = struct.unpack_from("<Q", body, 8)[0]
        elif cid == b"fmt ":
            fmt = _wav_format(p, fh.read(min(clen, 40)))
        elif cid == b"data":
            if fmt is None:
                raise AudioError(p, f"no format chunk before the sample data: {_NOT}")
            if clen == 0xFFFFFFFF and data64:
                return fmt, start, start + data64, False
            if clen in (0, 0xFFFFFFFF):  # the placeholder: up to the end of the file, or of the samples
                return fmt, start, size, True
            return fmt, start, end, False
    raise AssertionError("unreachable")  # _chunks raises when no data chunk comes


def _walk_w64(p: str, fh, size: int):
    """(format, data start, data end, open-ended) of a Sony Wave64 file: 16-byte GUIDs name the chunks, whose
    64-bit sizes count their 24-byte headers, and chunks start on 8-byte boundaries."""
    fh.seek(24)
    if fh.read(16) != _W64_WAVE:
        raise AudioError(p, f"Wave64 file without its 'wave' form: {_NOT}")
    fmt = None
    for guid, clen, start, end in _chunks(p, fh, size, W64_CHUNKS, _W64_DATA):
        if guid == _W64_FMT:
            fmt = _wav_format(p, fh.read(min(max(end - start, 0), 40)))
        elif guid == _W64_DATA:
            if fmt is None:
                raise AudioError(p, f"no format chunk before the sample data: {_NOT}")
            if clen <= 24:  # libsndfile's placeholder counts the header alone: up to the end of the file
                return fmt, start, size, False
            return fmt, start, end, False
    raise AssertionError("unreachable")  # _chunks raises when no data chunk comes


def _walk_caf(p: str, fh, size: int, head: bytes):
    """(format, data start, data end, open-ended) of an Apple Core Audio Format file: big-endian chunks with
    signed 64-bit sizes after an 8-byte file header; the data chunk opens with a 4-byte edit count, and a
    size of -1 means "to the end of the file"."""
    if len(head) < 8 or struct.unpack_from(">H", head, 4)[0] != 1:
        raise AudioError(p, f"CAF file of an unknown version: {_NOT}")
    fmt = None
    for cid, clen, body, end in _chunks(p, fh, size, CAF_CHUNKS, b"data"):
        if cid == b"desc":
            fmt = _caf_format(p, fh.read(32))
        elif cid == b"data":
            if fmt is None:
                raise AudioError(p, f"no desc chunk before the sample data: {_NOT}")
            if clen <= 4:  # -1 (to the end of the file), or libsndfile's placeholder (the edit count alone)
                return fmt, body + 4, size, False
            return fmt, body + 4, end, False
    raise AssertionError("unreachable")  # _chunks raises when no data chunk comes


def _caf_format(p: str, body: bytes):
    if len(body) < 32:
        raise AudioError(p, f"desc chunk truncated: {_NOT}")
    rate = struct.unpack_from(">d", body)[0]
    fid = body[8:12]
    flags, per_packet, frames_per_packet, channels, bits = struct.unpack_from(">IIIII", body, 12)
    if fid != b"lpcm" or frames_per_packet != 1:
        raise AudioError(p, f"CAF format {fid.decode('latin-1')!r} is not plain samples: {_NOT}")
    sr = int(round(rate)) if math.isfinite(rate) and 0 < rate < 1e9 else 0  # 0: no usable number
    _check_rate_channels(p, channels, sr)
    width = per_packet // channels
    if per_packet != width * channels:
        raise AudioError(p, f"desc chunk gives {per_packet} bytes for {channels} channels: {_NOT}")
    big = not flags & 2
    if flags & 1:
        if width in (4, 8) and bits == 8 * width:
            return channels, sr, width, "float", big, bits
    elif width in (1, 2, 3, 4) and 0 < bits <= 8 * width:
        return channels, sr, width, "int", big, bits
    raise AudioError(p, f"CAF samples of {bits} bits in {width} bytes are unusual: {_NOT}")


def _wav_format(p: str, body: bytes):
    if len(body) < 16:
        raise AudioError(p, f"format chunk truncated: {_NOT}")
    tag, channels, sr, _rate, block, bits = struct.unpack_from("<HHIIHH", body)
    _check_rate_channels(p, channels, sr)
    width = block // channels
    if tag == _EXTENSIBLE and len(body) >= 26:
        valid = struct.unpack_from("<H", body, 18)[0]
        bits = valid if 0 < valid <= bits else bits
        tag = struct.unpack_from("<H", body, 24)[0]  # the first two bytes of the sub-format GUID
    if tag == _PCM and width in (1, 2, 3, 4) and 0 < bits <= 8 * width:
        return channels, sr, width, "uint" if width == 1 else "int", False, bits
    if tag == _FLOAT and width in (4, 8):
        return channels, sr, width, "float", False, 8 * width
    raise AudioError(p, f"sample format {tag:#x} with {bits} bits in {width}-byte samples is compressed or "
                        f"unusual: {_NOT}")


def _walk_aiff(p: str, fh, size: int, aifc: bool):
    """(format, sample data start, end, open-ended) of an AIFF/AIFC file; the end may lie past the file."""
    fmt = None
    for cid, clen, body, end in _chunks(p, fh, size, AIFF_CHUNKS, b"SSND"):
        if cid == b"COMM":
            fmt = _aiff_format(p, fh.read(min(clen, 26)), aifc)
        elif cid == b"SSND":
            if fmt is None:
                raise AudioError(p, f"no COMM chunk before the sample data: {_NOT}")
            offset = struct.unpack(">I", fh.read(4).ljust(4, b"\0"))[0]
            start = body + 8 + offset
            if clen in (0, 0xFFFFFFFF) or clen <= 8 + offset:
                # a placeholder, or libsndfile's size of an SSND chunk with no samples yet: to the end
                return fmt, start, size, True
            return fmt, start, end, False
    raise AssertionError("unreachable")  # _chunks raises when no SSND chunk comes


def _aiff_format(p: str, body: bytes, aifc: bool):
    if len(body) < 18:
        raise AudioError(p, f"COMM chunk truncated: {_NOT}")
    channels, _frames, bits = struct.unpack_from(">HIH", body)
    sr = _extended(body[8:18])
    _check_rate_channels(p, channels, sr)
    comp = body[18:22] if aifc and len(body) >= 22 else b"NONE"
    fixed = {b"in24": (3, "int", True), b"in32": (4, "int", True), b"fl32": (4, "float", True),
             b"FL32": (4, "float", True), b"fl64": (8, "float", True), b"FL64": (8, "float", True),
             b"raw ": (1, "uint", True)}
    if comp in fixed:
        width, kind, big = fixed[comp]
        return channels, sr, width, kind, big, 8 * width
    if comp in (b"NONE", b"twos", b"sowt"):
        if not 1 <= bits <= 32:
            raise AudioError(p, f"COMM chunk gives {bits}-bit samples: {_NOT}")
        return channels, sr, (bits + 7) // 8, "int", comp != b"sowt", bits
    raise AudioError(p, f"AIFF compression {comp.decode('latin-1')!r} is not plain samples: {_NOT}")


def _check_rate_channels(p: str, channels: int, sr: int) -> None:
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(p, f"header gives {channels} channels; 1 to {MAX_CHANNELS} are supported")
    if not MIN_SR <= sr <= MAX_SR:
        raise AudioError(p, f"header gives a sample rate of {sr} Hz, outside {MIN_SR}-{MAX_SR} Hz")


def _extended(b: bytes) -> int:
    """An 80-bit IEEE extended float (AIFF's sample rate) as an int (0 when it is not a usable number)."""
    exp = ((b[0] & 0x7F) << 8) | b[1]
    mant = int.from_bytes(b[2:10], "big")
    if exp == 0x7FFF or mant == 0 or exp > 16383 + 64:  # not a number, zero, or far beyond any sample rate
        return 0
    value = math.ldexp(mant, exp - 16383 - 63)
    return int(round(-value if b[0] & 0x80 else value))


def _trailer_start(fh, start: int, end: int, order: str) -> int:
    """Where the samples of an open-ended sample chunk stop: at the first known chunk in the last megabyte
    whose chunk chain ends exactly at ``end`` (a tag a tool appended after the samples), else ``end``."""
    lo = max(start, end - _TRAILER_WINDOW)
    fh.seek(lo)
    tail = fh.read(end - lo)
    best = len(tail)
    for cid in _TRAILERS[order]:
        i = tail.find(cid)
        while 0 <= i < best:
            if _chain_ends_at(tail, i, order):
                best = i
                break
            i = tail.find(cid, i + 1)
    return lo + best


def _chain_ends_at(tail: bytes, i: int, order: str) -> bool:
    """True when chunks starting at ``tail[i]`` follow each other to exactly the end of ``tail``."""
    for _ in range(64):
        if i + 8 > len(tail):
            return False
        clen = struct.unpack_from(order + "I", tail, i + 4)[0]
        nxt = i + 8 + clen
        if nxt == len(tail) or nxt + (clen & 1) == len(tail):
            return True
        i = nxt + (clen & 1)
        if not tail[i : i + 4].isascii():
            return False
    return False


def _samples(raw: bytes, lay: Layout) -> np.ndarray:
    """Interleaved samples as float32, integers scaled by 2^(8*width-1) (offset binary for ``uint``)."""
    order = ">" if lay.big_endian else "<"
    width = lay.width
    if lay.kind == "float":
        return np.frombuffer(raw, dtype=f"{order}f{width}").astype(np.float32)
    if lay.kind == "uint":
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        if lay.big_endian:
            b = b[:, ::-1]
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        return (v / float(1 << 23)).astype(np.float32)
    v = np.frombuffer(raw, dtype=f"{order}i{width}")
    return (v / float(1 << (8 * width - 1))).astype(np.float32)
