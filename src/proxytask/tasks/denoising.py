"""Denoising autoencoder (Vincent et al. 2008/2010): reconstruct the clean image from a corrupted one.

Corruption: masking noise (a fraction of pixels, or of ``mask_cell``-sized blocks, set to zero)
and/or additive Gaussian noise; the loss counts every pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from proxytask.config import PROBABILITY, ConfigError, TaskSettings, setting
from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.tasks.reconstruction import ReconstructionTask, grid_mask
from proxytask.tasks.registry import register_task


@dataclass
class DenoisingConfig(TaskSettings):
    """Denoising autoencoder (Vincent et al.): masking noise and/or Gaussian noise."""

    section = "denoising"

    mask_fraction: float = setting(0.3, **PROBABILITY)
    mask_cell: int = setting(1, low=1)
    gaussian_std: float = setting(0.0, low=0.0)

    def rules(self, where: str) -> None:
        if self.mask_fraction == 0 and self.gaussian_std == 0:
            raise ConfigError(f"denoising needs a corruption: set {where}mask_fraction or {where}gaussian_std")


@register_task
class Denoising(ReconstructionTask):
    name = "denoising"

    def __init__(self, backbone: Backbone, input_kind: str, config: DenoisingConfig) -> None:
        super().__init__(backbone, input_kind)
        self.config = config

    def corrupt(self, clean: torch.Tensor, rng: BatchRandom) -> tuple[torch.Tensor, torch.Tensor]:
        batch, _, height, width = clean.shape
        corrupted = clean
        if self.config.mask_fraction > 0:
            masked = grid_mask(batch, height, width, self.config.mask_cell, self.config.mask_fraction, rng)
            corrupted = corrupted * (1.0 - masked)
        if self.config.gaussian_std > 0:
            corrupted = (corrupted + self.config.gaussian_std * rng.randn(clean.shape[1], height, width)).clamp(0.0, 1.0)
        return corrupted, torch.ones(batch, 1, height, width, device=clean.device)
