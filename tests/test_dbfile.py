"""The SQLite files (embedding cache, daemon database): damaged ones are moved aside and rebuilt, unusable ones give
one line naming the file; the console script turns any unusable path into one line and exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from loopwatch.cache import EmbeddingCache
from loopwatch.dbfile import DatabaseFileError, open_db
from loopwatch.store import Store


@pytest.mark.parametrize("garbage", [b"garbage\n", b"SQLite format 3\x00" + b"\xff" * 200])
def test_a_damaged_cache_is_moved_aside_and_rebuilt(tmp_path, garbage, caplog):
    path = tmp_path / "embeddings.sqlite"
    with EmbeddingCache(path) as cache:
        cache.put("h1", "spectral", "v1", np.ones(4, np.float32))
    path.write_bytes(garbage)
    for extra in ("-wal", "-shm"):
        Path(str(path) + extra).unlink(missing_ok=True)
    with EmbeddingCache(path) as cache:
        assert cache.get("h1", "spectral", "v1") is None  # a new, empty cache
        cache.put("h2", "spectral", "v1", np.ones(4, np.float32))
        assert cache.get("h2", "spectral", "v1") is not None
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("embeddings.sqlite.damaged-")]
    assert len(aside) == 1 and aside[0].read_bytes() == garbage
    assert "the embedding cache was damaged" in caplog.text


def test_a_damaged_daemon_database_is_moved_aside(tmp_path):
    path = tmp_path / "daemon.sqlite"
    path.write_bytes(b"not a database at all" * 10)
    store = Store(path)
    store.close()
    assert any(p.name.startswith("daemon.sqlite.damaged-") for p in tmp_path.iterdir())


def test_without_rebuild_a_damaged_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "x.sqlite"
    path.write_bytes(b"garbage")
    with pytest.raises(DatabaseFileError, match=r"x\.sqlite: the test file is damaged \(file is not a database\)$"):
        open_db(path, "CREATE TABLE IF NOT EXISTS t (a)", "test file", rebuild=False)
    assert path.read_bytes() == b"garbage"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user for permissions")
def test_an_unwritable_folder_is_one_line(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(DatabaseFileError, match="cannot create the folder of the embedding cache: Permission"):
            EmbeddingCache(ro / "sub" / "embeddings.sqlite")
    finally:
        ro.chmod(0o700)


def test_a_folder_in_the_way_is_one_line(tmp_path):
    """A path that cannot be a database (here a file where the folder should be) fails as a DatabaseFileError."""
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(DatabaseFileError) as err:
        EmbeddingCache(tmp_path / "blocker" / "embeddings.sqlite")
    assert str(err.value).startswith(f"{tmp_path / 'blocker' / 'embeddings.sqlite'}: cannot create the folder")
    assert "\n" not in str(err.value)


def test_the_console_script_reports_an_unusable_path_in_one_line(tmp_path):
    """`loopwatch embed` with the cache folder blocked by a file: one line, exit status 2, no traceback."""
    from conftest import synth_loop
    import soundfile as sf

    home = tmp_path / "home"
    home.mkdir()
    (home / "cache").write_text("a file where the cache folder should be")
    sf.write(tmp_path / "a.wav", synth_loop(0.5).T, 48000)
    env = {**os.environ, "LOOPWATCH_HOME": str(home)}
    r = subprocess.run([sys.executable, "-m", "loopwatch", "embed", str(tmp_path / "a.wav"), "--encoder", "spectral",
                        "--out", str(tmp_path / "e.npz")], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("loopwatch: error: ") and "embeddings.sqlite" in r.stderr


def test_describe_os_error():
    from loopwatch.cli._common import describe_os_error

    assert describe_os_error(PermissionError(13, "Permission denied", "/x/y")) == "/x/y: Permission denied"
    assert describe_os_error(DatabaseFileError("/x/db: cannot open the cache: disk I/O error")) == \
        "/x/db: cannot open the cache: disk I/O error"
