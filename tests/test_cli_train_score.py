"""End to end: `loopwatch train` then `loopwatch score` (real subprocesses) on a tiny generated corpus,
plus `models`, `report` and the refusals, with the offline `spectral` encoder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from conftest import synth_loop
from loopwatch.cli import app

SR = 48000


def _cli(*args: str, env: dict, timeout: float = 180, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loopwatch", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=cwd)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """24 plucked-bass-like loops (1-2 s, varied pitch and tempo grid), a broken file, and two files to score."""
    root = tmp_path_factory.mktemp("corpus")
    lib = root / "Bass"
    (lib / "sub").mkdir(parents=True)
    for i in range(24):
        x = synth_loop(1.0 + 0.5 * (i % 3), seed=i)
        sf.write(lib / ("sub" if i % 4 == 0 else ".") / f"loop{i:02d}.wav", x.T, SR, subtype="PCM_16")
    (lib / "broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunkjunk")
    new = root / "new"
    new.mkdir()
    sf.write(new / "take.wav", synth_loop(1.5, seed=101).T, SR, subtype="PCM_16")
    rng = np.random.default_rng(0)
    sf.write(new / "noise.wav", (0.4 * rng.standard_normal((SR * 2, 2))).astype(np.float32), SR, subtype="PCM_16")
    return root


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """`loopwatch train` in a subprocess; returns (env, summary record, stderr)."""
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "LOOPWATCH_HOME": str(home)}
    env.pop("LOOPWATCH_CONFIG", None)
    out = _cli("train", "Bass", "--name", "bass", "--encoder", "spectral", "--max-epochs", "2",  # a relative path
               "--json", env=env, cwd=corpus)
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    return env, records, out.stderr


def test_train_summary_and_skips(trained):
    env, records, _ = trained
    skipped = [r for r in records if r["type"] == "skipped"]
    assert len(skipped) == 1 and skipped[0]["path"].endswith("broken.wav") and skipped[0]["error"]
    s = records[-1]
    assert s["type"] == "summary"
    assert s["files_found"] == 25 and s["files_used"] == 24 and s["files_skipped"] == 1
    assert s["n_train"] + s["n_val"] == 24 and s["n_val"] == 5
    assert s["detector"] == "aewres" and s["encoder"] == "spectral"
    assert s["epochs"] == 4 and s["epochs_pretrain"] == 2 and s["val_loss"] > 0 and s["threshold"] > 0
    assert s["model_path"].endswith("bass.json")


def test_score_json_then_text_with_nearest(trained, corpus):
    env, _, _ = trained
    out = _cli("score", str(corpus / "new"), "--model", "bass", "--json", "--nearest", "2", env=env)
    assert out.returncode == 0, out.stderr
    recs = {os.path.basename(r["path"]): r for r in map(json.loads, out.stdout.splitlines())}
    assert set(recs) == {"take.wav", "noise.wav"}
    noise = recs["noise.wav"]
    assert noise["verdict"] == "outlier" and noise["ratio"] > 1 and noise["percentile"] == 100.0
    assert noise["score"] == pytest.approx(noise["ratio"] * noise["threshold"])
    assert recs["take.wav"]["score"] < noise["score"]
    for r in recs.values():
        assert r["model"] == "bass" and r["encoder"] == "spectral" and r["verdict"] in ("normal", "unusual", "outlier")
        assert len(r["nearest"]) == 2 and all(n["path"].endswith(".wav") for n in r["nearest"])
        assert all(os.path.isabs(n["path"]) for n in r["nearest"])  # stored absolute: any working folder finds them
    # the plain-text form, in process (same code path, no second interpreter start-up)
    res = CliRunner().invoke(app, ["score", str(corpus / "new" / "noise.wav"), "-m", "bass", "-k", "1"], env=env)
    assert res.exit_code == 0, res.output
    assert "outlier" in res.output and "sounds most like: loop" in res.output


def test_models_list_show_remove_and_report(trained, tmp_path):
    env, _, _ = trained
    r = CliRunner()
    res = r.invoke(app, ["models", "list"], env=env)
    assert res.exit_code == 0 and "bass" in res.output and "aewres" in res.output
    res = r.invoke(app, ["models", "show", "bass", "--json"], env=env)
    info = json.loads(res.output)
    assert info["encoder"] == "spectral" and info["n_files"] == 24 and info["params"]["max_epochs"] == 2
    res = r.invoke(app, ["models", "show", "bass"], env=env)  # the text form: --set's KEY=VALUE words
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.startswith("params"))
    last = next(i for i, ln in enumerate(lines) if ln.startswith("encoder"))
    params = " ".join(ln[14:] for ln in lines[first:last])
    assert "hidden=[512,256,128,64,32]" in params and "max_epochs=2" in params and "init=orthogonal" in params
    assert "bn_affine=true" in params and "{" not in res.output
    assert "epochs        4 (2 pre-training + 2 Deep SVDD)" in lines
    val = next(ln for ln in lines if ln.startswith("val loss")).split()[-1]
    assert val == f"{info['val_loss']:.4g}"  # not every digit of a float
    out = tmp_path / "rep" / "bass #1 at 100%.html"  # the image links are URLs: these must be escaped
    res = r.invoke(app, ["report", "--model", "bass", str(out)], env=env)
    assert res.exit_code == 0, res.output
    from loopwatch.report import figure_paths

    assert '<img src="bass%20%231%20at%20100%25_files/box_scores.png"' in out.read_text()
    figs = figure_paths(out)
    assert figs and all(p.exists() for p in figs)
    names = {p.name for p in figs}
    assert {"box_scores.png", "bass_hist.png", "bass_latent_pca.png", "bass_latent_density.png",
            "bass_training.png"} <= names
    for p in figs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = r.invoke(app, ["models", "remove", "bass"], env=env)
    assert res.exit_code == 0
    res = r.invoke(app, ["score", str(tmp_path), "--model", "bass"], env=env)
    assert res.exit_code == 1 and "no model named 'bass'" in res.output


def test_score_refuses_a_model_from_other_preprocessing(corpus, tmp_path):
    env = {"LOOPWATCH_HOME": str(tmp_path / "home")}
    r = CliRunner()
    res = r.invoke(app, ["train", str(corpus / "Bass"), "-n", "lib", "-e", "spectral", "-d", "pca"], env=env)
    assert res.exit_code == 0, res.output
    js = tmp_path / "home" / "data" / "models" / "lib.json"
    meta = json.loads(js.read_text())
    meta["encoder"]["prep_version"] = "spectral-0"  # as if the encoder's front end had changed since training
    js.write_text(json.dumps(meta))
    res = r.invoke(app, ["score", str(corpus / "new"), "-m", "lib"], env=env)
    assert res.exit_code == 1 and "re-train" in res.output
    res = r.invoke(app, ["train", str(corpus / "Bass"), "-n", "lib", "-e", "spectral", "-d", "pca"], env=env)
    assert res.exit_code == 1 and "exists already" in res.output


def test_train_refuses_too_few_files(corpus, tmp_path):
    env = {"LOOPWATCH_HOME": str(tmp_path / "home")}
    res = CliRunner().invoke(app, ["train", str(corpus / "new"), "-n", "few", "-e", "spectral"], env=env)
    assert res.exit_code == 1
    assert "need at least 20 distinct readable audio files to train, got 2" in res.output


def test_train_compare_prints_all_four(corpus, tmp_path):
    env = {"LOOPWATCH_HOME": str(tmp_path / "home")}
    res = CliRunner().invoke(app, ["train", str(corpus / "Bass"), "-n", "cmp", "-e", "spectral", "-d", "pca",
                                   "--compare", "--max-epochs", "2", "--json"], env=env)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    det = [r for r in rows if r["type"] == "detector"]
    assert [r["detector"] for r in det] == ["aewres", "ae", "iforest", "pca"]
    for r in det:
        assert r["val_min"] <= r["val_median"] <= r["val_max"] and r["threshold"] > 0
    assert rows[-1]["type"] == "summary" and rows[-1]["detector"] == "pca"


def test_train_ensemble_names_its_members(corpus, tmp_path):
    env = {"LOOPWATCH_HOME": str(tmp_path / "home")}
    r = CliRunner()
    res = r.invoke(app, ["train", str(corpus / "Bass"), "-n", "ens", "-e", "spectral", "--ensemble", "3",
                         "--max-epochs", "2", "--jobs", "2"], env=env)
    assert res.exit_code == 0, res.output
    assert "epochs       12 (6 pre-training + 6 Deep SVDD, over 3 members, 2 at a time)" in res.output
    res = r.invoke(app, ["models", "show", "ens", "--json"], env=env)
    assert res.exit_code == 0 and '"ensemble": 3' in res.output
    res = r.invoke(app, ["score", str(corpus / "new"), "--model", "ens", "--json"], env=env)
    recs = [json.loads(line) for line in res.stdout.splitlines()]
    assert res.exit_code == 0 and len(recs) == 2 and all(rec["score"] > 0 for rec in recs)
    fresh = {"LOOPWATCH_HOME": str(tmp_path / "fresh")}  # bad arguments are refused before anything is embedded
    res = r.invoke(app, ["train", str(corpus / "Bass"), "-n", "bad", "-e", "spectral", "--ensemble", "0"], env=fresh)
    assert res.exit_code == 1 and "--ensemble must be between 1 and 32" in res.output
    res = r.invoke(app, ["train", str(corpus / "Bass"), "-n", "bad", "-e", "spectral", "--max-epochs", "0"], env=fresh)
    assert res.exit_code == 1 and "--max-epochs must be at least 1" in res.output
    assert not (tmp_path / "fresh" / "cache").exists()
    res = r.invoke(app, ["train", str(corpus / "Bass"), "-n", "bad", "-e", "spectral", "--jobs", "-1"], env=env)
    assert res.exit_code == 1 and "--jobs must be 0 or more" in res.output
    res = r.invoke(app, ["train", str(corpus / "Bass"), "-n", "bad", "-e", "spectral", "--seed", "-1"], env=fresh)
    assert res.exit_code == 1 and res.output.strip() == "loopwatch: error: --seed must be 0 or more"


def test_train_set_passes_hyper_parameters_to_the_detectors_that_know_them(corpus, tmp_path):
    env = {"LOOPWATCH_HOME": str(tmp_path / "home")}
    r = CliRunner()
    res = r.invoke(app, ["train", str(corpus / "Bass"), "-n", "set", "-e", "spectral", "--max-epochs", "3",
                         "--set", "init=torch", "--set", "patience=1", "--set", "hidden=[64, 16, 8]",
                         "--set", "variance=0.8", "--compare", "--json"], env=env)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.splitlines()[-1])
    # patience 1 stops a phase after its first epoch without progress: at most 3 epochs each, at least 2
    assert 4 <= summary["epochs"] <= 6
    res = r.invoke(app, ["models", "show", "set", "--json"], env=env)
    params = json.loads(res.stdout)["params"]
    assert params["init"] == "torch" and params["patience"] == 1 and params["hidden"] == [64, 16, 8]
    assert params["max_epochs"] == 3 and "variance" not in params


@pytest.mark.parametrize("args,message", [
    (["--set", "colour=red"], "--set colour: aewres has no hyper-parameter 'colour'; known: batch_size,"),
    (["--set", "n_estimators=10"], "aewres has no hyper-parameter 'n_estimators'"),
    (["--set", "colour=red", "--compare"], "no detector has a hyper-parameter 'colour'"),
    (["--set", "init=xavier"], "--set: aewres: init must be one of orthogonal, torch, got 'xavier'"),
    (["--set", "lr=fast"], "--set: aewres: lr must be a finite number, got 'fast'"),
    (["--set", "lr=NaN"], "lr must be a finite number, got nan"),
    (["--set", "patience=2.5"], "patience must be a whole number, got 2.5"),
    (["--set", "bn_affine=1"], "bn_affine must be true or false, got 1"),
    (["--set", "lr_min=0.1"], "lr_min must be from 0 to the smaller of lr and svdd_lr (0.0001), got 0.1"),
    (["--set", "max_samples=0", "--compare"], "--set: iforest: max_samples must be \"auto\""),
    (["--set", "variance=1.5", "--compare"], "--set: pca: variance must be in (0, 1], got 1.5"),
    (["--set", "seed=3"], "--set seed: use --seed"),
    (["--set", "patience"], "--set 'patience': expected KEY=VALUE"),
    (["--set", "init=torch", "--set", "init=torch"], "--set init: given twice"),
])
def test_train_set_refuses_bad_hyper_parameters_before_embedding(corpus, tmp_path, args, message):
    env = {"LOOPWATCH_HOME": str(tmp_path / "home")}
    res = CliRunner().invoke(app, ["train", str(corpus / "Bass"), "-n", "bad", "-e", "spectral", *args], env=env)
    assert res.exit_code == 1 and message in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "home" / "cache").exists()


def test_parse_settings_reads_json_then_text():
    from loopwatch.cli.train import parse_settings

    assert parse_settings(["init=torch", "lr=1e-4", "bn-affine=false", "hidden=[8, 4]", "max_samples=auto",
                           "patience= 30"]) == {"init": "torch", "lr": 1e-4, "bn_affine": False, "hidden": [8, 4],
                                               "max_samples": "auto", "patience": 30}


def test_train_takes_its_defaults_from_the_config_and_flags_win(corpus, tmp_path):
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "loopwatch.toml").write_text(
        '[train]\ndetector = "ae"\nquantile = 0.9\n[train.ae]\ninit = "torch"\npatience = 1\nensemble = 2\n'
        '[train.pca]\nvariance = 0.8\n')
    env = {"LOOPWATCH_HOME": str(home)}
    r = CliRunner()
    res = r.invoke(app, ["train", str(corpus / "Bass"), "-n", "a", "-e", "spectral", "--max-epochs", "3"], env=env)
    assert res.exit_code == 0, res.output
    shown = json.loads(r.invoke(app, ["models", "show", "a", "--json"], env=env).stdout)
    assert shown["detector"] == "ae" and shown["quantile"] == 0.9
    assert {k: shown["params"][k] for k in ("init", "patience", "ensemble", "max_epochs")} == {
        "init": "torch", "patience": 1, "ensemble": 2, "max_epochs": 3}
    res = r.invoke(app, ["train", str(corpus / "Bass"), "-n", "b", "-e", "spectral", "-d", "ae", "-q", "0.95",
                         "--max-epochs", "3", "--ensemble", "1", "--set", "patience=2"], env=env)
    assert res.exit_code == 0, res.output
    shown = json.loads(r.invoke(app, ["models", "show", "b", "--json"], env=env).stdout)
    assert shown["quantile"] == 0.95
    assert {k: shown["params"][k] for k in ("init", "patience", "ensemble")} == {"init": "torch", "patience": 2,
                                                                                 "ensemble": 1}
    res = r.invoke(app, ["train", str(corpus / "Bass"), "-n", "c", "-e", "spectral", "-d", "pca"], env=env)
    shown = json.loads(r.invoke(app, ["models", "show", "c", "--json"], env=env).stdout)
    assert res.exit_code == 0 and shown["params"] == {"variance": 0.8}
