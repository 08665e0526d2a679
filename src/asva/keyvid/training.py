"""Training KeyVID's two networks: the clips each stage sees, what trains, and the loss (FACTS §5, §11, §12).

Data (KeyVID lvdm/data/avsync15.py). `KeyframeClips` wraps clips of 2 s at 24 FPS, the 48 frame
slots of KeyVID's index space, and adds each clip's motion curve (`motion_score` of its own frames)
and 12 training keyframes (`training_keyframes`: with probability `keyframe_ratio` the rule KeyVID
built its training data with, `select_training_keyframes`; otherwise 12 consecutive frames).

Keyframe stage (`keyframe`, the generator; configs/training/keyframe_generation.yaml). The network
sees the frames at the keyframe slots: concat = the first frame's latent at every frame, image tokens
= the Resampler's groups at those slots, audio tokens = KeyVID's chunk-of-12 selection at those
slots, the frame-index embedding of the slots, fs = `fps_label` of the slots (6 for keyframes about
4 apart, 24 for consecutive frames).

Interpolate stage (`interpolate`, the interpolator; avsync15_interp.py, keyframe_interpolation.yaml).
The network sees F consecutive frames from the window start at a stride of 1 or 2 slots
(`interpolation_window`; KeyVID: F = 12); the keyframes among them are known: their latents in the
concat, zeros elsewhere (`masked_condition`), or the first and last frame when at most one is.
Image and audio tokens are taken at the window's slots as in the keyframe stage (KeyVID trains with
`select_keyframe: true`; its inference uses all 48 image groups and resized audio chunks); no
frame-index embedding; fs = `fps_label` (24 or 12). The loss covers every frame.

What trains (KeyVID `finetune: 2`, main/utils_train.py), chosen by module type in the stage's UNet
(`keyvid_trainable`): every temporal transformer but `init_attn` (projections and blocks, not its
GroupNorm), every ResBlock's temporal convolution, the fps embedding and all of KeyVID's extras; and
the stage's Resampler. KeyVID also trains ImageBind's audio stem, new after its stride change; here
both networks share one frozen audio encoder, so it stays frozen.

Condition dropout (KeyVID ddpm3d.py `get_batch_input`): one r ~ U(0, 1) per clip drops the text
when r < 2p, the image (CLIP of a zero image) when p <= r < 3p and the audio (zero mel) when
2p <= r < 4p, p = `cond_dropout`; the concat latent is never dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from einops import repeat
from torch import Tensor, nn
from torch.utils.data import Dataset

from asva.adapters.model import AudioAnimationModel
from asva.backbone.unet import ResBlock
from asva.checkpoints.folder import ModelFolder, load_model, load_one_encoder
from asva.checkpoints.keyvid import load_keyvid_model
from asva.diffusion.schedule import NoiseSchedule
from asva.keyframes.motion import motion_score
from asva.keyframes.selection import select_training_keyframes
from asva.keyvid.config import KEYVID_SLOTS, keyvid_settings
from asva.keyvid.features import keyframe_audio_tokens, select_token_groups
from asva.keyvid.interpolation import masked_condition
from asva.keyvid.model import KeyVIDModel, keyvid_from_backbone
from asva.keyvid.unet import AUDIO_SEGMENTS, FRAME_INDEX, KeyVIDExtras, keyvid_prediction
from asva.log import get_logger
from asva.media import tensor_to_uint8
from asva.presets import Preset
from asva.train.config import KEYVID_FINETUNE
from asva.train.losses import Batch

log = get_logger(__name__)

_STREAM = 0x4B56  # a random stream of its own: the wrapped dataset draws from (seed, epoch, index)


# -- data ------------------------------------------------------------------------------------------
def training_keyframes(curve: np.ndarray, num_frames: int, num_keyframes: int, keyframe_ratio: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Sorted distinct slots (K,) of one training clip: KeyVID's rule with probability `keyframe_ratio`
    (`select_training_keyframes` on the motion curve), otherwise the K consecutive frames 0…K−1."""
    if rng.random() < keyframe_ratio:
        seed = int(rng.integers(2**32))
        return select_training_keyframes(curve, num_keyframes, seed, num_frames=num_frames).indices
    return np.arange(num_keyframes, dtype=np.int64)


