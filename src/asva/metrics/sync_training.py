"""Training the sync classifier on SynthAV: a recipe read top to bottom (setup, loop, held-out test).

Objective (ASVA's contrastive sync training, FACTS §13, at CPU size): from one video take P clips
whose starts are `shift_s` apart; score every (audio p, video q) pair with the classifier and apply
cross-entropy with temperature τ along audio→video and video→audio, the synchronised pair being
the target. Two additions for a model trained in minutes, documented in docs/evaluation.md:
- half of each stem's filters start as temporal differences (frame to frame for the video, mel frame
  to mel frame for the audio), so the encoders see motion and onsets from the first step instead
  of the static background that fills most of the picture;
- a static clip (the middle clip's first frame repeated) is scored against every audio clip, and a
  ranking term asks it to score below every shifted clip (a shifted clip still shows the right
  motion, a frozen one none), weighted by `rank_weight`; it is kept out of the softmax.

Within the CPU budget this learns static vs. moving but not the time shift (docs/evaluation.md,
"Limitation"): the loss settles at 2·ln P with all moving pairs scored alike.

Held-out numbers (test split, one centred group of P clips per video): top-1 audio→video accuracy
among the P shifted clips (chance 1/P), and the pairwise accuracies sync > audio shifted by 0.5 s
and sync > static.
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
from asva.log import get_logger
from asva.media import probe_video, read_audio, read_video_frames
from asva.metrics.protocol import EvalProtocol, to_protocol_frames
from asva.metrics.sync_checkpoint import save_sync_classifier
from asva.metrics.sync_classifier import SYNC_PRESETS, SyncClassifier

log = get_logger(__name__)


@dataclass(frozen=True)
class SyncTrainConfig:
    """Hyper-parameters of `train_sync_classifier`."""

    preset: str = "synthav-small"
    steps: int = 300
    batch_videos: int = 6
    num_shifts: int = 4  # P clips per video
    shift_s: float = 0.5  # ASVA uses 0.2 s (with 21 clips and 350k steps)
    tau: float = 0.1  # ASVA's temperature
    rank_weight: float = 0.5
    lr: float = 5e-4
    seed: int = 0
    threads: int = 2

    def __post_init__(self) -> None:
        if self.preset not in SYNC_PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; known: {sorted(SYNC_PRESETS)}")
        if (self.steps < 1 or self.batch_videos < 1 or self.num_shifts < 2 or self.shift_s <= 0
                or self.tau <= 0):
            raise ValueError(f"SyncTrainConfig: bad values {self}")


@dataclass
class _Video:
    """One decoded video: frames at its own rate, already at the classifier's input size, and audio."""

    frames: np.ndarray  # (T, S, S, 3) uint8
    fps: float
    audio: np.ndarray  # (samples,) float32, 16 kHz

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps


def _load_split(root: Path, split: str, size: int, protocol: EvalProtocol) -> list[_Video]:
    """Decode every video of `<root>/<split>.txt` once (frames resized as the evaluation does)."""
    lines = [ln.strip() for ln in (root / f"{split}.txt").read_text().splitlines() if ln.strip()]
    videos = []
    for line in lines:
        path = root / "videos" / line
        fps = probe_video(path).fps
        frames = to_protocol_frames(read_video_frames(path, fps=fps), protocol.size)  # (T, 256, 256, 3)
        x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()  # (T, 3, 256, 256)
        # The classifier's own bicubic resize, done once here instead of at every step.
        x = F.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
        small = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()  # (T, S, S, 3)
        videos.append(_Video(small, fps, read_audio(path, protocol.sample_rate)))
    return videos


