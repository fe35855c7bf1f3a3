"""Build LAION-CLAP's HTS-AT audio encoder from laion-clap's own modules, offline.

``import laion_clap`` cannot be used: its ``__init__`` imports the training
code, which fetches text tokenizers from the network at import time, and its
``clap_module/utils.py`` imports torchvision. loopwatch therefore loads the
three modules the audio branch needs (``htsat.py``, ``feature_fusion.py`` and
``utils.py`` from the installed ``laion_clap/clap_module`` folder) as members
of a private stand-in package, so neither package ``__init__`` runs. The one
torchvision name ``utils.py`` imports (``FrozenBatchNorm2d``, used only when
freezing layers for training) is provided by a placeholder that exists only
while ``utils.py`` is being imported; a real torchvision is never imported.

The code that runs is laion-clap's, unmodified, from the pinned version
:data:`LAION_CLAP_VERSION`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
import types
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

LAION_CLAP_VERSION = "1.1.7"
_PKG = "_loopwatch_laion_clap"
_lock = threading.Lock()
_modules: types.SimpleNamespace | None = None


class ClapImportError(ImportError):
    """laion-clap's modules cannot be found or loaded."""


def clap_module_dir() -> Path:
    """Folder of the installed ``laion_clap/clap_module`` (found without importing the package)."""
    spec = importlib.util.find_spec("laion_clap")
    if spec is None or not spec.submodule_search_locations:
        raise ClapImportError(f"laion-clap is not installed; install laion-clap=={LAION_CLAP_VERSION}")
    folder = Path(list(spec.submodule_search_locations)[0]) / "clap_module"
    if not (folder / "htsat.py").is_file():
        raise ClapImportError(f"{folder}: laion-clap's htsat.py is missing")
    return folder


def installed_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("laion-clap")
    except metadata.PackageNotFoundError:
        return None


class _TrainingOnly:
    """Stands in for torchvision's FrozenBatchNorm2d, which only CLAP's training code uses."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("FrozenBatchNorm2d is only used for training CLAP, which loopwatch does not do")


def _load(name: str, folder: Path) -> types.ModuleType:
    full = f"{_PKG}.{name}"
    spec = importlib.util.spec_from_file_location(full, folder / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ClapImportError(f"cannot load {folder / name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        sys.modules.pop(full, None)
        raise
    return module


def modules() -> types.SimpleNamespace:
    """Load (once) and return laion-clap's ``htsat`` and ``feature_fusion`` modules and its model configs."""
    global _modules
    with _lock:
        if _modules is not None:
            return _modules
        version = installed_version()
        if version != LAION_CLAP_VERSION:
            log.warning("laion-clap %s is installed; loopwatch is tested with %s", version, LAION_CLAP_VERSION)
        folder = clap_module_dir()
        pkg = types.ModuleType(_PKG)
        pkg.__path__ = [str(folder)]
        sys.modules[_PKG] = pkg
        names = ("torchvision", "torchvision.ops", "torchvision.ops.misc")
        saved = {n: sys.modules.get(n) for n in names}
        tv, ops, misc = (types.ModuleType(n) for n in names)
        misc.FrozenBatchNorm2d = _TrainingOnly
        ops.misc = misc
        tv.ops = ops
        sys.modules.update(dict(zip(names, (tv, ops, misc))))
        try:
            _load("utils", folder)
        except Exception as exc:
            raise ClapImportError(f"cannot load laion-clap's utils.py: {exc}") from exc
        finally:
            for n, m in saved.items():
                if m is None:
                    sys.modules.pop(n, None)
                else:
                    sys.modules[n] = m
        try:
            fusion = _load("feature_fusion", folder)
            htsat = _load("htsat", folder)
        except Exception as exc:
            raise ClapImportError(f"cannot load laion-clap's HTS-AT modules: {exc}") from exc
        configs = {}
        for model in ("tiny", "base"):
            with open(folder / "model_configs" / f"HTSAT-{model}.json", encoding="utf-8") as fh:
                configs[model] = json.load(fh)
        _modules = types.SimpleNamespace(htsat=htsat, feature_fusion=fusion, configs=configs, folder=folder)
        return _modules


def audio_config(model: str) -> types.SimpleNamespace:
    """The ``audio_cfg`` of ``HTSAT-<model>.json`` with attribute access."""
    cfg = modules().configs[model]["audio_cfg"]
    return types.SimpleNamespace(**cfg)


def build_audio_model(model: str, fusion: bool):
    """An untrained CLAP audio tower: ``audio_branch`` (HTS-AT) and ``audio_projection``.

    Parameters
    ----------
    model : {"tiny", "base"}
        HTSAT size (768-d or 1024-d pre-projection embedding).
    fusion : bool
        Build the attentional feature-fusion variant (``aff_2d``), as CLAP's
        fusion checkpoints were trained.

    Returns
    -------
    torch.nn.Module
        With children ``audio_branch`` and ``audio_projection``, so its
        ``state_dict`` keys are exactly the audio keys of a LAION checkpoint
        without the ``module.`` prefix.
    """
    from torch import nn

    mods = modules()
    cfg = audio_config(model)
    try:
        with warnings.catch_warnings():
            # laion-clap calls torch.meshgrid without `indexing`; harmless, but noisy for users.
            warnings.filterwarnings("ignore", message=".*torch.meshgrid.*", category=UserWarning)
            branch = mods.htsat.create_htsat_model(cfg, enable_fusion=fusion, fusion_type="aff_2d" if fusion else "None")
    except RuntimeError as exc:  # create_htsat_model hides the real error in a bare except
        raise ClapImportError(f"cannot build HTSAT-{model}: {exc}") from exc
    width = branch.num_features
    joint = 512
    tower = nn.Module()
    tower.audio_branch = branch
    tower.audio_projection = nn.Sequential(nn.Linear(width, joint), nn.ReLU(), nn.Linear(joint, joint))
    tower.embed_width = width
    tower.eval()
    return tower