class KeyframeClips(Dataset):
    """Clips of 2 s at 24 FPS with their motion curve and training keyframes (KeyVID's training data).

    Wraps a dataset whose items hold `video` (3, 48, H, W) in [-1, 1] (e.g. `AVClipDataset` read at
    24 FPS for 2 s) and adds `motion` (47,) float32, the clip's `motion_score` at its own resolution
    (KeyVID measures RAFT flow on the video as it is), and `keyframes` (K,) long from
    `training_keyframes`, drawn from (seed, epoch, index): a resumed run sees the same keyframes.
    """

    def __init__(self, clips: Any, num_keyframes: int = 12, keyframe_ratio: float = 0.4, seed: int = 0,
                 flow: str = "dis", max_side: int | None = None) -> None:
        if not 0.0 <= keyframe_ratio <= 1.0:
            raise ValueError(f"keyframe_ratio must be in [0, 1], got {keyframe_ratio}")
        self.clips, self.num_keyframes, self.keyframe_ratio = clips, num_keyframes, keyframe_ratio
        self.seed, self.epoch, self.flow, self.max_side = seed, 0, flow, max_side

    def __len__(self) -> int:
        return len(self.clips)

    def set_epoch(self, epoch: int) -> None:
        """Draw the keyframes (and, through the wrapped dataset, the clip starts) of `epoch`."""
        self.epoch = epoch
        if hasattr(self.clips, "set_epoch"):
            self.clips.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.clips[index]
        video = item["video"]  # (3, T, H, W)
        if video.ndim != 4 or video.shape[1] != KEYVID_SLOTS:
            raise ValueError(f"KeyVID trains on clips of {KEYVID_SLOTS} frames (2 s at 24 FPS); item {index} "
                             f"has video of shape {tuple(video.shape)}: read the clips at 24 FPS")
        motion = motion_score(tensor_to_uint8(video), self.flow, self.max_side)  # (47,)
        rng = np.random.default_rng([self.seed, self.epoch, index, _STREAM])
        keyframes = training_keyframes(motion, KEYVID_SLOTS, self.num_keyframes, self.keyframe_ratio, rng)
        return {**item, "motion": torch.from_numpy(motion), "keyframes": torch.from_numpy(keyframes)}


def fps_label(slots: Tensor, fps: float) -> Tensor:
    """KeyVID's fs label of each clip's frames: slots (B, F) → (B,) long, the truncated mean over
    frames of int(fps / stride), the first stride repeated (avsync15.py `fps_clip`)."""
    strides = slots.diff(dim=1)  # (B, F − 1)
    strides = torch.cat([strides[:, :1], strides], dim=1).clamp_min(1)  # (B, F)
    return torch.floor(fps / strides.double()).mean(dim=1).long()


