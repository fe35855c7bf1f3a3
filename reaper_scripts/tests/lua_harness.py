"""Helpers for the REAPER script tests (tests/test_reaper_*.py).

The scripts run under ``lua5.4`` with the stub ``reaper`` table in
``reaper_stub.lua``; these helpers write a scenario, run a driver and read back
its JSON output. Nothing here imitates loopwatch itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE.parent
LIB = SCRIPTS / "lib"
SCORE_SCRIPT = SCRIPTS / "loopwatch_Score selected items.lua"
PANEL_SCRIPT = SCRIPTS / "loopwatch_Alerts panel.lua"
LUA = os.environ.get("LOOPWATCH_TEST_LUA") or shutil.which("lua5.4")


def lua_socket_available() -> bool:
    """True when lua5.4 can load LuaSocket (the stub's clock needs it)."""
    if not LUA:
        return False
    r = subprocess.run([LUA, "-e", "require('socket')"], capture_output=True)
    return r.returncode == 0


def lua_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # The scripts read LOOPWATCH_HOME like loopwatch does; tests pin data_dir instead.
    env.pop("LOOPWATCH_HOME", None)
    env.update(extra or {})
    return env


def scenario(tmp_path: Path, script: Path | None = None, **kw: Any) -> dict[str, Any]:
    """A scenario with defaults: Linux, a resource path and data folder under tmp_path."""
    data = tmp_path / "lwdata"
    sc: dict[str, Any] = {
        "os": "Other",
        "resource_path": str(tmp_path / "REAPER"),
        "script_path": str(script or SCORE_SCRIPT),
        "extstate": {"loopwatch": {"data_dir": str(data)}},
        "items": [],
        "max_s": 20,
    }
    for k, v in kw.items():
        if k == "settings":
            sc["extstate"]["loopwatch"].update({sk: str(sv) for sk, sv in v.items()})
        else:
            sc[k] = v
    return sc


def start_script(sc: dict[str, Any], tmp_path: Path, name: str = "run",
                 env: dict[str, str] | None = None) -> tuple[subprocess.Popen, Path]:
    """Start run_script.lua in the background; returns the process and its output path."""
    sc_path = tmp_path / f"{name}-scenario.json"
    out_path = tmp_path / f"{name}-out.json"
    sc_path.write_text(json.dumps(sc))
    proc = subprocess.Popen(
        [LUA, str(HERE / "run_script.lua"), str(sc_path), str(out_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=lua_env(env),
    )
    return proc, out_path


def finish(proc: subprocess.Popen, out_path: Path, timeout: float = 60) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"lua driver failed ({proc.returncode}): {err.decode()}{out.decode()}"
    result = json.loads(out_path.read_text())
    assert result.get("script_error") is None, result["script_error"]
    return result


def run_script(sc: dict[str, Any], tmp_path: Path, name: str = "run", timeout: float = 60,
               env: dict[str, str] | None = None) -> dict[str, Any]:
    proc, out_path = start_script(sc, tmp_path, name, env)
    return finish(proc, out_path, timeout)


def run_eval(tmp_path: Path, lua: str, name: str = "eval", env: dict[str, str] | None = None,
             unset: tuple[str, ...] = (), **kw: Any) -> Any:
    """Run Lua code with the stub installed; returns what the code returned.
    `env` adds environment variables for the Lua process, `unset` removes some."""
    sc = scenario(tmp_path, **kw)
    sc["lua"] = lua
    sc_path = tmp_path / f"{name}-scenario.json"
    out_path = tmp_path / f"{name}-out.json"
    sc_path.write_text(json.dumps(sc))
    proc_env = lua_env(env)
    for k in unset:
        proc_env.pop(k, None)
    r = subprocess.run(
        [LUA, str(HERE / "run_lib.lua"), "eval", str(sc_path), str(out_path)],
        capture_output=True,
        env=proc_env,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr.decode()
    out = json.loads(out_path.read_text())
    assert "error" not in out, out["error"]
    return out["result"]


def run_lib(*args: str, stdin: str | None = None) -> str:
    r = subprocess.run([LUA, str(HERE / "run_lib.lua"), *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def item(path: str, *, position: float = 0.0, length: float = 1.0, startoffs: float = 0.0,
         playrate: float = 1.0, file_length: float = 10.0, section: dict[str, Any] | None = None,
         selected: bool = True, track: int = 1, markers: list[dict[str, Any]] | None = None,
         name: str = "take") -> dict[str, Any]:
    """A stub item with one take; `section` = {"offs", "len", "rev"} wraps the file source."""
    src: dict[str, Any] = {"type": "WAVE", "file": path, "length": file_length}
    if section is not None:
        src = {"type": "SECTION", "offs": section.get("offs", 0.0), "len": section.get("len", 0.0),
               "rev": section.get("rev", False), "parent": src}
    return {
        "position": position,
        "length": length,
        "selected": selected,
        "track": track,
        "takes": [{"name": name, "startoffs": startoffs, "playrate": playrate, "source": src,
                   "markers": markers or []}],
    }


def color_native(r: int, g: int, b: int) -> int:
    """ColorToNative on macOS/Linux (0xRRGGBB) with the 0x1000000 'custom colour' flag."""
    return ((r << 16) | (g << 8) | b) | 0x1000000
