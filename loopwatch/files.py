"""Finding audio files in folders, and telling audio from DAW sidecars and temp files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

from loopwatch.audio import AUDIO_EXTENSIONS

#: Suffixes of files DAWs write next to audio; never audio themselves.
SIDECAR_SUFFIXES = frozenset(
    {".asd", ".reapeaks", ".reapindex", ".pk", ".peak", ".peaks", ".ovw", ".bak", ".tmp", ".temp", ".part",
     ".crdownload", ".download", ".lock"}
)


def is_candidate(path: str | os.PathLike) -> bool:
    """True for a file name loopwatch should look at.

    Rejected: dot-files and anything inside a dot-folder, names ending in ``~``,
    backup/temp/sidecar suffixes (``.asd``, ``.reapeaks``, ``.reapindex``, ``.bak``,
    ``.tmp``, ...), and anything without an audio extension.
    """
    p = Path(path)
    name = p.name
    if not name or name.startswith(".") or name.endswith("~") or name.startswith("~$"):
        return False
    if any(part.startswith(".") and part not in (".", "..") for part in p.parent.parts):
        return False
    suffix = p.suffix.lower()
    if suffix in SIDECAR_SUFFIXES:
        return False
    return suffix in AUDIO_EXTENSIONS


def iter_audio_files(paths: Iterable[str | os.PathLike], *, recursive: bool = True) -> Iterator[Path]:
    """Yield audio files named by ``paths``, walking folders, in a stable (sorted) order.

    Files named explicitly are yielded even if their extension is unknown, so a
    user asking about ``take.bin`` gets a decode error rather than silence.
    Missing paths raise FileNotFoundError.
    """
    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            if recursive:
                for root, dirs, files in os.walk(p):
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    for f in sorted(files):
                        full = Path(root) / f
                        if is_candidate(full):
                            yield full
            else:
                for full in sorted(p.iterdir()):
                    if full.is_file() and is_candidate(full):
                        yield full
        elif p.exists():
            yield p
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    Readers see the old file or the new one, never a half-written one, on every
    platform (``os.replace`` is atomic on POSIX and Windows).
    """
    import tempfile

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
