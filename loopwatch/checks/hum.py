"""Hum: a steady mains tone at 50 or 60 Hz with its harmonics.

What separates hum from a bass note at 49 or 62 Hz is that hum is *one
unchanging sinusoid per harmonic for the whole file*: exactly (within the
mains tolerance) on k x 50 or k x 60 Hz, at a constant amplitude and phase.
So the test is coherent:

1. The channel mean is decimated to 1 kHz (48-sample means: the boxcar's
   nulls at multiples of 1 kHz keep aliases away from 0-360 Hz) and the
   whole file's spectrum is taken with a Hann window, zero-padded 4 times.
2. For each mains frequency, each harmonic's line is searched within
   ``tolerance`` (0.5 %) of k x mains. A line must be a local maximum (not
   the flank of a nearby note's lobe) and stand ``prominence_db`` above the
   spectrum's median within +-8 Hz (music's partials spread over notes, hum
   is one line); the lines kept must agree on one fundamental within 0.1 %.
3. Stationarity: the file is cut into quarters and the amplitude at each
   harmonic measured in every quarter. Hum is present at the level the
   whole-file spectrum gives in (at least) three quarters out of four (a
   note on the same frequency may swamp one; a series of weak lines without
   a strong one must hold in all four); a note is not.

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


def hum_components(
    x: np.ndarray,
    sr: int = 48000,
    *,
    mains: tuple[float, ...] = (50.0, 60.0),
    harmonics: int = 6,
    tolerance: float = 0.005,
    prominence_db: float = 12.0,
    weak_prominence_db: float = 6.0,
    stability_db: float = 6.0,
) -> dict:
    """Find the mains family best explained as hum in ``x`` ``(channels, samples)``.

    A line counts when it stands ``prominence_db`` above the spectrum beside
    it, or ``weak_prominence_db`` when at least three lines agree on one
    fundamental within 0.1 % (three notes' partials landing on one exact
    harmonic series of 50 or 60 Hz by chance are far less likely than one).

    Returns a dict with ``mains`` (50/60 or None), ``f0``, ``level_dbfs``
    (AES17, over the found harmonics), and ``harmonics``: a list of
    ``(k, frequency, amplitude, prominence_db)`` for each harmonic that passed the prominence
    and stability tests.
    """
    x = np.asarray(x, dtype=np.float64)
    mono = x.mean(axis=0)
    n = mono.size // DECIMATE
    best = {"mains": None, "f0": 0.0, "level_dbfs": float("-inf"), "harmonics": []}
    rate = sr / DECIMATE
    if n < int(rate * 0.5):  # under half a second the resolution cannot separate hum from notes
        return best
    y = mono[: n * DECIMATE].reshape(n, DECIMATE).mean(axis=1)
    amp, f, df = _amplitudes(y, rate, np.array([]))
    q = n // 4
    quarters = [_amplitudes(y[i * q : (i + 1) * q], rate, np.array([])) for i in range(4)] if q >= int(rate * 0.25) else []
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
            # window: nothing larger within its main lobe (Hann: +-2 bins of the
            # unpadded resolution) on either side
            lobe = 2.0 * rate / y.size
            near = np.abs(f - f[i]) <= 1.25 * lobe
            if a <= 0 or a < float(amp[near].max()) or i in (int(np.flatnonzero(win)[0]), int(np.flatnonzero(win)[-1])):
                continue
            # the floor right beside the line: outside its main lobe (Hann: +-2 bins of
            # the unpadded resolution) and within +-max(3 Hz, 4 lobes)
            around = (np.abs(f - f[i]) <= max(3.0, 4 * lobe)) & (np.abs(f - f[i]) >= 1.25 * lobe)
            if not around.any():
                continue
            prom = float(db(a / max(float(np.median(amp[around])), 1e-15)))
            if prom < min(prominence_db, weak_prominence_db):
                continue
            if quarters:
                qa = [float(np.interp(f[i], fq, aq)) for aq, fq, _ in quarters]
                # present in every quarter (a note comes and goes) and coherent:
                # the whole file's line is as strong as the quarters' average,
                # which only a steady frequency and phase achieve
                # (one quarter may be swamped by a note at the same frequency)
                qs = np.sort(qa)
                if qs[1] <= 0 or db(qs[-2] / qs[1]) > stability_db or db(a / max(np.median(qa), 1e-15)) < -stability_db:
                    continue
                all_quarters = qs[0] > 0 and db(qs[-1] / qs[0]) <= stability_db
            else:
                all_quarters = True
            lines.append((k, float(f[i]), a, prom, all_quarters))
        if not lines:
            continue
        ref = max(lines, key=lambda t: t[3])
        f0 = ref[1] / ref[0]
        found = [t for t in lines if abs(t[1] / t[0] - f0) <= max(0.001 * f0, 2 * df / t[0])]
        strong = [t for t in found if t[3] >= prominence_db]
        if not strong:
            # without a strong line to anchor it, a weak series must hold in
            # all four quarters (sequenced notes repeated identically make
            # combs of steady lines that can line up by chance)
            found = [t for t in found if t[4]]
        if len(found) < 3:  # weak lines count only as part of a consistent series of three or more
            found = strong
        found = [t[:4] for t in found]
        if not found:
            continue
        # boxcar droop of the decimation: sinc(f / 1 kHz)
        rms2 = sum((a / np.sinc(fk / rate)) ** 2 / 2.0 for _, fk, a, _ in found)
        level = float(db(np.sqrt(rms2)) + 3.0103)
        if level > best["level_dbfs"]:
            best = {"mains": m, "f0": f0, "level_dbfs": level, "harmonics": found}
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
    prominence_db: float = 12.0,
    weak_prominence_db: float = 6.0,
    stability_db: float = 6.0,
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
    prominence_db, weak_prominence_db, stability_db : float
        See :func:`hum_components`.
    """
    x, sr = as_array(audio, sr)
    if x.shape[1] == 0:
        return []
    h = hum_components(x, sr, tolerance=tolerance, prominence_db=prominence_db,
                       weak_prominence_db=weak_prominence_db, stability_db=stability_db)
    if h["mains"] is None or h["level_dbfs"] < warn_dbfs:
        return []
    if len(h["harmonics"]) < min_harmonics:
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
    return [finding(NAME, sev, 0.0, x.shape[1] / sr, lv, "dBFS",
                    f"{h['mains']:.0f} Hz hum at {lv:.0f} dBFS (lines at {ks} Hz)")]
