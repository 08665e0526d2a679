"""Images: loading as uint8 RGB (OpenCV), cover-resize + centre crop, and tensor conversion."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from asva.log import get_logger

logger = get_logger(__name__)

MIN_SIDE = 8
MAX_SIDE = 16384
MAX_PIXELS = 100_000_000
_alpha_warned = False  # warn about alpha once per process; later images log at debug level


class ImageError(ValueError):
    """An image file or array that cannot be used as asked."""


def load_image(path: str | Path) -> np.ndarray:
    """Load an image file as uint8 RGB (H, W, 3): gray expanded, alpha over white, 16-bit scaled."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"image file not found: {p}")
    if not p.is_file():
        raise FileNotFoundError(f"image path is not a file: {p}")
    # imdecode of the bytes rather than imread(path): imread cannot open non-ASCII paths on Windows.
    data = np.fromfile(p, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise ImageError(f"{p}: not decodable as an image (expected PNG, JPEG, WebP, BMP, TIFF, ...)")

    h, w = img.shape[:2]
    if min(h, w) < MIN_SIDE or max(h, w) > MAX_SIDE or h * w > MAX_PIXELS:
        raise ImageError(
            f"{p}: image size {w}x{h} is out of range (each side {MIN_SIDE}..{MAX_SIDE} px, "
            f"at most {MAX_PIXELS // 1_000_000} Mpx)"
        )
    img = img[:, :, None] if img.ndim == 2 else img  # (H, W, C), C in 1, 2, 3, 4

    # to float [0, 1] only when needed (depth or alpha); plain 8-bit BGR stays exact
    if img.dtype == np.uint16:
        logger.info("%s: 16-bit image scaled to 8-bit", p)
        x = img.astype(np.float32) / 65535.0
    elif img.dtype in (np.float32, np.float64):
        logger.info("%s: floating-point image clipped to [0, 1] and scaled to 8-bit", p)
        x = np.clip(img.astype(np.float32), 0.0, 1.0)
    elif img.dtype == np.uint8:
        x = img
    else:
        raise ImageError(f"{p}: unsupported pixel type {img.dtype} (expected 8- or 16-bit)")

    c = x.shape[2]
    if c in (2, 4):  # LA / BGRA
        global _alpha_warned
        log = logger.debug if _alpha_warned else logger.warning
        log("%s: alpha channel composited over white", p)
        _alpha_warned = True
        x = x.astype(np.float32) / (255.0 if x.dtype == np.uint8 else 1.0)
        alpha = x[:, :, -1:]  # (H, W, 1)
        x = x[:, :, :-1] * alpha + (1.0 - alpha)  # white is 1.0
        c -= 1
    if x.dtype != np.uint8:
        x = np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)
    if c == 1:
        logger.info("%s: grayscale image expanded to RGB", p)
        return np.ascontiguousarray(np.repeat(x, 3, axis=2))  # (H, W, 3)
    if c != 3:
        raise ImageError(f"{p}: unsupported channel count {c} (expected 1 to 4)")
    return np.ascontiguousarray(x[:, :, ::-1])  # BGR -> RGB, (H, W, 3)


def _check_rgb(img: np.ndarray) -> None:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        desc = f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        raise ImageError(f"expected a uint8 RGB array (H, W, 3), got {desc}")


def resize_center_crop(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale uint8 RGB (H, W, 3) to cover (height, width) keeping aspect, then centre crop to it.

    Matches DynamiCrafter's Resize(min side) + CenterCrop whenever that covers the target (image
    aspect at least as far from square as the target's); where it would leave black borders this
    scales a little more instead. INTER_AREA when shrinking, INTER_CUBIC when enlarging.
    """
    _check_rgb(img)
    if height < 1 or width < 1:
        raise ImageError(f"target size must be positive, got height={height}, width={width}")
    h, w = img.shape[:2]
    scale = max(height / h, width / w)
    # max(): float rounding must never leave the resized image a pixel short of the target
    new_h, new_w = max(height, round(h * scale)), max(width, round(w * scale))
    if (new_h, new_w) != (h, w):
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        img = cv2.resize(img, (new_w, new_h), interpolation=interp)  # cv2 takes (width, height)
    # the crop offset rounds like torchvision's CenterCrop
    top, left = round((new_h - height) / 2.0), round((new_w - width) / 2.0)
    return np.ascontiguousarray(img[top : top + height, left : left + width])  # (height, width, 3)


def image_to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 RGB (H, W, 3) -> float32 tensor (3, H, W) in [-1, 1]."""
    _check_rgb(img)
    x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)  # (3, H, W) uint8
    return x.to(torch.float32) / 127.5 - 1.0


def tensor_to_uint8(video: torch.Tensor) -> np.ndarray:
    """Float in [-1, 1], (C, T, H, W) or (C, H, W) with C=3 -> uint8 (T, H, W, 3) or (H, W, 3)."""
    if not isinstance(video, torch.Tensor) or video.ndim not in (3, 4) or video.shape[0] != 3:
        desc = tuple(video.shape) if isinstance(video, torch.Tensor) else type(video).__name__
        raise ImageError(f"expected a tensor (3, T, H, W) or (3, H, W), got {desc}")
    x = ((video.detach().to("cpu", torch.float32).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    x = x.movedim(0, -1)  # channels last: (T, H, W, 3) or (H, W, 3)
    return np.ascontiguousarray(x.numpy())
