"""Supervised pretraining on the pool's identity labels: the "ImageNet labels" analogue of PROTOCOL.md.

Not a proxy task but the ceiling one tries to reach: the same backbone and input as the proxies,
trained to tell apart the pool's people with at least ``min_images_per_identity`` images.
"""

from __future__ import annotations

import torch

from proxytask.config import SupervisedConfig
from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.tasks.base import PooledClassificationTask, rgb_panel


class Supervised(PooledClassificationTask):
    """Identity classification: global average pool of the last stage, dropout, linear."""

    name = "supervised"
    needs_labels = True

    def __init__(self, backbone: Backbone, input_kind: str, config: SupervisedConfig, num_classes: int) -> None:
        super().__init__(backbone, input_kind, num_classes, config.head_dropout)
        self.config = config

    def make_batch(self, images: torch.Tensor, rng: BatchRandom, labels: torch.Tensor | None = None):
        """(B, 3, H, W) RGB and identities (B,) -> network input (B, C, H, W) and identities (B,)."""
        if labels is None:
            raise ValueError("supervised pretraining needs identity labels")
        return self.network_input(images), labels

    @torch.no_grad()
    def visualize(self, images: torch.Tensor, labels: torch.Tensor | None = None):
        inputs, labels = self.make_batch(images, BatchRandom(0, 0, images.shape[0]), labels)
        correct = self.logits(inputs).argmax(1) == labels
        marked = rgb_panel(self.network_input.select(images))
        marked[~correct, 0, :2] = 1.0  # a red bar on the wrongly identified
        return [("input (red bar: wrong identity)", marked)], {"heldout_accuracy": correct.float().mean().item()}
