"""Where loopwatch keeps its files, and the TOML configuration file.

Locations follow each platform's conventions through :mod:`platformdirs`
(``appauthor=False``, so there is no vendor folder on Windows):

============  =================================================  ==========================================
what          macOS                                              Windows / Linux
============  =================================================  ==========================================
config file   ``~/Library/Application Support/loopwatch/``       ``%LOCALAPPDATA%\\loopwatch\\`` /
              ``loopwatch.toml``                                 ``~/.config/loopwatch/loopwatch.toml``
data          ``~/Library/Application Support/loopwatch/``       ``%LOCALAPPDATA%\\loopwatch\\`` /
                                                                 ``~/.local/share/loopwatch/``
cache         ``~/Library/Caches/loopwatch/``                    ``%LOCALAPPDATA%\\loopwatch\\Cache\\`` /
                                                                 ``~/.cache/loopwatch/``
============  =================================================  ==========================================

Setting ``LOOPWATCH_HOME`` puts all three under one folder (``config/``,
``data/``, ``cache/``), which is what the tests and portable installs use.

The configuration is a plain TOML file. Every key has a default (see
:data:`DEFAULTS`); the file only needs the keys a user wants to change, and
command-line flags override the file. ``loopwatch config show`` prints what is
in force.
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any, Mapping

APP_NAME = "loopwatch"
CONFIG_FILENAME = "loopwatch.toml"

#: Default OSC port the daemon listens on (client -> daemon).
DEFAULT_OSC_PORT = 9701
#: Default push target of the Max for Live device.
DEFAULT_M4L_PORT = 9702
#: Default push target of the REAPER alerts panel.
DEFAULT_REAPER_PORT = 9703
DEFAULT_HOST = "127.0.0.1"

DEFAULTS: dict[str, Any] = {
    "audio": {
        # Longest file loopwatch decodes, in seconds. Longer files are refused
        # before any sample is read, so a stray 3-hour recording cannot eat memory.
        "max_duration_s": 600.0,
    },
    "embed": {
        "encoder": "clap-music",
        # "auto" picks CUDA, then MPS, then CPU.
        "device": "auto",
        "batch_size": 0,  # 0 = the encoder's default for the device
    },
    "osc": {
        "host": DEFAULT_HOST,
        "port": DEFAULT_OSC_PORT,
        # Static push targets, besides clients that subscribe.
        "push_targets": [f"{DEFAULT_HOST}:{DEFAULT_M4L_PORT}", f"{DEFAULT_HOST}:{DEFAULT_REAPER_PORT}"],
        # A subscriber that has not renewed for this long is dropped.
        "subscriber_timeout_s": 30.0,
    },
    "watch": {
        "folders": [],
        "daw": "",
        # Ableton Live project folders (or folders that contain projects).
        "ableton_roots": [],
        "reaper_media": [],
        # A file must keep the same size and mtime this long before it is read.
        "settle_s": 1.0,
        "batch_size": 8,
        # Roots that /loopwatch/score requests may read from. Empty: the
        # watched folders only.
        "allowed_roots": [],
    },
    "models": {
        # Model used when no rule matches. Empty: checks only, no outlier score.
        "default": "",
        # Ordered rules: the first whose glob matches the file's path (with
        # forward slashes, case-insensitive) picks the model.
        # Example: [{ pattern = "*/Bass/*", model = "bass" }]
        "rules": [],
        # An outlier whose score / threshold reaches this is an error alert, not a warning.
        "error_ratio": 3.0,
    },
    "checks": {
        # Findings below this severity are stored but not pushed as alerts.
        "min_severity": "warn",
        # Per-check overrides, e.g. [checks.click] threshold_db = 20.0
    },
    "train": {
        # What `loopwatch train` uses where no flag says otherwise.
        "detector": "aewres",
        "quantile": 0.95,
        # Hyper-parameters per detector, as `train --set` takes them (flags win), e.g.
        # [train.aewres] init = "torch"   or   [train.aewres] ensemble = 5
    },
    "listen": {
        "device": "",
        "rate": 48000,
        "block": 512,
        "channels": [],
        # PortAudio input latency: "high" (robust), "low", or seconds as a string ("0.02").
        "latency": "high",
        # Seconds kept around each alert in a WAV under <data>/recordings (0: off).
        "record_on_alert": 0.0,
        # Live checks (docs/listen.md): events of one check closer than hold_s are one alert.
        "hold_s": 1.0,
        "clip_level_db": -0.1,
        "true_peak_db": -1.0,
        "dropout_min_ms": 0.5,
        "dropout_max_s": 2.0,
        "silence_s": 2.0,
        "dc_db": -50.0,
        "noise_floor_db": -60.0,
        "quiet_db": -40.0,
        "quiet_s": 1.0,
    },
}


def _platformdirs():
    import platformdirs

    return platformdirs


def _home() -> Path | None:
    home = os.environ.get("LOOPWATCH_HOME")
    return Path(home).expanduser() if home else None


def config_dir() -> Path:
    """Folder holding ``loopwatch.toml``."""
    home = _home()
    if home is not None:
        return home / "config"
    return Path(_platformdirs().user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """Folder for models, weights, the daemon database, journal and inbox."""
    home = _home()
    if home is not None:
        return home / "data"
    return Path(_platformdirs().user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Folder for regenerable data (the embedding cache)."""
    home = _home()
    if home is not None:
        return home / "cache"
    return Path(_platformdirs().user_cache_dir(APP_NAME, appauthor=False))


