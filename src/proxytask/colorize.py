"""Colorize arbitrary images with a trained colorization run, as METHOD.md section 2 decodes them.

Colors are predicted densely at the scale the network was trained at (the face crop resized to
``data.image_size``), upsampled, and combined with the input's own full-resolution intensity.
Galleries show a run's colorizations beside the intensity it read and the true colors: of pictures
already in memory (:func:`colorization_gallery`), or of photo files (:func:`photo_gallery`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from proxytask import color
from proxytask.checkpoint import WEIGHTS_FILE, latest_checkpoint, load_weights
from proxytask.config import ConfigError
from proxytask.data.images import BadImage, decode_image
from proxytask.files import write_atomic
from proxytask.gallery import GALLERY_EXAMPLES, LARGEST_CELL, save_gallery
from proxytask.precision import default_device
from proxytask.runs import PretrainConfig, RunFolder
from proxytask.tasks import build_task, task_class
from proxytask.tasks.colorization import SparseColorization

MIN_WORKING_SIDE = 16
GALLERY_LEGEND = "intensity: the network's only input; colorized: the hue and chroma it predicts, put on that intensity"
PHOTO_LEGEND = "gray: the photo's intensity, the network's only input; colorized: the hue and chroma it predicts, put on that intensity"


def load_run(run_dir: Path, device: torch.device) -> tuple[PretrainConfig, SparseColorization]:
    """Config and trained colorization task of a run folder (final weights, else its latest checkpoint), in eval mode."""
    run = RunFolder(Path(run_dir))
    config = run.settings()  # says what the folder is, where it holds no run
    if not issubclass(task_class(config.task), SparseColorization):
        raise ConfigError(f"run {run_dir} trained task {config.task!r}, which does not predict colors")
    weights_path, digest = run.weights, None
    if weights_path.is_file():
        digest = run.weights_sha256()
    else:  # a checkpoint is verified when it is found
        found = latest_checkpoint(run.checkpoints)
        if found is None:
            raise ConfigError(f"--checkpoint {run_dir} holds neither {run.weights.name} nor a checkpoint")
        weights_path = found[1] / WEIGHTS_FILE
    task = build_task(config)
    task.load_state_dict(load_weights(weights_path, digest))
    return config, task.to(device).eval()


def working_scale(config: PretrainConfig) -> float:
    """Pixels of network input per pixel of the original picture (image_size / face-crop width)."""
    left, _, right, _ = config.data.face_crop
    return config.data.image_size / (right - left)


@torch.no_grad()
def colorize_rgb(task: SparseColorization, rgb: torch.Tensor, scale: float) -> torch.Tensor:
    """(1, 3, H, W) in [0, 1] (color or gray) -> colorized (1, 3, H, W) with the same intensity.

    The task colorizes a copy at the working scale; its hue and chroma are upsampled (hue as a
    unit vector, so it does not wrap wrongly) and put on the full-resolution intensity.
    """
    gray = color.intensity(rgb)
    height, width = gray.shape[-2:]
    size = (max(MIN_WORKING_SIDE, round(height * scale)), max(MIN_WORKING_SIDE, round(width * scale)))
    small = F.interpolate(gray, size=size, mode="bilinear", antialias=True, align_corners=False)
    hue, chroma = color.hue_chroma(task.colorize(small))
    angle = hue * color.TWO_PI
    maps = torch.stack([torch.cos(angle), torch.sin(angle), chroma], dim=1)
    maps = F.interpolate(maps, size=(height, width), mode="bilinear", align_corners=False)
    hue_full = torch.remainder(torch.atan2(maps[:, 1], maps[:, 0]) / color.TWO_PI, 1.0)
    return color.rgb_from_hue_chroma(hue_full, maps[:, 2].clamp(0, 1), gray[:, 0])


def _rgb_tensor(pixels: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0).float().div(255.0)


def output_names(images: list[Path]) -> list[str]:
    """``<stem>.png`` for each input; inputs that share a stem get ``<stem>-2.png``, ``<stem>-3.png``..."""
    seen: dict[str, int] = {}
    names = []
    for path in images:
        stem = Path(path).stem
        seen[stem] = seen.get(stem, 0) + 1
        names.append(f"{stem}.png" if seen[stem] == 1 else f"{stem}-{seen[stem]}.png")
    return names


# The most network pixels per image pixel ``--scale`` may ask for (a photo enlarged 8 times each way).
MAX_SCALE = 8.0


def colorize_files(images: list[Path], run_dir: Path, out_dir: Path, scale: float | None = None) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Write ``out_dir/<stem>.png`` for each readable input image (distinct names for inputs that share
    a stem); returns the written paths and the (path, reason) of inputs that could not be read."""
    if scale is not None and not (math.isfinite(scale) and 0 < scale <= MAX_SCALE):
        raise ConfigError(f"--scale must be a positive number of network pixels per image pixel, at most {MAX_SCALE}, got {scale}")
    device = default_device()
    config, task = load_run(run_dir, device)
    scale = scale or working_scale(config)
    written, skipped = [], []
    for path, name in zip(images, output_names(images)):
        try:
            pixels = decode_image(Path(path)).pixels
        except BadImage as error:
            skipped.append((Path(path), str(error)))
            continue
        rgb = _rgb_tensor(pixels).to(device)
        result = colorize_rgb(task, rgb, scale)[0].permute(1, 2, 0).cpu().numpy()
        out_path = Path(out_dir) / name
        picture = Image.fromarray(np.clip(result * 255.0 + 0.5, 0, 255).astype(np.uint8))
        write_atomic(out_path, lambda tmp, picture=picture: picture.save(tmp, format="PNG"))
        written.append(out_path)
    return written, skipped


