"""FVD features: the StyleGAN-V I3D detector (`i3d_torchscript.pt`), as the ASVA code calls it.

The detector is a TorchScript file the user supplies; it is loaded with `torch.jit.load` and
called as `net(videos, rescale=False, resize=False, return_features=True)` on clips
(B, 3, F, 224, 224) in [-1, 1], made by a bicubic (antialias) resize to 224×224 and a centre crop
(ASVA fvd/compute_fvd.py, FACTS §13). One feature vector per clip.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from asva.checkpoints.official import CheckpointError
from asva.log import get_logger

log = get_logger(__name__)

I3D_INPUT_SIZE = 224


def load_i3d(path: str | Path, *, device: torch.device | str = "cpu") -> torch.jit.ScriptModule:
    """Load the I3D TorchScript detector, frozen, in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"I3D detector not found: {path}")
    try:
        net = torch.jit.load(str(path), map_location=device)
    except RuntimeError as err:
        raise CheckpointError(f"{path}: not a TorchScript file ({err}); FVD needs StyleGAN-V's "
                              "i3d_torchscript.pt") from err
    log.info("loaded the I3D detector from %s", path)
    return net.eval()


def i3d_preprocess(video: torch.Tensor) -> torch.Tensor:
    """Clips (B, 3, F, H, W) in [-1, 1] -> (B, 3, F, 224, 224) in [-1, 1] (bicubic, antialias)."""
    b, c, f, h, w = video.shape
    x = (video.transpose(1, 2).reshape(b * f, c, h, w) + 1) / 2  # (B·F, 3, H, W) in [0, 1]
    x = F.interpolate(x, size=(I3D_INPUT_SIZE, I3D_INPUT_SIZE), mode="bicubic", antialias=True,
                      align_corners=False)
    x = x * 2 - 1
    return x.reshape(b, f, c, I3D_INPUT_SIZE, I3D_INPUT_SIZE).transpose(1, 2).contiguous()


@torch.no_grad()
def i3d_features(net: torch.nn.Module, video: torch.Tensor) -> torch.Tensor:
    """One I3D feature vector per clip: (B, D) for clips (B, 3, F, H, W) in [-1, 1]."""
    out = net(i3d_preprocess(video), rescale=False, resize=False, return_features=True)
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != video.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise CheckpointError(f"the I3D detector returned {shape}; expected features (B, D) "
                              f"for B={video.shape[0]}")
    return out.float()