def config_path() -> Path:
    env = os.environ.get("LOOPWATCH_CONFIG")
    return Path(env).expanduser() if env else config_dir() / CONFIG_FILENAME


def weights_dir() -> Path:
    """Installed encoder weights (audio-only safetensors files)."""
    return data_dir() / "weights"


def models_dir() -> Path:
    """Trained detectors, one ``NAME.safetensors`` + ``NAME.json`` pair each."""
    return data_dir() / "models"


def embed_cache_path() -> Path:
    return cache_dir() / "embeddings.sqlite"


def daemon_db_path() -> Path:
    return data_dir() / "daemon.sqlite"


def journal_path() -> Path:
    """JSON-lines alert journal, for clients that cannot open sockets."""
    return data_dir() / "journal.jsonl"


def inbox_dir() -> Path:
    """Folder where clients drop JSON score requests (write a temp name, then rename)."""
    return data_dir() / "inbox"


class ConfigError(ValueError):
    """The configuration file cannot be read or has a wrong value."""


#: Tables whose keys are not all listed in DEFAULTS ([checks.<name>] tables are validated by the checks,
#: [train.<detector>] tables by the detectors).
_OPEN_TABLES = frozenset({"checks", "train"})

#: Numeric settings and the values they accept: (lowest, lowest allowed?, highest or None).
_LIMITS: dict[str, tuple[float, bool, float | None]] = {
    "audio.max_duration_s": (0.0, False, None),
    "embed.batch_size": (0, True, None),
    "osc.port": (0, True, 65535),
    "osc.subscriber_timeout_s": (0.0, False, None),
    "watch.settle_s": (0.0, True, None),
    "watch.batch_size": (1, True, None),
    "models.error_ratio": (1.0, True, None),
    "listen.rate": (8000, True, 192000),
    "listen.block": (16, True, 65536),
    "listen.record_on_alert": (0.0, True, 600.0),
    "listen.hold_s": (0.0, True, None),
    "listen.dropout_min_ms": (0.0, False, None),
    "listen.dropout_max_s": (0.0, False, None),
    "listen.silence_s": (0.0, False, None),
    "listen.quiet_s": (0.0, False, None),
}


