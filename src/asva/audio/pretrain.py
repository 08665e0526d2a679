"""Pretraining the audio encoders on a dataset's sounds: what sounds (class) and when (onsets).

The tiny encoders have no released weights, so without this their features are random. Here each
encoder in `AudioFeatureConfig.encoders` learns, through two throw-away linear heads on its last
tapped layer (read as the feature extractor reads it, `asva.audio.taps`):
- class: cross-entropy of a linear head on the mean-pooled tokens, over the train split's classes;
- onset: per token, binary cross-entropy against min(1, sum_k exp(-(t - o_k)^2 / 2 sigma^2)), t the
  token's centre time (`imagebind_token_times` / `beats_token_times`), o_k the sound onsets of the
  window (SynthAV's per-video JSON "events", moved by its "audio_offset_s": the sound of an event
  at `onset` is at `onset + audio_offset_s` in the audio track), sigma half a token spacing
  (0.05 s ImageBind, 0.08 s BEATs). ImageBind's CLS token has no time and takes no onset loss.
  A whole spacing blurs SynthAV's onsets (0.35-0.6 s apart) into a target that stays near 0.6
  between them for BEATs; on runs/default/clean (600 steps) it lowered the held-out onset AUC
  from 0.99 / 0.96 to 0.96 / 0.89 (ImageBind / BEATs).
The loss is the sum of both terms over the encoders. Encoders share no parameter, so each learns
exactly what it would learn alone.

Recipe: random `clip_seconds` windows of the train split's audio (decoded once, kept in memory),
drawn from a generator seeded by (seed, step); AdamW with linear warm-up and cosine decay; a
checkpoint (encoders, heads, optimizer, step, losses) written whole to `out/last/` every
`checkpoint_every` steps, so a re-run with the same settings continues where it stopped and ends
with the weights and losses of an uninterrupted run (on CPU). `out/last/` is kept: a finished run
re-run with the same settings only scores and writes again. The defaults (1000 steps of 16 windows,
lr 1e-3) take about 8 minutes on one CPU thread for both tiny encoders on the 80 train videos of
runs/default/clean.

Held-out scores (test split; windows at the evaluation protocol's 3 starts per video,
`asva.data.clips.eval_clip_starts`):
- class accuracy of the class head;
- onset F1: the onset head's probabilities, averaged over the tokens of each time step, give a
  curve; its local maxima >= 0.5 are predicted onsets. A true onset inside the span the tokens
  cover and a predicted onset within one token spacing of it match (one to one, nearest first);
  precision, recall and F1 are counted over all windows;
- onset AUC: ROC AUC of that curve against "an onset lies within half a token spacing" (threshold-free).
The trained encoders go to `out/audio_encoders.safetensors`, the file `write_model_folder` writes
for `AudioAnimationModel.audio_features` (same keys, same sidecar fields, plus "pretrain").
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata
from torch import nn

from asva.audio.config import AudioFeatureConfig
from asva.audio.taps import ENCODERS, AudioFeatureExtractor
from asva.checkpoints.folder import audio_encoder_meta, load_encoder_weights
from asva.checkpoints.trained import load_weights, replace_dir, save_weights
from asva.data.clips import EVAL_CLIPS, eval_clip_starts
from asva.data.layout import DatasetLayout, VideoItem
from asva.log import get_logger
from asva.media import probe_video, read_audio

log = get_logger(__name__)

WEIGHTS = "audio_encoders.safetensors"
METRICS = "metrics.json"
LAST = "last"  # the resumable checkpoint folder inside `out`
ONSET_SIGMA_TOKENS = 0.5  # Gaussian width of the onset target, in token spacings
PEAK_THRESHOLD = 0.5  # a local maximum of the onset probability at least this high is an onset
WARMUP_STEPS = 50
WEIGHT_DECAY = 0.01
GRAD_CLIP = 1.0
LOG_EVERY = 25  # steps between progress lines
EVAL_BATCH = 32
FINAL_LOSS_STEPS = 25  # "final" losses are the mean of the last this many steps


@dataclass(frozen=True)
class AudioClip:
    """One video's whole audio track, its class and its sound onsets."""

    rel: str  # `<class>/<name>.mp4`
    class_name: str
    audio: np.ndarray  # (S,) float32, 16 kHz mono
    onsets: np.ndarray  # (E,) seconds from the start of the audio track


