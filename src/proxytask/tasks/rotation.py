"""Rotation prediction (Gidaris, Singh and Komodakis, ICLR 2018): which of 0, 90, 180, 270 degrees.

Every image enters the batch four times, once per rotation, so the four classes are always
balanced and the network cannot tell them apart by image content alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from proxytask.config import PROBABILITY, TaskSettings, setting
from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.tasks.base import PooledClassificationTask, mark_red, rgb_panel
from proxytask.tasks.registry import register_task

ROTATIONS = 4


def all_rotations(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, C, S, S) -> the four rotations (4B, C, S, S), rotation-major, and their labels (4B,) in 0..3.

    Label r means the image was turned r * 90 degrees counter-clockwise.
    """
    if images.shape[-1] != images.shape[-2]:
        raise ValueError(f"rotation needs square images, got {tuple(images.shape[-2:])}")
    rotated = torch.cat([torch.rot90(images, r, dims=(-2, -1)) for r in range(ROTATIONS)])
    labels = torch.arange(ROTATIONS, device=images.device).repeat_interleave(images.shape[0])
    return rotated, labels


@dataclass
class RotationConfig(TaskSettings):
    """Rotation prediction (Gidaris et al. 2018)."""

    section = "rotation"

    head_dropout: float = setting(0.0, **PROBABILITY)


@register_task
class Rotation(PooledClassificationTask):
    """Global average pool of the last stage, dropout, linear over the 4 rotations."""

    name = "rotation"
    pretext_metrics = {"heldout_rotation_accuracy": "held-out share of rotations found"}

    def __init__(self, backbone: Backbone, input_kind: str, config: RotationConfig) -> None:
        super().__init__(backbone, input_kind, ROTATIONS, config.head_dropout)
        self.config = config

    def make_batch(self, images: torch.Tensor, rng: BatchRandom, labels: torch.Tensor | None = None):
        """(B, 3, S, S) -> network input (4B, C, S, S) and rotation labels (4B,)."""
        rotated, rotation_labels = all_rotations(images)
        return self.network_input(rotated), rotation_labels

    @property
    def gallery_legend(self) -> str:
        return "each picture at the four rotations; red bar: rotation not recognised"

    @torch.no_grad()
    def visualize(self, images: torch.Tensor, labels: torch.Tensor | None = None):
        inputs, targets = self.make_batch(images, BatchRandom(0, 0, images.shape[0]))
        predicted = self.logits(inputs).argmax(1)
        batch = images.shape[0]
        rotated = rgb_panel(self.network_input.select(all_rotations(images)[0]))
        panels = []
        for r in range(ROTATIONS):
            wrong = predicted[r * batch:(r + 1) * batch] != r
            panels.append((f"{90 * r}°", mark_red(rotated[r * batch:(r + 1) * batch], wrong)))
        return panels, {"heldout_rotation_accuracy": (predicted == targets).float().mean().item()}
