"""The keyframe localizer (KeyVID): 2 s of audio -> the motion curve of the 48 frames it goes with.

The network is ImageBind's audio encoder rebuilt with a finer patch stride, followed by a small
fully connected head (KeyVID motion_scores/network/model.py `ScoreModel_mel`, set '1'; FACTS §12):

    mel (B, 1, 128, 198) -> patch conv, same 16x16 kernel, stride (s_f, s_t) -> LayerNorm
    -> + positions -> ImageBind blocks -> tokens (B, N, D)
    -> Linear over tokens N -> 48: one feature per output slot, h (B, 48, D)
    -> y = Linear(16·48 -> 48)(ReLU(flatten(Linear(D -> 16)(ReLU(h))))) + mean over channels of h

Slot j is frame j of the 2 s window at 24 FPS. The full preset is the paper's (stride 4 on both
axes, 29 x 46 = 1334 tokens, no CLS, 768 wide, 12 blocks); `tiny` keeps the code path at CPU size.

Initialisation from an ImageBind checkpoint (`localizer_from_imagebind`) copies the stem and the
blocks, whose shapes do not change (the patch conv keeps its 16x16 kernel, only the hop changes),
and resizes the position table from ImageBind's 12 x 19 grid to the new one (bilinear, align_corners=False, as
KeyVID's `interpolate_pos_embed` does for its UNet audio path). KeyVID's localizer re-initialised
that table instead; resizing keeps what the positions had learnt.

The network predicts; targets, loss and training live in `asva.keyframes.localizer_training`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from asva.audio.config import IMAGEBIND_FBANK, IMAGEBIND_TINY, SAMPLE_RATE, ImageBindAudioConfig
from asva.audio.fbank import check_waveform, imagebind_mel, num_frames
from asva.audio.imagebind import MODALITY, ImageBindAudioEncoder
from asva.checkpoints.audio import IMAGEBIND_AUDIO_PREFIXES
from asva.checkpoints.official import CheckpointError, check_keys, read_state_dict
from asva.checkpoints.trained import load_weights, save_weights
from asva.keyframes.selection import KeyframeSelection, select_keyframes
from asva.log import get_logger

log = get_logger(__name__)

WEIGHTS_NAME = "keyframe_localizer.safetensors"  # its JSON sidecar: keyframe_localizer.json
BUNDLED_FOLDER = "keyframe_localizer"  # inside the package's assets
# imagebind_huge.pth key prefix -> ours
_FROM_IMAGEBIND = {
    f"modality_preprocessors.{MODALITY}.": "preprocessor.",
    f"modality_trunks.{MODALITY}.blocks.": "blocks.",
}
_POS_KEY = "preprocessor.pos_embedding_helper.pos_embed"
_CLS_KEY = "preprocessor.cls_token"


@dataclass(frozen=True)
class LocalizerConfig:
    """Sizes of the localizer; `encoder` is the ImageBind audio branch it is rebuilt from."""

    encoder: ImageBindAudioConfig = field(default_factory=ImageBindAudioConfig)
    stride: tuple[int, int] = (4, 4)  # (freq, time) hop of the patch conv; ImageBind's is (10, 10)
    use_cls: bool = False  # KeyVID's localizer has no CLS token (num_cls_tokens=0)
    num_slots: int = 48  # output frames
    fps: float = 24.0  # output frames per second: the window is num_slots / fps = 2 s
    head_channels: int = 16

    def __post_init__(self) -> None:
        if isinstance(self.encoder, dict):  # from JSON
            object.__setattr__(self, "encoder", ImageBindAudioConfig(**self.encoder))
        object.__setattr__(self, "stride", tuple(self.stride))
        if len(self.stride) != 2 or any(not isinstance(s, int) or s < 1 for s in self.stride):
            raise ValueError(
                f"LocalizerConfig.stride must be two positive ints (freq, time), got {self.stride}"
            )
        if self.num_slots < 2 or self.fps <= 0 or self.head_channels < 1:
            raise ValueError(
                f"LocalizerConfig: num_slots >= 2, fps > 0 and head_channels >= 1 needed, got "
                f"{self.num_slots}, {self.fps}, {self.head_channels}"
            )
        if self.mel_frames < self.encoder.kernel_size:
            raise ValueError(
                f"LocalizerConfig: a {self.clip_seconds:g} s window gives {self.mel_frames} mel "
                f"frames, fewer than one {self.encoder.kernel_size}-frame patch"
            )

    @property
    def clip_seconds(self) -> float:
        """Length of the audio window: 2 s at full size."""
        return self.num_slots / self.fps

    @property
    def clip_samples(self) -> int:
        """Audio samples in the window (32000 at 16 kHz)."""
        return round(self.clip_seconds * SAMPLE_RATE)

    @property
    def mel_frames(self) -> int:
        """Mel frames of the window, 198 for 2 s (KeyVID cuts ImageBind's 204 to 198)."""
        return num_frames(self.clip_samples, IMAGEBIND_FBANK)

    @property
    def grid(self) -> tuple[int, int]:
        """(freq, time) patch grid: (29, 46) at full size."""
        k, (freq_hop, time_hop) = self.encoder.kernel_size, self.stride
        return ((self.encoder.num_mel_bins - k) // freq_hop + 1, (self.mel_frames - k) // time_hop + 1)

    @property
    def num_tokens(self) -> int:
        """Tokens entering the blocks: 1334 at full size (plus one with a CLS token)."""
        freq, time = self.grid
        return freq * time + int(self.use_cls)

    @property
    def mel_config(self) -> ImageBindAudioConfig:
        """ImageBind's mel front-end, cut to the window's frames instead of padded to 204."""
        return dataclasses.replace(self.encoder, target_len=self.mel_frames)


LOCALIZER_PRESETS: dict[str, LocalizerConfig] = {
    # KeyVID's localizer (FACTS §12): ImageBind-huge audio trunk, stride 4 x 4, 1334 tokens.
    "full": LocalizerConfig(),
    # CPU size: ImageBind's tiny test sizes, one patch row per 16 mel bins, the paper's time hop;
    # 8 x 46 = 368 tokens.
    "tiny": LocalizerConfig(encoder=IMAGEBIND_TINY, stride=(16, 4)),
}


def get_localizer_config(preset: str) -> LocalizerConfig:
    """The config of a named preset (`LOCALIZER_PRESETS`)."""
    if preset not in LOCALIZER_PRESETS:
        raise ValueError(f"unknown localizer preset {preset!r}; known: {sorted(LOCALIZER_PRESETS)}")
    return LOCALIZER_PRESETS[preset]


class PositionTable(nn.Module):
    """A learned position table (B-broadcast (1, N, D)), named as ImageBind's `pos_embedding_helper`."""

    def __init__(self, num_tokens: int, dim: int) -> None:
        super().__init__()
        self.pos_embed = nn.Parameter(torch.empty(1, num_tokens, dim))


class LocalizerPreprocessor(nn.Module):
    """ImageBind's audio preprocessor with a finer hop: mel (B, 1, 128, 198) -> tokens (B, N, D)."""

    def __init__(self, config: LocalizerConfig, base: nn.Module) -> None:
        super().__init__()
        self.use_cls = config.use_cls
        if config.use_cls:
            self.cls_token = base.cls_token
        self.rgbt_stem = base.rgbt_stem  # conv (same 16 x 16 kernel and weights) + LayerNorm
        self.rgbt_stem.proj.stride = config.stride  # the rebuild: only the hop changes
        self.pos_embedding_helper = PositionTable(config.num_tokens, config.encoder.embed_dim)
        if not self.pos_embedding_helper.pos_embed.is_meta:  # initialising meta tensors is slow and useless
            nn.init.normal_(self.pos_embedding_helper.pos_embed, std=config.encoder.embed_dim**-0.5)  # as IB

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.rgbt_stem(mel)  # (B, F*T, D), freq-major
        if self.use_cls:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)  # (B, 1+F*T, D)
        table = self.pos_embedding_helper.pos_embed  # (1, N, D)
        if x.shape[1] != table.shape[1]:
            raise ValueError(
                f"mel image {tuple(mel.shape[-2:])} gives {x.shape[1]} tokens; the position "
                f"table has {table.shape[1]} (the localizer takes {table.shape[1]} tokens)"
            )
        return x + table  # (B, N, D)


class KeyframeLocalizer(nn.Module):
    """Audio (2 s, 16 kHz) -> motion curve (48 frames at 24 FPS); see the module docstring."""

    def __init__(self, config: LocalizerConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or LOCALIZER_PRESETS["full"]
        # Built from a randomly initialised ImageBind branch so the stem and blocks start as IB's do;
        # its head and projection are not kept.
        base = ImageBindAudioEncoder(config.encoder)
        self.preprocessor = LocalizerPreprocessor(config, base.modality_preprocessors[MODALITY])
        self.blocks: nn.Sequential = base.blocks
        d, slots = config.encoder.embed_dim, config.num_slots
        self.to_slots = nn.Linear(config.num_tokens, slots)  # mixes tokens into one feature per slot
        self.channel_proj = nn.Linear(d, config.head_channels)
        self.slot_mix = nn.Linear(config.head_channels * slots, slots)

    def mel(self, audio: torch.Tensor) -> torch.Tensor:
        """ImageBind's normalised mel of (B, S) 16 kHz audio, cut/padded to the window: (B, 1, 128, 198)."""
        return imagebind_mel(audio, self.config.mel_config)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Motion-curve scores (B, num_slots) from the mel image (B, 1, 128, 198)."""
        x = self.blocks(self.preprocessor(mel))  # (B, N, D)
        h = self.to_slots(x.transpose(1, 2)).transpose(1, 2)  # (B, S, D), S = num_slots
        y = self.slot_mix(F.relu(self.channel_proj(F.relu(h))).flatten(1))  # (B, S)
        return y + h.mean(dim=-1)  # (B, S)

    @torch.no_grad()
    def predict(self, audio: torch.Tensor | np.ndarray) -> torch.Tensor:
        """The motion curve (B, 48) of 16 kHz mono audio (S,) or (B, S), from its first 2 s.

        Shorter audio is zero-padded in the mel domain (as ImageBind pads); the curve is about [0, 1]
        (trained on min-max normalised targets), one value per frame at 24 FPS.
        """
        wave = torch.as_tensor(audio)
        wave = wave[None] if wave.ndim == 1 else wave  # (B, S)
        check_waveform(wave, SAMPLE_RATE)
        param = next(self.parameters())
        wave = wave[:, : self.config.clip_samples].to(device=param.device, dtype=param.dtype)  # (B, S')
        return self(self.mel(wave))  # (B, 48)

    def keyframes(
        self, audio: torch.Tensor | np.ndarray, num_keyframes: int = 12, seed: int = 0
    ) -> KeyframeSelection:
        """Keyframes of one clip's audio (S,) or (1, S): `select_keyframes` on the predicted curve."""
        wave = torch.as_tensor(audio)
        if wave.ndim == 2 and wave.shape[0] != 1:
            raise ValueError(
                f"keyframes takes one clip's audio, got a batch of {wave.shape[0]}; "
                "use predict() and select_keyframes() per clip"
            )
        curve = self.predict(wave)  # (1, 48)
        return select_keyframes(curve[0].float().cpu().numpy(), num_keyframes, seed)


def interpolate_pos_embed(
    table: torch.Tensor,
    source_grid: tuple[int, int],
    target_grid: tuple[int, int],
    source_cls: bool = True,
    target_cls: bool = False,
) -> torch.Tensor:
    """Resize a (1, [1+] F*T, D) freq-major position table to another grid (bilinear, align_corners=False).

    The CLS row, when the source has one, is kept in front if `target_cls`, dropped otherwise.
    """
    freq, time = source_grid
    cls, patches = (table[:, :1], table[:, 1:]) if source_cls else (table[:, :0], table)
    if patches.shape[1] != freq * time:
        raise ValueError(
            f"position table has {patches.shape[1]} patch rows, grid {source_grid} needs {freq * time}"
        )
    if target_cls and not source_cls:
        raise ValueError("the source table has no CLS row to keep")
    grid = patches.reshape(1, freq, time, -1).permute(0, 3, 1, 2)  # (1, D, F, T)
    grid = F.interpolate(grid.float(), size=target_grid, mode="bilinear", align_corners=False)
    resized = grid.permute(0, 2, 3, 1).flatten(1, 2).to(table.dtype)  # (1, F'*T', D)
    return torch.cat([cls, resized], dim=1) if target_cls else resized


def localizer_from_imagebind(
    path: str | Path, config: LocalizerConfig | None = None, *, device: torch.device | str = "cpu"
) -> KeyframeLocalizer:
    """A localizer whose stem and blocks come from an ImageBind file (e.g. imagebind_huge.pth).

    Every stem and block weight must be in the file with the shape `config.encoder` implies (a
    mismatch means the wrong preset and raises); the position table is resized to the new grid;
    the head starts fresh; ImageBind's own head and other modalities are ignored.
    """
    config = config or LOCALIZER_PRESETS["full"]
    state = read_state_dict(path)
    ours: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for prefix, new in _FROM_IMAGEBIND.items():
            if key.startswith(prefix):
                ours[new + key[len(prefix) :]] = value
    if not ours:
        wanted = ", ".join(p + "*" for p in IMAGEBIND_AUDIO_PREFIXES[:2])
        raise CheckpointError(f"{path}: no ImageBind audio entries ({wanted})")
    model = KeyframeLocalizer(config)
    source_pos = ours.pop(_POS_KEY, None)
    if source_pos is None:
        raise CheckpointError(f"{path}: no modality_preprocessors.{MODALITY}.pos_embedding_helper.pos_embed")
    if source_pos.shape != (1, config.encoder.num_tokens, config.encoder.embed_dim):
        raise CheckpointError(
            f"{path}: pos_embed has shape {list(source_pos.shape)}, the ImageBind config "
            f"implies {[1, config.encoder.num_tokens, config.encoder.embed_dim]}"
        )
    if not config.use_cls:
        ours.pop(_CLS_KEY, None)
    ours[_POS_KEY] = interpolate_pos_embed(source_pos, config.encoder.grid, config.grid, True, config.use_cls)
    fresh = {
        k: v
        for k, v in model.state_dict().items()
        if k.startswith(("to_slots.", "channel_proj.", "slot_mix."))
    }
    check_keys(model, {**ours, **fresh}, str(path))
    model.load_state_dict({**ours, **fresh}, strict=True)
    log.info(
        "%s: copied %d ImageBind audio tensors into the localizer, resized pos_embed %s -> %s; "
        "head (%d tensors) starts fresh",
        path,
        len(ours) - 1,
        config.encoder.grid,
        config.grid,
        len(fresh),
    )
    return model.to(device)


def config_to_dict(config: LocalizerConfig) -> dict[str, Any]:
    """The config as JSON-ready nested dicts."""
    return dataclasses.asdict(config)


def config_from_dict(raw: Any, source: str) -> LocalizerConfig:
    """A `LocalizerConfig` from its JSON form; unknown or invalid fields raise `CheckpointError`."""
    if not isinstance(raw, dict):
        raise CheckpointError(f"{source}: 'config' must be an object, got {type(raw).__name__}")
    names = {f.name for f in dataclasses.fields(LocalizerConfig)}
    encoder_names = {f.name for f in dataclasses.fields(ImageBindAudioConfig)}
    encoder_keys = set(raw.get("encoder", {}))
    unknown = sorted(set(raw) - names) + sorted(f"encoder.{k}" for k in encoder_keys - encoder_names)
    if unknown:
        raise CheckpointError(f"{source}: unknown localizer config keys {unknown}")
    try:
        return LocalizerConfig(**raw)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{source}: invalid localizer config: {err}") from err


def save_localizer(model: KeyframeLocalizer, folder: str | Path, notes: dict[str, Any] | None = None) -> Path:
    """Write `keyframe_localizer.safetensors` + `.json` (config and `notes`) into `folder`, atomically."""
    meta = {"kind": "keyframe_localizer", "config": config_to_dict(model.config), **(notes or {})}
    return save_weights(Path(folder) / WEIGHTS_NAME, model.state_dict(), meta)


def load_localizer(
    folder: str | Path, *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> KeyframeLocalizer:
    """Load a localizer saved by `save_localizer` (a folder, or its .safetensors file), frozen, eval mode."""
    path = Path(folder)
    path = path if path.suffix == ".safetensors" else path / WEIGHTS_NAME
    state, meta = load_weights(path)
    config = config_from_dict(meta.get("config"), str(path))
    with torch.device("meta"):
        model = KeyframeLocalizer(config)
    check_keys(model, state, str(path))
    model.to_empty(device=device)
    model.load_state_dict(state, strict=True)
    return model.to(dtype=dtype).requires_grad_(False).eval()


def bundled_localizer_folder() -> Path:
    """Where the shipped localizer (trained on SynthAV) lives inside the package."""
    return Path(str(resources.files("asva.assets").joinpath(BUNDLED_FOLDER)))


def bundled_localizer(*, device: torch.device | str = "cpu") -> KeyframeLocalizer | None:
    """The shipped tiny localizer, or None when the package holds none."""
    folder = bundled_localizer_folder()
    if not (folder / WEIGHTS_NAME).is_file():
        return None
    return load_localizer(folder, device=device)