def interpolation_window(keyframes: Tensor, frames: int, max_stride: int, slots: int,
                         generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """The interpolator's training frames: keyframe slots (B, K) → window slots (B, F), known (B, F).

    F consecutive slots from 0 at a stride drawn in 1…max_stride (less if the window would pass the
    last slot); known marks the keyframes among them, or the first and last frame when at most one is
    (KeyVID avsync15_interp.py `is_keyframe`).
    """
    if not 2 <= frames <= slots:
        raise ValueError(f"the interpolation window needs 2 to {slots} frames, got {frames}")
    batch, device = keyframes.shape[0], keyframes.device
    top = min(max_stride, (slots - 1) // (frames - 1))
    stride = torch.randint(1, top + 1, (batch, 1), generator=generator, device=generator.device)
    window = torch.arange(frames, device=device)[None] * stride.to(device)  # (B, F)
    known = (window[:, :, None] == keyframes[:, None, :]).any(dim=2)  # (B, F)
    few = known.sum(dim=1) <= 1
    known[few, 0] = True
    known[few, -1] = True
    return window, known


# -- what trains -----------------------------------------------------------------------------------
class ParameterView(nn.Module):
    """Chosen submodules and parameters of `root` under their dotted names ('.' written '/'): one module
    holding exactly the weights a stage trains, for the recipe to train, checkpoint and restore."""

    def __init__(self, root: nn.Module, modules: list[str], parameters: list[str]) -> None:
        super().__init__()
        self.parts = nn.ModuleDict({_key(name): root.get_submodule(name) for name in modules})
        self.params = nn.ParameterDict({_key(name): root.get_parameter(name) for name in parameters})


def _key(name: str) -> str:
    return name.replace(".", "/")  # ModuleDict and ParameterDict keys may not hold dots


def _stage_network(model: KeyVIDModel, stage: str) -> tuple[nn.Module, nn.Module, KeyVIDExtras]:
    """The UNet, Resampler and KeyVID extras a stage trains."""
    if stage == "keyframe":
        return model.generator_unet, model.backbone.resampler, model.generator_extras
    if stage == "interpolate":
        return model.interpolator_unet, model.interpolator_resampler, model.interpolator_extras
    raise ValueError(f"KeyVID stages are 'keyframe' and 'interpolate', got {stage!r}")


def keyvid_added(model: KeyVIDModel, stage: str) -> list[nn.Parameter]:
    """The parameters KeyVID added to the stage's UNet (those `TrainConfig.added_lr_scale` scales)."""
    return list(_stage_network(model, stage)[2].parameters())


def keyvid_trainable(model: KeyVIDModel, stage: str, finetune: str = "temporal") -> dict[str, nn.Module]:
    """The parts a KeyVID stage trains, by module type: with `finetune="temporal"` KeyVID's `finetune: 2`
    (see the module docstring); with `"unet"` the stage's whole UNet (its KeyVID extras included)."""
    unet, resampler, extras = _stage_network(model, stage)
    if finetune == "unet":
        return {"unet": unet, "resampler": resampler}
    if finetune not in KEYVID_FINETUNE:
        raise ValueError(f"finetune must be one of {KEYVID_FINETUNE}, got {finetune!r}")
    first_layer = {id(m) for m in unet.init_attn.modules()}
    modules = ["fps_embedding"]
    for name, block in unet.temporal_transformers():
        if id(block) not in first_layer:
            modules += [f"{name}.proj_in", f"{name}.transformer_blocks", f"{name}.proj_out"]
    modules += [f"{name}.temopral_conv" for name, m in unet.named_modules() if isinstance(m, ResBlock)]
    added = {id(p) for p in extras.parameters()}
    parameters = [name for name, p in unet.named_parameters() if id(p) in added]
    return {"unet_parts": ParameterView(unet, modules, parameters), "resampler": resampler}


def keyvid_training_model(init: str | Path | None, preset: Preset, seed: int = 0,
                          audio_weights: str | Path | None = None) -> KeyVIDModel:
    """A KeyVID stage's starting model: a KeyVID folder as it is (the keyframe stage's output starts
    the interpolate stage), or any model folder's backbone through `keyvid_from_backbone`.

    `audio_weights` (only from a backbone): an audio-encoder file (`asva.audio.pretrain`) whose
    ImageBind encoder replaces the seeded random one; it stays frozen and is saved with the model."""
    if init is None:
        raise ValueError("KeyVID stages need --init: a model folder holding the frozen backbone "
                         "(or a KeyVID folder, e.g. the keyframe stage's output)")
    spec = ModelFolder.read(init)
    if spec.preset.name != preset.name:
        raise ValueError(f"{init} holds a {spec.preset.name!r} model; this run trains {preset.name!r}")
    if "keyvid" in spec.files:
        if audio_weights is not None:
            raise ValueError(f"{init} is a KeyVID folder: it keeps its own audio encoder; audio_weights "
                             "starts a KeyVID model from a backbone only")
        log.info("KeyVID model from %s", init)
        return load_keyvid_model(init)[0]
    _, loaded, _ = load_model(init)
    backbone = loaded.backbone if isinstance(loaded, AudioAnimationModel) else loaded
    model = keyvid_from_backbone(backbone, preset, seed)
    if audio_weights is not None:
        load_one_encoder(model.audio_encoder, "imagebind", Path(audio_weights))
    log.info("KeyVID model from the backbone of %s: new extras, Resampler queries resized to %d slots, "
             "audio encoder %s", init, KEYVID_SLOTS,
             f"from {audio_weights}" if audio_weights is not None else "with seeded random weights")
    return model


# -- the loss --------------------------------------------------------------------------------------
def keyvid_dropout(batch: int, p: float, generator: torch.Generator, device: torch.device
                   ) -> tuple[Tensor, Tensor, Tensor]:
    """KeyVID's condition dropout, (B,) bool each for text, image, audio (the module docstring)."""
    r = torch.rand(batch, generator=generator, device=device)
    return r < 2 * p, (r >= p) & (r < 3 * p), (r >= 2 * p) & (r < 4 * p)


def keyvid_loss(
    model: KeyVIDModel,
    stage: str,
    tokens: Tensor,
    null_tokens: Tensor,
    batch: Batch,
    schedule: NoiseSchedule,
    cond_dropout: float,
    generator: torch.Generator,
    window_frames: int = 12,
    max_stride: int = 2,
) -> Tensor:
    """MSE between the stage's network prediction and the schedule's target at random t (DC p_losses).

    `batch.video` holds 48-slot clips (B, 3, 48, H, W), `batch.keyframes` their keyframe slots
    (B, K); `tokens` (B, 77) the prompts, `null_tokens` (1, 77) the "" prompt.
    """
    s = keyvid_settings(model.preset)
    video, keyframes = batch.video, batch.keyframes
    if keyframes is None or video.ndim != 5 or video.shape[2] != s.frame_slots:
        raise ValueError(f"KeyVID stages need 48-slot clips (B, 3, {s.frame_slots}, H, W) with keyframes "
                         f"(B, K) (`KeyframeClips`); got video {tuple(video.shape)}, keyframes "
                         f"{None if keyframes is None else tuple(keyframes.shape)}")
    b, device = video.shape[0], video.device
    backbone = model.backbone

    # 1. The frames the network sees (slots (B, F)) and, for the interpolator, which are known.
    if stage == "keyframe":
        unet, resampler, slots, known = model.generator_unet, backbone.resampler, keyframes.long(), None
    elif stage == "interpolate":
        unet, resampler = model.interpolator_unet, model.interpolator_resampler
        slots, known = interpolation_window(keyframes.long(), window_frames, max_stride, s.frame_slots,
                                            generator)
    else:
        raise ValueError(f"KeyVID stages are 'keyframe' and 'interpolate', got {stage!r}")
    frames = torch.take_along_dim(video, slots[:, None, :, None, None], dim=2)  # (B, 3, F, H, W)

    # 2. The frozen encoders: latents, text, CLIP tokens of the first frame (and of a zero image),
    #    ImageBind tokens of the audio (and of a zero mel).
    with torch.no_grad():
        x0 = backbone.vae.encode(frames, generator=generator)  # (B, 4, F, h, w)
        text = backbone.encode_text(torch.cat([tokens, null_tokens[:1]]))  # (B + 1, 77, D)
        clip = backbone.image_encoder(torch.cat([frames[:, :, 0], torch.zeros_like(frames[:1, :, 0])]))
        audio = model.audio_tokens(batch.audio)  # (B, N, D_a)
        audio_null = model.audio_tokens(batch.audio[:1], null=True)  # (1, N, D_a)
    image = resampler(clip)  # (B + 1, 48·n, D): the Resampler trains

    # 3. Conditions with KeyVID's dropout, taken at the frames' slots.
    drop_text, drop_image, drop_audio = keyvid_dropout(b, cond_dropout, generator, device)
    text = torch.where(drop_text[:, None, None], text[b:], text[:b])  # (B, 77, D)
    image = torch.where(drop_image[:, None, None], image[b:], image[:b])  # (B, 48·n, D)
    audio = torch.where(drop_audio[:, None, None], audio_null, audio)  # (B, N, D_a)
    per_frame = unet.config.image_tokens_per_frame
    freq = model.audio_encoder.config.grid[0]
    segments = keyframe_audio_tokens(audio, freq, slots, s.frame_slots, s.audio_group)  # (B, F, 12, D_a)
    cond = {
        "context": torch.cat([text, select_token_groups(image, slots, per_frame)], dim=1),  # (B, 77 + F·n, D)
        "fs": fps_label(slots, s.fps),
        AUDIO_SEGMENTS: segments,
    }
    if known is None:  # keyframe generator: the first frame's latent everywhere, frame-index embedding
        cond["concat"] = repeat(x0[:, :, :1], "b c 1 h w -> b c f h w", f=x0.shape[2])
        cond[FRAME_INDEX] = slots
    else:  # interpolator: known frames' latents at their frames, zeros elsewhere
        positions = [row.nonzero()[:, 0] for row in known]
        cond["concat"] = torch.cat([masked_condition(x0[i : i + 1, :, k], k, x0.shape[2])[0]
                                    for i, k in enumerate(positions)])  # (B, 4, F, h, w)

    # 4. Noise at random t; the loss covers every frame.
    t = schedule.draw_timesteps(b, generator, device)
    noise = torch.randn(x0.shape, generator=generator, device=device)
    x_t, target = schedule.training_pair(x0, t, noise)
    prediction = keyvid_prediction(unet, x_t, t, cond)
    return F.mse_loss(prediction.float(), target.float())


__all__ = [
    "KeyframeClips",
    "ParameterView",
    "fps_label",
    "interpolation_window",
    "keyvid_dropout",
    "keyvid_loss",
    "keyvid_trainable",
    "keyvid_training_model",
    "training_keyframes",
]
