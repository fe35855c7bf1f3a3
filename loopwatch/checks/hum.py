"""Hum: a steady mains tone at 50 or 60 Hz with its harmonics.

What separates hum from a bass note at 49 or 62 Hz is that hum is *one
unchanging sinusoid per harmonic for the whole file*: exactly (within the
mains tolerance) on k x 50 or k x 60 Hz, at a constant amplitude and a
continuous phase, and all harmonics of one fundamental. So the test is
coherent:

1. The channel mean is decimated to 1 kHz (48-sample means: the boxcar's
   nulls at multiples of 1 kHz keep aliases away from 0-360 Hz) and the
   whole file's spectrum is taken with a Hann window, zero-padded 4 times.
2. For each mains frequency, each harmonic's line is searched within
   ``tolerance`` (0.5 %) of k x mains. A line must be a local maximum (not
   the flank of a nearby note's lobe) and stand ``prominence_db`` above the
   spectrum's median within +-max(3 Hz, 4 main lobes) (music's partials
   spread over notes, hum is one line).
3. Stationarity: the file is cut into quarters. The line must be present at
   the whole file's level in at least three quarters out of four (a note on
   the same frequency may swamp one), and **phase-coherent** across the
   four: the quarters' complex amplitudes at the line's frequency, with
   their phases referred to the file's start, must add up to at least
   ``coherence`` (``strong_coherence`` for a line ``strong_db`` clear) of
   the sum of their magnitudes (1 for a steady sinusoid, about 0.5 for
   unrelated phases). A note's partial, or the skirt of a
   note nearby, restarts with every note; hum runs on. A frequency error of
   a quarter of the main lobe (music beside the line pulls its peak) is
   allowed for as a linear phase trend.
4. The comb: the lines must agree on one fundamental, within 0.1 % or a
   third of the main lobe divided by the harmonic number (short files
   measure frequencies coarsely). The family's evidence is the sum over its
   lines of their prominence less 3 dB; hum takes ``comb_db`` of it from at
   least ``min_harmonics`` lines, or one strong line (see
   :func:`check_hum`).

The level is reported AES17-style (RMS + 3 dB, so a full-scale sine is
0 dBFS), summed over the harmonics found.
"""

from __future__ import annotations

import numpy as np

from loopwatch.checks._common import as_array, db, finding
from loopwatch.findings import Finding

NAME = "hum"
DECIMATE = 48


def _amplitudes(y: np.ndarray, rate: float, freqs: np.ndarray, pad: int = 4) -> tuple[np.ndarray, np.ndarray, float]:
    """Hann-windowed spectrum magnitude of ``y`` scaled to sine amplitude; returns (amp, bin_freqs, df)."""
    n = y.size
    w = np.hanning(n)
    nfft = 1 << int(np.ceil(np.log2(n * pad)))
    spec = np.abs(np.fft.rfft((y - y.mean()) * w, nfft)) * 2.0 / w.sum()
    return spec, np.fft.rfftfreq(nfft, 1.0 / rate), rate / nfft


def _coherence(y: np.ndarray, rate: float, f: float, q: int, max_offset: float) -> float:
    """Phase coherence of a line at ``f`` Hz across the four quarters of ``y``: ``|sum c| / sum |c|`` of
    the quarters' complex amplitudes (Hann-windowed, phase referred to the file's start), maximised over
    a frequency error of up to ``max_offset`` Hz (a linear phase trend across the quarters). 1 for a
    steady sinusoid; about 0.5 for four unrelated phases."""
    c = np.empty(4, dtype=complex)
    w = np.hanning(q)
    for i in range(4):
        seg = y[i * q : (i + 1) * q]
        t = (np.arange(q) + i * q) / rate
        c[i] = np.dot((seg - seg.mean()) * w, np.exp(-2j * np.pi * f * t))
    total = float(np.abs(c).sum())
    if total <= 0:
        return 0.0
    dphi = 2 * np.pi * np.linspace(-max_offset, max_offset, 21) * (q / rate)
    rot = np.exp(-1j * np.outer(dphi, np.arange(4)))
    return float(np.max(np.abs(rot @ c)) / total)


