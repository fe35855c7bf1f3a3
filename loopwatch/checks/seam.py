"""Loop seam: does the end of the file run into its start?

A loop plays its last sample and then its first. If the file was cut a few
milliseconds short or long, or its tail was not wrapped, the waveform jumps
there: a click on every repetition that no general tool reports, because in
the file the two samples are at opposite ends.

Two jump tests look at the join. The click detector runs on the last
85 ms joined to the first 85 ms (:func:`loopwatch.checks.click.detect_impulses`),
with its rules for attacks, since a loop's downbeat usually sits at the
wrap. And an LPC model fitted on the last 20 ms predicts the first sample
(:func:`seam_step`): a seamless loop continues as its end predicts, while a
loop cut short or long jumps, even when its downbeat is a noisy attack that
the click detector leaves alone.

It also compares the level and the brightness (energy of the first
difference, a crude high-frequency measure) of the 10 ms either side of the
wrap with the same comparison at every other point of the loop. Only *drops*
count: a loop whose downbeat attack sits at sample 0 rises sharply at the
wrap, and that is music; but sound does not fall by 12 dB or get 12 dB duller
from one 10 ms window to the next unless it was cut (a tail cut off, a
fade-in at the start). A drop at the seam of at least ``level_db`` /
``spectral_db``, and larger than any drop the music makes elsewhere, is a
level or spectral mismatch.
"""

from __future__ import annotations

import numpy as np

from loopwatch.checks._common import as_array, db, db_power, finding
from loopwatch.checks.click import detect_impulses
from loopwatch.findings import Finding

NAME = "seam"


def seam_jump(x: np.ndarray, sr: int = 48000, *, context_ms: float = 85.0, window_ms: float = 1.0,
              **detect_params) -> tuple[float, float] | None:
    """Detect a jump at the wrap of one channel.

    Returns ``(score_db, level_db)`` of the impulsive event at the wrap (within
    ``window_ms``), or None. ``detect_params`` go to
    :func:`loopwatch.checks.click.detect_impulses`.
    """
    x = np.asarray(x, dtype=np.float32)
    n = x.size
    k = min(n, int(context_ms * sr / 1000))
    if k < 256:
        return None
    w = np.concatenate([x[-k:], x[:k]])
    params = dict(edge_ms=1.0)
    params.update(detect_params)
    events = detect_impulses(w, sr, **params)
    win = max(2, int(window_ms * sr / 1000))
    near = [e for e in events if abs(e.peak - k) <= win]
    if not near:
        return None
    e = max(near, key=lambda e: e.score_db)
    return e.score_db, e.level_db


def seam_step(x: np.ndarray, sr: int = 48000, *, order: int = 24, fit_ms: float = 20.0) -> tuple[float, float] | None:
    """Forward-predict the first sample from the end of one channel: ``(ratio_db, jump)``, or None.

    An LPC model (order ``order``) is fitted on the last ``fit_ms`` and
    predicts sample 0 from the samples before the wrap. ``jump`` is the
    prediction error there; ``ratio_db`` compares it with the RMS of the
    model's own prediction error over the fitted stretch. A seamless loop
    continues as the end predicts (the downbeat's attack starts from the
    tail); a loop cut short jumps.
    """
    from loopwatch.checks.click import _lpc_autocorr

    x = np.asarray(x, dtype=np.float64)
    n = x.size
    k = min(n - 1, int(fit_ms * sr / 1000))
    if k < 4 * order:
        return None
    end = x[-k:]
    a = _lpc_autocorr(end, order)
    e_in = np.convolve(end, a)[order:k]
    sigma = float(np.sqrt(np.mean(e_in * e_in))) + 1e-12
    hist = end[-order:][::-1]  # x[n-1], x[n-2], ...
    pred = -float(np.dot(a[1:], hist))
    jump = float(x[0] - pred)
    return float(db(abs(jump) / sigma)), jump


