"""Clicks and discontinuities: short impulsive disturbances and waveform jumps.

Method (Vaseghi & Rayner's LPC detector, with a matched filter, robust decision
rules and a model-based classification):

1. Whiten each channel with a block-adaptive LPC inverse filter (order 24, new
   coefficients every 1024 samples) and correlate the residual with the inverse
   filter's impulse response (:func:`loopwatch.checks._lpc.detection_signal`).
   An additive impulse peaks there on its own sample; music the model
   predicts is reduced to a near-white floor.
2. Estimate that floor robustly: RMS in 256-sample blocks, then the median over
   9 blocks (48 ms). A click occupies one block at most, so it cannot raise its
   own threshold.
3. A candidate must stand ``threshold_db`` above the floor, have an estimated
   amplitude of at least ``min_level_db``, and stand ``isolation_db`` above
   every other peak of the detection signal within ``context_ms`` on either
   side. The last rule is what keeps periodic edges (a naive sawtooth or
   square synth, the pitch pulses of a bass note's residual) and busy drum
   transients from being called clicks: a click is a *lone* event.
4. Musical attacks are the classic false alarm of residual detectors. Where the
   signal's energy changes by more than ``onset_db`` across the candidate
   (10 ms after vs 10 ms before), it must also stand ``onset_isolation_db``
   above its neighbourhood, more at strong attacks.
5. Samples that are part of clipped plateaus or of digital-silence runs are
   left to the clipping and dropout checks.
6. Each event is then explained by an AR model fitted on the samples around
   it (:func:`_explain`): if re-estimating a short core of samples
   (Godsill & Rayner's least-squares AR interpolation) removes the
   disturbance, it was additive: a **click**; if a step (plus a ramp) from
   one sample on explains it as well, the waveform continues from a
   different place: a **discontinuity** (a splice, lost or repeated samples,
   a jump); if neither does, the disturbance lasts (a pick's or a drum's
   noise): music, not reported. Steps that are the music's own (a sound's
   attack, the edges of a sawtooth synth) are sorted out last.

Localisation is the detection signal's peak, which for an impulse is the
impulse's own sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
from scipy.ndimage import median_filter

from loopwatch.checks._common import DIGITAL_ZERO, as_array, db, finding, memoized, runs
from loopwatch.checks._lpc import detection_signal
from loopwatch.checks.clipping import clipped_mask
from loopwatch.findings import Finding

NAME = "click"
NAME_DISCONTINUITY = "discontinuity"


@dataclass(frozen=True)
class ImpulseEvent:
    """One detected event, before it becomes a :class:`Finding`.

    ``start``/``stop``/``peak`` are sample indices of the channel it was found in.
    """

    channel: int
    start: int
    stop: int
    peak: int
    score_db: float  # detection peak over the local floor
    isolation_db: float  # detection peak over the largest other peak nearby
    level_db: float  # estimated impulse amplitude, dBFS
    onset_db: float  # signal energy after vs before, dB
    kind: str  # "click" or "discontinuity"
    residual_db: float  # prediction error left after AR interpolation, dB over the floor
    floor_change_db: float = 0.0  # residual floor after vs before, dB
    relative_db: float = 0.0  # estimated amplitude over the signal's RMS within +-10 ms, dB


def detect_impulses(
    x: np.ndarray,
    sr: int = 48000,
    *,
    channel: int = 0,
    order: int = 24,
    hop: int = 1024,
    threshold_db: float = 20.0,
    isolation_db: float = 6.0,
    rival_db: float = 12.0,
    periodic_db: float = 30.0,
    periodic_ms: float = 60.0,
    min_level_db: float = -60.0,
    min_relative_db: float = -30.0,
    context_ms: float = 20.0,
    onset_db: float = 6.0,
    onset_isolation_db: float = 10.0,
    floor_change_db: float = 6.0,
    strong_onset_db: float = 20.0,
    strong_onset_isolation_db: float = 25.0,
    attack_max_width_ms: float = 0.8,
    merge_ms: float = 1.0,
    edge_ms: float = 1.0,
    max_width_ms: float = 1.5,
    jump_max_width_ms: float = 0.25,
    jump_db: float = 9.0,
    edge_db: float = 25.0,
    exclude: np.ndarray | None = None,
    offset: int = 0,
    trace: list | None = None,
) -> list[ImpulseEvent]:
    """Detect impulsive events in one channel.

    This is the block-friendly core: it looks only at ``x`` (plus nothing
    carried), so the streaming form runs it on overlapping windows and keeps
    the events in each window's settled middle (see :class:`ClickStream`).

    Parameters
    ----------
    x : np.ndarray, 1-D float32
        One channel.
    sr : int
        Sample rate; the time constants below are converted with it.
    channel : int
        Stored in the returned events.
    order, hop : int
        LPC order and hop (samples). Order 24 at 48 kHz models about a dozen
        resonances, enough to whiten plucked strings; 1024-sample hops (21 ms)
        follow note changes.
    threshold_db : float
        Detection peak over the local floor. 20 dB puts the false-alarm rate of
        Gaussian residual at about 1e-23 per sample; what remains are real
        non-Gaussian events, sorted out by the rules below. A click at -40 dBFS
        in a typical bass or guitar loop scores 35-60 dB.
    isolation_db : float
        Peak over the largest other detection peak within ``context_ms``.
    rival_db : float
        An event less isolated than this must not have two or more rival
        peaks within ``rival_db`` of it in its neighbourhood: a train of
        similar peaks is the edges of a periodic waveform (a saw or pulse
        synth bass, whose first edge after a note change is the strongest)
        or a busy drum transient, not a click. 12 dB: drum transients are
        also rejected later as bursts, and saw edges as steps, so a click in
        busy material only needs to stand clear of its nearest rivals.
    periodic_db, periodic_ms : float
        An event with other detection peaks within ``periodic_db`` of it,
        recurring at a regular spacing within ``periodic_ms`` on either side, is
        one edge of a periodic waveform (a sawtooth or pulse synth bass; its
        first edge after a note change is the strongest, so isolation alone
        does not reject it). Clicks do not recur at the pitch period.
    min_level_db : float
        Smallest impulse amplitude reported, dBFS. Quieter ticks are inaudible
        under music; in silence they are below a 16-bit file's own dither.
    min_relative_db : float
        Smallest impulse amplitude relative to the signal's RMS within
        +-11 ms. A broadband tick 30 dB under the music around it is masked;
        sampled instruments are full of such micro-discontinuities (sample
        loop points, voice starts) that nobody hears.
    context_ms : float
        Half-width of the neighbourhood for the isolation test.
    onset_db, floor_change_db, onset_isolation_db, attack_max_width_ms : float
        When the signal's energy 1-10 ms after the event differs from the
        1-10 ms before by more than ``onset_db``, or the detection signal's
        median (the residual floor) changes by more than ``floor_change_db``,
        the event is at a musical attack or cut-off (a new sound brings its own
        noise; a click leaves the floor alone). It then needs
        ``onset_isolation_db`` of isolation and must be no wider than
        ``attack_max_width_ms`` (a pick's or a drum's noise lasts a
        millisecond or more, a digital click a few samples). 10 dB: the
        classification below rejects what is left of an attack's noise (a
        burst that no short core explains), so a click on a note's attack
        needs no more isolation than that.
    strong_onset_db, strong_onset_isolation_db : float
        Where either change exceeds ``strong_onset_db`` (a drum sample, a
        pick attack or a synth note starting abruptly, often from near
        silence), ``strong_onset_isolation_db``, and at least the change
        less 10 dB: a click must stand out of the new sound's own transient
        about as far as that sound stands out of what came before.
    merge_ms : float
        Candidate samples closer than this form one event.
    max_width_ms, jump_max_width_ms : float
        Events whose detection peak stays above half its height for longer
        than ``max_width_ms`` are transients, not clicks. A jump must be
        instantaneous: no wider than ``jump_max_width_ms``.
    edge_ms : float
        Events this close to either end of ``x`` are skipped (the file's ends are
        the loop seam, judged by the seam check).
    jump_db : float
        Classification (:func:`_explain`): an AR model fitted round the event
        must explain it, after re-estimating a short core of samples (an
        additive **click**) or after adding a step and a ramp (a **jump**:
        the waveform continues from elsewhere), to within ``jump_db`` of the
        prediction error it leaves nearby. The step wins when it explains as
        much as the narrowest cores. What neither explains is a burst of
        noise that lasts (a pick, a drum): music, not reported.
    edge_db : float
        A click whose waveform step (largest sample-to-sample change) is this
        much larger than its impulse amplitude is mostly a steep edge of the
        waveform: it is rejected when the waveform steps as steeply within
        30 ms on both sides or at the pitch period (a sawtooth or pulse
        synth's edge; the rules for jumps). 25 dB: an added click's step is
        its own amplitude (a few dB more for a burst of several samples); a
        band-limited sawtooth's edge is a step of tens of dB more than the
        impulse the matched filter reads in it. A jump that those rules
        reject but a short core also explains is judged as a click.
    exclude : np.ndarray of bool, optional
        Samples not to report (clipped plateaus, dropouts).
    offset : int
        Added to all sample indices in the result (block position in a stream).
    trace : list, optional
        Diagnostics: when given, ``(peak_index, reason)`` is appended for every
        candidate event that was rejected.

    Returns
    -------
    list of ImpulseEvent
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = x.size
    p = int(order)
    edge = max(p + 2, int(edge_ms * sr / 1000))
    if n < 2 * edge + 8:
        return []
    m, gain = detection_signal(x, p, hop)
    am = np.abs(m)
    B = 256
    nb = -(-n // B)
    padded = np.zeros(nb * B, dtype=np.float32)
    padded[:n] = am
    block_rms = np.sqrt(np.mean(padded.reshape(nb, B) ** 2, axis=1, dtype=np.float64))
    floor = median_filter(block_rms, size=9, mode="nearest")
    floor = np.maximum(floor, 1e-9)
    thr = 10.0 ** (threshold_db / 20.0)
    cand = np.flatnonzero(padded[:n] > np.repeat((floor * thr).astype(np.float32), B)[:n])
    cand = cand[(cand >= edge) & (cand < n - edge)]
    if cand.size == 0:
        return []
    if exclude is not None:
        cand = cand[~exclude[cand]]
        if cand.size == 0:
            return []
    merge = max(1, int(merge_ms * sr / 1000))
    groups = np.split(cand, np.flatnonzero(np.diff(cand) > merge) + 1)
    ctx = int(context_ms * sr / 1000)
    guard = merge
    short = max(2, int(0.001 * sr))
    long_ = max(short + 1, int(0.010 * sr))
    out: list[ImpulseEvent] = []
    lvl_min = 10.0 ** (min_level_db / 20.0)
    iso_lin = 10.0 ** (isolation_db / 20.0)
    rival_lin = 10.0 ** (rival_db / 20.0)
    periodic_lin = 10.0 ** (periodic_db / 20.0)
    pctx = int(periodic_ms * sr / 1000)
    max_width = max(1, int(max_width_ms * sr / 1000))
    attack_width = max(1, int(attack_max_width_ms * sr / 1000))
    jump_width = max(1, int(jump_max_width_ms * sr / 1000))
    edge_lin = 10.0 ** (edge_db / 20.0)
    for g in groups:
        c = int(g[np.argmax(am[g])])
        peak = float(am[c])
        fl = float(floor[c // B])
        level = peak / float(gain[min(c // hop, len(gain) - 1)])
        if level < lvl_min:
            _reject(trace, c + offset, "level")
            continue
        s0, s1 = int(g[0]), int(g[-1]) + 1
        # extent: where the detection signal stays above half the peak (the
        # matched filter's own spread stays below that for an impulse)
        above = g[am[g] >= 0.5 * peak]
        start, stop = int(above[0]), int(above[-1]) + 1
        if stop - start > max_width:
            _reject(trace, c + offset, "width")
            continue
        lo, hi = max(0, s0 - ctx), min(n, s1 + ctx)
        left = am[lo : max(lo, s0 - guard)]
        right = am[min(hi, s1 + guard) : hi]
        neigh = max(float(left.max()) if left.size else 0.0, float(right.max()) if right.size else 0.0)
        iso = peak / max(neigh, fl, 1e-12)
        if iso < iso_lin:
            _reject(trace, c + offset, "isolation")
            continue
        if iso < rival_lin and (_count_peaks(left, peak / rival_lin, merge) + _count_peaks(right, peak / rival_lin, merge)) >= 2:
            _reject(trace, c + offset, "rivals")
            continue  # a train of similar peaks: waveform edges of a periodic sound, or a busy transient
        e_after = _mean_square(x, s1 + short, s1 + long_)
        e_before = _mean_square(x, s0 - long_, s0 - short)
        onset = float(10.0 * np.log10((e_after + 1e-14) / (e_before + 1e-14)))
        # the residual's floor after vs before: a new sound (a drum sample
        # starting, a pick attack) brings its own noise, a click does not
        f_after = float(np.median(am[min(n, s1 + guard) : min(n, s1 + long_)])) if s1 + guard < n else 0.0
        f_before = float(np.median(am[max(0, s0 - long_) : max(0, s0 - guard)])) if s0 - guard > 0 else 0.0
        rise = float(db((f_after + 1e-9) / (f_before + 1e-9)))
        change = max(abs(onset), abs(rise))
        at_attack = abs(onset) > onset_db or abs(rise) > floor_change_db
        if at_attack and (db(iso) < onset_isolation_db or stop - start > attack_width) or (
            change > strong_onset_db and db(iso) < max(strong_onset_isolation_db, change - 10.0)
        ):
            _reject(trace, c + offset, "onset")
            continue
        if _periodic(am, c, s0, s1, peak / periodic_lin, pctx, merge):
            _reject(trace, c + offset, "periodic")
            continue  # one edge of a periodic waveform (saw/pulse synth), the strongest after a note change
        local = np.sqrt(max(_mean_square(x, s0 - long_, s1 + long_), 1e-20))
        dd = np.abs(np.diff(x[max(0, start - 2) : min(n, stop + 3)].astype(np.float64)))
        step_size = float(dd.max()) if dd.size else 0.0
        if db(max(level, step_size) / local) < min_relative_db:
            _reject(trace, c + offset, "relative")
            continue  # too quiet against the music to be heard, as a click or as a jump
        # What explains the disturbance (see _explain): an additive click of a
        # few samples, a step (the waveform continues from elsewhere), or
        # neither (a burst of noise that lasts: a pick or a drum, music)?
        ex = _explain(x, p, c, start, stop, jump_db)
        if ex.kind == "burst":
            _reject(trace, c + offset, "burst")
            continue
        kind = NAME if ex.kind == "click" else NAME_DISCONTINUITY
        if kind == NAME_DISCONTINUITY:
            why = _musical_step(x, c, s0, s1, stop - start, at_attack, jump_width, pctx, merge, guard, sr)
            if why and ex.also_click:
                # not an edit, but the event is still explained as a short
                # added disturbance: judge it as a click
                kind = NAME
            elif why:
                _reject(trace, c + offset, why)
                continue
        elif step_size >= level * edge_lin:
            # a "click" whose waveform step is far larger than its impulsive
            # (high-frequency) part is a steep edge of the waveform with a
            # little extra: judge the edge as a step
            why = _musical_step(x, c, s0, s1, 0, False, jump_width, pctx, merge, guard, sr)  # width, attack: no
            if why:
                _reject(trace, c + offset, "edge-" + why)
                continue
        if kind == NAME_DISCONTINUITY:
            # a step's size is what matters, and the impulse-matched filter
            # under-reads it for low-pass material: take it from the waveform
            level = max(level, step_size)
        rel = float(db(level / local))
        if rel < min_relative_db:
            _reject(trace, c + offset, "relative")
            continue
        out.append(ImpulseEvent(channel, start + offset, stop + offset, c + offset, float(db(peak / fl)),
                                float(db(iso)), float(db(level)), onset, kind, ex.resid_db, rise, rel))
    return out


def _musical_step(x: np.ndarray, c: int, s0: int, s1: int, width: int, at_attack: bool, jump_width: int,
                  pctx: int, merge: int, guard: int, sr: int) -> str | None:
    """Why a waveform step at ``c`` is part of the music rather than an edit, or None.

    ``"burst"``: wider than ``jump_width`` (a pick's or a drum's noise);
    ``"attack-step"``: at an attack or cut-off (a sound that starts or stops
    with a step); ``"periodic-jump"``: the waveform steps as steeply at a
    regular spacing around it (the edges of a sawtooth or pulse wave: the
    waveform's own steps, unlike the detection signal, do not depend on how
    each LPC hop modelled them); ``"edgy"``: the waveform steps at least a
    quarter as steeply within 30 ms on both sides (a sawtooth or pulse bass
    changing note, or switching voices).
    """
    if width > jump_width:
        return "burst"
    if at_attack:
        return "attack-step"
    n = x.size
    lo2, hi2 = max(0, c - pctx), min(n, c + pctx)
    d = np.abs(np.diff(x[lo2:hi2].astype(np.float64), prepend=x[lo2]))
    j = c - lo2
    step = float(d[max(0, j - merge) : j + merge + 1].max())
    if _periodic(d, j, max(0, s0 - lo2), min(d.size, s1 - lo2), step / 8.0, pctx, merge, 1):
        return "periodic-jump"
    near = max(1, int(0.030 * sr))
    before = d[max(0, j - near) : max(0, j - guard)]
    after = d[min(d.size, j + guard) : min(d.size, j + near)]
    if before.size and after.size and min(float(before.max()), float(after.max())) >= step / 4.0:
        return "edgy"
    return None


def _reject(trace: list | None, peak: int, reason: str) -> None:
    if trace is not None:
        trace.append((peak, reason))


def _peak_positions(seg: np.ndarray, level: float, gap: int) -> np.ndarray:
    """Index of the maximum of each separate excursion of ``seg`` above ``level``."""
    idx = np.flatnonzero(seg > level)
    if idx.size == 0:
        return idx
    groups = np.split(idx, np.flatnonzero(np.diff(idx) > gap) + 1)
    return np.array([g[np.argmax(seg[g])] for g in groups])


def _periodic(am: np.ndarray, c: int, s0: int, s1: int, level: float, ctx: int, gap: int,
              min_matches: int = 2) -> bool:
    """True when peaks above ``level`` recur around ``c`` at a regular spacing.

    Take the nearest other peak (distance ``P``); the event is periodic when
    at least ``min_matches`` of ``c - P`` (the far side), ``c + 2P``,
    ``c - 2P`` and ``c + 3P`` (signs relative to the nearest peak) hold a peak
    within 6 % of ``P``: a train of edges (a sawtooth or pulse wave from about
    40 Hz up). Two matches are asked of the detection signal (busy music has
    many peaks, one may sit anywhere), one of the waveform's own steps.
    """
    n = am.size
    lo, hi = max(0, c - ctx), min(n, c + ctx)
    seg = am[lo:hi]
    pos = _peak_positions(seg, level, gap) + lo
    pos = pos[(pos < s0 - gap) | (pos >= s1 + gap)]
    if pos.size < 2:
        return False
    d = pos - c
    P = int(np.min(np.abs(d)))
    if P < gap or 2 * P > ctx:
        return False
    tol = max(2, int(0.06 * P))
    side = np.sign(d[np.argmin(np.abs(d))])
    targets = (-side * P, side * 2 * P, -side * 2 * P, side * 3 * P)
    return sum(bool(np.any(np.abs(d - t) <= tol)) for t in targets) >= min_matches


def _count_peaks(seg: np.ndarray, level: float, gap: int) -> int:
    """Number of separate excursions of ``seg`` above ``level`` (closer than ``gap`` samples count as one)."""
    idx = np.flatnonzero(seg > level)
    if idx.size == 0:
        return 0
    return int(1 + np.count_nonzero(np.diff(idx) > gap))


def _mean_square(x: np.ndarray, a: int, b: int) -> float:
    """Mean square of ``x[a:b]`` (clipped to the array), 0 when empty."""
    a, b = max(0, a), min(x.size, b)
    if b <= a:
        return 0.0
    seg = x[a:b].astype(np.float64)
    return float(np.dot(seg, seg) / (b - a))


@dataclass(frozen=True)
class _Explanation:
    kind: str  # "click", "jump" or "burst"
    resid_db: float  # error left by the chosen explanation, dB over the model's error nearby
    also_click: bool = False  # a jump that a short core's interpolation explains as well (within jump_db)


def _ar_fit(x: np.ndarray, parts: list[tuple[int, int]], p: int) -> np.ndarray:
    """AR(p) inverse filter ``[1, a_1..a_p]`` fitted on the Hann-windowed ``parts`` of ``x`` (their
    autocorrelations summed: the samples between them are left out without inventing an edge)."""
    from scipy.linalg import solve_toeplitz

    r = np.zeros(p + 1)
    for a, b in parts:
        if b - a <= 2 * p:
            continue
        seg = x[a:b].astype(np.float64) * np.hanning(b - a + 2)[1:-1]
        nfft = sfft.next_fast_len(2 * (b - a), real=True)
        f = sfft.rfft(seg, nfft)
        r += sfft.irfft(f.real * f.real + f.imag * f.imag, nfft)[: p + 1]
    if r[0] <= 0:
        return np.concatenate([[1.0], np.zeros(p)])
    r[0] = r[0] * (1 + 1e-9) + 1e-18
    r *= _ar_lag_window(p)
    try:
        coef = solve_toeplitz(r[:p], -r[1 : p + 1])
    except np.linalg.LinAlgError:
        coef = np.zeros(p)
    return np.concatenate([[1.0], coef])


def _ar_lag_window(p: int) -> np.ndarray:
    return np.exp(-0.5 * (2 * np.pi * 40.0 / 48000.0 * np.arange(p + 1)) ** 2)


def _explain(x: np.ndarray, p: int, c: int, start: int, stop: int, jump_db: float, *, tail: int = 12,
             explained_db: float = 20.0, step_margin_db: float = 10.0) -> _Explanation:
    """Which model explains the event at ``c`` (extent ``[start, stop)``): an additive click, a step, or
    neither?

    An AR(``p``) model is fitted on 1024 samples either side of the event,
    the event and ``p`` samples round it left out (the two sides'
    autocorrelations are summed, so no edge is invented where they meet).
    Its prediction error ``e = A x`` over a window round the event is then
    explained by least squares in two ways:

    * **click** (Godsill & Rayner's AR interpolation): the samples of a short
      core are re-estimated from those around them. The cores are the
      extent widened by 2 and by 6 samples either side, then by ``tail``
      samples after it or before it (a ringing or stepped burst of up to a
      quarter of a millisecond whose peak is at one end);
    * **step**: a step plus a ramp from one sample n0 within 4 of the peak on
      (the waveform continues from a different place: a splice, lost or
      repeated samples). In the error domain the step's and the ramp's
      responses are running sums of the inverse filter, so each n0 is a 2 x 2
      least-squares problem.

    With ``ref`` the model's error in windows of the same length nearby
    (median of up to 8), the event is a **jump** when the step leaves at
    most ``jump_db`` over ``ref`` and at most what the two narrowest cores
    leave (two parameters against five or more: the simpler explanation
    wins); a **click** when a core leaves at most ``jump_db`` over ``ref``,
    or when the music is locally less predictable than the reference (an
    attack under the click) but a core still removes all but
    ``explained_db`` of the error in excess of ``ref`` while the step leaves
    ``step_margin_db`` more than the core; otherwise a **burst** (a pick's or
    a drum's noise, a lasting disturbance: music). A jump that a core also
    explains within ``jump_db`` is flagged ``also_click``.

    The linear algebra stays small: a core's normal equations are the
    Toeplitz autocorrelation of the inverse filter, their right-hand side the
    matched filter of ``e`` (Levinson recursion).
    """
    from scipy.linalg import solve_toeplitz

    n = x.size
    cores = [(start - 2, stop + 2), (start - 6, stop + 6), (start - 2, stop + tail), (start - tail, stop + 2)]
    cores = [(max(0, a_), min(n, b_)) for a_, b_ in cores]
    k0, k1 = min(k[0] for k in cores), max(k[1] for k in cores)
    h0, h1 = max(0, k0 - p), min(n, k1 + p)
    c0, c1 = max(0, h0 - 1024), min(n, h1 + 1024)
    a = _ar_fit(x, [(c0, h0), (h1, c1)], p)
    # the window: every core sample appears in all p + 1 of its error terms
    w0, w1 = max(0, k0 - 2 * p), min(n, k1 + 2 * p)
    seg = x[w0:w1].astype(np.float64)
    if seg.size <= 2 * p + (k1 - k0) or k0 - w0 < p or w1 - k1 < p:
        return _Explanation("burst", 0.0)
    e0 = np.convolve(seg, a, "valid")  # e0[i] is the error at sample w0 + p + i
    rows = e0.size
    E0 = float(np.dot(e0, e0))
    # the model's own error nearby: windows of `rows` samples on either side of the event
    wins: list[float] = []
    for lo_, hi_, right in ((c0, h0, False), (h1, c1, True)):
        if hi_ - lo_ > p + rows:
            el = np.convolve(x[lo_:hi_].astype(np.float64), a, "valid")
            m_ = el.size // rows
            blk = el[: m_ * rows] if right else el[el.size - m_ * rows :]
            ms = np.einsum("ij,ij->i", blk.reshape(m_, rows), blk.reshape(m_, rows))
            wins.extend((ms[:4] if right else ms[-4:]).tolist())
    ref = float(np.median(wins)) if wins else E0
    ref = max(ref, 1e-9 * rows)  # (3e-5)^2 per sample: an LSB of 16-bit audio
    lim = ref * 10.0 ** (jump_db / 10.0)
    ra = np.array([np.dot(a[: p + 1 - k], a[k:]) for k in range(p + 1)])
    corr = np.correlate(e0, a, "valid")  # corr[j - w0 - p] = (A^T e0)_j for the core samples j
    Ek = E_small = np.inf
    for i, (ka, kb) in enumerate(cores):
        k = kb - ka
        col = np.zeros(k)
        col[: min(k, p + 1)] = ra[: min(k, p + 1)]
        col[0] *= 1.0 + 1e-9
        rhs = corr[ka - w0 - p : kb - w0 - p]
        try:
            delta = solve_toeplitz(col, rhs)
        except np.linalg.LinAlgError:
            continue
        e_core = max(E0 - float(np.dot(rhs, delta)), 1e-30)
        Ek = min(Ek, e_core)
        if i <= 1:
            E_small = min(E_small, e_core)
        if i >= 1 and Ek <= lim:
            break  # explained by the narrower cores already
    if not np.isfinite(Ek):
        return _Explanation("burst", 0.0)
    # a step plus a ramp from n0 on: in the error domain their responses are
    # sum_{k<=m} a_k and sum_{k<=m} a_k (m - k) (slope A(1) once m > p), m = samples since n0
    cs = np.cumsum(a)
    cr = np.cumsum(cs) - cs
    Es = np.inf
    n0s = np.arange(max(w0 + p, start - 1, c - 4), min(w1, stop + 2, c + 5))
    if n0s.size:
        m_ = (np.arange(rows) + w0 + p)[None, :] - n0s[:, None]
        mc = np.clip(m_, 0, p)
        on = m_ >= 0
        S = np.where(on, cs[mc], 0.0)
        R = np.where(on, cr[mc] + np.maximum(m_ - p, 0) * cs[p], 0.0)
        g11, g12, g22 = np.einsum("ij,ij->i", S, S), np.einsum("ij,ij->i", S, R), np.einsum("ij,ij->i", R, R)
        b1, b2 = S @ e0, R @ e0
        det = g11 * g22 - g12 * g12
        det = np.where(np.abs(det) > 1e-30, det, np.inf)
        J = (g22 * b1 - g12 * b2) / det
        K = (g11 * b2 - g12 * b1) / det
        Es = max(float(np.min(E0 - (J * b1 + K * b2))), 1e-30)  # residual energy of the best fit
    if Es <= lim and Es <= E_small:
        return _Explanation("jump", float(10 * np.log10(Es / ref)), Ek <= lim)
    resid = float(10 * np.log10(Ek / ref))
    if Ek <= lim:
        return _Explanation("click", resid)
    if E0 > ref and (Ek - ref) <= (E0 - ref) * 10.0 ** (-explained_db / 10.0) and Es >= Ek * 10.0 ** (step_margin_db / 10.0):
        return _Explanation("click", resid)
    return _Explanation("burst", resid)


def _lpc_autocorr(x: np.ndarray, p: int) -> np.ndarray:
    from scipy.linalg import solve_toeplitz

    w = np.hanning(len(x) + 2)[1:-1]
    xw = x * w
    r = np.array([np.dot(xw[: len(xw) - k], xw[k:]) for k in range(p + 1)])
    r[0] = r[0] * (1 + 1e-9) + 1e-18
    r *= np.exp(-0.5 * (2 * np.pi * 40.0 / 48000.0 * np.arange(p + 1)) ** 2)
    try:
        coef = solve_toeplitz(r[:p], -r[1 : p + 1])
    except np.linalg.LinAlgError:
        coef = np.zeros(p)
    return np.concatenate([[1.0], coef])


def exclusion_mask(x: np.ndarray, sr: int, *, min_zero_ms: float = 0.5, pad_ms: float = 1.0,
                   min_sound_ms: float = 2.0, sound_db: float = -70.0) -> np.ndarray:
    """Samples the click check leaves to other checks, for one channel.

    * clipped plateaus and samples at full scale (the clipping check), and
    * the edges between digital silence (at least ``min_zero_ms``) and sound
      lasting at least ``min_sound_ms`` whose median level over that time next
      to the edge reaches ``sound_db`` (a median, so that a click in a silent
      gap does not count as sound): sound cut to, or starting from, exact zeros (the
      dropout check, or a note starting from silence).

    Each is widened by ``pad_ms``. A short burst between two stretches of
    digital silence is *not* excluded: that is a click in a silent gap.
    """
    n = x.size
    mask = np.zeros(n, dtype=bool)
    pad = int(pad_ms * sr / 1000)
    clipped = clipped_mask(x)
    # samples at digital full scale, even single ones: the corners of a waveform
    # clipped for only a sample or two
    clipped |= np.abs(x) >= 10.0 ** (-0.1 / 20.0)
    for s, e in runs(clipped):
        mask[max(0, s - pad) : min(n, e + pad)] = True
    zr = runs(np.abs(x) < DIGITAL_ZERO, max(2, int(min_zero_ms * sr / 1000)))
    if len(zr):
        min_sound = int(min_sound_ms * sr / 1000)
        loud = 10.0 ** (sound_db / 20.0)
        # sound stretches between zero runs (and the file's ends)
        bounds = np.concatenate([[0], zr.reshape(-1), [n]]).reshape(-1, 2)  # (sound_start, sound_stop)
        for ss, se in bounds:
            if se - ss < min_sound:
                continue
            if ss > 0 and _mostly(np.abs(x[ss : ss + min_sound]), loud):  # sound starts after a zero run
                mask[max(0, ss - pad) : min(n, ss + pad)] = True
            if se < n and _mostly(np.abs(x[se - min_sound : se]), loud):  # sound cut into a zero run
                mask[max(0, se - pad) : min(n, se + pad)] = True
    return mask


def _mostly(a: np.ndarray, level: float) -> bool:
    """``median(a) >= level`` without sorting."""
    return a.size > 0 and 2 * int(np.count_nonzero(a >= level)) >= a.size


def impulse_events(x: np.ndarray, sr: int, **params) -> list[ImpulseEvent]:
    """All channels of ``x`` (channels, samples): events sorted by time (memoised inside ``run_checks``)."""
    key = ("impulses", id(x), x.shape, tuple(sorted(params.items())))

    def compute():
        events: list[ImpulseEvent] = []
        for ch in range(x.shape[0]):
            events.extend(detect_impulses(x[ch], sr, channel=ch, exclude=exclusion_mask(x[ch], sr), **params))
        events.sort(key=lambda e: (e.peak, e.channel))
        return events

    return memoized(key, compute)


def _group_channels(events: list[ImpulseEvent], tol: int) -> list[list[ImpulseEvent]]:
    groups: list[list[ImpulseEvent]] = []
    for ev in events:
        if groups and ev.peak - groups[-1][0].peak <= tol:
            groups[-1].append(ev)
        else:
            groups.append([ev])
    return groups


def _to_findings(events: list[ImpulseEvent], sr: int, channels: int, kind: str, error_db: float,
                 max_findings: int) -> list[Finding]:
    out: list[Finding] = []
    chosen = [e for e in events if e.kind == kind]
    for grp in _group_channels(chosen, int(0.001 * sr)):
        best = max(grp, key=lambda e: e.score_db)
        chans = sorted({e.channel for e in grp})
        ch = chans[0] if len(chans) == 1 and channels > 1 else None
        t = best.peak / sr
        sev = "error" if best.level_db >= error_db else "warn"
        where = f" (channel {ch + 1})" if ch is not None else ""
        if kind == NAME:
            msg = (f"click at {t:.3f} s{where} (+{best.score_db:.0f} dB above local residual, "
                   f"{best.level_db:.0f} dBFS)")
        else:
            msg = f"discontinuity at {t:.3f} s{where} (waveform jump, +{best.score_db:.0f} dB above local residual)"
        t0 = min(e.start for e in grp) / sr
        t1 = max(e.stop for e in grp) / sr
        out.append(finding(kind, sev, min(t0, t), max(t1, t), best.score_db, "dB", msg, channel=ch))
    if len(out) > max_findings:
        keep = sorted(out, key=lambda f: -f.value)[:max_findings]
        keep.sort(key=lambda f: f.t0)
        rest = len(out) - max_findings
        keep.append(finding(kind, "error", out[0].t0, out[-1].t1, float(len(out)), "count",
                            f"{len(out)} {kind}s in {out[0].t0:.3f}-{out[-1].t1:.3f} s ({rest} weaker ones not listed)"))
        out = keep
    return out


#: The keyword arguments of :func:`detect_impulses` that the checks pass through.
_DETECT_PARAMS = ("order", "hop", "threshold_db", "isolation_db", "rival_db", "periodic_db", "periodic_ms",
                  "min_level_db", "min_relative_db", "context_ms", "onset_db", "onset_isolation_db",
                  "floor_change_db", "strong_onset_db", "strong_onset_isolation_db", "attack_max_width_ms",
                  "merge_ms", "edge_ms", "max_width_ms", "jump_max_width_ms", "jump_db", "edge_db")


def check_click(
    audio,
    sr: int | None = None,
    *,
    threshold_db: float = 20.0,
    isolation_db: float = 6.0,
    rival_db: float = 12.0,
    periodic_db: float = 30.0,
    periodic_ms: float = 60.0,
    min_level_db: float = -60.0,
    min_relative_db: float = -30.0,
    onset_db: float = 6.0,
    onset_isolation_db: float = 10.0,
    floor_change_db: float = 6.0,
    strong_onset_db: float = 20.0,
    strong_onset_isolation_db: float = 25.0,
    attack_max_width_ms: float = 0.8,
    context_ms: float = 20.0,
    max_width_ms: float = 1.5,
    jump_max_width_ms: float = 0.25,
    jump_db: float = 9.0,
    edge_db: float = 25.0,
    order: int = 24,
    hop: int = 1024,
    merge_ms: float = 1.0,
    edge_ms: float = 1.0,
    error_level_db: float = -30.0,
    max_findings: int = 20,
) -> list[Finding]:
    """Find clicks: short additive impulses (one sample to about 0.8 ms), one finding per event.

    Events the detector classifies as waveform jumps are the discontinuity
    check's (:func:`check_discontinuity`), so one event is reported once.

    See the module docstring for the method and :func:`detect_impulses` for the
    detection parameters (all keyword arguments except the two below are passed
    on). ``error_level_db``: clicks whose estimated amplitude reaches this level
    (dBFS) are ``error``, quieter ones ``warn``. ``max_findings``: report at most
    this many, strongest first, plus a summary line. ``value`` is the detection
    peak over the local residual, in dB.
    """
    x, sr = as_array(audio, sr)
    params = {k: v for k, v in locals().items() if k in _DETECT_PARAMS}
    return _to_findings(impulse_events(x, sr, **params), sr, x.shape[0], NAME, error_level_db, max_findings)


def check_discontinuity(
    audio,
    sr: int | None = None,
    *,
    threshold_db: float = 20.0,
    isolation_db: float = 6.0,
    rival_db: float = 12.0,
    periodic_db: float = 30.0,
    periodic_ms: float = 60.0,
    min_level_db: float = -60.0,
    min_relative_db: float = -30.0,
    onset_db: float = 6.0,
    onset_isolation_db: float = 10.0,
    floor_change_db: float = 6.0,
    strong_onset_db: float = 20.0,
    strong_onset_isolation_db: float = 25.0,
    attack_max_width_ms: float = 0.8,
    context_ms: float = 20.0,
    max_width_ms: float = 1.5,
    jump_max_width_ms: float = 0.25,
    jump_db: float = 9.0,
    edge_db: float = 25.0,
    order: int = 24,
    hop: int = 1024,
    merge_ms: float = 1.0,
    edge_ms: float = 1.0,
    error_level_db: float = -30.0,
    max_findings: int = 20,
) -> list[Finding]:
    """Find waveform discontinuities: jumps after which the signal continues from a different place.

    Same detector and parameters as :func:`check_click`; an event is a
    discontinuity when least-squares AR interpolation of its samples leaves a
    prediction error more than ``jump_db`` above the local residual (an
    additive click would be explained away). Typical causes: a splice without
    a crossfade, dropped or repeated samples, a buffer glitch. Sound cut to
    digital silence is the dropout check's. A jump that recurs at the pitch
    period (the edges of a sawtooth or pulse wave), or in material whose own
    steps within 30 ms on both sides are at least a quarter as steep, is not
    reported, nor is a step at the start of a new sound (its attack).
    ``error_level_db`` and ``max_findings`` are as for :func:`check_click`.
    """
    x, sr = as_array(audio, sr)
    params = {k: v for k, v in locals().items() if k in _DETECT_PARAMS}
    return _to_findings(impulse_events(x, sr, **params), sr, x.shape[0], NAME_DISCONTINUITY, error_level_db,
                        max_findings)
