"""Training the sync classifier on SynthAV: a recipe read top to bottom (setup, two stages, test).

What the classifier is for: RelSync (FACTS §13) is the two-way softmax of the scores of one clip's
frames with two audio tracks, the generated one and the reference, so the classifier must rank a
video's own audio above the same sound at other times. Every step therefore takes, per training
video, one 2-s clip of frames and K audio windows of the same track: the synchronised one and K − 1
starting elsewhere in the track, at least `min_offset_s` away (earlier or later), and applies
cross-entropy over the K candidates with the synchronised one as the target: the video→audio term
of ASVA's contrastive training (FACTS §13: 21 clips 0.2 s apart, τ 0.1) with random offsets. The
audio encoder costs a fifth of the video encoder per clip, so candidates are audio.

1. Encoders (`pretrain_steps`): scores are cosine similarities of the time-binned audio and video
   embeddings / `pretrain_tau`. ASVA starts from AVID-CMA encoders, pretrained contrastively the
   same way; from scratch, the concatenating MLP head never finds the timing (the loss stays at
   ln K), while a dot product of per-time-span features learns it within a few hundred steps.
2. Classifier (`steps`): scores are the classifier's own (head included) / τ, τ = 1 because
   RelSync reads raw scores. A ranking term asks the clip's first frame held for 2 s (the
   evaluation's `static` row) with the synchronised audio to score below every offset audio with
   the moving clip (a shifted video still moves, a frozen one does not), weighted by `rank_weight`.

Also: half of each stem's filters start as temporal differences (frame to frame for the video, mel
frame to mel frame for the audio), so the encoders see motion and onsets from the first step; and
the network keeps time (`SyncClassifierConfig.time_bins`): encoders that average over the whole clip,
as ASVA's do, cannot tell a shifted track at this size and budget (docs/evaluation.md).

Held-out numbers (test split, the evaluation's 3 reference clips per video): RelSync (raw %) of the
audio delayed by 0.5 s and of the static clip against the synchronised clip, and the pairwise
accuracies sync > shifted and shifted > static.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from asva.audio.fbank import imagebind_mel
from asva.data.clips import eval_clip_starts
from asva.log import get_logger
from asva.media import probe_video, read_audio, read_video_frames
from asva.metrics.protocol import EvalProtocol, to_protocol_frames
from asva.metrics.sync_checkpoint import save_sync_classifier
from asva.metrics.sync_classifier import SYNC_PRESETS, SyncClassifier, preprocess_video

log = get_logger(__name__)


@dataclass(frozen=True)
class SyncTrainConfig:
    """Hyper-parameters of `train_sync_classifier`."""

    preset: str = "synthav-small"
    pretrain_steps: int = 400  # stage 1: encoders, cosine scores
    steps: int = 400  # stage 2: the whole classifier, head scores
    batch_videos: int = 8
    num_candidates: int = 8  # K audio windows per video: the synchronised one and K − 1 elsewhere
    min_offset_s: float = 0.3  # how far the other windows start from the synchronised one, at least
    pretrain_tau: float = 0.1  # ASVA's temperature, on cosines
    tau: float = 1.0  # on the classifier's scores, which RelSync reads raw
    rank_weight: float = 0.5
    pretrain_lr: float = 2e-3
    lr: float = 1e-3
    seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        if self.preset not in SYNC_PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; known: {sorted(SYNC_PRESETS)}")
        if (self.pretrain_steps < 0 or self.steps < 1 or self.batch_videos < 1 or self.num_candidates < 2
                or self.pretrain_tau <= 0 or self.tau <= 0 or self.min_offset_s <= 0 or self.threads < 1
                or self.pretrain_lr <= 0 or self.lr <= 0):
            raise ValueError(f"SyncTrainConfig: bad values {self}")


@dataclass
class SyncVideo:
    """One decoded video: frames at its own rate, already at the classifier's input size, and audio."""

    frames: np.ndarray  # (T, S, S, 3) uint8
    fps: float
    audio: np.ndarray  # (samples,) float32 at the protocol's rate

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps

    @classmethod
    def from_frames(cls, frames: np.ndarray, fps: float, audio: np.ndarray, size: int,
                    protocol: EvalProtocol) -> SyncVideo:
        """Frames (T, H, W, 3) uint8 -> protocol crop, then the classifier's bicubic resize to size², once."""
        crop = to_protocol_frames(frames, protocol.size)  # (T, 256, 256, 3)
        x = torch.from_numpy(crop).permute(0, 3, 1, 2).float()  # (T, 3, 256, 256)
        x = F.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
        small = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()  # (T, S, S, 3)
        return cls(small, fps, np.asarray(audio, np.float32))


