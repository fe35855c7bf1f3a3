"""Noise: a broadband, stationary noise floor (hiss) under the music, and the SNR it leaves.

Music and hiss differ in one robust way: hiss is *stationary*. In each octave
band from 250 Hz to 16 kHz the band energy of every 43 ms frame is measured;
where the music dominates a band, the energy swings with notes and attacks by
tens of dB between its 10th percentile and its median; where stationary noise
dominates, the two are within a dB or two (the statistics of a 43 ms band
energy of noise). Bands whose median is within ``stationary_db`` of their
10th percentile are *noise-dominated*; their level is the noise floor there.

From the noise-dominated bands the noise spectrum's slope is fitted (between
pink, 0 dB per octave, and white, +3 dB per octave; one band alone is taken as
white, the conservative choice), extrapolated over 20 Hz-20 kHz, and compared
with the file's total power: that is the SNR. A hiss is reported when the SNR
is at or below ``warn_snr_db`` and the floor is above ``min_floor_dbfs``. Only a
contiguous run of noise-dominated bands reaching the top octave (8-16 kHz, or
4-8 kHz under it) counts: hiss is broadband, while a single stationary band in
the middle is a sustained note.

The quietest frames give a second, simpler number for the message: the level
of the quietest 10 % of 43 ms frames, the floor a listener hears in the gaps.
"""

from __future__ import annotations

import numpy as np

from loopwatch.checks._common import as_array, db_power, finding
from loopwatch.findings import Finding

NAME = "noise"
#: Octave bands analysed (Hz).
BANDS = ((250.0, 500.0), (500.0, 1000.0), (1000.0, 2000.0), (2000.0, 4000.0), (4000.0, 8000.0), (8000.0, 16000.0))


