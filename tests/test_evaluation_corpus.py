"""The small corpus, rendered once for this module through the real CLI (FluidSynth, espeak-ng),
then checked: determinism, clean loops that really are clean, labels, splits, and defect positions
measured in the audio. Ends with the harness and the `bench` commands run on it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from loopwatch.evaluation import corpus as C
from loopwatch.evaluation.defects import DEFECTS
from loopwatch.evaluation.levels import seam_jump, true_peak, typical_step, undb
from loopwatch.evaluation.manifest import read_manifest, read_meta
from loopwatch.evaluation.wav import read_acid

SEED = 7
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    try:
        C.Tools.find()
    except C.CorpusError as exc:  # pragma: no cover - scripts/setup-system installs them
        pytest.skip(str(exc))
    out = tmp_path_factory.mktemp("corpus") / "small"
    env = dict(os.environ, LOOPWATCH_HOME=str(tmp_path_factory.mktemp("home")))
    r = subprocess.run([sys.executable, "-m", "loopwatch", "bench", "corpus", str(out), "--size", "small",
                        "--seed", str(SEED), "--json"], capture_output=True, text=True, env=env, timeout=600, cwd=REPO)
    assert r.returncode == 0, r.stderr
    meta = json.loads(r.stdout)
    return out, read_manifest(out), meta


def audio(root: Path, rel: str) -> np.ndarray:
    x, sr = sf.read(str(root / rel), dtype="float64", always_2d=True)
    assert sr == 48000
    return x.T


# --- what was made ------------------------------------------------------------------------------------


def test_counts_splits_and_meta(small):
    root, entries, meta = small
    assert meta == read_meta(root)
    assert meta["seed"] == SEED and meta["size"] == "small" and "bench corpus" in meta["command"]
    assert meta["tools"]["fluidsynth"] and meta["tools"]["soundfont"] == "FluidR3_GM.sf2"
    sz = C.SIZES["small"]
    for lib in ("bass", "guitar"):
        lib_e = [e for e in entries if e.library == lib]
        normal = [e for e in lib_e if e.family == "normal"]
        assert len(normal) == sz.loops_per_library
        by_split = {s: [e for e in normal if e.split == s] for s in ("train", "val", "test")}
        assert [len(v) for v in by_split.values()] == [8, 3, 3]
        assert all(e.label == "normal" and e.kind == lib for e in normal)
        oos = [e for e in lib_e if e.family == "out-of-style"]
        assert sorted(e.kind for e in oos) == sorted(C.OOS_KINDS[lib])
        defects = [e for e in lib_e if e.family == "defect"]
        assert sorted(e.kind for e in defects) == sorted(DEFECTS)  # every kind at its default strength
        test_files = {e.file for e in by_split["test"]}
        for e in oos + defects:
            assert e.label == "anomaly" and e.split == "test"
        for e in defects:
            assert e.source in test_files  # anomalies come from held-out loops only
            assert e.check == DEFECTS[e.kind].check and e.default and e.strength == DEFECTS[e.kind].default
    files = [e.file for e in entries]
    assert len(files) == len(set(files))
    on_disk = {str(p.relative_to(root)).replace(os.sep, "/") for p in root.rglob("*.wav")}
    assert on_disk == set(files)


@pytest.mark.parametrize("size, split, per_kind", [("default", (180, 60, 60), 10), ("paper", (1800, 600, 600), 20)])
def test_planned_sizes(size, split, per_kind):
    specs = C.plan_corpus(SEED, size)
    for lib in C.LIBRARIES:
        normal = [s for s in specs if s.library == lib and s.family == "normal"]
        assert tuple(sum(s.split == name for s in normal) for name in ("train", "val", "test")) == split
        oos = [s for s in specs if s.library == lib and s.family == "out-of-style"]
        assert len(oos) == per_kind * len(C.OOS_KINDS[lib])
    # a bigger corpus draws more loops; it does not redraw the ones a smaller one has
    small = C.plan_corpus(SEED, "small")
    assert {s.seed for s in small if s.family == "normal"} <= {s.seed for s in specs if s.family == "normal"}



def test_programs_tempi_lengths_names_and_acid(small):
    root, entries, _ = small
    with_acid = 0
    for e in [e for e in entries if e.family != "defect"]:
        info = sf.info(str(root / e.file))
        assert (info.samplerate, info.channels, info.subtype) == (48000, 2, "PCM_24")
        assert info.frames == e.n_samples == C.loop_samples(e.tempo, e.bars)
        assert 64 <= e.tempo <= 170 and e.bars in (1, 2, 4)
        name = Path(e.file).name
        assert f"_{int(e.tempo)}bpm" in name and name.endswith(f"_{e.bars}bar.wav")
        assert C.tempo_from_name(name) == e.tempo
        if e.family == "normal":
            assert f"_{e.key}_" in name and f"prog{e.program:02d}" in name
            assert e.program in (range(32, 40) if e.library == "bass" else range(24, 32))
        acid = read_acid(root / e.file)
        assert (acid is not None) == e.acid
        if acid:
            with_acid += 1
            assert acid.tempo == e.tempo and acid.beats == 4 * e.bars and not acid.one_shot
    n = len([e for e in entries if e.family != "defect"])
    assert 0.25 * n < with_acid < 0.75 * n  # about half


def test_clean_loops_are_clean(small):
    root, entries, _ = small
    ratios = []
    for e in [e for e in entries if e.family in ("normal", "out-of-style")]:
        x = audio(root, e.file)
        pk = 20 * np.log10(np.max(np.abs(x)))
        assert -12.01 <= pk <= -2.99, e.file
        assert abs(pk - e.peak_dbfs) < 0.01
        assert 20 * np.log10(true_peak(x)) <= -1.49, e.file
        assert np.max(np.abs(x.mean(axis=1))) < 1e-5, e.file  # no DC
        assert not np.array_equal(x[0], x[1]), e.file  # real stereo
        ratios.append(seam_jump(x) / typical_step(x))
    ratios = np.array(ratios)
    # the wrap is no bigger a step than the loop's own 99th-percentile step
    assert ratios.max() < 1.5, ratios.max()
    assert np.median(ratios) < 0.5


def test_folding_the_tail_is_what_makes_them_clean(small):
    """Cut at the bar line without wrapping the ring-out, several of the same loops click at the seam."""
    import tempfile

    tools = C.Tools.find(need_espeak=False)
    specs = [s for s in C.plan_corpus(SEED, "small") if s.family == "normal" and s.library == "bass"]
    naive = []
    with tempfile.TemporaryDirectory() as td:
        for s in specs:
            raw = C.render_song(C.song_for(s, C.rng_for(*s.seed, 7)), tools, Path(td))
            cut = raw[:, : s.n_samples]
            folded = C.fold_tail(raw, s.n_samples)
            naive.append(seam_jump(cut) / typical_step(cut))
            assert seam_jump(folded) / typical_step(folded) < 1.5
    assert sum(r > 1.5 for r in naive) >= 3, naive


def test_same_seed_same_bytes(small, tmp_path):
    """Re-render a cross-section of the plan and re-inject the defects: identical files."""
    root, entries, _ = small
    plan = C.plan_corpus(SEED, "small")
    assert plan == C.plan_corpus(SEED, "small")
    assert plan != C.plan_corpus(SEED + 1, "small")
    picks = []
    for kind in ("bass", "guitar", "drums", "speech", "noise-bed", "synth-lead"):
        picks.append(next(s for s in plan if s.kind == kind))
    tools = C.Tools.find()
    again = C.render_specs(picks, tmp_path, tools, workers=2)
    for s, e in zip(picks, again):
        assert (tmp_path / s.file).read_bytes() == (root / s.file).read_bytes(), s.file
        assert e.to_row() == next(x for x in entries if x.file == s.file).to_row()
    # the defect set, from copies of the same test loops
    tests = [e for e in entries if e.family == "normal" and e.split == "test"]
    for e in tests:
        (tmp_path / "d" / e.file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / e.file, tmp_path / "d" / e.file)
    from loopwatch.evaluation.defects import build_defect_set

    redo = build_defect_set(tmp_path / "d", tests, seed=SEED, n_default=1, n_other=0)
    orig = {e.file: e for e in entries if e.family == "defect"}
    assert {e.file for e in redo} == set(orig)
    for e in redo:
        assert (tmp_path / "d" / e.file).read_bytes() == (root / e.file).read_bytes(), e.file
        assert e.to_row() == orig[e.file].to_row()
    # and another seed gives other audio
    other = C.render_specs([C.plan_corpus(SEED + 1, "small")[0]], tmp_path / "o", tools, workers=1)
    assert (tmp_path / "o" / other[0].file).read_bytes() != (root / picks[0].file).read_bytes()


# --- defect positions, measured in the audio ----------------------------------------------------------


def test_defects_are_where_the_manifest_says(small):
    root, entries, _ = small
    for e in [e for e in entries if e.family == "defect"]:
        y = audio(root, e.file)
        x = audio(root, e.source)
        assert y.shape[1] == e.n_samples
        spans = e.positions
        inside = np.zeros(y.shape[1], bool)
        for a, b in spans:
            inside[a:b] = True
        k, s = e.kind, e.strength
        if k in ("click", "click-multi", "dropout"):
            changed = np.any(y != x, axis=0)
            assert changed.any() and not np.any(changed & ~inside), e.file
            (a, b), = spans
            if k == "dropout":
                assert not y[:, a:b].any() and b - a == round(s * 48)
            else:
                assert np.max(np.abs(y[:, a:b] - x[:, a:b])) == pytest.approx(undb(s), abs=2e-7)
        elif k == "clipping":
            flat = np.any(np.abs(y) >= 1 - 2**-22, axis=0)
            assert flat.any() and not np.any(flat & ~inside)
            for a, b in spans:
                assert flat[a] and flat[b - 1]
        elif k == "leading-silence":
            (a, b), = spans
            assert a == 0 and not y[:, :b].any() and np.array_equal(y[:, b:], x)
        elif k == "trailing-silence":
            (a, b), = spans
            assert a == x.shape[1] and b == y.shape[1] and not y[:, a:].any() and np.array_equal(y[:, :a], x)
        elif k == "seam":
            (a, b), = spans
            assert b == y.shape[1] and np.array_equal(y, x[:, :b])
            assert np.max(np.abs(y[:, -1] - y[:, 0])) >= undb(s) - 1e-6
        elif k == "polarity":
            assert np.array_equal(y[0], x[0]) and np.array_equal(y[1], -x[1])
        elif k == "dc-offset":
            assert np.max(np.abs(np.abs((y - x).mean(axis=1)) - undb(s))) < 1e-5
        elif k in ("white-noise", "pink-noise"):
            n = y - x
            assert 10 * np.log10(np.mean(x**2) / np.mean(n**2)) == pytest.approx(s, abs=0.05)
        elif k == "hum":
            h = (y - x)[0]
            assert 20 * np.log10(np.sqrt(2 * np.mean(h**2))) == pytest.approx(s, abs=0.1)
        else:  # pragma: no cover - every kind is handled above
            raise AssertionError(k)
        if not DEFECTS[k].localised:
            assert spans == [[0, y.shape[1]]]


# --- the harness and the commands on the real corpus --------------------------------------------------


def test_reference_checks_on_the_corpus(small):
    from loopwatch.evaluation import harness as H

    root, entries, _ = small
    todo = [e for e in entries if e.family in ("normal", "defect")]
    _, ref = H.check_function("reference")
    run = H.run_checks(root, todo, [ref])
    ev = H.evaluate_checks(todo, run)
    g = {r["kind"]: r for r in ev["grades"] if r["library"] == "all"}
    # trivial cases the naive references must get right on real audio
    for kind in ("clipping", "dc-offset", "polarity", "leading-silence", "trailing-silence"):
        assert g[kind]["recall"] == 1.0, (kind, g[kind])
    for kind in ("dropout", "white-noise", "hum", "seam"):
        assert g[kind]["not_run"]
    assert g["clipping"]["loc_median_ms"] < 1.0
    fp = ev["false_positives"]
    for name in ("clipping", "dc-offset", "stereo", "silence"):
        assert fp[name]["all"]["rate"] == 0.0, (name, fp[name])

    # a check that fires everywhere is caught out by the false-positive rate and the precision
    from loopwatch.findings import Finding

    def noisy(a):
        return [Finding("clipping", "error", 0.0, a.duration, 1.0, "", "always")]

    noisy.check_names = ("clipping",)
    ev2 = H.evaluate_checks(todo, H.run_checks(root, todo, [noisy]))
    assert ev2["false_positives"]["clipping"]["all"]["rate"] == 1.0
    cl = next(r for r in ev2["grades"] if r["library"] == "all" and r["kind"] == "clipping")
    assert cl["recall"] == 1.0 and cl["precision"] == pytest.approx(0.5)


def test_bench_evaluate_command(small, tmp_path):
    from typer.testing import CliRunner

    from loopwatch.cli import app

    root, _, _ = small
    out = tmp_path / "res"
    r = CliRunner().invoke(app, ["bench", "evaluate", str(root), "--encoder", "basic", "--detector", "mean-distance",
                                 "--detector", "knn", "--out", str(out), "--bootstrap", "50", "--no-figures", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert {(d["library"], d["detector"]) for d in res["detectors"]} == {
        (lib, det) for lib in ("bass", "guitar") for det in ("mean-distance", "knn")}
    for d in res["detectors"]:
        assert d["n_train"] == 8 and d["n_val"] == 3 and d["n_test"] == 3 + 6 + 12
        assert 0.0 <= d["metrics"]["all"]["auroc"] <= 1.0
        assert set(d["metrics"]["family"]) == {"out-of-style", "defect"}
    text = (out / "summary.md").read_text()
    assert f"`loopwatch bench evaluate {root} --encoder basic --detector mean-distance --detector knn" in text
    assert f"seed **{SEED}**" in text and "`basic`" in text and "numpy" in text and "FluidR3_GM.sf2" in text
    assert not list(out.glob("*.png"))
    assert json.loads((out / "results.json").read_text())["checks"]["n_clean"] == 28

    bad = CliRunner().invoke(app, ["bench", "evaluate", str(tmp_path / "nothing"), "--no-detectors"])
    assert bad.exit_code == 1 and "no manifest" in bad.output


def test_bench_evaluate_names_unreadable_corpus_files(small, tmp_path):
    """A corpus file deleted or damaged since it was made is left out, and the terminal says so (not only the
    report)."""
    import shutil
    import subprocess
    import sys

    root, _, _ = small
    copy = tmp_path / "corpus"
    shutil.copytree(root, copy)
    entries = read_manifest(copy / "manifest.csv")
    normal = [e for e in entries if e.family == "normal"]
    (copy / normal[0].file).write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    (copy / normal[1].file).unlink()
    r = subprocess.run([sys.executable, "-m", "loopwatch", "bench", "evaluate", str(copy), "--encoder", "basic",
                        "--detector", "mean-distance", "--out", str(tmp_path / "res"), "--bootstrap", "0",
                        "--no-figures"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "2 corpus file(s) could not be used" in r.stderr
    assert normal[0].file in r.stderr and normal[1].file in r.stderr and "no such file" in r.stderr


def test_bench_defects_on_a_users_loops(small, tmp_path):
    from typer.testing import CliRunner

    from loopwatch.cli import app

    root, entries, _ = small
    src = tmp_path / "My Loops"
    (src / "sub").mkdir(parents=True)
    normal = [e for e in entries if e.family == "normal" and e.library == "bass"][:8]
    for i, e in enumerate(normal):
        dst = src / ("sub" if i % 2 else "") / f"loop {i} {int(e.tempo)} BPM.wav"
        shutil.copyfile(root / e.file, dst)
    (src / "notes.txt").write_text("not audio")
    out = tmp_path / "mine"
    r = CliRunner().invoke(app, ["bench", "defects", str(src), str(out), "--n-default", "1", "--n-other", "0",
                                 "--seed", "3", "--json"])
    assert r.exit_code == 0, r.output
    meta = json.loads(r.stdout)
    assert meta["libraries"] == ["my-loops"]
    got = read_manifest(out)
    clean = [e for e in got if e.family == "normal"]
    assert len(clean) == 8 and {e.split for e in clean} == {"train", "val", "test"}
    assert all(e.tempo is not None and e.bars in (1, 2, 4) for e in clean)
    defects = [e for e in got if e.family == "defect"]
    assert defects and {e.source for e in defects} <= {e.file for e in clean if e.split == "test"}
    for e in defects:
        y = audio(out, e.file)
        assert y.shape[1] == e.n_samples and all(0 <= a < b <= e.n_samples for a, b in e.positions)
    again = CliRunner().invoke(app, ["bench", "defects", str(src), str(out)])
    assert again.exit_code == 1 and "not empty" in again.output
