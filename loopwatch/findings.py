"""The result record every quality check returns.

A :class:`Finding` says what is wrong, how badly, and where, in file time.
Checks, the live monitor, the daemon and the DAW clients all speak in findings;
the daemon turns those at or above the configured severity into alerts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

SEVERITIES = ("info", "warn", "error")
_RANK = {name: i for i, name in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """Return 0 for ``info``, 1 for ``warn``, 2 for ``error``; raise ValueError otherwise."""
    try:
        return _RANK[severity]
    except KeyError:
        raise ValueError(f"unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}") from None


def worst_severity(findings: Iterable["Finding"]) -> str | None:
    """The highest severity among ``findings``, or None when there are none."""
    best = None
    for f in findings:
        if best is None or _RANK[f.severity] > _RANK[best]:
            best = f.severity
    return best


@dataclass(frozen=True)
class Finding:
    """One problem (or informational measurement) found in a file.

    Attributes
    ----------
    check : str
        Name of the check that produced it, e.g. ``"click"``.
    severity : str
        ``"info"``, ``"warn"`` or ``"error"``.
    t0, t1 : float
        Start and end in seconds of file time (``t1 >= t0``; equal for an instant).
    value : float
        The measured quantity, in ``unit``.
    unit : str
        Unit of ``value``, e.g. ``"dB"``, ``"dBTP"``, ``"LUFS"``, ``"ms"``.
    message : str
        One human-readable line, e.g. ``"click at 1.234 s (+18 dB above local residual)"``.
    channel : int or None
        Channel index when the problem is in one channel only.
    """

    check: str
    severity: str
    t0: float
    t1: float
    value: float
    unit: str
    message: str
    channel: int | None = None

    def __post_init__(self) -> None:
        severity_rank(self.severity)
        if self.t1 < self.t0:
            raise ValueError(f"finding {self.check}: t1 ({self.t1}) < t0 ({self.t0})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Finding":
        return cls(**{k: d[k] for k in ("check", "severity", "t0", "t1", "value", "unit", "message")},
                   channel=d.get("channel"))
