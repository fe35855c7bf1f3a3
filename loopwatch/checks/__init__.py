"""Quality-control checks: what is wrong with a loop, and where.

Each check is a plain function ``check_<name>(audio, sr=None, **thresholds) ->
list[Finding]`` over a :class:`loopwatch.audio.Audio` or a float array
``(channels, samples)`` / ``(samples,)`` (48 kHz unless ``sr`` says
otherwise). Every threshold is a keyword argument with a documented default;
the ``[checks.<name>]`` tables of the configuration file override them.

=================  =============================================================
name               finds
=================  =============================================================
``click``          short impulsive disturbances (LPC matched-filter detector)
``discontinuity``  waveform jumps: splices, lost or repeated samples
``dropout``        sound cut abruptly to digital silence
``seam``           a jump or level/spectral mismatch where the loop wraps
``clipping``       flat runs at the signal's extremes
``true-peak``      true peak above -1 dBTP (BS.1770-4, 4x oversampling)
``noise``          a stationary broadband noise floor, and the SNR it leaves
``hum``            50/60 Hz mains hum with harmonics
``dc-offset``      a constant offset
``silence``        an all-silent file; leading or trailing digital silence
``stereo``         a dead channel; polarity inversion (L = -R); identical channels
``loudness``       integrated loudness in LUFS (informational)
``length``         length not a whole number of beats at the loop's tempo
=================  =============================================================

:func:`run_checks` runs all (or some) of them and returns the findings sorted
by time; :func:`run_all` is the same with defaults, for the evaluation
harness (``loopwatch bench evaluate --check loopwatch.checks:run_all``).
Streaming forms for live input live in :mod:`loopwatch.checks.streaming`.
"""

from __future__ import annotations

import inspect
import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from loopwatch.checks._common import as_array, memo_scope
from loopwatch.checks.click import check_click, check_discontinuity
from loopwatch.checks.clipping import check_clipping
from loopwatch.checks.dc import check_dc_offset
from loopwatch.checks.dropout import check_dropout
from loopwatch.checks.hum import check_hum
from loopwatch.checks.loudness import check_loudness
from loopwatch.checks.noise import check_noise
from loopwatch.checks.seam import check_seam
from loopwatch.checks.silence import check_silence
from loopwatch.checks.stereo import check_stereo
from loopwatch.checks.tempo import check_length
from loopwatch.checks.truepeak import check_true_peak
from loopwatch.findings import Finding, severity_rank

_log = logging.getLogger("loopwatch.checks")


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: its name, function, one-line summary and accepted aliases."""

    name: str
    func: Callable[..., list[Finding]]
    summary: str
    aliases: tuple[str, ...] = ()

    def params(self) -> dict[str, Any]:
        """The check's configurable keyword arguments and their defaults."""
        sig = inspect.signature(self.func)
        return {k: p.default for k, p in sig.parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY and k not in ("path", "bpm")}


#: Every check, in report order.
CHECKS: dict[str, CheckSpec] = {
    s.name: s
    for s in (
        CheckSpec("click", check_click, "short impulsive disturbances", ("clicks", "impulse", "pop")),
        CheckSpec("discontinuity", check_discontinuity, "waveform jumps (splices, lost samples)", ("jump", "splice")),
        CheckSpec("dropout", check_dropout, "sound cut to digital silence", ("dropouts", "gap", "gaps")),
        CheckSpec("seam", check_seam, "jump or mismatch where the loop wraps", ("loop", "wrap")),
        CheckSpec("clipping", check_clipping, "flat runs at the extremes", ("clip", "clipped")),
        CheckSpec("true-peak", check_true_peak, "true peak above -1 dBTP", ("truepeak", "tp", "dbtp", "peak")),
        CheckSpec("noise", check_noise, "stationary broadband noise floor (hiss)", ("hiss", "snr")),
        CheckSpec("hum", check_hum, "50/60 Hz mains hum", ("mains", "buzz")),
        CheckSpec("dc-offset", check_dc_offset, "constant offset", ("dc",)),
        CheckSpec("silence", check_silence, "silent file, leading/trailing silence", ("silent",)),
        CheckSpec("stereo", check_stereo, "dead channel, polarity inversion, identical channels", ("polarity", "phase", "mono")),
        CheckSpec("loudness", check_loudness, "integrated loudness (LUFS)", ("lufs", "level")),
        CheckSpec("length", check_length, "length vs tempo", ("tempo", "bpm", "beats")),
    )
}

