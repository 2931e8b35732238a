"""Denoising autoencoder (Vincent et al. 2008/2010): reconstruct the clean image from a corrupted one.

Corruption: masking noise (a fraction of pixels, or of ``mask_cell``-sized blocks, set to zero)
and/or additive Gaussian noise; the loss counts every pixel.
"""

from __future__ import annotations

import torch

from proxytask.config import DenoisingConfig
from proxytask.data.batches import BatchRandom
from proxytask.tasks.reconstruction import ReconstructionTask, grid_mask


class Denoising(ReconstructionTask):
    name = "denoising"
    config: DenoisingConfig

    def corrupt(self, clean: torch.Tensor, rng: BatchRandom) -> tuple[torch.Tensor, torch.Tensor]:
        batch, _, height, width = clean.shape
        corrupted = clean
        if self.config.mask_fraction > 0:
            masked = grid_mask(batch, height, width, self.config.mask_cell, self.config.mask_fraction, rng)
            corrupted = corrupted * (1.0 - masked)
        if self.config.gaussian_std > 0:
            corrupted = (corrupted + self.config.gaussian_std * rng.randn(clean.shape[1], height, width)).clamp(0.0, 1.0)
        return corrupted, torch.ones(batch, 1, height, width, device=clean.device)
