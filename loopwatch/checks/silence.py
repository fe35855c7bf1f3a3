"""Silence: a silent file, and leading or trailing silence that breaks a loop.

A loop plays end-to-start forever, so digital silence at its start (an export
or latency offset) makes it late and longer than its bars, and silence at its
end leaves a gap every time it repeats. Only *digital* silence (below half an
LSB of 16-bit audio, -96 dBFS) counts at the edges: a rest is rarely
digitally silent in a loop rendered with its tail, and a slow fade-in rises
above -96 dBFS within a sample or two.
"""

from __future__ import annotations

import numpy as np

from loopwatch.checks._common import DIGITAL_ZERO, as_array, db, finding
from loopwatch.findings import Finding

NAME = "silence"


def edge_silence(x: np.ndarray, level: float = DIGITAL_ZERO) -> tuple[int, int]:
    """Samples of silence at the start and at the end of ``x`` ``(channels, samples)`` (all channels below ``level``).

    Scans inwards from each end in chunks, so a file that starts and ends with
    sound costs almost nothing.
    """
    n = x.shape[1]

    def first_loud(seq_len: int, get) -> int:
        pos, chunk = 0, 2048
        while pos < seq_len:
            seg = get(pos, min(seq_len, pos + chunk))
            hit = np.flatnonzero(np.any(np.abs(seg) >= level, axis=0))
            if hit.size:
                return pos + int(hit[0])
            pos += chunk
            chunk *= 2
        return seq_len

    lead = first_loud(n, lambda a, b: x[:, a:b])
    if lead == n:
        return n, n
    trail = first_loud(n, lambda a, b: x[:, n - b : n - a][:, ::-1])
    return lead, trail


def check_silence(
    audio,
    sr: int | None = None,
    *,
    path=None,
    bpm: float | None = None,
    silent_db: float = -70.0,
    edge_ms: float = 5.0,
    error_ms: float = 20.0,
    edge_level_db: float = -96.3,
    tolerance_ms: float = 2.0,
) -> list[Finding]:
    """Find an all-silent file and leading/trailing digital silence.

    When the loop's tempo is known (``bpm``, or the ``acid`` chunk or file name
    of ``path``, as for the length check), the silence is judged against it:

    * if the file is a whole number of beats *with* the silence, the silence
      is a rest that belongs to the loop: ``info``;
    * if it is a whole number of beats *without* it, the silence is padding
      (an export range too long, a latency offset): ``error``, saying so.

    Without a tempo, silence of ``edge_ms`` or more is ``warn`` and of
    ``error_ms`` or more ``error``.

    Parameters
    ----------
    silent_db : float
        A file whose sample peak is at or below this (dBFS) is silent
        (``error``). -70 dBFS is below the noise floor of any real recording
        and 20 dB under the quietest loop anyone ships.
    edge_ms : float
        Shortest leading or trailing silence reported. 5 ms is a quarter of a
        16th note at 180 BPM: less is within a DAW's nudge resolution, more
        audibly drags or gaps the loop.
    error_ms : float
        From this length it is ``error`` (a 32nd note at 190 BPM).
    edge_level_db : float
        Level counted as digital silence at the edges (default: half an LSB of
        16-bit audio).
    tolerance_ms : float
        How close to a whole number of beats counts as whole (as in the length check).
    """
    from loopwatch.checks.tempo import loop_tempo

    x, sr = as_array(audio, sr)
    n = x.shape[1]
    if n == 0:
        return []
    dur = n / sr
    pk = float(np.abs(x).max())
    if pk == 0.0:
        return [finding(NAME, "error", 0.0, dur, -200.0, "dBFS", "file is digital silence")]
    if db(pk) <= silent_db:
        return [finding(NAME, "error", 0.0, dur, float(db(pk)), "dBFS", f"file is silent (peak {db(pk):.1f} dBFS)")]
    lead, trail = edge_silence(x, 10.0 ** (edge_level_db / 20.0))
    min_len = edge_ms * sr / 1000
    if lead < min_len and trail < min_len:
        return []
    if path is None:
        path = getattr(audio, "path", None)
    tempo, beats_hint, source = loop_tempo(path if path != "<array>" else None, bpm)
    out = []
    for kind, k, t0, t1 in (("leading", lead, 0.0, lead / sr), ("trailing", trail, (n - trail) / sr, dur)):
        if k < min_len:
            continue
        ms = k * 1000.0 / sr
        what = (f"{kind} silence: {ms:.1f} ms of digital silence "
                f"{'before the first sound' if kind == 'leading' else 'after the last sound'}")
        sev = "error" if ms >= error_ms else "warn"
        if tempo:
            beat = 60.0 / tempo
            def off(d: float) -> float:
                whole = beats_hint if beats_hint else max(1, round(d / beat))
                return abs(d - whole * beat) * 1000.0
            if off(dur) <= tolerance_ms:
                sev, what = "info", f"{what} (the loop is whole beats at {tempo:g} BPM with it: a rest)"
            elif off(dur - k / sr) <= tolerance_ms:
                sev = "error"
                what = f"{what}: padding, the loop is whole beats at {tempo:g} BPM ({source}) without it"
        out.append(finding(NAME, sev, t0, t1, ms, "ms", what))
    return out