for _spec in CHECKS.values():
    _spec.func.check_names = (_spec.name,)  # type: ignore[attr-defined]  # for the evaluation harness


#: Files shorter than this (seconds) get only the :data:`SHORT_CHECKS`, and one ``info`` finding saying so.
MIN_CHECK_S = 0.05
#: The checks that mean something on a few milliseconds of audio.
SHORT_CHECKS = frozenset({"clipping", "true-peak", "silence", "stereo", "loudness"})


class CheckConfigError(ValueError):
    """Bad check names or configuration; the message is one line."""


def resolve_names(names: Iterable[str]) -> list[str]:
    """Turn user input (names, aliases, unambiguous prefixes; comma-separated allowed) into check names.

    Raises :class:`CheckConfigError` for unknown or ambiguous entries.
    """
    out: list[str] = []
    for raw in names:
        for token in str(raw).split(","):
            t = token.strip().lower().replace("_", "-")
            if not t:
                continue
            if t in CHECKS:
                hit = t
            else:
                by_alias = [s.name for s in CHECKS.values() if t in s.aliases]
                if by_alias:
                    hit = by_alias[0]
                else:
                    pref = [s.name for s in CHECKS.values()
                            if s.name.startswith(t) or any(a.startswith(t) for a in s.aliases)]
                    pref = list(dict.fromkeys(pref))
                    if len(pref) == 1:
                        hit = pref[0]
                    elif pref:
                        raise CheckConfigError(f"check {token.strip()!r} is ambiguous: {', '.join(pref)}")
                    else:
                        raise CheckConfigError(f"unknown check {token.strip()!r}; known: {', '.join(CHECKS)}")
            if hit not in out:
                out.append(hit)
    return out