def repetition_period(x: np.ndarray, sr: int = 48000, *, min_s: float = 1.0, min_corr: float = 0.9) -> float | None:
    """The period in seconds of a file that repeats itself (a loop tiled or bounced several times over), or None.

    The channel mean, low-passed and decimated to 1 kHz, is correlated with
    itself (normalised over the overlap of each lag, at 1/8-sample steps). The period is the
    first lag of at least ``min_s`` and at most a third of the file (three repeats: a loop whose
    own bars repeat once is not yet a file that repeats)
    whose correlation reaches ``min_corr`` and comes within 0.1 of the best
    lag's, moved up to its local maximum: the loop's own length rather than a
    multiple of it. Precise to about 0.1 ms.
    """
    x = np.asarray(x)
    n = x.shape[-1] // DECIMATE
    rate = sr / DECIMATE
    lo, hi = int(np.ceil(min_s * rate)), n // 3
    if hi <= lo:
        return None
    from scipy.signal import resample_poly

    # the channel mean at sr/48 through a proper low-pass (48 = 12-sample means, then a 4:1 polyphase filter):
    # the hum analysis's plain 48-sample means alias the upper partials of a distorted guitar differently in
    # every repetition of a loop whose length is not a whole number of blocks
    n12 = x.shape[-1] // 12
    y = x[..., : n12 * 12].reshape(-1, n12, 12).sum(axis=2).sum(axis=0).astype(np.float64) / (12 * x.shape[0])
    y = resample_poly(y, 1, 4)[:n]
    y = y - y.mean()
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(y, nfft)
    power = spec * np.conj(spec)
    c = np.concatenate([[0.0], np.cumsum(y * y)])
    # whole-sample lags first: music that does not repeat stops here (half a sample off costs a loop's
    # correlation at most ~0.15, so nothing that could reach min_corr is missed)
    k = np.arange(lo, hi + 1)
    r1 = np.fft.irfft(power, nfft)[lo : hi + 1]
    if float(np.max(r1 / np.sqrt(np.maximum(c[n - k] * (c[n] - c[k]), 1e-30)))) < min_corr - 0.2:
        return None
    # the autocorrelation at 1/8-sample lags (zero-padded cross spectrum): a loop's length is rarely a whole
    # number of 1 kHz samples, and half a sample off loses a guitar's upper partials from the correlation
    up = 8
    r = np.fft.irfft(power, nfft * up)[lo * up : hi * up + 1] * up
    k = np.arange(lo * up, hi * up + 1) / up
    head = np.interp(n - k, np.arange(n + 1), c)  # energy of y[:n-k] and of y[k:]
    tail = c[n] - np.interp(k, np.arange(n + 1), c)
    rho = r / np.sqrt(np.maximum(head * tail, 1e-30))
    best = float(rho.max())
    if best < min_corr:
        return None
    i = int(np.flatnonzero(rho >= max(min_corr, best - 0.1))[0])
    while i + 1 < rho.size and rho[i + 1] > rho[i]:
        i += 1
    return float(k[i] / rate)


