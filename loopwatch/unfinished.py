"""The audio an unfinished WAV, RF64 or AIFF file already holds.

A DAW writes a recording's header first, with placeholder sizes (0 or
0xFFFFFFFF), streams the samples after it, and fills the sizes in when it
closes the file. When it crashes, is killed, or loses its disk first, the
samples are there but the header never says how many: libsndfile then reads
no frames at all, or stops where the placeholder says. :func:`read_unfinished`
walks the chunks itself, takes the sample format from the ``fmt `` (or
``COMM``) chunk and reads every whole frame between the start of the sample
data and the end of the file (or the end the header declares, if that comes
first).

Only uncompressed sample data can be recovered this way: integer PCM of 8, 16,
24 or 32 bits and IEEE float of 32 or 64 bits, in WAV (``RIFF``), RF64/BW64
and AIFF/AIFC (``NONE``, ``sowt``, ``fl32``, ``fl64``). Everything else gives
an :class:`~loopwatch.audio.AudioError` naming the reason.
"""

from __future__ import annotations

import math
import os
import struct

import numpy as np

from loopwatch.audio import Audio, AudioError
from loopwatch.findings import Finding

#: Most chunks walked before the sample data (a sane file has a handful).
_MAX_CHUNKS = 64
_PLACEHOLDERS = (0, 0xFFFFFFFF)
_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE


def read_unfinished(path: str | os.PathLike, max_duration: float | None = None) -> tuple[np.ndarray, int, str]:
    """Decode the whole frames of an unfinished or truncated WAV/RF64/AIFF file.

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
        When the file is no WAV/RF64/AIFF, its format chunk is missing or unreadable, the sample data is
        compressed, or not one whole frame follows the header.
    """
    p = str(path)
    try:
        with open(p, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(12)
            if len(head) < 12:
                raise AudioError(p, f"header truncated ({len(head)} bytes): no audio to recover")
            if head[8:12] == b"WAVE" and head[:4] in (b"RIFF", b"RF64", b"BW64"):
                fmt, start, length = _walk_riff(p, fh, size)
            elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
                fmt, start, length = _walk_aiff(p, fh, size, head[8:12] == b"AIFC")
            else:
                raise AudioError(p, "not a WAV, RF64 or AIFF file: its audio cannot be recovered")
            channels, sr, width, kind, big_endian = fmt
            block = channels * width
            frames = min(length, size - start) // block
            if frames <= 0:
                raise AudioError(p, "no whole audio frame after the header: nothing to recover")
            if max_duration is not None and frames / sr > max_duration:
                raise AudioError(p, f"{frames / sr:.1f} s is longer than the {max_duration:g} s maximum")
            fh.seek(start)
            raw = fh.read(frames * block)
    except OSError as exc:
        raise AudioError(p, f"cannot read: {exc.strerror or exc}") from None
    frames = len(raw) // block
    x = _samples(raw[: frames * block], width, kind, big_endian).reshape(frames, channels).T
    name = f"{8 * width}-bit {'float' if kind == 'float' else 'PCM'}"
    return np.ascontiguousarray(x, dtype=np.float32), sr, f"{frames / sr:.3f} s of {name}"


def _chunks(p: str, fh, size: int, order: str, data_id: bytes):
    """Yield ``(position, id, length)`` of the chunks after the 12-byte form header, up to and including the
    one named ``data_id`` (whose length may be a placeholder); a chunk that cannot fit the file is an error."""
    pos = 12
    for _ in range(_MAX_CHUNKS):
        fh.seek(pos)
        hdr = fh.read(8)
        if len(hdr) < 8:
            break
        cid, clen = hdr[:4], struct.unpack(order + "I", hdr[4:])[0]
        yield pos, cid, clen
        if cid == data_id:
            return
        if clen == 0xFFFFFFFF or pos + 8 + clen > size:
            raise AudioError(p, f"chunk {cid!r} has an impossible size ({clen}): its audio cannot be recovered")
        pos += 8 + clen + (clen & 1)
    raise AudioError(p, "no sample data chunk found: nothing to recover")


def _walk_riff(p: str, fh, size: int):
    """(format, data start, data length) of a RIFF/RF64 WAVE file; the length may exceed the file."""
    fmt = None
    data64 = None
    for pos, cid, clen in _chunks(p, fh, size, "<", b"data"):
        if cid == b"ds64":
            body = fh.read(min(clen, 28))
            if len(body) >= 16:
                data64 = struct.unpack_from("<Q", body, 8)[0]
        elif cid == b"fmt ":
            fmt = _wav_format(p, fh.read(min(clen, 40)))
        elif cid == b"data":
            if fmt is None:
                raise AudioError(p, "no format chunk before the sample data: its audio cannot be recovered")
            length = clen
            if clen == 0xFFFFFFFF and data64:
                length = data64
            elif clen in _PLACEHOLDERS:
                length = size  # the placeholder: up to the end of the file
            return fmt, pos + 8, length
    raise AssertionError("unreachable")  # _chunks raises when no data chunk comes


def _wav_format(p: str, body: bytes):
    if len(body) < 16:
        raise AudioError(p, "format chunk truncated: its audio cannot be recovered")
    tag, channels, sr, _rate, block, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _EXTENSIBLE and len(body) >= 26:
        tag = struct.unpack_from("<H", body, 24)[0]  # the first two bytes of the sub-format GUID
    width = block // channels if channels else 0
    if tag == _PCM and width in (1, 2, 3, 4) and bits <= 8 * width:
        kind = "uint" if width == 1 else "int"
    elif tag == _FLOAT and width in (4, 8):
        kind = "float"
    else:
        raise AudioError(p, f"sample format {tag:#x} with {bits} bits in {width}-byte samples is compressed or "
                            "unusual: its audio cannot be recovered")
    return _checked(p, channels, sr, width, kind, False)


def _walk_aiff(p: str, fh, size: int, aifc: bool):
    """(format, sample data start, length) of an AIFF/AIFC file; the length may exceed the file."""
    fmt = None
    for pos, cid, clen in _chunks(p, fh, size, ">", b"SSND"):
        if cid == b"COMM":
            fmt = _aiff_format(p, fh.read(min(clen, 26)), aifc)
        elif cid == b"SSND":
            if fmt is None:
                raise AudioError(p, "no COMM chunk before the sample data: its audio cannot be recovered")
            offset = struct.unpack(">I", fh.read(4).rjust(4, b"\0"))[0]
            length = size if clen in _PLACEHOLDERS else clen - 8 - offset
            return fmt, pos + 16 + offset, length
    raise AssertionError("unreachable")  # _chunks raises when no SSND chunk comes


def _aiff_format(p: str, body: bytes, aifc: bool):
    if len(body) < 18:
        raise AudioError(p, "COMM chunk truncated: its audio cannot be recovered")
    channels, _frames, bits = struct.unpack_from(">HIH", body)
    sr = _extended(body[8:18])
    width = (bits + 7) // 8
    comp = body[18:22] if aifc and len(body) >= 22 else b"NONE"
    if comp == b"NONE" and width in (1, 2, 3, 4):
        return _checked(p, channels, sr, width, "int", True)
    if comp == b"sowt" and width in (2, 3, 4):
        return _checked(p, channels, sr, width, "int", False)
    if comp.lower() in (b"fl32", b"fl64"):
        return _checked(p, channels, sr, 4 if comp.lower() == b"fl32" else 8, "float", True)
    raise AudioError(p, f"AIFF compression {comp!r} is not plain samples: its audio cannot be recovered")


def _extended(b: bytes) -> int:
    """An 80-bit IEEE extended float (AIFF's sample rate) as an int (0 when it is not a number)."""
    exp = ((b[0] & 0x7F) << 8) | b[1]
    mant = int.from_bytes(b[2:10], "big")
    if exp == 0x7FFF or mant == 0:
        return 0
    value = math.ldexp(mant, exp - 16383 - 63)
    return int(round(-value if b[0] & 0x80 else value))


def _checked(p: str, channels: int, sr: int, width: int, kind: str, big_endian: bool):
    if not 1 <= channels <= 64 or sr <= 0:
        raise AudioError(p, f"header gives {channels} channels at {sr} Hz: its audio cannot be recovered")
    return channels, sr, width, kind, big_endian


def _samples(raw: bytes, width: int, kind: str, big_endian: bool) -> np.ndarray:
    """Interleaved samples as float32, integers scaled by 2^(bits-1) (8-bit WAV is offset binary)."""
    order = ">" if big_endian else "<"
    if kind == "float":
        return np.frombuffer(raw, dtype=f"{order}f{width}").astype(np.float32)
    if kind == "uint":
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        if big_endian:
            b = b[:, ::-1]
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        return (v / float(1 << 23)).astype(np.float32)
    v = np.frombuffer(raw, dtype=f"{order}i{width}")
    return (v / float(1 << (8 * width - 1))).astype(np.float32)


def unfinished_finding(audio: Audio, offset: float = 0.0) -> Finding | None:
    """The ``decode`` warning for audio read from an unfinished file (``audio.unfinished``), or None.

    It spans the audio read, starting at ``offset`` seconds of file time (a section's start).
    """
    if not audio.unfinished:
        return None
    return Finding("decode", "warn", float(offset), float(offset) + float(audio.duration), float(audio.duration),
                   "s", audio.unfinished)
