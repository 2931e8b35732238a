"""Decode one image file into 8-bit RGB, whatever its mode, or say why it cannot be used."""

from __future__ import annotations

import io
import math
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

# A pixel counts as colored when max(RGB) - min(RGB) exceeds this (out of 255): JPEG noise in a
# gray picture stays below it.
GRAY_CHROMA_LEVEL = 12
# An image is gray when fewer than this share of its pixels are colored.
GRAY_COLORED_SHARE = 0.01


class BadImage(Exception):
    """The file is empty, truncated, corrupt, too large, smaller than the crop or not an image.

    Its message reads ``"<kind>: <detail>"``; :func:`skip_counts` counts files by kind.
    """


# A crop: (left, top, right, bottom) in pixels of the source image (right/bottom exclusive), CENTER
# for the largest centered square (the shorter side), or None for the whole image.
CENTER = "center"
Crop = tuple[int, int, int, int] | Literal["center"] | None


def skip_counts(skipped: list[tuple[str, str]]) -> dict[str, int]:
    """How many skipped files each reason kind has: ``[(path, "kind: detail"), ...]`` -> {kind: count}."""
    return dict(Counter(reason.split(":", 1)[0] for _, reason in skipped))


def describe_skips(skipped: list[tuple[str, str]]) -> str:
    """"3 smaller than the crop, 1 not an image" for a list of skipped (path, reason) pairs."""
    return ", ".join(f"{count} {kind}" for kind, count in sorted(skip_counts(skipped).items()))


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


def crop_box(crop: Crop, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The crop as a box in a ``width`` x ``height`` image (None: the whole image).

    Raises:
        BadImage: the image is smaller than a fixed crop box.
    """
    if crop is None:
        return None
    if crop == CENTER:
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        return left, top, left + side, top + side
    if width < crop[2] or height < crop[3]:
        raise BadImage(f"smaller than the crop: {width}x{height} pixels, the crop box {tuple(crop)} needs at least {crop[2]}x{crop[3]} "
                       "(data.face_crop; a folder of other pictures reads with data.folder_crop=center)")
    return tuple(crop)


def _open_rgb(data: bytes, crop: Crop, size: Size | None) -> tuple[Image.Image, tuple[float, ...] | None, bool]:
    """Decode file bytes to RGB; returns the image, the crop box in its pixels, and the gray-mode flag.

    A JPEG that will be shrunk is decoded at a reduced scale in the DCT domain (PIL's draft
    mode) as long as the crop keeps at least ``size`` pixels, which is faster than decoding it
    fully; the crop box is scaled to match.
    """
    if not data:
        raise BadImage("empty file: 0 bytes")
    with warnings.catch_warnings():  # PIL warns above its pixel limit (and refuses above twice it): both are skipped here
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            opened = Image.open(io.BytesIO(data))
        except Image.DecompressionBombWarning:
            raise BadImage(f"too large: more than {Image.MAX_IMAGE_PIXELS} pixels (PIL's limit against decompression "
                           "bombs, Image.MAX_IMAGE_PIXELS)") from None
    with opened as image:
        full_width, full_height = image.size
        box = crop_box(crop, full_width, full_height)
        if size is not None and image.format == "JPEG":
            height, width = height_width(size)
            crop_width = box[2] - box[0] if box else full_width
            crop_height = box[3] - box[1] if box else full_height
            image.draft(None, (math.ceil(full_width * width / crop_width), math.ceil(full_height * height / crop_height)))
        image.load()
        rgb, mode_is_gray = _to_rgb(image)
    scale = rgb.width / full_width
    return rgb, (tuple(c * scale for c in box) if box is not None else None), mode_is_gray


def read_file(path: Path) -> bytes:
    """The bytes of an image file.

    Raises:
        BadImage: the file cannot be read (missing, no permission, a folder).
    """
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise BadImage(f"unreadable file: {error.strerror or error}") from None


def decode_image(path: Path, crop: Crop = None, size: Size | None = None, data: bytes | None = None) -> DecodedImage:
    """Decode ``path`` (or its bytes ``data``, already read) to RGB, crop and resize to ``size``.

    Raises:
        BadImage: the file is unreadable, empty, truncated, corrupt, not an image, too large
        (PIL's decompression-bomb limit) or smaller than the crop.
    """
    try:
        rgb, box, mode_is_gray = _open_rgb(read_file(path) if data is None else data, crop, size)
    except BadImage:
        raise
    except Image.DecompressionBombError as error:
        raise BadImage(f"too large: {error}") from None
    except UnidentifiedImageError:  # PIL's message names the in-memory buffer, not the file
        raise BadImage("not a readable image: no image format PIL knows") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise BadImage(f"not a readable image: {type(error).__name__}: {error}") from None
    if size is not None:
        height, width = height_width(size)
        rgb = rgb.resize((width, height), Image.Resampling.BILINEAR, box=box, reducing_gap=None)
    elif box is not None:
        rgb = rgb.crop(tuple(round(c) for c in box))
    pixels = np.array(rgb, dtype=np.uint8)
    return DecodedImage(pixels=pixels, is_gray=mode_is_gray or looks_gray(pixels))