def hum_components(
    x: np.ndarray,
    sr: int = 48000,
    *,
    mains: tuple[float, ...] = (50.0, 60.0),
    harmonics: int = 6,
    tolerance: float = 0.005,
    prominence_db: float = 6.0,
    strong_db: float = 12.0,
    stability_db: float = 6.0,
    coherence: float = 0.95,
    strong_coherence: float = 0.8,
    comb_db: float = 12.0,
) -> dict:
    """Find the mains family best explained as hum in ``x`` ``(channels, samples)``.

    Each harmonic's line (see the module docstring) counts when it stands
    ``prominence_db`` above the spectrum beside it, is steady in level
    (``stability_db``) and in phase (``coherence``, or ``strong_coherence``
    for a line ``strong_db`` clear) across the file's quarters, and agrees
    with the others on one fundamental. The family
    with the most *comb evidence* (the sum over its lines of their
    prominence less 3 dB) is returned; ``comb_db`` is not applied here but
    by :func:`check_hum`.

    Returns a dict with ``mains`` (50/60 or None), ``f0``, ``level_dbfs``
    (AES17, over the found harmonics), ``comb_db`` (the score) and
    ``harmonics``: a list of ``(k, frequency, amplitude, prominence_db)``
    for each line of the family.
    """
    x = np.asarray(x)
    n = x.shape[-1] // DECIMATE
    best = {"mains": None, "f0": 0.0, "level_dbfs": float("-inf"), "comb_db": 0.0, "harmonics": []}
    rate = sr / DECIMATE
    if n < int(rate * 0.5):  # under half a second the resolution cannot separate hum from notes
        return best
    # the channel mean in 48-sample means, accumulated in float64 (no full-size copy)
    y = x[..., : n * DECIMATE].reshape(-1, n, DECIMATE).mean(axis=(0, 2), dtype=np.float64)
    amp, f, df = _amplitudes(y, rate, np.array([]))
    q = n // 4
    quarters = [_amplitudes(y[i * q : (i + 1) * q], rate, np.array([])) for i in range(4)]
    lobe = 2.0 * rate / y.size  # Hann main lobe half-width of the whole file, Hz
    for m in mains:
        if m * harmonics > rate / 2 * 0.9:
            continue
        # each harmonic's line is searched on its own (music may hide any of
        # them); the lines must then agree on one fundamental
        lines = []
        for k in range(1, harmonics + 1):
            fk = m * k
            win = np.abs(f - fk) <= max(fk * tolerance, 2 * df)
            if not win.any():
                continue
            i = int(np.flatnonzero(win)[np.argmax(amp[win])])
            a = float(amp[i])
            # a peak of its own, not the flank of a note's lobe next to the
            # window: nothing larger within its main lobe on either side
            near = np.abs(f - f[i]) <= 1.25 * lobe
            if a <= 0 or a < float(amp[near].max()) or i in (int(np.flatnonzero(win)[0]), int(np.flatnonzero(win)[-1])):
                continue
            # the floor right beside the line: outside its main lobe and within +-max(3 Hz, 4 lobes)
            around = (np.abs(f - f[i]) <= max(3.0, 4 * lobe)) & (np.abs(f - f[i]) >= 1.25 * lobe)
            if not around.any():
                continue
            prom = float(db(a / max(float(np.median(amp[around])), 1e-15)))
            if prom < prominence_db:
                continue
            # steady in level: present at the whole file's level in three
            # quarters out of four (a note on the same frequency may swamp one)...
            qa = [float(np.interp(f[i], fq, aq)) for aq, fq, _ in quarters]
            qs = np.sort(qa)
            if qs[1] <= 0 or db(qs[-2] / qs[1]) > stability_db or db(a / max(np.median(qa), 1e-15)) < -stability_db:
                continue
            # ...and in phase: hum is one sinusoid from the first sample to the
            # last; a note's partial, or the skirt of one nearby, restarts with
            # every note (a small frequency error, a fraction of the main lobe,
            # is allowed for: music beside the line pulls its peak)
            if _coherence(y, rate, float(f[i]), q, 0.25 * lobe) < (strong_coherence if prom >= strong_db else coherence):
                continue
            lines.append((k, float(f[i]), a, prom))
        if not lines:
            continue
        # the fundamental that gathers the most evidence; a line's frequency is
        # measured to a fraction of the main lobe (music beside it pulls it)
        found, score = [], 0.0
        for ref in lines:
            f0 = ref[1] / ref[0]
            agree = [t for t in lines if abs(t[1] / t[0] - f0) <= max(0.001 * f0, 0.3 * lobe / t[0])]
            sc = sum(t[3] - 3.0 for t in agree)
            if sc > score:
                found, score = agree, sc
        if not found:
            continue
        # boxcar droop of the decimation: sinc(f / 1 kHz)
        rms2 = sum((a / np.sinc(fk / rate)) ** 2 / 2.0 for _, fk, a, _ in found)
        level = float(db(np.sqrt(rms2)) + 3.0103)
        if score > best["comb_db"]:
            f0 = float(np.median([t[1] / t[0] for t in found]))
            best = {"mains": m, "f0": f0, "level_dbfs": level, "comb_db": score, "harmonics": found}
    return best


