"""DC offset: a constant shift of the waveform away from zero.

The offset is measured two ways that agree for a real offset and disagree for
music: the mean of the whole channel, and the median of the means of 50 ms
segments. A constant offset moves every segment's mean by the same amount, so
the median follows it exactly; low notes make individual segment means swing
either way, and the median ignores them. The reported offset is the smaller
of the two in magnitude (and must have the same sign in both).
"""

from __future__ import annotations

import numpy as np

from loopwatch.checks._common import as_array, db, finding
from loopwatch.findings import Finding

NAME = "dc-offset"


def dc_offset(x: np.ndarray, sr: int = 48000, *, segment_ms: float = 50.0) -> float:
    """Robust DC estimate of one channel (see the module docstring); 0.0 when the two estimates disagree in sign."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return 0.0
    mean = float(x.mean())
    seg = max(1, int(segment_ms * sr / 1000))
    k = x.size // seg
    if k >= 3:
        med = float(np.median(x[: k * seg].reshape(k, seg).mean(axis=1)))
    else:
        med = mean
    if mean == 0.0 or med == 0.0 or np.sign(mean) != np.sign(med):
        return 0.0
    return mean if abs(mean) < abs(med) else med


def check_dc_offset(
    audio,
    sr: int | None = None,
    *,
    warn_db: float = -46.0,
    error_db: float = -30.0,
    segment_ms: float = 50.0,
) -> list[Finding]:
    """Report a DC offset at or above ``warn_db`` dBFS.

    Parameters
    ----------
    warn_db : float
        -46 dBFS (0.5 % of full scale): from there an offset costs measurable
        headroom and makes every cut without a fade tick. Music itself stays
        below it: a short loop of low plucked notes that all start on the same
        half-wave can average -50 dBFS without any offset.
    error_db : float
        -30 dBFS (3 %): a converter or plug-in fault; a high-pass at 10-20 Hz
        fixes it.
    segment_ms : float
        Segment length for the median estimate.

    Returns
    -------
    list of Finding
        One per file (channels with an offset listed in the message), value
        in dBFS, spanning the file.
    """
    x, sr = as_array(audio, sr)
    n = x.shape[1]
    if n == 0:
        return []
    offs = [dc_offset(x[ch], sr, segment_ms=segment_ms) for ch in range(x.shape[0])]
    lv = [float(db(abs(o))) for o in offs]
    bad = [ch for ch, l in enumerate(lv) if l >= warn_db]
    if not bad:
        return []
    worst = max(bad, key=lambda c: lv[c])
    sev = "error" if lv[worst] >= error_db else "warn"
    pct = abs(offs[worst]) * 100
    where = "" if len(bad) == x.shape[0] else f" in channel {', '.join(str(c + 1) for c in bad)}"
    ch = bad[0] if len(bad) == 1 and x.shape[0] > 1 else None
    return [finding(NAME, sev, 0.0, n / sr, lv[worst], "dBFS",
                    f"DC offset {offs[worst]:+.4f} ({lv[worst]:.1f} dBFS, {pct:.2f} % of full scale){where}",
                    channel=ch)]


class DCStream:
    """Streaming DC meter: a one-pole average with time constant ``tau_s`` per channel.

    Reports once per channel when the running offset has stayed at or above
    ``warn_db`` for ``hold_s``, and again only after it has dropped below.
    """

    def __init__(self, channels: int, sr: int = 48000, *, warn_db: float = -46.0, error_db: float = -30.0,
                 tau_s: float = 1.0, hold_s: float = 2.0):
        self.channels, self.sr = int(channels), int(sr)
        self.warn = 10.0 ** (warn_db / 20.0)
        self.error = 10.0 ** (error_db / 20.0)
        self.tau = float(tau_s)
        self.hold = int(hold_s * sr)
        self.pos = 0
        self.level = np.zeros(self.channels)
        self._since = np.full(self.channels, -1, dtype=np.int64)
        self._reported = np.zeros(self.channels, dtype=bool)

    def process(self, block: np.ndarray) -> list[Finding]:
        block = np.asarray(block, dtype=np.float64)
        if block.ndim == 1:
            block = block[None, :]
        frames = block.shape[1]
        out: list[Finding] = []
        if frames == 0:
            return out
        # exact one-pole update over the block: y <- a^N y + (1 - a^N) * mean (block-mean approximation)
        a = np.exp(-frames / (self.tau * self.sr))
        self.level = a * self.level + (1.0 - a) * block.mean(axis=1)
        self.pos += frames
        for ch in range(self.channels):
            v = abs(self.level[ch])
            if v >= self.warn:
                if self._since[ch] < 0:
                    self._since[ch] = self.pos
                if not self._reported[ch] and self.pos - self._since[ch] >= self.hold:
                    self._reported[ch] = True
                    d = float(db(v))
                    out.append(finding(NAME, "error" if v >= self.error else "warn", self._since[ch] / self.sr,
                                       self.pos / self.sr, d, "dBFS",
                                       f"DC offset {self.level[ch]:+.4f} ({d:.1f} dBFS) on input channel {ch + 1}",
                                       channel=ch))
            else:
                self._since[ch] = -1
                self._reported[ch] = False
        return out
