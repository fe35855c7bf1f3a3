"""Live input monitoring (``loopwatch listen``): streaming quality checks on an audio input.

* :class:`Monitor` opens a PortAudio input stream (through sounddevice), copies
  blocks into a preallocated ring from the audio callback, analyses them in a
  thread and publishes alerts like the daemon's (database, journal, OSC).
* :class:`LiveAnalyzer` is the analysis alone: feed it blocks, get findings.
* :func:`list_devices` / :func:`resolve_input` find devices;
  :class:`PortAudioMissing` explains how to install PortAudio.

Nothing here imports sounddevice at import time.
"""

from loopwatch.monitor.detectors import LIVE_DEFAULTS, LiveAnalyzer
from loopwatch.monitor.devices import (DeviceError, PortAudioMissing, import_sounddevice, install_hint, list_devices,
                                       rescan, resolve_input)
from loopwatch.monitor.monitor import AlertInfo, Monitor, MonitorError, MonitorStats, parse_channels
from loopwatch.monitor.ring import BlockRing

__all__ = ["AlertInfo", "BlockRing", "DeviceError", "LIVE_DEFAULTS", "LiveAnalyzer", "Monitor", "MonitorError",
           "MonitorStats", "PortAudioMissing", "import_sounddevice", "install_hint", "list_devices", "parse_channels",
           "rescan", "resolve_input"]