def colorization_gallery(run_dir: Path, rgb_images: torch.Tensor, path: Path, title: str = "", scale: float = 1.0,
                         max_examples: int = GALLERY_EXAMPLES, device: torch.device | None = None) -> torch.Tensor:
    """Write a gallery PNG of a colorization run on pictures in memory: intensity | colorized | original for each.

    Args:
        run_dir: a colorization run folder (its final weights, else its latest checkpoint).
        rgb_images: (B, 3, H, W) in [0, 1], e.g. downstream test faces as cached (data.image_size a side).
        path: the PNG written, laid out for a 16:9 slide by :func:`proxytask.gallery.save_gallery`.
        title: its heading.
        scale: network pixels per picture pixel: 1.0 for pictures at the scale the run trained at
            (face crops resized to its data.image_size, as the caches hold them); ``working_scale(config)``
            for whole LFW photos at their original 250 x 250.
        max_examples: the first this many pictures are colorized and shown.
        device: where the network runs; the GPU when there is one.
    Returns:
        The colorized pictures shown, (min(B, max_examples), 3, H, W) in [0, 1], on the CPU.
    """
    if rgb_images.dim() != 4 or rgb_images.shape[1] != 3:
        raise ValueError(f"rgb_images must be (B, 3, H, W), got {tuple(rgb_images.shape)}")
    if rgb_images.numel() and not (0.0 <= rgb_images.min() and rgb_images.max() <= 1.0):
        raise ValueError(f"rgb_images must be in [0, 1], got values in [{rgb_images.min():g}, {rgb_images.max():g}]")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number of network pixels per picture pixel, got {scale}")
    device = device or default_device()
    _, task = load_run(run_dir, device)
    shown = rgb_images[:max_examples].float().to(device)
    colorized = colorize_rgb(task, shown, scale).cpu()
    shown = shown.cpu()
    panels = [("intensity", color.intensity(shown).expand(-1, 3, -1, -1)), ("colorized", colorized), ("original", shown)]
    save_gallery(panels, Path(path), max_examples, title, GALLERY_LEGEND)
    return colorized


def photo_gallery(run_dir: Path, photo_paths: list[Path], out_dir: Path, scale: float | None = None) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Colorize photo files at their full size and write one figure per photo: gray | colorized | original.

    The photos are colorized by :func:`colorize_files` into ``out_dir/colorized/<stem>.png`` (full
    resolution); each figure, ``out_dir/<stem>.png`` (the same name), shows the photo at full
    resolution where its three panels fit a 1920 x 1080 slide, shrunk to fit otherwise, and a small
    photo enlarged (nearest neighbour); its caption says which.

    Args:
        run_dir: a colorization run folder.
        photo_paths: image files of any size, color or gray (the original panel of a gray one is gray).
        out_dir: the folder written.
        scale: as in :func:`colorize_files` (default: the run's working scale, for photos framed like LFW's).
    Returns:
        The figures written, and the (path, reason) of photos that could not be read.
    """
    colorized_dir = Path(out_dir) / "colorized"
    written, skipped = colorize_files(photo_paths, run_dir, colorized_dir, scale)
    colorized_paths = set(written)
    figures = []
    for photo, name in zip(photo_paths, output_names(photo_paths)):
        if colorized_dir / name not in colorized_paths:
            continue
        original, colorized = (_rgb_tensor(decode_image(Path(source)).pixels) for source in (photo, colorized_dir / name))
        panels = [("gray", color.intensity(original).expand(-1, 3, -1, -1)), ("colorized", colorized), ("original", original)]
        height, width = original.shape[-2:]
        figure = Path(out_dir) / name
        save_gallery(panels, figure, title=Path(photo).name, legend=PHOTO_LEGEND,
                     largest_cell=max(LARGEST_CELL, height, width))
        figures.append(figure)
    return figures, skipped