def load_split(root: str | Path, split: str, size: int, protocol: EvalProtocol) -> list[SyncVideo]:
    """Decode every video of `<root>/<split>.txt` once."""
    root = Path(root)
    lines = [ln.strip() for ln in (root / f"{split}.txt").read_text().splitlines() if ln.strip()]
    videos = []
    for line in lines:
        path = root / "videos" / line
        fps = probe_video(path).fps
        videos.append(SyncVideo.from_frames(read_video_frames(path, fps=fps), fps,
                                            read_audio(path, protocol.sample_rate), size, protocol))
    return videos


def clip_frames(video: SyncVideo, start_s: float, protocol: EvalProtocol) -> np.ndarray:
    """Frames (F, S, S, 3) of the 6-FPS clip at `start_s`: the first frame at/after each target."""
    targets = start_s + np.arange(protocol.num_frames) / protocol.fps
    idx = np.clip(np.ceil(targets * video.fps - 1e-3), 0, len(video.frames) - 1).astype(int)
    return video.frames[idx]


def clip_audio(video: SyncVideo, start_s: float, protocol: EvalProtocol) -> np.ndarray:
    """The 2 s of audio from `start_s` (samples,), silence where that runs before or past the track."""
    a0, n = round(start_s * protocol.sample_rate), protocol.clip_samples
    out = np.zeros(n, np.float32)
    lo, hi = max(a0, 0), min(a0 + n, len(video.audio))
    if hi > lo:
        out[lo - a0: hi - a0] = video.audio[lo:hi]
    return out


def _video_tensor(frames: list[np.ndarray]) -> torch.Tensor:
    """uint8 clips [(F, S, S, 3)] -> (N, 3, F, S, S) in [-1, 1]."""
    return torch.from_numpy(np.stack(frames)).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0


def _mel(audio: list[np.ndarray]) -> torch.Tensor:
    """Audio clips [(samples,)] -> ImageBind mel (N, 1, 128, 204)."""
    return imagebind_mel(torch.from_numpy(np.stack(audio)))


def _other_start(start_s: float, span_s: float, min_offset_s: float, rng: np.random.Generator) -> float:
    """A window start in [0, span] at least `min_offset_s` from `start_s`, uniform over what is left."""
    before = max(start_s - min_offset_s, 0.0)  # [0, before) lies before the clip
    after = max(span_s - start_s - min_offset_s, 0.0)  # and this much after it
    u = rng.uniform(0, before + after)
    return u if u < before else start_s + min_offset_s + (u - before)


