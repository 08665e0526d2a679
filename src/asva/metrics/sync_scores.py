"""RelSync and AlignSync, exactly as the ASVA evaluation computes them (FACTS §13).

RelSync (per clip) = exp(s_gen) / (exp(s_gen) + exp(s_gt)) = σ(s_gen − s_gt), where s is the sync
classifier's score of (clip audio, clip video) and gt the reference clip the generated one
replaces. A video scored against itself gives 0.5.

AlignSync (per clip) = RelSync · AlignProb, AlignProb = mean over frames f = 2…F of
σ(ia_gen(f) − ia_gt(1)), ia = ImageBind image–audio cosine; ia_gt(1) is the reference clip's first
frame with the reference audio. A static copy of the reference scores exactly 0.5 · 0.5.

Reported as percentages (raw: RelSync 50 and AlignSync 25 for the reference itself) and rescaled
to 0–100 (RelSync ×2, AlignSync ×4), as the papers' tables do.
"""

from __future__ import annotations

import torch

from asva.metrics.errors import MetricInputError

RELSYNC_RESCALE = 2.0
ALIGNSYNC_RESCALE = 4.0


def _check_pair(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    if a.shape != b.shape:
        raise MetricInputError(f"{what}: generated and reference shapes differ, {tuple(a.shape)} vs "
                               f"{tuple(b.shape)}")
    if a.numel() == 0:
        raise MetricInputError(f"{what}: no clips")
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        raise MetricInputError(f"{what}: scores contain NaN or infinity")


def relsync(gen_scores: torch.Tensor, ref_scores: torch.Tensor) -> torch.Tensor:
    """Per-clip RelSync (N,) in (0, 1) from classifier scores of generated and reference clips (N,)."""
    _check_pair(gen_scores, ref_scores, "RelSync")
    # softmax over the pair [s_gt, s_gen], taking the generated entry
    return torch.sigmoid(gen_scores.double() - ref_scores.double())


def align_prob(gen_frame_ia: torch.Tensor, ref_first_ia: torch.Tensor) -> torch.Tensor:
    """Per-clip AlignProb (N,): mean over generated frames 2…F (N, F−1) of σ(ia_gen(f) − ia_gt(1)) (N,)."""
    if gen_frame_ia.ndim != 2 or ref_first_ia.shape != gen_frame_ia.shape[:1]:
        raise MetricInputError(f"AlignProb: expected (N, F-1) and (N,), got {tuple(gen_frame_ia.shape)} and "
                               f"{tuple(ref_first_ia.shape)}")
    _check_pair(gen_frame_ia[:, 0], ref_first_ia, "AlignProb")
    return torch.sigmoid(gen_frame_ia.double() - ref_first_ia.double()[:, None]).mean(dim=1)


def alignsync(relsync_per_clip: torch.Tensor, align_prob_per_clip: torch.Tensor) -> torch.Tensor:
    """Per-clip AlignSync (N,) = RelSync · AlignProb."""
    _check_pair(relsync_per_clip, align_prob_per_clip, "AlignSync")
    return relsync_per_clip * align_prob_per_clip


def summarize(per_clip: torch.Tensor, rescale: float) -> dict[str, float]:
    """Mean and std as percentages, raw and rescaled to 0–100."""
    x = per_clip.double() * 100
    std = float(x.std()) if x.numel() > 1 else 0.0
    return {"mean": float(x.mean()), "std": std, "rescaled_mean": float(x.mean()) * rescale,
            "rescaled_std": std * rescale}
