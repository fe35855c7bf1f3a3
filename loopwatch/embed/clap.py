"""LAION-CLAP HTS-AT encoders: ``clap-music`` and ``clap-fusion``.

Both output the audio tower's pre-projection ``embedding`` (what the paper's
reference code feeds Deep SVDD). Inputs are mono 48 kHz clips that already had
CLAP's int16 round trip (:attr:`loopwatch.audio.Audio.mono`).

Length handling is deterministic, unlike CLAP's training-time random choices:

``clap-music`` (HTSAT-base, no fusion, 1024-d)
    A clip of 10 s or less is repeat-padded to 10 s as CLAP does: tiled whole
    ``floor(480000 / n)`` times, then zero-padded. A longer clip is covered by
    ``ceil(n / 480000)`` full 10 s windows whose starts are evenly spaced from 0
    to ``n - 480000`` (rounded to samples), and the embedding is the mean of the
    windows' embeddings. Every sample is seen; nothing is random.

``clap-fusion`` (HTSAT-tiny with attentional feature fusion, 768-d)
    The log-mel (HTK, torchaudio-compatible, :mod:`loopwatch.embed.mel`) of a
    clip of 10 s or less is computed after repeat-padding, and the four fusion
    channels are copies of it (``longer=False``; the model uses channel 0).
    For a longer clip, channel 0 is the whole mel resized to 1001 x 64
    (bilinear, no antialiasing, as torchvision's ``Resize`` did on tensors when
    CLAP was trained), and channels 1-3 are the 1001-frame chunks starting at
    the **centre** of the first, middle and last third of the possible start
    frames (CLAP picks them at random); ``longer=True``.

Precision: fp32 is the reference. ``precision="auto"`` uses fp16 autocast on
CUDA, bf16 autocast on CPUs with native bf16 (AVX512-BF16 or AMX) and fp32
elsewhere; the mel front ends and the fusion patch embedding always run in
fp32. ``tests/test_clap_encoder.py`` checks the reduced-precision paths keep a
cosine of at least 0.999 to fp32.
"""

from __future__ import annotations

import logging
import math
from typing import Sequence

import numpy as np

from loopwatch.embed.base import Encoder, EncoderError

log = logging.getLogger(__name__)

CLIP_SAMPLES = 480000  # 10 s at 48 kHz
HOP = 480
CHUNK_FRAMES = CLIP_SAMPLES // HOP + 1  # 1001
PREP_VERSION = {"clap-music": "clap-music-1", "clap-fusion": "clap-fusion-1"}
DIMS = {"clap-music": 1024, "clap-fusion": 768}


def select_device(requested: str | None = None) -> str:
    """``"cuda"``, then ``"mps"``, then ``"cpu"``; or the requested one if it is usable."""
    import torch

    if requested and requested != "auto":
        dev = requested.lower()
        if dev.startswith("cuda") and not torch.cuda.is_available():
            raise EncoderError("--device cuda was asked for, but torch sees no CUDA GPU")
        if dev == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise EncoderError("--device mps was asked for, but MPS is not available")
        if not (dev == "cpu" or dev == "mps" or dev.startswith("cuda")):
            raise EncoderError(f"unknown device {requested!r} (cuda, mps or cpu)")
        return dev
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def cpu_has_native_bf16() -> bool:
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, p, lambda: False)()) for p in probes)


def resolve_precision(device: str, precision: str = "auto") -> str:
    """Map ``auto``/``fp32``/``fp16``/``bf16`` to what will run on ``device``."""
    from loopwatch.embed import check_precision

    check_precision(precision)
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "fp16"
    if device == "cpu" and cpu_has_native_bf16():
        return "bf16"
    return "fp32"


