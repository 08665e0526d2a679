"""Image loading (gray, alpha, 16-bit, bad files), cover-resize + crop, tensor conversion."""

import logging

import cv2
import numpy as np
import pytest
import torch

from asva.media import ImageError, image_to_tensor, load_image, resize_center_crop, tensor_to_uint8
from asva.media import image as image_module


def _write(path, bgr_or_gray):
    assert cv2.imwrite(str(path), bgr_or_gray)
    return path


def test_load_rgb_order(tmp_path):
    bgr = np.zeros((16, 20, 3), np.uint8)
    bgr[:, :10] = (0, 0, 255)  # red in OpenCV's BGR
    img = load_image(_write(tmp_path / "a.png", bgr))
    assert img.shape == (16, 20, 3) and img.dtype == np.uint8
    assert tuple(img[0, 0]) == (255, 0, 0)  # red in RGB
    assert tuple(img[0, 15]) == (0, 0, 0)


def test_grayscale_expands_to_rgb(tmp_path):
    gray = np.tile(np.arange(0, 240, 10, dtype=np.uint8), (12, 1))  # (12, 24)
    img = load_image(_write(tmp_path / "g.png", gray))
    assert img.shape == (12, 24, 3)
    np.testing.assert_array_equal(img[:, :, 0], gray)
    np.testing.assert_array_equal(img[:, :, 0], img[:, :, 2])


def test_alpha_composited_over_white_and_warned_once(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(image_module, "_alpha_warned", False)
    bgra = np.zeros((10, 10, 4), np.uint8)
    bgra[:, :5] = (255, 0, 0, 0)  # fully transparent blue -> white
    bgra[:, 5:] = (0, 0, 0, 255)  # opaque black stays black
    bgra[0, 9] = (0, 0, 0, 128)  # half transparent black -> mid gray
    path = _write(tmp_path / "a.png", bgra)
    with caplog.at_level(logging.DEBUG, logger="asva"):
        img = load_image(path)
        load_image(path)
    assert tuple(img[0, 0]) == (255, 255, 255)
    assert tuple(img[5, 9]) == (0, 0, 0)
    assert abs(int(img[0, 9, 0]) - 127) <= 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "alpha" in r.message]
    assert len(warnings) == 1


def test_16bit_scaled_to_8bit(tmp_path):
    img16 = np.zeros((8, 8, 3), np.uint16)
    img16[0, 0] = 65535
    img16[1, 1] = 257 * 100
    img = load_image(_write(tmp_path / "d.png", img16))
    assert img.dtype == np.uint8
    assert tuple(img[0, 0]) == (255, 255, 255) and tuple(img[1, 1]) == (100, 100, 100)


def test_bad_images(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.png"):
        load_image(tmp_path / "missing.png")
    tiny = _write(tmp_path / "tiny.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ImageError, match=r"tiny\.png.*4x4"):
        load_image(tiny)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ImageError, match=r"notes\.png.*not decodable"):
        load_image(text)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.jpg"):
        load_image(empty)


@pytest.mark.parametrize(
    ("h", "w", "th", "tw"),
    [(100, 200, 32, 32), (200, 100, 32, 48), (20, 30, 64, 96), (64, 96, 64, 96), (37, 53, 40, 24)],
)
def test_resize_center_crop_shapes(h, w, th, tw):
    img = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    out = resize_center_crop(img, th, tw)
    assert out.shape == (th, tw, 3) and out.dtype == np.uint8


def test_resize_center_crop_keeps_centre():
    # wide image: red | green | blue thirds; a square crop keeps only the green middle
    img = np.zeros((60, 180, 3), np.uint8)
    img[:, :60, 0], img[:, 60:120, 1], img[:, 120:, 2] = 255, 255, 255
    out = resize_center_crop(img, 30, 30)
    assert (out[:, :, 1] == 255).all() and (out[:, :, [0, 2]] == 0).all()
    # same size in, same image out
    np.testing.assert_array_equal(resize_center_crop(img, 60, 180), img)


def test_resize_rejects_bad_input():
    with pytest.raises(ImageError, match="uint8 RGB"):
        resize_center_crop(np.zeros((8, 8), np.uint8), 4, 4)


def test_tensor_round_trip_and_clamp():
    img = np.random.default_rng(1).integers(0, 256, (8, 10, 3), dtype=np.uint8)
    x = image_to_tensor(img)
    assert x.shape == (3, 8, 10) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    np.testing.assert_array_equal(tensor_to_uint8(x), img)
    video = torch.stack([x, x.flip(-1)], dim=1)  # (3, T=2, H, W)
    out = tensor_to_uint8(video)
    assert out.shape == (2, 8, 10, 3)
    np.testing.assert_array_equal(out[1], img[:, ::-1])
    assert tensor_to_uint8(torch.full((3, 2, 2), 5.0)).min() == 255
    assert tensor_to_uint8(torch.full((3, 2, 2), -5.0)).max() == 0
    with pytest.raises(ImageError):
        tensor_to_uint8(torch.zeros(1, 3, 2, 4, 4))