class PretrainHeads(nn.Module):
    """Throw-away heads on one encoder's tokens: class logits (pooled) and onset logits (per token)."""

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.class_head = nn.Linear(dim, num_classes)
        self.onset_head = nn.Linear(dim, 1)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.norm(tokens)  # (B, N, D)
        return self.class_head(x.mean(dim=1)), self.onset_head(x).squeeze(-1)  # (B, C), (B, N)


def onset_target(onsets: np.ndarray, times: np.ndarray, sigma: float) -> np.ndarray:
    """min(1, sum of Gaussian bumps at `onsets`) at each of `times` (N,); NaN where the time is NaN."""
    gaps = (times[:, None] - np.asarray(onsets, dtype=np.float64)[None, :]) / sigma  # (N, E)
    return np.minimum(1.0, np.exp(-0.5 * gaps**2).sum(axis=1)).astype(np.float32)  # (N,)


def token_spacing(times: np.ndarray) -> float:
    """Seconds between consecutive token times (ignoring NaN times and tokens sharing a time)."""
    steps = np.unique(times[np.isfinite(times)])
    if len(steps) < 2:
        raise ValueError(f"need at least two distinct token times, got {steps.tolist()}")
    return float(np.median(np.diff(steps)))


def encoder_tokens(extractor: AudioFeatureExtractor, name: str, audio: torch.Tensor) -> torch.Tensor:
    """Tokens (B, N, D) of the last tapped layer of encoder `name` for clip-length audio (B, S), with grad.

    The same front-end and blocks as `extractor(audio)`, which runs without gradients.
    """
    layer = max(extractor.config.layers)
    states, _ = ENCODERS[name][1](extractor.encoders[name], audio, (layer,), False)
    return states[layer]


def pretrain_audio_encoders(
    data: Path,
    out: Path,
    audio: AudioFeatureConfig,
    *,
    steps: int = 1000,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    checkpoint_every: int = 100,
    train_encoders: bool = True,
    progress: bool = True,
) -> Path:
    """Train the encoders of `audio` on the train split of `data`; return `out/audio_encoders.safetensors`.

    `train_encoders=False` trains the heads alone on the frozen random encoders (a linear-probe
    baseline). Held-out scores go to the sidecar's "pretrain" field and `out/metrics.json`.
    """
    # 1. settings, checked before any decoding
    for name, value in (("steps", steps), ("batch_size", batch_size), ("checkpoint_every", checkpoint_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    out = Path(out)
    started = time.perf_counter()
    layout = DatasetLayout(data)
    settings = {"data": str(layout.root.resolve()), "audio_config": dataclasses.asdict(audio), "steps": steps,
                "batch_size": batch_size, "lr": lr, "seed": seed, "train_encoders": train_encoders,
                "onset_sigma_tokens": ONSET_SIGMA_TOKENS}

    # 2. data: every usable video's audio, decoded once
    train = load_audio_clips(layout, "train", audio)
    test = load_audio_clips(layout, "test", audio)
    classes = sorted({c.class_name for c in train})
    unknown = sorted({c.class_name for c in test} - set(classes))
    if unknown:
        raise ValueError(f"{layout.root}: test classes {unknown} have no usable train video "
                         f"(train classes: {classes}); the class head cannot score them")
    log.info("pretrain: %d train and %d test videos of %d classes decoded in %.1f s", len(train), len(test),
             len(classes), time.perf_counter() - started)

    # 3. model: the feature extractor the audio model uses, and one pair of heads per encoder
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        extractor = AudioFeatureExtractor(audio)
        probe = extractor(torch.zeros(1, audio.clip_samples))  # token widths and times of a window
        last = max(audio.layers)
        heads = nn.ModuleDict({name: PretrainHeads(probe[(name, last)].tokens.shape[-1], len(classes))
                               for name in audio.encoders})
    times = {name: probe[(name, last)].times.double().numpy() for name in audio.encoders}  # (N,) each
    spacing = {name: token_spacing(t) for name, t in times.items()}
    extractor.encoders.requires_grad_(train_encoders)
    params = [p for p in extractor.parameters() if p.requires_grad] + list(heads.parameters())
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=WEIGHT_DECAY)

    # 4. resume
    step, losses = 0, []
    if (out / LAST).is_dir():
        step, losses = load_checkpoint(out / LAST, extractor, heads, optimizer, settings)
        log.info("pretrain: resumed %s at step %d of %d", out / LAST, step, steps)

    # 5. loop
    heads.train()
    label_of = {c: i for i, c in enumerate(classes)}
    tick, tick_step = time.perf_counter(), step
    while step < steps:
        rng = np.random.default_rng([seed, step])  # per step: a resumed run draws the same windows
        # (B, S) audio, (B,) labels, B arrays of onsets
        batch, labels, onsets = draw_windows(train, label_of, batch_size, audio, rng)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps, lr)
        record, total = {}, torch.zeros(())
        for name in audio.encoders:
            sigma = spacing[name] * ONSET_SIGMA_TOKENS
            # (B, N) onset targets at the token times
            target = torch.from_numpy(np.stack([onset_target(o, times[name], sigma) for o in onsets]))
            tokens = encoder_tokens(extractor, name, batch)  # (B, N, D)
            class_logits, onset_logits = heads[name](tokens)  # (B, C), (B, N)
            class_loss, onset_loss = pretrain_losses(class_logits, onset_logits, labels, target)
            total = total + class_loss + onset_loss
            record[f"{name}/class"], record[f"{name}/onset"] = class_loss.item(), onset_loss.item()
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        nn.utils.clip_grad_norm_(params, GRAD_CLIP)
        optimizer.step()
        step += 1
        losses.append({"loss": total.item(), **record})
        if progress and (step % LOG_EVERY == 0 or step == steps):
            rate = (step - tick_step) * batch_size / max(time.perf_counter() - tick, 1e-9)
            parts = "  ".join(f"{k} {v:.3f}" for k, v in record.items())
            log.info("pretrain step %d/%d  loss %.4f (%s)  %.1f clips/s  eta %.1f min", step, steps,
                     total.item(), parts, rate, (steps - step) * batch_size / max(rate, 1e-9) / 60)
            tick, tick_step = time.perf_counter(), step
        if step % checkpoint_every == 0 or step == steps:
            save_checkpoint(out / LAST, extractor, heads, optimizer, settings, step, losses)

    # 6. held-out scores, then the encoders alone (the heads are dropped)
    extractor.encoders.requires_grad_(False)
    heads.eval()
    metrics = evaluate(extractor, heads, test, classes, times, spacing)
    final = {key: float(np.mean([row[key] for row in losses[-FINAL_LOSS_STEPS:]])) for key in losses[-1]}
    summary = {"settings": settings, "classes": classes, "train_videos": len(train), "test_videos": len(test),
               "final_losses": final, "test": metrics, "seconds": round(time.perf_counter() - started, 1)}
    meta = {**audio_encoder_meta(audio), "pretrain": summary}
    path = save_weights(out / WEIGHTS, extractor.state_dict(), meta)
    write_json_atomic(out / METRICS, {**summary, "losses": losses})
    for name, scores in metrics.items():
        log.info("pretrain %s held out: class accuracy %.3f, onset F1 %.3f (P %.3f, R %.3f), onset AUC %.3f",
                 name, scores["class_accuracy"], scores["onset_f1"], scores["onset_precision"],
                 scores["onset_recall"], scores["onset_auc"])
    return path


