"""A backbone with a new classification head, taking RGB images whatever input the backbone wants."""

from __future__ import annotations

import torch
from torch import nn

from proxytask.color import intensity
from proxytask.models.backbones import Backbone


def backbone_input(images: torch.Tensor, channels: int) -> torch.Tensor:
    """RGB (B, 3, H, W) in [0, 1] -> the centered input a backbone was trained on, (B, channels, H, W).

    One channel: intensity (mean of RGB), as colorization sees it; three: RGB. Both scaled to [-1, 1].
    """
    chosen = intensity(images) if channels == 1 else images
    return chosen * 2.0 - 1.0


def pooled_features(backbone: Backbone, images: torch.Tensor) -> torch.Tensor:
    """Globally average-pooled features of the last stage: (B, 3, H, W) -> (B, C_last)."""
    return backbone(backbone_input(images, backbone.in_chans))[-1].float().mean(dim=(2, 3))


class Classifier(nn.Module):
    """Backbone -> global average pool of the last stage -> Linear: (B, 3, H, W) -> (B, classes)."""

    def __init__(self, backbone: Backbone, num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.channels[-1], num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(pooled_features(self.backbone, images))