def sample_batch(videos: list[SyncVideo], cfg: SyncTrainConfig, protocol: EvalProtocol,
                 rng: np.random.Generator, static: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Mel (B·K, 1, 128, 204), synchronised audio first per video; video (B·V, 3, F, S, S), moving (+ static).

    K = `cfg.num_candidates`; V = 2 with `static` (the moving clip, then its first frame held), else 1.
    """
    frames, audio = [], []
    for i in rng.integers(0, len(videos), cfg.batch_videos):
        v = videos[i]
        span = v.seconds - protocol.clip_seconds
        start = rng.uniform(0, span)
        f = clip_frames(v, start, protocol)
        if rng.integers(2):
            f = f[:, :, ::-1]  # horizontal flip
        frames += [f, np.repeat(f[:1], protocol.num_frames, axis=0)] if static else [f]
        starts = [start, *(_other_start(start, span, cfg.min_offset_s, rng)
                           for _ in range(cfg.num_candidates - 1))]
        audio += [clip_audio(v, s, protocol) for s in starts]
    return _mel(audio), _video_tensor(frames)


def embed_candidates(model: SyncClassifier, mel: torch.Tensor, video: torch.Tensor, batch: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Audio (B, K, Da) and video (B, V, Dv) embeddings of a `sample_batch` batch."""
    a = model.audio_encoder(mel).unflatten(0, (batch, -1))  # (B, K, Da)
    v = model.video_encoder(preprocess_video(video, model.config.video_size)).unflatten(0, (batch, -1))
    return a, v  # v: (B, V, Dv)


def cosine_scores(a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Cosine similarities (B, V, K) of audio (B, K, D) and video (B, V, D) embeddings (stage 1)."""
    return torch.einsum("bkd,bvd->bvk", F.normalize(a, dim=-1), F.normalize(v, dim=-1))


def head_scores(model: SyncClassifier, a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The classifier's scores (B, V, K) of audio (B, K, Da) against video (B, V, Dv) embeddings (stage 2)."""
    (b, k, da), nv = a.shape, v.shape[1]
    pairs_a = a[:, None].expand(-1, nv, -1, -1).reshape(-1, da)  # (B·V·K, Da)
    pairs_v = v[:, :, None].expand(-1, -1, k, -1).reshape(-1, v.shape[-1])  # (B·V·K, Dv)
    return model.head(pairs_a, pairs_v).view(b, nv, k)


def sync_loss(scores: torch.Tensor, tau: float, rank_weight: float = 0.0) -> tuple[torch.Tensor, float]:
    """Loss and top-1 accuracy of scores (B, V, K): cross-entropy over K audios (0 synchronised) + ranking.

    The ranking term applies with a static clip (V = 2): it should score below every offset audio.
    """
    moving = scores[:, 0]  # (B, K)
    loss = F.cross_entropy(moving / tau, torch.zeros(len(scores), dtype=torch.long))
    if scores.shape[1] > 1:
        static = scores[:, 1, :1]  # (B, 1): the held first frame with the synchronised audio
        loss = loss + rank_weight * F.softplus((static - moving[:, 1:]) / tau).mean()
    return loss, (moving.argmax(-1) == 0).float().mean().item()


@torch.no_grad()
def evaluate_held_out(model: SyncClassifier, videos: list[SyncVideo], protocol: EvalProtocol,
                      shift_s: float = 0.5) -> dict[str, float]:
    """RelSync (raw %) of audio delayed by `shift_s` and of the static clip, on the evaluation's clips."""
    model.eval()
    sync, shifted, static = [], [], []
    for v in videos:
        for start in eval_clip_starts(v.seconds, protocol.clips_per_video, protocol.clip_seconds):
            f = clip_frames(v, start, protocol)
            video = _video_tensor([f, f, np.repeat(f[:1], protocol.num_frames, axis=0)])
            # delayed audio = the track from `shift_s` earlier, silence before its start
            mel = _mel([clip_audio(v, start, protocol), clip_audio(v, start - shift_s, protocol),
                        clip_audio(v, start, protocol)])
            s = model(mel, video)  # (3,)
            sync.append(s[0])
            shifted.append(s[1])
            static.append(s[2])
    sync_t, shift_t, static_t = torch.stack(sync), torch.stack(shifted), torch.stack(static)
    return {"relsync_shift": float(torch.sigmoid(shift_t - sync_t).mean()) * 100,
            "relsync_static": float(torch.sigmoid(static_t - sync_t).mean()) * 100,
            "sync_gt_shift": float((sync_t > shift_t).float().mean()),
            "shift_gt_static": float((shift_t > static_t).float().mean()),
            "clips": len(sync)}


@torch.no_grad()
def temporal_difference_init(model: SyncClassifier, fraction: float = 0.5) -> None:
    """Re-initialise a fraction of both stems' filters as temporal differences (motion / onset detectors)."""
    w = model.video_encoder.conv1[0].weight  # (C, 3, kt=3, 7, 7)
    n = int(w.shape[0] * fraction)
    g = torch.randn(n, w.shape[1], 1, *w.shape[3:]) * (2.0 / (w.shape[1] * w.shape[3] * w.shape[4])) ** 0.5
    w[:n] = torch.cat([-g, g, torch.zeros_like(g)], dim=2)  # frame t minus frame t-1
    a = model.audio_encoder.conv1[0].weight  # (C, 1, 7 freq, 7 time)
    n = int(a.shape[0] * fraction)
    h = torch.randn(n, 1, a.shape[2], 1) * (2.0 / a.shape[2]) ** 0.5
    a[:n] = 0
    a[:n, :, :, 3:4], a[:n, :, :, 2:3] = h, -h  # mel frame t minus frame t-1: onsets


def train_sync_classifier(data: str | Path, out: str | Path, cfg: SyncTrainConfig | None = None,
                          command: str | None = None) -> dict[str, Any]:
    """Train the classifier on a SynthAV folder (train.txt), test on test.txt, save to `out`."""
    cfg = cfg or SyncTrainConfig()
    protocol = EvalProtocol()
    root = Path(data)
    t0 = time.perf_counter()
    # 1. Setup: threads, seeds, data decoded once, the model.
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model_cfg = SYNC_PRESETS[cfg.preset]
    train = load_split(root, "train", model_cfg.video_size, protocol)
    test = load_split(root, "test", model_cfg.video_size, protocol)
    if not train or not test:
        raise ValueError(f"{root}: need train and test videos, got {len(train)} and {len(test)}")
    span = protocol.clip_seconds + 2 * cfg.min_offset_s
    short = [i for i, v in enumerate(train) if v.seconds < span]
    if short:
        raise ValueError(f"{len(short)} training video(s) shorter than {span:g} s (a 2-s clip and room for "
                         f"windows {cfg.min_offset_s:g} s away)")
    log.info("decoded %d train / %d test videos in %.1f s", len(train), len(test), time.perf_counter() - t0)
    model = SyncClassifier(model_cfg)
    temporal_difference_init(model)

    # 2. Two stages, each a loop over random videos, clip starts, other windows and horizontal flips:
    #    the encoders with cosine scores, then the whole classifier with its own scores.
    stages = [("encoders", cfg.pretrain_steps, cfg.pretrain_lr, False),
              ("classifier", cfg.steps, cfg.lr, True)]
    log_every = 25
    model.train()
    t1 = time.perf_counter()
    for stage, steps, lr, with_head in stages:
        if steps == 0:
            continue
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
        ts, running = time.perf_counter(), []
        for step in range(1, steps + 1):
            mel, video = sample_batch(train, cfg, protocol, rng, static=with_head)
            a, v = embed_candidates(model, mel, video, cfg.batch_videos)
            if with_head:
                loss, top1 = sync_loss(head_scores(model, a, v), cfg.tau, cfg.rank_weight)
            else:
                loss, top1 = sync_loss(cosine_scores(a, v), cfg.pretrain_tau)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running.append((loss.item(), top1))
            if step % log_every == 0 or step == steps:
                mean_loss, mean_top1 = np.mean(running[-log_every:], axis=0)
                log.info("%s step %d/%d loss %.3f (ln K = %.3f) top-1 %.2f (%.2f s/step)", stage, step,
                         steps, mean_loss, math.log(cfg.num_candidates), mean_top1,
                         (time.perf_counter() - ts) / step)
        if not math.isfinite(loss.item()):
            raise RuntimeError(f"training diverged in the {stage} stage (non-finite loss)")
    train_s = time.perf_counter() - t1

    # 3. Held-out test, then save with the numbers and the recipe in the JSON sidecar.
    metrics = evaluate_held_out(model, test, protocol)
    total_s = time.perf_counter() - t0
    notes = {"training": {**asdict(cfg), "command": command, "data": str(root), "train_videos": len(train),
                          "test_videos": len(test), "train_seconds": round(train_s, 1),
                          "total_seconds": round(total_s, 1)},
             "held_out": {k: round(v, 4) for k, v in metrics.items()}}
    save_sync_classifier(model.eval(), out, notes)
    log.info("held-out %s; %.1f min in all; saved to %s", metrics, total_s / 60, out)
    return notes
