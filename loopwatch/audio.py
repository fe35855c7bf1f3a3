"""Decode audio files into the arrays the rest of loopwatch works on.

Every file becomes an :class:`Audio` at 48 kHz, the rate of CLAP's training
data, with two views:

* ``data``: all channels, float32, shape ``(channels, samples)``, resampled but
  otherwise untouched;
* ``mono``: the channel mean, passed through the int16 round trip that CLAP
  applied to its training audio: the encoders look at this.

It also keeps ``source``, the samples at the file's own rate (``orig_sr``):
the quality checks look at this, because resampling changes exactly what they
measure (it rounds off clipped runs, rings into digital-silence gaps, and
treats the file's two ends as silence, which puts a jump into a seamless
loop's wrap). For a 48 kHz file ``source`` is ``data``.

Reading goes through libsndfile (:mod:`soundfile`), so WAV (PCM 8/16/24/32-bit,
float, RF64, W64), AIFF/AIFC, FLAC, OGG/Vorbis/Opus and MP3 are supported.
Resampling uses :mod:`soxr` at its HQ setting.

Anything wrong with a file (empty, truncated, still being written, not audio,
NaN samples, absurd rate or channel count, too long) raises
:class:`AudioError`, whose message names the file and the reason on one line.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Rate every decoded file is converted to.
TARGET_SR = 48000
MIN_SR = 8000
MAX_SR = 192000
MAX_CHANNELS = 8
DEFAULT_MAX_DURATION_S = 600.0
#: Largest sample magnitude accepted (+60 dBFS): float files may go over full scale, but not this far.
MAX_ABS = 1000.0

#: File name extensions loopwatch treats as audio (lower case).
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".bwf", ".rf64", ".w64", ".aif", ".aiff", ".aifc", ".caf", ".flac", ".ogg", ".oga", ".opus", ".mp3"}
)


class AudioError(Exception):
    """A file cannot be used as audio. ``str(err)`` is ``"<path>: <reason>"``."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class IncompleteFileError(AudioError):
    """The file's container says it is longer than it is: truncated, or still being written."""


class SectionError(AudioError):
    """The section asked for (``start_s``, ``length_s``) is not inside the file: the request is wrong, not the file."""


@dataclass
class Audio:
    """A decoded file.

    Attributes
    ----------
    path : str
        Where it came from (``"<array>"`` for in-memory audio).
    data : np.ndarray
        float32, shape ``(channels, samples)`` at :data:`TARGET_SR`.
    mono : np.ndarray
        float32, shape ``(samples,)``: channel mean after the int16 round trip.
    orig_sr : int
        Sample rate of the source.
    sr : int
        Always :data:`TARGET_SR`.
    source : np.ndarray
        float32, shape ``(channels, samples)`` at ``orig_sr``: the decoded
        samples before resampling (the same array as ``data`` for a 48 kHz
        file). ``None`` when built by hand without it: the checks then use ``data``.
    unfinished : str or None
        Set when :func:`load` with ``recover=True`` read the audio of an
        unfinished or truncated file: why its header was wrong, and what was
        read (see :mod:`loopwatch.unfinished`). ``None`` for a complete file.
    """

    path: str
    data: np.ndarray
    mono: np.ndarray
    orig_sr: int
    sr: int = TARGET_SR
    source: np.ndarray | None = None
    unfinished: str | None = None

    @property
    def channels(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[1])

    @property
    def duration(self) -> float:
        return self.n_samples / self.sr

    @property
    def stereo(self) -> np.ndarray | None:
        """The first two channels, shape ``(2, samples)``, or None for a mono file."""
        return self.data[:2] if self.channels >= 2 else None


def is_audio_path(path: str | os.PathLike) -> bool:
    """True when the name has an audio extension and is not a dot-file."""
    p = Path(path)
    return p.suffix.lower() in AUDIO_EXTENSIONS and not p.name.startswith(".")


def quantize_int16(x: np.ndarray) -> np.ndarray:
    """Apply CLAP's int16 round trip: clip to [-1, 1], scale by 32767, truncate, scale back."""
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16).astype(np.float32) / np.float32(32767.0)


