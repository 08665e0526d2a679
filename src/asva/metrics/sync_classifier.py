"""The ASVA audio-visual synchronisation classifier (FACTS §13 "AVSync score").

audio mel (B, 1, 128, 204) ─ AudioConv2DNet ─ (B, Ca·bins) ─┐
                                                            ├─ FCHead ─ score (B,), unbounded
video (B, 3, 12, S, S) ─ VideoR2Plus1DNet ─ (B, Cv·bins) ───┘

Module names follow the three diffusers folders of the released checkpoint (`audio_encoder/`,
`video_encoder/`, `head/`, spec/asva_avsync_classifier.tsv), so each folder's weights load
strictly into `.audio_encoder`, `.video_encoder`, `.head`. Widths and the video input size come
from `SyncClassifierConfig`; the `asva` preset is the released network, `synthav-small` the one
we train on SynthAV. Presets change sizes only, never code paths: ASVA averages each encoder's
features over the whole clip (`time_bins` = 1), ours keeps 12 spans of time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# Video normalisation of the classifier's input pipeline (CLIP's mean/std; ASVA compute_avsync.py).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class SyncClassifierConfig:
    """Widths of the classifier and the side its video input is resized to."""

    audio_widths: tuple[int, ...] = (64, 64, 128, 256, 512)  # stem, then blocks 1-4
    video_widths: tuple[int, ...] = (64, 64, 128, 256, 512)  # stem, then stages conv2x-conv5x
    head_dim: int = 512  # FCHead `dim`: input 2·dim·time_bins, hidden dim and dim/2
    # Temporal strides of the first block of video stages conv3x, conv4x, conv5x (spatial stride 2).
    video_time_strides: tuple[int, int, int] = (2, 2, 2)
    # Spans of time each encoder keeps: its features are averaged over frequency (audio) or space
    # (video) and over `time_bins` equal spans of time, then flattened. 1 = ASVA's global mean.
    time_bins: int = 1
    video_size: int = 224
    num_frames: int = 12
    fps: float = 6.0

    def __post_init__(self) -> None:
        for name in ("audio_widths", "video_widths"):
            widths = getattr(self, name)
            if len(widths) != 5 or any(not isinstance(w, int) or w < 1 for w in widths):
                raise ValueError(f"SyncClassifierConfig.{name} must be 5 positive ints, got {widths!r}")
        if self.audio_widths[-1] != self.head_dim or self.video_widths[-1] != self.head_dim:
            raise ValueError("SyncClassifierConfig: the last audio and video widths must equal head_dim "
                             f"(FCHead concatenates them), got {self.audio_widths[-1]}, "
                             f"{self.video_widths[-1]} and head_dim {self.head_dim}")
        if len(self.video_time_strides) != 3 or any(s not in (1, 2) for s in self.video_time_strides):
            raise ValueError("SyncClassifierConfig.video_time_strides must be 3 values in {1, 2}, got "
                             f"{self.video_time_strides!r}")
        if not isinstance(self.time_bins, int) or self.time_bins < 1:
            raise ValueError(f"SyncClassifierConfig.time_bins must be a positive int, got {self.time_bins!r}")
        if self.head_dim < 2 or self.video_size < 32 or self.num_frames < 1 or self.fps <= 0:
            raise ValueError(f"SyncClassifierConfig: bad sizes head_dim={self.head_dim}, "
                             f"video_size={self.video_size}, num_frames={self.num_frames}, fps={self.fps}")


SYNC_PRESETS: dict[str, SyncClassifierConfig] = {
    # The released VGGSS classifier: 20,761,217 parameters.
    "asva": SyncClassifierConfig(),
    # CPU-sized, trained on SynthAV by scripts/train_sync_classifier.py. It keeps one time span per
    # 6-FPS frame (no temporal striding, 12 bins): averaged over the whole clip, a network this size
    # learns static vs. moving but not a shifted track (docs/evaluation.md).
    "synthav-small": SyncClassifierConfig(audio_widths=(16, 16, 32, 64, 64),
                                          video_widths=(16, 16, 32, 64, 64), head_dim=64,
                                          video_time_strides=(1, 1, 1), time_bins=12, video_size=64),
}


class Basic2DBlock(nn.Module):
    """Two conv3×3-BN-ReLU layers, no residual (ASVA audio.py)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))  # (B, C, N', T')
        return F.relu(self.bn2(self.conv2(x)))


