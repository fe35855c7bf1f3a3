"""Data folder, settings and path matching of the REAPER scripts (lib/loopwatch_env.lua)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from loopwatch import config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reaper_scripts" / "tests"))
import lua_harness as H  # noqa: E402

pytestmark = pytest.mark.skipif(
    not H.lua_socket_available(), reason="lua5.4 with LuaSocket is needed (scripts/setup-system installs lua-socket)"
)

DATA_LUA = r"""
local env = require("loopwatch_env")
return { data = env.data_dir(), journal = env.journal_path(), inbox = env.inbox_dir() }
"""

CLEAN = ("LOOPWATCH_HOME", "XDG_DATA_HOME", "LOCALAPPDATA", "USERPROFILE")


@pytest.mark.parametrize(
    "os_name, env, expected",
    [
        ("Win64", {"LOCALAPPDATA": r"C:\Users\Me\AppData\Local"}, r"C:\Users\Me\AppData\Local\loopwatch"),
        ("Win32", {"USERPROFILE": r"C:\Users\Me"}, r"C:\Users\Me\AppData\Local\loopwatch"),
        ("OSX64", {"HOME": "/Users/me"}, "/Users/me/Library/Application Support/loopwatch"),
        ("macOS-arm64", {"HOME": "/Users/me"}, "/Users/me/Library/Application Support/loopwatch"),
        ("Other", {"HOME": "/home/me"}, "/home/me/.local/share/loopwatch"),
        ("Other", {"HOME": "/home/me", "XDG_DATA_HOME": "/xdg"}, "/xdg/loopwatch"),
        ("Other", {"LOOPWATCH_HOME": "/lw"}, "/lw/data"),
        ("Win64", {"LOOPWATCH_HOME": r"D:\lw"}, r"D:\lw\data"),
    ],
)
def test_default_data_folder(tmp_path, os_name, env, expected):
    res = H.run_eval(tmp_path, DATA_LUA, os=os_name, env=env, unset=tuple(k for k in CLEAN if k not in env),
                     extstate={})
    sep = "\\" if os_name.startswith("Win") else "/"
    assert res == {"data": expected, "journal": expected + sep + "journal.jsonl", "inbox": expected + sep + "inbox"}


def test_data_folder_matches_python_and_extstate_override(tmp_path, lw_home):
    # Same environment as loopwatch itself (the autouse fixture sets LOOPWATCH_HOME).
    res = H.run_eval(tmp_path, DATA_LUA, env={"LOOPWATCH_HOME": str(lw_home)}, extstate={})
    assert res["data"] == str(config.data_dir())
    assert res["journal"] == str(config.journal_path())
    assert res["inbox"] == str(config.inbox_dir())
    res = H.run_eval(tmp_path, DATA_LUA, env={"HOME": "/home/me", "LOOPWATCH_HOME": str(lw_home)},
                     extstate={"loopwatch": {"data_dir": "~/lwdata"}})
    assert res["data"] == "/home/me/lwdata"


SAME_LUA = r"""
local env = require("loopwatch_env")
local out = {}
for i, pair in ipairs(S.sc.pairs) do out[i] = env.same_path(pair[1], pair[2]) end
return out
"""


def test_same_path(tmp_path):
    ell = "\u2026"
    pairs = [
        ["/Music/Bass 1.wav", "/Music/Bass 1.wav"],
        ["/Music/Bass 1.wav", "/music/bass 1.wav"],
        [ell + "/Samples/Bass 1.wav", "/Music/Set/Samples/Bass 1.wav"],
        [ell + "/Samples/Bass 1.wav", "/Music/Set/Samples/Bass 2.wav"],
        ["", "/x.wav"],
    ]
    assert H.run_eval(tmp_path, SAME_LUA, os="Other", pairs=pairs) == [True, False, True, False, False]
    win = [
        ["C:/Music/Bass 1.wav", r"c:\music\BASS 1.wav"],
        [ell + r"\Samples\Bass 1.wav", r"C:\Music\Set\Samples\bass 1.wav"],
        [r"C:\Music\Bass 1.wav", r"C:\Music\Bass 10.wav"],
    ]
    assert H.run_eval(tmp_path, SAME_LUA, os="Win64", pairs=win) == [True, True, False]
    assert H.run_eval(tmp_path, SAME_LUA, os="OSX64", pairs=[pairs[1]]) == [True]
