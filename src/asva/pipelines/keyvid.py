"""`KeyframePipeline`: image + audio (+ prompt) -> 48 frames, KeyVID's way: keyframes first, then the rest.

The steps follow KeyVID's two inference scripts (scripts/evaluation/asva/
pipeline_audio_cond_animation_keyframe_add_idx.py, then ..._freenoise_inpainting_new.py; FACTS §5,
§11, §12), with our sampler and guidance:

1. The audio's motion curve (the keyframe localizer, 48 values at 24 FPS) and the keyframes chosen
   on it (`asva.keyframes.selection.select_keyframes`, 12 of the 48 slots).
2. The keyframe generator samples those 12 frames: concat = the image latent at every keyframe,
   per-keyframe image tokens (Resampler slots at the keyframe indices) and audio tokens (KeyVID's
   chunk-of-12 selection), frame-index embedding, fs 6; 4-pass guidance none → +image → +text →
   +audio (audio scale 7.5 by default; the tiny preset's defaults are in `asva.keyvid.config.SETTINGS`).
3. The keyframes are decoded and re-encoded (KeyVID re-reads its saved keyframe clips), and the
   interpolator samples all 48 frames: concat = keyframe latents at their indices, zeros elsewhere
   (`masked_condition`); x̂0 of the keyframes pinned for the first step(s); FreeNoise noise and
   window fusion (12-frame windows every 6 frames, the interpolator's training length); fs 24;
   audio scale 9.0 by default (KeyVID pins only the first step; `tiny` pins every step).

The generated clip and the stages' intermediate results come back in a `KeyframeResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from einops import rearrange, repeat

from asva.backbone.tokenizer import BPETokenizer
from asva.checkpoints.backbone import load_tokenizer, resolve_preset
from asva.checkpoints.folder import ModelFolder
from asva.checkpoints.keyvid import load_keyvid_model
from asva.diffusion.ddim import StepCallback, ddim_sample, share_frame_means
from asva.diffusion.guidance import GuidedDenoiser
from asva.keyframes.localizer import bundled_localizer
from asva.keyframes.selection import KeyframeSelection, select_keyframes, uniform_indices
from asva.keyvid.config import KeyVIDSettings, keyvid_settings
from asva.keyvid.features import interpolation_audio_tokens, keyframe_audio_tokens, select_token_groups
from asva.keyvid.freenoise import freenoise_noise, windowed_temporal_attention
from asva.keyvid.interpolation import KeyframeAnchoredDenoiser, masked_condition
from asva.keyvid.model import KeyVIDModel, build_keyvid_model
from asva.keyvid.unet import AUDIO_SEGMENTS, FRAME_INDEX, keyvid_prediction
from asva.log import get_logger
from asva.media import tensor_to_uint8
from asva.pipelines.animate import AnimatePipeline, AnimationResult, _check_positive_int
from asva.presets import Preset

log = get_logger(__name__)

BUNDLED_KEYVID_MODEL = "models/tiny-keyvid"  # inside the package's assets (scripts/train_keyvid.sh)
Tensor = torch.Tensor
# select(curve (48,), num_keyframes, seed) -> KeyframeSelection; `select_keyframes` by default
KeyframeSelector = Callable[[np.ndarray, int, int], KeyframeSelection]


def bundled_keyvid_folder() -> Path | None:
    """The shipped tiny KeyVID model's folder, or None while none has been trained and installed."""
    folder = Path(str(resources.files("asva.assets").joinpath(BUNDLED_KEYVID_MODEL)))
    return folder if (folder / "asva.json").is_file() else None


class NoKeyframeModelError(ValueError):
    """The model folder holds no KeyVID weights (so it cannot run keyframe mode)."""


@dataclass
class KeyframeResult(AnimationResult):
    """An `AnimationResult` plus what the two stages produced on the way."""

    keyframe_indices: np.ndarray | None = None  # (K,) slots of the 48-frame window
    keyframes: torch.Tensor | None = None  # (1, 3, K, H, W) the generated keyframes, in [-1, 1]
    keyframe_latents: torch.Tensor | None = None  # (1, 4, K, h, w) re-encoded, as the interpolator saw them
    condition: torch.Tensor | None = None  # (1, 4, F, h, w) the interpolator's concat latent


