"""Decode one image file into 8-bit RGB, whatever its mode, or say why it cannot be used."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

# A pixel counts as colored when max(RGB) - min(RGB) exceeds this (out of 255): JPEG noise in a
# gray picture stays below it.
GRAY_CHROMA_LEVEL = 12
# An image is gray when fewer than this share of its pixels are colored.
GRAY_COLORED_SHARE = 0.01


class BadImage(Exception):
    """The file is empty, truncated, corrupt or not an image."""


@dataclass(frozen=True)
class DecodedImage:
    """``pixels``: (H, W, 3) uint8 RGB. ``is_gray``: the picture has no color to learn."""

    pixels: np.ndarray
    is_gray: bool


def _to_rgb(image: Image.Image) -> tuple[Image.Image, bool]:
    """Convert any PIL mode to RGB; the flag says the source mode itself had no color."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        depth = 65535.0 if mode.startswith("I;16") or np.asarray(image).max() > 255 else 255.0
        values = np.asarray(image, dtype=np.float64) * (255.0 / depth)
        return Image.fromarray(np.clip(values + 0.5, 0, 255).astype(np.uint8)).convert("RGB"), True
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        scale = 255.0 if values.max() <= 1.0 else 1.0
        return Image.fromarray(np.clip(values * scale + 0.5, 0, 255).astype(np.uint8)).convert("RGB"), True
    if mode in ("1", "L", "LA"):
        return image.convert("L").convert("RGB"), True
    if mode == "P":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "PA", "RGBa"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image.convert("RGBA")).convert("RGB"), False
    return image.convert("RGB"), False


def looks_gray(pixels: np.ndarray) -> bool:
    """True when almost no pixel of (H, W, 3) uint8 ``pixels`` has visible chroma."""
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    chroma = np.maximum(np.maximum(red, green), blue) - np.minimum(np.minimum(red, green), blue)
    return np.count_nonzero(chroma > GRAY_CHROMA_LEVEL) < GRAY_COLORED_SHARE * chroma.size


Size = int | tuple[int, int]  # a square side, or (height, width)


def height_width(size: Size) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _open_rgb(path: Path, crop: tuple[int, int, int, int] | None, size: Size | None) -> tuple[Image.Image, tuple[float, ...] | None, bool]:
    """Decode ``path`` to RGB; returns the image, the crop box in its pixels, and the gray-mode flag.

    A JPEG that will be shrunk is decoded at a reduced scale in the DCT domain (PIL's draft
    mode) as long as the crop keeps at least ``size`` pixels, which is faster than decoding it
    fully; the crop box is scaled to match.
    """
    if Path(path).stat().st_size == 0:
        raise BadImage("empty file")
    with Image.open(path) as image:
        full_width, full_height = image.size
        if crop is not None and (full_width < crop[2] or full_height < crop[3]):
            raise BadImage(f"image is {full_width}x{full_height}, smaller than the face crop {crop}")
        if size is not None and image.format == "JPEG":
            height, width = height_width(size)
            crop_width = crop[2] - crop[0] if crop else full_width
            crop_height = crop[3] - crop[1] if crop else full_height
            image.draft(None, (math.ceil(full_width * width / crop_width), math.ceil(full_height * height / crop_height)))
        image.load()
        rgb, mode_is_gray = _to_rgb(image)
    scale = rgb.width / full_width
    box = tuple(c * scale for c in crop) if crop is not None else None
    return rgb, box, mode_is_gray


def decode_image(path: Path, crop: tuple[int, int, int, int] | None = None, size: Size | None = None) -> DecodedImage:
    """Decode ``path`` to RGB, optionally crop (left, top, right, bottom) and resize to ``size``.

    Raises:
        BadImage: the file is empty, truncated, corrupt, not an image, or smaller than the crop.
    """
    try:
        rgb, box, mode_is_gray = _open_rgb(path, crop, size)
    except BadImage:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise BadImage(f"{type(error).__name__}: {error}") from None
    if size is not None:
        height, width = height_width(size)
        rgb = rgb.resize((width, height), Image.Resampling.BILINEAR, box=box, reducing_gap=None)
    elif box is not None:
        rgb = rgb.crop(tuple(round(c) for c in box))
    pixels = np.array(rgb, dtype=np.uint8)
    return DecodedImage(pixels=pixels, is_gray=mode_is_gray or looks_gray(pixels))