def power_spectrogram(x: np.ndarray, sr: int = 48000, *, frame: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Power spectra of non-overlapping Hann frames, summed over channels: ``(P, freqs)``.

    ``P`` has shape ``(frames, frame // 2 + 1)`` and is scaled so that summing a
    row gives the frame's mean-square level (per channel, summed over channels).
    """
    import scipy.fft as sfft

    x = np.asarray(x, dtype=np.float32)
    ch, n = x.shape
    if n < frame:
        frame = max(16, 1 << int(np.floor(np.log2(max(n, 16)))))
    nf = n // frame
    freqs = np.fft.rfftfreq(frame, 1.0 / sr)
    if nf <= 0:
        return np.zeros((0, freqs.size)), freqs
    w = np.hanning(frame + 2)[1:-1].astype(np.float32)
    norm = 2.0 / (frame * frame * float(np.mean(w * w)))
    P = np.zeros((nf, freqs.size))
    for c in range(ch):
        S = sfft.rfft(x[c, : nf * frame].reshape(nf, frame) * w, axis=1)
        P += (S.real * S.real + S.imag * S.imag) * norm
    return P, freqs


def noise_floor(
    x: np.ndarray,
    sr: int = 48000,
    *,
    stationary_db: float = 3.0,
    min_flatness: float = 0.5,
    percentile: float = 10.0,
) -> dict:
    """Estimate the stationary broadband noise floor of ``x`` ``(channels, samples)``.

    Returns a dict with ``snr_db`` (inf when no band is noise-dominated),
    ``noise_dbfs`` (estimated full-band noise RMS, per channel), ``slope_db``
    (dB per octave), ``bands`` (indices into :data:`BANDS` of the
    noise-dominated bands), ``quiet_dbfs`` (level of the quietest frames) and
    ``signal_dbfs``.
    """
    ch = x.shape[0]
    P, freqs = power_spectrogram(x, sr)
    out = {"snr_db": float("inf"), "noise_dbfs": float("-inf"), "slope_db": 0.0, "bands": [],
           "quiet_dbfs": float("-inf"), "signal_dbfs": float("-inf")}
    nf = P.shape[0]
    if nf < 4:
        return out
    total = P.sum(axis=1)
    p_sig = float(np.mean(total)) / ch
    out["signal_dbfs"] = float(db_power(p_sig))
    k_lo = max(0, int(np.floor(percentile / 100.0 * (nf - 1))))
    out["quiet_dbfs"] = float(db_power(float(np.partition(total, k_lo)[k_lo]) / ch))
    nyq = sr / 2.0
    valid = [b for b, (f0, f1) in enumerate(BANDS) if f1 <= nyq]
    # per-bin median over frames, for the bins of the bands only (computed on
    # the transpose: each bin's frames contiguous)
    in_bands = np.zeros(freqs.size, dtype=bool)
    for b in valid:
        in_bands |= (freqs >= BANDS[b][0]) & (freqs < BANDS[b][1])
    med_spec = np.zeros(freqs.size)
    med_spec[in_bands] = np.partition(np.ascontiguousarray(P[:, in_bands].T), nf // 2, axis=1)[:, nf // 2]
    noisy = []
    for b in valid:
        sel = (freqs >= BANDS[b][0]) & (freqs < BANDS[b][1])
        e = P[:, sel].sum(axis=1)  # band energy per frame: many bins, so noise barely fluctuates
        srt = np.partition(e, (k_lo, nf // 2))
        lo, md = srt[k_lo], srt[nf // 2]
        if lo <= 0:
            continue
        stationary = db_power(md / lo) <= stationary_db
        # hiss has a smooth spectrum; sustained notes and cymbals are peaky even when stationary
        ms = med_spec[sel]
        flat = float(np.exp(np.mean(np.log(ms + 1e-30))) / max(float(np.mean(ms)), 1e-30))
        if stationary and flat >= min_flatness:
            noisy.append(b)
    # hiss is broadband: keep the contiguous run of noise-dominated bands that
    # reaches the top octave (or the one below it, which cymbals may cover)
    run: list[int] = []
    for top in (valid[-1], valid[-1] - 1) if valid else ():
        b = top
        while b >= 0 and b in noisy:
            run.insert(0, b)
            b -= 1
        if run:
            break
    if not run:
        return out
    band_power = {}
    for b in run:
        sel = (freqs >= BANDS[b][0]) & (freqs < BANDS[b][1])
        band_power[b] = float(np.median(P[:, sel].sum(axis=1)))
    top = run[-1]
    if len(run) >= 2:
        slope = float(db_power(band_power[top] / band_power[top - 1]))
    else:
        slope = 3.0  # one band: assume white, the least noise power for that band level
    slope = float(np.clip(slope, 0.0, 3.0))
    # octave k (0 = 250-500 Hz) holds band_power[top] * 10^(slope (k - top) / 10); sum over 20 Hz - 20 kHz
    ks = np.arange(np.log2(20.0 / 250.0), np.log2(min(20000.0, nyq) / 250.0), 1.0)
    p_noise = float(np.sum(band_power[top] * 10.0 ** (slope * (ks - top) / 10.0))) / ch
    out.update({"snr_db": float(db_power(p_sig / max(p_noise, 1e-30))), "noise_dbfs": float(db_power(p_noise)),
                "slope_db": slope, "bands": run})
    return out


def check_noise(
    audio,
    sr: int | None = None,
    *,
    warn_snr_db: float = 30.0,
    error_snr_db: float = 15.0,
    min_floor_dbfs: float = -80.0,
    stationary_db: float = 3.0,
    min_flatness: float = 0.5,
) -> list[Finding]:
    """Report broadband stationary noise (hiss) whose SNR is at or below ``warn_snr_db``.

    Parameters
    ----------
    warn_snr_db : float
        30 dB: hiss that close to the music is plainly audible in any gap or
        fade and builds up when loops are layered. Recordings with a normal
        noise floor (50 dB and more below the music) stay quiet.
    error_snr_db : float
        15 dB: noise is a prominent part of the sound.
    min_floor_dbfs : float
        Ignore floors below this (estimated full-band RMS, dBFS) whatever the
        SNR: a very quiet file with a -90 dBFS floor has nothing to fix.
    stationary_db : float
        A band is noise-dominated when its median frame energy is within this
        of its 10th percentile (stationary noise: about 1 dB; music: 10-40 dB).
    min_flatness : float
        ...and the spectral flatness (geometric over arithmetic mean) of its
        per-bin floor is at least this: hiss is smooth (about 0.8-0.9 per
        octave), sustained notes and cymbals are peaky.
    """
    x, sr = as_array(audio, sr)
    if x.shape[1] == 0:
        return []
    est = noise_floor(x, sr, stationary_db=stationary_db, min_flatness=min_flatness)
    if not est["bands"] or est["snr_db"] > warn_snr_db or est["noise_dbfs"] < min_floor_dbfs:
        return []
    snr = est["snr_db"]
    colour = "white" if est["slope_db"] >= 2.0 else ("pink" if est["slope_db"] <= 1.0 else "coloured")
    lo_hz = BANDS[min(est["bands"])][0]
    sev = "error" if snr <= error_snr_db else "warn"
    dur = x.shape[1] / sr
    return [finding(NAME, sev, 0.0, dur, snr, "dB SNR",
                    f"broadband {colour} noise: floor {est['noise_dbfs']:.0f} dBFS RMS, SNR {snr:.0f} dB "
                    f"(stationary above {lo_hz / 1000:g} kHz; quietest frames {est['quiet_dbfs']:.0f} dBFS)")]


class NoiseFloorStream:
    """Streaming noise-floor meter for live input: the level while the player is silent.

    Frames of ``frame_ms`` are measured; the floor is the ``percentile`` of
    the frame levels over the last ``window_s`` (minimum statistics: the
    quietest moments, when nobody plays). A finding is made once the floor
    has stayed at or above ``warn_dbfs`` for a whole window (a noisy preamp,
    a buzzing cable), and again only after it has dropped below.
    """

    def __init__(self, channels: int, sr: int = 48000, *, frame_ms: float = 50.0, window_s: float = 5.0,
                 percentile: float = 10.0, warn_dbfs: float = -60.0):
        self.channels, self.sr = int(channels), int(sr)
        self.frame = max(1, int(frame_ms * sr / 1000))
        self.n_frames = max(4, int(window_s * 1000 / frame_ms))
        self.percentile = percentile
        self.warn = warn_dbfs
        self.pos = 0
        self._acc = np.zeros(self.channels)
        self._count = 0
        self._levels: list[np.ndarray] = []
        self._reported = False
        self.floor_dbfs = float("-inf")

    def process(self, block: np.ndarray) -> list[Finding]:
        block = np.asarray(block, dtype=np.float64)
        if block.ndim == 1:
            block = block[None, :]
        out: list[Finding] = []
        i = 0
        frames = block.shape[1]
        while i < frames:
            take = min(self.frame - self._count, frames - i)
            seg = block[:, i : i + take]
            self._acc += np.sum(seg * seg, axis=1)
            self._count += take
            i += take
            if self._count == self.frame:
                self._levels.append(self._acc / self.frame)
                self._levels = self._levels[-self.n_frames :]
                self._acc[:] = 0.0
                self._count = 0
                end = self.pos + i
                if len(self._levels) == self.n_frames:
                    lv = np.array(self._levels)  # (frames, channels)
                    floor = np.percentile(lv, self.percentile, axis=0)
                    self.floor_dbfs = float(db_power(float(floor.max())))
                    if self.floor_dbfs >= self.warn and not self._reported:
                        self._reported = True
                        ch = int(np.argmax(floor))
                        t0 = max(0, end - self.n_frames * self.frame) / self.sr
                        out.append(finding(NAME, "warn", t0, end / self.sr, self.floor_dbfs, "dBFS",
                                           f"input noise floor {self.floor_dbfs:.0f} dBFS on channel {ch + 1}",
                                           channel=ch))
                    elif self.floor_dbfs < self.warn - 3.0:
                        self._reported = False
        self.pos += frames
        return out
