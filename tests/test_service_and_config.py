"""Service files for the three platforms, DAW presets, configuration, and the inbox format."""

from __future__ import annotations

import json
import plistlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loopwatch import config, daw, service
from loopwatch.cli import app
from loopwatch.inbox import InboxError, parse_inbox_file


def test_systemd_unit(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    sf = service.service_file(["--daw", "ableton", "--model", "my bass"], platform="linux", home=tmp_path,
                              python="/opt/py env/bin/python")
    text = sf.content.decode()
    assert sf.path == tmp_path / ".config" / "systemd" / "user" / "loopwatch.service"
    assert '"/opt/py env/bin/python" -m loopwatch watch --daw ableton --model "my bass" --log-file' in text
    assert "Restart=on-failure" in text and "WantedBy=default.target" in text
    assert ["systemctl", "--user", "enable", "--now", "loopwatch.service"] in sf.activate


def test_launchd_plist(tmp_path):
    sf = service.service_file(["--daw", "ableton"], platform="darwin", home=tmp_path, python="/usr/bin/python3")
    assert sf.path == tmp_path / "Library" / "LaunchAgents" / "org.loopwatch.watch.plist"
    plist = plistlib.loads(sf.content)
    assert plist["ProgramArguments"][:6] == ["/usr/bin/python3", "-m", "loopwatch", "watch", "--daw", "ableton"]
    assert plist["RunAtLoad"] is True and plist["Label"] == "org.loopwatch.watch"


def test_windows_startup_script(tmp_path, monkeypatch):
    monkeypatch.setenv("APPDATA", str(tmp_path / "AppData" / "Roaming"))
    sf = service.service_file(["--daw", "reaper"], platform="win32", home=tmp_path,
                              python=r"C:\Program Files\Python311\python.exe")
    text = sf.content.decode()
    assert sf.path.name == "loopwatch.cmd" and "Startup" in str(sf.path)
    assert '"C:\\Program Files\\Python311\\pythonw.exe" -m loopwatch watch --daw reaper' in text
    assert text.count("\r\n") >= 3


def test_service_install_print(tmp_path):
    res = CliRunner().invoke(app, ["service", "install", "--print", "--", "--daw", "ableton"])
    assert res.exit_code == 0, res.output
    assert "-m loopwatch watch --daw ableton" in res.output or "<string>ableton</string>" in res.output


@pytest.mark.parametrize("plat", ["linux", "darwin", "win32"])
def test_services_see_the_files_the_installing_shell_sees(tmp_path, monkeypatch, plat):
    """LOOPWATCH_HOME / LOOPWATCH_CONFIG set when installing are passed on: otherwise the service would read another
    configuration, other models and another database."""
    monkeypatch.setenv("APPDATA", str(tmp_path / "AppData"))
    monkeypatch.setenv("LOOPWATCH_HOME", str(tmp_path / "lw home"))
    monkeypatch.setenv("LOOPWATCH_CONFIG", str(tmp_path / "lw.toml"))
    sf = service.service_file(["--daw", "ableton"], platform=plat, home=tmp_path, python="/usr/bin/python3")
    if plat == "darwin":
        env = plistlib.loads(sf.content)["EnvironmentVariables"]
        assert env["LOOPWATCH_HOME"] == str(tmp_path / "lw home") and env["LOOPWATCH_CONFIG"] == str(tmp_path / "lw.toml")
    else:
        text = sf.content.decode()
        home_line = f'Environment="LOOPWATCH_HOME={tmp_path / "lw home"}"' if plat == "linux" else \
            f'set "LOOPWATCH_HOME={tmp_path / "lw home"}"'
        assert home_line in text and f"LOOPWATCH_CONFIG={tmp_path / 'lw.toml'}" in text


@pytest.mark.parametrize("args,message", [(["--daw", "bogus"], "--daw must be ableton or reaper, not 'bogus'"),
                                          (["--bogus-flag"], "No such option: --bogus-flag"),
                                          (["--osc-port", "x"], "Invalid value for '--osc-port'")])
def test_service_install_refuses_watch_options_watch_would_refuse(args, message):
    res = CliRunner().invoke(app, ["service", "install", "--print", "--", *args])
    assert res.exit_code == 1 and "the watch options are wrong: " in res.output and message in res.output


def test_daw_presets():
    assert daw.default_roots("ableton", "darwin", Path("/Users/me")) == [Path("/Users/me/Music/Ableton")]
    assert daw.default_roots("ableton", "win32", Path("C:/Users/me")) == [Path("C:/Users/me/Documents/Ableton")]
    assert daw.default_roots("reaper", "linux", Path("/home/me")) == [Path("/home/me/Documents/REAPER Media")]
    accept = daw.path_filter("ableton")
    assert accept(Path("/x/Song Project/Samples/Recorded/1-Audio 0001.wav"))
    assert accept(Path("/x/Song Project/Samples/Processed/Freeze/Freeze Bass.wav"))
    assert accept(Path(r"C:\Users\me\Documents\Ableton\User Library\Samples\kick.wav"))
    assert not accept(Path("/x/Song Project/Samples/Imported/kick.wav"))
    assert not accept(Path("/x/Song Project/Song.als"))
    with pytest.raises(ValueError):
        daw.default_roots("cubase")


def test_config_file_and_overrides(tmp_path, monkeypatch):
    p = tmp_path / "lw.toml"
    p.write_text('[osc]\nport = 9800\n[models]\ndefault = "bass"\n[[models.rules]]\npattern = "*gtr*"\nmodel = "guitar"\n')
    cfg = config.load_config(p, overrides={"osc.port": 9900, "models.default": None})
    assert cfg["osc"]["port"] == 9900 and cfg["models"]["default"] == "bass"
    assert cfg["models"]["rules"] == [{"pattern": "*gtr*", "model": "guitar"}]
    assert cfg["osc"]["host"] == "127.0.0.1"
    p.write_text('[osc]\nport = "lots"\n')
    with pytest.raises(config.ConfigError, match="osc.port must be int"):
        config.load_config(p)
    p.write_text("[osc\n")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load_config(p)


@pytest.mark.parametrize("text,message", [
    ("[audio]\nmax_duration_s = -1\n", "audio.max_duration_s must be more than 0, got -1"),
    ("[audio]\nmax_duration_s = nan\n", "audio.max_duration_s must be a finite number, got nan"),
    ("[osc]\nport = 70000\n", "osc.port must be at least 0 and at most 65535, got 70000"),
    ("[models]\nerror_ratio = 0.5\n", "models.error_ratio must be at least 1, got 0.5"),
    ("[audio]\nbogus_key = 1\n", "unknown setting audio.bogus_key; known: max_duration_s"),
    ("[bogus]\nx = 1\n", "unknown section [bogus]; known: audio, embed"),
    ('[checks]\nmin_severity = "loud"\n', "checks.min_severity must be one of info, warn, error, got 'loud'"),
    ('[embed]\ndevice = "tpu"\n', "embed.device: unknown device 'tpu': auto, cpu, mps, cuda or cuda:N"),
    ('[checks.click]\nthreshold_db = "x"\n', "[checks.click] threshold_db must be a number, got 'x'"),
    ("[checks.click]\nhop = 0\n", "[checks.click] hop must be a whole number, at least 1, got 0"),
    ("[checks.click]\nthreshold_db = inf\n", "[checks.click] threshold_db must be a finite number, got inf"),
    ("[checks.dc]\nsegment_ms = -5\n", "[checks.dc] segment_ms is a duration and cannot be negative, got -5"),
    ("[checks.loudness]\nloop = 1\n", "[checks.loudness] loop must be true or false, got 1"),
    ("[checks.clicks]\ntreshold_db = 3\n", "[checks.clicks] has no setting 'treshold_db'"),
    ('[train]\ndetector = "svm"\n', "train.detector must be one of aewres, ae, iforest, pca, got 'svm'"),
    ("[train]\nquantile = 1.0\n", "train.quantile must be between 0 and 1 (exclusive), got 1.0"),
    ("[train]\nquantile = nan\n", "train.quantile must be between 0 and 1 (exclusive), got nan"),
    ('[train]\ndetecter = "pca"\n', "unknown setting train.detecter; known: detector, quantile, and a table per detector"),
    ("[train.svm]\nx = 1\n", "unknown setting train.svm; known: detector, quantile"),
    ('[train.aewres]\ninit = "xavier"\n', "[train.aewres]: aewres: init must be one of orthogonal, torch, got 'xavier'"),
    ("[train.aewres]\ncolour = 1\n", "[train.aewres]: aewres: unknown hyper-parameter(s) colour; known:"),
    ("[train.ae]\npatience = 2.5\n", "[train.ae]: ae: patience must be a whole number, got 2.5"),
    ("[train.aewres]\nensemble = 0\n", "[train.aewres]: aewres: ensemble must be a whole number from 1 to 32"),
    ("[train.iforest]\nseed = 3\n", "train.iforest.seed: the seed is chosen per run (loopwatch train --seed)"),
    ("[train.pca]\nvariance = 2\n", "[train.pca]: pca: variance must be in (0, 1], got 2"),
])
def test_bad_settings_are_refused_in_one_line(tmp_path, text, message):
    """Every command and the daemon read the configuration through load_config: a value no part could use stops them
    at once with a line naming the setting, not later at the first file (the daemon then lost every check)."""
    p = tmp_path / "lw.toml"
    p.write_text(text)
    with pytest.raises(config.ConfigError) as err:
        config.load_config(p)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_check_settings_the_check_cannot_run_with_are_refused(monkeypatch):
    """Beyond types and ranges, every check with settings is run once on test sound with them."""
    from loopwatch import checks

    def broken(audio, sr=None, *, window_ms: float = 10.0):
        return [] if window_ms < 50 else 1 / 0

    monkeypatch.setitem(checks.CHECKS, "seam", checks.CheckSpec("seam", broken, "test"))
    config.validate_config({"checks": {"seam": {"window_ms": 20.0}}})
    with pytest.raises(config.ConfigError, match=r"^\[checks.seam\] window_ms = 60.0: the check cannot run with these "
                                                 r"settings \(ZeroDivisionError: division by zero\)$"):
        config.validate_config({"checks": {"seam": {"window_ms": 60.0}}})


def test_config_show_init_and_roundtrip(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["config", "init"])
    assert res.exit_code == 0
    assert config.load_config() == config.DEFAULTS  # the written defaults read back identically
    res = runner.invoke(app, ["config", "show", "--json"])
    data = json.loads(res.stdout)
    assert data["config"]["osc"]["port"] == 9701 and data["paths"]["journal"].endswith("journal.jsonl")
    assert runner.invoke(app, ["config", "init"]).exit_code == 1  # exists


def test_home_env_relocates_everything(lw_home):
    for p in (config.data_dir(), config.cache_dir(), config.config_dir()):
        assert Path(p).is_relative_to(lw_home)


def test_inbox_format(tmp_path):
    f = tmp_path / "r.json"
    f.write_text(json.dumps({"v": 1, "requests": [{"request_id": "a", "path": "/x.wav", "start_s": 1, "length_s": 2.5}]}))
    (r,) = parse_inbox_file(f)
    assert (r.request_id, r.path, r.start_s, r.length_s) == ("a", "/x.wav", 1.0, 2.5)
    f.write_text(json.dumps({"request_id": "b", "path": "/y.wav"}))
    assert parse_inbox_file(f)[0].request_id == "b"
    for bad, why in [("[1]", "top level"), ("{}", "no requests"),
                     (json.dumps({"requests": [{"request_id": "c", "path": "/z.wav", "length_s": -1}]}), "length_s"),
                     (json.dumps({"requests": [{"path": "/z.wav"}]}), "request_id"), ("{oops", "not valid JSON")]:
        f.write_text(bad)
        with pytest.raises(InboxError, match=why):
            parse_inbox_file(f)


def test_a_wrong_configuration_stops_any_command_in_one_line(tmp_path):
    """Commands that read the configuration without reporting its errors themselves (status, alerts...) get the
    console script's one line naming the file, exit status 2, no traceback."""
    import os
    import subprocess
    import sys

    cfg = tmp_path / "lw.toml"
    cfg.write_text('[embed]\ndevice = "tpu"\n')
    env = {**os.environ, "LOOPWATCH_HOME": str(tmp_path / "home"), "LOOPWATCH_CONFIG": str(cfg)}
    r = subprocess.run([sys.executable, "-m", "loopwatch", "status"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"loopwatch: error: embed.device: unknown device 'tpu': auto, cpu, mps, cuda or " \
                               f"cuda:N (in {cfg})"