def resample(x: np.ndarray, orig_sr: int, target_sr: int = TARGET_SR) -> np.ndarray:
    """Resample ``x`` of shape ``(channels, samples)`` or ``(samples,)`` with soxr (HQ)."""
    if orig_sr == target_sr:
        return np.ascontiguousarray(x, dtype=np.float32)
    import soxr

    if x.ndim == 1:
        return soxr.resample(x.astype(np.float32), orig_sr, target_sr, quality="HQ").astype(np.float32)
    y = soxr.resample(np.ascontiguousarray(x.T, dtype=np.float32), orig_sr, target_sr, quality="HQ")
    return np.ascontiguousarray(y.T, dtype=np.float32)


def from_array(
    x: np.ndarray,
    sr: int,
    *,
    path: str = "<array>",
    max_duration: float | None = DEFAULT_MAX_DURATION_S,
) -> Audio:
    """Validate and convert an in-memory signal to an :class:`Audio`.

    ``x`` is ``(samples,)`` or ``(channels, samples)`` (a ``(samples, channels)``
    array with more rows than columns and at most 8 columns is transposed).
    """
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[None, :]
    elif x.ndim == 2 and x.shape[0] > x.shape[1] and x.shape[1] <= MAX_CHANNELS:
        x = x.T
    if x.ndim != 2:
        raise AudioError(path, f"expected 1-D or 2-D samples, got shape {x.shape}")
    _check_format(path, int(sr), x.shape[0], x.shape[1], max_duration)
    if not np.issubdtype(x.dtype, np.floating):
        if np.issubdtype(x.dtype, np.signedinteger):
            x = x.astype(np.float32) / float(np.iinfo(x.dtype).max + 1)
        elif np.issubdtype(x.dtype, np.unsignedinteger):  # offset binary, e.g. 8-bit WAV
            half = float(np.iinfo(x.dtype).max + 1) / 2
            x = (x.astype(np.float32) - half) / half
        else:
            raise AudioError(path, f"unsupported sample type {x.dtype}")
    x = x.astype(np.float32, copy=False)
    _check_finite(path, x, sr)
    return _decoded(path, x, int(sr))


def _decoded(path: str, x: np.ndarray, sr: int) -> Audio:
    """The :class:`Audio` of checked float32 samples ``x`` ``(channels, samples)`` at ``sr``."""
    data = resample(x, sr)
    source = data if sr == TARGET_SR else np.ascontiguousarray(x)
    return Audio(path=path, data=data, mono=quantize_int16(data.mean(axis=0)), orig_sr=sr, source=source)


def _check_format(path: str, sr: int, channels: int, frames: int, max_duration: float | None) -> None:
    if not MIN_SR <= sr <= MAX_SR:
        raise AudioError(path, f"sample rate {sr} Hz is outside {MIN_SR}-{MAX_SR} Hz")
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(path, f"{channels} channels; 1 to {MAX_CHANNELS} are supported")
    if frames <= 0:
        raise AudioError(path, "no audio samples")
    if max_duration is not None and frames / sr > max_duration:
        raise AudioError(path, f"{frames / sr:.1f} s is longer than the {max_duration:g} s maximum")


def _check_finite(path: str, x: np.ndarray, sr: int) -> None:
    finite = np.isfinite(x)
    if not finite.all():
        bad = np.flatnonzero(~finite.all(axis=0))
        raise AudioError(path, f"{int((~finite).sum())} NaN/inf samples (first at {bad[0] / sr:.3f} s)")
    top = float(np.abs(x).max()) if x.size else 0.0
    if top > MAX_ABS:
        at = int(np.argmax(np.abs(x).max(axis=0)))
        raise AudioError(path, f"samples reach {top:.3g} ({20 * np.log10(top):+.0f} dBFS, first at {at / sr:.3f} s): "
                               f"float audio beyond {MAX_ABS:g}x full scale is not sound")


