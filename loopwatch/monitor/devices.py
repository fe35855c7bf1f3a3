"""Audio devices through sounddevice/PortAudio: import with a helpful error, list, resolve.

``import sounddevice`` raises :class:`OSError` when the PortAudio library is
missing; :func:`import_sounddevice` turns that into :class:`PortAudioMissing`
with install instructions for the platform it runs on.
"""

from __future__ import annotations

import sys
from typing import Any


class PortAudioMissing(RuntimeError):
    """The PortAudio library cannot be loaded; the message says how to install it."""


class DeviceError(ValueError):
    """No such input device, or one that cannot be opened as asked (one line, names what exists)."""


def install_hint(platform: str | None = None) -> str:
    """How to get PortAudio on ``platform`` (``sys.platform`` by default), one line."""
    p = platform or sys.platform
    if p == "darwin":
        return ("on macOS PortAudio ships inside the sounddevice wheel: reinstall it with "
                "'python -m pip install --force-reinstall sounddevice' (in a conda environment: "
                "'conda install -c conda-forge portaudio')")
    if p.startswith("win"):
        return ("on Windows PortAudio ships inside the sounddevice wheel: reinstall it with "
                "'python -m pip install --force-reinstall sounddevice' (in a conda environment: "
                "'conda install -c conda-forge portaudio')")
    return ("on Linux install the PortAudio library: 'sudo apt install libportaudio2' (Debian, Ubuntu), "
            "'sudo dnf install portaudio' (Fedora), 'sudo pacman -S portaudio' (Arch)")


def import_sounddevice():
    """Return the :mod:`sounddevice` module, or raise :class:`PortAudioMissing` saying how to install PortAudio."""
    try:
        import sounddevice
    except OSError as exc:
        raise PortAudioMissing(f"the PortAudio library is not installed ({exc}); {install_hint()}") from None
    except ImportError as exc:
        raise PortAudioMissing(f"the sounddevice package is not installed ({exc}); "
                               "install it with 'python -m pip install sounddevice'") from None
    return sounddevice


def rescan(sd=None) -> None:
    """Make PortAudio enumerate the devices again (a device plugged in, or a sound server started, since import).

    PortAudio lists devices once, when it is initialised. This re-initialises
    it; call it only while no stream of this process is open.
    """
    sd = sd or import_sounddevice()
    sd._terminate()
    sd._initialize()


def list_devices(sd=None) -> dict[str, Any]:
    """Every PortAudio device, with channels, default rate and host API.

    Returns
    -------
    dict
        ``{"portaudio": str, "default_input": int | None, "default_output": int | None,
        "devices": [{"index", "name", "hostapi", "inputs", "outputs", "default_rate",
        "default_input", "default_output"}, ...]}`` (``inputs``/``outputs`` are channel counts).
    """
    sd = sd or import_sounddevice()
    apis = [a["name"] for a in sd.query_hostapis()]
    din, dout = _defaults(sd)
    out = []
    for d in sd.query_devices():
        idx = int(d["index"])
        out.append({"index": idx, "name": str(d["name"]), "hostapi": apis[d["hostapi"]] if d["hostapi"] < len(apis) else "",
                    "inputs": int(d["max_input_channels"]), "outputs": int(d["max_output_channels"]),
                    "default_rate": float(d["default_samplerate"]), "default_input": idx == din,
                    "default_output": idx == dout})
    return {"portaudio": str(sd.get_portaudio_version()[1]), "default_input": din, "default_output": dout,
            "devices": out}


def _defaults(sd) -> tuple[int | None, int | None]:
    din, dout = -1, -1
    try:
        din, dout = (int(v) if v is not None else -1 for v in sd.default.device)
    except Exception:
        pass
    if din < 0:
        try:
            din = int(sd.query_devices(kind="input")["index"])
        except Exception:
            din = -1
    if dout < 0:
        try:
            dout = int(sd.query_devices(kind="output")["index"])
        except Exception:
            dout = -1
    return (din if din >= 0 else None), (dout if dout >= 0 else None)


def describe_inputs(devices: list[dict[str, Any]]) -> str:
    ins = [d for d in devices if d["inputs"] > 0]
    if not ins:
        return "there are no input devices"
    return "input devices: " + ", ".join(f"{d['index']} '{d['name']}' ({d['inputs']} ch)" for d in ins)


def resolve_input(device: str | int | None, sd=None) -> dict[str, Any]:
    """Find the input device ``device`` names.

    Parameters
    ----------
    device : str, int or None
        None or ``""``: the default input. An int, or a string of digits: a
        device index. Otherwise a name: an exact (case-insensitive) match wins,
        then a unique substring match.

    Returns
    -------
    dict
        The device's entry from :func:`list_devices`.

    Raises
    ------
    DeviceError
        One line naming the device asked for and listing the input devices.
    """
    info = list_devices(sd)
    devices = info["devices"]
    inputs = [d for d in devices if d["inputs"] > 0]
    if device is None or (isinstance(device, str) and not device.strip()):
        idx = info["default_input"]
        for d in inputs:
            if d["index"] == idx:
                return d
        raise DeviceError(f"no default input device; {describe_inputs(devices)}")
    if isinstance(device, int) or (isinstance(device, str) and device.strip().isdigit()):
        idx = int(device)
        for d in devices:
            if d["index"] == idx:
                if d["inputs"] <= 0:
                    raise DeviceError(f"device {idx} '{d['name']}' has no inputs; {describe_inputs(devices)}")
                return d
        raise DeviceError(f"no input device {idx}; {describe_inputs(devices)}")
    name = str(device).strip()
    exact = [d for d in inputs if d["name"].casefold() == name.casefold()]
    if len(exact) == 1:
        return exact[0]
    part = exact or [d for d in inputs if name.casefold() in d["name"].casefold()]
    if len(part) == 1:
        return part[0]
    if not part:
        raise DeviceError(f"no input device '{name}'; {describe_inputs(devices)}")
    raise DeviceError(f"'{name}' matches several input devices ("
                      + ", ".join(f"{d['index']} '{d['name']}'" for d in part) + "); use the index")
