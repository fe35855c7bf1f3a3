"""Installing CLAP encoder weights: download, resume, verify, convert to audio-only safetensors.

LAION publishes full CLAP checkpoints (audio and text towers, pickled). loopwatch
keeps only the audio tower: ``loopwatch encoders download NAME`` fetches the
published file with resume and a size/sha256 check, and converts it; ``loopwatch
encoders import FILE.pt`` converts a file the user already has. Conversion is the
only place anything is unpickled, with ``torch.load(weights_only=True)``; at run
time weights are read from safetensors only.

Converted files live in ``<data>/weights/<encoder>.safetensors`` with a JSON
metadata block (source file name, its sha256, laion-clap version, key count).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from loopwatch import config

log = logging.getLogger(__name__)

#: Where LAION publishes the checkpoints. ``LOOPWATCH_WEIGHTS_URL`` overrides it (mirrors, tests).
BASE_URL = "https://huggingface.co/lukewys/laion_clap/resolve/main/"
FORMAT = "loopwatch-clap-audio-1"

#: Top-level key prefixes of a LAION checkpoint that are not part of the audio tower.
DROPPED_PREFIXES = ("text_branch.", "text_projection.", "text_transform.", "audio_transform.")
DROPPED_KEYS = ("logit_scale_a", "logit_scale_t")
KEPT_PREFIXES = ("audio_branch.", "audio_projection.")


@dataclass(frozen=True)
class CheckpointSpec:
    """A published LAION-CLAP checkpoint that a loopwatch encoder uses."""

    encoder: str
    filename: str
    model: str  # "tiny" | "base"
    fusion: bool
    sha256: str | None  # pinned when known; otherwise the server's advertised hash is used
    description: str


CHECKPOINTS: dict[str, CheckpointSpec] = {
    "clap-music": CheckpointSpec(
        encoder="clap-music",
        filename="music_audioset_epoch_15_esc_90.14.pt",
        model="base",
        fusion=False,
        sha256="fae3e9c087f2909c28a09dc31c8dfcdacbc42ba44c70e972b58c1bd1caf6dedd",
        description="HTSAT-base, music checkpoint, no fusion, 1024-d (the paper's choice)",
    ),
    "clap-fusion": CheckpointSpec(
        encoder="clap-fusion",
        filename="630k-audioset-fusion-best.pt",
        model="tiny",
        fusion=True,
        sha256=None,
        description="HTSAT-tiny with attentional feature fusion for variable length, 768-d",
    ),
}


class WeightsError(RuntimeError):
    """Weights are missing, corrupt, or not the expected checkpoint."""


def weights_path(encoder: str, folder: Path | None = None) -> Path:
    return (folder or config.weights_dir()) / f"{encoder}.safetensors"


def is_installed(encoder: str, folder: Path | None = None) -> bool:
    return weights_path(encoder, folder).is_file()


def missing_message(encoder: str) -> str:
    spec = CHECKPOINTS[encoder]
    return (f"weights for {encoder} are not installed; run `loopwatch encoders download {encoder}`, "
            f"or `loopwatch encoders import {spec.filename}` if you already have the file")


# --- download ---------------------------------------------------------------------

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class _RecordingRedirects(urllib.request.HTTPRedirectHandler):
    """Keeps the headers of redirect responses: Hugging Face puts the file's sha256 and size there."""

    def __init__(self) -> None:
        self.headers: list = []

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        self.headers.append(headers)
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and req.has_header("Range"):
            new.add_unredirected_header("Range", req.get_header("Range"))
        return new


def _advertised(headers_list) -> tuple[str | None, int | None]:
    """sha256 and size that the server advertises (X-Linked-Etag / X-Linked-Size, or an ETag of 64 hex digits)."""
    sha, size = None, None
    for headers in headers_list:
        for key in ("X-Linked-Etag", "ETag"):
            value = (headers.get(key) or "").strip().strip('"').removeprefix("W/").strip('"').lower()
            if sha is None and _HEX64.match(value):
                sha = value
        linked = headers.get("X-Linked-Size")
        if size is None and linked and linked.isdigit():
            size = int(linked)
    return sha, size


