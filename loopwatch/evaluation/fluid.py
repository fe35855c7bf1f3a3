"""Render MIDI files with FluidSynth, bit-identical to its command-line fast render.

Two ways to run the same engine:

* **library** (default when ``libfluidsynth`` can be loaded): the shared
  library through :mod:`ctypes`. The 141 MB FluidR3 soundfont is parsed once
  per process (an "anchor" synth keeps FluidSynth's sample cache warm), so a
  loop costs a fraction of a second instead of the ~0.4 s the command spends
  loading the soundfont. Calls into the library release the GIL, so renders
  run in parallel threads.
* **cli**: the ``fluidsynth`` program, as in the field notes::

      fluidsynth -ni -q -g 0.6 -r 48000 -o synth.reverb.active=0 -o synth.chorus.active=0 \\
          -T wav -O float -F out.wav FluidR3_GM.sf2 in.mid

Both give the same samples, which the tests check. What makes that true, and
renders reproducible, was measured on FluidSynth 2.3:

* a **fresh synth per file**: a reused synth (even after
  ``fluid_synth_system_reset``) renders the same MIDI slightly differently
  depending on what it played before;
* **64-sample writes**, the command's period: the MIDI player is driven by
  the synth's sample clock, and larger writes shift some events by a block;
* **float output** (``-O float``): the ``s16`` output adds dither.

FluidSynth starts every event one 64-sample block late; :data:`LATENCY` is
that delay, which callers remove.

Set ``LOOPWATCH_FLUIDSYNTH_MODE=cli`` (or ``library``) to force a mode.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

SR = 48000
GAIN = 0.6
BLOCK = 64
LATENCY = 64
#: A render longer than this (a stuck note) is an error.
MAX_SECONDS = 300.0
_PLAYING = 1


class FluidError(Exception):
    """FluidSynth could not render a file; the message names the file and the reason."""


def _load_library() -> ctypes.CDLL | None:
    names = [ctypes.util.find_library("fluidsynth"), "libfluidsynth.so.3", "libfluidsynth.so.2",
             "libfluidsynth.3.dylib", "libfluidsynth-3.dll", "libfluidsynth-2.dll"]
    for name in names:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        try:
            _declare(lib)
        except AttributeError:
            continue
        return lib
    return None


def _declare(lib: ctypes.CDLL) -> None:
    P, I, S, D = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_double
    sigs = {
        "new_fluid_settings": (P, []),
        "delete_fluid_settings": (None, [P]),
        "fluid_settings_setnum": (I, [P, S, D]),
        "fluid_settings_setint": (I, [P, S, I]),
        "fluid_settings_setstr": (I, [P, S, S]),
        "new_fluid_synth": (P, [P]),
        "delete_fluid_synth": (None, [P]),
        "fluid_synth_sfload": (I, [P, S, I]),
        "new_fluid_player": (P, [P]),
        "delete_fluid_player": (None, [P]),
        "fluid_player_add": (I, [P, S]),
        "fluid_player_play": (I, [P]),
        "fluid_player_get_status": (I, [P]),
        "fluid_synth_get_active_voice_count": (I, [P]),
        "fluid_synth_write_float": (I, [P, I, P, I, I, P, I, I]),
        "fluid_version_str": (S, []),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args


class FluidRenderer:
    """Render Standard MIDI Files to float32 stereo at 48 kHz with one soundfont.

    Parameters
    ----------
    soundfont : path-like
        An SF2 file (FluidR3_GM.sf2 for the corpus).
    fluidsynth : str, optional
        The ``fluidsynth`` program, for the cli mode.
    mode : {"auto", "library", "cli"}
        ``auto`` uses the library when it loads, else the program;
        ``LOOPWATCH_FLUIDSYNTH_MODE`` overrides ``auto``.
    """

    def __init__(self, soundfont: str | os.PathLike, fluidsynth: str | None = "fluidsynth", mode: str = "auto"):
        self.soundfont = str(soundfont)
        self.fluidsynth = fluidsynth
        if mode == "auto":
            mode = os.environ.get("LOOPWATCH_FLUIDSYNTH_MODE", "auto")
        self._lib = None
        self._anchor = None
        self._anchor_settings = None
        self._lock = threading.Lock()
        if mode in ("auto", "library"):
            self._lib = _load_library()
            if self._lib is None and mode == "library":
                raise FluidError("libfluidsynth could not be loaded (install fluidsynth, or use the cli mode)")
        if self._lib is None and not fluidsynth:
            raise FluidError("neither libfluidsynth nor the fluidsynth program is available")
        self.mode = "library" if self._lib is not None else "cli"

    # -- library mode ---------------------------------------------------------------------
    def _settings(self):
        lib = self._lib
        s = lib.new_fluid_settings()
        lib.fluid_settings_setnum(s, b"synth.sample-rate", float(SR))
        lib.fluid_settings_setnum(s, b"synth.gain", GAIN)
        lib.fluid_settings_setint(s, b"synth.reverb.active", 0)
        lib.fluid_settings_setint(s, b"synth.chorus.active", 0)
        lib.fluid_settings_setint(s, b"synth.cpu-cores", 1)
        # what `fluidsynth -F` sets: the player follows the rendered samples, not the wall clock
        lib.fluid_settings_setstr(s, b"player.timing-source", b"sample")
        return s

    def _synth(self, settings):
        lib = self._lib
        synth = lib.new_fluid_synth(settings)
        if not synth:
            raise FluidError("FluidSynth could not create a synthesizer")
        if lib.fluid_synth_sfload(synth, self.soundfont.encode(), 1) < 0:
            lib.delete_fluid_synth(synth)
            raise FluidError(f"{self.soundfont}: FluidSynth could not load this soundfont")
        return synth

    def _ensure_anchor(self) -> None:
        with self._lock:
            if self._anchor is None:
                self._anchor_settings = self._settings()
                self._anchor = self._synth(self._anchor_settings)

    def _render_library(self, midi: Path) -> np.ndarray:
        lib = self._lib
        self._ensure_anchor()
        settings = self._settings()
        synth = None
        player = None
        try:
            synth = self._synth(settings)
            player = lib.new_fluid_player(synth)
            if not player or lib.fluid_player_add(player, str(midi).encode()) != 0:
                raise FluidError(f"{midi}: FluidSynth could not read this MIDI file")
            lib.fluid_player_play(player)
            write = lib.fluid_synth_write_float
            piece = BLOCK * 256
            pieces = []
            limit = int(MAX_SECONDS * SR)
            total = 0
            while lib.fluid_player_get_status(player) == _PLAYING or lib.fluid_synth_get_active_voice_count(synth) > 0:
                if total >= limit:
                    raise FluidError(f"{midi}: still sounding after {MAX_SECONDS:g} s (a stuck note?)")
                buf = np.zeros((2, piece), dtype=np.float32)
                pl, pr = buf[0].ctypes.data, buf[1].ctypes.data
                for off in range(0, piece, BLOCK):
                    write(synth, BLOCK, pl, off, 1, pr, off, 1)
                pieces.append(buf)
                total += piece
            return np.concatenate(pieces, axis=1) if pieces else np.zeros((2, 0), np.float32)
        finally:
            if player:
                lib.delete_fluid_player(player)
            if synth:
                lib.delete_fluid_synth(synth)
            lib.delete_fluid_settings(settings)

    # -- cli mode -------------------------------------------------------------------------
    def _render_cli(self, midi: Path) -> np.ndarray:
        import soundfile as sf

        wav = midi.with_suffix(".render.wav")
        cmd = [str(self.fluidsynth), "-ni", "-q", "-g", str(GAIN), "-r", str(SR), "-o", "synth.reverb.active=0",
               "-o", "synth.chorus.active=0", "-o", "synth.cpu-cores=1", "-T", "wav", "-O", "float", "-F", str(wav),
               self.soundfont, str(midi)]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=MAX_SECONDS)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FluidError(f"{midi}: fluidsynth failed to run ({exc})") from None
        if r.returncode != 0 or not wav.is_file():
            msg = (r.stderr or r.stdout).strip().splitlines()
            raise FluidError(f"{midi}: fluidsynth exited with {r.returncode}: {msg[-1] if msg else 'no output'}")
        try:
            x, sr = sf.read(str(wav), dtype="float32", always_2d=True)
        finally:
            wav.unlink(missing_ok=True)
        if sr != SR or x.shape[1] != 2:
            raise FluidError(f"{wav}: fluidsynth wrote {x.shape[1]} channels at {sr} Hz, expected stereo {SR} Hz")
        return np.ascontiguousarray(x.T)

    def render(self, midi: str | os.PathLike) -> np.ndarray:
        """Render ``midi`` and return float32 ``(2, samples)`` at 48 kHz, FluidSynth's latency included.

        The render runs until the player has finished and every voice has died
        away, so the full ring-out is there.
        """
        p = Path(midi)
        if not p.is_file():
            raise FluidError(f"{p}: no such MIDI file")
        return self._render_library(p) if self.mode == "library" else self._render_cli(p)

    def version(self) -> str:
        if self._lib is not None:
            return f"libfluidsynth {self._lib.fluid_version_str().decode()}"
        try:
            r = subprocess.run([str(self.fluidsynth), "--version"], capture_output=True, text=True, timeout=20)
            return next((ln.strip() for ln in r.stdout.splitlines() if ln.strip()), "unknown")
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"

    def close(self) -> None:
        """Free the anchor synth (renders still work afterwards; the next one reloads)."""
        with self._lock:
            if self._anchor is not None:
                self._lib.delete_fluid_synth(self._anchor)
                self._lib.delete_fluid_settings(self._anchor_settings)
                self._anchor = None
                self._anchor_settings = None

    def __del__(self):  # pragma: no cover - interpreter shutdown order is not testable
        try:
            if self._lib is not None and sys is not None:
                self.close()
        except Exception:
            pass