def check_params(config: Mapping[str, Any] | None, names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Validate a ``[checks]`` config table and return ``{check: {param: value}}`` for the checks in ``names``.

    Non-table entries (such as ``min_severity``) are ignored; a table for an
    unknown check, or an unknown parameter, raises :class:`CheckConfigError`.
    """
    out: dict[str, dict[str, Any]] = {n: {} for n in (names or CHECKS)}
    if not config:
        return out
    for key, table in config.items():
        if not isinstance(table, Mapping):
            continue
        name = resolve_names([key])[0]
        known = CHECKS[name].params()
        for p, v in table.items():
            if p not in known:
                raise CheckConfigError(f"[checks.{key}] has no setting {p!r}; settings: {', '.join(known)}")
            _check_value(f"[checks.{key}] {p}", p, known[p], v)
            if name in out:
                out[name][p] = v
    return out


def _check_value(where: str, key: str, default: Any, v: Any) -> None:
    """Refuse a setting whose type differs from its default's, a number that is not finite, a count below 1 or a
    negative duration."""
    if isinstance(default, bool):
        if not isinstance(v, bool):
            raise CheckConfigError(f"{where} must be true or false, got {v!r}")
        return
    if isinstance(default, int):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise CheckConfigError(f"{where} must be a whole number, at least 1, got {v!r}")
        return
    if isinstance(default, float):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise CheckConfigError(f"{where} must be a number, got {v!r}")
        if not math.isfinite(v):
            raise CheckConfigError(f"{where} must be a finite number, got {v!r}")
        if (key.endswith("_ms") or key.endswith("_s")) and v < 0:
            raise CheckConfigError(f"{where} is a duration and cannot be negative, got {v!r}")


def validate_check_settings(config: Mapping[str, Any] | None) -> None:
    """Validate a ``[checks]`` config table as :func:`check_params` does, then run every check that has settings on
    two seconds of test sound with them, so values it cannot work with are refused now, in one line naming the
    table, rather than when the first file is checked."""
    params = check_params(config)
    table = {resolve_names([k])[0]: k for k, t in (config or {}).items() if isinstance(t, Mapping)}
    x = _test_sound()
    for name, key in table.items():
        try:
            CHECKS[name].func(x, _TEST_SR, **params[name])
        except Exception as exc:  # noqa: BLE001 - any failure means these settings cannot be used
            settings = ", ".join(f"{p} = {v!r}" for p, v in params[name].items())
            raise CheckConfigError(f"[checks.{key}] {settings}: the check cannot run with these settings "
                                   f"({type(exc).__name__}: {exc})") from None


_TEST_SR = 48000


def _test_sound() -> np.ndarray:
    """Two seconds of decaying tones over quiet noise, stereo, 48 kHz (fixed seed)."""
    rng = np.random.default_rng(0)
    t = np.arange(2 * _TEST_SR) / _TEST_SR
    tone = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((110.0, 220.0, 330.0), 1))
    env = np.exp(-4.0 * (t % 0.5))
    x = 0.3 * env * tone + 1e-3 * rng.standard_normal(t.size)
    return np.stack([x, 0.9 * x]).astype(np.float32)


def run_checks(
    audio,
    *,
    sr: int | None = None,
    only: Iterable[str] | str | None = None,
    config: Mapping[str, Any] | None = None,
    min_severity: str = "info",
    path: str | None = None,
) -> list[Finding]:
    """Run the checks on one file and return the findings sorted by time.

    Parameters
    ----------
    audio : Audio or np.ndarray
        A decoded file, or an array ``(channels, samples)`` / ``(samples,)`` at ``sr``.
    sr : int, optional
        Rate of an array (default 48000).
    only : str or iterable of str, optional
        Check names, aliases or unambiguous prefixes (``"click,clip"``); default all.
    config : mapping, optional
        The ``[checks]`` table of the configuration: ``{"click": {"threshold_db": 20}}``.
    min_severity : str
        Drop findings below this severity.
    path : str, optional
        The file the audio came from (for the length check's ``acid`` chunk and
        name); defaults to ``audio.path``.
    """
    if isinstance(only, str):
        only = [only]
    names = resolve_names(only) if only else list(CHECKS)
    params = check_params(config, names)
    rank = severity_rank(min_severity)
    x, rate = as_array(audio, sr)
    p = path if path is not None else getattr(audio, "path", None)
    findings: list[Finding] = []
    if x.shape[1] < MIN_CHECK_S * rate:
        # a few milliseconds are not a loop: a DC offset, a seam or a tempo cannot be told from one cycle
        skipped = [n for n in names if n not in SHORT_CHECKS]
        names = [n for n in names if n in SHORT_CHECKS]
        if skipped:
            ms = 1000.0 * x.shape[1] / rate
            findings.append(Finding("length", "info", 0.0, x.shape[1] / rate, ms, "ms",
                                    f"{ms:.3g} ms is too short for the {', '.join(skipped)} checks "
                                    f"(they need {1000 * MIN_CHECK_S:.0f} ms)"))
    with memo_scope():
        for name in names:
            spec = CHECKS[name]
            kw = dict(params[name])
            if "path" in inspect.signature(spec.func).parameters and p and p != "<array>":
                kw["path"] = p
            try:
                findings.extend(spec.func(x, rate, **kw))
            except Exception as exc:  # noqa: BLE001 - one failing check must not cost the file its other checks
                _log.debug("the %s check failed on %s", name, p or "<array>", exc_info=True)
                findings.append(Finding(name, "warn", 0.0, x.shape[1] / rate, 0.0, "",
                                        f"the {name} check could not run: {type(exc).__name__}: {exc}"))
    findings = [f for f in findings if severity_rank(f.severity) >= rank]
    order = {n: i for i, n in enumerate(CHECKS)}
    findings.sort(key=lambda f: (f.t0, order.get(f.check, 99), f.t1))
    return findings


def run_all(audio) -> list[Finding]:
    """Every check with default settings (the evaluation harness's entry point)."""
    return run_checks(audio)


run_all.check_names = tuple(CHECKS)  # type: ignore[attr-defined]

__all__ = [
    "CHECKS", "CheckSpec", "CheckConfigError", "resolve_names", "check_params", "validate_check_settings",
    "run_checks", "run_all",
    "check_click", "check_discontinuity", "check_dropout", "check_seam", "check_clipping", "check_true_peak",
    "check_noise", "check_hum", "check_dc_offset", "check_silence", "check_stereo", "check_loudness",
    "check_length",
]
