"""Multi-condition classifier-free guidance in one batched network call per step.

Classifier-free guidance (Ho & Salimans 2022) extended to a chain of conditions, as in
DynamiCrafter's multi-condition sampler and KeyVID's 4-pass sampler (FACTS §5). The branches
e_0 … e_K add one condition at a time (e.g. none → +image → +text → +audio) and combine as

    out = e_0 + Σ_k s_k·(e_k − e_{k−1})  =  Σ_k w_k·e_k,
    w_0 = 1 − s_1,  w_k = s_k − s_{k+1},  w_K = s_K,

optionally followed by CFG rescale (Lin et al. 2024, "Common Diffusion Noise Schedules and
Sample Steps are Flawed", §3.4) towards the fully conditioned e_K. Branches whose weight w_k is
zero (e.g. s_txt = s_aud in KeyVID) are not computed at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from asva.log import get_logger

log = get_logger(__name__)

Cond = Mapping[str, Any]
# net(x (N, ...), t (N,) long, cond) -> prediction (N, ...); every tensor in cond is batched on dim 0
Net = Callable[[Tensor, Tensor, Cond], Tensor]


def guidance_weights(scales: Sequence[float]) -> list[float]:
    """Weights w_0 … w_K such that Σ w_k·e_k = e_0 + Σ_k s_k·(e_k − e_{k−1}); they sum to 1."""
    s = [float(v) for v in scales]
    if not s:
        return [1.0]
    return [1.0 - s[0]] + [s[k] - s[k + 1] for k in range(len(s) - 1)] + [s[-1]]


def rescale_cfg(guided: Tensor, reference: Tensor, phi: float) -> Tensor:
    """CFG rescale: φ·guided·std(ref)/std(guided) + (1−φ)·guided, std over all non-batch dims.

    Matches the guided output's per-sample spread to the conditional prediction's, which
    counters the over-exposure strong guidance causes with zero-SNR schedules (Lin et al. 2024).
    """
    dims = list(range(1, guided.ndim))
    std_ref = reference.std(dim=dims, keepdim=True)  # (B, 1, ...)
    std_guided = guided.std(dim=dims, keepdim=True)  # (B, 1, ...)
    return phi * guided * (std_ref / std_guided) + (1.0 - phi) * guided


def _merge(values: Sequence[Any], where: str) -> Any:
    """Concatenate one condition entry across branches: tensors on dim 0, lists/tuples per item."""
    first = values[0]
    if isinstance(first, Tensor):
        for k, v in enumerate(values):
            if not isinstance(v, Tensor):
                raise ValueError(
                    f"condition {where}: branch 0 holds a tensor, branch {k} holds {type(v).__name__}"
                )
            if v.shape != first.shape or v.dtype != first.dtype:
                raise ValueError(
                    f"condition {where}: branch {k} has shape {tuple(v.shape)} {v.dtype}, "
                    f"branch 0 has {tuple(first.shape)} {first.dtype}; all branches must match"
                )
        if first.ndim == 0:
            raise ValueError(f"condition {where}: tensors must be batched along dim 0, got a 0-d tensor")
        return torch.cat(list(values), dim=0)
    if isinstance(first, (list, tuple)):
        for k, v in enumerate(values):
            if type(v) is not type(first) or len(v) != len(first):
                raise ValueError(
                    f"condition {where}: branch {k} holds {type(v).__name__} of length "
                    f"{len(v) if isinstance(v, (list, tuple)) else '-'}, branch 0 holds "
                    f"{type(first).__name__} of length {len(first)}"
                )
        merged = [_merge([v[i] for v in values], f"{where}[{i}]") for i in range(len(first))]
        return type(first)(merged)
    for k, v in enumerate(values):
        if isinstance(v, Tensor) or not (v is first or v == first):
            raise ValueError(
                f"condition {where}: non-tensor entries must be equal across branches, "
                f"branch 0 has {first!r}, branch {k} has {v!r}"
            )
    return first


def _batch_sizes(value: Any) -> set[int]:
    """Leading sizes of every tensor inside a (possibly nested) condition entry."""
    if isinstance(value, Tensor):
        return {value.shape[0]}
    if isinstance(value, (list, tuple)):
        return set().union(*(_batch_sizes(v) for v in value)) if value else set()
    return set()


class GuidedDenoiser:
    """A `Denoiser` (x, t) -> prediction that applies chained classifier-free guidance.

    `branches` are K+1 condition dicts ordered from fully unconditional (e_0) to fully
    conditional (e_K); `scales` are the K guidance scales s_1 … s_K. With K = 0 this is a plain
    call of `net` with the one condition. Conditions are validated and concatenated once, here.
    """

    def __init__(
        self,
        net: Net,
        branches: Sequence[Cond],
        scales: Sequence[float],
        guidance_rescale: float = 0.0,
    ) -> None:
        if len(branches) == 0:
            raise ValueError("GuidedDenoiser needs at least one condition branch")
        if len(branches) != len(scales) + 1:
            raise ValueError(
                f"GuidedDenoiser needs len(branches) == len(scales) + 1, got {len(branches)} branches "
                f"and {len(scales)} scales"
            )
        if not 0.0 <= guidance_rescale <= 1.0:
            raise ValueError(f"guidance_rescale must be in [0, 1], got {guidance_rescale!r}")
        keys = list(branches[0].keys())
        for k, branch in enumerate(branches):
            if set(branch.keys()) != set(keys):
                raise ValueError(
                    f"condition branch {k} has keys {sorted(branch.keys())}, branch 0 has {sorted(keys)}"
                )

        self.net = net
        self.scales = [float(s) for s in scales]
        self.guidance_rescale = float(guidance_rescale)
        last = len(self.scales)  # index K of the fully conditional branch
        weights = guidance_weights(self.scales)

        # 1. keep only branches that contribute, plus e_K when it is the rescale reference
        use_rescale = self.guidance_rescale > 0.0 and last > 0
        self.active = [k for k, w in enumerate(weights) if w != 0.0 or (use_rescale and k == last)]
        self.weights = [weights[k] for k in self.active]
        # rescaling e_K against itself is the identity, so skip it when e_K is all there is
        self._rescale = use_rescale and self.active != [last]
        if len(self.active) < len(branches):
            log.debug(
                "guidance: scales %s make branches %s redundant; computing %s",
                self.scales,
                sorted(set(range(last + 1)) - set(self.active)),
                self.active,
            )

        # 2. validate and concatenate every entry across the active branches, once
        used = [branches[k] for k in self.active]
        self.cond = {key: _merge([b[key] for b in used], repr(key)) for key in keys}
        sizes = set().union(*(_batch_sizes(b[key]) for key in keys for b in used)) if keys else set()
        if len(sizes) > 1:
            raise ValueError(
                f"condition tensors must share one batch size (dim 0), got sizes {sorted(sizes)}"
            )
        self.cond_batch = sizes.pop() if sizes else None

    def __call__(self, x: Tensor, t: Tensor) -> Tensor:
        """Guided prediction for x (B, ...) at timesteps t (B,): one call of `net` on n·B samples."""
        batch = x.shape[0]
        if self.cond_batch is not None and self.cond_batch != batch:
            raise ValueError(f"condition batch size {self.cond_batch} does not match x batch size {batch}")
        n = len(self.active)
        x_in = torch.cat([x] * n, dim=0)  # (n·B, ...), branch-major like the conditions
        t_in = torch.cat([t] * n, dim=0)  # (n·B,)
        out = self.net(x_in, t_in, self.cond)  # (n·B, ...)
        if out.shape[0] != n * batch:
            raise ValueError(f"net returned batch {out.shape[0]}, expected {n}·{batch} = {n * batch}")
        e = out.reshape(n, batch, *out.shape[1:])  # (n, B, ...)

        guided = self.weights[0] * e[0]
        for w, e_k in zip(self.weights[1:], e[1:], strict=True):
            guided = guided + w * e_k  # (B, ...)
        if self._rescale:
            guided = rescale_cfg(guided, e[-1], self.guidance_rescale)  # e[-1] is e_K
        return guided
