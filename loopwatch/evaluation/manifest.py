"""The corpus manifest: one CSV row per audio file, saying what it is and where its defects are.

Every corpus folder holds ``manifest.csv`` (the labels) and ``corpus.json``
(how it was made: seed, size, tool versions). The columns are documented in
``docs/benchmark.md``; in short:

``file``
    Path relative to the corpus folder, with forward slashes.
``library``
    The library the row belongs to (``bass``, ``guitar``, or a user's name).
``split``
    ``train``, ``val`` or ``test``; every anomaly is ``test``.
``label``
    ``normal`` or ``anomaly``.
``family``
    ``normal``, ``out-of-style`` or ``defect``.
``kind``
    What it is: the instrument for normal loops (``bass``, ``guitar``), the
    out-of-style material (``drums``, ``speech``, ...) or the defect
    (``click``, ``dropout``, ...).
``check``
    For defects, the name of the quality check expected to find it.
``strength``, ``unit``, ``grade``
    Defect strength as a number and its unit (``dBFS``, ``dB SNR``, ``ms``,
    ...), and a short label such as ``-30 dBFS``; ``default`` is ``1`` for the
    default strength of the kind.
``positions``
    JSON list of ``[start, end)`` sample-index pairs at 48 kHz in *this* file
    where the defect is; ``[]`` when the whole file is the anomaly.
``tempo``, ``bars``, ``key``, ``program``, ``pattern``
    Musical facts (tempo in BPM as written in the name; GM program number).
``source``
    For defects, the clean file the defect was injected into.
``acid``
    ``1`` when the WAV carries an ``acid`` chunk.
``n_samples``, ``peak_dbfs``, ``seed``, ``params``
    Length in samples at 48 kHz, sample peak, the per-file seed, and a JSON
    object of generator or injection parameters.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.csv"
META_NAME = "corpus.json"
LABELS = ("normal", "anomaly")
FAMILIES = ("normal", "out-of-style", "defect")
SPLITS = ("train", "val", "test")


class ManifestError(Exception):
    """A manifest cannot be read; ``str(err)`` is ``"<path>: <reason>"``."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass
class Entry:
    """One row of the manifest (see the module docstring for the meaning of each field)."""

    file: str
    library: str
    split: str
    label: str
    family: str
    kind: str
    check: str = ""
    strength: float | None = None
    unit: str = ""
    grade: str = ""
    default: bool = False
    positions: list[list[int]] = field(default_factory=list)
    tempo: float | None = None
    bars: int | None = None
    key: str = ""
    program: int | None = None
    pattern: str = ""
    source: str = ""
    acid: bool = False
    n_samples: int = 0
    peak_dbfs: float | None = None
    seed: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def is_anomaly(self) -> bool:
        return self.label == "anomaly"

    def to_row(self) -> dict[str, str]:
        """The CSV row: numbers as text, lists and dicts as compact JSON, booleans as 0/1."""
        row: dict[str, str] = {}
        for k, v in asdict(self).items():
            if v is None:
                row[k] = ""
            elif isinstance(v, bool):
                row[k] = "1" if v else "0"
            elif isinstance(v, (list, dict)):
                row[k] = json.dumps(v, separators=(",", ":"), sort_keys=True)
            elif isinstance(v, float):
                row[k] = repr(round(v, 6))
            else:
                row[k] = str(v)
        return row

    @classmethod
    def from_row(cls, row: dict[str, str]) -> "Entry":
        kw: dict[str, Any] = {}
        for f in fields(cls):
            raw = row.get(f.name, "")
            if raw is None:
                raw = ""
            if f.name in ("positions", "params"):
                kw[f.name] = json.loads(raw) if raw else ([] if f.name == "positions" else {})
            elif f.name in ("strength", "tempo", "peak_dbfs"):
                kw[f.name] = float(raw) if raw != "" else None
            elif f.name in ("bars", "program"):
                kw[f.name] = int(raw) if raw != "" else None
            elif f.name == "n_samples":
                kw[f.name] = int(raw) if raw != "" else 0
            elif f.name in ("acid", "default"):
                kw[f.name] = raw.strip().lower() in ("1", "true", "yes")
            else:
                kw[f.name] = raw
        return cls(**kw)


FIELDNAMES = tuple(f.name for f in fields(Entry))


def write_manifest(path: str | os.PathLike, entries: list[Entry]) -> Path:
    """Write ``entries`` as CSV (sorted by library, family, file) and return the path."""
    p = Path(path)
    order = {f: i for i, f in enumerate(FAMILIES)}
    rows = sorted(entries, key=lambda e: (e.library, order.get(e.family, 9), e.file))
    with open(p, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDNAMES, lineterminator="\n")
        w.writeheader()
        for e in rows:
            w.writerow(e.to_row())
    return p


def read_manifest(path: str | os.PathLike) -> list[Entry]:
    """Read a manifest CSV (or the ``manifest.csv`` inside a corpus folder).

    Raises
    ------
    ManifestError
        When the file is missing, lacks required columns or has a malformed row.
    """
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST_NAME
    if not p.is_file():
        raise ManifestError(p, "no manifest here (make one with `loopwatch bench corpus` or `bench defects`)")
    out = []
    with open(p, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"file", "library", "split", "label", "family", "kind"} - set(reader.fieldnames or ())
        if missing:
            raise ManifestError(p, f"missing columns: {', '.join(sorted(missing))}")
        for i, row in enumerate(reader, start=2):
            try:
                e = Entry.from_row(row)
            except (ValueError, TypeError) as exc:
                raise ManifestError(p, f"line {i}: {exc}") from None
            if e.label not in LABELS or e.family not in FAMILIES:
                raise ManifestError(p, f"line {i}: label {e.label!r} / family {e.family!r} not recognised")
            out.append(e)
    return out


def write_meta(folder: str | os.PathLike, meta: dict[str, Any]) -> Path:
    p = Path(folder) / META_NAME
    p.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return p


def read_meta(folder: str | os.PathLike) -> dict[str, Any]:
    """The ``corpus.json`` of a corpus folder ({} when absent)."""
    p = Path(folder) / META_NAME
    if not p.is_file():
        return {}
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ManifestError(p, f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