def check_hum(
    audio,
    sr: int | None = None,
    *,
    warn_dbfs: float = -60.0,
    error_dbfs: float = -40.0,
    min_harmonics: int = 2,
    single_line_db: float = 15.0,
    tolerance: float = 0.005,
    prominence_db: float = 6.0,
    strong_db: float = 12.0,
    stability_db: float = 6.0,
    coherence: float = 0.95,
    strong_coherence: float = 0.8,
    comb_db: float = 12.0,
    repeat_corr: float = 0.9,
) -> list[Finding]:
    """Report mains hum at or above ``warn_dbfs`` (AES17 level of the harmonics found).

    Parameters
    ----------
    warn_dbfs : float
        -60 dBFS: audible in quiet passages and on headphones, and it adds up
        when loops are layered; lower hum is under the floor of most gear.
    error_dbfs : float
        -40 dBFS: clearly audible under the music.
    min_harmonics : int
        Lines required at k x mains (one of them may be the fundamental or not:
        ground-loop hum is often strongest at 100/120 Hz). One isolated line
        could be a sustained note that happens to sit on 50 or 60 Hz...
    single_line_db : float
        ...unless it is the fundamental or the second harmonic and stands this
        far above the spectrum around it: with the rest of the loop's
        harmonics buried under the music, a hum is often visible only there,
        where bass and guitar notes in standard tuning (49.0, 51.9, 58.3,
        61.7 Hz; 98.0, 103.8, 116.5, 123.5 Hz) do not sit. Higher partials of
        detuned notes can land on k x 50 Hz, so a line at 150 Hz and above
        needs a second one; and a lone line must be at least 6 dB under the
        file's RMS level (one as loud as the music is a note on 50/60 Hz).
    tolerance : float
        Mains frequency tolerance searched (0.5 %: grids are held within
        0.1-0.4 %; tape and vinyl speed errors of a few tenths of a percent also fit).
    prominence_db : float
        6 dB: the least a line stands above the spectrum beside it. A line
        that weak counts only with the phase coherence and the comb below.
    stability_db : float
        6 dB: a line's level in three of the four quarters must agree within
        this, and with the whole file's.
    coherence, strong_db, strong_coherence : float
        0.95: the phase coherence a line needs across the quarters (1 for a
        steady sinusoid, about 0.5 for unrelated phases). The repeated,
        beat-locked notes of a loop sit on 50 or 60 Hz multiples by chance
        and can be steady in level; their phases restart with each note. A
        line at least ``strong_db`` (12 dB) clear of the spectrum beside it
        is less likely to be chance, and a note close by disturbs its phase
        more: it needs ``strong_coherence`` (0.8).
    comb_db : float
        12 dB: the evidence the comb needs, summed over its lines as their
        prominence less 3 dB (two lines at 9 dB, or three at 7 dB). Below
        it, only a single strong line (``single_line_db``) makes hum.
    repeat_corr : float
        0.9: a file that repeats itself, a loop tiled or bounced several times
        over (:func:`repetition_period`: correlation at least this at one lag
        of 1 s or more), is analysed over one repetition. Every partial of a
        repeated loop is a steady, phase-continuous line on the loop's
        frequency grid, which is exactly what hum looks like; over one
        repetition the notes are notes again. Hum recorded with the loop is
        found as in the loop alone.
    """
    x, sr = as_array(audio, sr)
    if x.shape[1] == 0:
        return []
    end = x.shape[1] / sr  # the finding spans the whole file, also when one repetition is analysed
    period = repetition_period(x, sr, min_corr=repeat_corr)
    if period is not None:
        x = x[:, : int(round(period * sr))]
    h = hum_components(x, sr, tolerance=tolerance, prominence_db=prominence_db, strong_db=strong_db,
                       stability_db=stability_db, coherence=coherence, strong_coherence=strong_coherence,
                       comb_db=comb_db)
    if h["mains"] is None or h["level_dbfs"] < warn_dbfs:
        return []
    if len(h["harmonics"]) < min_harmonics or h["comb_db"] < comb_db:
        if not any(k <= 2 and p >= single_line_db for k, _, _, p in h["harmonics"]):
            return []
        # a lone line about as loud as the music is a note that sits on 50/60 Hz
        # (a detuned or drop-tuned bass), not hum leaking under the music
        rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
        if h["level_dbfs"] > db(rms) - 6.0:
            return []
    lv = h["level_dbfs"]
    sev = "error" if lv >= error_dbfs else "warn"
    ks = ", ".join(f"{fk:.1f}" for _, fk, _, _ in h["harmonics"])
    where = "" if period is None else f"; the file repeats every {period:.3f} s, one repetition analysed"
    return [finding(NAME, sev, 0.0, end, lv, "dBFS",
                    f"{h['mains']:.0f} Hz hum at {lv:.0f} dBFS (lines at {ks} Hz{where})")]
