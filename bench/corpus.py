#!/usr/bin/env python3
"""Render the loopwatch evaluation corpus: ``python bench/corpus.py OUT [--size small|default] [--seed N] [--json]``.

A thin wrapper over ``loopwatch bench corpus`` (see docs/benchmark.md); all options are the same.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loopwatch.cli import app  # noqa: E402

if __name__ == "__main__":
    app(args=["bench", "corpus", *sys.argv[1:]], prog_name="bench/corpus.py")
