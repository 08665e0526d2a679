"""Scoring a folder of generated clips against a dataset's test split (the papers' table row).

1. List the reference clips (3 per test video) and pair every generated file with one (protocol.py).
2. Extract features clip by clip, each family cached per file (feature_cache.py): I3D (FVD),
   Inception pool3 of frames 2…F (FID), ImageBind frame/audio embeddings (IA, IT, AlignSync),
   sync-classifier scores and time-pooled video embeddings (RelSync, AlignSync, SFD), the oracle
   sync error.
3. Reduce: Fréchet distances over all clips / frames (FVD, FID, and SFD: FVD's formula on the
   sync classifier's video features, a quality metric that needs no I3D weights); per-clip IA, IT,
   RelSync, AlignSync averaged;
   RelSync and AlignSync also rescaled to 0–100 (×2, ×4).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from asva.audio.fbank import imagebind_mel
from asva.log import get_logger
from asva.metrics.errors import MetricInputError
from asva.metrics.feature_cache import FeatureCache, file_identity
from asva.metrics.frechet import frechet_distance
from asva.metrics.imagebind_score import frame_similarity
from asva.metrics.protocol import (
    Clip,
    ClipRef,
    EvalProtocol,
    generated_clips,
    read_clip,
    reference_clips,
)
from asva.metrics.sync_scores import (
    ALIGNSYNC_RESCALE,
    RELSYNC_RESCALE,
    align_prob,
    alignsync,
    relsync,
    summarize,
)

log = get_logger(__name__)

METRICS: tuple[str, ...] = ("fvd", "fid", "ia", "it", "relsync", "alignsync", "oracle", "sfd")
# Which feature families a metric needs, on the generated side and on the reference side.
_GEN_FAMILIES = {"fvd": {"fvd"}, "fid": {"fid"}, "ia": {"imagebind"}, "it": {"imagebind"},
                 "relsync": {"sync"}, "alignsync": {"sync", "imagebind"}, "oracle": {"oracle"},
                 "sfd": {"sync"}}
_REF_FAMILIES = {"fvd": {"fvd"}, "fid": {"fid"}, "ia": set(), "it": set(), "relsync": {"sync"},
                 "alignsync": {"sync", "imagebind"}, "oracle": set(), "sfd": {"sync"}}
ORACLE_MAX_FPS = 24.0  # the oracle reads frames at the file's own rate, up to this


@dataclass(frozen=True)
class EvalConfig:
    """Which metrics, from which weight files, under which protocol."""

    metrics: tuple[str, ...] = ("relsync", "oracle")
    i3d: Path | None = None  # StyleGAN-V i3d_torchscript.pt
    inception: Path | None = None  # pt_inception-2015-12-05-6726825d.pth
    imagebind: Path | None = None  # imagebind_huge.pth
    bpe_vocab: Path | None = None  # bpe_simple_vocab_16e6.txt.gz (IT)
    sync_classifier: Path | None = None  # None: the shipped SynthAV classifier
    protocol: EvalProtocol = field(default_factory=EvalProtocol)
    cache_dir: Path | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown or not self.metrics:
            raise MetricInputError(f"unknown metric(s) {unknown}; choose from {', '.join(METRICS)}")
        needs = {"fvd": ("i3d", "--i3d"), "fid": ("inception", "--inception"),
                 "ia": ("imagebind", "--imagebind"), "it": ("imagebind", "--imagebind"),
                 "alignsync": ("imagebind", "--imagebind")}
        for m in self.metrics:
            if m in needs and getattr(self, needs[m][0]) is None:
                raise MetricInputError(f"metric {m!r} needs weights: pass {needs[m][1]} FILE")
        if "it" in self.metrics and self.bpe_vocab is None:
            raise MetricInputError("metric 'it' needs the CLIP BPE vocabulary: pass --bpe-vocab "
                                   "bpe_simple_vocab_16e6.txt.gz (it ships with open_clip and ImageBind)")


@dataclass
class EvalResult:
    """Scores (`metrics`), per-clip values, and what produced them."""

    metrics: dict[str, Any]
    per_clip: dict[str, dict[str, float | None]]
    num_clips: int
    generated: str
    dataset: str
    config: dict[str, Any]

    def to_json(self) -> str:
        """Everything, as indented JSON."""
        return json.dumps(dataclasses.asdict(self), indent=2, default=str) + "\n"

    def table(self) -> tuple[list[str], list[str]]:
        """(header, row) of the papers' table: FVD, FID, IA, IT, RelSync, AlignSync (0–100), oracle."""
        cols = [("fvd", "FVD ↓", lambda v: f"{v:.1f}"), ("fid", "FID ↓", lambda v: f"{v:.2f}"),
                ("sfd", "SFD ↓", lambda v: f"{v:.2f}"),
                ("ia", "IA ↑", lambda v: f"{v['mean']:.2f}"), ("it", "IT ↑", lambda v: f"{v['mean']:.2f}"),
                ("relsync", "RelSync ↑", lambda v: f"{v['rescaled_mean']:.2f}"),
                ("alignsync", "AlignSync ↑", lambda v: f"{v['rescaled_mean']:.2f}"),
                ("oracle", "Oracle err (ms) ↓", lambda v: "n/a" if v["mean_offset_ms"] is None
                 else f"{v['mean_offset_ms']:.1f}")]
        shown = [(title, fmt(self.metrics[k])) for k, title, fmt in cols if k in self.metrics]
        return [t for t, _ in shown], [v for _, v in shown]

    def markdown(self) -> str:
        """The table row as Markdown, with raw RelSync/AlignSync percentages underneath."""
        header, row = self.table()
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                 "| " + " | ".join(row) + " |", ""]
        for k in ("relsync", "alignsync"):
            if k in self.metrics:
                m = self.metrics[k]
                lines.append(f"- {k}: raw {m['mean']:.2f} ± {m['std']:.2f} %, "
                             f"rescaled {m['rescaled_mean']:.2f}")
        lines.append(f"- {self.num_clips} clips; generated `{self.generated}`; dataset `{self.dataset}`")
        return "\n".join(lines) + "\n"


