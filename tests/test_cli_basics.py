"""The command shell stays light: help is fast because nothing heavy is imported."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "sklearn", "scipy", "matplotlib", "laion_clap", "librosa", "soxr", "sounddevice", "watchdog")


def test_help_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from loopwatch.cli import app\n"
        "from typer.testing import CliRunner\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"imported at --help: {out.stdout.strip()}"


def test_version():
    out = subprocess.run([sys.executable, "-m", "loopwatch", "--version"], capture_output=True, text=True, timeout=60)
    from loopwatch import __version__

    assert out.returncode == 0 and out.stdout.strip() == f"loopwatch {__version__}"
