"""Contrastive instance discrimination, SimCLR-style (Chen, Kornblith, Norouzi and Hinton, ICML 2020).

Every pool image gives two views (random resized crop, flip, color jitter where the input has
color, brightness and contrast jitter on intensity, Gaussian blur). The backbone's last level,
globally pooled, goes through a projection MLP; the NT-Xent loss at temperature tau asks each view
to pick its partner among the other 2B - 1 views of the batch; under several processes the views
of every rank are gathered, so the batch is the global one.

The augmentations are kornia's operations with parameters drawn from the step's
:class:`BatchRandom`, so a resumed run repeats an uninterrupted one's views.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from kornia.enhance import adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation
from kornia.filters import gaussian_blur2d
from kornia.geometry.transform import crop_and_resize
from torch import nn

from proxytask import distributed
from proxytask.color import intensity
from proxytask.config import POSITIVE, TaskSettings, setting
from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.tasks.base import ProxyTask, mark_red, rgb_panel
from proxytask.tasks.registry import register_task

VIEWS = 2


@dataclass
class ContrastiveConfig(TaskSettings):
    """SimCLR's recipe, scaled to small faces: crops cover ``min_scale``..1 of the image at aspect
    3/4..4/3; jitter (probability ``jitter_probability``) scales saturation by 1 +- ``jitter`` and
    turns hue by up to ``hue_jitter`` of a turn (RGB views, which then turn gray with
    ``gray_probability``), then adds up to +-``jitter`` to brightness and scales intensities by
    1 +- ``jitter`` (kornia's contrast: a product, not a blend with the mean); a blur of sigma
    0.1..2 px hits with ``blur_probability``."""

    temperature: float = setting(0.2, **POSITIVE)
    projection_width: int = setting(512, low=1)
    projection_dim: int = setting(128, low=1)
    min_scale: float = setting(0.2, low=0.0, high=1.0, low_open=True)
    jitter: float = setting(0.4, low=0.0, high=1.0)
    hue_jitter: float = setting(0.1, low=0.0, high=0.5)
    jitter_probability: float = setting(0.8, low=0.0, high=1.0)
    gray_probability: float = setting(0.2, low=0.0, high=1.0)
    blur_probability: float = setting(0.5, low=0.0, high=1.0)

    section = "contrastive"


def nt_xent(projections: torch.Tensor, temperature: float, across_ranks: bool = False) -> torch.Tensor:
    """NT-Xent over this rank's (2b, D) projections, the first views of its b images, then their
    second views: the mean cross-entropy of each view's cosine similarities to every other view of
    the batch (divided by ``temperature``) against its partner.

    ``across_ranks``: the views of every rank are gathered (gradients flow back to their ranks), so
    each view is contrasted with the whole global batch's 2B - 1 others, as in one process; with the
    gradients averaged over ranks, the step is the one-process step. Computed in float32 even
    under autocast (a bf16 product would blur logits scaled by 1 / tau).
    """
    with torch.autocast(projections.device.type, enabled=False):
        z = F.normalize(projections.float(), dim=1)
        local = z.shape[0] // 2
        parts, rank = distributed.gather_with_gradients(z) if across_ranks else ([z], 0)
        everyone = torch.cat([part[:local] for part in parts] + [part[local:] for part in parts])  # (2B, D): first views, then second
        total = everyone.shape[0] // 2
        own_images = torch.arange(rank * local, (rank + 1) * local, device=z.device)
        mine = torch.cat([own_images, own_images + total])  # this rank's rows of ``everyone``
        similarity = z @ everyone.T / temperature
        similarity[torch.arange(2 * local, device=z.device), mine] = float("-inf")
        return F.cross_entropy(similarity, (mine + total) % (2 * total))


def partner_retrieval(projections: torch.Tensor) -> torch.Tensor:
    """(2B,) bool: whether each view's most similar other view is its partner (top-1 retrieval)."""
    z = F.normalize(projections.float(), dim=1)
    nearest = (z @ z.T).fill_diagonal_(float("-inf")).argmax(1)
    half = z.shape[0] // 2
    return nearest == (torch.arange(2 * half, device=z.device) + half) % (2 * half)


@register_task
class Contrastive(ProxyTask):
    """Two views per image -> backbone -> global average pool -> projection MLP -> NT-Xent."""

    name = "contrastive"
    changes_pictures = True
    pretext_metrics = {"heldout_view_retrieval_top1": "held-out share of views whose nearest view is their partner",
                       "retrieval_chance": "that share by chance"}

    def __init__(self, backbone: Backbone, input_kind: str, config: ContrastiveConfig) -> None:
        super().__init__(backbone, input_kind)
        self.config = config
        self.projection = nn.Sequential(nn.Linear(backbone.channels[-1], config.projection_width),
                                        nn.BatchNorm1d(config.projection_width), nn.ReLU(inplace=True),
                                        nn.Linear(config.projection_width, config.projection_dim))

    def augment(self, images: torch.Tensor, rng: BatchRandom) -> torch.Tensor:
        """One view of each image: RGB (B, 3, S, S) in [0, 1] -> the network input's channels (B, C, S, S) in [0, 1]."""
        cfg = self.config
        batch, _, height, width = images.shape
        area = cfg.min_scale + (1.0 - cfg.min_scale) * rng.rand(1)[:, 0]
        aspect = torch.exp((rng.rand(1)[:, 0] - 0.5) * 2.0 * math.log(4.0 / 3.0))
        crop_w = (width * torch.sqrt(area * aspect)).clamp(2.0, width)
        crop_h = (height * torch.sqrt(area / aspect)).clamp(2.0, height)
        left = rng.rand(1)[:, 0] * (width - crop_w)
        top = rng.rand(1)[:, 0] * (height - crop_h)
        right, bottom = left + crop_w - 1.0, top + crop_h - 1.0
        boxes = torch.stack([torch.stack([left, top], 1), torch.stack([right, top], 1),
                             torch.stack([right, bottom], 1), torch.stack([left, bottom], 1)], 1)
        views = crop_and_resize(images, boxes.to(images.dtype), (height, width))
        flip = (rng.rand(1)[:, 0] < 0.5).view(-1, 1, 1, 1)
        views = torch.where(flip, views.flip(-1), views)
        jitter = (rng.rand(1)[:, 0] < cfg.jitter_probability).to(images.dtype)
        strength = jitter[:, None] * (rng.rand(4) * 2.0 - 1.0)  # (B, 4): brightness, contrast, saturation, hue
        color = self.network_input.channels == 3
        if color:
            views = adjust_saturation(views, 1.0 + cfg.jitter * strength[:, 2])
            views = adjust_hue(views, cfg.hue_jitter * 2.0 * math.pi * strength[:, 3])
            gray = (rng.rand(1)[:, 0] < cfg.gray_probability).view(-1, 1, 1, 1)
            views = torch.where(gray, intensity(views).expand_as(views), views)
        views = self.network_input.select(views)
        views = adjust_brightness(views, cfg.jitter * strength[:, 0])
        views = adjust_contrast(views, 1.0 + cfg.jitter * strength[:, 1])
        sigma = (0.1 + 1.9 * rng.rand(1)[:, 0]).to(images.dtype)
        blurred = gaussian_blur2d(views, _odd(0.1 * min(height, width)), torch.stack([sigma, sigma], 1))
        blur = (rng.rand(1)[:, 0] < cfg.blur_probability).view(-1, 1, 1, 1)
        return torch.where(blur, blurred, views).clamp(0.0, 1.0)

    def make_batch(self, images: torch.Tensor, rng: BatchRandom, labels: torch.Tensor | None = None):
        """(B, 3, S, S) RGB -> both views as network input (2B, C, S, S), the first views first; no targets."""
        views = [self.augment(images, rng) for _ in range(VIEWS)]
        return self.network_input.normalize(torch.cat(views)), None

    def project(self, inputs: torch.Tensor) -> torch.Tensor:
        """Network input (N, C, S, S) -> projections (N, projection_dim)."""
        return self.projection(self.backbone(inputs)[-1].mean(dim=(2, 3)))

    def forward(self, inputs, targets) -> dict[str, torch.Tensor]:
        return {"loss": nt_xent(self.project(inputs), self.config.temperature, across_ranks=self.data_parallel)}

    @property
    def gallery_legend(self) -> str:
        return "two augmented views of each picture; red bar: the view's nearest other view is not its partner"

    @torch.no_grad()
    def visualize(self, images: torch.Tensor, labels: torch.Tensor | None = None):
        inputs, _ = self.make_batch(images, BatchRandom(0, 0, images.shape[0], device=images.device))
        found = partner_retrieval(self.project(inputs))
        batch = images.shape[0]
        shown = mark_red(rgb_panel((inputs + 1.0) / 2.0), ~found)
        panels = [(f"view {v + 1}", shown[v * batch:(v + 1) * batch]) for v in range(VIEWS)]
        return panels, {"heldout_view_retrieval_top1": found.float().mean().item(), "retrieval_chance": 1.0 / (VIEWS * batch - 1)}


def _odd(size: float) -> int:
    """An odd kernel size within 1 of ``size`` (its whole part, made odd upwards), at least 3."""
    return max(3, int(size) // 2 * 2 + 1)
