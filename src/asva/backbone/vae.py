"""The KL-f8 autoencoder of DynamiCrafter, run frame by frame on video.

The network is diffusers' `AutoencoderKL` (same architecture as LDM's `AutoencoderKL`); only the
parameter names differ. `VAE` presents the official LDM names (`first_stage_model.*` in a
DynamiCrafter checkpoint, without that prefix) through state-dict hooks, so `state_dict()` and
`load_state_dict()` speak the official layout and strict loading names official keys.
The name table is `ldm_to_diffusers_names`, built from the config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from diffusers import AutoencoderKL
from einops import rearrange
from torch import Tensor, nn

from asva.backbone.config import VAEConfig

_INNER = "autoencoder."  # attribute name of the wrapped diffusers model, as a key prefix
_RESNET_LEAVES = ("norm1", "conv1", "norm2", "conv2")
# LDM's mid-block attention uses 1x1 convs where diffusers uses Linear layers; same numbers.
_ATTENTION_LEAVES = (("norm", "group_norm"), ("q", "to_q"), ("k", "to_k"), ("v", "to_v"),
                     ("proj_out", "to_out.0"))
_LOGVAR_RANGE = (-30.0, 20.0)  # clamp of LDM's DiagonalGaussianDistribution


def ldm_to_diffusers_names(cfg: VAEConfig) -> dict[str, str]:
    """Map each official LDM parameter name to its diffusers `AutoencoderKL` name, in official order."""
    pairs: list[tuple[str, str]] = []  # (official module, diffusers module); each has weight and bias
    widths = [cfg.ch * mult for mult in cfg.ch_mult]
    levels = len(widths)

    def resnet(official: str, internal: str, c_in: int, c_out: int) -> None:
        pairs.extend((f"{official}.{leaf}", f"{internal}.{leaf}") for leaf in _RESNET_LEAVES)
        if c_in != c_out:  # the skip path needs a 1x1 conv to change width
            pairs.append((f"{official}.nin_shortcut", f"{internal}.conv_shortcut"))

    def middle(side: str) -> None:
        c = widths[-1]
        resnet(f"{side}.mid.block_1", f"{side}.mid_block.resnets.0", c, c)
        pairs.extend((f"{side}.mid.attn_1.{ldm}", f"{side}.mid_block.attentions.0.{hf}")
                     for ldm, hf in _ATTENTION_LEAVES)
        resnet(f"{side}.mid.block_2", f"{side}.mid_block.resnets.1", c, c)

    pairs.append(("encoder.conv_in", "encoder.conv_in"))
    c_in = cfg.ch
    for i, c_out in enumerate(widths):
        for j in range(cfg.num_res_blocks):
            resnet(f"encoder.down.{i}.block.{j}", f"encoder.down_blocks.{i}.resnets.{j}", c_in, c_out)
            c_in = c_out
        if i < levels - 1:
            pairs.append((f"encoder.down.{i}.downsample.conv",
                          f"encoder.down_blocks.{i}.downsamplers.0.conv"))
    middle("encoder")
    pairs += [("encoder.norm_out", "encoder.conv_norm_out"), ("encoder.conv_out", "encoder.conv_out"),
              ("decoder.conv_in", "decoder.conv_in")]
    middle("decoder")
    # LDM numbers decoder levels by resolution (up.0 is the finest, listed first, run last);
    # diffusers numbers them in execution order (up_blocks.0 is the coarsest).
    for i, c_out in enumerate(widths):
        k = levels - 1 - i
        c_in = widths[min(i + 1, levels - 1)]  # the coarser level feeds this one
        for j in range(cfg.num_res_blocks + 1):
            resnet(f"decoder.up.{i}.block.{j}", f"decoder.up_blocks.{k}.resnets.{j}",
                   c_in if j == 0 else c_out, c_out)
        if i > 0:
            pairs.append((f"decoder.up.{i}.upsample.conv", f"decoder.up_blocks.{k}.upsamplers.0.conv"))
    pairs += [("decoder.norm_out", "decoder.conv_norm_out"), ("decoder.conv_out", "decoder.conv_out"),
              ("quant_conv", "quant_conv"), ("post_quant_conv", "post_quant_conv")]
    return {f"{ldm}.{p}": f"{hf}.{p}" for ldm, hf in pairs for p in ("weight", "bias")}


def _check_video(x: Any, name: str, channels: int, factor: int = 1) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"VAE: {name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 5:
        raise ValueError(f"VAE: {name} must be 5-D (B, C, T, H, W), got shape {tuple(x.shape)}; "
                         "for images add a frame axis with x.unsqueeze(2)")
    if x.shape[1] != channels:
        raise ValueError(f"VAE: {name} must have {channels} channels on axis 1, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"VAE: {name} must be floating point, got {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"VAE: {name} is empty, shape {tuple(x.shape)}")
    if x.shape[-2] % factor or x.shape[-1] % factor:
        raise ValueError(f"VAE: {name} height and width must be multiples of the downsampling factor "
                         f"{factor}, got {x.shape[-2]}x{x.shape[-1]}")


class VAE(nn.Module):
    """KL autoencoder mapping video in [-1, 1] to scaled latents and back, one frame at a time."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        if cfg.embed_dim != cfg.z_channels:
            raise ValueError(f"VAEConfig: diffusers AutoencoderKL needs embed_dim == z_channels, "
                             f"got {cfg.embed_dim} and {cfg.z_channels}")
        self.config = cfg
        self.scale_factor = cfg.scale_factor
        levels = len(cfg.ch_mult)
        self.autoencoder = AutoencoderKL(
            in_channels=cfg.in_channels,
            out_channels=cfg.out_ch,
            down_block_types=("DownEncoderBlock2D",) * levels,
            up_block_types=("UpDecoderBlock2D",) * levels,
            block_out_channels=tuple(cfg.ch * mult for mult in cfg.ch_mult),
            layers_per_block=cfg.num_res_blocks,
            latent_channels=cfg.z_channels,
            norm_num_groups=cfg.norm_groups,
            scaling_factor=cfg.scale_factor,
            use_quant_conv=True,
            use_post_quant_conv=True,
            mid_block_add_attention=True,
        )
        self._official_to_inner = {ldm: _INNER + hf for ldm, hf in ldm_to_diffusers_names(cfg).items()}
        self._inner_to_official = {hf: ldm for ldm, hf in self._official_to_inner.items()}
        self._conv1x1_weights = {f"{side}.mid.attn_1.{leaf}.weight" for side in ("encoder", "decoder")
                                 for leaf in ("q", "k", "v", "proj_out")}
        inner = {_INNER + k for k in self.autoencoder.state_dict()}
        if inner != set(self._inner_to_official):
            raise RuntimeError("VAE: the LDM name table does not cover diffusers' AutoencoderKL; "
                               f"unmapped: {sorted(inner - set(self._inner_to_official))[:10]}, "
                               f"absent: {sorted(set(self._inner_to_official) - inner)[:10]}")
        self.register_state_dict_post_hook(VAE._to_official_names)
        self.register_load_state_dict_pre_hook(VAE._from_official_names)
        self.register_load_state_dict_post_hook(VAE._report_official_names)

    # -- official key layout -------------------------------------------------------------------

    def _to_official_names(self, state_dict: dict[str, Tensor], prefix: str, local_metadata: dict) -> None:
        # Pop and re-append in table order: the VAE's keys are the newest entries, so the result
        # lists them in the official order, after whatever the parent saved before.
        for official, inner in self._official_to_inner.items():
            value = state_dict.pop(prefix + inner)
            if official in self._conv1x1_weights:
                value = value[:, :, None, None]  # Linear [C, C] -> 1x1 conv [C, C, 1, 1]
            state_dict[prefix + official] = value

    def _from_official_names(self, state_dict: dict[str, Tensor], prefix: str, local_metadata: dict,
                             strict: bool, missing_keys: list[str], unexpected_keys: list[str],
                             error_msgs: list[str]) -> None:
        params = dict(self.autoencoder.named_parameters(prefix=_INNER.rstrip(".")))
        for official, inner in self._official_to_inner.items():
            if prefix + official not in state_dict:
                continue  # reported as missing, under its official name, by the post-hook
            value = state_dict.pop(prefix + official)
            conv1x1 = official in self._conv1x1_weights
            expected = params[inner].shape + ((1, 1) if conv1x1 else ())
            if value.shape != expected:
                # Checked here so the message names the official key; the key stays out of the
                # load, so it is also listed as missing.
                error_msgs.append(f"size mismatch for {prefix}{official}: checkpoint has "
                                  f"{list(value.shape)}, model expects {list(expected)}")
                continue
            state_dict[prefix + inner] = value.flatten(1) if conv1x1 else value  # [C, C, 1, 1] -> [C, C]

    def _report_official_names(self, incompatible_keys: Any) -> None:
        missing = incompatible_keys.missing_keys
        for i, key in enumerate(missing):
            parts = key.split(".")
            for cut in range(len(parts)):  # the parent's prefix is unknown here: find the table entry
                official = self._inner_to_official.get(".".join(parts[cut:]))
                if official is not None:
                    missing[i] = ".".join([*parts[:cut], official])
                    break

    # -- encoding and decoding -----------------------------------------------------------------

    @staticmethod
    def _per_frame(net: Callable[[Tensor], Tensor], video: Tensor, frames_per_batch: int) -> Tensor:
        """Run a 2D network on every frame of (B, C, T, H, W), `frames_per_batch` frames at a time."""
        if frames_per_batch < 1:
            raise ValueError(f"VAE: frames_per_batch must be >= 1, got {frames_per_batch}")
        b = video.shape[0]
        frames = rearrange(video, "b c t h w -> (b t) c h w")  # (B*T, C, H, W)
        out = torch.cat([net(chunk) for chunk in frames.split(frames_per_batch)])  # (B*T, C', H', W')
        return rearrange(out, "(b t) c h w -> b c t h w", b=b)  # (B, C', T, H', W')

    def posterior(self, video: Tensor, frames_per_batch: int = 8) -> tuple[Tensor, Tensor]:
        """Diagonal Gaussian posterior of each frame: (mean, clamped log-variance), unscaled."""
        _check_video(video, "video", self.config.in_channels, self.config.downsample_factor)
        ae = self.autoencoder
        moments = self._per_frame(lambda x: ae.quant_conv(ae.encoder(x)),
                                  video, frames_per_batch)  # (B, 2z, T, h, w)
        mean, logvar = moments.chunk(2, dim=1)  # (B, z, T, h, w) each
        return mean, logvar.clamp(*_LOGVAR_RANGE)

    def encode(self, video: Tensor, generator: torch.Generator | None = None, sample: bool = True,
               frames_per_batch: int = 8) -> Tensor:
        """Encode video (B, 3, T, H, W) in [-1, 1] to scaled latents (B, z, T, H/f, W/f)."""
        mean, logvar = self.posterior(video, frames_per_batch)  # (B, z, T, h, w) each
        latent = mean
        if sample:
            # One draw over the whole latent, so the result does not depend on frames_per_batch.
            noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            latent = mean + torch.exp(0.5 * logvar) * noise  # (B, z, T, h, w)
        return latent * self.scale_factor

    def decode(self, latent: Tensor, frames_per_batch: int = 8) -> Tensor:
        """Decode scaled latents (B, z, T, h, w) to video (B, 3, T, h*f, w*f), roughly in [-1, 1]."""
        _check_video(latent, "latent", self.config.embed_dim)
        ae = self.autoencoder
        return self._per_frame(lambda z: ae.decoder(ae.post_quant_conv(z)),
                               latent / self.scale_factor, frames_per_batch)  # (B, 3, T, H, W)
