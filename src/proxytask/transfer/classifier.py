"""A backbone with a new classification head, taking RGB images and converting them as its run says."""

from __future__ import annotations

import torch
from torch import nn

from proxytask.inputs import NetworkInput
from proxytask.models.backbones import Backbone


def pooled_features(backbone: Backbone, network_input: NetworkInput, images: torch.Tensor) -> torch.Tensor:
    """Globally average-pooled features of the last stage: RGB (B, 3, H, W) in [0, 1] -> (B, C_last)."""
    return backbone(network_input(images))[-1].float().mean(dim=(2, 3))


class Classifier(nn.Module):
    """Backbone -> global average pool of the last stage -> Linear: RGB (B, 3, H, W) -> (B, classes)."""

    def __init__(self, backbone: Backbone, network_input: NetworkInput, num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.network_input = network_input
        self.head = nn.Linear(backbone.channels[-1], num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(pooled_features(self.backbone, self.network_input, images))
