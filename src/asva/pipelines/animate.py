"""`AnimatePipeline`: a still image (+ prompt, + audio) -> a short video, with uniformly spaced frames.

The steps follow DynamiCrafter's image-to-video inference (scripts/evaluation/inference.py of the
official code), with multi-condition classifier-free guidance computed in one batched UNet call per
step. With audio adapters (an `AudioAnimationModel`) the guidance chain is
none -> +image -> +text -> +audio (KeyVID's 4-pass form, FACTS §5); the branches without audio get
the null-audio condition. A backbone alone animates from image and text, and only muxes the audio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from einops import repeat

from asva.adapters.model import AudioAnimationModel, build_audio_model, unet_prediction
from asva.backbone.model import Backbone
from asva.backbone.tokenizer import BPETokenizer
from asva.checkpoints.backbone import load_backbone, load_tokenizer, resolve_preset
from asva.checkpoints.folder import load_model
from asva.diffusion.ddim import ddim_sample, share_frame_means
from asva.diffusion.guidance import GuidedDenoiser
from asva.diffusion.schedule import NoiseSchedule
from asva.log import get_logger
from asva.media import image_to_tensor, load_image, resize_center_crop, tensor_to_uint8, write_video
from asva.presets import Preset

log = get_logger(__name__)

AUDIO_SAMPLE_RATE = 16_000
MIN_AUDIO_SECONDS = 0.1
BUNDLED_MODEL = "models/tiny"  # inside the package's assets


def bundled_model_folder() -> Path | None:
    """The shipped tiny model's folder, or None while none has been trained and committed."""
    folder = Path(str(resources.files("asva.assets").joinpath(BUNDLED_MODEL)))
    return folder if (folder / "asva.json").is_file() else None


@dataclass
class AnimationResult:
    """A generated clip: video in [-1, 1] (1, 3, T, H, W), its FPS and the audio it was made with."""

    video: torch.Tensor
    fps: float
    audio: np.ndarray | None = None  # (S,) float32 mono at 16 kHz

    def frames(self) -> np.ndarray:
        """The clip as uint8 frames (T, H, W, 3)."""
        return tensor_to_uint8(self.video[0])

    def save(self, path: str | Path) -> Path:
        """Write an mp4 (H.264, plus AAC when there is audio) and return its path."""
        path = Path(path)
        audio = None
        if self.audio is not None:
            # The clip lasts T / fps seconds; keep exactly that much sound so both streams end together.
            audio = self.audio[: round(self.video.shape[2] / self.fps * AUDIO_SAMPLE_RATE)]
        write_video(path, self.frames(), self.fps, audio=audio, sample_rate=AUDIO_SAMPLE_RATE)
        return path


class Animator(Protocol):
    """What callers need of a pipeline: `AnimatePipeline` and `KeyframePipeline` both fit."""

    preset: Preset

    def __call__(
        self,
        image: str | Path | np.ndarray,
        prompt: str = "",
        *,
        audio: np.ndarray | None = None,
        seed: int = 0,
        progress: Callable[[int, int], None] | None = None,
        **options: Any,
    ) -> AnimationResult: ...


