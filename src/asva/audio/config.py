"""Typed configs of the audio front-ends, the two audio encoders and the feature extractor.

Defaults are the full-size released models (FACTS §10): ImageBind-huge's audio branch and BEATs
iter3+ AS2M. The `*_TINY` constants keep every code path (same front-ends, patch geometry and
token counts) at CPU-test width and depth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SAMPLE_RATE = 16000  # both encoders were trained on 16 kHz mono


def _check_positive(owner: str, **values: int | float) -> None:
    for name, value in values.items():
        if value <= 0:
            raise ValueError(f"{owner}.{name} must be positive, got {value!r}")


@dataclass(frozen=True)
class KaldiFbankConfig:
    """Options of a Kaldi `compute-fbank-feats` front-end (the subset torchaudio's `kaldi.fbank` exposes)."""

    sample_rate: int = SAMPLE_RATE
    num_mel_bins: int = 128
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    window_type: str = "povey"  # "povey" (Kaldi default) or "hanning"
    preemphasis: float = 0.97
    remove_dc_offset: bool = True
    low_freq: float = 20.0
    high_freq: float = 0.0  # <= 0 means an offset from Nyquist (Kaldi convention)

    def __post_init__(self) -> None:
        _check_positive("KaldiFbankConfig", sample_rate=self.sample_rate, num_mel_bins=self.num_mel_bins,
                        frame_length_ms=self.frame_length_ms, frame_shift_ms=self.frame_shift_ms)
        if self.window_type not in ("povey", "hanning"):
            raise ValueError("KaldiFbankConfig.window_type must be 'povey' or 'hanning', "
                             f"got {self.window_type!r}")

    @property
    def frame_length(self) -> int:
        """Samples per analysis frame (400 at 16 kHz, 25 ms)."""
        return int(self.sample_rate * self.frame_length_ms / 1000)

    @property
    def frame_shift(self) -> int:
        """Samples between frame starts (160 at 16 kHz, 10 ms)."""
        return int(self.sample_rate * self.frame_shift_ms / 1000)


# ImageBind data.py `waveform2melspec`: hanning window, everything else Kaldi defaults (htk_compat and
# use_energy=False only concern the energy column, which is off).
IMAGEBIND_FBANK = KaldiFbankConfig(window_type="hanning")
# BEATs.py `preprocess`: torchaudio defaults, i.e. the povey window.
BEATS_FBANK = KaldiFbankConfig(window_type="povey")


@dataclass(frozen=True)
class ImageBindAudioConfig:
    """The audio branch of ImageBind-huge (IB imagebind_model.py `imagebind_huge`)."""

    embed_dim: int = 768
    num_blocks: int = 12
    num_heads: int = 12
    mlp_ratio: int = 4
    out_embed_dim: int = 1024
    kernel_size: int = 16
    stride: int = 10
    num_mel_bins: int = 128
    target_len: int = 204  # mel frames after pad/crop (IB data.py `waveform2melspec`)
    logit_scale_init: float = 20.0
    max_logit_scale: float = 100.0
    mel_mean: float = -4.268  # IB data.py `load_and_transform_audio_data`
    mel_std: float = 9.138

    def __post_init__(self) -> None:
        _check_positive("ImageBindAudioConfig", embed_dim=self.embed_dim, num_blocks=self.num_blocks,
                        num_heads=self.num_heads, kernel_size=self.kernel_size, stride=self.stride,
                        target_len=self.target_len, mel_std=self.mel_std)
        if self.embed_dim % self.num_heads:
            raise ValueError(f"ImageBindAudioConfig: embed_dim {self.embed_dim} not divisible by "
                             f"num_heads {self.num_heads}")
        if self.target_len < self.kernel_size or self.num_mel_bins < self.kernel_size:
            raise ValueError("ImageBindAudioConfig: the mel image is smaller than one patch")

    @property
    def grid(self) -> tuple[int, int]:
        """(frequency, time) patch grid: (12, 19) at full size."""
        return ((self.num_mel_bins - self.kernel_size) // self.stride + 1,
                (self.target_len - self.kernel_size) // self.stride + 1)

    @property
    def num_tokens(self) -> int:
        """CLS + patches: 229 at full size."""
        freq, time = self.grid
        return 1 + freq * time


@dataclass(frozen=True)
class BEATsConfig:
    """BEATs (BEATs.py `BEATsConfig`): the architecture fields, named as in `ckpt["cfg"]`."""

    input_patch_size: int = 16
    embed_dim: int = 512
    conv_bias: bool = False
    encoder_layers: int = 12
    encoder_embed_dim: int = 768
    encoder_ffn_embed_dim: int = 3072
    encoder_attention_heads: int = 12
    activation_fn: str = "gelu"
    layer_norm_first: bool = False
    deep_norm: bool = True
    conv_pos: int = 128
    conv_pos_groups: int = 16
    relative_position_embedding: bool = True
    num_buckets: int = 320
    max_distance: int = 800
    gru_rel_pos: bool = True
    finetuned_model: bool = False
    num_mel_bins: int = 128  # fixed in BEATs.py `preprocess`
    fbank_mean: float = 15.41663  # BEATs.py `extract_features` defaults
    fbank_std: float = 6.55582

    def __post_init__(self) -> None:
        _check_positive("BEATsConfig", input_patch_size=self.input_patch_size, embed_dim=self.embed_dim,
                        encoder_layers=self.encoder_layers, encoder_embed_dim=self.encoder_embed_dim,
                        encoder_ffn_embed_dim=self.encoder_ffn_embed_dim,
                        encoder_attention_heads=self.encoder_attention_heads, conv_pos=self.conv_pos,
                        conv_pos_groups=self.conv_pos_groups, fbank_std=self.fbank_std)
        if self.encoder_embed_dim % self.encoder_attention_heads:
            raise ValueError(f"BEATsConfig: encoder_embed_dim {self.encoder_embed_dim} not divisible by "
                             f"encoder_attention_heads {self.encoder_attention_heads}")
        if self.encoder_embed_dim % self.conv_pos_groups:
            raise ValueError(f"BEATsConfig: encoder_embed_dim {self.encoder_embed_dim} not divisible by "
                             f"conv_pos_groups {self.conv_pos_groups}")
        # Only the variants the released pre-trained checkpoints use are implemented.
        unsupported = {"activation_fn": self.activation_fn != "gelu",
                       "layer_norm_first": self.layer_norm_first,
                       "finetuned_model": self.finetuned_model}
        bad = [name for name, flag in unsupported.items() if flag]
        if bad:
            raise ValueError(f"BEATsConfig: unsupported variant ({', '.join(bad)}); only post-LN, GELU, "
                             "pre-trained (no predictor) BEATs models are implemented")
        if self.gru_rel_pos and not self.relative_position_embedding:
            raise ValueError("BEATsConfig: gru_rel_pos needs relative_position_embedding")

    @property
    def freq_patches(self) -> int:
        """Frequency patches per time patch: 8 at full size."""
        return self.num_mel_bins // self.input_patch_size


# Fields of `ckpt["cfg"]` that shape the network; anything else there (dropouts, layer drop,
# gradient-decay ratio, predictor settings) only matters for training.
BEATS_ARCHITECTURE_FIELDS: tuple[str, ...] = (
    "input_patch_size", "embed_dim", "conv_bias", "encoder_layers", "encoder_embed_dim",
    "encoder_ffn_embed_dim", "encoder_attention_heads", "activation_fn", "layer_norm_first", "deep_norm",
    "conv_pos", "conv_pos_groups", "relative_position_embedding", "num_buckets", "max_distance",
    "gru_rel_pos", "finetuned_model",
)
# What BEATs.py's `BEATsConfig` assumes for a field a checkpoint's cfg leaves out.
BEATS_REFERENCE_DEFAULTS: dict[str, object] = {
    "input_patch_size": -1, "embed_dim": 512, "conv_bias": False, "encoder_layers": 12,
    "encoder_embed_dim": 768, "encoder_ffn_embed_dim": 3072, "encoder_attention_heads": 12,
    "activation_fn": "gelu", "layer_norm_first": False, "deep_norm": False, "conv_pos": 128,
    "conv_pos_groups": 16, "relative_position_embedding": False, "num_buckets": 320, "max_distance": 1280,
    "gru_rel_pos": False, "finetuned_model": False,
}

ENCODER_NAMES: tuple[str, ...] = ("imagebind", "beats")


@dataclass(frozen=True)
class AudioFeatureConfig:
    """Which encoders run and which of their layers are tapped (0-based block indices)."""

    encoders: tuple[str, ...] = ("imagebind", "beats")
    # 0-based: layer i is the output of block i, so (3, 7, 11) ends each third of a 12-block encoder
    # and 11 is the last block.
    layers: tuple[int, ...] = (3, 7, 11)
    sample_rate: int = SAMPLE_RATE
    clip_seconds: float = 2.0
    imagebind: ImageBindAudioConfig = field(default_factory=ImageBindAudioConfig)
    beats: BEATsConfig = field(default_factory=BEATsConfig)

    def __post_init__(self) -> None:
        if not self.encoders:
            raise ValueError("AudioFeatureConfig.encoders is empty; choose from " + ", ".join(ENCODER_NAMES))
        unknown = [name for name in self.encoders if name not in ENCODER_NAMES]
        if unknown or len(set(self.encoders)) != len(self.encoders):
            raise ValueError(f"AudioFeatureConfig.encoders must be distinct names from {ENCODER_NAMES}, "
                             f"got {self.encoders!r}")
        if not self.layers or len(set(self.layers)) != len(self.layers):
            raise ValueError(f"AudioFeatureConfig.layers must be distinct block indices, got {self.layers!r}")
        if self.sample_rate != SAMPLE_RATE:
            raise ValueError(f"AudioFeatureConfig.sample_rate must be {SAMPLE_RATE} (both encoders were "
                             "trained on 16 kHz audio; resample with asva.media.read_audio), "
                             f"got {self.sample_rate}")
        _check_positive("AudioFeatureConfig", clip_seconds=self.clip_seconds)
        depths = {"imagebind": self.imagebind.num_blocks, "beats": self.beats.encoder_layers}
        for name in self.encoders:
            bad = [i for i in self.layers if not 0 <= i < depths[name]]
            if bad:
                raise ValueError(f"AudioFeatureConfig.layers {bad} out of range for {name} "
                                 f"({depths[name]} blocks, 0-based)")

    @property
    def clip_samples(self) -> int:
        """Samples in one clip (32000 for 2 s)."""
        return round(self.clip_seconds * self.sample_rate)


IMAGEBIND_TINY = ImageBindAudioConfig(embed_dim=32, num_blocks=4, num_heads=4, out_embed_dim=16)
BEATS_TINY = BEATsConfig(embed_dim=16, encoder_layers=4, encoder_embed_dim=32, encoder_ffn_embed_dim=64,
                         encoder_attention_heads=4, conv_pos=16, conv_pos_groups=4)
AUDIO_FEATURES_TINY = AudioFeatureConfig(layers=(1, 3), imagebind=IMAGEBIND_TINY, beats=BEATS_TINY)
