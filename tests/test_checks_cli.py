"""``loopwatch check`` as a user runs it: real files, a real subprocess, exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import soundfile as sf

from test_checks_signals import SR, pluck_loop


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "loopwatch", "check", *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=env or os.environ.copy())


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("loops")
    clean = pluck_loop(2.0, seed=31)  # 2.0 s: 4 beats at 120 BPM
    sf.write(str(root / "clean_120bpm.wav"), clean.T, SR, subtype="PCM_24")
    clicky = clean.copy()
    clicky[:, 52_000] += 0.03
    (root / "sub").mkdir()
    sf.write(str(root / "sub" / "clicky_120bpm.wav"), clicky.T, SR, subtype="PCM_24")
    (root / "sub" / "clicky_120bpm.wav.asd").write_bytes(b"Ableton analysis")  # a Live sidecar: skipped
    (root / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    return root


def test_folder_walk_table_and_exit_status(library):
    r = _run(library / "clean_120bpm.wav", library / "sub")
    assert r.returncode == 1, r.stderr
    assert "clean_120bpm.wav" in r.stdout and "clicky_120bpm.wav" in r.stdout and ".asd" not in r.stdout
    assert "click at 1.083 s" in r.stdout
    assert "loudness" in r.stdout


def test_clean_file_exits_zero(library):
    r = _run(library / "clean_120bpm.wav")
    assert r.returncode == 0, r.stdout + r.stderr


def test_json_records(library):
    r = _run(library, "--json", "--only", "click,clip")
    recs = {json.loads(line)["path"].rsplit(os.sep, 1)[-1]: json.loads(line) for line in r.stdout.splitlines()}
    assert set(recs) == {"clean_120bpm.wav", "clicky_120bpm.wav", "broken.wav"}
    assert recs["clean_120bpm.wav"]["findings"] == []
    (f,) = recs["clicky_120bpm.wav"]["findings"]
    assert f["check"] == "click" and f["t0"] == pytest.approx(52_000 / SR, abs=0.002) and f["unit"] == "dB"
    assert "error" in recs["broken.wav"]
    assert r.returncode == 2  # a file could not be read


def test_unreadable_file_gets_one_line_and_the_rest_is_checked(library):
    r = _run(library / "broken.wav", library / "missing.wav", library / "clean_120bpm.wav")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and "broken.wav" in lines[0] and "missing.wav: no such file" in lines[1]
    assert "clean_120bpm.wav" in r.stdout


def test_min_severity_and_bad_arguments(library):
    r = _run(library / "sub", "--min-severity", "error")
    assert r.returncode == 0 and "click at" not in r.stdout  # the click is a warning
    assert _run(library, "--only", "c").returncode == 2
    bad = _run(library, "--min-severity", "loud")
    assert bad.returncode == 2 and "unknown severity" in bad.stderr


def test_config_overrides_thresholds(library, lw_home):
    cfg = lw_home / "config" / "loopwatch.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("[checks.click]\nthreshold_db = 200.0\n")
    env = os.environ.copy()
    r = _run(library / "sub", "--only", "click", env=env)
    assert r.returncode == 0 and "click at" not in r.stdout
    cfg.write_text("[checks.click]\ntreshold_db = 3\n")
    r = _run(library / "sub", env=env)
    assert r.returncode == 2 and "no setting 'treshold_db'" in r.stderr


def test_list_checks():
    r = _run("--list", "--json")
    info = json.loads(r.stdout)
    assert list(info)[:3] == ["click", "discontinuity", "dropout"] and "threshold_db" in info["click"]["settings"]


def test_unfinished_recording_is_checked_with_a_warning(library, tmp_path):
    """A WAV whose writer never filled in its sizes (a DAW that crashed mid-take): the audio it holds is checked,
    and a decode warning says it is unfinished; a file is not 'unreadable' for that."""
    raw = bytearray((library / "sub" / "clicky_120bpm.wav").read_bytes())
    raw[4:8] = b"\0\0\0\0"
    at = raw.index(b"data") + 4
    raw[at:at + 4] = b"\xff\xff\xff\xff"
    p = tmp_path / "crashed take.wav"
    p.write_bytes(bytes(raw))
    r = _run(p, "--json")
    assert r.returncode == 1, r.stderr
    rec = json.loads(r.stdout)
    checks = [f["check"] for f in rec["findings"]]
    assert checks[0] == "decode" and "click" in checks
    assert rec["findings"][0]["severity"] == "warn" and "placeholder" in rec["findings"][0]["message"]
    assert rec["duration"] == pytest.approx(2.0)