class AnimatePipeline:
    """Image (+ prompt, + audio) -> video; see `__call__`."""

    def __init__(
        self,
        model: Backbone | AudioAnimationModel,
        preset: Preset,
        tokenizer: BPETokenizer,
        device: str | torch.device = "cpu",
    ) -> None:
        if tokenizer.vocab_size != preset.backbone.text.vocab_size:
            raise ValueError(
                f"tokenizer vocabulary has {tokenizer.vocab_size} ids but preset {preset.name!r} has a "
                f"text embedding of {preset.backbone.text.vocab_size}: wrong vocabulary file for this model?"
            )
        model = model.to(device)
        self.audio_model = model if isinstance(model, AudioAnimationModel) else None
        self.backbone = model.backbone if isinstance(model, AudioAnimationModel) else model
        self.preset = preset
        self.tokenizer = tokenizer
        self.schedule = NoiseSchedule(preset.schedule)
        self.device = torch.device(device)

    @classmethod
    def from_preset(
        cls,
        preset: str | Preset = "tiny",
        checkpoint: str | Path | None = None,
        vocab: str | Path | None = None,
        device: str | torch.device = "cpu",
        with_audio: bool = False,
    ) -> AnimatePipeline:
        """Build from a preset name, an optional official checkpoint and a tokenizer vocabulary.

        `with_audio` attaches freshly initialised audio encoders and adapters (zero-initialised, so
        they change nothing until trained weights are loaded).
        """
        preset = resolve_preset(preset)
        model: Backbone | AudioAnimationModel = load_backbone(preset, checkpoint)
        if with_audio:
            model = build_audio_model(model, preset.audio, preset.adapters).eval()
        return cls(model, preset, load_tokenizer(preset, vocab), device)

    @classmethod
    def from_model(
        cls, model: str | Path = "tiny", device: str | torch.device = "cpu", with_audio: bool = True
    ) -> AnimatePipeline:
        """Build from `tiny` (the bundled model) or a model folder holding `asva.json` (see README).

        `with_audio=False` drops the folder's audio adapters: the frozen backbone alone, the
        "no-audio" baseline of docs/results.md.
        """
        folder = bundled_model_folder() if str(model) == "tiny" else Path(model)
        if folder is None:
            log.warning("the bundled tiny model is not trained yet: using the tiny preset's RANDOM weights")
            return cls.from_preset("tiny", device=device, with_audio=with_audio)
        preset, loaded, spec = load_model(folder, device)
        if not with_audio and isinstance(loaded, AudioAnimationModel):
            loaded = loaded.backbone
        return cls(loaded, preset, load_tokenizer(preset, spec.files.get("vocab")), device)

    # -- conditioning ------------------------------------------------------------------------------
    def _prepare_image(self, image: str | Path | np.ndarray) -> torch.Tensor:
        pixels = load_image(image) if isinstance(image, str | Path) else image
        if not (
            isinstance(pixels, np.ndarray)
            and pixels.ndim == 3
            and pixels.shape[2] == 3
            and pixels.dtype == np.uint8
        ):
            raise ValueError(
                "image must be a path or a uint8 RGB array (H, W, 3); got "
                f"{getattr(pixels, 'dtype', type(pixels))} {getattr(pixels, 'shape', '')}"
            )
        pixels = resize_center_crop(pixels, self.preset.height, self.preset.width)
        return image_to_tensor(pixels)[None].to(self.device)  # (1, 3, H, W) in [-1, 1]

    def _prepare_audio(self, audio: np.ndarray, frames: int, fps: float) -> torch.Tensor:
        """The clip's audio: cut at the clip's end or padded with silence (logged) -> (1, S) float32."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(
                f"audio must be mono samples (S,) at {AUDIO_SAMPLE_RATE} Hz, got shape {audio.shape}"
            )
        if audio.shape[0] < MIN_AUDIO_SECONDS * AUDIO_SAMPLE_RATE:
            raise ValueError(
                f"audio is {audio.shape[0] / AUDIO_SAMPLE_RATE:.3f} s long; at least "
                f"{MIN_AUDIO_SECONDS} s is needed to condition on it"
            )
        need = round(frames / fps * AUDIO_SAMPLE_RATE)
        if audio.shape[0] < need:
            log.info(
                "audio is %.2f s, the clip %.2f s: padded with silence",
                audio.shape[0] / AUDIO_SAMPLE_RATE,
                need / AUDIO_SAMPLE_RATE,
            )
            audio = np.pad(audio, (0, need - audio.shape[0]))
        return torch.from_numpy(audio[:need].copy())[None].to(self.device)  # (1, S)

    def _text_context(self, prompt: str) -> torch.Tensor:
        tokens = self.tokenizer([prompt]).to(self.device)  # (1, 77)
        return self.backbone.encode_text(tokens)  # (1, 77, C)

    # -- the whole job -----------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(
        self,
        image: str | Path | np.ndarray,
        prompt: str = "",
        *,
        audio: np.ndarray | None = None,
        frames: int | None = None,
        fps: float | None = None,
        steps: int | None = None,
        guidance_image: float | None = None,
        guidance_text: float | None = None,
        guidance_audio: float | None = None,
        eta: float | None = None,
        seed: int = 0,
        progress: Callable[[int, int], None] | None = None,
        shared_noise_mean: bool = False,
    ) -> AnimationResult:
        """Animate `image`; unset options take the preset's defaults (DDIM 20; image 2, text 2, audio 4).

        `audio` is mono float32 at 16 kHz; it is cut at the clip's end (frames / fps seconds) or
        padded with silence, and it conditions the video only when audio adapters are attached.
        `shared_noise_mean` starts every frame from noise with frame 0's mean per channel
        (`share_frame_means`): with `eta=0` it removes most of the tiny model's brightness flicker
        (docs/keyvid.md, "Shared noise means").
        """
        defaults = self.preset.sampling
        frames = self.preset.frames if frames is None else frames
        fps = self.preset.fps if fps is None else fps
        steps = defaults.steps if steps is None else steps
        eta = defaults.eta if eta is None else eta
        s_img = defaults.guidance_image if guidance_image is None else guidance_image
        s_txt = defaults.guidance_text if guidance_text is None else guidance_text
        _check_positive_int("frames", frames, 1, 256)
        _check_positive_int("steps", steps, 1, self.schedule.config.timesteps)
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        s_aud = defaults.guidance_audio if guidance_audio is None else guidance_audio
        if audio is not None and self.audio_model is None:
            log.warning("audio does not condition this model (no audio adapters); it is only muxed")
        generator = torch.Generator(self.device).manual_seed(seed)

        # 1. Image: pixels, its latent (repeated over time, concatenated to the noisy latent).
        pixels = self._prepare_image(image)  # (1, 3, H, W)
        z_image = self.backbone.vae.encode(pixels[:, :, None], generator=generator)  # (1, 4, 1, h, w)
        concat = repeat(z_image, "b c 1 h w -> b c t h w", t=frames)  # (1, 4, T, h, w)

        # 2. Cross-attention context: text tokens then image tokens; the null forms follow DC:
        #    text "" (not zeros) and the image tokens of an all-zero image (mid-grey), FACTS §5.
        text, text_null = self._text_context(prompt), self._text_context("")  # (1, 77, C) each
        img_tokens = self.backbone.encode_image(pixels)  # (1, N_img, C)
        img_null = self.backbone.encode_image(torch.zeros_like(pixels))  # (1, N_img, C)

        # 3. Audio tokens and each frame's window (adapters only); null audio = encoders fed a zero mel.
        sound = self._prepare_audio(audio, frames, fps) if audio is not None else None
        audio_null: dict[str, torch.Tensor] = {}
        audio_real: dict[str, torch.Tensor] | None = None
        if self.audio_model is not None:
            silence = torch.zeros((1, round(frames / fps * AUDIO_SAMPLE_RATE)), device=self.device)
            audio_null = self.audio_model.audio_condition(
                silence if sound is None else sound, frames, fps, null=True
            )
            if sound is not None:
                audio_real = self.audio_model.audio_condition(sound, frames, fps)

        # 4. The guidance chain: none -> +image -> +text (-> +audio), one batched UNet call per step.
        fs = torch.full((1,), self.preset.fs, dtype=torch.long, device=self.device)

        def branch(context: torch.Tensor, audio_cond: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            return {"concat": concat, "context": context, "fs": fs, **audio_cond}

        branches = [
            branch(torch.cat([text_null, img_null], 1), audio_null),
            branch(torch.cat([text_null, img_tokens], 1), audio_null),
            branch(torch.cat([text, img_tokens], 1), audio_null),
        ]
        scales = [s_img, s_txt]
        if audio_real is not None:
            branches.append(branch(torch.cat([text, img_tokens], 1), audio_real))
            scales.append(s_aud)
        denoiser = GuidedDenoiser(
            self._net, branches, scales, guidance_rescale=self.preset.schedule.guidance_rescale
        )

        # 5. DDIM from pure noise.
        c, _, h, w = self.preset.latent_shape
        noise = torch.randn((1, c, frames, h, w), generator=generator, device=self.device)
        if shared_noise_mean:
            noise = share_frame_means(noise)
        callback = (lambda i, total, _x: progress(i + 1, total)) if progress else None
        latents = ddim_sample(
            denoiser, noise, self.schedule, steps, eta=eta, generator=generator, callback=callback
        )

        # 6. Decode frame by frame.
        video = self.backbone.vae.decode(latents).clamp(-1, 1)  # (1, 3, T, H, W)
        muxed = None if sound is None else sound[0].cpu().numpy()
        return AnimationResult(video=video.float().cpu(), fps=float(fps), audio=muxed)

    def _net(self, x: torch.Tensor, t: torch.Tensor, cond: dict[str, torch.Tensor]) -> torch.Tensor:
        """The UNet on (noisy latent ++ image latent); this is all the sampler sees of the model."""
        return unet_prediction(self.backbone.unet, x, t, cond)


def _check_positive_int(name: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
