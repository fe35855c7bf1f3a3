"""Write PCM WAV files byte-for-byte reproducibly, optionally with an ACID ``acid`` chunk.

The corpus needs two things :mod:`soundfile` does not give: an ``acid`` chunk
(the tempo and beat count that ACID, Ableton Live, FL Studio and REAPER read
from "acidized" loops) and full control over the bytes, so that the same seed
gives the same files. The writer is small: a RIFF/WAVE header, a ``fmt ``
chunk (``WAVE_FORMAT_PCM``, 16 or 24 bits), the optional ``acid`` chunk, then
``data``.

ACID chunk layout
-----------------
The chunk id is ``b"acid"`` and its payload is 24 bytes, little-endian, as
libsndfile (``wav.c``), Sony's ACID and the loop tools that read it agree:

====== ======= ====================================================================
offset type    meaning
====== ======= ====================================================================
0      uint32  flags: 0x01 one-shot (not a loop), 0x02 root note is set,
               0x04 stretch, 0x08 disk-based, 0x10 "high octave" (unused here)
4      uint16  root note, a MIDI key (60 = C4)
6      uint16  unknown; writers put 0x8000
8      float32 unknown; writers put 0.0
12     uint32  number of beats in the file
16     uint16  meter denominator (4 for x/4)
18     uint16  meter numerator (4 for 4/4)
20     float32 tempo in beats per minute
====== ======= ====================================================================

This module writes loops with flags ``0x02 | 0x04`` (root note set, stretch)
and reads any flags back.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ACID_SIZE = 24
_ACID_FMT = "<IHHfIHHf"


class WavError(Exception):
    """A WAV file cannot be written or parsed; ``str(err)`` is ``"<path>: <reason>"``."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class AcidInfo:
    """What an ``acid`` chunk says about a loop.

    Attributes
    ----------
    tempo : float
        Beats per minute (stored as float32).
    beats : int
        Number of beats the file spans.
    root_note : int
        MIDI key of the loop's root (60 = C4).
    numerator, denominator : int
        Meter, e.g. 4/4.
    one_shot : bool
        True for one-shots, False for loops.
    flags : int
        The raw flags word (read back as found; written as 0x06, or 0x01 for one-shots).
    """

    tempo: float
    beats: int
    root_note: int = 60
    numerator: int = 4
    denominator: int = 4
    one_shot: bool = False
    flags: int | None = None


def acid_chunk_bytes(info: AcidInfo) -> bytes:
    """The complete ``acid`` chunk (id, size, 24-byte payload) for ``info``."""
    if not 0 <= info.root_note <= 127:
        raise ValueError(f"root note {info.root_note} is outside 0-127")
    if info.beats < 0 or not 0 < info.tempo < 10000:
        raise ValueError(f"acid chunk needs beats >= 0 and 0 < tempo < 10000, got {info.beats}, {info.tempo}")
    flags = info.flags if info.flags is not None else (0x01 if info.one_shot else 0x02 | 0x04)
    payload = struct.pack(
        _ACID_FMT, flags, info.root_note, 0x8000, 0.0, info.beats, info.denominator, info.numerator, info.tempo
    )
    return b"acid" + struct.pack("<I", ACID_SIZE) + payload


def parse_acid(payload: bytes) -> AcidInfo:
    """Decode the 24-byte payload of an ``acid`` chunk."""
    if len(payload) < ACID_SIZE:
        raise ValueError(f"acid chunk payload has {len(payload)} bytes, expected {ACID_SIZE}")
    flags, root, _u1, _u2, beats, den, num, tempo = struct.unpack_from(_ACID_FMT, payload)
    return AcidInfo(
        tempo=float(tempo), beats=int(beats), root_note=int(root), numerator=int(num), denominator=int(den),
        one_shot=bool(flags & 0x01), flags=int(flags),
    )


def riff_chunks(path: str | os.PathLike) -> list[tuple[bytes, int, int]]:
    """List the top-level chunks of a RIFF/WAVE file as ``(id, payload offset, payload size)``.

    Raises
    ------
    WavError
        When the file is not RIFF/WAVE.
    """
    p = Path(path)
    with open(p, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise WavError(p, "not a RIFF/WAVE file")
        size = p.stat().st_size
        out = []
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            hdr = fh.read(8)
            cid, clen = hdr[:4], struct.unpack("<I", hdr[4:])[0]
            out.append((cid, pos + 8, clen))
            pos += 8 + clen + (clen & 1)
        return out


def read_acid(path: str | os.PathLike) -> AcidInfo | None:
    """Return the ``acid`` chunk of a WAV file, or None when it has none."""
    p = Path(path)
    for cid, off, size in riff_chunks(p):
        if cid == b"acid":
            if size < ACID_SIZE:
                raise WavError(p, f"acid chunk is {size} bytes, expected {ACID_SIZE}")
            with open(p, "rb") as fh:
                fh.seek(off)
                return parse_acid(fh.read(ACID_SIZE))
    return None


def quantize(x: np.ndarray, bits: int = 24) -> np.ndarray:
    """Round float samples in [-1, 1) to signed integers of ``bits`` bits (int32), clipping at full scale."""
    if bits not in (16, 24):
        raise ValueError(f"only 16- and 24-bit PCM are written, not {bits}")
    scale = float(1 << (bits - 1))
    return np.clip(np.rint(np.asarray(x, dtype=np.float64) * scale), -scale, scale - 1).astype(np.int32)


def pcm_roundtrip(x: np.ndarray, bits: int = 24) -> np.ndarray:
    """``x`` as it reads back from a ``bits``-bit file (float32), i.e. quantised."""
    return (quantize(x, bits).astype(np.float64) / float(1 << (bits - 1))).astype(np.float32)


def write_wav(
    path: str | os.PathLike,
    data: np.ndarray,
    sr: int = 48000,
    *,
    bits: int = 24,
    acid: AcidInfo | None = None,
) -> Path:
    """Write float audio as integer PCM WAV, deterministic to the byte.

    Parameters
    ----------
    path : path-like
    data : np.ndarray
        Float samples, shape ``(channels, samples)`` or ``(samples,)``; values are
        rounded to the nearest integer step and clipped at full scale.
    sr : int
    bits : {16, 24}
    acid : AcidInfo or None
        When given, an ``acid`` chunk is written between ``fmt `` and ``data``.
    """
    x = np.asarray(data)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[0] > 8:
        raise WavError(path, f"expected (channels, samples) with 1-8 channels, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise WavError(path, "samples contain NaN or inf")
    channels, frames = int(x.shape[0]), int(x.shape[1])
    if frames == 0:
        raise WavError(path, "no samples")
    q = quantize(x, bits)
    inter = np.ascontiguousarray(q.T).astype("<i4")
    if bits == 16:
        pcm = inter.astype("<i2").tobytes()
    else:
        pcm = inter.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, sr, sr * block, block, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if acid is not None:
        chunks += acid_chunk_bytes(acid)
    chunks += b"data" + struct.pack("<I", len(pcm)) + pcm
    if len(pcm) & 1:
        chunks += b"\x00"
    body = b"WAVE" + chunks
    p = Path(path)
    p.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return p