def _merge(base: dict[str, Any], over: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        name = f"{where}{key}"
        if key not in out and where.rstrip(".").split(".")[0] not in _OPEN_TABLES:
            known = ", ".join(k for k in out) or "none"
            what = f"section [{name}]" if not where else f"setting {name}"
            raise ConfigError(f"unknown {what}; known: {known}")
        if key in out and isinstance(out[key], dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{name} must be a table")
            out[key] = _merge(out[key], value, name + ".")
        else:
            if key in out and out[key] is not None and not _compatible(out[key], value):
                raise ConfigError(f"{name} must be {type(out[key]).__name__}, got {type(value).__name__}")
            out[key] = copy.deepcopy(value)
    return out


def _compatible(default: Any, value: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, type(default))


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None


def load_config(path: str | os.PathLike | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the configuration in force: defaults, then the file, then ``overrides``.

    ``overrides`` uses dotted keys, e.g. ``{"osc.port": 9800}``; ``None`` values
    are skipped so unset command-line flags do not clobber the file.
    A missing file is not an error; an unreadable or ill-typed one is.
    """
    cfg = copy.deepcopy(DEFAULTS)
    p = Path(path) if path is not None else config_path()
    if p.exists():
        cfg = _merge(cfg, _read_toml(p))
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        *parents, leaf = dotted.split(".")
        node = cfg
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    validate_config(cfg)
    return cfg


def validate_config(cfg: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` (one line naming the setting) for a value out of its range, a number that is not
    finite, or a ``[checks.<name>]`` table the checks refuse (unknown setting, wrong type, or values the check
    cannot run with)."""
    import math

    for dotted, (lo, lo_ok, hi) in _LIMITS.items():
        section, key = dotted.split(".")
        v = cfg.get(section, {}).get(key)
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue  # a wrong type was refused by the merge; a flag's None is "unset"
        if not math.isfinite(v):
            raise ConfigError(f"{dotted} must be a finite number, got {v!r}")
        if v < lo or (v == lo and not lo_ok) or (hi is not None and v > hi):
            span = f"{'at least' if lo_ok else 'more than'} {lo:g}" + (f" and at most {hi:g}" if hi is not None else "")
            raise ConfigError(f"{dotted} must be {span}, got {v!r}")
    device = cfg.get("embed", {}).get("device")
    if isinstance(device, str):
        from loopwatch.embed import EncoderError, check_device_name

        try:
            check_device_name(device)
        except EncoderError as exc:
            raise ConfigError(f"embed.device: {exc}") from None
    _validate_train(cfg.get("train", {}))
    checks = cfg.get("checks", {})
    from loopwatch.findings import SEVERITIES

    if "min_severity" in checks and checks["min_severity"] not in SEVERITIES:
        raise ConfigError(f"checks.min_severity must be one of {', '.join(SEVERITIES)}, got {checks.get('min_severity')!r}")
    if any(isinstance(t, Mapping) for t in checks.values()):
        from loopwatch.checks import CheckConfigError, validate_check_settings

        try:
            validate_check_settings(checks)
        except CheckConfigError as exc:
            raise ConfigError(str(exc)) from None


def _validate_train(train: Mapping[str, Any]) -> None:
    """The [train] table: a known detector, a quantile in (0, 1), and [train.<detector>] tables of hyper-parameters
    that detector accepts (types and ranges checked by the detector itself)."""
    import math

    from loopwatch.detect import DETECTOR_TYPES, DetectorError
    from loopwatch.modelstore import build_detector

    if "detector" in train and train["detector"] not in DETECTOR_TYPES:
        raise ConfigError(f"train.detector must be one of {', '.join(DETECTOR_TYPES)}, got {train['detector']!r}")
    if "quantile" in train:
        q = train["quantile"]
        if not (isinstance(q, (int, float)) and not isinstance(q, bool) and math.isfinite(q) and 0.0 < q < 1.0):
            raise ConfigError(f"train.quantile must be between 0 and 1 (exclusive), got {q!r}")
    for key, table in train.items():
        if key in ("detector", "quantile"):
            continue
        if key not in DETECTOR_TYPES or not isinstance(table, Mapping):
            raise ConfigError(f"unknown setting train.{key}; known: detector, quantile, and a table per detector "
                              f"([train.{DETECTOR_TYPES[0]}], ...)")
        if "seed" in table:
            raise ConfigError(f"train.{key}.seed: the seed is chosen per run (loopwatch train --seed)")
        try:
            build_detector(key, params=dict(table)).check_params()
        except DetectorError as exc:
            raise ConfigError(f"[train.{key}]: {exc}") from None


def train_params(cfg: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The hyper-parameters the configuration gives detector ``kind`` (its ``[train.<kind>]`` table, or none)."""
    return dict(cfg.get("train", {}).get(kind, {}))


def dumps_toml(cfg: Mapping[str, Any]) -> str:
    """Serialise a nested mapping of scalars, lists and tables as TOML."""
    lines: list[str] = []

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, Mapping):
            return "{ " + ", ".join(f"{k} = {scalar(x)}" for k, x in v.items()) + " }"
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        raise TypeError(f"cannot write {type(v).__name__} as TOML")

    def table(prefix: str, node: Mapping[str, Any]) -> None:
        plain = {k: v for k, v in node.items() if not isinstance(v, Mapping)}
        subs = {k: v for k, v in node.items() if isinstance(v, Mapping)}
        if prefix:
            lines.append(f"[{prefix}]")
        for k, v in plain.items():
            lines.append(f"{k} = {scalar(v)}")
        if prefix or plain:
            lines.append("")
        for k, v in subs.items():
            table(f"{prefix}.{k}" if prefix else k, v)

    table("", cfg)
    return "\n".join(lines).rstrip() + "\n"


def parse_hostport(text: str, default_host: str = DEFAULT_HOST) -> tuple[str, int]:
    """Parse ``"host:port"`` (or a bare port) into a tuple; raise ConfigError if malformed."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = default_host, text
    try:
        num = int(port)
    except ValueError:
        raise ConfigError(f"bad host:port {text!r}") from None
    if not 0 < num < 65536:
        raise ConfigError(f"bad port in {text!r}")
    return (host or default_host).strip("[]"), num
