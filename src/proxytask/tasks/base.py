"""What every proxy task provides: how a batch becomes (inputs, targets), its head, its loss."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from torch import nn

from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone


class ProxyTask(nn.Module, ABC):
    """A backbone plus a task head. ``forward(inputs, targets)`` returns the loss, so the whole
    task can be wrapped in DistributedDataParallel.

    Class attributes:
        name: the ``--task`` name.
        input_channels: channels the backbone sees (1 for intensity, 3 for RGB).
        needs_color: grayscale pictures are left out of the training images.
        needs_labels: the task trains on identity labels (only supervised pretraining does).
        config_sections: the PretrainConfig sections its constructor takes after the backbone
            (empty: the one named like the task).
    """

    name: ClassVar[str]
    input_channels: ClassVar[int]
    needs_color: ClassVar[bool] = False
    needs_labels: ClassVar[bool] = False
    config_sections: ClassVar[tuple[str, ...]] = ()

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        self.backbone = backbone

    @abstractmethod
    def make_batch(self, images: torch.Tensor, rng: BatchRandom, labels: torch.Tensor | None = None) -> tuple[Any, Any]:
        """Turn augmented images (B, 3, H, W) in [0, 1] (and labels (B,) if the task needs them)
        into (inputs, targets); no parameters used."""

    @abstractmethod
    def forward(self, inputs: Any, targets: Any) -> torch.Tensor:
        """The scalar loss of a batch."""

    @abstractmethod
    @torch.no_grad()
    def visualize(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[list[tuple[str, torch.Tensor]], dict[str, float]]:
        """Show what the task predicts on held-out images (B, 3, H, W) (with labels (B,) if it needs them).

        Returns:
            panels: (title, (B, 3, H, W) in [0, 1]) columns for the gallery;
            metrics: held-out numbers for ``metrics.json``.
        """