def download(
    encoder: str,
    *,
    url: str | None = None,
    folder: Path | None = None,
    sha256: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    keep_checkpoint: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download the published checkpoint of ``encoder``, verify it, and install audio-only weights.

    An interrupted download leaves ``<weights>/downloads/<file>.part``; running
    again resumes it with an HTTP Range request (a server that ignores the range
    makes it start over). The finished file is checked against the expected size
    and sha256 (pinned in :data:`CHECKPOINTS`, given with ``sha256``, or advertised
    by the server); a mismatch deletes the partial file and raises.

    Parameters
    ----------
    progress : callable, optional
        Called as ``progress(bytes_done, total_bytes_or_None)``.

    Returns
    -------
    Path
        The installed ``.safetensors`` file.
    """
    if encoder not in CHECKPOINTS:
        raise WeightsError(_unknown_encoder(encoder))
    spec = CHECKPOINTS[encoder]
    base = os.environ.get("LOOPWATCH_WEIGHTS_URL", BASE_URL)
    src = url or (base.rstrip("/") + "/" + spec.filename)
    dl_dir = (folder or config.weights_dir()) / "downloads"
    dl_dir.mkdir(parents=True, exist_ok=True)
    part = dl_dir / (spec.filename + ".part")
    state_file = dl_dir / (spec.filename + ".part.json")
    state = {}
    if part.exists() and state_file.exists():
        try:
            state = json.loads(state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
    if part.exists() and state.get("url") != src:
        part.unlink()
        state = {}
    have = part.stat().st_size if part.exists() else 0

    redirects = _RecordingRedirects()
    opener = urllib.request.build_opener(redirects)
    req = urllib.request.Request(src, headers={"User-Agent": "loopwatch", "Accept-Encoding": "identity"})
    if have:
        req.add_header("Range", f"bytes={have}-")
        if state.get("etag"):
            req.add_header("If-Range", state["etag"])
    try:
        resp = opener.open(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            resp = None  # we already have every byte
            redirects.headers.append(exc.headers)
        else:
            raise WeightsError(f"{src}: download failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WeightsError(f"{src}: download failed: {reason}") from None

    total = state.get("total")
    adv_sha, adv_size = _advertised(redirects.headers + ([resp.headers] if resp is not None else []))
    if resp is not None:
        if resp.status == 206:
            m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != have:
                resp.close()
                part.unlink(missing_ok=True)
                raise WeightsError(f"{src}: server answered an unexpected range; run the command again")
            total = int(m.group(3)) if m.group(3) != "*" else None
            mode = "ab"
        else:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else adv_size
            have = 0
            mode = "wb"
        state = {"url": src, "etag": resp.headers.get("ETag"), "total": total, "sha256": adv_sha or state.get("sha256")}
        state_file.write_text(json.dumps(state), encoding="utf-8")
        try:
            with resp, open(part, mode) as out:
                last = 0.0
                while True:
                    block = resp.read(1 << 20)
                    if not block:
                        break
                    out.write(block)
                    have += len(block)
                    now = time.monotonic()
                    if progress and now - last > 0.1:
                        progress(have, total)
                        last = now
        except (OSError, urllib.error.URLError) as exc:
            raise WeightsError(f"{src}: download interrupted after {have} bytes ({exc}); "
                               f"run the command again to resume") from None
        if progress:
            progress(have, total)
    size = part.stat().st_size
    expected_size = total or adv_size
    if expected_size is not None and size != expected_size:
        raise WeightsError(f"{src}: incomplete download ({size} of {expected_size} bytes); "
                           f"run the command again to resume")
    expected_sha = (sha256 or spec.sha256 or state.get("sha256") or adv_sha or "").lower() or None
    got = file_sha256(part)
    if expected_sha is not None and got != expected_sha:
        part.unlink(missing_ok=True)
        state_file.unlink(missing_ok=True)
        raise WeightsError(f"{src}: sha256 mismatch (expected {expected_sha}, got {got}); "
                           f"the download was deleted, run the command again")
    if expected_sha is None:
        log.warning("%s: no published checksum to compare with; sha256 is %s", spec.filename, got)
    final = dl_dir / spec.filename
    os.replace(part, final)
    state_file.unlink(missing_ok=True)
    try:
        out = convert(final, encoder, folder=folder, source_sha256=got)
    finally:
        if not keep_checkpoint:
            final.unlink(missing_ok=True)
    return out


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- conversion -------------------------------------------------------------------

def _torch_load(path: Path) -> dict:
    """Unpickle a checkpoint with ``weights_only=True`` (no code runs), allowing numpy scalars."""
    import numpy as np
    import torch

    try:
        from numpy._core.multiarray import scalar  # numpy >= 2 (and the alias in 1.26)
    except ImportError:  # pragma: no cover - older numpy
        from numpy.core.multiarray import scalar
    # LAION's checkpoints hold a few numpy scalars beside the tensors; pickles name them
    # numpy.core.multiarray.scalar (numpy 1.x) or numpy._core.multiarray.scalar (2.x).
    allowed = [np.dtype, scalar, (scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar")]
    allowed += [getattr(np.dtypes, n) for n in dir(getattr(np, "dtypes", object())) if n.endswith("DType")]
    import warnings

    try:
        with torch.serialization.safe_globals(allowed), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols: the error below says what matters
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, zip errors, truncated files
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()] or [type(exc).__name__]
        text = lines[0]
        if "weights only load failed" in text.lower():
            # torch's advice here is to load without weights_only, which would run the file's code: never.
            # What matters is the safe unpickler's own reason, on the line after "WeightsUnpickler error:".
            why = next((lines[i + 1] for i, ln in enumerate(lines[:-1]) if "WeightsUnpickler error" in ln), "")
            text = f"the safe unpickler refused it{': ' + why if why else ''}; loopwatch never runs a file's code"
        raise WeightsError(f"{path}: not a readable PyTorch checkpoint ({text[:200]})") from None
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: not a CLAP checkpoint (top level is {type(obj).__name__})")
    return obj


def _unknown_encoder(encoder: str) -> str:
    if encoder == "spectral":
        return "the spectral encoder needs no weights: nothing to import or download"
    return f"unknown encoder {encoder!r}; CLAP encoders: {', '.join(CHECKPOINTS)}"


def guess_encoder(keys: set[str]) -> str | None:
    """Which loopwatch encoder a set of audio keys (without ``module.``) belongs to, or None."""
    fusion = any(k.startswith("audio_branch.patch_embed.mel_conv2d.") for k in keys)
    base = "audio_branch.layers.2.blocks.11.norm1.weight" in keys  # HTSAT-base has 12 blocks in stage 3
    for name, spec in CHECKPOINTS.items():
        if spec.fusion == fusion and (spec.model == "base") == base:
            return name
    return None


def audio_state_dict(checkpoint: dict, source: str) -> dict:
    """Select the audio tower of a LAION checkpoint: strip ``module.``, keep audio keys, reject the unknown."""
    sd = checkpoint.get("state_dict", checkpoint)
    if not isinstance(sd, dict) or not sd:
        raise WeightsError(f"{source}: no state_dict in checkpoint")
    out, unknown = {}, []
    for key, value in sd.items():
        name = key[len("module."):] if key.startswith("module.") else key
        if name.startswith(KEPT_PREFIXES):
            out[name] = value
        elif name.startswith(DROPPED_PREFIXES) or name in DROPPED_KEYS:
            continue
        else:
            unknown.append(key)
    if unknown:
        raise WeightsError(f"{source}: unexpected keys, not a LAION-CLAP checkpoint: {', '.join(sorted(unknown)[:5])}"
                           + (f" (+{len(unknown) - 5} more)" if len(unknown) > 5 else ""))
    if not out:
        raise WeightsError(f"{source}: no audio_branch.* keys")
    return out


def convert(
    checkpoint_path: str | os.PathLike,
    encoder: str | None = None,
    *,
    folder: Path | None = None,
    source_sha256: str | None = None,
) -> Path:
    """Convert a LAION-CLAP ``.pt`` checkpoint into loopwatch's audio-only safetensors file.

    The audio keys must match the model that ``encoder`` builds exactly (names and
    shapes); ``encoder=None`` picks it from the keys. Returns the installed path.
    """
    import torch
    from safetensors.torch import save_file

    from loopwatch.embed.htsat import LAION_CLAP_VERSION, build_audio_model

    path = Path(checkpoint_path)
    if encoder is not None and encoder not in CHECKPOINTS:
        raise WeightsError(_unknown_encoder(encoder))
    if path.is_dir():
        raise WeightsError(f"{path}: a folder; give the checkpoint file (a LAION .pt)")
    if not path.is_file():
        raise WeightsError(f"{path}: no such file")
    sd = audio_state_dict(_torch_load(path), str(path))
    guessed = guess_encoder(set(sd))
    if encoder is None:
        if guessed is None:
            raise WeightsError(f"{path}: an HTS-AT checkpoint loopwatch has no encoder for "
                               f"(expected {', '.join(s.filename for s in CHECKPOINTS.values())})")
        encoder = guessed
    spec = CHECKPOINTS[encoder]
    if guessed != encoder:
        kind = "fusion" if spec.fusion else "non-fusion"
        raise WeightsError(f"{path}: not a {kind} HTSAT-{spec.model} checkpoint, which {encoder} needs")
    expected = build_audio_model(spec.model, spec.fusion).state_dict()
    missing = sorted(set(expected) - set(sd))
    extra = sorted(set(sd) - set(expected))
    if missing or extra:
        raise WeightsError(f"{path}: audio keys do not match HTSAT-{spec.model} (missing: {missing[:3]}, "
                           f"unexpected: {extra[:3]})")
    bad = [k for k in expected if tuple(expected[k].shape) != tuple(sd[k].shape)]
    if bad:
        raise WeightsError(f"{path}: wrong tensor shapes for {', '.join(bad[:3])}")
    tensors = {k: v.detach().to(torch.float32 if v.is_floating_point() else v.dtype).contiguous() for k, v in sd.items()}
    out = weights_path(encoder, folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "encoder": encoder,
        "source": path.name,
        "source_sha256": source_sha256 or file_sha256(path),
        "laion_clap": LAION_CLAP_VERSION,
        "model": f"HTSAT-{spec.model}",
        "fusion": str(spec.fusion).lower(),
        "keys": str(len(tensors)),
    }
    tmp = out.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, out)
    return out


def read_metadata(path: Path) -> dict:
    """The metadata block of an installed weights file (no tensors are read)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except Exception as exc:
        raise WeightsError(f"{path}: not a safetensors file ({exc})") from None
    if meta.get("format") != FORMAT:
        raise WeightsError(f"{path}: not a loopwatch CLAP weights file")
    return meta


def load_state_dict(encoder: str, folder: Path | None = None) -> tuple[dict, dict]:
    """Read installed weights (safetensors only) and their metadata; raise WeightsError with the fix if missing."""
    from safetensors.torch import load_file

    path = weights_path(encoder, folder)
    if not path.is_file():
        raise WeightsError(missing_message(encoder))
    meta = read_metadata(path)
    if meta.get("encoder") != encoder:
        raise WeightsError(f"{path}: holds weights for {meta.get('encoder')}, not {encoder}")
    try:
        return load_file(str(path)), meta
    except Exception as exc:
        raise WeightsError(f"{path}: cannot read weights ({exc}); re-install them") from None
