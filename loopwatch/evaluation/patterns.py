"""Musical content for the corpus: keys, chord progressions, rhythm patterns, humanisation.

Every function here is pure: it turns a random generator and a few choices
into a :class:`~loopwatch.evaluation.midi.Song`. The corpus module decides
*which* loops to make; this module decides what they play.

Conventions
-----------
* 4/4 time, a 16th-note grid of 16 steps per bar, ``TPB`` ticks per quarter.
* Every pattern sounds on the first downbeat (step 0) and its last note lasts
  to the end of the loop, so a clean loop has no leading or trailing silence:
  the ring-out past the loop end is folded back onto the start by the renderer.
* The first downbeat is never shifted by the timing humanisation, so the loop
  starts exactly on the grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loopwatch.evaluation.midi import DRUM_CHANNEL, Note, Song

TPB = 960
STEP = TPB // 4  # one 16th note
STEPS_PER_BAR = 16

KEY_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
SCALES = {"maj": (0, 2, 4, 5, 7, 9, 11), "min": (0, 2, 3, 5, 7, 8, 10)}
#: Chord progressions as scale degrees (0 = tonic), one entry per chord slot.
PROGRESSIONS = {
    "maj": ((0, 4, 5, 3), (0, 3, 4, 3), (0, 5, 3, 4), (1, 4, 0, 0), (0, 0, 3, 4), (0, 3)),
    "min": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3), (0, 5, 3, 4), (0, 0, 6, 6)),
}

GM_BASS = tuple(range(32, 40))
GM_GUITAR = tuple(range(24, 32))
GM_SYNTH_LEAD = tuple(range(80, 88))
#: Melodic GM programs that are neither bass, guitar nor synth lead.
GM_OTHER = tuple(range(0, 24)) + tuple(range(40, 80)) + tuple(range(88, 96))
#: GM drum kits present in FluidR3_GM (program numbers on channel 10).
GM_DRUM_KITS = (0, 8, 16, 24, 25, 32, 40)

# (step, length in steps, tone, accent). Tones: R root, 5 fifth, 8 octave, 3 third, 7 seventh, A approach.
BASS_PATTERNS: dict[str, tuple[tuple[int, int, str, bool], ...]] = {
    "eighths": tuple((s, 2, "R", s % 8 == 0) for s in range(0, 16, 2)),
    "root-fifth": ((0, 4, "R", True), (4, 4, "5", False), (8, 4, "8", True), (12, 4, "5", False)),
    "funk": ((0, 2, "R", True), (3, 1, "R", False), (6, 1, "8", False), (8, 2, "R", True),
             (10, 1, "5", False), (11, 1, "R", False), (14, 2, "7", False)),
    "sustain": ((0, 16, "R", True),),
    "walking": ((0, 4, "R", True), (4, 4, "3", False), (8, 4, "5", True), (12, 4, "A", False)),
    "pulse16": tuple((s, 1, "R", s % 4 == 0) for s in range(16)),
    "tresillo": ((0, 3, "R", True), (3, 3, "R", False), (6, 2, "5", False), (8, 3, "R", True),
                 (11, 3, "8", False), (14, 2, "5", False)),
}

# Guitar patterns: strum patterns are (step, length, direction "D"/"U", accent).
STRUMS: dict[str, tuple[tuple[int, int, str, bool], ...]] = {
    "strum8": tuple((s, 2, "D" if s % 4 == 0 else "U", s % 8 == 0) for s in range(0, 16, 2)),
    "strum-pop": ((0, 4, "D", True), (4, 2, "D", False), (6, 4, "U", False), (10, 2, "U", False),
                  (12, 2, "D", True), (14, 2, "U", False)),
    "skank": ((0, 2, "D", True), (4, 2, "U", False), (8, 2, "D", True), (12, 2, "U", False), (14, 2, "U", False)),
    "chug": tuple((s, 2, "D", s % 8 == 0) for s in range(0, 16, 2)),
    "sustain": ((0, 16, "D", True),),
}
GUITAR_PATTERNS = tuple(STRUMS) + ("arp8", "arp16", "riff")
MELODIC_PATTERNS = ("sustain", "arp8", "arp16", "riff", "strum-pop")
DRUM_PATTERNS: dict[str, dict[int, tuple[int, ...]]] = {
    # GM keys: 36 kick, 38 snare, 39 clap, 42 closed hat, 46 open hat, 51 ride.
    "rock": {36: (0, 8, 10), 38: (4, 12), 42: tuple(range(0, 16, 2))},
    "house": {36: (0, 4, 8, 12), 39: (4, 12), 46: (2, 6, 10, 14), 42: (0, 4, 8, 12)},
    "boombap": {36: (0, 7, 10), 38: (4, 12), 42: tuple(range(0, 16, 2))},
    "break": {36: (0, 10), 38: (4, 7, 12, 15), 42: tuple(range(16))},
    "jazz": {51: (0, 4, 7, 8, 12, 15), 36: (0,), 38: (6, 14)},
}


@dataclass(frozen=True)
class Style:
    """Per-loop performance settings drawn once per loop."""

    velocity: int  # base velocity
    jitter_ms: float  # sd of onset humanisation
    gate: float  # fraction of the step length a note sounds (1 = legato)
    pan: int  # CC10, never exactly centre


def key_name(tonic: int, mode: str) -> str:
    """``key_name(0, "min") == "Cmin"``."""
    return f"{KEY_NAMES[tonic % 12]}{mode}"


def draw_style(rng: np.random.Generator, *, legato: bool | None = None) -> Style:
    pan = int(rng.integers(36, 93))
    if pan == 64:
        pan = 65
    if legato is None:
        legato = bool(rng.random() < 0.5)
    gate = float(rng.uniform(0.85, 1.0)) if legato else float(rng.uniform(0.45, 0.75))
    return Style(velocity=int(rng.integers(62, 112)), jitter_ms=float(rng.uniform(1.5, 7.0)), gate=gate, pan=pan)


def chord_slots(rng: np.random.Generator, mode: str, bars: int) -> tuple[tuple[int, ...], int, tuple[int, ...]]:
    """Pick a progression and how it maps onto the loop.

    Returns
    -------
    progression : tuple of int
        The scale degrees chosen.
    slot_steps : int
        Steps per chord slot (16: one chord per bar, 8: two per bar).
    degrees : tuple of int
        Scale degree of each slot, covering the whole loop.
    """
    progs = PROGRESSIONS[mode]
    prog = progs[int(rng.integers(len(progs)))]
    if bars >= 4:
        slot = 16
    elif bars == 2:
        slot = 16 if rng.random() < 0.5 else 8
    else:
        slot = 8 if (len(prog) > 1 and rng.random() < 0.5) else 16
    n_slots = bars * STEPS_PER_BAR // slot
    return prog, slot, tuple(prog[i % len(prog)] for i in range(n_slots))


def degree_pitch(tonic: int, mode: str, degree: int) -> int:
    """Pitch class offset (semitones above C, may exceed 11) of a scale degree."""
    scale = SCALES[mode]
    return tonic + scale[degree % 7] + 12 * (degree // 7)


def place_in_range(pc: int, low: int, high: int) -> int:
    """The MIDI key with pitch class ``pc`` in ``[low, low + 12)``, clipped to ``high``."""
    key = low + ((pc - low) % 12)
    while key > high:
        key -= 12
    return key


def _humanise(rng: np.random.Generator, tick: int, jitter_ms: float, tempo: float, end: int) -> int:
    if tick == 0:
        return 0
    ticks_per_ms = TPB * tempo / 60000.0
    t = int(round(tick + rng.normal(0.0, jitter_ms) * ticks_per_ms))
    return int(min(max(t, 1), end - 1))


def _velocity(rng: np.random.Generator, style: Style, accent: bool) -> int:
    v = style.velocity + (12 if accent else 0) + rng.normal(0.0, 6.0)
    return int(min(max(round(v), 20), 127))


def _finish(notes: list[Note], end: int, last_tick: int, tempo: float) -> list[Note]:
    """Make the notes of the last grid onset (``last_tick``) last exactly to the loop end, and cut
    any note that would sound past it: the ring-out after the note-off then wraps to the start."""
    margin = int(25.0 * TPB * tempo / 60000.0)  # > 3 sd of the timing humanisation
    out = []
    for n in notes:
        if n.start >= last_tick - margin or n.start + n.length > end:
            out.append(Note(n.start, max(end - n.start, 1), n.key, n.velocity, n.channel))
        else:
            out.append(n)
    return out


def bass_song(rng: np.random.Generator, *, program: int, tempo: float, bars: int, tonic: int, mode: str,
              pattern: str, low: int = 28, high: int = 52, channel: int = 0) -> Song:
    """A bass line: one of :data:`BASS_PATTERNS` over a chord progression in the key."""
    style = draw_style(rng, legato=pattern in ("sustain", "walking") or None)
    _, slot, degrees = chord_slots(rng, mode, bars)
    end = bars * STEPS_PER_BAR * STEP
    notes: list[Note] = []
    steps = BASS_PATTERNS[pattern]
    for bar in range(bars):
        for step, length, tone, accent in steps:
            abs_step = bar * STEPS_PER_BAR + step
            si = abs_step // slot
            deg = degrees[si]
            root = place_in_range(degree_pitch(tonic, mode, deg), low, high - 12)
            if tone == "R":
                key = root
            elif tone == "5":
                key = root + 7
            elif tone == "8":
                key = root + 12
            elif tone == "3":
                key = root + (degree_pitch(tonic, mode, deg + 2) - degree_pitch(tonic, mode, deg))
            elif tone == "7":
                key = root + (degree_pitch(tonic, mode, deg + 6) - degree_pitch(tonic, mode, deg))
            else:  # approach: a semitone below the next slot's root
                nxt = degrees[(si + 1) % len(degrees)]
                key = place_in_range(degree_pitch(tonic, mode, nxt), low, high - 12) - 1
                if key < low:
                    key += 12
            start = _humanise(rng, abs_step * STEP, style.jitter_ms, tempo, end)
            length_t = max(int(length * STEP * style.gate), STEP // 4)
            notes.append(Note(start, length_t, int(key), _velocity(rng, style, accent), channel))
    notes = _finish(notes, end, ((bars - 1) * STEPS_PER_BAR + steps[-1][0]) * STEP, tempo)
    return Song(tempo, notes, {channel: program}, [(0, channel, 10, style.pan)], end_tick=end, ticks_per_beat=TPB)


def voicing(root_pc: int, third: int, low: int = 40, n_notes: int = 5, high: int = 78) -> list[int]:
    """A guitar-like open voicing: root, fifth, octave, tenth, fifth and root above."""
    root = place_in_range(root_pc, low, high)
    offsets = (0, 7, 12, 12 + third, 19, 24)
    return [root + o for o in offsets[:n_notes] if root + o <= high]


def chord_song(rng: np.random.Generator, *, program: int, tempo: float, bars: int, tonic: int, mode: str,
               pattern: str, low: int = 40, high: int = 78, channel: int = 0) -> Song:
    """Strummed, arpeggiated or riffing chords (guitar library, and other melodic instruments)."""
    style = draw_style(rng, legato=pattern in ("sustain", "arp8", "arp16") or (False if pattern in ("chug", "skank") else None))
    _, slot, degrees = chord_slots(rng, mode, bars)
    end = bars * STEPS_PER_BAR * STEP
    ticks_per_ms = TPB * tempo / 60000.0
    strum_ms = float(rng.uniform(4.0, 14.0))
    n_strings = int(rng.integers(4, 7))
    notes: list[Note] = []
    last_step = 0

    def chord_at(abs_step: int) -> tuple[int, list[int]]:
        deg = degrees[abs_step // slot]
        rpc = degree_pitch(tonic, mode, deg)
        third = degree_pitch(tonic, mode, deg + 2) - rpc
        if pattern == "chug":
            return rpc, voicing(rpc, third, low, 3, high)  # power chord: root, fifth, octave
        return rpc, voicing(rpc, third, low, n_strings, high)

    if pattern in STRUMS:
        for bar in range(bars):
            for step, length, direction, accent in STRUMS[pattern]:
                abs_step = bar * STEPS_PER_BAR + step
                last_step = abs_step
                _, keys = chord_at(abs_step)
                order = keys if direction == "D" else keys[::-1]
                t0 = _humanise(rng, abs_step * STEP, style.jitter_ms, tempo, end)
                vel = _velocity(rng, style, accent)
                gate = style.gate if pattern != "chug" else min(style.gate, 0.5)
                for i, key in enumerate(order):
                    start = min(t0 + int(round(i * strum_ms * ticks_per_ms)), end - 1)
                    ln = max(int(length * STEP * gate) - (start - t0), STEP // 4)
                    v = int(min(max(vel - 3 * i + rng.normal(0, 3), 20), 127))
                    notes.append(Note(start, ln, key, v, channel))
    elif pattern in ("arp8", "arp16"):
        every = 2 if pattern == "arp8" else 1
        up_down = rng.random() < 0.5
        for abs_step in range(0, bars * STEPS_PER_BAR, every):
            _, keys = chord_at(abs_step)
            last_step = abs_step
            k = abs_step // every
            seq = keys + keys[-2:0:-1] if up_down and len(keys) > 2 else keys
            key = seq[k % len(seq)]
            start = _humanise(rng, abs_step * STEP, style.jitter_ms, tempo, end)
            ln = max(int(every * STEP * (1.6 if style.gate > 0.8 else style.gate)), STEP // 4)
            notes.append(Note(start, ln, key, _velocity(rng, style, abs_step % 4 == 0), channel))
    elif pattern == "riff":
        scale = SCALES[mode]
        penta = [scale[i] for i in ((0, 2, 3, 4, 6) if mode == "min" else (0, 1, 2, 4, 5))]
        base = place_in_range(tonic, low + 5, high)
        idx = 0
        abs_step = 0
        while abs_step < bars * STEPS_PER_BAR:
            length = int(rng.choice((1, 2, 2, 3, 4))) if abs_step else 2
            length = min(length, bars * STEPS_PER_BAR - abs_step)
            idx = int(np.clip(idx + rng.integers(-2, 3), -3, 8))
            octv, pos = divmod(idx, len(penta))
            key = int(np.clip(base + 12 * octv + penta[pos], low, high))
            start = _humanise(rng, abs_step * STEP, style.jitter_ms, tempo, end)
            ln = max(int(length * STEP * style.gate), STEP // 4)
            notes.append(Note(start, ln, key, _velocity(rng, style, abs_step % 4 == 0), channel))
            last_step = abs_step
            abs_step += length
    else:
        raise ValueError(f"unknown chord pattern {pattern!r}")
    notes = _finish(notes, end, last_step * STEP, tempo)
    return Song(tempo, notes, {channel: program}, [(0, channel, 10, style.pan)], end_tick=end, ticks_per_beat=TPB)


def drum_song(rng: np.random.Generator, *, kit: int, tempo: float, bars: int, pattern: str) -> Song:
    """A GM drum-kit groove on channel 10 (out-of-style material)."""
    style = draw_style(rng, legato=False)
    end = bars * STEPS_PER_BAR * STEP
    notes: list[Note] = []
    swing = float(rng.uniform(0.0, 0.2)) if pattern in ("boombap", "jazz") else 0.0
    for bar in range(bars):
        for key, steps in DRUM_PATTERNS[pattern].items():
            for step in steps:
                abs_step = bar * STEPS_PER_BAR + step
                tick = abs_step * STEP + (int(swing * STEP) if step % 2 else 0)
                start = _humanise(rng, tick, style.jitter_ms, tempo, end)
                v = _velocity(rng, style, step % 4 == 0) - (15 if key in (42, 46, 51) else 0)
                notes.append(Note(start, STEP, key, int(min(max(v, 20), 127)), DRUM_CHANNEL))
    # a crash or an extra kick on the last sixteenth keeps the loop sounding to its end
    notes.append(Note(end - STEP, STEP, 36, _velocity(rng, style, False), DRUM_CHANNEL))
    return Song(tempo, notes, {DRUM_CHANNEL: kit}, [(0, DRUM_CHANNEL, 10, style.pan)], end_tick=end,
                ticks_per_beat=TPB)


SPEECH_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-029", "de", "fr", "es", "it", "nl", "pt")
SPEECH_VARIANTS = ("", "+m1", "+m3", "+m5", "+f1", "+f2", "+f4")
SPEECH_WORDS = (
    "check one two", "the", "loop", "starts", "here", "again", "bring", "the bass", "up", "a little", "more",
    "drop", "in", "on the", "four", "count", "it", "take", "from the top", "hold", "on", "that", "was", "good",
    "sample", "pack", "volume", "one", "last", "time", "please", "mute", "the", "click", "track", "okay", "yeah",
    "let's", "go", "nice", "and", "record",
)


def speech_text(rng: np.random.Generator, n_words: int) -> str:
    """A short studio-talk sentence of about ``n_words`` words."""
    words = [str(SPEECH_WORDS[int(i)]) for i in rng.integers(0, len(SPEECH_WORDS), n_words)]
    return " ".join(words)