class _Extractors:
    """Models loaded on first use, and one extraction function per feature family."""

    def __init__(self, config: EvalConfig) -> None:
        self.config = config
        self.device = torch.device(config.device)
        self._models: dict[str, Any] = {}

    def family_config(self, family: str) -> dict[str, Any]:
        """What the family's features depend on (cache key): weight files and the protocol."""
        c = self.config
        weights = {"fvd": c.i3d, "fid": c.inception, "imagebind": c.imagebind, "oracle": None,
                   "sync": c.sync_classifier}[family]
        ident: Any = None
        if family == "sync":
            from asva.metrics.sync_checkpoint import shipped_sync_classifier_dir

            folder = Path(weights) if weights is not None else shipped_sync_classifier_dir()
            ident = [file_identity(p) for p in sorted(folder.rglob("*")) if p.is_file()]
        elif weights is not None:
            ident = file_identity(weights)
        version = 2 if family == "sync" else 1  # sync 2: + the video embedding (SFD)
        return {"family": family, "weights": ident, "protocol": dataclasses.asdict(c.protocol),
                "version": version}

    def model(self, family: str) -> Any:
        """The family's model, loaded once."""
        if family not in self._models:
            c, dev = self.config, self.device
            if family == "fvd":
                from asva.metrics.i3d import load_i3d

                self._models[family] = load_i3d(c.i3d, device=dev)
            elif family == "fid":
                from asva.metrics.inception import load_fid_inception

                self._models[family] = load_fid_inception(c.inception, device=dev)
            elif family == "imagebind":
                from asva.metrics.imagebind_load import load_imagebind

                mods = ("vision", "audio", "text") if "it" in c.metrics else ("vision", "audio")
                self._models[family] = load_imagebind(c.imagebind, mods, device=dev)
            elif family == "sync":
                from asva.metrics.sync_checkpoint import load_sync_classifier

                if c.sync_classifier is None:
                    log.info("RelSync with the shipped SynthAV classifier (meaningful on SynthAV only; "
                             "pass --sync-classifier DIR for the released ASVA weights)")
                self._models[family] = load_sync_classifier(c.sync_classifier, device=dev)
        return self._models[family]

    @torch.no_grad()
    def extract(self, family: str, clip: Clip | None, ref: ClipRef, audio_from: ClipRef | None
                ) -> dict[str, torch.Tensor]:
        """Features of one clip for one family."""
        if family == "oracle":
            return self._oracle(ref, audio_from)
        assert clip is not None
        video = clip.video()[None].to(self.device)  # (1, 3, F, S, S) in [-1, 1]
        if family == "fvd":
            from asva.metrics.i3d import i3d_features

            return {"features": i3d_features(self.model(family), video)[0]}  # (D,)
        if family == "fid":
            from asva.metrics.inception import fid_features

            frames = video[0, :, 1:].transpose(0, 1)  # frames 2…F: (F−1, 3, S, S)
            return {"features": fid_features(self.model(family), frames)}  # (F−1, 2048)
        mel = imagebind_mel(torch.from_numpy(clip.audio)[None]).to(self.device)  # (1, 1, 128, 204)
        if family == "imagebind":
            from asva.metrics.imagebind_score import audio_embeddings, frame_embeddings

            towers = self.model(family)
            return {"frames": frame_embeddings(towers.vision, video)[0],  # (F, E)
                    "audio": audio_embeddings(towers.audio, mel)[0]}  # (E,)
        if family == "sync":
            classifier = self.model(family)
            audio, vid = classifier.embed(mel, video)  # (1, Ca·bins), (1, Cv·bins)
            bins = classifier.config.time_bins
            return {"score": classifier.head(audio, vid)[0, 0].float(),  # ()
                    "video": vid.view(1, -1, bins).mean(dim=2)[0].float()}  # (Cv,) pooled over time
        raise ValueError(f"unknown feature family {family!r}")

    def _oracle(self, ref: ClipRef, audio_from: ClipRef | None) -> dict[str, torch.Tensor]:
        from asva.media import probe_video, read_audio, read_video_frames
        from asva.metrics.oracle_sync import oracle_sync

        p = self.config.protocol
        info = probe_video(ref.path)
        fps = min(info.fps, ORACLE_MAX_FPS) if info.fps > 0 else p.fps
        n = max(3, round(p.clip_seconds * fps))
        frames = read_video_frames(ref.path, fps=fps, start_s=ref.start_s, num_frames=n)  # (n, H, W, 3)
        src = ref if info.has_audio or audio_from is None else audio_from
        audio = read_audio(src.path, p.sample_rate, src.start_s, n / fps)  # (S,)
        r = oracle_sync(frames, fps, audio, p.sample_rate).result
        nan = float("nan")  # stored only; the reduction skips clips without audio events
        return {"mean_offset_ms": torch.tensor(nan if r.mean_offset_ms is None else r.mean_offset_ms),
                "matched_fraction": torch.tensor(nan if r.matched_fraction is None else r.matched_fraction)}


