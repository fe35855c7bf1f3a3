"""Write reaper_scripts/index.xml (the ReaPack repository index) from the script headers.

ReaPack reads an XML index listing packages, their versions and the URL of
every file. This does for the loopwatch scripts what ``reapack-index`` does for
a ReaPack repository: it reads the metadata header of the package script
(``@description``, ``@version``, ``@author``, ``@changelog``, ``@provides``,
``@about``) and writes one package whose files are the script itself, the other
``[main]`` script and the ``[nomain]`` libraries.

Usage::

    python reaper_scripts/make_index.py --base-url https://raw.githubusercontent.com/OWNER/REPO/main/reaper_scripts/

Run it again after changing a header or the published location; the test
``tests/test_reaper_index.py`` checks that index.xml matches the headers.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

HERE = Path(__file__).resolve().parent
PACKAGE = HERE / "loopwatch_Score selected items.lua"
INDEX = HERE / "index.xml"
CATEGORY = "Items Editing"
INDEX_NAME = "loopwatch"


class HeaderError(ValueError):
    """The package header is missing a tag or names a file that does not exist."""


def parse_header(path: Path) -> dict[str, str]:
    """Read the ``-- @tag value`` header at the top of a Lua script.

    A tag's value continues on the following ``--`` lines that are indented
    more than the tag itself; the header ends at the first line that is not a
    ``--`` comment.
    """
    tags: dict[str, list[str]] = {}
    current: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("--"):
            break
        body = line[2:]
        m = re.match(r"^ @(\w+)\s*(.*)$", body)
        if m:
            current = m.group(1).lower()
            tags[current] = [m.group(2)] if m.group(2) else []
        elif current is not None and (body.startswith("   ") or body.strip() == ""):
            tags[current].append(body[3:] if body.startswith("   ") else "")
        else:
            current = None
    return {k: "\n".join(v).strip("\n") for k, v in tags.items()}


def parse_provides(value: str) -> list[tuple[str, str]]:
    """``[main] file`` / ``[nomain] file`` lines -> [(option, file)]."""
    out = []
    for line in value.splitlines():
        line = line.strip()
        if not line:
            continue
        m = re.match(r"^\[(\w+)\]\s+(.+)$", line)
        if not m or m.group(1) not in ("main", "nomain"):
            raise HeaderError(f"{PACKAGE.name}: @provides line not understood: {line!r}")
        out.append((m.group(1), m.group(2)))
    return out


def rtf(markdown: str) -> str:
    """A small Markdown subset (headings, bullets, **bold**, paragraphs) as RTF for ReaPack's about box."""

    def inline(text: str) -> str:
        out = []
        for ch in text:
            if ch in "\\{}":
                out.append("\\" + ch)
            elif ord(ch) > 127:
                code = ord(ch)
                out.append(f"\\u{code if code < 32768 else code - 65536}?")
            else:
                out.append(ch)
        s = "".join(out).replace("`", "")
        return re.sub(r"\*\*(.+?)\*\*", r"{\\b \1}", s)

    paras: list[str] = []
    buf: list[str] = []
    bullet = False

    def flush() -> None:
        nonlocal bullet
        if buf:
            paras.append(("\\bullet  " if bullet else "") + inline(" ".join(buf)) + "\\par")
            buf.clear()
        bullet = False

    for line in markdown.splitlines():
        s = line.strip()
        if not s:
            flush()
            continue
        if s.startswith("#"):
            flush()
            level = len(s) - len(s.lstrip("#"))
            size = {1: 32, 2: 26}.get(level, 22)
            paras.append(f"{{\\b\\fs{size} {inline(s.lstrip('#').strip())}}}\\par")
        elif s.startswith(("* ", "- ")):
            flush()
            bullet = True
            buf.append(s[2:])
        else:
            buf.append(s)
    flush()
    return "{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Helvetica;}}\\f0\\fs20 " + "\n".join(paras) + "}"


def url_for(base_url: str, rel: str) -> str:
    return base_url.rstrip("/") + "/" + quote(rel)


def build_index(base_url: str, time: str) -> str:
    """The index.xml text for the package script's current header."""
    h = parse_header(PACKAGE)
    for tag in ("description", "version", "author", "provides", "about", "changelog"):
        if tag not in h:
            raise HeaderError(f"{PACKAGE.name}: missing @{tag}")
    provides = parse_provides(h["provides"])
    for _, rel in provides:
        if not (HERE / rel).is_file():
            raise HeaderError(f"{PACKAGE.name}: @provides names {rel}, which does not exist")
    sources = [f'        <source main="main">{escape(url_for(base_url, PACKAGE.name))}</source>']
    for opt, rel in provides:
        main = ' main="main"' if opt == "main" else ""
        sources.append(f"        <source{main} file={quoteattr(rel)}>{escape(url_for(base_url, rel))}</source>")
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<index version="1" name={quoteattr(INDEX_NAME)}>',
        f"  <category name={quoteattr(CATEGORY)}>",
        f'    <reapack name={quoteattr(PACKAGE.name)} type="script" desc={quoteattr(h["description"])}>',
        "      <metadata>",
        f"        <description><![CDATA[{rtf(h['about'])}]]></description>",
        "      </metadata>",
        f"      <version name={quoteattr(h['version'])} author={quoteattr(h['author'])} time={quoteattr(time)}>",
        f"        <changelog><![CDATA[{h['changelog']}]]></changelog>",
        *sources,
        "      </version>",
        "    </reapack>",
        "  </category>",
        "</index>",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", required=True, help="URL of the published reaper_scripts/ folder")
    ap.add_argument("--time", default=None, help="release time (ISO 8601, default: now)")
    ap.add_argument("--output", type=Path, default=INDEX)
    args = ap.parse_args(argv)
    time = args.time or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        text = build_index(args.base_url, time)
    except HeaderError as exc:
        print(f"make_index: {exc}", file=sys.stderr)
        return 1
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
