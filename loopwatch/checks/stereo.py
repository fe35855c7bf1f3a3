"""Stereo: a dead channel, fake stereo (identical channels) and polarity inversion (L = -R).

Only the first two channels are compared (the stereo pair of a multichannel
file). The measures are the Pearson correlation of L and R over the file and
the mono-sum loss: how much quieter ``(L + R) / 2`` is than the average of the
two channels' powers. An in-phase pair loses nothing, independent channels
lose 3 dB, an inverted pair cancels.
"""

from __future__ import annotations

import numpy as np

from loopwatch.checks._common import DIGITAL_ZERO, as_array, db_power, finding
from loopwatch.findings import Finding

NAME = "stereo"


def stereo_stats(left: np.ndarray, right: np.ndarray) -> tuple[float, float, float]:
    """``(correlation, mono_loss_db, level_difference_db)`` of two channels (zeros for silence)."""
    l = np.asarray(left, dtype=np.float32)
    r = np.asarray(right, dtype=np.float32)
    n = l.size
    if n == 0:
        return 0.0, 0.0, 0.0
    ml, mr = float(np.mean(l, dtype=np.float64)), float(np.mean(r, dtype=np.float64))
    # centred sums from raw dot products (BLAS, one pass each)
    pl = float(np.dot(l, l)) - n * ml * ml
    pr = float(np.dot(r, r)) - n * mr * mr
    plr = float(np.dot(l, r)) - n * ml * mr
    if pl <= 0.0 or pr <= 0.0:
        return 0.0, 0.0, 0.0
    corr = float(np.clip(plr / np.sqrt(pl * pr), -1.0, 1.0))
    pm = 0.25 * (pl + pr + 2.0 * plr)
    loss = float(db_power((pl + pr) / 2.0 / max(pm, 1e-30)))
    return corr, loss, float(db_power(pl / pr))


def check_stereo(
    audio,
    sr: int | None = None,
    *,
    inverted_corr: float = -0.5,
    identical_tol_db: float = -90.0,
    min_level_db: float = -70.0,
) -> list[Finding]:
    """Flag a dead channel (``warn``: one side digital silence throughout while the other plays), polarity inversion
    (``warn``; ``error`` when the mono sum cancels by 20 dB or more) and fake stereo (``info``).

    Parameters
    ----------
    inverted_corr : float
        Correlation at or below which the pair counts as polarity-inverted.
        Wide real stereo (spaced microphones, stereo reverbs, wideners) sits
        between about -0.2 and +1 over a whole loop; a pair below -0.5
        cancels audibly in mono, which is what a flipped cable or plug-in
        phase switch produces.
    identical_tol_db : float
        Channels whose difference is this far below their level are identical:
        a mono file stored as stereo (costs space, not sound).
    min_level_db : float
        Ignore near-silent files (RMS dBFS).
    """
    x, sr = as_array(audio, sr)
    if x.shape[0] < 2 or x.shape[1] < 2:
        return []
    l, r = x[0], x[1]
    n = x.shape[1]
    dur = n / sr
    p = max(float(np.dot(l, l)), float(np.dot(r, r))) / n
    if db_power(p) < min_level_db:
        return []
    silent = [ch for ch, c in enumerate((l, r)) if float(np.max(np.abs(c))) < DIGITAL_ZERO]
    if silent:  # the other channel plays (the file is above min_level_db): one side never made a sound
        ch = silent[0]
        side, other = ("left", "right") if ch == 0 else ("right", "left")
        return [finding(NAME, "warn", 0.0, dur, 0.0, "", f"the {side} channel is digital silence from start to end "
                        f"while the {other} plays: a dead input or a mono source recorded on one side of a stereo "
                        "track", channel=ch)]
    d = l - r
    diff = float(np.dot(d, d)) / n
    if db_power(diff / p) <= identical_tol_db:
        return [finding(NAME, "info", 0.0, dur, float(db_power(max(diff, 1e-30) / p)), "dB",
                        "left and right are identical (mono stored as stereo)")]
    corr, loss, _ = stereo_stats(l, r)
    if corr <= inverted_corr:
        sev = "error" if loss >= 20.0 else "warn"
        return [finding(NAME, sev, 0.0, dur, corr, "corr",
                        f"polarity inverted: L/R correlation {corr:+.2f}, mono sum {loss:.0f} dB quieter")]
    return []
