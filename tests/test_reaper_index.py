"""Packaging of the REAPER scripts: the ReaPack index matches the script headers,
every library a script requires is provided, and every Lua file compiles."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "reaper_scripts"
sys.path.insert(0, str(SCRIPTS))
import make_index  # noqa: E402

LUA_FILES = sorted(p for p in SCRIPTS.rglob("*.lua") if "tests" not in p.parts)


def test_index_is_up_to_date_with_the_headers():
    text = (SCRIPTS / "index.xml").read_text(encoding="utf-8")
    root = ET.fromstring(text)
    pkg = root.find("category/reapack")
    version = pkg.find("version")
    first = version.find("source").text
    base = first[: first.rindex("/")]
    assert make_index.build_index(base, version.get("time")) == text, (
        "index.xml is stale: run python reaper_scripts/make_index.py --base-url " + base
    )
    header = make_index.parse_header(make_index.PACKAGE)
    assert version.get("name") == header["version"]
    files = {s.get("file") for s in version.findall("source")}
    assert {"lib/loopwatch_osc.lua", "lib/loopwatch_json.lua", "loopwatch_Alerts panel.lua"} <= files


def test_every_required_library_is_provided():
    provided = {rel for _, rel in make_index.parse_provides(make_index.parse_header(make_index.PACKAGE)["provides"])}
    for path in LUA_FILES:
        for mod in re.findall(r'require\("(loopwatch_\w+)"\)', path.read_text(encoding="utf-8")):
            assert f"lib/{mod}.lua" in provided, f"{path.name} requires {mod}, missing from @provides"
    for _, rel in make_index.parse_provides(make_index.parse_header(make_index.PACKAGE)["provides"]):
        head = (SCRIPTS / rel).read_text(encoding="utf-8").splitlines()[0]
        if rel.startswith("lib/"):
            assert head == "-- @noindex", f"{rel} must not be indexed as a package of its own"


def test_missing_provided_file_is_reported(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg.lua"
    pkg.write_text(make_index.PACKAGE.read_text(encoding="utf-8").replace(
        "[nomain] lib/loopwatch_osc.lua", "[nomain] lib/nope.lua"))
    monkeypatch.setattr(make_index, "PACKAGE", pkg)
    with pytest.raises(make_index.HeaderError, match="lib/nope.lua"):
        make_index.build_index("https://example.invalid/x", "2026-01-01T00:00:00Z")


@pytest.mark.skipif(shutil.which("luac5.4") is None, reason="luac5.4 is not installed")
def test_lua_files_compile_and_avoid_lua54_only_syntax():
    for path in LUA_FILES:
        r = subprocess.run(["luac5.4", "-p", str(path)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        # REAPER 6 runs Lua 5.3: no <const>/<close> attributes
        assert not re.search(r"<\s*(const|close)\s*>", path.read_text(encoding="utf-8")), path.name
