"""Shared by the proxy tasks that corrupt an image and reconstruct it: denoising and inpainting.

A task says how to corrupt a batch and which pixels the loss counts; the encoder (the backbone)
reads the corrupted image (intensity or RGB, as the network input says), a light decoder rebuilds
the clean one in the same channels, and the loss is the mean squared error over the counted
pixels, in the [-1, 1] scale.
"""

from __future__ import annotations

from abc import abstractmethod

import torch
import torch.nn.functional as F

from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.models.decoder import LightDecoder
from proxytask.tasks.base import ProxyTask, rgb_panel


class ReconstructionTask(ProxyTask):
    """Corrupt -> encode -> decode -> masked L2 against the clean image."""

    changes_pictures = True
    pretext_metrics = {"psnr_reconstructed": "held-out PSNR of the reconstruction (dB)",
                       "psnr_corrupted": "held-out PSNR of the corrupted input (dB)"}

    def __init__(self, backbone: Backbone, input_kind: str) -> None:
        super().__init__(backbone, input_kind)
        self.decoder = LightDecoder(backbone.channels[-1], backbone.reductions[-1], out_channels=self.network_input.channels)

    @abstractmethod
    def corrupt(self, clean: torch.Tensor, rng: BatchRandom) -> tuple[torch.Tensor, torch.Tensor]:
        """Clean images (B, C, H, W) in [0, 1] -> corrupted images (same shape, in [0, 1]) and the
        loss weight of each pixel (B, 1, H, W)."""

    def make_batch(self, images: torch.Tensor, rng: BatchRandom, labels: torch.Tensor | None = None):
        """(B, 3, H, W) RGB -> corrupted network input (B, C, H, W); targets: the clean channels
        (B, C, H, W) in [-1, 1] and pixel weights (B, 1, H, W)."""
        clean = self.network_input.select(images)
        corrupted, weights = self.corrupt(clean, rng)
        return self.network_input.normalize(corrupted), (clean * 2.0 - 1.0, weights)

    def reconstruct(self, inputs: torch.Tensor) -> torch.Tensor:
        """Corrupted network input (B, C, H, W) -> reconstruction (B, C, H, W) in the [-1, 1] scale.

        When H or W is not a multiple of the backbone's stride, the decoder's output is resized to fit.
        """
        decoded = self.decoder(self.backbone(inputs)[-1])
        if decoded.shape[-2:] != inputs.shape[-2:]:
            decoded = F.interpolate(decoded, size=inputs.shape[-2:], mode="bilinear", align_corners=False)
        return decoded

    def forward(self, inputs, targets) -> dict[str, torch.Tensor]:
        clean, weights = targets
        squared = (self.reconstruct(inputs).float() - clean).pow(2).mean(dim=1, keepdim=True)
        return {"loss": (squared * weights).sum() / weights.sum().clamp(min=1.0)}

    @torch.no_grad()
    def visualize(self, images: torch.Tensor, labels: torch.Tensor | None = None):
        rng = BatchRandom(0, 0, images.shape[0], device=images.device)
        clean = self.network_input.select(images)
        corrupted, weights = self.corrupt(clean, rng)
        rebuilt = ((self.reconstruct(self.network_input.normalize(corrupted)).float() + 1.0) / 2.0).clamp(0.0, 1.0)
        counted = weights.expand_as(clean)
        metrics = {"psnr_reconstructed": _masked_psnr(rebuilt, clean, counted),
                   "psnr_corrupted": _masked_psnr(corrupted, clean, counted)}
        # Where the loss counts no pixel (an inpainting's context) the decoder's output is untrained: show the input there.
        shown = corrupted * (1.0 - counted) + rebuilt * counted
        panels = [("corrupted", corrupted), ("reconstructed", shown), ("clean", clean)]
        return [(title, rgb_panel(panel)) for title, panel in panels], metrics


def _masked_psnr(prediction: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> float:
    """PSNR in dB over the weighted pixels, mean over images."""
    mse = ((prediction - target).pow(2) * weights).flatten(1).sum(1) / weights.flatten(1).sum(1).clamp(min=1.0)
    return (10.0 * torch.log10(1.0 / mse.clamp(min=1e-10))).mean().item()


def grid_mask(batch: int, height: int, width: int, cell: int, fraction: float, rng: BatchRandom) -> torch.Tensor:
    """Random mask of ``cell`` x ``cell`` blocks, each masked with probability ``fraction``: (B, 1, H, W) float."""
    rows, cols = -(-height // cell), -(-width // cell)
    blocks = (rng.rand(1, rows, cols) < fraction).float()
    return blocks.repeat_interleave(cell, -2).repeat_interleave(cell, -1)[..., :height, :width]

