"""A light convolutional decoder from a backbone's last stage back to image resolution."""

from __future__ import annotations

import math

import torch
from torch import nn


class LightDecoder(nn.Module):
    """(B, C, H / r, W / r) -> (B, out_channels, H, W): log2(r) blocks of [x2 upsampling, 3x3 conv,
    batch norm, ReLU] halving the width (never below ``min_width``), then a 1x1 conv.

    Light on purpose: the encoder must do the work, since only the encoder transfers.
    """

    def __init__(self, in_channels: int, reduction: int, out_channels: int = 3, min_width: int = 32) -> None:
        super().__init__()
        if reduction < 1 or reduction & (reduction - 1):
            raise ValueError(f"the decoder needs a power-of-two stride, got {reduction}")
        layers: list[nn.Module] = []
        width = in_channels
        for _ in range(int(math.log2(reduction))):
            next_width = max(width // 2, min_width)
            layers += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                       nn.Conv2d(width, next_width, 3, padding=1, bias=False), nn.BatchNorm2d(next_width), nn.ReLU(inplace=True)]
            width = next_width
        layers.append(nn.Conv2d(width, out_channels, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)
