"""Deep SVDD with an autoencoder-pre-trained encoder: the AE and AEwRES variants.

Architecture (the paper's Appendix C and section 4.3)::

    encoder  dim -> 512 -> 256 -> 128 -> 64 -> 32
    decoder  32 -> 64 -> 128 -> 256 -> 512 -> dim

Each hidden layer is ``Linear(bias=False) -> BatchNorm1d -> ELU(alpha) ->
Dropout(0.2)``; the latent layer (64 -> 32) and the output layer (512 -> dim)
are plain ``Linear`` layers, also without bias: Ruff et al. (2018) show that
bias terms let Deep SVDD map every input onto the centre (a trivial, useless
solution), and the paper's reference code trains with ``bias: false``. Batch
normalisation is PyTorch's default layer, with a learnable scale and shift
(``bn_affine``; ``False`` removes them, as in Ruff et al.'s networks).

Dropout regularises the autoencoder pre-training only; the one-class phase
trains without it (``svdd_dropout=False``). The one-class loss is a distance
to a fixed centre, and under dropout noise the cheapest way to lower it is to
shrink every output rather than to learn what normal loops share. Both choices
were made on a development corpus (seed 1), never on the test corpus; the
numbers are in docs/detectors.md.

**AEwRES** adds U-Net-style residual links during pre-training: the output of
encoder hidden layer *i* (1-based: 512, 256, 128, 64 wide) is added to the
input of decoder layer *5 - i* (0-based: the decoder layer whose input has the
same width). The latent itself is not linked.

Every linear layer starts as a random (semi-)orthogonal matrix (``init``; PyTorch's
default initialisation shrinks the distances between inputs at every layer).

The ELU is the standard one (``elu_alpha=1``), not the paper's ELU(0.1), which
squeezes every negative pre-activation into (-0.1, 0]: after batch
normalisation about half the units of every hidden layer, which then pass a
tenth of their signal. The standard ELU scored better on both development
corpora, for both variants (docs/detectors.md).

Training, on standardised inputs:

1. **Pre-training**: the autoencoder minimises the mean squared
   reconstruction error.
2. **Deep SVDD**: the centre ``c`` is the mean of the pre-trained encoder's
   outputs over the training split (evaluation mode). Coordinates with
   ``|c_i| < eps`` are set to ``+eps`` or ``-eps`` by their sign (Ruff et al.).
   The encoder alone then minimises the one-class loss ``mean ||phi(x) - c||^2``.

Both phases use AdamW (weight decay 1e-5), cosine annealing of the learning
rate down to 5e-6 over ``max_epochs`` (stepped once per epoch), at most 1000
epochs of shuffled mini-batches, and early stopping, keeping the best weights.
Pre-training starts at the paper's lr 1e-3 with batches of 32 (``lr``,
``batch_size``). The one-class phase takes smaller steps: lr 1e-4 with
batches of 128 (``svdd_lr``, ``svdd_batch_size``). The paper uses its values
for both phases; Ruff et al.'s published Deep SVDD runs use lr 1e-4 with
batches of 200 for both. The one-class loss can always be lowered by pulling
every input towards ``c``; large steps likely get there within a few epochs,
before the encoder has learnt what normal loops share. The smaller steps scored
better on both development corpora, most at the paper's scale
(docs/detectors.md). Pre-training watches its validation loss and stops after
5 epochs without a lower one (``pretrain_patience``; the paper's patience is 20).
With the standard ELU the reconstruction keeps improving a little at a time for
hundreds of epochs, which a patience of 20 lets run; stopping sooner kept the
development figures and cut training time. The one-class phase stops after 20
epochs (``patience``) without a lower *contrast* (``svdd_stop``):
the validation loss divided by the mean distance of the validation rows with
each column shuffled on its own. The one-class loss keeps falling while the
encoder pulls every input towards ``c``, anomalies included, and the paper's
rule (``svdd_stop="loss"``) then keeps the most collapsed encoder; the
contrast stops falling there. On libraries of 1,800 training loops the
out-of-style AUROC peaked in the first 10-40 one-class epochs and fell after,
while the validation loss kept falling for 90-180 (docs/detectors.md). Both
variants stop on the contrast; with the paper's ELU(0.1) it had lowered the
plain AE, which kept the paper's rule until stop 21.

Score: ``||phi(x) - c||^2`` (a sum over the 32 latent coordinates; the
reference code's mean is this divided by 32).

**Ensembles** (``ensemble=N``, default 1: the paper's single model): N members
are trained exactly as above with seeds ``seed, seed + 1, ..., seed + N - 1``,
each with its own centre. A member's distance is divided by the median of its
own validation distances (members' scales differ by orders of magnitude), and
the score is the mean of these ratios. Deep SVDD's out-of-style AUROC depends
on the seed (0.84-0.98 over fifteen seeds on the benchmark's guitar library);
ensembles of five reached 0.977-0.993 there (docs/detectors.md has the
numbers). It costs N trainings and N encoder passes per score (five
members: under 1 ms per embedding at 1024-d). Members train at once in ``jobs``
worker processes (default: as many as the CPUs hold); each trains exactly as
it would alone, so the model does not depend on ``jobs``.

Training is tuned for the CPU: mini-batches are index slices of one tensor
(no DataLoader), AdamW is torch's fused kernel called directly
(:class:`AdamW`: the same steps as ``torch.optim.AdamW(fused=True)`` without
its per-step bookkeeping), the learning rate follows the closed form of cosine
annealing, and the validation loss is one forward pass. The random number
generators (numpy for the batch order, torch for initialisation and dropout)
are seeded, so training twice on the same data gives bit-identical scores.
After training, batch normalisation is folded into the linear layers and the
encoder is stored as plain arrays: scoring needs numpy only.
"""

