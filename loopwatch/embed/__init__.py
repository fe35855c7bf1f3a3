"""Encoders: variable-length audio in, fixed-size vectors out.

=============  =====  ===========================================================
name           dim    what
=============  =====  ===========================================================
clap-music     1024   LAION-CLAP HTSAT-base, music checkpoint, no fusion (default)
clap-fusion    768    LAION-CLAP HTSAT-tiny with attentional feature fusion
spectral       236    hand-crafted log-mel/MFCC/shape/onset statistics, no weights
=============  =====  ===========================================================

Use :func:`get_encoder`; importing this package does not import torch.
"""

from __future__ import annotations

from loopwatch.embed.base import Encoder, EncoderError, EncoderInfo

ENCODER_NAMES = ("clap-music", "clap-fusion", "spectral")

_DIMS = {"clap-music": 1024, "clap-fusion": 768, "spectral": 236}


def encoder_dim(name: str) -> int:
    """Output dimension of an encoder, without building it."""
    try:
        return _DIMS[name]
    except KeyError:
        raise EncoderError(f"unknown encoder {name!r}; choose from {', '.join(ENCODER_NAMES)}") from None


PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def check_device_name(device: str | None) -> None:
    """Raise :class:`EncoderError` unless ``device`` names a torch device loopwatch can use: ``auto`` (or empty),
    ``cpu``, ``mps``, ``cuda`` or ``cuda:N``. Whether it is present is checked when a CLAP encoder is built."""
    d = (device or "auto").lower()
    if d in ("auto", "cpu", "mps", "cuda") or (d.startswith("cuda:") and d[5:].isdigit()):
        return
    raise EncoderError(f"unknown device {device!r}: auto, cpu, mps, cuda or cuda:N")


def check_precision(precision: str) -> None:
    """Raise :class:`EncoderError` unless ``precision`` is one of :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise EncoderError(f"unknown precision {precision!r}: {', '.join(PRECISIONS)}")


def get_encoder(name: str, *, device: str | None = None, precision: str = "auto") -> Encoder:
    """Build the encoder called ``name``.

    Parameters
    ----------
    name : {"clap-music", "clap-fusion", "spectral"}
    device : str, optional
        ``"cuda"``, ``"mps"``, ``"cpu"`` or ``"auto"``/None (CUDA, then MPS, then CPU).
        The spectral encoder always runs on the CPU.
    precision : {"auto", "fp32", "fp16", "bf16"}
        Autocast precision of the CLAP encoders (see :mod:`loopwatch.embed.clap`).

    Raises
    ------
    EncoderError
        Unknown name, unusable device, or CLAP weights not installed (the message
        names ``loopwatch encoders download`` and ``loopwatch encoders import``).
    """
    encoder_dim(name)
    check_device_name(device)
    check_precision(precision)
    if name == "spectral":
        from loopwatch.embed.spectral import SpectralEncoder

        return SpectralEncoder()
    from loopwatch.embed.clap import ClapEncoder

    return ClapEncoder(name, device=device, precision=precision)


def prep_version(name: str) -> str:
    """The preprocessing version an encoder will report, without building it (reads weights metadata only)."""
    encoder_dim(name)
    if name == "spectral":
        from loopwatch.embed.spectral import SpectralEncoder

        return SpectralEncoder.prep_version
    from loopwatch.embed import weights
    from loopwatch.embed.clap import PREP_VERSION

    path = weights.weights_path(name)
    if not path.is_file():
        raise EncoderError(weights.missing_message(name))
    try:
        meta = weights.read_metadata(path)
    except weights.WeightsError as exc:
        raise EncoderError(str(exc)) from None
    return f"{PREP_VERSION[name]}+{(meta.get('source_sha256') or 'unknown')[:12]}"


def list_encoders() -> list[EncoderInfo]:
    """Every encoder with its weights file and whether it is installed (cheap: no torch import)."""
    from loopwatch.embed import weights

    out = [
        EncoderInfo(name, _DIMS[name], spec.description, spec.filename, weights.is_installed(name))
        for name, spec in weights.CHECKPOINTS.items()
    ]
    out.append(EncoderInfo("spectral", _DIMS["spectral"], "log-mel, MFCC, spectral-shape and onset statistics",
                           "", True))
    return out


__all__ = ["ENCODER_NAMES", "Encoder", "EncoderError", "EncoderInfo", "encoder_dim", "get_encoder", "list_encoders",
           "prep_version"]