def _steps(x: np.ndarray, half: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Signed level and brightness steps (dB, after minus before) between the ``half`` samples before and
    after points every ``hop`` samples of the loop; index 0 is the seam, the others keep the seam out of
    both windows. ``half`` must be a multiple of ``hop``."""
    x = np.asarray(x, dtype=np.float32)
    n = x.size
    d = np.diff(x, prepend=x[-1])  # circular: the first difference across the wrap
    floor = 1e-12 * half

    def steps(b0, a0, b1, a1):
        lvl = db_power((a0 + floor) / (b0 + floor))
        tilt = db_power(((a1 + floor) / (a0 + floor)) / ((b1 + floor) / (b0 + floor)))
        return lvl, tilt

    seam = steps(float(np.dot(x[-half:], x[-half:])), float(np.dot(x[:half], x[:half])),
                 float(np.dot(d[-half:], d[-half:])), float(np.dot(d[:half], d[:half])))
    nb = n // hop
    if nb < 2 * (half // hop) + 1:
        return np.array([seam[0]]), np.array([seam[1]])
    e = np.einsum("ij,ij->i", *(2 * [x[: nb * hop].reshape(nb, hop)]), dtype=np.float64)
    ed = np.einsum("ij,ij->i", *(2 * [d[: nb * hop].reshape(nb, hop)]), dtype=np.float64)
    ce, cd = np.concatenate([[0.0], np.cumsum(e)]), np.concatenate([[0.0], np.cumsum(ed)])
    k = half // hop
    pts = np.arange(k, nb - k + 1)  # block boundaries with whole windows either side
    lvl, tilt = steps(ce[pts] - ce[pts - k], ce[pts + k] - ce[pts], cd[pts] - cd[pts - k], cd[pts + k] - cd[pts])
    return np.concatenate([[seam[0]], lvl]), np.concatenate([[seam[1]], tilt])


def check_seam(
    audio,
    sr: int | None = None,
    *,
    threshold_db: float = 20.0,
    step_db: float = 26.0,
    min_level_db: float = -60.0,
    error_level_db: float = -30.0,
    level_db: float = 12.0,
    spectral_db: float = 12.0,
    margin_db: float = 3.0,
    window_ms: float = 10.0,
    min_loudness_db: float = -60.0,
    silence_ms: float = 5.0,
) -> list[Finding]:
    """Check the wrap from the last sample to the first.

    Parameters
    ----------
    threshold_db, min_level_db
        Passed to the click detector for the jump test (see
        :func:`loopwatch.checks.click.detect_impulses`).
    step_db : float
        The second jump test (:func:`seam_step`): the first sample's forward
        prediction error over the end's own prediction error RMS. 26 dB is a
        20-sigma outlier; a seamless wrap stays within a few sigma, and this
        test still sees a jump that coincides with a noisy attack at sample 0.
    error_level_db : float
        A jump whose estimated size reaches this (dBFS) is ``error``.
    level_db, spectral_db : float
        Smallest level / brightness drop into the start reported as a
        mismatch. 12 dB within 10 ms is a cut, not a decay.
    margin_db : float
        ...and it must exceed the largest such drop anywhere else in the loop
        by this much (staccato notes that are cut short drop at every note).
    window_ms : float
        Length compared either side of each point.
    min_loudness_db : float
        Skip the mismatch test when both sides are quieter than this (RMS dBFS).
    silence_ms : float
        When the file starts or ends with this much digital silence the
        silence check reports it, and this check stays quiet.

    Returns
    -------
    list of Finding
        At ``t0`` = the last sample, ``t1`` = the end of the file (the wrap).
    """
    x, sr = as_array(audio, sr)
    ch, n = x.shape
    if n < 2:
        return []
    t0, t1 = (n - 1) / sr, n / sr
    out: list[Finding] = []
    from loopwatch.checks.silence import edge_silence

    lead, trail = edge_silence(x)
    if max(lead, trail) >= int(silence_ms * sr / 1000):
        return out  # the wrap runs into digital silence: the silence check's finding
    best = None
    for c in range(ch):
        r = seam_jump(x[c], sr, threshold_db=threshold_db, min_level_db=min_level_db)
        st = seam_step(x[c], sr)
        if st is not None and st[0] >= step_db and db(abs(st[1])) >= min_level_db:
            r = max(r or (st[0], float(db(abs(st[1])))), (st[0], float(db(abs(st[1])))))
        if r is not None and (best is None or r[0] > best[0]):
            best = (r[0], r[1], c)
    if best is not None:
        score, level, c = best
        jump = float(np.max(np.abs(x[:, -1] - x[:, 0])))
        sev = "error" if level >= error_level_db else "warn"
        out.append(finding(NAME, sev, t0, t1, score, "dB",
                           f"loop seam clicks: end does not meet start (jump {db(jump):.0f} dBFS, "
                           f"+{score:.0f} dB above local residual)"))
        return out
    half = int(window_ms * sr / 1000)
    if n < 8 * half:
        return out
    mono = x.mean(axis=0)
    rms_end = float(np.sqrt(np.mean(mono[-half:] ** 2)))
    rms_start = float(np.sqrt(np.mean(mono[:half] ** 2)))
    if max(db(rms_end), db(rms_start)) < min_loudness_db:
        return out
    hop = max(1, half // 4)
    lvl, tilt = _steps(mono, (half // hop) * hop, hop)
    seam_l, seam_t = float(lvl[0]), float(tilt[0])
    other_l = float(-lvl[1:].min()) if lvl.size > 1 else 0.0  # largest drop elsewhere
    other_t = float(-tilt[1:].min()) if tilt.size > 1 else 0.0
    if seam_l <= -level_db and -seam_l >= other_l + margin_db:
        out.append(finding(NAME, "warn", t0, t1, -seam_l, "dB",
                           f"loop seam level drop: the start is {-seam_l:.0f} dB quieter than the end "
                           f"(largest drop elsewhere {other_l:.0f} dB)"))
    elif seam_t <= -spectral_db and -seam_t >= other_t + margin_db:
        out.append(finding(NAME, "warn", t0, t1, -seam_t, "dB",
                           f"loop seam spectral drop: the start is {-seam_t:.0f} dB duller than the end "
                           f"(largest drop elsewhere {other_t:.0f} dB)"))
    return out
