"""The README's first command runs `loopwatch demo`: it must work offline, end to end."""

from __future__ import annotations

from loopwatch.demo import run_demo


def test_demo_runs_end_to_end(tmp_path):
    lines: list[str] = []
    summary = run_demo(tmp_path / "demo", clap=True, say=lines.append)
    text = "\n".join(lines)
    assert summary["files"] > 100 and summary["embedded"] == summary["files"]
    assert summary["clap_dim"] == 768
    assert summary["defects"] >= 10 and summary["defects_found"] >= summary["defects"] - 1
    assert summary["osc_files"] == 4  # every dropped file got its /loopwatch/file verdict over UDP
    assert summary["auroc"] > 0.7
    assert "/loopwatch/alert" in text and "outlier" in text
    assert (tmp_path / "demo" / "home" / "data" / "models" / "demo-bass.json").is_file()