from __future__ import annotations

import copy
import math
import os
from typing import Any

import numpy as np

from loopwatch.detect.base import Detector, DetectorError, ProgressFn

_BN_EPS = 1e-5
#: Most members an ensemble may have.
MAX_MEMBERS = 32


def _elu(x: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def default_threads(members: int = 1) -> int:
    """Training threads when none are given: for one model half the logical CPUs, between 1 and 4; for the
    members of an ensemble 1, as they use the cores by training at once (:func:`default_jobs`).

    Mini-batches of 32 gain little from more threads, and torch's OpenMP threads
    spin-wait on each other: on a machine where another program (a DAW, the
    daemon) holds a core, all-core training was measured up to 5x slower than
    one thread (bench/detect_speed.py).
    """
    if members > 1:
        return 1
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def default_jobs(threads: int) -> int:
    """Ensemble members trained at once when none is given: as many as the CPUs hold at ``threads`` each (at least 1).

    Members are independent trainings in separate processes, so unlike threads
    within one training they do not wait on each other: on a 2-core machine two
    single-threaded members train in about the time of one.
    """
    return max(1, (os.cpu_count() or 1) // max(1, threads))


def svdd_center(mean_latent: np.ndarray, eps: float = 0.1) -> np.ndarray:
    """The hypersphere centre from the mean initial latent: coordinates with ``|c_i| < eps`` become ``-eps``
    (negative ones) or ``+eps`` (the rest), as in Ruff et al. (2018), so no coordinate sits at the origin,
    which a network without biases reaches trivially."""
    c = np.array(mean_latent, dtype=np.float64, copy=True)
    small = np.abs(c) < eps
    c[small & (c < 0)] = -eps
    c[small & (c >= 0)] = eps
    return c


#: Weight initialisations of the linear layers (``init``).
INITS = ("orthogonal", "torch")
#: What the one-class phase's early stopping watches (``svdd_stop``).
SVDD_STOPS = ("contrast", "loss")


def shuffled_columns(Z: np.ndarray, seed: int) -> np.ndarray:
    """``Z`` with each column permuted on its own (one permutation per column, drawn from ``seed``).

    Every feature keeps its values, so its marginal distribution, while the rows lose the joint structure that
    real embeddings share: a reference set of plausible-looking rows that no real loop produced.
    """
    Z = np.asarray(Z)
    rng = np.random.default_rng([int(seed), 0x5C0])
    return np.stack([Z[rng.permutation(len(Z)), j] for j in range(Z.shape[1])], axis=1).astype(Z.dtype, copy=False)


def kept_epoch(history: np.ndarray) -> int:
    """The 0-based epoch whose weights a training phase kept, from its history (rows of ``train, val`` or
    ``train, val, watched``): the lowest value of the last column, which is what early stopping watched.
    -1 for an empty history."""
    return int(np.argmin(history[:, -1])) if len(history) else -1


def build_network(dim: int, hidden: list[int], dropout: float, alpha: float, residual: bool, bn_affine: bool = False,
                  init: str = "orthogonal"):
    """The autoencoder as a ``torch.nn.Module`` with ``encode(x)`` and ``forward(x)`` (reconstruction).

    ``init`` is ``"orthogonal"`` (every linear layer's weight a random (semi-)orthogonal matrix, gain 1) or
    ``"torch"`` (PyTorch's default, uniform in +-1/sqrt(fan_in)); the draws come from torch's generator.
    """
    import torch
    from torch import nn

    def block(a: int, b: int) -> nn.Sequential:
        return nn.Sequential(nn.Linear(a, b, bias=False), nn.BatchNorm1d(b, eps=_BN_EPS, affine=bn_affine), nn.ELU(alpha=alpha),
                             nn.Dropout(dropout))

    class AutoEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            dims = [dim, *hidden]
            rdims = dims[::-1]
            self.residual = residual
            self.enc = nn.ModuleList([block(dims[i], dims[i + 1]) for i in range(len(dims) - 2)]
                                     + [nn.Linear(dims[-2], dims[-1], bias=False)])
            self.dec = nn.ModuleList([block(rdims[i], rdims[i + 1]) for i in range(len(rdims) - 2)]
                                     + [nn.Linear(rdims[-2], rdims[-1], bias=False)])

        def encode(self, x: torch.Tensor) -> torch.Tensor:
            for layer in self.enc:
                x = layer(x)
            return x

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            skips = []
            for layer in self.enc[:-1]:
                x = layer(x)
                skips.append(x)
            x = self.enc[-1](x)
            for j, layer in enumerate(self.dec[:-1]):
                x = layer(x)
                if self.residual:
                    x = x + skips[-1 - j]
            return self.dec[-1](x)

    net = AutoEncoder()
    if init == "orthogonal":
        for m in net.modules():
            if isinstance(m, nn.Linear):
                nn.init.orthogonal_(m.weight)
    elif init != "torch":
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    return net


def cosine_lr(epoch: int, max_epochs: int, lr: float, lr_min: float) -> float:
    """The learning rate of ``epoch`` (0-based) under cosine annealing from ``lr`` down to ``lr_min`` over
    ``max_epochs`` epochs (the closed form of ``torch.optim.lr_scheduler.CosineAnnealingLR``)."""
    return lr_min + (lr - lr_min) * (1.0 + math.cos(math.pi * epoch / max_epochs)) / 2.0


class AdamW:
    """AdamW (betas 0.9 and 0.999, eps 1e-8, decoupled weight decay) over a fixed list of parameters.

    It calls the fused CPU kernel that ``torch.optim.AdamW(fused=True)`` calls, with the same state, so its
    steps are the same to the bit (a test checks this), without the per-step bookkeeping of
    ``torch.optim.Optimizer`` (grouping tensors by device, profiling hooks, state dictionaries): about
    0.5 ms of each 236-d pre-training step. Where torch lacks the kernel it falls back to
    ``torch.optim.AdamW`` itself. :meth:`step` takes the learning rate of the step.
    """

    def __init__(self, params, weight_decay: float, fused_kernel: bool = True) -> None:
        import torch

        self.params = list(params)
        self.weight_decay = float(weight_decay)
        self._kernel = getattr(torch, "_fused_adamw_", None) if fused_kernel else None
        self._opt = None
        if self._kernel is not None:
            self._exp_avgs = [torch.zeros_like(q) for q in self.params]
            self._exp_avg_sqs = [torch.zeros_like(q) for q in self.params]
            self._steps = [torch.zeros((), dtype=torch.float32) for _ in self.params]
        else:
            self._opt = _adamw(self.params, 1e-3, self.weight_decay)

    def zero_grad(self) -> None:
        for q in self.params:
            q.grad = None

    def step(self, lr: float) -> None:
        import torch

        if self._opt is not None:
            for group in self._opt.param_groups:
                group["lr"] = lr
            self._opt.step()
            return
        torch._foreach_add_(self._steps, 1)
        self._kernel(self.params, [q.grad for q in self.params], self._exp_avgs, self._exp_avg_sqs, [], self._steps,
                     lr=lr, beta1=0.9, beta2=0.999, weight_decay=self.weight_decay, eps=1e-8, amsgrad=False,
                     maximize=False, grad_scale=None, found_inf=None)


def train_epoch(loss_fn, opt: AdamW, Xt, perm, batch_size: int, lr: float):
    """One epoch of mini-batch steps at learning rate ``lr``: rows ``perm`` of ``Xt`` in slices of ``batch_size``
    (a last slice of one row is skipped: batch normalisation needs two). Returns the summed training loss (a
    0-d tensor) and the number of rows it covers."""
    import torch

    n = Xt.shape[0]
    total, rows = torch.zeros(()), 0
    for s in range(0, n, batch_size):
        if n - s < 2:
            break
        xb = Xt.index_select(0, perm[s : s + batch_size])
        loss = loss_fn(xb)
        opt.zero_grad()
        loss.backward()
        opt.step(lr)
        total += loss.detach() * xb.shape[0]
        rows += xb.shape[0]
    return total, rows


class DeepSVDD(Detector):
    """Deep SVDD on an autoencoder-pre-trained encoder (see the module docstring).

    Hyper-parameters
    ----------------
    hidden : list of int, default [512, 256, 128, 64, 32]
        Encoder widths; the last is the latent size.
    dropout : float, default 0.2
    elu_alpha : float, default 1.0
        The ELU's negative saturation: the standard ELU; the paper's is 0.1 (see the module docstring).
    lr : float, default 1e-3
        Starting learning rate of pre-training.
    weight_decay : float, default 1e-5
    lr_min : float, default 5e-6
        End of the cosine annealing.
    max_epochs : int, default 1000
        Per phase. Tests lower it; the schedule anneals over ``max_epochs``.
    batch_size : int, default 32
        Mini-batch rows in pre-training.
    svdd_lr : float, default 1e-4
        Starting learning rate of the one-class phase (the paper uses ``lr`` for both phases; see the module
        docstring). Models saved before this parameter existed used ``lr``.
    svdd_batch_size : int, default 128
        Mini-batch rows in the one-class phase (the paper uses ``batch_size`` for both phases). Models saved
        before this parameter existed used ``batch_size``.
    patience : int, default 20
        Epochs without a better value of what the one-class phase watches (``svdd_stop``) before it stops.
    pretrain_patience : int, default 5
        Epochs without a lower validation loss before pre-training stops (the paper's is 20; see the module
        docstring). Models saved before this parameter existed used ``patience`` for both phases.
    eps : float, default 0.1
        Smallest magnitude of a centre coordinate.
    bn_affine : bool, default True
        Learnable scale and shift in the batch-normalisation layers (PyTorch's default ``BatchNorm1d``).
    svdd_dropout : bool, default False
        Keep dropout active in the one-class phase too. By default dropout
        regularises the autoencoder pre-training only (see docs/detectors.md).
    init : {"orthogonal", "torch"}, default "orthogonal"
        Initial weights of the linear layers: random (semi-)orthogonal matrices, which keep the distances
        between inputs through the untrained network, or PyTorch's default (uniform in +-1/sqrt(fan_in),
        which shrinks them layer by layer). Chosen on a development corpus (docs/detectors.md). Models
        saved before this parameter existed were trained with ``"torch"``.
    svdd_stop : {"contrast", "loss"}, default "contrast"
        What the one-class phase's early stopping (``patience``) watches, and so which epoch's weights are
        kept. ``"loss"`` is the paper's rule: the validation loss ``mean ||phi(v) - c||^2``. ``"contrast"``
        divides that loss by the mean distance of the validation rows with every column shuffled on its
        own (:func:`shuffled_columns`, drawn once from the seed): the one-class loss also falls when the
        encoder pulls every input towards the centre, normal or not (the collapse Deep SVDD is prone to),
        and the ratio does not. Chosen on development corpora (docs/detectors.md): for AEwRES at stop 18,
        for the plain AE (which stopped on the loss until then) at stop 21. Models saved before this
        parameter existed were trained with ``"loss"``. Pre-training always stops on its validation loss.
    seed : int, default 0
        Seed of member 1 (initialisation, batch order, dropout); member *k* uses ``seed + k - 1``.
    ensemble : int, default 1
        Members whose validation-scaled distances are averaged (see the module docstring). 1 is the
        paper's single model, with the plain distance as its score.
    threads : int, default 0
        torch intra-op threads while training; 0 picks :func:`default_threads`
        (half the CPUs, at most 4, for one model; 1 for each member of an
        ensemble). Results are bit-identical between runs with the same thread
        count; another count changes the rounding, and so the model.
    jobs : int, default 0
        Ensemble members trained at once, each in its own process; 0 picks
        :func:`default_jobs` (as many as the CPUs hold at ``threads`` each: one per
        CPU with the default of one thread per member, at most one per member). Each
        member runs exactly as it would alone, so the model does not depend on
        ``jobs``; only the wall time does.
    """

    residual: bool = False
    defaults = {"hidden": [512, 256, 128, 64, 32], "dropout": 0.2, "elu_alpha": 1.0, "lr": 1e-3,
                "weight_decay": 1e-5, "lr_min": 5e-6, "max_epochs": 1000, "batch_size": 32, "patience": 20,
                "eps": 0.1, "bn_affine": True, "svdd_dropout": False, "init": "orthogonal", "svdd_stop": "contrast",
                "pretrain_patience": 5, "svdd_lr": 1e-4, "svdd_batch_size": 128, "seed": 0, "ensemble": 1,
                "threads": 0, "jobs": 0}
    latent_name = "Deep SVDD latent"
    free_params = frozenset({"ensemble", "threads", "jobs"})  # checked with their own messages in _check_params
    #: How models saved before a hyper-parameter existed were trained: PyTorch's initialisation (``init``), the
    #: one-class phase stopping on the validation loss (``svdd_stop``), the paper's ELU(0.1) (``elu_alpha``; every
    #: saved model stores it, this covers a file without it). :meth:`saved_params` fills in ``pretrain_patience``,
    #: ``svdd_lr`` and ``svdd_batch_size`` from the values both phases shared.
    legacy_params = {"init": "torch", "svdd_stop": "loss", "elu_alpha": 0.1}

    @classmethod
    def saved_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        # before these existed, both phases stopped after ``patience`` epochs and trained with ``lr`` and
        # ``batch_size``
        params = dict(params)
        for key, shared in (("pretrain_patience", "patience"), ("svdd_lr", "lr"), ("svdd_batch_size", "batch_size")):
            params.setdefault(key, params.get(shared, cls.defaults[shared]))
        return super().saved_params(params)

    # -- training ---------------------------------------------------------------------------

    def _check_params(self) -> None:
        super()._check_params()
        p = self.params
        hidden = [int(h) for h in p["hidden"]]
        if len(hidden) < 2 or min(hidden) < 1:
            raise DetectorError(f"{self.kind}: hidden must list at least two positive widths, got {p['hidden']}")
        p["hidden"] = hidden
        if int(p["max_epochs"]) < 1:
            raise DetectorError(f"{self.kind}: max_epochs must be at least 1, got {p['max_epochs']}")
        for key in ("batch_size", "svdd_batch_size"):
            if int(p[key]) < 2:
                raise DetectorError(f"{self.kind}: {key} must be at least 2 (batch normalisation needs two rows), "
                                    f"got {p[key]}")
        for key in ("patience", "pretrain_patience"):
            if int(p[key]) < 1:
                raise DetectorError(f"{self.kind}: {key} must be at least 1, got {p[key]}")
        if not 0.0 <= float(p["dropout"]) < 1.0:
            raise DetectorError(f"{self.kind}: dropout must be in [0, 1), got {p['dropout']}")
        for key in ("lr", "svdd_lr", "elu_alpha", "eps"):
            if not float(p[key]) > 0.0:
                raise DetectorError(f"{self.kind}: {key} must be above 0, got {p[key]}")
        if not float(p["weight_decay"]) >= 0.0:
            raise DetectorError(f"{self.kind}: weight_decay must be 0 or more, got {p['weight_decay']}")
        top = min(float(p["lr"]), float(p["svdd_lr"]))
        if not 0.0 <= float(p["lr_min"]) <= top:
            raise DetectorError(f"{self.kind}: lr_min must be from 0 to the smaller of lr and svdd_lr ({top:g}), "
                                f"got {p['lr_min']}")
        if p["init"] not in INITS:
            raise DetectorError(f"{self.kind}: init must be one of {', '.join(INITS)}, got {p['init']!r}")
        if p["svdd_stop"] not in SVDD_STOPS:
            raise DetectorError(f"{self.kind}: svdd_stop must be one of {', '.join(SVDD_STOPS)}, "
                                f"got {p['svdd_stop']!r}")
        members = p["ensemble"]
        if isinstance(members, bool) or not isinstance(members, (int, np.integer)) or not 1 <= members <= MAX_MEMBERS:
            raise DetectorError(f"{self.kind}: ensemble must be a whole number from 1 to {MAX_MEMBERS}, got {members!r}")
        p["ensemble"] = int(members)
        for key in ("threads", "jobs"):
            v = p[key]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise DetectorError(f"{self.kind}: {key} must be a whole number, 0 or more, got {v!r}")
            p[key] = int(v)

    def _fit(self, Z_train: np.ndarray, Z_val: np.ndarray, progress: ProgressFn | None) -> None:
        n = int(self.params["ensemble"])
        seeds = [int(self.params["seed"]) + k for k in range(n)]
        tags = [f" {k + 1}/{n}" if n > 1 else "" for k in range(n)]  # "pretrain 2/5": the CLI names the member
        threads = int(self.params["threads"]) or default_threads(n)
        jobs = min(n, int(self.params["jobs"]) or default_jobs(threads))
        from loopwatch.detect.members import fit_members, workers_available

        if not workers_available():  # a frozen app: no interpreter to start workers with
            jobs = 1
        if jobs > 1:
            members = fit_members(self.kind, self.params, self.dim, Z_train, Z_val, seeds, tags, threads, jobs, progress)
        else:
            members = [self._fit_member(Z_train, Z_val, s, threads, _tagged(progress, t)) for s, t in zip(seeds, tags)]
        self.info_["threads"] = threads
        self.info_["jobs"] = jobs
        self.members_ = [(m["layers"], m["center"]) for m in members]
        self._name_latent()
        self.history_ = members[0]["history"]
        self.member_scales_ = np.ones(1)
        if n > 1:
            self.member_scales_ = np.array([np.median(self._distance(Z_val, i)) for i in range(n)])
            if not (np.isfinite(self.member_scales_).all() and (self.member_scales_ > 0).all()):
                raise DetectorError(f"{self.kind}: a member maps every validation row onto its centre; "
                                    "its distances cannot be scaled")
        first = members[0]["info"]
        self.info_.update(first)
        if n > 1:
            # epoch counts are totals over the members (the training time); best epochs are member 1's
            for key in ("epochs_pretrain", "epochs_svdd", "epochs"):
                self.info_[key] = int(sum(m["info"][key] for m in members))
            self.info_["val_loss"] = float(np.mean([m["info"]["val_loss"] for m in members]))
            self.info_["members"] = [m["info"] for m in members]

    def _fit_member(self, Z_train: np.ndarray, Z_val: np.ndarray, seed: int, threads: int,
                    progress: ProgressFn | None) -> dict:
        """Train one autoencoder + Deep SVDD encoder with ``seed`` on ``threads`` torch threads; its folded layers,
        centre, history and facts."""
        import torch

        p = self.params
        old_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                rng = np.random.default_rng(seed)
                net = build_network(self.dim, p["hidden"], float(p["dropout"]), float(p["elu_alpha"]), self.residual,
                                    bool(p["bn_affine"]), str(p["init"]))
                Xt = torch.from_numpy(np.ascontiguousarray(Z_train, dtype=np.float32))
                Xv = torch.from_numpy(np.ascontiguousarray(Z_val, dtype=np.float32))

                def recon_loss(x: torch.Tensor) -> torch.Tensor:
                    return torch.mean((net(x) - x) ** 2)

                hist_ae = self._train_phase("pretrain", net, list(net.parameters()), recon_loss, Xt, Xv, rng,
                                            progress, patience=int(p["pretrain_patience"]), lr=float(p["lr"]),
                                            batch_size=int(p["batch_size"]))
                net.eval()
                with torch.no_grad():
                    c0 = net.encode(Xt).mean(dim=0).numpy()
                c_np = svdd_center(c0, float(p["eps"]))
                n_small = int((np.abs(c0) < float(p["eps"])).sum())
                c = torch.from_numpy(c_np.astype(np.float32))

                def svdd_loss(x: torch.Tensor) -> torch.Tensor:
                    return torch.mean(torch.sum((net.encode(x) - c) ** 2, dim=1))

                if not bool(p["svdd_dropout"]):
                    # The one-class loss is a distance to a fixed centre: under dropout noise the cheapest way
                    # to lower it is to shrink every output, not to learn what normal loops share.
                    for m in net.modules():
                        if isinstance(m, torch.nn.Dropout):
                            m.p = 0.0
                Xs = torch.from_numpy(shuffled_columns(Xv.numpy(), seed)) if p["svdd_stop"] == "contrast" else None

                def contrast(val: float) -> float:
                    # validation rows' mean distance over that of the same rows with shuffled columns:
                    # it falls while the encoder learns what real loops share, and stays put while it
                    # merely pulls every input, normal or not, towards the centre
                    ref = float(svdd_loss(Xs))
                    return val / ref if ref > 0.0 else math.inf

                hist_sv = self._train_phase("svdd", net, list(net.enc.parameters()), svdd_loss, Xt, Xv, rng,
                                            progress, contrast if Xs is not None else None,
                                            patience=int(p["patience"]), lr=float(p["svdd_lr"]),
                                            batch_size=int(p["svdd_batch_size"]))
        finally:
            torch.set_num_threads(old_threads)
        net.eval()
        best_ae, best_sv = kept_epoch(hist_ae), kept_epoch(hist_sv)
        info = {
            "epochs_pretrain": int(len(hist_ae)), "best_epoch_pretrain": best_ae + 1,
            "val_loss_pretrain": float(hist_ae[best_ae, 1]) if len(hist_ae) else None,
            "epochs_svdd": int(len(hist_sv)), "best_epoch_svdd": best_sv + 1,
            "val_loss": float(hist_sv[best_sv, 1]) if len(hist_sv) else None,
            "val_contrast": float(hist_sv[best_sv, 2]) if len(hist_sv) and hist_sv.shape[1] > 2 else None,
            "epochs": int(len(hist_ae) + len(hist_sv)),
            "centre_eps_coords": n_small,
        }
        return {"layers": _fold_encoder(net), "center": c.detach().numpy().astype(np.float64),
                "history": {"pretrain": hist_ae, "svdd": hist_sv}, "info": info}

    def _train_phase(self, phase, net, params, loss_fn, Xt, Xv, rng, progress, criterion=None, *,
                     patience: int, lr: float, batch_size: int) -> np.ndarray:
        """One phase: shuffled mini-batches of ``batch_size`` rows, the learning rate annealed from ``lr``, a
        one-pass validation loss per epoch, early stopping after ``patience`` epochs without a better value.

        Early stopping and the kept weights follow the validation loss, or ``criterion(val_loss)`` where
        given (evaluated in evaluation mode without gradients, lower is better); the history then has a
        third column with it."""
        import torch

        p = self.params
        max_epochs = int(p["max_epochs"])
        opt = AdamW(params, float(p["weight_decay"]))
        n = Xt.shape[0]
        best, best_state, wait = math.inf, None, 0
        hist = []
        for epoch in range(max_epochs):
            net.train()
            perm = torch.from_numpy(rng.permutation(n))
            rate = cosine_lr(epoch, max_epochs, lr, float(p["lr_min"]))
            total, rows = train_epoch(loss_fn, opt, Xt, perm, batch_size, rate)
            net.eval()
            with torch.no_grad():
                val = float(loss_fn(Xv))
                watched = val if criterion is None else float(criterion(val))
            train = float(total) / max(1, rows)
            hist.append((train, val) if criterion is None else (train, val, watched))
            if not math.isfinite(val):
                raise DetectorError(f"{self.kind}: {phase} diverged (validation loss {val}) at epoch {epoch + 1}")
            if watched < best:
                best, wait = watched, 0
                best_state = copy.deepcopy(net.state_dict())
            else:
                wait += 1
            if progress is not None:
                progress(phase, epoch + 1, max_epochs, train, val)
            if wait >= patience:
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        return np.asarray(hist, dtype=np.float64).reshape(-1, 2 if criterion is None else 3)

    @property
    def layers_(self) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """The first member's folded encoder layers ``(W, b)`` (the single model's)."""
        return self.members_[0][0]

    @property
    def center_(self) -> np.ndarray:
        """The first member's hypersphere centre (the single model's)."""
        return self.members_[0][1]

    def _name_latent(self) -> None:
        """Figures of an ensemble show its first member's latent: say so."""
        n = len(self.members_)
        self.latent_name = type(self).latent_name + (f" (member 1 of {n})" if n > 1 else "")

    # -- scoring (numpy only) ---------------------------------------------------------------

    def _latent(self, Z: np.ndarray, member: int = 0) -> np.ndarray:
        """The latent of ``member`` (the first one's for reports and figures)."""
        layers = self.members_[member][0]
        x = np.asarray(Z, dtype=np.float32)
        alpha = np.float32(self.params["elu_alpha"])
        last = len(layers) - 1
        for i, (W, b) in enumerate(layers):
            x = x @ W.T
            if b is not None:
                x = x + b
            if i < last:
                x = _elu(x, alpha)
        return x

    def _distance(self, Z: np.ndarray, member: int) -> np.ndarray:
        z = self._latent(Z, member).astype(np.float64)
        return ((z - self.members_[member][1]) ** 2).sum(axis=1)

    def _score(self, Z: np.ndarray) -> np.ndarray:
        if len(self.members_) == 1:
            return self._distance(Z, 0)
        return np.mean([self._distance(Z, i) / s for i, s in enumerate(self.member_scales_)], axis=0)

    # -- state ------------------------------------------------------------------------------

    def _tensors(self) -> dict[str, np.ndarray]:
        t: dict[str, np.ndarray] = {}
        for m, (layers, center) in enumerate(self.members_):
            pre = "" if m == 0 else f"m{m}."  # member 1 keeps the single model's names
            t[pre + "center"] = center
            for i, (W, b) in enumerate(layers):
                t[f"{pre}enc.{i}.weight"] = W
                if b is not None:
                    t[f"{pre}enc.{i}.bias"] = b
        if len(self.members_) > 1:
            t["member_scales"] = self.member_scales_
        for phase, h in getattr(self, "history_", {}).items():
            t[f"history.{phase}"] = h
        return t

    def _meta(self) -> dict[str, Any]:
        return {"n_layers": len(self.layers_), "residual": self.residual, "members": len(self.members_)}

    def _restore(self, tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        n_layers = int(meta["n_layers"])
        n_members = int(meta.get("members", 1))
        if not 1 <= n_members <= MAX_MEMBERS:
            raise ValueError(f"{n_members} ensemble members")
        self.members_ = []
        for m in range(n_members):
            pre = "" if m == 0 else f"m{m}."
            layers = []
            width = self.dim
            for i in range(n_layers):
                W = np.asarray(tensors[f"{pre}enc.{i}.weight"], dtype=np.float32)
                b = tensors.get(f"{pre}enc.{i}.bias")
                if W.ndim != 2 or W.shape[1] != width:
                    raise ValueError(f"encoder layer {pre}{i} has shape {W.shape}, expected (*, {width})")
                width = W.shape[0]
                if b is not None:
                    b = np.asarray(b, dtype=np.float32)
                    if b.shape != (width,):
                        raise ValueError(f"encoder layer {pre}{i} bias has shape {b.shape}")
                layers.append((W, b))
            center = np.asarray(tensors[pre + "center"], dtype=np.float64)
            if center.shape != (width,):
                raise ValueError(f"centre {pre}center has shape {center.shape}, expected ({width},)")
            self.members_.append((layers, center))
        self._name_latent()
        self.member_scales_ = np.ones(1)
        if n_members > 1:
            self.member_scales_ = np.asarray(tensors["member_scales"], dtype=np.float64)
            if self.member_scales_.shape != (n_members,) or not (self.member_scales_ > 0).all():
                raise ValueError(f"member_scales has shape {self.member_scales_.shape} or a non-positive entry")
        self.history_ = {k[len("history."):]: np.asarray(v) for k, v in tensors.items() if k.startswith("history.")}


class DeepSVDDAE(DeepSVDD):
    """Deep SVDD pre-trained as a plain autoencoder."""

    kind = "ae"
    residual = False


class DeepSVDDAEwRES(DeepSVDD):
    """Deep SVDD pre-trained as an autoencoder with U-Net-style residual links."""

    kind = "aewres"
    residual = True


def _tagged(progress: ProgressFn | None, tag: str) -> ProgressFn | None:
    """``progress`` with ``tag`` appended to each phase name (unchanged when the tag is empty)."""
    if progress is None or not tag:
        return progress
    return lambda phase, *rest: progress(phase + tag, *rest)


def _adamw(params, lr: float, weight_decay: float):
    import torch

    try:  # the fused CPU kernel (torch >= 2.4) is several times faster for many small tensors
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, foreach=True)


def _fold_encoder(net) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """The encoder in evaluation mode as (W, b) pairs with batch normalisation folded in (float32)."""
    from torch import nn

    layers: list[tuple[np.ndarray, np.ndarray | None]] = []
    for module in net.enc:
        if isinstance(module, nn.Linear):
            layers.append((module.weight.detach().double().numpy().astype(np.float32), None))
            continue
        lin, bn = module[0], module[1]
        W = lin.weight.detach().double().numpy()
        g = bn.weight.detach().double().numpy() if bn.affine else np.ones(bn.num_features)
        beta = bn.bias.detach().double().numpy() if bn.affine else np.zeros(bn.num_features)
        mu = bn.running_mean.detach().double().numpy()
        var = bn.running_var.detach().double().numpy()
        k = g / np.sqrt(var + bn.eps)
        layers.append(((W * k[:, None]).astype(np.float32), (beta - k * mu).astype(np.float32)))
    return layers
