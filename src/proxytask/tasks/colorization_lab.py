"""The colorization variants of the paper's loss ablation, in Lab color (METHOD.md section 3).

- ``colorization-lab`` (Zhang et al. 2016): classify ab into the in-gamut 10 x 10 bins, soft
  encoding on the 5 nearest bins (sigma 5), class rebalancing (lambda 0.5) against the empirical
  prior of the training images (a running average), decoding by the annealed mean (T 0.38).
- ``colorization-l2``: regression of ab with a squared error, the plain baseline.

Both keep everything else of the hue/chroma task (intensity input, sparse hypercolumn head), so
that only the loss formulation differs, which is what the ablation asks; Zhang et al. feed Lab
lightness instead of intensity.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from proxytask import color, distributed, lab
from proxytask.config import POSITIVE, PROBABILITY, TaskSettings, setting
from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.models.dropout import FastDropout
from proxytask.models.hypercolumn import pixel_points
from proxytask.tasks.colorization import ColorizationConfig, SparseColorization, gather_points, hypercolumn_channels
from proxytask.tasks.registry import register_task

AB_SCALE = 110.0  # ab / AB_SCALE is the regression target, about [-1, 1]


@dataclass
class LabConfig(TaskSettings):
    """Lab-bin colorization (Zhang et al. 2016): soft encoding, rebalancing, annealed mean."""

    section = "lab"

    neighbours: int = setting(5, low=1)
    sigma: float = setting(5.0, **POSITIVE)
    rebalance: float = setting(0.5, low=0.0, high=1.0)
    temperature: float = setting(0.38, **POSITIVE)
    prior_momentum: float = setting(0.99, **PROBABILITY)


def hypercolumn_head(in_features: int, config: ColorizationConfig, outputs: int) -> nn.Sequential:
    """Linear(-> width), ReLU, Dropout, Linear(width -> outputs)."""
    return nn.Sequential(nn.Linear(in_features, config.head_width), nn.ReLU(inplace=True),
                         FastDropout(config.head_dropout), nn.Linear(config.head_width, outputs))


def ab_at_pixels(images: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """ab of RGB images (B, 3, H, W) at pixels rows, cols (B, P) -> (B, P, 2)."""
    return gather_points(lab.rgb_to_ab(images).permute(0, 3, 1, 2), rows, cols)


@register_task
class LabBinsColorization(SparseColorization):
    name = "colorization-lab"

    def __init__(self, backbone: Backbone, input_kind: str, config: ColorizationConfig, lab_config: LabConfig) -> None:
        centers = lab.in_gamut_ab_bins()
        super().__init__(backbone, input_kind, config, hypercolumn_head(hypercolumn_channels(backbone, config), config, len(centers)))
        self.lab_config = lab_config
        self.register_buffer("centers", centers)
        self.register_buffer("prior", torch.full((len(centers),), 1.0 / len(centers)))

    def make_batch(self, images: torch.Tensor, rng: BatchRandom, labels: torch.Tensor | None = None):
        """(B, 3, H, W) -> inputs (intensity, points (B, P, 2)); targets: soft bins (B, P, Q) and
        the rebalancing weight of each point's nearest bin (B, P). In training, updates the prior with
        the bin frequencies of the global batch (all ranks), so every rank keeps the same prior."""
        cfg = self.lab_config
        rows, cols = self.sample_pixels(images, rng)
        soft = lab.soft_encode(ab_at_pixels(images, rows, cols), self.centers, cfg.neighbours, cfg.sigma)
        if self.training:  # under data parallelism from the global batch, so every rank keeps the same prior
            frequencies = soft.mean(dim=(0, 1))
            frequencies = distributed.mean_over_ranks(frequencies) if self.data_parallel else frequencies
            self.prior.mul_(cfg.prior_momentum).add_((1.0 - cfg.prior_momentum) * frequencies)
        weights = lab.rebalancing_weights(self.prior, self.centers, cfg.rebalance, cfg.sigma)[soft.argmax(-1)]
        _, _, height, width = images.shape
        return (color.intensity(images), pixel_points(rows, cols, height, width)), (soft, weights)

    def forward(self, inputs, targets) -> dict[str, torch.Tensor]:
        soft, weights = targets
        log_probs = F.log_softmax(self.predict(*inputs).float(), -1)
        return {"loss": (weights * -(soft * log_probs).sum(-1)).mean()}

    @torch.no_grad()
    def colorize(self, gray: torch.Tensor) -> torch.Tensor:
        temperature = self.lab_config.temperature
        (ab,) = self.predict_dense(gray, lambda logits: (lab.annealed_mean(logits.float().softmax(-1), self.centers, temperature),))
        return lab.lab_rgb(gray, ab)


@register_task
class LabRegressionColorization(SparseColorization):
    name = "colorization-l2"

    def __init__(self, backbone: Backbone, input_kind: str, config: ColorizationConfig) -> None:
        super().__init__(backbone, input_kind, config, hypercolumn_head(hypercolumn_channels(backbone, config), config, 2))

    def make_batch(self, images: torch.Tensor, rng: BatchRandom, labels: torch.Tensor | None = None):
        """(B, 3, H, W) -> inputs (intensity, points (B, P, 2)); target: ab / 110 at the points (B, P, 2)."""
        rows, cols = self.sample_pixels(images, rng)
        _, _, height, width = images.shape
        inputs = (color.intensity(images), pixel_points(rows, cols, height, width))
        return inputs, ab_at_pixels(images, rows, cols) / AB_SCALE

    def forward(self, inputs, targets) -> dict[str, torch.Tensor]:
        return {"loss": F.mse_loss(self.predict(*inputs).float(), targets)}

    @torch.no_grad()
    def colorize(self, gray: torch.Tensor) -> torch.Tensor:
        (ab,) = self.predict_dense(gray, lambda output: (output.float() * AB_SCALE,))
        return lab.lab_rgb(gray, ab)
