"""Inpainting, the context encoder of Pathak et al. (CVPR 2016) without its adversarial term.

A central square of ``fraction`` of the image area (or random ``block``-sized blocks, each hidden
with probability ``fraction``) is filled with mid-gray; the L2 loss counts only the hidden pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from proxytask.config import TaskSettings, setting
from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.tasks.reconstruction import ReconstructionTask, grid_mask
from proxytask.tasks.registry import register_task

FILL = 0.5  # mid-gray, 0 in the network's [-1, 1] scale


def center_mask(batch: int, height: int, width: int, fraction: float, device: torch.device) -> torch.Tensor:
    """(B, 1, H, W) float: 1 in the central rectangle holding ``fraction`` of the area."""
    side = math.sqrt(fraction)
    rows, cols = round(height * side), round(width * side)
    top, left = (height - rows) // 2, (width - cols) // 2
    mask = torch.zeros(batch, 1, height, width, device=device)
    mask[..., top:top + rows, left:left + cols] = 1.0
    return mask


@dataclass
class InpaintingConfig(TaskSettings):
    """Context encoder (Pathak et al.): a central square or random blocks, about ``fraction`` of the image."""

    section = "inpainting"

    region: str = setting("center", choices=("center", "random"))
    fraction: float = setting(0.25, low=0.0, high=1.0, low_open=True, high_open=True)
    block: int = setting(8, low=1)


@register_task
class Inpainting(ReconstructionTask):
    name = "inpainting"

    def __init__(self, backbone: Backbone, input_kind: str, config: InpaintingConfig) -> None:
        super().__init__(backbone, input_kind)
        self.config = config

    @property
    def gallery_legend(self) -> str:
        return "reconstructed: the decoder's fill of the hidden pixels (the only ones the loss counts), the input elsewhere"

    def corrupt(self, clean: torch.Tensor, rng: BatchRandom) -> tuple[torch.Tensor, torch.Tensor]:
        batch, _, height, width = clean.shape
        if self.config.region == "center":
            hidden = center_mask(batch, height, width, self.config.fraction, clean.device)
        else:
            hidden = grid_mask(batch, height, width, self.config.block, self.config.fraction, rng)
        return clean * (1.0 - hidden) + FILL * hidden, hidden