@dataclass(frozen=True)
class _Sampling:
    """One request's sampler settings, the unset ones taken from the pipeline's `KeyVIDSettings`."""

    steps: int
    eta: float  # keyframe stage
    eta_interpolation: float
    guidance_image: float
    guidance_text: float
    guidance_audio: float  # keyframe stage
    guidance_audio_interpolation: float


@dataclass(frozen=True)
class _Inputs:
    """What both stages read (real, null) pairs for each condition."""

    z_image: torch.Tensor  # (1, 4, 1, h, w)
    sound: torch.Tensor  # (1, S) 16 kHz
    text: tuple[torch.Tensor, torch.Tensor]  # (1, 77, D) each
    clip: tuple[torch.Tensor, torch.Tensor]  # (1, N, 1280) each
    audio: tuple[torch.Tensor, torch.Tensor]  # ImageBind trunk tokens (1, 1 + F·T, D_a) each


class KeyframePipeline(AnimatePipeline):
    """Image + audio (+ prompt) -> video through keyframes; see the module docstring and `__call__`.

    Image and audio preparation and the text context are `AnimatePipeline`'s.
    """

    def __init__(
        self,
        model: KeyVIDModel,
        tokenizer: BPETokenizer,
        device: str | torch.device = "cpu",
        localizer: Any | None = None,
        select: KeyframeSelector = select_keyframes,
        settings: KeyVIDSettings | None = None,
    ) -> None:
        super().__init__(model.backbone, model.preset, tokenizer, device)
        self.model = model.to(self.device)
        self.localizer = localizer  # anything with .predict(audio (1, S)) -> (1, 48); None: uniform keyframes
        self.select = select
        self.settings = settings or keyvid_settings(model.preset)

    @classmethod
    def from_preset(  # type: ignore[override]
        cls,
        preset: str | Preset = "tiny",
        vocab: str | Path | None = None,
        device: str | torch.device = "cpu",
        localizer: Any | None = None,
    ) -> KeyframePipeline:
        """A KeyVID model of `preset` with RANDOM weights (tests, demos of the code path)."""
        preset = resolve_preset(preset)
        log.warning("KeyVID model %r has RANDOM weights", preset.name)
        return cls(build_keyvid_model(preset), load_tokenizer(preset, vocab), device, localizer)

    @classmethod
    def from_model(cls, model: str | Path = "tiny", device: str | torch.device = "cpu") -> KeyframePipeline:
        """Build from `tiny` (the bundled tiny KeyVID model; random weights, with a warning, while none
        is installed) or a model folder whose `asva.json` names a "keyvid" file; raises
        `NoKeyframeModelError` when it names none."""
        localizer = _default_localizer(device)
        folder = bundled_keyvid_folder() if str(model) == "tiny" else Path(model)
        if folder is None:
            log.warning("the bundled tiny KeyVID model is not trained yet (scripts/train_keyvid.sh)")
            return cls.from_preset("tiny", device=device, localizer=localizer)
        spec = ModelFolder.read(folder)
        if "keyvid" not in spec.files:
            raise NoKeyframeModelError(
                f"{spec.folder} has no KeyVID weights: its asva.json names no 'keyvid' file "
                "(this model animates with uniform frames only: use --mode uniform)"
            )
        keyvid, _ = load_keyvid_model(folder)
        return cls(keyvid, load_tokenizer(spec.preset, spec.files.get("vocab")), device, localizer)

    # -- the whole job -----------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(  # type: ignore[override]
        self,
        image: str | Path | np.ndarray,
        prompt: str = "",
        *,
        audio: np.ndarray,
        frames: int = 48,
        fps: float = 24,
        steps: int | None = None,
        guidance_image: float | None = None,
        guidance_text: float | None = None,
        guidance_audio: float | None = None,
        eta: float | None = None,
        seed: int = 0,
        progress: Callable[[int, int], None] | None = None,
    ) -> KeyframeResult:
        """Animate `image` with `audio` (mono float32, 16 kHz): 48 frames (2 s at 24 FPS).

        Unset options take KeyVID's defaults (`KeyVIDSettings`); `guidance_audio` and `eta`, when
        given, are used by both stages (KeyVID: audio 7.5 for the keyframes, 9.0 for the
        interpolation; the tiny preset: 4.0 for both; η 1 in both).
        """
        run = self._sampling(frames, fps, steps, guidance_image, guidance_text, guidance_audio, eta, audio)
        generator = torch.Generator(self.device).manual_seed(seed)
        total_steps = 2 * len(self.schedule.ddim_timesteps(run.steps))

        # 1. Inputs: image pixels and latent, the clip's audio, the keyframes on its motion curve.
        inputs = self._inputs(image, prompt, audio, frames, fps, generator)
        indices = self._keyframes(inputs.sound, seed)  # (K,)
        index = torch.as_tensor(indices, device=self.device)[None]  # (1, K)

        # 2. Keyframe stage, then the keyframes through pixels and back (KeyVID saves them as a clip
        #    and re-encodes it).
        keyframes = self._generate_keyframes(inputs, index, run, generator,
                                             _progress(progress, 0, total_steps))  # (1, 3, K, H, W)
        z_keys = self.backbone.vae.encode(keyframes, generator=generator)  # (1, 4, K, h, w)

        # 3. Interpolation stage: every frame of the window around the pinned keyframes.
        video, condition = self._interpolate(inputs, z_keys, index, frames, run, generator,
                                             _progress(progress, total_steps // 2, total_steps))
        return KeyframeResult(
            video=video, fps=float(fps), audio=inputs.sound[0].cpu().numpy(),
            keyframe_indices=indices, keyframes=keyframes.float().cpu(),
            keyframe_latents=z_keys.float().cpu(), condition=condition.float().cpu(),
        )

    @torch.no_grad()
    def generate_keyframes(
        self,
        image: str | Path | np.ndarray,
        prompt: str = "",
        *,
        audio: np.ndarray,
        indices: Sequence[int] | np.ndarray | None = None,
        fps: float = 24,
        steps: int | None = None,
        guidance_image: float | None = None,
        guidance_text: float | None = None,
        guidance_audio: float | None = None,
        eta: float | None = None,
        seed: int = 0,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The keyframe generator alone: (frames (K, H, W, 3) uint8, slots (K,)).

        The slots are the localizer's, as in `__call__` (whose keyframes these are, for the same
        seed and settings), or the sorted, distinct `indices` of the 48-frame window. Useful to look
        at what the generator draws before the interpolator fills the frames between.
        """
        s = self.settings
        run = self._sampling(s.frame_slots, fps, steps, guidance_image, guidance_text, guidance_audio, eta,
                             audio)
        generator = torch.Generator(self.device).manual_seed(seed)
        inputs = self._inputs(image, prompt, audio, s.frame_slots, fps, generator)
        slots = (self._keyframes(inputs.sound, seed) if indices is None
                 else _check_slots(indices, len(indices), s.frame_slots))
        index = torch.as_tensor(slots, device=self.device)[None]  # (1, K)
        total = len(self.schedule.ddim_timesteps(run.steps))
        keyframes = self._generate_keyframes(inputs, index, run, generator, _progress(progress, 0, total))
        return tensor_to_uint8(keyframes[0].float().cpu()), slots

    @torch.no_grad()
    def interpolate(
        self,
        image: str | Path | np.ndarray,
        keyframes: np.ndarray,
        indices: Sequence[int] | np.ndarray,
        prompt: str = "",
        *,
        audio: np.ndarray,
        frames: int = 48,
        fps: float = 24,
        steps: int | None = None,
        guidance_image: float | None = None,
        guidance_text: float | None = None,
        guidance_audio: float | None = None,
        eta: float | None = None,
        seed: int = 0,
        progress: Callable[[int, int], None] | None = None,
    ) -> KeyframeResult:
        """The motion interpolator alone: fill the 48-frame window around keyframes you give.

        `keyframes` (K, H, W, 3) uint8 are the frames at the sorted, distinct slots `indices` (K,)
        of the window (resized and centre-cropped to the model's size, like `image`); the rest is
        the second half of `__call__` with the same settings. Useful to animate between frames you
        drew or picked, and to measure the interpolator on keyframes taken from a real video.
        """
        run = self._sampling(frames, fps, steps, guidance_image, guidance_text, guidance_audio, eta, audio)
        slots = _check_slots(indices, len(_check_keyframes(keyframes)), frames)
        generator = torch.Generator(self.device).manual_seed(seed)
        inputs = self._inputs(image, prompt, audio, frames, fps, generator)
        pixels = torch.cat([self._prepare_image(frame) for frame in keyframes])  # (K, 3, H, W)
        given = rearrange(pixels, "k c h w -> 1 c k h w")  # (1, 3, K, H, W)
        z_keys = self.backbone.vae.encode(given, generator=generator)  # (1, 4, K, h, w)
        index = torch.as_tensor(slots, device=self.device)[None]  # (1, K)
        total = len(self.schedule.ddim_timesteps(run.steps))
        video, condition = self._interpolate(inputs, z_keys, index, frames, run, generator,
                                             _progress(progress, 0, total))
        return KeyframeResult(
            video=video, fps=float(fps), audio=inputs.sound[0].cpu().numpy(), keyframe_indices=slots,
            keyframes=given.float().cpu(), keyframe_latents=z_keys.float().cpu(),
            condition=condition.float().cpu(),
        )

    # -- stages ------------------------------------------------------------------------------------
    def _sampling(
        self,
        frames: int,
        fps: float,
        steps: int | None,
        guidance_image: float | None,
        guidance_text: float | None,
        guidance_audio: float | None,
        eta: float | None,
        audio: np.ndarray | None,
    ) -> _Sampling:
        """The request's settings with the unset ones taken from `self.settings`; bad requests refused."""
        s = self.settings
        steps = s.steps if steps is None else steps
        if eta is None:  # the settings' η per stage; a given η is used by both
            eta, eta_int = s.eta, s.eta if s.interpolation_eta is None else s.interpolation_eta
        else:
            eta_int = eta
        if frames != s.frame_slots:
            raise ValueError(f"KeyVID makes one window of {s.frame_slots} frames (its keyframe index space), "
                             f"got frames={frames}")
        _check_positive_int("steps", steps, 1, self.schedule.config.timesteps)
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if audio is None:
            raise ValueError("KeyVID needs audio: its keyframes are placed on the audio's motion curve")
        return _Sampling(
            steps=steps, eta=eta, eta_interpolation=eta_int,
            guidance_image=s.guidance_image if guidance_image is None else guidance_image,
            guidance_text=s.guidance_text if guidance_text is None else guidance_text,
            guidance_audio=s.guidance_audio if guidance_audio is None else guidance_audio,
            guidance_audio_interpolation=(
                s.guidance_audio_interpolation if guidance_audio is None else guidance_audio),
        )

    def _inputs(
        self, image: str | Path | np.ndarray, prompt: str, audio: np.ndarray, frames: int, fps: float,
        generator: torch.Generator,
    ) -> _Inputs:
        """What both stages read: the image and its latent, the audio, text / CLIP / ImageBind tokens
        with their null forms ("" text, zero image, zero mel; FACTS §5)."""
        pixels = self._prepare_image(image)  # (1, 3, H, W)
        z_image = self.backbone.vae.encode(pixels[:, :, None], generator=generator)  # (1, 4, 1, h, w)
        sound = self._prepare_audio(audio, frames, fps)  # (1, S)
        return _Inputs(
            z_image=z_image, sound=sound,
            text=(self._text_context(prompt), self._text_context("")),  # (1, 77, D) each
            clip=(self.backbone.image_encoder(pixels),  # (1, N, 1280)
                  self.backbone.image_encoder(torch.zeros_like(pixels))),
            audio=(self.model.audio_tokens(sound),  # (1, 1 + F·T, D_a)
                   self.model.audio_tokens(sound, null=True)),
        )

    def _generate_keyframes(
        self, inputs: _Inputs, index: Tensor, run: _Sampling, generator: torch.Generator,
        callback: StepCallback | None,
    ) -> Tensor:
        """The keyframe generator: K frames (1, 3, K, H, W) at the slots `index` (1, K), each with its
        slot's image tokens (Resampler groups) and audio tokens (KeyVID's chunk-of-12 selection)."""
        s = self.settings
        freq = self.model.audio_encoder.config.grid[0]
        per_frame = self.preset.backbone.unet.image_tokens_per_frame
        resampler = self.backbone.resampler
        k_img = tuple(select_token_groups(resampler(c), index, per_frame) for c in inputs.clip)  # (1, K·n, D)
        k_aud = tuple(keyframe_audio_tokens(a, freq, index, s.frame_slots, s.audio_group)
                      for a in inputs.audio)  # (1, K, 12, D_a) each
        num = index.shape[1]
        concat = repeat(inputs.z_image, "b c 1 h w -> b c k h w", k=num)  # (1, 4, K, h, w)
        denoiser = self._guided(
            self._generator_net, concat, s.keyframe_fs, inputs.text, k_img, k_aud,
            (run.guidance_image, run.guidance_text, run.guidance_audio), {FRAME_INDEX: index},
        )
        c, _, h, w = self.preset.latent_shape
        noise = torch.randn((1, c, num, h, w), generator=generator, device=self.device)
        if s.keyframe_shared_mean:
            noise = share_frame_means(noise)
        latents = ddim_sample(denoiser, noise, self.schedule, run.steps, eta=run.eta, generator=generator,
                              callback=callback)  # (1, 4, K, h, w)
        return self.backbone.vae.decode(latents).clamp(-1, 1)

    def _interpolate(
        self, inputs: _Inputs, z_keys: Tensor, index: Tensor, frames: int, run: _Sampling,
        generator: torch.Generator, callback: StepCallback | None,
    ) -> tuple[Tensor, Tensor]:
        """The interpolator: all `frames` frames around the keyframe latents `z_keys` (1, 4, K, h, w)
        at `index` (1, K). Returns the decoded video (1, 3, F, H, W) on the CPU and its concat."""
        s = self.settings
        condition, known = masked_condition(z_keys, index, frames)  # (1, 4, F, h, w), (1, F)
        freq = self.model.audio_encoder.config.grid[0]
        resampler = self.model.interpolator_resampler
        i_aud = tuple(interpolation_audio_tokens(a, freq, frames, s.audio_group)
                      for a in inputs.audio)  # (1, F, 12, D_a) each
        guided = self._guided(
            self._interpolator_net, condition, s.interpolation_fs, inputs.text,
            tuple(resampler(c) for c in inputs.clip), i_aud,
            (run.guidance_image, run.guidance_text, run.guidance_audio_interpolation), {},
        )
        taus = self.schedule.ddim_timesteps(run.steps)
        pinned = len(taus) if s.anchored_steps is None else min(s.anchored_steps, len(taus))
        # the first `pinned` steps have t >= anchored_from
        anchored_from = int(taus[-pinned]) if pinned else int(taus[-1]) + 1
        denoiser = KeyframeAnchoredDenoiser(guided, self.schedule, condition, known, anchored_from)
        c, _, h, w = self.preset.latent_shape
        noise = freenoise_noise((1, c, frames, h, w), s.freenoise_window, s.freenoise_stride, generator)
        if s.interpolation_shared_mean:
            noise = share_frame_means(noise)
        interpolator = self.model.interpolator_unet
        with windowed_temporal_attention(interpolator, s.freenoise_window, s.freenoise_stride):
            latents = ddim_sample(denoiser, noise, self.schedule, run.steps, eta=run.eta_interpolation,
                                  generator=generator, callback=callback)
        video = self.backbone.vae.decode(latents).clamp(-1, 1)  # (1, 3, F, H, W)
        return video.float().cpu(), condition

    # -- steps -------------------------------------------------------------------------------------
    def _keyframes(self, sound: Tensor, seed: int) -> np.ndarray:
        """Sorted keyframe slots (K,) from the audio's motion curve; uniform (logged) without a localizer."""
        s = self.settings
        if self.localizer is None:
            log.warning("no keyframe localizer: using %d uniformly spaced keyframes", s.num_keyframes)
            return uniform_indices(s.frame_slots, s.num_keyframes)
        curve = self.localizer.predict(sound)  # (1, 48)
        if tuple(curve.shape) != (1, s.frame_slots):
            raise ValueError(f"the localizer returned a curve of shape {tuple(curve.shape)}, "
                             f"expected (1, {s.frame_slots})")
        indices = np.asarray(self.select(curve[0].float().cpu().numpy(), s.num_keyframes, seed).indices)
        if indices.ndim != 1 or len(set(indices.tolist())) != len(indices) or len(indices) == 0 \
                or indices.min() < 0 or indices.max() >= s.frame_slots:
            raise ValueError(f"keyframe selection returned {indices.tolist()}; expected distinct slots "
                             f"in [0, {s.frame_slots})")
        return np.sort(indices).astype(np.int64)

    def _guided(
        self,
        net: Callable[[Tensor, Tensor, dict[str, Tensor]], Tensor],
        concat: Tensor,
        fs: int,
        text: tuple[Tensor, Tensor],
        image: tuple[Tensor, Tensor],
        audio: tuple[Tensor, Tensor],
        scales: tuple[float, float, float],
        shared: dict[str, Tensor],
    ) -> GuidedDenoiser:
        """KeyVID's 4-pass chain none → +image → +text → +audio; (real, null) pairs for each condition."""
        fs_tensor = torch.full((1,), fs, dtype=torch.long, device=self.device)

        def branch(t: Tensor, i: Tensor, a: Tensor) -> dict[str, Tensor]:
            return {"concat": concat, "context": torch.cat([t, i], 1), "fs": fs_tensor,
                    AUDIO_SEGMENTS: a, **shared}

        (t_real, t_null), (i_real, i_null), (a_real, a_null) = text, image, audio
        branches = [branch(t_null, i_null, a_null), branch(t_null, i_real, a_null),
                    branch(t_real, i_real, a_null), branch(t_real, i_real, a_real)]
        rescale = self.preset.schedule.guidance_rescale
        return GuidedDenoiser(net, branches, list(scales), guidance_rescale=rescale)

    def _generator_net(self, x: Tensor, t: Tensor, cond: dict[str, Tensor]) -> Tensor:
        """The keyframe generator on (noisy latent ++ concat); all the sampler sees of it."""
        return keyvid_prediction(self.model.generator_unet, x, t, cond)

    def _interpolator_net(self, x: Tensor, t: Tensor, cond: dict[str, Tensor]) -> Tensor:
        """The interpolator on (noisy latent ++ keyframe concat)."""
        return keyvid_prediction(self.model.interpolator_unet, x, t, cond)


def _progress(progress: Callable[[int, int], None] | None, offset: int, total: int) -> StepCallback | None:
    """A DDIM step callback reporting (steps done, total) over both stages."""
    if progress is None:
        return None
    return lambda i, _n, _x: progress(offset + i + 1, total)


def _check_slots(indices: Sequence[int] | np.ndarray, num_keyframes: int, frames: int) -> np.ndarray:
    """`indices` as sorted int64 slots (K,), refused unless K distinct, increasing slots in [0, frames)
    match the `num_keyframes` keyframes given."""
    slots = np.asarray(indices)
    if slots.ndim != 1 or len(slots) == 0 or not np.issubdtype(slots.dtype, np.integer):
        raise ValueError(f"keyframe indices must be a non-empty 1-D list of integers, got {slots.tolist()!r}")
    if len(slots) != num_keyframes:
        raise ValueError(f"{num_keyframes} keyframes given for {len(slots)} indices: "
                         "give one frame per index")
    if slots.min() < 0 or slots.max() >= frames or np.any(np.diff(slots) <= 0):
        raise ValueError(f"keyframe indices must be increasing, distinct slots in [0, {frames}), "
                         f"got {slots.tolist()}")
    return slots.astype(np.int64)


def _check_keyframes(keyframes: np.ndarray) -> np.ndarray:
    """`keyframes` unchanged when they are (K, H, W, 3) uint8 frames, K >= 1; refused otherwise."""
    if not (isinstance(keyframes, np.ndarray) and keyframes.ndim == 4 and keyframes.shape[3] == 3
            and keyframes.dtype == np.uint8 and len(keyframes) > 0):
        raise ValueError("keyframes must be uint8 RGB frames (K, H, W, 3) with K >= 1; got "
                         f"{getattr(keyframes, 'dtype', type(keyframes))} {getattr(keyframes, 'shape', '')}")
    return keyframes


def _default_localizer(device: str | torch.device) -> Any | None:
    """The bundled keyframe localizer, or None (with a warning) when the package holds none."""
    localizer = bundled_localizer(device=device)
    if localizer is None:
        log.warning("no bundled keyframe localizer: keyframes will be uniformly spaced")
    return localizer
