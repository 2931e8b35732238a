"""Supervised pretraining on the pool's identity labels: the "ImageNet labels" analogue of PROTOCOL.md.

Not a proxy task but the ceiling one tries to reach: the same backbone and input as the proxies,
trained to tell apart the pool's people with at least ``min_images_per_identity`` images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from proxytask.config import PROBABILITY, ConfigError, TaskSettings, setting
from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.tasks.base import PooledClassificationTask, RunSettings, mark_red, rgb_panel
from proxytask.tasks.registry import register_task


@dataclass
class SupervisedConfig(TaskSettings):
    """Supervised pretraining on pool identities: the ceiling a proxy task tries to reach."""

    section = "supervised"

    min_images_per_identity: int = setting(5, low=2)
    head_dropout: float = setting(0.0, **PROBABILITY)


def identity_labels(groups: np.ndarray, min_images: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Indices of the images whose group (a person: the parent folder) has >= ``min_images``
    of them, their labels, and the class count."""
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    kept = counts[inverse] >= min_images
    _, labels = np.unique(inverse[kept], return_inverse=True)
    return np.flatnonzero(kept), labels, int((counts >= min_images).sum())


@register_task
class Supervised(PooledClassificationTask):
    """Identity classification: global average pool of the last stage, dropout, linear."""

    name = "supervised"
    pretext_metrics = {"heldout_accuracy": "held-out share of identities found"}

    def __init__(self, backbone: Backbone, input_kind: str, config: SupervisedConfig, num_classes: int) -> None:
        super().__init__(backbone, input_kind, num_classes, config.head_dropout)
        self.config = config

    @classmethod
    def pool_labels(cls, folders: np.ndarray, config: RunSettings) -> tuple[np.ndarray, np.ndarray, int]:
        """A picture's identity is its parent folder; people with fewer than ``min_images_per_identity`` are left out."""
        least = config.section(SupervisedConfig).min_images_per_identity
        kept, labels, num_classes = identity_labels(folders, least)
        if num_classes < 2:
            raise ConfigError(f"{cls.name} pretraining needs at least 2 identities (parent folders of the pool with >= "
                              f"supervised.min_images_per_identity={least} pictures); the pool ({', '.join(config.data.pool)}) "
                              f"has {num_classes}")
        return kept, labels, num_classes

    def make_batch(self, images: torch.Tensor, rng: BatchRandom, labels: torch.Tensor | None = None):
        """(B, 3, H, W) RGB and identities (B,) -> network input (B, C, H, W) and identities (B,)."""
        if labels is None:
            raise ValueError("supervised pretraining needs identity labels")
        return self.network_input(images), labels

    @property
    def gallery_legend(self) -> str:
        return "red bar: identity not recognised"

    @torch.no_grad()
    def visualize(self, images: torch.Tensor, labels: torch.Tensor | None = None):
        inputs, labels = self.make_batch(images, BatchRandom(0, 0, images.shape[0]), labels)
        correct = self.logits(inputs).argmax(1) == labels
        marked = mark_red(rgb_panel(self.network_input.select(images)), ~correct)
        return [("input", marked)], {"heldout_accuracy": correct.float().mean().item()}
