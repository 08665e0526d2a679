"""`AnimatePipeline`: a still image (+ prompt, + audio) -> a short video, with uniformly spaced frames.

The steps follow DynamiCrafter's image-to-video inference (scripts/evaluation/inference.py of the
official code), with multi-condition classifier-free guidance computed in one batched UNet call per
step. The audio slot of the guidance chain is filled once audio adapters are attached (later work);
until then audio is only muxed into the written mp4.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from einops import repeat

from asva.backbone.model import Backbone
from asva.backbone.tokenizer import BPETokenizer
from asva.checkpoints.backbone import load_backbone, resolve_preset
from asva.diffusion.ddim import ddim_sample
from asva.diffusion.guidance import GuidedDenoiser
from asva.diffusion.schedule import NoiseSchedule
from asva.log import get_logger
from asva.media import image_to_tensor, load_image, resize_center_crop, tensor_to_uint8, write_video
from asva.presets import Preset

log = get_logger(__name__)

AUDIO_SAMPLE_RATE = 16_000
MODEL_CONFIG_FILE = "asva.json"  # what makes a folder a model directory (see README: "Model folders")


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


class AnimatePipeline:
    """Image (+ prompt) -> video with the frozen DynamiCrafter backbone; see `__call__`."""

    def __init__(
        self, backbone: Backbone, preset: Preset, tokenizer: BPETokenizer, device: str | torch.device = "cpu"
    ) -> None:
        if tokenizer.vocab_size != preset.backbone.text.vocab_size:
            raise ValueError(
                f"tokenizer vocabulary has {tokenizer.vocab_size} ids but preset {preset.name!r} has a "
                f"text embedding of {preset.backbone.text.vocab_size}: wrong vocabulary file for this model?"
            )
        self.backbone = backbone.to(device)
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
    ) -> AnimatePipeline:
        """Build from a preset name, an optional official checkpoint and a tokenizer vocabulary."""
        preset = resolve_preset(preset)
        return cls(load_backbone(preset, checkpoint), preset, _tokenizer_for(preset, vocab), device)

    @classmethod
    def from_model(cls, model: str | Path = "tiny", device: str | torch.device = "cpu") -> AnimatePipeline:
        """Build from `tiny` (bundled) or a model folder holding `asva.json` (see README)."""
        if str(model) == "tiny":
            return cls.from_preset("tiny", device=device)
        folder = Path(model)
        config_path = folder / MODEL_CONFIG_FILE
        if not config_path.is_file():
            raise FileNotFoundError(
                f"{folder} is not a model folder: no {MODEL_CONFIG_FILE} in it "
                "(expected 'tiny' or a folder made as the README's 'Model folders' says)"
            )
        config = json.loads(config_path.read_text())
        unknown = set(config) - {"preset", "checkpoint", "vocab"}
        if unknown or "preset" not in config:
            raise ValueError(
                f"{config_path}: expected keys 'preset' (required), 'checkpoint', 'vocab'; "
                f"got {sorted(config)}"
            )
        checkpoint, vocab = (folder / config[k] if config.get(k) else None for k in ("checkpoint", "vocab"))
        return cls.from_preset(config["preset"], checkpoint, vocab, device)

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
    ) -> AnimationResult:
        """Animate `image`; unset options take the preset's defaults (DDIM 20 steps, image 2.0, text 2.0)."""
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
        if audio is not None or guidance_audio is not None:
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

        # 3. The guidance chain: none -> +image -> +image+text, one batched UNet call per step.
        fs = torch.full((1,), self.preset.fs, dtype=torch.long, device=self.device)

        def branch(context: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"concat": concat, "context": context, "fs": fs}

        branches = [
            branch(torch.cat([text_null, img_null], 1)),
            branch(torch.cat([text_null, img_tokens], 1)),
            branch(torch.cat([text, img_tokens], 1)),
        ]
        denoiser = GuidedDenoiser(
            self._net, branches, [s_img, s_txt], guidance_rescale=self.preset.schedule.guidance_rescale
        )

        # 4. DDIM from pure noise.
        c, _, h, w = self.preset.latent_shape
        noise = torch.randn((1, c, frames, h, w), generator=generator, device=self.device)
        callback = (lambda i, total, _x: progress(i + 1, total)) if progress else None
        latents = ddim_sample(
            denoiser, noise, self.schedule, steps, eta=eta, generator=generator, callback=callback
        )

        # 5. Decode frame by frame.
        video = self.backbone.vae.decode(latents).clamp(-1, 1)  # (1, 3, T, H, W)
        return AnimationResult(video=video.float().cpu(), fps=float(fps), audio=audio)

    def _net(self, x: torch.Tensor, t: torch.Tensor, cond: dict[str, torch.Tensor]) -> torch.Tensor:
        """The UNet on (noisy latent ++ image latent); this is all the sampler sees of the model."""
        x_in = torch.cat([x, cond["concat"]], dim=1)  # (B, 8, T, h, w)
        return self.backbone.unet(x_in, t, cond["context"], fs=cond["fs"])


def _check_positive_int(name: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")


def _tokenizer_for(preset: Preset, vocab: str | Path | None) -> BPETokenizer:
    if vocab is not None:
        return BPETokenizer(vocab)
    if preset.bundled_vocab is None:
        raise ValueError(
            f"preset {preset.name!r} needs the OpenCLIP vocabulary file: pass vocab=PATH to "
            "bpe_simple_vocab_16e6.txt.gz (it ships inside the open_clip package)"
        )
    return BPETokenizer(resources.files("asva.assets").joinpath(preset.bundled_vocab))
