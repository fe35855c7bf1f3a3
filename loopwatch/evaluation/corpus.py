"""Render the labelled evaluation corpus: two loop libraries, out-of-style loops and injected defects.

The corpus is made from MIDI this package writes, rendered by FluidSynth
through the FluidR3 General MIDI soundfont, so that every loop is a real
sampled instrument and everything is reproducible from a seed.

* **bass** library: GM programs 32-39; **guitar** library: GM programs 24-31.
* Each loop draws a tempo (64-170 BPM, integer), a key (12 tonics, major or
  minor), a chord progression, a rhythm pattern, a length of 1, 2 or 4 bars of
  4/4, velocities and humanised timing.
* **Clean loops are seamless.** FluidSynth renders each MIDI file with a
  ring-out; the part past the loop end is folded back onto the start (what a
  DAW does when it renders a loop "with tail wrapped"), so the end runs into
  the start as it does when the loop plays in a DAW. Loops are then freed of DC,
  normalised to a random peak between -12 and -3 dBFS (true peak capped at
  -1.5 dBTP), kept in stereo (every loop is panned off centre) and written as
  48 kHz 24-bit WAV. About half carry an ``acid`` chunk with tempo and beats;
  all carry the tempo in the file name (``bass_0042_prog33_120bpm_Cmin_2bar.wav``).
* Files are split into train / val / test (60/20/20) by file, per library,
  deterministically from the seed.
* **Out-of-style** loops (test split only): drum kits, the other library's
  instrument, other GM instruments, synth leads, speech (espeak-ng) and
  noise beds, finished the same way as the clean loops.
* **Defects** (:mod:`loopwatch.evaluation.defects`) are injected into copies of
  held-out test loops, with their exact sample positions in the manifest.

FluidSynth runs through :mod:`loopwatch.evaluation.fluid` (its library when it
loads, else its program, with identical output). Events start one 64-sample
block late, so the first 64 samples are dropped to put tick 0 on sample 0.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from loopwatch.evaluation import patterns as pt
from loopwatch.evaluation.levels import db, peak, true_peak, undb
from loopwatch.evaluation.manifest import MANIFEST_NAME, Entry, write_manifest, write_meta
from loopwatch.evaluation.midi import Song, write_midi
from loopwatch.evaluation.wav import AcidInfo, write_wav

SR = 48000
BITS = 24
#: Beats between the loop end and the MIDI file's end-of-track (the render goes on until all voices die).
TAIL_BEATS = 4
PEAK_RANGE_DBFS = (-12.0, -3.0)
DC_CUTOFF_HZ = 10.0
TRUE_PEAK_CAP_DBTP = -1.5
TEMPO_RANGE = (64, 170)
BAR_CHOICES = (1, 2, 4)
BAR_WEIGHTS = (0.3, 0.45, 0.25)
SPLIT_FRACTIONS = (("train", 0.6), ("val", 0.2), ("test", 0.2))
LIBRARIES = ("bass", "guitar")
_LIB_CODE = {"bass": 1, "guitar": 2}
OOS_KINDS = {
    "bass": ("drums", "guitar", "other-instrument", "synth-lead", "speech", "noise-bed"),
    "guitar": ("drums", "bass", "other-instrument", "synth-lead", "speech", "noise-bed"),
}
SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/local/share/soundfonts/FluidR3_GM.sf2",
    "/opt/homebrew/share/soundfonts/FluidR3_GM.sf2",
)

Progress = Callable[[str, int, int], None]


class CorpusError(Exception):
    """The corpus cannot be built (missing tool, bad output folder, failed render)."""


@dataclass(frozen=True)
class CorpusSize:
    """How big a corpus is.

    Attributes
    ----------
    loops_per_library : int
        Clean loops per library (split 60/20/20).
    oos_per_kind : int
        Out-of-style loops per kind per library.
    defects_default : int
        Defect files per kind per library at the kind's default strength.
    defects_other : int
        Defect files per kind per library at every other strength (0: default strengths only).
    """

    name: str
    loops_per_library: int
    oos_per_kind: int
    defects_default: int
    defects_other: int


SIZES = {
    "small": CorpusSize("small", 14, 1, 1, 0),
    "default": CorpusSize("default", 300, 10, 12, 6),
    # the paper's scale: about 3,000 loops per library (its 6,110 loops in two libraries)
    "paper": CorpusSize("paper", 3000, 20, 4, 0),
}


class Tools:
    """External programs the renderer uses: FluidSynth (library or program), the soundfont, espeak-ng."""

    def __init__(self, fluidsynth: str | None, soundfont: str, espeak: str | None, mode: str = "auto"):
        from loopwatch.evaluation.fluid import FluidError, FluidRenderer

        self.fluidsynth = fluidsynth
        self.soundfont = soundfont
        self.espeak = espeak
        try:
            self.renderer = FluidRenderer(soundfont, fluidsynth, mode=mode)
        except FluidError as exc:
            raise CorpusError(str(exc)) from None

    @classmethod
    def find(cls, *, need_espeak: bool = True, mode: str = "auto") -> "Tools":
        """Locate FluidSynth, the FluidR3 GM soundfont and espeak-ng.

        ``LOOPWATCH_FLUIDSYNTH``, ``LOOPWATCH_SOUNDFONT`` and ``LOOPWATCH_ESPEAK``
        override the search; ``LOOPWATCH_FLUIDSYNTH_MODE`` picks library or cli.

        Raises
        ------
        CorpusError
            Naming what is missing and how to install it.
        """
        fs = os.environ.get("LOOPWATCH_FLUIDSYNTH") or shutil.which("fluidsynth")
        sf2 = os.environ.get("LOOPWATCH_SOUNDFONT")
        if not sf2:
            sf2 = next((c for c in SOUNDFONT_CANDIDATES if Path(c).is_file()), None)
        if not sf2 or not Path(sf2).is_file():
            raise CorpusError("FluidR3_GM.sf2 not found: install fluid-soundfont-gm (bash scripts/setup-system) "
                              "or set LOOPWATCH_SOUNDFONT to its path")
        es = os.environ.get("LOOPWATCH_ESPEAK") or shutil.which("espeak-ng")
        if need_espeak and not es:
            raise CorpusError("espeak-ng not found: install it (bash scripts/setup-system) or set LOOPWATCH_ESPEAK")
        try:
            return cls(fs, str(sf2), es, mode=mode)
        except CorpusError as exc:
            raise CorpusError(f"{exc}: install fluidsynth (Debian/Ubuntu: bash scripts/setup-system; "
                              "macOS: brew install fluid-synth) or set LOOPWATCH_FLUIDSYNTH") from None

    def versions(self) -> dict[str, str]:
        out = {"fluidsynth": self.renderer.version(), "fluidsynth_mode": self.renderer.mode,
               "soundfont": Path(self.soundfont).name, "soundfont_bytes": str(Path(self.soundfont).stat().st_size)}
        if self.espeak:
            out["espeak-ng"] = _first_line([self.espeak, "--version"])
        return out


def _first_line(cmd: list[str]) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    for line in (r.stdout + r.stderr).splitlines():
        if line.strip():
            return line.strip()
    return "unknown"


@dataclass(frozen=True)
class LoopSpec:
    """Everything needed to render one loop, drawn by :func:`plan_corpus`.

    ``seed`` is the entropy of the loop's own generator, so each loop renders
    identically whatever order or worker it is rendered in.
    """

    library: str
    family: str  # normal | out-of-style
    kind: str  # bass | guitar | drums | other-instrument | synth-lead | speech | noise-bed
    index: int
    split: str
    tempo: int
    bars: int
    tonic: int
    mode: str
    program: int | None
    pattern: str
    acid: bool
    seed: tuple[int, ...]
    peak_dbfs: float
    extra: tuple[tuple[str, Any], ...] = field(default=())

    @property
    def key(self) -> str:
        return pt.key_name(self.tonic, self.mode) if self.kind not in ("drums", "speech", "noise-bed") else ""

    @property
    def n_samples(self) -> int:
        return loop_samples(self.tempo, self.bars)

    @property
    def file(self) -> str:
        key = f"_{self.key}" if self.key else ""
        if self.family == "normal":
            name = f"{self.library}_{self.index:04d}_prog{self.program:02d}_{self.tempo}bpm{key}_{self.bars}bar.wav"
            return f"{self.library}/{self.split}/{name}"
        if self.kind == "drums":
            tag = f"kit{self.program:02d}"
        elif self.kind == "speech":
            tag = dict(self.extra)["voice"].replace("+", "-")
        elif self.kind == "noise-bed":
            tag = "noise"
        else:
            tag = f"prog{self.program:02d}"
        name = f"{self.kind}_{self.index:04d}_{tag}_{self.tempo}bpm{key}_{self.bars}bar.wav"
        return f"{self.library}/out-of-style/{self.kind}/{name}"


def loop_samples(tempo: float, bars: int, beats_per_bar: int = 4) -> int:
    """Samples at 48 kHz in ``bars`` bars at ``tempo`` (as MIDI stores it: whole microseconds per beat)."""
    from loopwatch.evaluation.midi import tempo_to_us

    return int(round(bars * beats_per_bar * tempo_to_us(tempo) * SR / 1e6))


def rng_for(*keys: int) -> np.random.Generator:
    """A generator seeded by a tuple of non-negative integers (stable across runs and platforms)."""
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in keys]))


def plan_corpus(seed: int, size: str | CorpusSize = "default") -> list[LoopSpec]:
    """Draw every clean and out-of-style loop of a corpus (no rendering). Pure and deterministic."""
    sz = SIZES[size] if isinstance(size, str) else size
    specs: list[LoopSpec] = []
    for lib in LIBRARIES:
        code = _LIB_CODE[lib]
        n = sz.loops_per_library
        perm = rng_for(seed, code, 3).permutation(n)
        split_of = {}
        start = 0
        for name, frac in SPLIT_FRACTIONS:
            count = int(round(frac * n)) if name != "test" else n - start
            for i in perm[start : start + count]:
                split_of[int(i)] = name
            start += count
        for i in range(n):
            rng = rng_for(seed, code, 1, i)
            prog_pool = pt.GM_BASS if lib == "bass" else pt.GM_GUITAR
            pat_pool = tuple(pt.BASS_PATTERNS) if lib == "bass" else pt.GUITAR_PATTERNS
            specs.append(_draw(rng, lib, "normal", lib, i, split_of[i], prog_pool, pat_pool, (seed, code, 1, i)))
        for k, kind in enumerate(OOS_KINDS[lib]):
            for j in range(sz.oos_per_kind):
                rng = rng_for(seed, code, 2, k, j)
                if kind == "drums":
                    progs, pats = pt.GM_DRUM_KITS, tuple(pt.DRUM_PATTERNS)
                elif kind == "bass":
                    progs, pats = pt.GM_BASS, tuple(pt.BASS_PATTERNS)
                elif kind == "guitar":
                    progs, pats = pt.GM_GUITAR, pt.GUITAR_PATTERNS
                elif kind == "other-instrument":
                    progs, pats = pt.GM_OTHER, pt.MELODIC_PATTERNS
                elif kind == "synth-lead":
                    progs, pats = pt.GM_SYNTH_LEAD, ("riff", "arp16", "arp8")
                else:
                    progs, pats = (None,), ("",)
                specs.append(_draw(rng, lib, "out-of-style", kind, j, "test", progs, pats, (seed, code, 2, k, j)))
    return specs


def _draw(rng, lib, family, kind, index, split, progs, pats, seed) -> LoopSpec:
    tempo = int(rng.integers(TEMPO_RANGE[0], TEMPO_RANGE[1] + 1))
    bars = int(rng.choice(BAR_CHOICES, p=BAR_WEIGHTS))
    tonic = int(rng.integers(12))
    mode = "maj" if rng.random() < 0.5 else "min"
    program = progs[int(rng.integers(len(progs)))]
    pattern = pats[int(rng.integers(len(pats)))]
    acid = bool(rng.random() < 0.5)
    peak_dbfs = float(np.round(rng.uniform(*PEAK_RANGE_DBFS), 2))
    extra: tuple = ()
    if kind == "speech":
        voice = pt.SPEECH_VOICES[int(rng.integers(len(pt.SPEECH_VOICES)))]
        variant = pt.SPEECH_VARIANTS[int(rng.integers(len(pt.SPEECH_VARIANTS)))]
        extra = (("voice", voice + variant), ("speed", int(rng.integers(130, 200))), ("pitch", int(rng.integers(25, 75))))
    return LoopSpec(lib, family, kind, index, split, tempo, bars, tonic, mode,
                    None if program is None else int(program), pattern, acid, tuple(int(s) for s in seed),
                    peak_dbfs, extra)


def song_for(spec: LoopSpec, rng: np.random.Generator) -> Song:
    """The MIDI content of a rendered loop."""
    kw = dict(tempo=float(spec.tempo), bars=spec.bars)
    if spec.kind == "drums":
        return pt.drum_song(rng, kit=int(spec.program), pattern=spec.pattern, **kw)
    if spec.kind == "bass":
        return pt.bass_song(rng, program=int(spec.program), tonic=spec.tonic, mode=spec.mode, pattern=spec.pattern, **kw)
    if spec.kind == "guitar":
        return pt.chord_song(rng, program=int(spec.program), tonic=spec.tonic, mode=spec.mode, pattern=spec.pattern, **kw)
    if spec.kind == "other-instrument":
        return pt.chord_song(rng, program=int(spec.program), tonic=spec.tonic, mode=spec.mode, pattern=spec.pattern,
                             low=48, high=86, **kw)
    if spec.kind == "synth-lead":
        return pt.chord_song(rng, program=int(spec.program), tonic=spec.tonic, mode=spec.mode, pattern=spec.pattern,
                             low=60, high=91, **kw)
    raise ValueError(f"{spec.kind} loops are not rendered from MIDI")


def render_song(song: Song, tools: Tools, workdir: Path, name: str = "render") -> np.ndarray:
    """Render ``song`` with FluidSynth; float64 ``(2, samples)`` with tick 0 on sample 0.

    The MIDI file ends :data:`TAIL_BEATS` beats after the loop, and the render
    runs until every voice has died away, so the whole ring-out is there.
    """
    from loopwatch.evaluation.fluid import LATENCY, FluidError

    song = replace(song, end_tick=song.end_tick + TAIL_BEATS * song.ticks_per_beat)
    mid = write_midi(Path(workdir) / f"{name}.mid", song)
    try:
        x = tools.renderer.render(mid)
    except FluidError as exc:
        raise CorpusError(str(exc)) from None
    return np.ascontiguousarray(x[:, LATENCY:], dtype=np.float64)


def fold_tail(x: np.ndarray, n: int) -> np.ndarray:
    """Cut ``x`` (``(channels, samples)``) to ``n`` samples and add everything past ``n`` back onto the start.

    This is the "tail wrap" of loop rendering: what rings past the loop end is
    what sounds at the start of the next repetition. Tails longer than the loop
    wrap more than once.
    """
    x = np.atleast_2d(x)
    y = np.array(x[:, :n], dtype=np.float64)
    if y.shape[1] < n:
        y = np.pad(y, ((0, 0), (0, n - y.shape[1])))
    k = n
    while k < x.shape[1]:
        m = min(n, x.shape[1] - k)
        y[:, :m] += x[:, k : k + m]
        k += n
    return y


def remove_dc(x: np.ndarray, cutoff: float = DC_CUTOFF_HZ) -> np.ndarray:
    """Remove DC from a loop with a DC blocker run in its periodic steady state.

    The classic one-pole DC blocker ``y[n] = x[n] - x[n-1] + R·y[n-1]`` (pole
    at ``cutoff`` Hz) is run over two repetitions of the loop and the second is
    kept: by then the start-up transient has died away (its time constant is
    ~16 ms at 10 Hz), so the output is itself a seamless loop with zero mean.
    Unlike subtracting the mean, rests keep (near) digital silence: FluidSynth's
    offset follows the note envelopes, and so does what removes it.
    """
    from scipy.signal import lfilter

    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = x.shape[1]
    r = float(np.exp(-2.0 * np.pi * cutoff / SR))
    y = lfilter([1.0, -1.0], [1.0, -r], np.concatenate([x, x], axis=1), axis=1)
    return np.ascontiguousarray(y[:, n:])


def finish_loop(x: np.ndarray, peak_dbfs: float) -> np.ndarray:
    """Remove DC (:func:`remove_dc`) and scale to ``peak_dbfs`` sample peak, true peak at most -1.5 dBTP."""
    x = remove_dc(x)
    p = peak(x)
    if p <= 0:
        raise CorpusError("rendered loop is silent")
    g = undb(peak_dbfs) / p
    tp = true_peak(x * g)
    cap = undb(TRUE_PEAK_CAP_DBTP)
    if tp > cap:
        g *= cap / tp
    return x * g


def speech_audio(spec: LoopSpec, tools: Tools, workdir: Path, rng: np.random.Generator) -> np.ndarray:
    """espeak-ng studio talk, resampled to 48 kHz, folded into the loop length, panned to stereo."""
    import soundfile as sf

    from loopwatch.audio import resample

    if not tools.espeak:
        raise CorpusError("speech loops need espeak-ng (bash scripts/setup-system)")
    n = spec.n_samples
    ex = dict(spec.extra)
    words = max(2, int(round(n / SR * 2.2)))
    text = pt.speech_text(rng, words)
    wav = Path(workdir) / f"speech_{spec.library}_{spec.index}.wav"
    cmd = [tools.espeak, "-v", ex["voice"], "-s", str(ex["speed"]), "-p", str(ex["pitch"]), "-w", str(wav), text]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CorpusError(f"espeak-ng failed to run ({exc})") from None
    if r.returncode != 0 or not wav.is_file():
        raise CorpusError(f"espeak-ng exited with {r.returncode}: {(r.stderr or '').strip()[:200]}")
    s, sr = sf.read(str(wav), dtype="float64")
    s = resample(np.asarray(s, dtype=np.float32), int(sr), SR).astype(np.float64)
    s = s[np.flatnonzero(np.abs(s) > 1e-4)[0]:] if np.any(np.abs(s) > 1e-4) else s
    y = fold_tail(s[None, :], n)[0]
    pan = rng.uniform(0.3, 0.7)
    return np.stack([y * np.cos(pan * np.pi / 2), y * np.sin(pan * np.pi / 2)])


def noise_bed(spec: LoopSpec, rng: np.random.Generator) -> np.ndarray:
    """A seamless stereo noise bed: shaped noise (random tilt and band emphasis) with a beat-synced swell.

    Synthesised in the frequency domain over exactly the loop length, so it
    is periodic and the wrap is as smooth as the inside.
    """
    n = spec.n_samples
    f = np.fft.rfftfreq(n, 1.0 / SR)
    fc = np.maximum(f, 20.0)
    slope = rng.uniform(-6.0, 0.0)  # dB per octave
    mag = 10 ** (slope * np.log2(fc / 1000.0) / 20.0)
    centre = np.exp(rng.uniform(np.log(150.0), np.log(6000.0)))
    width = rng.uniform(0.4, 1.5)
    mag *= 10 ** (rng.uniform(0.0, 15.0) * np.exp(-0.5 * (np.log2(fc / centre) / width) ** 2) / 20.0)
    mag[f < 25.0] = 0.0
    corr = rng.uniform(0.0, 0.8)
    chans = []
    common = np.exp(2j * np.pi * rng.random(f.size))
    for _ in range(2):
        own = np.exp(2j * np.pi * rng.random(f.size))
        chans.append(np.fft.irfft(mag * (corr * common + (1 - corr) * own), n))
    x = np.stack(chans)
    beats = spec.bars * 4
    div = int(rng.choice((1, 2)))
    phase = np.arange(n) / n * beats * div
    depth = rng.uniform(0.2, 0.8)
    env = 1.0 - depth * (0.5 + 0.5 * np.cos(2 * np.pi * phase)) ** 2
    return x * env


def render_loop(spec: LoopSpec, root: Path, tools: Tools, workdir: Path) -> Entry:
    """Render, fold, finish and write one loop; return its manifest entry."""
    rng = rng_for(*spec.seed, 7)
    n = spec.n_samples
    if spec.kind == "speech":
        x = speech_audio(spec, tools, workdir, rng)
    elif spec.kind == "noise-bed":
        x = noise_bed(spec, rng)
    else:
        song = song_for(spec, rng)
        name = f"{spec.library}_{spec.family}_{spec.kind}_{spec.index}"
        raw = render_song(song, tools, workdir, name)
        x = fold_tail(raw, n)
    y = finish_loop(x, spec.peak_dbfs)
    out = root / spec.file
    out.parent.mkdir(parents=True, exist_ok=True)
    acid = None
    if spec.acid:
        keyed = bool(spec.key)
        acid = AcidInfo(tempo=float(spec.tempo), beats=spec.bars * 4, root_note=48 + spec.tonic if keyed else 60,
                        flags=0x06 if keyed else 0x04)
    write_wav(out, y, SR, bits=BITS, acid=acid)
    params: dict[str, Any] = {"mode": spec.mode} if spec.key else {}
    params.update(dict(spec.extra))
    return Entry(
        file=spec.file, library=spec.library, split=spec.split,
        label="normal" if spec.family == "normal" else "anomaly", family=spec.family, kind=spec.kind,
        tempo=float(spec.tempo), bars=spec.bars, key=spec.key, program=spec.program, pattern=spec.pattern,
        acid=spec.acid, n_samples=n, peak_dbfs=round(float(db(peak(y))), 3), seed="-".join(map(str, spec.seed)),
        params=params,
    )


def render_specs(specs: list[LoopSpec], root: Path, tools: Tools, *, workers: int = 2,
                 progress: Progress | None = None, stage: str = "render") -> list[Entry]:
    """Render ``specs`` into ``root`` with ``workers`` FluidSynth processes at a time; entries in spec order."""
    root = Path(root)
    done = 0
    total = len(specs)
    if progress:
        progress(stage, 0, total)
    with tempfile.TemporaryDirectory(prefix="lw-render-") as tmp:
        def job(i_spec):
            i, spec = i_spec
            wd = Path(tmp) / f"w{i}"
            wd.mkdir()
            try:
                return render_loop(spec, root, tools, wd)
            finally:
                shutil.rmtree(wd, ignore_errors=True)

        results: list[Entry] = []
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for entry in pool.map(job, enumerate(specs)):
                results.append(entry)
                done += 1
                if progress:
                    progress(stage, done, total)
    return results


def build_corpus(
    out: str | os.PathLike,
    *,
    size: str | CorpusSize = "default",
    seed: int = 0,
    workers: int = 2,
    progress: Progress | None = None,
    overwrite: bool = False,
    command: str | None = None,
) -> tuple[list[Entry], dict[str, Any]]:
    """Render a complete corpus into ``out``: clean loops, out-of-style loops, defects, manifest.

    Parameters
    ----------
    out : path-like
        Folder to create (or empty, or an earlier corpus when ``overwrite``).
    size : {"small", "default", "paper"} or CorpusSize
    seed : int
        Everything is derived from it; the same seed gives the same bytes.
    workers : int
        Parallel FluidSynth renders.
    progress : callable, optional
        Called as ``progress(stage, done, total)``.
    command : str, optional
        Recorded in ``corpus.json`` (the CLI passes the command line).

    Returns
    -------
    entries : list of Entry
    meta : dict
        What ``corpus.json`` holds.
    """
    from loopwatch import __version__
    from loopwatch.evaluation.defects import build_defect_set

    sz = SIZES[size] if isinstance(size, str) else size
    if seed < 0:
        raise CorpusError(f"seed must be >= 0, got {seed}")
    root = Path(out)
    _prepare_out(root, overwrite)
    tools = Tools.find()
    t0 = time.perf_counter()
    specs = plan_corpus(seed, sz)
    entries = render_specs(specs, root, tools, workers=workers, progress=progress)
    t_render = time.perf_counter() - t0
    defects = build_defect_set(
        root, [e for e in entries if e.family == "normal" and e.split == "test"], seed=seed,
        n_default=sz.defects_default, n_other=sz.defects_other, workers=workers, progress=progress,
    )
    entries += defects
    write_manifest(root / MANIFEST_NAME, entries)
    meta = {
        "kind": "loopwatch-corpus",
        "generator": "loopwatch.evaluation.corpus",
        "loopwatch": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "seed": seed,
        "size": sz.name,
        "sizes": {"loops_per_library": sz.loops_per_library, "oos_per_kind": sz.oos_per_kind,
                  "defects_default": sz.defects_default, "defects_other": sz.defects_other},
        "sample_rate": SR,
        "bits": BITS,
        "libraries": list(LIBRARIES),
        "tools": tools.versions(),
        "command": command or "",
        "counts": _counts(entries),
        "render_seconds": round(t_render, 1),
        "total_seconds": round(time.perf_counter() - t0, 1),
    }
    write_meta(root, meta)
    return entries, meta


def _counts(entries: list[Entry]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for e in entries:
        d = out.setdefault(e.library, {})
        key = f"{e.family}/{e.split}" if e.family == "normal" else e.family
        d[key] = d.get(key, 0) + 1
    return out


def _prepare_out(root: Path, overwrite: bool) -> None:
    if root.exists() and not root.is_dir():
        raise CorpusError(f"{root}: exists and is not a folder")
    if root.is_dir() and any(root.iterdir()):
        if not overwrite:
            raise CorpusError(f"{root}: folder is not empty (use --force to replace an earlier corpus)")
        if not (root / MANIFEST_NAME).is_file():
            raise CorpusError(f"{root}: not empty and holds no {MANIFEST_NAME}; refusing to delete it")
        for child in root.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    root.mkdir(parents=True, exist_ok=True)


# --- a user's own library ----------------------------------------------------------------------------

# One parser for tempos in file names: the length check's (it also reads "bpm-140", "87,5 BPM").
from loopwatch.checks.tempo import tempo_from_name  # noqa: E402


def import_library(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    library: str | None = None,
    seed: int = 0,
    n_default: int = 4,
    n_other: int = 2,
    max_files: int | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    command: str | None = None,
) -> tuple[list[Entry], dict[str, Any]]:
    """Turn a folder of the user's clean loops into a corpus: copies split train/val/test, plus defects.

    Every readable audio file under ``src`` is decoded (resampled to 48 kHz),
    written as 24-bit WAV under ``out/<library>/<split>/`` (its ``acid`` chunk
    kept), split 60/20/20 by file from ``seed``, and the defect set is injected
    into the test split exactly as for the generated corpus. The loops are
    assumed clean: the false-positive rates the benchmark reports on them say
    how far that holds.

    Returns the manifest entries and the ``corpus.json`` content.
    """
    from loopwatch import __version__
    from loopwatch.audio import AudioError, load
    from loopwatch.evaluation.defects import build_defect_set, library_code
    from loopwatch.evaluation.wav import WavError, read_acid
    from loopwatch.files import iter_audio_files

    src = Path(src)
    if not src.is_dir():
        raise CorpusError(f"{src}: not a folder")
    lib = library or (src.resolve().name.strip().lower().replace(" ", "-") or "library")
    if not lib.replace("-", "").replace("_", "").isalnum():
        raise CorpusError(f"library name {lib!r}: use letters, digits, - and _")
    files = sorted(Path(p) for p in iter_audio_files([src]))
    if not files:
        raise CorpusError(f"{src}: no audio files found")
    code = library_code(lib)
    if max_files and len(files) > max_files:
        keep = np.sort(rng_for(seed, code, 6).choice(len(files), max_files, replace=False))
        files = [files[int(i)] for i in keep]
    root = Path(out)
    _prepare_out(root, overwrite)
    perm = rng_for(seed, code, 3).permutation(len(files))
    split_of: dict[int, str] = {}
    start = 0
    for name, frac in SPLIT_FRACTIONS:
        count = int(round(frac * len(files))) if name != "test" else len(files) - start
        for i in perm[start : start + count]:
            split_of[int(i)] = name
        start += count
    entries: list[Entry] = []
    skipped: dict[str, str] = {}
    used: set[str] = set()
    for i, path in enumerate(files):
        if progress:
            progress("import", i, len(files))
        try:
            a = load(path)
        except AudioError as exc:
            skipped[str(path)] = str(exc)
            continue
        acid = None
        if path.suffix.lower() in (".wav", ".wave", ".bwf"):
            try:
                acid = read_acid(path)
            except (WavError, OSError, ValueError):
                acid = None
        tempo = acid.tempo if acid and acid.tempo > 0 else tempo_from_name(path.name)
        bars = None
        if acid and acid.beats:
            bars = max(1, int(round(acid.beats / 4)))
        elif tempo:
            b = a.duration * tempo / 240.0
            bars = int(round(b)) if round(b) >= 1 and abs(b - round(b)) < 0.02 * b else None
        rel_src = path.relative_to(src)
        stem = "__".join(rel_src.with_suffix("").parts)
        name = f"{stem}.wav"
        k = 2
        while name.lower() in used:
            name = f"{stem}_{k}.wav"
            k += 1
        used.add(name.lower())
        rel = f"{lib}/{split_of[i]}/{name}"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write_wav(root / rel, a.data, SR, bits=BITS, acid=acid)
        entries.append(Entry(
            file=rel, library=lib, split=split_of[i], label="normal", family="normal", kind=lib,
            tempo=float(tempo) if tempo else None, bars=bars, acid=acid is not None, n_samples=a.n_samples,
            peak_dbfs=round(float(db(peak(a.data))), 3), seed=f"{seed}-{code}", params={"source_path": str(path)},
        ))
    if progress:
        progress("import", len(files), len(files))
    if len(entries) < 5:
        raise CorpusError(f"{src}: only {len(entries)} readable loops; at least 5 are needed to split and inject")
    defects = build_defect_set(root, [e for e in entries if e.split == "test"], seed=seed, n_default=n_default,
                               n_other=n_other, progress=progress)
    entries += defects
    write_manifest(root / MANIFEST_NAME, entries)
    meta = {
        "kind": "loopwatch-corpus", "generator": "loopwatch.evaluation.corpus.import_library",
        "loopwatch": __version__, "python": sys.version.split()[0], "numpy": np.__version__, "seed": seed,
        "size": "imported", "source": str(src), "sample_rate": SR, "bits": BITS, "libraries": [lib],
        "sizes": {"defects_default": n_default, "defects_other": n_other, "max_files": max_files},
        "command": command or "", "counts": _counts(entries), "skipped": skipped,
    }
    write_meta(root, meta)
    return entries, meta
