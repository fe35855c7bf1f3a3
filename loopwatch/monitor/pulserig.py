"""A private PulseAudio server with a null sink: a real-time audio device on machines without a sound card.

Used by the ``listen`` tests and ``bench/listen_latency.py`` (Linux, with the
``pulseaudio`` and ``pulseaudio-utils`` packages). :class:`PulseRig` starts
``pulseaudio --daemonize=no`` as a child process with its own runtime and home
folders, loads ``module-null-sink`` (``vsink``, 48 kHz stereo) and makes its
monitor the default source. ``paplay --device=vsink file.wav`` then plays into
it in real time, and PortAudio's ``pulse`` device records what is played.

Only the server this object started is ever stopped (by its process handle).
Clients find it through ``PULSE_SERVER`` in :attr:`PulseRig.env`;
:meth:`PulseRig.activate` also puts that into ``os.environ`` for in-process
PortAudio streams.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


class RigUnavailable(RuntimeError):
    """PulseAudio is not installed here or would not start (the message says why)."""


class PulseRig:
    """A PulseAudio server with a null sink whose monitor is the default source.

    Parameters
    ----------
    sink : str
        Sink name (its monitor source is ``<sink>.monitor``).
    rate, channels : int
        The sink's format; play files at this rate so PulseAudio does not resample.
    """

    def __init__(self, sink: str = "vsink", rate: int = 48000, channels: int = 2) -> None:
        self.sink, self.rate, self.channels = sink, int(rate), int(channels)
        self.proc: subprocess.Popen | None = None
        self.tmp: Path | None = None
        self.env: dict[str, str] = {}
        self._saved: dict[str, str | None] = {}

    @property
    def source(self) -> str:
        return f"{self.sink}.monitor"

    def start(self, timeout: float = 30.0) -> "PulseRig":
        missing = [b for b in ("pulseaudio", "pactl", "paplay") if shutil.which(b) is None]
        if missing:
            raise RigUnavailable(f"{', '.join(missing)} not installed (apt install pulseaudio pulseaudio-utils)")
        self.tmp = Path(tempfile.mkdtemp(prefix="lw-pulse-"))
        run, home = self.tmp / "run", self.tmp / "home"
        run.mkdir(mode=0o700)
        home.mkdir()
        sock = run / "pulse" / "native"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
        env.update(XDG_RUNTIME_DIR=str(run), HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
                   PULSE_SERVER=f"unix:{sock}")
        self.env = env
        cmd = ["pulseaudio", "--daemonize=no", "-n", "--exit-idle-time=-1", "--use-pid-file=no",
               "--log-target=stderr", "--load=module-native-protocol-unix",
               f"--load=module-null-sink sink_name={self.sink} rate={self.rate} channels={self.channels}",
               "--load=module-always-sink"]
        self._log = open(self.tmp / "pulseaudio.log", "wb")
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                why = self._log_tail()
                self.stop()
                raise RigUnavailable(f"pulseaudio exited with code {rc}: {why}")
            ok = subprocess.run(["pactl", "info"], env=env, capture_output=True, timeout=10).returncode == 0
            if ok:
                break
            if time.monotonic() > deadline:
                why = self._log_tail()
                self.stop()
                raise RigUnavailable(f"pulseaudio did not answer within {timeout:.0f} s: {why}")
            time.sleep(0.1)
        self.pactl("set-default-sink", self.sink)
        self.pactl("set-default-source", self.source)
        return self

    def _log_tail(self) -> str:
        try:
            self._log.flush()
            text = (self.tmp / "pulseaudio.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        lines = [ln for ln in text if " E: " in ln or "rror" in ln] or text
        return " | ".join(lines[-3:]) or "(empty log)"

    def pactl(self, *args: str) -> str:
        r = subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout

    def recording_streams(self) -> list[str]:
        """Lines of ``pactl list short source-outputs``: the streams recording from any source now."""
        return [ln for ln in self.pactl("list", "short", "source-outputs").splitlines() if ln.strip()]

    def play(self, path: str | os.PathLike, timeout: float = 120.0) -> None:
        """Play a WAV into the sink in real time (blocks until it has been played)."""
        subprocess.run(["paplay", f"--device={self.sink}", str(path)], env=self.env, check=True, timeout=timeout,
                       capture_output=True)

    def play_async(self, path: str | os.PathLike, *extra: str) -> subprocess.Popen:
        return subprocess.Popen(["paplay", f"--device={self.sink}", *extra, str(path)], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def activate(self) -> None:
        """Point this process's PulseAudio clients (PortAudio's ``pulse`` device) at this server."""
        for k in ("PULSE_SERVER", "XDG_RUNTIME_DIR"):
            self._saved.setdefault(k, os.environ.get(k))
            os.environ[k] = self.env[k]

    def deactivate(self) -> None:
        for k, v in self._saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self._saved = {}

    def stop(self) -> None:
        """Stop the server this object started (and only it), and remove its folders."""
        self.deactivate()
        p, self.proc = self.proc, None
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        if getattr(self, "_log", None) is not None:
            self._log.close()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def __enter__(self) -> "PulseRig":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
