"""Named presets: every size and default of a model variant, in one place.

A preset never changes code paths, only sizes and defaults (DESIGN.md). `tiny` uses the same
classes as the full models at CPU-friendly sizes; the bundled default model and the tests use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from asva.adapters.config import AdapterConfig
from asva.audio.config import AUDIO_FEATURES_TINY, AudioFeatureConfig
from asva.backbone.config import (
    BackboneConfig,
    ImageConfig,
    ResamplerConfig,
    TextConfig,
    UNetConfig,
    VAEConfig,
)
from asva.diffusion.schedule import SCHEDULE_256, SCHEDULE_512, ScheduleConfig


@dataclass(frozen=True)
class SamplingDefaults:
    """What `asva animate` uses unless told otherwise (the ASVA paper's settings)."""

    steps: int = 20
    eta: float = 1.0
    guidance_image: float = 2.0
    guidance_text: float = 2.0
    guidance_audio: float = 4.0


@dataclass(frozen=True)
class Preset:
    """A model variant: backbone sizes, noise schedule, clip geometry and sampling defaults."""

    name: str
    backbone: BackboneConfig
    schedule: ScheduleConfig
    height: int
    width: int
    frames: int
    fps: float
    fs: int  # value fed to the UNet's fs embedding (frame stride for 256, FPS for 512)
    audio: AudioFeatureConfig = field(default_factory=AudioFeatureConfig)
    adapters: AdapterConfig = field(default_factory=AdapterConfig)
    sampling: SamplingDefaults = field(default_factory=SamplingDefaults)
    # A tokenizer vocabulary shipped inside the package (tiny); None: the user supplies the
    # OpenCLIP `bpe_simple_vocab_16e6.txt.gz` next to the weights.
    bundled_vocab: str | None = None

    def __post_init__(self) -> None:
        factor = self.backbone.vae.downsample_factor
        for side, value in (("height", self.height), ("width", self.width)):
            if value <= 0 or value % factor:
                raise ValueError(
                    f"preset {self.name!r}: {side} {value} must be a positive multiple "
                    f"of the VAE downsample factor {factor}"
                )
        if self.frames < 1 or self.fps <= 0:
            raise ValueError(
                f"preset {self.name!r}: frames {self.frames} and fps {self.fps} must be positive"
            )

    @property
    def latent_shape(self) -> tuple[int, int, int, int]:
        """(channels, frames, h, w) of the latent video."""
        factor = self.backbone.vae.downsample_factor
        return (self.backbone.vae.embed_dim, self.frames, self.height // factor, self.width // factor)


_FULL_256 = BackboneConfig(unet=UNetConfig(default_fs=3))
_FULL_512 = BackboneConfig(unet=UNetConfig(image_cross_attention_scale_learnable=False, default_fs=24))

_TINY_TEXT = TextConfig(vocab_size=1024, context_length=77, width=64, layers=3, heads=4, embed_dim=64)
_TINY = BackboneConfig(
    unet=UNetConfig(
        model_channels=32,
        channel_mult=(1, 2),
        num_res_blocks=1,
        attention_resolutions=(1, 2),
        num_head_channels=16,
        context_dim=64,
        init_attn_heads=2,
        image_tokens_per_frame=4,
        default_fs=4,
    ),
    # f = 8: 8x8 latents at 64 px. 16 base channels: the encoder runs on every training clip, and at
    # 32 it cost 2.6x more (0.39 GFLOP a frame) for frames this simple.
    # scale_factor: 1 / std of the trained VAE's latents (scripts/latent_scale.py), as 0.18215 is for
    # SD's VAE; with 0.18215 the tiny latents had std 0.25 and the backbone learnt nothing useful.
    vae=VAEConfig(ch=16, ch_mult=(1, 2, 4, 4), num_res_blocks=1, norm_groups=8, scale_factor=0.633),
    text=_TINY_TEXT,
    image=ImageConfig(
        image_size=32, patch_size=8, width=64, layers=2, heads=4, embed_dim=64, text=_TINY_TEXT
    ),
    resampler=ResamplerConfig(
        dim=64,
        depth=1,
        dim_head=16,
        heads=4,
        num_queries=4,
        embedding_dim=64,
        output_dim=64,
        ff_mult=2,
        video_length=16,
    ),
)

PRESETS: dict[str, Preset] = {
    # ASVA's 6-FPS / 12-frame setting on DynamiCrafter 256 (fs = frame stride from 24-FPS sources).
    "dynamicrafter-256": Preset(
        "dynamicrafter-256", _FULL_256, SCHEDULE_256, 256, 256, frames=12, fps=6, fs=4
    ),
    # ASVA's 12-FPS / 24-frame setting.
    "dynamicrafter-256-24f": Preset(
        "dynamicrafter-256-24f", _FULL_256, SCHEDULE_256, 256, 256, frames=24, fps=12, fs=2
    ),
    # KeyVID's base: 320x512, v-prediction, zero-SNR; fs is the FPS for this model.
    "dynamicrafter-512": Preset(
        "dynamicrafter-512", _FULL_512, SCHEDULE_512, 320, 512, frames=16, fps=24, fs=24
    ),
    "tiny": Preset(
        "tiny",
        _TINY,
        SCHEDULE_256,
        64,
        64,
        frames=12,
        fps=6,
        fs=4,
        audio=AUDIO_FEATURES_TINY,
        adapters=AdapterConfig(head_channels=16),
        bundled_vocab="tiny_bpe_vocab.txt.gz",
    ),
}


def get_preset(name: str, **overrides: object) -> Preset:
    """Look up a preset by name, optionally replacing top-level fields (frames, fps, ...)."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; expected one of {sorted(PRESETS)}")
    preset = PRESETS[name]
    return replace(preset, **overrides) if overrides else preset


# What a model folder or a training config may change in a preset: the audio side only (the backbone
# is what the official checkpoints fix). Research runs use it: the window radius r, which encoders
# and layers feed the adapters.
OVERRIDABLE: dict[str, tuple[str, ...]] = {"adapters": ("window",), "audio": ("encoders", "layers")}


def with_overrides(preset: Preset, overrides: dict[str, dict[str, object]] | None) -> Preset:
    """`preset` with `{"adapters": {"window": r}, "audio": {"encoders": [...], "layers": [...]}}` applied.

    Unknown sections or fields are errors naming them; the result is validated like any preset
    (e.g. layers out of range for an encoder)."""
    if not overrides:
        return preset
    if not isinstance(overrides, dict):
        raise ValueError(f"preset overrides must be a mapping, got {type(overrides).__name__}")
    changed: dict[str, object] = {}
    for section, values in overrides.items():
        if section not in OVERRIDABLE:
            raise ValueError(f"preset override section {section!r} is not one of {sorted(OVERRIDABLE)}")
        if not isinstance(values, dict):
            raise ValueError(f"preset override {section!r} must be a mapping, got {values!r}")
        unknown = sorted(set(values) - set(OVERRIDABLE[section]))
        if unknown:
            raise ValueError(f"preset override {section}: unknown field(s) {unknown}; "
                             f"overridable: {list(OVERRIDABLE[section])}")
        fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        changed[section] = replace(getattr(preset, section), **fixed)
    return replace(preset, **changed)


def preset_overrides(preset: Preset) -> dict[str, dict[str, object]]:
    """The overrides that turn the named preset into `preset` (empty when it is the named one);
    lists, so the result is JSON. Raises if `preset` differs in a way overrides cannot express."""
    base = get_preset(preset.name)
    out: dict[str, dict[str, object]] = {}
    for section, names in OVERRIDABLE.items():
        mine, theirs = getattr(preset, section), getattr(base, section)
        diff = {n: getattr(mine, n) for n in names if getattr(mine, n) != getattr(theirs, n)}
        if replace(theirs, **diff) != mine:
            raise ValueError(f"preset {preset.name!r}: its {section} config differs from the named preset "
                             f"beyond the overridable fields {list(names)}")
        if diff:
            out[section] = {k: list(v) if isinstance(v, tuple) else v for k, v in diff.items()}
    return out
