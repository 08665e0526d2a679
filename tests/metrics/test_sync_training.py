"""The sync-classifier recipe: its batches, a few steps that lower the loss, and the shipped weights'
ranking of synchronised > audio shifted by 0.5 s > static on SynthAV clips it was not trained on."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from asva.metrics.protocol import EvalProtocol
from asva.metrics.sync_checkpoint import load_sync_classifier, shipped_sync_classifier_dir
from asva.metrics.sync_classifier import SyncClassifier, SyncClassifierConfig
from asva.metrics.sync_training import (
    SyncTrainConfig,
    SyncVideo,
    _other_start,
    cosine_scores,
    embed_candidates,
    evaluate_held_out,
    head_scores,
    sample_batch,
    sync_loss,
    temporal_difference_init,
)
from asva.synth import generate_clip, video_seed

PROTOCOL = EvalProtocol()
TINY = SyncClassifierConfig(audio_widths=(4, 4, 8, 8, 8), video_widths=(4, 4, 8, 8, 8), head_dim=8,
                            video_time_strides=(1, 1, 1), time_bins=12, video_size=32)


@functools.cache
def _videos(classes: tuple[str, ...], dataset_seed: int, size: int, px: int) -> list[SyncVideo]:
    """In-memory SynthAV videos (4 s, px²) prepared as the recipe decodes them."""
    out = []
    for name in classes:
        clip = generate_clip(name, video_seed(dataset_seed, name, 0), seconds=4.0, size=px)
        out.append(SyncVideo.from_frames(clip.frames, clip.fps, clip.audio, size, PROTOCOL))
    return out


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny convolutions: a second thread only adds overhead (10× slower on a busy 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_other_windows_keep_their_distance() -> None:
    rng = np.random.default_rng(0)
    for start in (0.0, 0.2, 1.0, 1.9, 2.0):
        u = np.array([_other_start(start, 2.0, 0.3, rng) for _ in range(200)])
        assert (u >= 0).all() and (u <= 2.0).all() and (np.abs(u - start) >= 0.3 - 1e-9).all()


def test_batch_shapes_and_static_clip() -> None:
    videos = _videos(("lamp_beep",), 3, TINY.video_size, 64)
    cfg = SyncTrainConfig(batch_videos=3, num_candidates=4)
    mel, video = sample_batch(videos, cfg, PROTOCOL, np.random.default_rng(0), static=True)
    assert mel.shape == (12, 1, 128, 204) and video.shape == (6, 3, 12, 32, 32)
    assert torch.equal(video[1], video[1, :, :1].expand_as(video[1]))  # the held first frame
    model = SyncClassifier(TINY)
    a, v = embed_candidates(model, mel, video, 3)
    assert a.shape == (3, 4, 8 * 12) and v.shape == (3, 2, 8 * 12)
    assert head_scores(model, a, v).shape == cosine_scores(a, v).shape == (3, 2, 4)


@pytest.mark.parametrize("stage", ["encoders", "classifier"])
def test_a_few_steps_lower_the_loss(stage: str) -> None:
    torch.manual_seed(0)
    videos = _videos(("lamp_beep", "bouncing_ball"), 3, TINY.video_size, 64)
    cfg = SyncTrainConfig(batch_videos=2, num_candidates=4)
    with_head = stage == "classifier"
    mel, video = sample_batch(videos, cfg, PROTOCOL, np.random.default_rng(0), static=with_head)
    model = SyncClassifier(TINY)
    temporal_difference_init(model)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        a, v = embed_candidates(model, mel, video, cfg.batch_videos)
        scores = head_scores(model, a, v) if with_head else cosine_scores(a, v)
        loss, _ = sync_loss(scores, cfg.tau if with_head else cfg.pretrain_tau, cfg.rank_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_shipped_classifier_ranks_sync_above_shift_above_static() -> None:
    if not (shipped_sync_classifier_dir() / "sync_classifier.safetensors").is_file():
        pytest.skip("shipped classifier not trained yet")
    model = load_sync_classifier()
    # one video per class from a dataset seed the weights were not trained on
    classes = ("bouncing_ball", "hammer_anvil", "drum_hit", "metronome", "lamp_beep", "croaking_blob",
               "clapping_blocks", "jumping_figure")
    videos = _videos(classes, 2024, model.config.video_size, 128)
    r = evaluate_held_out(model, videos, PROTOCOL, shift_s=0.5)  # RelSync raw %: 50 = as good as sync
    assert r["clips"] == 24
    assert r["relsync_static"] < r["relsync_shift"] < 40
    assert r["sync_gt_shift"] >= 0.7 and r["shift_gt_static"] >= 0.9
