"""Helpers shared by the checks: input coercion, decibels, run finding, findings."""

from __future__ import annotations

import contextvars
from typing import Any, Callable

import numpy as np

from loopwatch.audio import MAX_ABS
from loopwatch.findings import Finding

#: Rate every check assumes unless told otherwise (the rate :func:`loopwatch.audio.load` delivers).
DEFAULT_SR = 48000

#: Amplitude treated as "digital zero": below half an LSB of 16-bit audio (-96.3 dBFS).
#: A 16-bit file stores these as exact zeros; float and 24-bit files rarely go
#: this low inside sound except where something wrote zeros.
DIGITAL_ZERO = 2.0**-16


def as_array(audio: Any, sr: int | None = None) -> tuple[np.ndarray, int]:
    """Return ``(x, sr)`` with ``x`` float32 of shape ``(channels, samples)``.

    ``audio`` is a :class:`loopwatch.audio.Audio` (its samples at the file's
    own rate, ``.source`` at ``.orig_sr``, are used, not the resampled
    ``.data``; ``sr`` must then be None or equal), or an array of shape
    ``(samples,)`` or ``(channels, samples)`` at rate ``sr`` (default 48 kHz).
    Raises ValueError for anything else, including NaN/inf samples.
    """
    if hasattr(audio, "data") and hasattr(audio, "sr"):
        if getattr(audio, "source", None) is not None:
            x, rate = audio.source, int(audio.orig_sr)
        else:
            x, rate = audio.data, int(audio.sr)
        if sr is not None and int(sr) != rate:
            raise ValueError(f"sr={sr} given with audio at {rate} Hz")
    else:
        x, rate = audio, int(sr) if sr is not None else DEFAULT_SR
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"expected (samples,) or (channels, samples) audio, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"expected float samples in [-1, 1], got {x.dtype}")
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, got {rate}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.size:
        # inside run_checks every check gets the same array: test it once
        memo = _MEMO.get()
        key = ("finite", id(x), x.shape)
        if memo is None or key not in memo:
            if not np.isfinite(x).all():
                raise ValueError("audio contains NaN or infinite samples")
            if np.abs(x).max() > MAX_ABS:
                raise ValueError(f"samples reach {float(np.abs(x).max()):.3g}: expected float audio near [-1, 1] "
                                 f"(at most {MAX_ABS:g})")
            if memo is not None:
                memo[key] = True
    return x, rate


def db(x: float | np.ndarray, floor: float = 1e-12) -> Any:
    """Amplitude ratio in dB: ``20 log10(max(x, floor))``."""
    return 20.0 * np.log10(np.maximum(x, floor))


def db_power(x: float | np.ndarray, floor: float = 1e-24) -> Any:
    """Power ratio in dB: ``10 log10(max(x, floor))``."""
    return 10.0 * np.log10(np.maximum(x, floor))


def from_db(d: float) -> float:
    return float(10.0 ** (d / 20.0))


def runs(mask: np.ndarray, min_len: int = 1) -> np.ndarray:
    """Start/stop pairs ``(k, 2)`` of the True runs of a 1-D boolean mask (stop exclusive)."""
    m = np.asarray(mask, dtype=bool)
    if m.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    edges = np.flatnonzero(m[1:] != m[:-1]) + 1
    bounds = np.concatenate([[0], edges, [m.size]])
    starts = bounds[:-1][0 if m[0] else 1 :: 2]
    stops = bounds[1:][0 if m[0] else 1 :: 2]
    keep = (stops - starts) >= min_len
    return np.stack([starts[keep], stops[keep]], axis=1).astype(np.int64)


def merge_intervals(iv: np.ndarray, gap: int) -> np.ndarray:
    """Merge sorted ``(k, 2)`` intervals closer than ``gap`` samples."""
    if len(iv) == 0:
        return iv
    out = [list(iv[0])]
    for s, e in iv[1:]:
        if s - out[-1][1] <= gap:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return np.asarray(out, dtype=np.int64)


def fmt_t(seconds: float) -> str:
    return f"{seconds:.3f} s"


def finding(check: str, severity: str, t0: float, t1: float, value: float, unit: str, message: str,
            channel: int | None = None) -> Finding:
    """Build a :class:`Finding`, rounding times to the microsecond and values to 0.01."""
    return Finding(check=check, severity=severity, t0=round(float(t0), 6), t1=round(float(max(t1, t0)), 6),
                   value=round(float(value), 2), unit=unit, message=message, channel=channel)


# --- a per-run memo, so checks that share an analysis (click/discontinuity) compute it once ---

_MEMO: contextvars.ContextVar[dict | None] = contextvars.ContextVar("loopwatch_checks_memo", default=None)


def memoized(key: tuple, compute: Callable[[], Any]) -> Any:
    """Return ``compute()``, reusing the result within one :func:`loopwatch.checks.run_checks` call.

    Outside ``run_checks`` (no memo active) this just calls ``compute``.
    """
    memo = _MEMO.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


class memo_scope:
    """Context manager activating the memo (used by ``run_checks``)."""

    def __enter__(self):
        self._token = _MEMO.set({})
        return self

    def __exit__(self, *exc):
        _MEMO.reset(self._token)
        return False
