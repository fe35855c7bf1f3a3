"""The command shell stays light: help is fast because nothing heavy is imported."""

from __future__ import annotations

import re
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


def test_help_texts_keep_every_word():
    """Rich markup reads "[models]" as a style tag and drops it: no option help may contain such brackets, and the
    help shows what the source says."""
    from typer.main import get_command
    from typer.testing import CliRunner

    from loopwatch.cli import app

    root = get_command(app)
    n = 0

    def walk(cmd, path):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, path + [name])

    for path, cmd in walk(root, []):
        for p in cmd.params:
            text = getattr(p, "help", None) or ""
            assert not re.search(r"(?<!\\)\[[a-z_.]+\]", text), (path, p.name, text)
            n += 1
    assert n > 100  # every command's options were seen
    runner = CliRunner()
    out = runner.invoke(app, ["watch", "--help"], env={"COLUMNS": "200"}).output
    assert "watch.folders in the config" in out and "embed.device in the config" in out and "--verbose" in out
    assert "models.default in the config" in runner.invoke(app, ["score", "--help"], env={"COLUMNS": "200"}).output
