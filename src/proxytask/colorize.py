"""Colorize arbitrary images with a trained colorization run, as METHOD.md section 2 decodes them.

Colors are predicted densely at the scale the network was trained at (the face crop resized to
``data.image_size``), upsampled, and combined with the input's own full-resolution intensity.
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
from proxytask.runs import PretrainConfig, RunFolder
from proxytask.tasks import build_task, task_class
from proxytask.tasks.colorization import SparseColorization

MIN_WORKING_SIDE = 16


def load_run(run_dir: Path, device: torch.device) -> tuple[PretrainConfig, SparseColorization]:
    """Config and trained colorization task of a run folder (final weights, else its latest checkpoint), in eval mode."""
    run = RunFolder(Path(run_dir))
    if not run.started:
        raise ConfigError(f"--checkpoint {run_dir} is not a run folder (no {run.config.name})")
    config = run.settings()
    if not issubclass(task_class(config.task), SparseColorization):
        raise ConfigError(f"run {run_dir} trained task {config.task!r}, which does not predict colors")
    weights_path = run.weights
    if not weights_path.is_file():
        found = latest_checkpoint(run.checkpoints)
        if found is None:
            raise ConfigError(f"--checkpoint {run_dir} holds neither {run.weights.name} nor a checkpoint")
        weights_path = found[1] / WEIGHTS_FILE
    task = build_task(config)
    task.load_state_dict(load_weights(weights_path))
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


def output_names(images: list[Path]) -> list[str]:
    """``<stem>.png`` for each input; inputs that share a stem get ``<stem>-2.png``, ``<stem>-3.png``..."""
    seen: dict[str, int] = {}
    names = []
    for path in images:
        stem = Path(path).stem
        seen[stem] = seen.get(stem, 0) + 1
        names.append(f"{stem}.png" if seen[stem] == 1 else f"{stem}-{seen[stem]}.png")
    return names


def colorize_files(images: list[Path], run_dir: Path, out_dir: Path, scale: float | None = None) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Write ``out_dir/<stem>.png`` for each readable input image (distinct names for inputs that share
    a stem); returns the written paths and the (path, reason) of inputs that could not be read."""
    if scale is not None and not (math.isfinite(scale) and scale > 0):
        raise ConfigError(f"--scale must be a positive number of network pixels per image pixel, got {scale}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    config, task = load_run(run_dir, device)
    scale = scale or working_scale(config)
    written, skipped = [], []
    for path, name in zip(images, output_names(images)):
        try:
            pixels = decode_image(Path(path)).pixels
        except BadImage as error:
            skipped.append((Path(path), str(error)))
            continue
        rgb = torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0).float().div(255.0).to(device)
        result = colorize_rgb(task, rgb, scale)[0].permute(1, 2, 0).cpu().numpy()
        out_path = Path(out_dir) / name
        picture = Image.fromarray(np.clip(result * 255.0 + 0.5, 0, 255).astype(np.uint8))
        write_atomic(out_path, lambda tmp, picture=picture: picture.save(tmp, format="PNG"))
        written.append(out_path)
    return written, skipped