def _extract_side(ex: _Extractors, cache: FeatureCache, clips: list[ClipRef], families: set[str],
                  audio_refs: list[ClipRef] | None, tick: Callable[[], None]) -> list[dict[str, dict]]:
    """Features of every clip of one side: [{family: {name: tensor}}]."""
    configs = {f: ex.family_config(f) for f in families}
    out = []
    for i, ref in enumerate(clips):
        audio_from = audio_refs[i] if audio_refs is not None else None
        feats: dict[str, dict] = {}
        clip: Clip | None = None
        for fam in sorted(families):
            key = cache.key(ref.path, ref.start_s, configs[fam])
            value = cache.get(key)
            if value is None:
                if clip is None and fam != "oracle":
                    clip = read_clip(ref, ex.config.protocol, audio_from)
                value = ex.extract(fam, clip, ref, audio_from)
                cache.put(key, value)
            feats[fam] = value
        out.append(feats)
        tick()
    return out


def _similarity(feats: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """Cosine (F,) of each frame embedding of a clip with one target embedding (E,)."""
    return frame_similarity(feats["frames"][None], target[None])[0]


def _mean_finite(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def evaluate(generated: str | Path, dataset: str | Path, config: EvalConfig | None = None,
             progress: Callable[[int, int], None] | None = None) -> EvalResult:
    """Score the generated clips in `generated` against the test split of `dataset`."""
    config = config or EvalConfig()
    p = config.protocol
    # 1. Pair clips (errors for missing, extra or too-short files come here, before any model loads).
    refs = reference_clips(dataset, p)
    gens = generated_clips(generated, refs, p)
    if any(m in config.metrics for m in ("fvd", "fid", "sfd")) and len(refs) < 2:
        raise MetricInputError(f"FVD/FID/SFD need at least 2 clips per set (covariance); {len(refs)} here")
    gen_fams = set().union(*(_GEN_FAMILIES[m] for m in config.metrics))
    ref_fams = set().union(*(_REF_FAMILIES[m] for m in config.metrics))

    # 2. Features, cached per file.
    ex = _Extractors(config)
    cache = FeatureCache(config.cache_dir)
    total = len(refs) * (bool(ref_fams) + 1)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    ref_feats = _extract_side(ex, cache, refs, ref_fams, None, tick) if ref_fams else [{} for _ in refs]
    gen_feats = _extract_side(ex, cache, gens, gen_fams, refs, tick)
    if config.cache_dir is not None:
        log.info("feature cache %s: %d hits, %d misses", config.cache_dir, cache.hits, cache.misses)

    # 3. Reduce.
    metrics: dict[str, Any] = {}
    per_clip: dict[str, dict[str, float | None]] = {g.key: {} for g in gens}
    if "fvd" in config.metrics:
        metrics["fvd"] = frechet_distance(torch.stack([f["fvd"]["features"] for f in ref_feats]),
                                          torch.stack([f["fvd"]["features"] for f in gen_feats]))
    if "fid" in config.metrics:
        metrics["fid"] = frechet_distance(torch.cat([f["fid"]["features"] for f in ref_feats]),
                                          torch.cat([f["fid"]["features"] for f in gen_feats]))
    if "sfd" in config.metrics:
        metrics["sfd"] = frechet_distance(torch.stack([f["sync"]["video"] for f in ref_feats]),
                                          torch.stack([f["sync"]["video"] for f in gen_feats]))
    if {"ia", "alignsync"} & set(config.metrics):
        # generated frames against the generated clip's own audio: (N, F)
        gen_ia = torch.stack([_similarity(f["imagebind"], f["imagebind"]["audio"]) for f in gen_feats])
        if "ia" in config.metrics:
            ia = gen_ia[:, 1:].mean(dim=1)  # frames 2…F, (N,)
            metrics["ia"] = summarize(ia, 1.0) | {"rescaled_mean": None, "rescaled_std": None}
            for g, v in zip(gens, ia.tolist(), strict=True):
                per_clip[g.key]["ia"] = 100 * v
    if "it" in config.metrics:
        from asva.backbone.tokenizer import BPETokenizer
        from asva.metrics.imagebind_score import text_embeddings

        classes = sorted({g.class_name for g in gens})
        text = text_embeddings(ex.model("imagebind").text, BPETokenizer(config.bpe_vocab), classes).cpu()
        by_class = dict(zip(classes, text, strict=True))
        it = torch.stack([_similarity(f["imagebind"], by_class[g.class_name])[1:].mean()
                          for f, g in zip(gen_feats, gens, strict=True)])  # frames 2…F, (N,)
        metrics["it"] = summarize(it, 1.0) | {"rescaled_mean": None, "rescaled_std": None}
        for g, v in zip(gens, it.tolist(), strict=True):
            per_clip[g.key]["it"] = 100 * v
    if {"relsync", "alignsync"} & set(config.metrics):
        rel = relsync(torch.stack([f["sync"]["score"] for f in gen_feats]),
                      torch.stack([f["sync"]["score"] for f in ref_feats]))
        if "relsync" in config.metrics:
            metrics["relsync"] = summarize(rel, RELSYNC_RESCALE)
        for g, v in zip(gens, rel.tolist(), strict=True):
            per_clip[g.key]["relsync"] = 100 * v
        if "alignsync" in config.metrics:
            ref_first = torch.stack([_similarity(f["imagebind"], f["imagebind"]["audio"])[0]
                                     for f in ref_feats])  # first frame with the reference audio, (N,)
            align = alignsync(rel, align_prob(gen_ia[:, 1:], ref_first))
            metrics["alignsync"] = summarize(align, ALIGNSYNC_RESCALE)
            for g, v in zip(gens, align.tolist(), strict=True):
                per_clip[g.key]["alignsync"] = 100 * v
    if "oracle" in config.metrics:
        offsets = [float(f["oracle"]["mean_offset_ms"]) for f in gen_feats]
        matched = [float(f["oracle"]["matched_fraction"]) for f in gen_feats]
        metrics["oracle"] = {"mean_offset_ms": _mean_finite(offsets),
                             "matched_fraction": _mean_finite(matched),
                             "clips_with_audio_events": sum(math.isfinite(v) for v in offsets)}
        for g, o, m in zip(gens, offsets, matched, strict=True):
            per_clip[g.key]["oracle_offset_ms"] = o if math.isfinite(o) else None
            per_clip[g.key]["oracle_matched"] = m if math.isfinite(m) else None
    cfg = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(config).items()}
    return EvalResult(metrics, per_clip, len(gens), str(generated), str(dataset), cfg)
