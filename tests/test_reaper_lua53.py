"""REAPER 6 runs ReaScripts with Lua 5.3 (REAPER 7: 5.4): run a representative
part of the REAPER script tests again under lua5.3."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import test_reaper_osc as osc_tests
import test_reaper_panel as panel_tests
import test_reaper_score as score_tests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reaper_scripts" / "tests"))
import lua_harness as H  # noqa: E402

LUA53 = shutil.which("lua5.3")


def _has_socket() -> bool:
    return LUA53 is not None and subprocess.run([LUA53, "-e", "require('socket')"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _has_socket(), reason="lua5.3 with LuaSocket is not installed (scripts/setup-system)")


@pytest.mark.parametrize("test", [
    osc_tests.test_lua_requests_are_valid_daemon_requests,
    osc_tests.test_python_pushes_decode_in_lua,
    osc_tests.test_json_round_trip_against_python,
    score_tests.test_mapping_sections_playrate_reverse,
    score_tests.test_inbox_request_and_journal_results,
    score_tests.test_osc_transport,
    panel_tests.test_gfx_panel_journal_click,
    panel_tests.test_imgui_panel_osc_subscribe_sync_click,
], ids=lambda f: f.__name__)
def test_under_lua53(test, tmp_path, monkeypatch):
    monkeypatch.setattr(H, "LUA", LUA53)
    test(tmp_path)
