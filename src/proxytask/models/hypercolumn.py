"""Hypercolumns with sparse sampling (Larsson et al.): read every feature level at chosen pixels.

A point is a pixel center in normalized image coordinates (x, y) in [-1, 1] with
``align_corners=False`` semantics, so the same point lands on the same image position in every
feature level whatever its stride: pixel (row, col) of an H x W image is
``((2 col + 1) / W - 1, (2 row + 1) / H - 1)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pixel_points(rows: torch.Tensor, cols: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Normalized points of pixel centers: rows, cols (B, P) -> (B, P, 2) as (x, y)."""
    x = (2.0 * cols.float() + 1.0) / width - 1.0
    y = (2.0 * rows.float() + 1.0) / height - 1.0
    return torch.stack([x, y], dim=-1)


def dense_points(height: int, width: int, batch: int, device: torch.device) -> torch.Tensor:
    """Every pixel center of an H x W image, row-major: (B, H * W, 2)."""
    rows, cols = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij")
    points = pixel_points(rows.reshape(1, -1), cols.reshape(1, -1), height, width)
    return points.expand(batch, -1, -1)


def sample_hypercolumns(levels: list[torch.Tensor], points: torch.Tensor) -> torch.Tensor:
    """Bilinearly read each level at ``points`` and concatenate.

    Args:
        levels: feature maps (B, C_i, H_i, W_i), any strides.
        points: (B, P, 2) normalized (x, y).
    Returns:
        (B, P, sum C_i) hypercolumns. Gradients flow only to the (up to) four neighbours of each
        point in each level.
    """
    grid = points.unsqueeze(2).to(levels[0].dtype)  # (B, P, 1, 2)
    columns = [
        F.grid_sample(level, grid, mode="bilinear", padding_mode="border", align_corners=False).squeeze(-1)
        for level in levels
    ]
    return torch.cat(columns, dim=1).transpose(1, 2)
