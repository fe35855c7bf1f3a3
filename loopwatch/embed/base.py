"""The interface every encoder implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

import numpy as np


class EncoderError(RuntimeError):
    """An encoder cannot be built or used (missing weights, bad device, ...)."""


class Encoder(ABC):
    """Turns variable-length mono 48 kHz clips into fixed-size vectors.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"clap-music"``.
    dim : int
        Length of each output vector.
    prep_version : str
        Identifies everything that changes the output for a given file
        (front end, length rule, weights). Cached embeddings are keyed by it.
    sample_rate : int
        Rate the clips must have (48000 for every loopwatch encoder).
    device : str
        ``"cpu"``, ``"cuda"`` or ``"mps"``.
    """

    name: str
    dim: int
    prep_version: str
    sample_rate: int = 48000
    device: str = "cpu"

    @abstractmethod
    def embed(self, clips: Sequence[np.ndarray], batch_size: int | None = None) -> np.ndarray:
        """Embed ``clips`` (each a 1-D float32 array at :attr:`sample_rate`).

        Returns float32 of shape ``(len(clips), dim)``. The vector of a clip
        does not depend on which other clips share its batch.
        """

    def describe(self) -> str:
        return f"{self.name} ({self.dim}-d, {self.prep_version}, {self.device})"


@dataclass(frozen=True)
class EncoderInfo:
    """What ``loopwatch encoders list`` shows about an encoder."""

    name: str
    dim: int
    description: str
    weights: str  # file name of the audio-only weights, "" when none are needed
    installed: bool
