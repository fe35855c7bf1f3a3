"""Random CLAP weights in LAION's published checkpoint layout, for tests, benchmarks and the offline demo.

LAION's real checkpoints cannot be fetched everywhere (CI has no route to
Hugging Face), but the code paths that read them can be exercised exactly with
a file of the same layout: ``{"epoch", "name", "state_dict", ...}`` where every
``state_dict`` key starts with ``module.``, holding the audio tower plus
text-tower keys that conversion must drop. Embeddings from random weights
are meaningless for music; they are only good for testing plumbing and speed.
"""

from __future__ import annotations

import os

import numpy as np


def random_audio_tower(model: str, fusion: bool, seed: int = 0):
    """An HTS-AT audio tower with seeded random weights and non-trivial BatchNorm statistics."""
    import torch

    from loopwatch.embed.htsat import build_audio_model

    torch.manual_seed(seed)
    tower = build_audio_model(model, fusion)
    for name, buf in tower.named_buffers():
        if name.endswith("running_mean"):
            buf.normal_(0, 0.1)
        elif name.endswith("running_var"):
            buf.uniform_(0.5, 1.5)
    return tower


def write_laion_checkpoint(path: str | os.PathLike, model: str, fusion: bool, seed: int = 0):
    """Save a random checkpoint in LAION's layout to ``path``; return the torch tower it holds.

    The text tower is represented by a handful of small RoBERTa-named tensors
    (including ``text_branch.embeddings.position_ids``), with ``text_projection``,
    ``text_transform``, ``audio_transform`` and the logit scales, so conversion
    meets every kind of key it must drop. A numpy scalar sits beside the
    state dict, as in LAION's files.
    """
    import torch

    tower = random_audio_tower(model, fusion, seed)
    g = torch.Generator().manual_seed(seed + 1)
    sd = {f"module.{k}": v.clone() for k, v in tower.state_dict().items()}
    text = {
        "text_branch.embeddings.word_embeddings.weight": torch.randn(64, 16, generator=g),
        "text_branch.embeddings.position_embeddings.weight": torch.randn(80, 16, generator=g),
        "text_branch.embeddings.position_ids": torch.arange(80)[None],
        "text_branch.encoder.layer.0.attention.self.query.weight": torch.randn(16, 16, generator=g),
        "text_branch.pooler.dense.weight": torch.randn(16, 16, generator=g),
        "text_projection.0.weight": torch.randn(512, 16, generator=g),
        "text_projection.0.bias": torch.randn(512, generator=g),
        "text_projection.2.weight": torch.randn(512, 512, generator=g),
        "text_projection.2.bias": torch.randn(512, generator=g),
        "text_transform.sequential.0.weight": torch.randn(512, 512, generator=g),
        "audio_transform.sequential.0.weight": torch.randn(512, 512, generator=g),
        "logit_scale_a": torch.tensor(2.6),
        "logit_scale_t": torch.tensor(2.6),
    }
    sd.update({f"module.{k}": v for k, v in text.items()})
    ckpt = {"epoch": 15, "name": "loopwatch-random-test-weights", "state_dict": sd,
            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4}]}, "best_score": np.float64(0.9014)}
    torch.save(ckpt, str(path))
    return tower