def repeat_pad(x: np.ndarray, n: int = CLIP_SAMPLES) -> np.ndarray:
    """CLAP's ``repeatpad``: tile the clip ``floor(n / len)`` times, then zero-pad to ``n``."""
    if len(x) == 0:
        raise ValueError("empty clip")
    if len(x) >= n:
        return x[:n]
    reps = n // len(x)
    y = np.tile(x, reps)
    return np.pad(y, (0, n - len(y)))


def window_starts(n: int, win: int = CLIP_SAMPLES) -> list[int]:
    """Starts of the ``ceil(n / win)`` full windows evenly spaced over a clip of ``n > win`` samples."""
    k = math.ceil(n / win)
    return [int(round(s)) for s in np.linspace(0, n - win, k)]


def fusion_chunk_starts(total_frames: int, chunk: int = CHUNK_FRAMES) -> list[int]:
    """Deterministic starts of the three local chunks: the centre of each third of the valid starts.

    CLAP splits ``range(total_frames - chunk + 1)`` into three nearly equal parts
    (``numpy.array_split``) and draws one start from each at random; this takes the
    middle element of each part (0 for an empty part, as CLAP does).
    """
    starts = np.arange(0, total_frames - chunk + 1)
    out = []
    for part in np.array_split(starts, 3):
        out.append(int(part[len(part) // 2]) if len(part) else 0)
    return out


class ClapEncoder(Encoder):
    """An HTS-AT audio tower loaded from installed, audio-only safetensors weights."""

    def __init__(
        self,
        name: str,
        *,
        device: str | None = None,
        precision: str = "auto",
        state_dict: dict | None = None,
        weights_meta: dict | None = None,
    ) -> None:
        import torch

        from loopwatch.embed import weights
        from loopwatch.embed.htsat import build_audio_model
        from loopwatch.embed.mel import mel_filterbank

        if name not in weights.CHECKPOINTS:
            raise EncoderError(f"unknown CLAP encoder {name!r}")
        spec = weights.CHECKPOINTS[name]
        self.name = name
        self.fusion = spec.fusion
        self.dim = DIMS[name]
        self.device = select_device(device)
        self.precision = resolve_precision(self.device, precision)
        if state_dict is None:
            try:
                state_dict, weights_meta = weights.load_state_dict(name)
            except weights.WeightsError as exc:
                raise EncoderError(str(exc)) from None
        meta = weights_meta or {}
        fingerprint = (meta.get("source_sha256") or "unknown")[:12]
        self.prep_version = f"{PREP_VERSION[name]}+{fingerprint}"
        model = build_audio_model(spec.model, spec.fusion)
        try:
            model.load_state_dict(state_dict, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise EncoderError(f"{name}: installed weights do not fit HTSAT-{spec.model}: {first}") from None
        model.eval()
        self._torch = torch
        self.model = model.to(self.device)
        self._fp32_islands()
        if self.fusion:
            self._fb = torch.as_tensor(mel_filterbank(48000, 1024, 64, 50.0, 14000.0), dtype=torch.float32,
                                       device=self.device)
            self._win = torch.hann_window(1024, periodic=True, dtype=torch.float32, device=self.device)

    # -- precision -----------------------------------------------------------------

    def _autocast(self):
        torch = self._torch
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.precision)
        dev_type = "cuda" if self.device.startswith("cuda") else self.device
        if dtype is None:
            return torch.autocast(device_type=dev_type, enabled=False)
        return torch.autocast(device_type=dev_type, dtype=dtype)

    def _fp32_islands(self) -> None:
        """Run the mel front end and the fusion patch embedding in fp32 even under autocast.

        The log-mel is numerically sensitive, and laion-clap's fusion patch
        embedding mixes a float32 zero pad into an indexed assignment, which
        fails under reduced precision.
        """
        torch = self._torch
        branch = self.model.audio_branch
        dev_type = "cuda" if self.device.startswith("cuda") else self.device

        def fp32(module):
            inner = module.forward

            def forward(*args, **kwargs):
                with torch.autocast(device_type=dev_type, enabled=False):
                    args = tuple(a.float() if torch.is_tensor(a) and a.is_floating_point() else a for a in args)
                    return inner(*args, **kwargs)

            module.forward = forward

        for sub in (branch.spectrogram_extractor, branch.logmel_extractor, branch.patch_embed):
            fp32(sub)

    # -- inputs ----------------------------------------------------------------------

    def _music_windows(self, clip: np.ndarray) -> list[np.ndarray]:
        if len(clip) <= CLIP_SAMPLES:
            return [repeat_pad(clip)]
        return [clip[s : s + CLIP_SAMPLES] for s in window_starts(len(clip))]

    def fusion_input(self, clip: np.ndarray):
        """``(mel_fusion (4, 1001, 64), longer)`` for one clip, as CLAP's data pipeline builds it."""
        from loopwatch.embed.mel import htk_log_mel_torch

        torch = self._torch
        x = torch.as_tensor(np.ascontiguousarray(clip, dtype=np.float32), device=self.device)
        longer = len(clip) > CLIP_SAMPLES
        if not longer:
            x = torch.as_tensor(repeat_pad(clip), device=self.device)
        mel = htk_log_mel_torch(x, filterbank=self._fb, window=self._win)  # (T, 64)
        total = mel.shape[0]
        if not longer or total == CHUNK_FRAMES:
            return mel[None].expand(4, -1, -1).contiguous(), False
        shrink = torch.nn.functional.interpolate(mel[None, None], size=(CHUNK_FRAMES, 64), mode="bilinear",
                                                 align_corners=False)[0, 0]
        chunks = [mel[s : s + CHUNK_FRAMES] for s in fusion_chunk_starts(total)]
        return torch.stack([shrink] + chunks, dim=0), True

    # -- embedding -------------------------------------------------------------------

    def default_batch_size(self) -> int:
        return 64 if self.device.startswith("cuda") else 16 if self.device == "mps" else 1

    def embed(self, clips: Sequence[np.ndarray], batch_size: int | None = None) -> np.ndarray:
        torch = self._torch
        bs = batch_size or self.default_batch_size()
        out = np.empty((len(clips), self.dim), dtype=np.float32)
        if not len(clips):
            return out
        with torch.inference_mode():
            if self.fusion:
                items = [self.fusion_input(np.asarray(c, dtype=np.float32)) for c in clips]
                for i in range(0, len(items), bs):
                    group = items[i : i + bs]
                    mel = torch.stack([m for m, _ in group])
                    longer = torch.tensor([[lg] for _, lg in group], device=self.device)
                    out[i : i + len(group)] = self._forward({"mel_fusion": mel, "longer": longer})
            else:
                windows, owner = [], []
                for j, c in enumerate(clips):
                    for w in self._music_windows(np.asarray(c, dtype=np.float32)):
                        windows.append(w)
                        owner.append(j)
                vecs = np.empty((len(windows), self.dim), dtype=np.float32)
                for i in range(0, len(windows), bs):
                    wav = torch.as_tensor(np.stack(windows[i : i + bs]), device=self.device)
                    vecs[i : i + len(wav)] = self._forward({"waveform": wav})
                owner_arr = np.asarray(owner)
                for j in range(len(clips)):
                    out[j] = vecs[owner_arr == j].mean(axis=0)
        return out

    def _forward(self, batch: dict) -> np.ndarray:
        with self._autocast():
            emb = self.model.audio_branch(batch, device=self.device)["embedding"]
        return emb.float().cpu().numpy()

    def project(self, embeddings: np.ndarray) -> np.ndarray:
        """Map pre-projection embeddings into CLAP's 512-d joint space (L2-normalised)."""
        torch = self._torch
        with torch.inference_mode():
            z = self.model.audio_projection(torch.as_tensor(embeddings, device=self.device))
            z = torch.nn.functional.normalize(z, dim=-1)
        return z.cpu().numpy()