def load(
    path: str | os.PathLike,
    *,
    max_duration: float | None = DEFAULT_MAX_DURATION_S,
    start_s: float = 0.0,
    length_s: float | None = None,
    recover: bool = False,
) -> Audio:
    """Decode ``path`` to an :class:`Audio` at 48 kHz.

    Parameters
    ----------
    path : path-like
        An audio file in any format libsndfile reads.
    max_duration : float or None
        Refuse files longer than this many seconds (before decoding anything).
        ``None`` disables the limit.
    start_s, length_s : float
        Decode only this section of the file (seconds of file time); the length
        limit then applies to the section.
    recover : bool
        For a WAV/RF64/W64/AIFF/CAF file whose header is unfinished (placeholder sizes
        left by a DAW that crashed or is still writing) or promises more than
        the file holds, decode the whole frames that are there instead of
        raising :class:`IncompleteFileError`, and say so in
        :attr:`Audio.unfinished`.

    Raises
    ------
    AudioError
        With a one-line reason, for any file that cannot be used.
    """
    import soundfile as sf

    p = str(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise AudioError(p, "no such file") from None
    except OSError as exc:
        raise AudioError(p, f"cannot stat: {exc.strerror or exc}") from None
    if not os.path.isfile(p):
        raise AudioError(p, "not a regular file")
    if st.st_size == 0:
        raise AudioError(p, "empty file (0 bytes)")
    try:
        state = _container_state(p)
    except IncompleteFileError as exc:
        if not recover:
            raise
        return _recovered(p, exc.reason, max_duration, start_s, length_s)
    if state == "to-end":  # complete as far as anyone can tell, but libsndfile cannot open it: read it here
        return _recovered(p, None, max_duration, start_s, length_s)
    # libsndfile keeps the path in a 1024-byte buffer: open longer paths here and hand it the file object
    fh = open(p, "rb") if len(os.fsencode(p)) > 1000 else None  # noqa: SIM115 - closed below
    try:
        with sf.SoundFile(fh if fh is not None else p) as f:
            sr, channels, frames = int(f.samplerate), int(f.channels), int(f.frames)
            first = 0
            if start_s or length_s is not None:
                if start_s < 0 or (length_s is not None and length_s <= 0):
                    raise SectionError(p, "section start must be >= 0 and length > 0")
                first = min(int(round(start_s * sr)), frames)
                count = frames - first if length_s is None else min(int(round(length_s * sr)), frames - first)
                if count <= 0:
                    raise SectionError(p, f"section starts at {start_s:.3f} s, at or after the end of the file "
                                          f"({frames / sr:.3f} s)")
            else:
                count = frames
            _check_format(p, sr, channels, count, max_duration)
            if first:
                f.seek(first)
            x = f.read(count, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError, OSError, EOFError, MemoryError) as exc:
        raise AudioError(p, _describe_sf_error(exc)) from None
    finally:
        if fh is not None:
            fh.close()
    if x.shape[0] == 0:
        raise AudioError(p, "no audio samples could be decoded")
    if x.shape[0] < count * 0.99 and count - x.shape[0] > 16:
        reason = f"decoded {x.shape[0]} of {count} frames: truncated, or still being written"
        if not recover:
            raise IncompleteFileError(p, reason)
        return _recovered(p, reason, max_duration, start_s, length_s)
    x = x.T
    _check_finite(p, x, sr)
    return _decoded(p, x, sr)


def _recovered(p: str, reason: str | None, max_duration: float | None, start_s: float,
               length_s: float | None) -> Audio:
    """:func:`load` for an unfinished file: the whole frames it holds (or the section asked for), with ``reason``
    kept in ``unfinished`` (``None``: a file libsndfile cannot open that is not known to be unfinished)."""
    from loopwatch.unfinished import probe_unfinished, read_frames

    if start_s < 0 or (length_s is not None and length_s <= 0):
        raise SectionError(p, "section start must be >= 0 and length > 0")
    try:
        lay = probe_unfinished(p)
    except AudioError as exc:
        if reason is None:
            raise
        raise IncompleteFileError(p, f"{reason}; {exc.reason}") from None
    first, count = 0, lay.frames
    if start_s or length_s is not None:
        first = min(int(round(start_s * lay.sr)), lay.frames)
        count = lay.frames - first if length_s is None else min(int(round(length_s * lay.sr)), lay.frames - first)
        if first >= lay.frames:
            raise SectionError(p, f"section starts at {start_s:.3f} s, at or after the end of the audio the "
                                  f"unfinished file holds ({lay.duration:.3f} s)")
        if count <= 0:
            raise SectionError(p, f"a section of {length_s} s holds no whole frame at {lay.sr} Hz")
    _check_format(p, lay.sr, lay.channels, count, max_duration)
    x = read_frames(p, lay, first, count)
    if x.shape[1] == 0:
        raise IncompleteFileError(p, f"{reason or 'open-ended file'}; the file shrank while it was read")
    _check_finite(p, x, lay.sr)
    audio = _decoded(p, x, lay.sr)
    if reason is not None:
        audio.unfinished = f"{reason}; read the {lay.describe(x.shape[1])} it holds"
    return audio


def _describe_sf_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    low = text.lower()
    if "format not recognised" in low or "unknown format" in low or "not recogni" in low:
        return "not a readable audio file (format not recognised)"
    if "does not exist or is not a regular file" in low:
        # libsndfile's words when its MP3 decoder finds no frame in a file that does exist (checked before)
        return "not a readable audio file (no audio frames found)"
    if "unspecified internal error" in low or "malformed" in low or "truncat" in low:
        return f"corrupt or truncated audio data ({text})"
    return f"cannot decode: {text}"


# --- container checks ------------------------------------------------------------

_W64_RIFF = bytes.fromhex("726966662e91cf11a5d628db04c10000")


@dataclass(frozen=True)
class ChunkLayout:
    """How a chunked audio container lays out its chunks (for :func:`walk_chunks`)."""

    first: int  #: byte offset of the first chunk, after the file header
    id_len: int  #: bytes of a chunk's name (4; 16 for Wave64's GUIDs)
    size_fmt: str  #: struct format of a chunk's size field
    counts_header: bool  #: the size includes the chunk's own header (Wave64)
    align: int  #: chunks start on multiples of this many bytes


RIFF_CHUNKS = ChunkLayout(12, 4, "<I", False, 2)
AIFF_CHUNKS = ChunkLayout(12, 4, ">I", False, 2)
W64_CHUNKS = ChunkLayout(40, 16, "<Q", True, 8)
CAF_CHUNKS = ChunkLayout(8, 4, ">q", False, 1)


def walk_chunks(fh, layout: ChunkLayout, max_chunks: int = 1024):
    """Yield ``(name, size, body start, body end)`` of the chunks of an open binary file, by seeking
    from one header to the next (so a data chunk behind a large JUNK or bext chunk is reached without reading
    it). The walk ends when no whole header is left or after ``max_chunks`` chunks. It does not judge sizes:
    a caller stops (returns or raises) at a size it cannot accept, before asking for the next chunk."""
    hdr_len = layout.id_len + struct.calcsize(layout.size_fmt)
    pos = layout.first
    for _ in range(max_chunks):
        fh.seek(pos)
        hdr = fh.read(hdr_len)
        if len(hdr) < hdr_len:
            return
        clen = struct.unpack_from(layout.size_fmt, hdr, layout.id_len)[0]
        body = pos + hdr_len
        end = pos + clen if layout.counts_header else body + clen
        yield hdr[: layout.id_len], clen, body, end
        pos = end + (-end % layout.align)


def check_container(path: str | os.PathLike) -> bool:
    """Raise :class:`IncompleteFileError` when a WAV/RF64/W64/AIFF/CAF header disagrees with the file size.

    Returns True when the file has such size fields and they agree with its
    length, False for formats without size fields (nothing to verify).

    DAWs write a placeholder length (0 or 0xFFFFFFFF) while recording and the
    real one when the file is closed, so a header that promises more bytes than
    the file has means "still being written" (or truncated). Extra bytes after
    the declared end are allowed: some tools append tags. Other formats have no
    size fields; their decoders catch truncation instead.
    """
    return _container_state(str(path)) == "checked"


def _container_state(p: str) -> str:
    """:func:`check_container`'s work: ``"checked"`` (size fields agree with the length), ``"unchecked"``
    (no size fields), or ``"to-end"`` (a CAF whose data chunk runs to the end of the file: size -1)."""
    try:
        size = os.path.getsize(p)
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise AudioError(p, f"cannot read: {exc.strerror or exc}") from None
    if len(head) < 12:
        if head[:4] in (b"RIFF", b"RF64", b"BW64", b"FORM"):
            raise IncompleteFileError(p, f"header truncated ({len(head)} bytes)")
        return "unchecked"
    magic, form = head[:4], head[8:12]
    if magic == b"RIFF" and form == b"WAVE":
        declared = struct.unpack_from("<I", head, 4)[0]
        if declared in (0, 0xFFFFFFFF):
            raise IncompleteFileError(p, "WAV header has a placeholder size: unfinished (still being written, or its writer stopped)")
        _check_declared(p, declared + 8, size)
        _check_riff_data(p, size)
        return "checked"
    elif magic in (b"RF64", b"BW64") and form == b"WAVE":
        if head[12:16] != b"ds64" or len(head) < 28:
            raise IncompleteFileError(p, "RF64 file without a ds64 chunk: unfinished or corrupt")
        riff64, data64 = struct.unpack_from("<QQ", head, 20)
        if riff64 == 0:
            raise IncompleteFileError(p, "RF64 header has a zero size: unfinished (still being written, or its writer stopped)")
        _check_declared(p, riff64 + 8, size)
        return "checked"
    elif head[:16] == _W64_RIFF:
        if len(head) < 24:
            raise IncompleteFileError(p, "W64 header truncated")
        declared = struct.unpack_from("<Q", head, 16)[0]
        if declared == 0:
            raise IncompleteFileError(p, "W64 header has a zero size: unfinished (still being written, or its writer stopped)")
        _check_declared(p, declared, size)
        return "checked"
    elif magic == b"caff":
        declared = _caf_data_size(p, size)
        return "unchecked" if declared is None else "to-end" if declared < 0 else "checked"
    elif magic == b"FORM" and form in (b"AIFF", b"AIFC"):
        declared = struct.unpack_from(">I", head, 4)[0]
        if declared in (0, 0xFFFFFFFF):
            raise IncompleteFileError(p, "AIFF header has a placeholder size: unfinished (still being written, or its writer stopped)")
        _check_declared(p, declared + 8, size)
        return "checked"
    return "unchecked"


def _check_declared(p: str, declared_total: int, size: int) -> None:
    if size < declared_total:
        raise IncompleteFileError(
            p, f"header says {declared_total} bytes but the file has {size}: truncated, or still being written"
        )


def _caf_data_size(p: str, size: int) -> int | None:
    """The data chunk size a CAF file declares (-1: CAF's legal "to the end of the file", which Core Audio
    writes while recording; None: no data chunk yet), after walking its chunks (big-endian, signed 64-bit
    sizes). Raises :class:`IncompleteFileError` for a placeholder size or a chunk longer than the file."""
    try:
        with open(p, "rb") as fh:
            for cid, clen, body, end in walk_chunks(fh, CAF_CHUNKS):
                if cid == b"data":
                    if 0 <= clen <= 4 and size > body + 4:
                        raise IncompleteFileError(p, "CAF data chunk has a placeholder size: unfinished (still being "
                                                     "written, or its writer stopped)")
                    if clen >= 0:
                        _check_declared(p, end, size)
                    return clen
                if clen < 0:
                    return None
                _check_declared(p, end, size)
    except OSError as exc:
        raise AudioError(p, f"cannot read: {exc.strerror or exc}") from None
    return None


def _check_riff_data(p: str, size: int) -> None:
    """Walk the RIFF chunks (seeking, so a data chunk behind a large JUNK or bext chunk is reached too) and check
    the data chunk fits in the file."""
    try:
        with open(p, "rb") as fh:
            for cid, clen, body, end in walk_chunks(fh, RIFF_CHUNKS):
                if cid == b"data":
                    if clen in (0, 0xFFFFFFFF) and size > body:
                        raise IncompleteFileError(p, "WAV data chunk has a placeholder size: still being written")
                    if end > size:
                        raise IncompleteFileError(
                            p, f"data chunk says {clen} bytes but only {size - body} follow: truncated, or still "
                               "being written"
                        )
                    return
    except OSError as exc:
        raise AudioError(p, f"cannot read: {exc.strerror or exc}") from None


def container_complete(path: str | os.PathLike) -> bool:
    """True when :func:`check_container` finds nothing wrong (for watchers polling a file)."""
    try:
        check_container(path)
    except AudioError:
        return False
    return True