def draw_windows(clips: list[AudioClip], label_of: dict[str, int], batch_size: int, audio: AudioFeatureConfig,
                 rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, list[np.ndarray]]:
    """Random clip-length windows (B, S) of random clips, their labels (B,) and onsets (s from each start)."""
    window = audio.clip_samples
    picks = rng.integers(len(clips), size=batch_size)  # (B,)
    starts = [int(rng.integers(len(clips[i].audio) - window + 1)) for i in picks]
    batch = np.stack([clips[i].audio[s:s + window] for i, s in zip(picks, starts, strict=True)])  # (B, S)
    labels = torch.tensor([label_of[clips[i].class_name] for i in picks])  # (B,)
    onsets = [clips[i].onsets - s / audio.sample_rate for i, s in zip(picks, starts, strict=True)]
    return torch.from_numpy(batch), labels, onsets


def learning_rate(step: int, steps: int, lr: float) -> float:
    """Linear warm-up over the first WARMUP_STEPS (at most a tenth of the run), then cosine decay to 0."""
    warmup = min(WARMUP_STEPS, steps // 10)
    if step < warmup:
        return lr * (step + 1) / warmup
    return lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(steps - warmup, 1)))


def pretrain_losses(class_logits: torch.Tensor, onset_logits: torch.Tensor, labels: torch.Tensor,
                    target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of the class logits (B, C) and BCE of the onset logits (B, N) over tokens with a time."""
    timed = ~torch.isnan(target)  # (B, N); ImageBind's CLS has no time
    onset = F.binary_cross_entropy_with_logits(onset_logits[timed], target[timed])
    return F.cross_entropy(class_logits, labels), onset


def load_audio_clips(layout: DatasetLayout, split: str, audio: AudioFeatureConfig) -> list[AudioClip]:
    """The audio of a split's videos, with onsets from each video's JSON; videos unusable here are skipped."""
    items = layout.split(split)
    clips, no_audio, short = [], [], []
    for item in items:
        onsets = read_onsets(item)
        if not probe_video(item.path).has_audio:
            no_audio.append(item.rel)
            continue
        track = read_audio(item.path, audio.sample_rate)  # (S,)
        if len(track) < audio.clip_samples:
            short.append(item.rel)
            continue
        clips.append(AudioClip(item.rel, item.class_name, track, onsets))
    if no_audio:
        log.warning("pretrain: %d of %d %s videos have no audio track; skipped (first: %s)", len(no_audio),
                    len(items), split, no_audio[0])
    if short:
        log.warning("pretrain: %d of %d %s videos have less than %.1f s of audio; skipped (first: %s)",
                    len(short), len(items), split, audio.clip_seconds, short[0])
    if not clips:
        raise ValueError(f"{layout.root}: no usable {split} video ({len(items)} listed, {len(no_audio)} "
                         f"without audio, {len(short)} shorter than {audio.clip_seconds} s)")
    return clips


def read_onsets(item: VideoItem) -> np.ndarray:
    """Sound onsets (E,) in seconds of audio time from the ground-truth JSON beside a SynthAV video."""
    path = item.path.with_suffix(".json")
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: onset targets need the ground-truth JSON SynthAV "
                                f"writes beside each video ({item.rel})")
    truth = json.loads(path.read_text())
    if not isinstance(truth.get("events"), list):
        raise ValueError(f"{path}: no 'events' list (expected SynthAV ground truth)")
    # Events are in picture time; their sound is `audio_offset_s` later in the audio track.
    offset = float(truth.get("audio_offset_s", 0.0))
    return np.array([float(e["onset"]) + offset for e in truth["events"]], dtype=np.float64)


@torch.no_grad()
def evaluate(extractor: AudioFeatureExtractor, heads: nn.ModuleDict, clips: list[AudioClip],
             classes: list[str], times: dict[str, np.ndarray], spacing: dict[str, float]
             ) -> dict[str, dict[str, float]]:
    """Class accuracy, onset precision / recall / F1 and onset AUC per encoder (see the module docstring)."""
    config = extractor.config
    last, window, rate = max(config.layers), config.clip_samples, config.sample_rate
    windows = [(clip, round(start * rate)) for clip in clips
               for start in eval_clip_starts(len(clip.audio) / rate, EVAL_CLIPS, config.clip_seconds)]
    label_of = {c: i for i, c in enumerate(classes)}
    out = {}
    for name in config.encoders:
        steps = np.unique(times[name][np.isfinite(times[name])])  # (T,) time of each step
        step_of = np.searchsorted(steps, times[name])  # (N,) step index of each token (T for NaN)
        correct, tp, fp, fn, scores, labels = 0, 0, 0, 0, [], []
        for lo in range(0, len(windows), EVAL_BATCH):
            chunk = windows[lo:lo + EVAL_BATCH]
            batch = torch.from_numpy(np.stack([c.audio[s:s + window] for c, s in chunk]))  # (B, S)
            class_logits, onset_logits = heads[name](extractor(batch)[(name, last)].tokens)  # (B, C), (B, N)
            predicted = class_logits.argmax(dim=1).tolist()
            probs = torch.sigmoid(onset_logits).double().numpy()  # (B, N)
            for (clip, start), guess, prob in zip(chunk, predicted, probs, strict=True):
                correct += guess == label_of[clip.class_name]
                curve = np.array([prob[step_of == k].mean() for k in range(len(steps))])  # (T,)
                onsets = clip.onsets - start / rate
                hit, n_peaks, n_true = match_onsets(curve_peaks(curve, steps), onsets, steps, spacing[name])
                tp, fp, fn = tp + hit, fp + n_peaks - hit, fn + n_true - hit
                scores.append(curve)
                labels.append(np.abs(steps[:, None] - onsets[None, :]).min(axis=1, initial=np.inf)
                              <= spacing[name] / 2)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        out[name] = {"class_accuracy": correct / len(windows),
                     "onset_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
                     "onset_precision": precision, "onset_recall": recall,
                     "onset_auc": roc_auc(np.concatenate(scores), np.concatenate(labels)),
                     "windows": len(windows), "true_onsets": tp + fn}
    return out


def curve_peaks(curve: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Times of the local maxima of `curve` (T,) at least PEAK_THRESHOLD (a plateau counts once)."""
    padded = np.concatenate([[-np.inf], curve, [-np.inf]])
    peak = (curve >= padded[:-2]) & (curve > padded[2:]) & (curve >= PEAK_THRESHOLD)
    return steps[peak]


def match_onsets(peaks: np.ndarray, onsets: np.ndarray, steps: np.ndarray, tolerance: float
                 ) -> tuple[int, int, int]:
    """(true onsets found, peaks that count, true onsets) for one window; pairs one to one, nearest first.

    True onsets are those inside the span the tokens cover (within half a spacing of the first and
    last step); a peak paired with an onset just outside it is neither a hit nor a false alarm.
    """
    half = float(np.median(np.diff(steps))) / 2 if len(steps) > 1 else tolerance / 2
    inside = (onsets >= steps[0] - half) & (onsets <= steps[-1] + half)  # (E,)
    gaps = np.abs(peaks[:, None] - onsets[None, :])  # (P, E)
    used_peak, used_onset = np.zeros(len(peaks), bool), np.zeros(len(onsets), bool)
    hits = outside = 0
    for flat in np.argsort(gaps, axis=None, kind="stable"):
        p, e = np.unravel_index(flat, gaps.shape)
        if gaps[p, e] > tolerance:
            break
        if not (used_peak[p] or used_onset[e]):
            used_peak[p] = used_onset[e] = True
            hits += bool(inside[e])
            outside += not inside[e]
    return hits, len(peaks) - outside, int(inside.sum())


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U / (positives x negatives)); NaN without both labels."""
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if not positives or not negatives:
        return math.nan
    ranks = rankdata(scores)  # ties get their mean rank
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def save_checkpoint(folder: Path, extractor: AudioFeatureExtractor, heads: nn.ModuleDict,
                    optimizer: torch.optim.Optimizer, settings: dict[str, Any], step: int,
                    losses: list[dict[str, float]]) -> None:
    """Write `folder` whole (encoders, heads, optimizer, step, losses), then swap it in atomically."""
    tmp = folder.with_name(f".{folder.name}.tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    save_weights(tmp / "encoders.safetensors", extractor.state_dict(), {"part": "encoders", "step": step})
    save_weights(tmp / "heads.safetensors", heads.state_dict(), {"part": "heads", "step": step})
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    (tmp / "state.json").write_text(json.dumps({"step": step, "settings": settings, "losses": losses}) + "\n")
    replace_dir(tmp, folder)


def load_checkpoint(folder: Path, extractor: AudioFeatureExtractor, heads: nn.ModuleDict,
                    optimizer: torch.optim.Optimizer, settings: dict[str, Any]
                    ) -> tuple[int, list[dict[str, float]]]:
    """Restore `folder` written by a run with the same settings; return (step, losses so far)."""
    state = json.loads((folder / "state.json").read_text())
    saved = json.loads(json.dumps(state["settings"]))
    want = json.loads(json.dumps(settings))  # tuples -> lists, as saved
    differ = sorted(k for k in set(saved) | set(want) if saved.get(k) != want.get(k))
    if differ:
        # audio_config is long: name it, do not print it
        shown = "; ".join("audio_config differs" if k == "audio_config" else
                          f"{k}: saved {saved.get(k)!r}, now {want.get(k)!r}" for k in differ)
        raise ValueError(f"{folder} was written by a pretraining run with other settings ({shown}); "
                         "use another output folder, or the same settings to resume")
    extractor.load_state_dict(load_weights(folder / "encoders.safetensors")[0], strict=True)
    heads.load_state_dict(load_weights(folder / "heads.safetensors")[0], strict=True)
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
    return int(state["step"]), list(state["losses"])


def write_json_atomic(path: Path, value: Any) -> None:
    """Write JSON through a temporary sibling and a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def load_audio_encoders(path: str | Path, audio: AudioFeatureConfig) -> AudioFeatureExtractor:
    """An `AudioFeatureExtractor(audio)` holding the trained encoders of `path`, loaded strictly.

    The file's encoder sizes must equal `audio`'s. Which layers are tapped does not change the
    weights, and `audio.encoders` may be a subset of the file's, so one pretraining run serves
    every choice of encoders and layers. Load the result into a model with
    `model.audio_features.load_state_dict(extractor.state_dict())`.
    """
    extractor = AudioFeatureExtractor(audio)
    load_encoder_weights(extractor, Path(path))
    return extractor


