#!/usr/bin/env python3
"""Evaluate detectors and checks on a corpus: ``python bench/evaluate.py CORPUS [--encoder spectral] [--out bench/results]``.

A thin wrapper over ``loopwatch bench evaluate`` (see docs/benchmark.md); all options are the same.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loopwatch.cli import app  # noqa: E402

if __name__ == "__main__":
    app(args=["bench", "evaluate", *sys.argv[1:]], prog_name="bench/evaluate.py")
