"""Where Ableton Live and REAPER put audio, per platform: the ``--daw`` presets of ``loopwatch watch``.

Ableton Live (``--daw ableton``)
    Watches the roots you give (``--root``, or ``[watch] ableton_roots``; default:
    Live's default project folder and its temporary "Live Recordings" folder) and,
    inside them, only these sub-folders of Live projects, where Live writes new audio:
    ``Samples/Recorded``, ``Samples/Processed/Freeze``, ``Samples/Processed/Consolidate``
    and ``Samples/Processed/Crop``; plus the User Library's ``Samples`` folder.

    ========  =======================================================================
    macOS     ``~/Music/Ableton`` (projects, ``Live Recordings``, ``User Library``)
    Windows   ``%USERPROFILE%\\Documents\\Ableton`` (same sub-folders)
    Linux     ``~/Music/Ableton`` (Live under Wine keeps the Windows layout inside the prefix)
    ========  =======================================================================

REAPER (``--daw reaper``)
    Watches the project media folders you give (``--root``, or ``[watch] reaper_media``;
    default ``~/Documents/REAPER Media``, REAPER's default project folder on every
    platform), all audio files in them.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Callable

ABLETON_SUBFOLDERS = (
    "samples/recorded",
    "samples/processed/freeze",
    "samples/processed/consolidate",
    "samples/processed/crop",
)
_ABLETON_RE = re.compile(r"/(samples/(recorded|processed/(freeze|consolidate|crop))|user library/samples)/")


def ableton_home(platform: str | None = None, home: Path | None = None) -> Path:
    platform = platform or sys.platform
    home = home or Path.home()
    if platform.startswith("win"):
        return home / "Documents" / "Ableton"
    return home / "Music" / "Ableton"


#: The DAW presets of ``loopwatch watch --daw``.
PRESETS = ("ableton", "reaper")


def default_roots(daw: str, platform: str | None = None, home: Path | None = None) -> list[Path]:
    """The folders a preset watches when the user names none."""
    if daw == "ableton":
        base = ableton_home(platform, home)
        return [base]  # projects, "Live Recordings" (temporary folder) and "User Library" live here
    if daw == "reaper":
        return [(home or Path.home()) / "Documents" / "REAPER Media"]
    raise ValueError(f"unknown DAW preset {daw!r} (ableton or reaper)")


def path_filter(daw: str) -> Callable[[Path], bool] | None:
    """Extra filter on watched paths for a preset (None: every audio file)."""
    if daw == "ableton":
        def accept(p: Path) -> bool:
            return bool(_ABLETON_RE.search(str(p).replace("\\", "/").lower()))

        return accept
    if daw == "reaper":
        return None
    raise ValueError(f"unknown DAW preset {daw!r} (ableton or reaper)")