class AudioConv2DNet(nn.Module):
    """Mel image (B, 1, N, T) -> (B, C·bins): a 7×7 stem and four plain conv stages, mean-pooled."""

    def __init__(self, widths: tuple[int, ...], time_bins: int = 1) -> None:
        super().__init__()
        self.time_bins = time_bins
        stem, w1, w2, w3, w4 = widths
        self.conv1 = nn.Sequential(nn.Conv2d(1, stem, 7, stride=2, padding=3, bias=False),
                                   nn.BatchNorm2d(stem), nn.ReLU(inplace=True))
        self.block1 = Basic2DBlock(stem, w1, stride=2)
        self.block2 = Basic2DBlock(w1, w2, stride=2)
        self.block3 = Basic2DBlock(w2, w3, stride=2)
        self.block4 = Basic2DBlock(w3, w4)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv1(mel)  # (B, C0, N/2, T/2)
        x = self.block4(self.block3(self.block2(self.block1(x))))  # (B, C4, N/16, T/16)
        x = F.adaptive_avg_pool1d(x.mean(dim=2), self.time_bins)  # (B, C4, bins)
        return x.flatten(1)  # (B, C4·bins)


class BasicR2P1DBlock(nn.Module):
    """(2+1)D residual block: [spatial 1×3×3, temporal 3×1×1] twice, BN after each (ASVA video.py).

    The temporal conv keeps the output width (no VMZ mid-width): the released weights are shaped so.
    `stride` is spatial; `time_stride` (default: the same) is the temporal conv's.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, time_stride: int | None = None) -> None:
        super().__init__()
        time_stride = stride if time_stride is None else time_stride
        self.spt_conv1 = nn.Conv3d(c_in, c_out, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1),
                                   bias=False)
        self.spt_bn1 = nn.BatchNorm3d(c_out)
        self.tmp_conv1 = nn.Conv3d(c_out, c_out, (3, 1, 1), stride=(time_stride, 1, 1), padding=(1, 0, 0),
                                   bias=False)
        self.tmp_bn1 = nn.BatchNorm3d(c_out)
        self.spt_conv2 = nn.Conv3d(c_out, c_out, (1, 3, 3), padding=(0, 1, 1), bias=False)
        self.spt_bn2 = nn.BatchNorm3d(c_out)
        self.tmp_conv2 = nn.Conv3d(c_out, c_out, (3, 1, 1), padding=(1, 0, 0), bias=False)
        self.out_bn = nn.BatchNorm3d(c_out)
        # A projection only where the shape changes, as in the checkpoint (conv3x.0, conv4x.0, conv5x.0).
        self.res_conv = (nn.Conv3d(c_in, c_out, 1, stride=(time_stride, stride, stride), bias=False)
                         if c_in != c_out or stride != 1 or time_stride != 1 else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.tmp_conv1(F.relu(self.spt_bn1(self.spt_conv1(x))))  # (B, C, F', H', W')
        h = F.relu(self.tmp_bn1(h))
        h = self.tmp_conv2(F.relu(self.spt_bn2(self.spt_conv2(h))))
        skip = x if self.res_conv is None else self.res_conv(x)
        return F.relu(self.out_bn(h + skip))


class VideoR2Plus1DNet(nn.Module):
    """Video (B, 3, F, S, S) -> (B, C·bins): full 3D stem, four R(2+1)D-18 stages, mean-pooled."""

    def __init__(self, widths: tuple[int, ...], time_strides: tuple[int, int, int] = (2, 2, 2),
                 time_bins: int = 1) -> None:
        super().__init__()
        self.time_bins = time_bins
        stem, w2, w3, w4, w5 = widths
        t3, t4, t5 = time_strides
        self.conv1 = nn.Sequential(
            nn.Conv3d(3, stem, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
            nn.BatchNorm3d(stem), nn.ReLU(inplace=True),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)))
        self.conv2x = nn.Sequential(BasicR2P1DBlock(stem, w2), BasicR2P1DBlock(w2, w2))
        self.conv3x = nn.Sequential(BasicR2P1DBlock(w2, w3, 2, t3), BasicR2P1DBlock(w3, w3))
        self.conv4x = nn.Sequential(BasicR2P1DBlock(w3, w4, 2, t4), BasicR2P1DBlock(w4, w4))
        self.conv5x = nn.Sequential(BasicR2P1DBlock(w4, w5, 2, t5), BasicR2P1DBlock(w5, w5))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        x = self.conv1(video)  # (B, C, F, S/4, S/4)
        x = self.conv5x(self.conv4x(self.conv3x(self.conv2x(x))))  # (B, C5, F', S/32, S/32)
        x = F.adaptive_avg_pool1d(x.mean(dim=(3, 4)), self.time_bins)  # (B, C5, bins)
        return x.flatten(1)  # (B, C5·bins)


class FCHead(nn.Module):
    """cat(audio, video) (B, 2·D·bins) -> D -> D/2 -> 1, ReLU between (dropout 0 leaves 1, 4 empty)."""

    def __init__(self, dim: int, time_bins: int = 1) -> None:
        super().__init__()
        # Identity placeholders keep the checkpoint's indices fc.0 / fc.3 / fc.6 (Dropout at 1 and 4).
        self.fc = nn.Sequential(nn.Linear(2 * dim * time_bins, dim), nn.Identity(), nn.ReLU(inplace=True),
                                nn.Linear(dim, dim // 2), nn.Identity(), nn.ReLU(inplace=True),
                                nn.Linear(dim // 2, 1))

    def forward(self, audio: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.cat([audio, video], dim=1))  # (B, 2·D·bins) -> (B, 1)


def preprocess_video(video: torch.Tensor, size: int) -> torch.Tensor:
    """Video (B, 3, F, H, W) in [-1, 1] -> resized to size² (bicubic, antialias), CLIP-normalised."""
    b, _, f, h, w = video.shape
    x = (video.transpose(1, 2).reshape(b * f, 3, h, w) + 1) / 2  # (B·F, 3, H, W) in [0, 1]
    if (h, w) != (size, size):
        # ASVA resizes to (size, size) directly, then centre-crops to size (a no-op crop).
        x = F.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
    mean = x.new_tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(CLIP_STD).view(1, 3, 1, 1)
    x = (x - mean) / std
    return x.reshape(b, f, 3, size, size).transpose(1, 2)  # (B, 3, F, size, size)


class SyncClassifier(nn.Module):
    """score(audio mel, video): higher means more synchronised; unbounded logit."""

    def __init__(self, config: SyncClassifierConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or SyncClassifierConfig()
        self.audio_encoder = AudioConv2DNet(config.audio_widths, config.time_bins)
        self.video_encoder = VideoR2Plus1DNet(config.video_widths, config.video_time_strides,
                                              config.time_bins)
        self.head = FCHead(config.head_dim, config.time_bins)

    def embed(self, mel: torch.Tensor, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio (B, Ca·bins) and video (B, Cv·bins) embeddings of mel (B, 1, 128, 204), video in [-1, 1]."""
        if video.ndim != 5 or video.shape[1] != 3:
            raise ValueError(f"video must be (B, 3, F, H, W), got {tuple(video.shape)}")
        if mel.ndim != 4 or mel.shape[1] != 1:
            raise ValueError(f"mel must be (B, 1, N, T), got {tuple(mel.shape)}")
        return self.audio_encoder(mel), self.video_encoder(preprocess_video(video, self.config.video_size))

    def forward(self, mel: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
        """Sync score (B,) of mel (B, 1, 128, 204) and video (B, 3, F, H, W) in [-1, 1]."""
        audio, vid = self.embed(mel, video)
        return self.head(audio, vid)[:, 0]  # (B,)