def _clip(video: _Video, start_s: float, audio_start_s: float, protocol: EvalProtocol
          ) -> tuple[np.ndarray, np.ndarray]:
    """Frames (F, S, S, 3) of the 6-FPS clip at `start_s` (first frame at/after each target) and its audio."""
    targets = start_s + np.arange(protocol.num_frames) / protocol.fps
    idx = np.clip(np.ceil(targets * video.fps - 1e-3), 0, len(video.frames) - 1).astype(int)
    a0 = round(audio_start_s * protocol.sample_rate)
    audio = video.audio[max(a0, 0): a0 + protocol.clip_samples]
    audio = np.pad(audio, (0, protocol.clip_samples - len(audio)))  # silence past the end
    return video.frames[idx], audio


def _to_tensors(frames: list[np.ndarray], audio: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 clips -> video (N, 3, F, S, S) in [-1, 1]; audio -> ImageBind mel (M, 1, 128, 204)."""
    video = torch.from_numpy(np.stack(frames)).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0
    mel = imagebind_mel(torch.from_numpy(np.stack(audio))) if audio else torch.empty(0)
    return video, mel


def _group(video: _Video, start_s: float, cfg: SyncTrainConfig, protocol: EvalProtocol, flip: bool
           ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """P clips `shift_s` apart plus one static clip: P + 1 frame stacks and P audio clips."""
    frames, audio = [], []
    for p in range(cfg.num_shifts):
        f, a = _clip(video, start_s + p * cfg.shift_s, start_s + p * cfg.shift_s, protocol)
        frames.append(f[:, :, ::-1] if flip else f)
        audio.append(a)
    still = frames[cfg.num_shifts // 2][:1]  # (1, S, S, 3)
    frames.append(np.repeat(still, protocol.num_frames, axis=0))
    return frames, audio


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


def _pair_scores(model: SyncClassifier, mel: torch.Tensor, video: torch.Tensor, groups: int) -> torch.Tensor:
    """Scores (G, P, P+1) of every audio clip against every video clip of its own group."""
    a = model.audio_encoder(mel).unflatten(0, (groups, -1))  # (G, P, D)
    v = model.video_encoder(video).unflatten(0, (groups, -1))  # (G, P+1, D)
    p, q = a.shape[1], v.shape[1]
    pairs_a = a[:, :, None].expand(-1, -1, q, -1)  # (G, P, P+1, D)
    pairs_v = v[:, None].expand(-1, p, -1, -1)  # (G, P, P+1, D)
    return model.head(pairs_a.reshape(-1, a.shape[-1]), pairs_v.reshape(-1, v.shape[-1])).view(groups, p, q)


def _loss(scores: torch.Tensor, cfg: SyncTrainConfig) -> tuple[torch.Tensor, float]:
    """Contrastive loss both ways (+ static ranking term) and audio→video accuracy of scores (G, P, P+1)."""
    g, p, _ = scores.shape
    labels = torch.arange(p).repeat(g)  # (G·P,)
    av = F.cross_entropy(scores[:, :, :p].reshape(g * p, p) / cfg.tau, labels)
    va = F.cross_entropy(scores[:, :, :p].transpose(1, 2).reshape(g * p, p) / cfg.tau, labels)
    static = scores[:, :, p:]  # (G, P, 1)
    off = ~torch.eye(p, dtype=torch.bool)  # shifted (non-matching) pairs
    rank = F.softplus((static - scores[:, :, :p]) / cfg.tau)[:, off].mean()
    acc = (scores[:, :, :p].argmax(-1) == torch.arange(p)).float().mean().item()
    return av + va + cfg.rank_weight * rank, acc


@torch.no_grad()
def evaluate_held_out(model: SyncClassifier, videos: list[_Video], cfg: SyncTrainConfig,
                      protocol: EvalProtocol, shift_test_s: float = 0.5) -> dict[str, float]:
    """Held-out accuracies: top-1 audio→video among P shifts, sync > 0.5-s shifted audio, sync > static."""
    model.eval()
    top1, vs_shift, vs_static = [], [], []
    span = protocol.clip_seconds + (cfg.num_shifts - 1) * cfg.shift_s
    for video in videos:
        start = max(0.0, (video.seconds - span) / 2)
        frames, audio = _group(video, start, cfg, protocol, flip=False)
        vid, mel = _to_tensors(frames, audio)
        scores = _pair_scores(model, mel, vid, 1)[0]  # (P, P+1)
        p = cfg.num_shifts
        top1.append((scores[:, :p].argmax(-1) == torch.arange(p)).float().mean().item())
        vs_static.append((scores.diagonal() > scores[:, p]).float().mean().item())
        # The middle clip's frames against its audio delayed by 0.5 s (as `--corrupt offset=0.5`).
        mid = start + (p // 2) * cfg.shift_s
        f, a = _clip(video, mid, mid - shift_test_s, protocol)
        sv, sm = _to_tensors([f], [a])
        vs_shift.append(float(model(sm, sv)[0] < scores[p // 2, p // 2]))
    return {"top1_av": float(np.mean(top1)), "chance_top1": 1.0 / cfg.num_shifts,
            "sync_vs_shift_0.5s": float(np.mean(vs_shift)), "sync_vs_static": float(np.mean(vs_static))}


def train_sync_classifier(data: str | Path, out: str | Path, cfg: SyncTrainConfig | None = None,
                          command: str | None = None) -> dict[str, Any]:
    """Train the classifier on a SynthAV folder (train.txt), test on test.txt, save to `out`."""
    cfg = cfg or SyncTrainConfig()
    protocol = EvalProtocol()
    root = Path(data)
    t0 = time.perf_counter()
    # 1. Setup: threads, seeds, data decoded once, model and optimiser.
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model_cfg = SYNC_PRESETS[cfg.preset]
    train = _load_split(root, "train", model_cfg.video_size, protocol)
    test = _load_split(root, "test", model_cfg.video_size, protocol)
    span = protocol.clip_seconds + (cfg.num_shifts - 1) * cfg.shift_s
    short = [i for i, v in enumerate(train) if v.seconds < span]
    if short:
        raise ValueError(f"{len(short)} training video(s) shorter than {span:g} s "
                         f"(2-s clips at {cfg.num_shifts} shifts of {cfg.shift_s:g} s)")
    log.info("decoded %d train / %d test videos in %.1f s", len(train), len(test), time.perf_counter() - t0)
    model = SyncClassifier(model_cfg)
    temporal_difference_init(model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)

    # 2. Loop: random videos, random group start, random horizontal flip.
    model.train()
    t1 = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        frames, audio = [], []
        for i in rng.integers(0, len(train), cfg.batch_videos):
            v = train[i]
            f, a = _group(v, rng.uniform(0, v.seconds - span), cfg, protocol, flip=bool(rng.integers(2)))
            frames += f
            audio += a
        video, mel = _to_tensors(frames, audio)
        loss, acc = _loss(_pair_scores(model, mel, video, cfg.batch_videos), cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 25 == 0 or step == 1:
            log.info("step %d/%d loss %.3f top-1 %.2f (%.2f s/step)", step, cfg.steps, loss.item(), acc,
                     (time.perf_counter() - t1) / step)
    train_s = time.perf_counter() - t1

    # 3. Held-out test, then save with the numbers and the recipe in the JSON sidecar.
    metrics = evaluate_held_out(model, test, cfg, protocol)
    total_s = time.perf_counter() - t0
    notes = {"training": {**asdict(cfg), "command": command, "data": str(root), "train_videos": len(train),
                          "test_videos": len(test), "train_seconds": round(train_s, 1),
                          "total_seconds": round(total_s, 1), "torch_threads": cfg.threads},
             "held_out": {k: round(v, 4) for k, v in metrics.items()}}
    save_sync_classifier(model.eval(), out, notes)
    log.info("held-out %s; %.1f min in all; saved to %s", metrics, total_s / 60, out)
    if not math.isfinite(loss.item()):
        raise RuntimeError("training diverged (non-finite loss)")
    return notes
