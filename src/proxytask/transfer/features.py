"""Frozen features: the downstream pictures' centre crops through a backbone, pooled; and how transfer computes."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from proxytask.config import FinetuneConfig
from proxytask.data.batches import center_crop, to_float
from proxytask.inputs import NetworkInput
from proxytask.models.backbones import Backbone
from proxytask.precision import Precision
from proxytask.transfer.classifier import pooled_features

EVAL_BATCH = 256


def transfer_precision(config: FinetuneConfig, device: torch.device) -> Precision:
    """How transfer networks compute on ``device``: ``finetune.bf16`` and ``finetune.channels_last``
    where the device runs bf16 natively (:mod:`proxytask.precision`), fp32 elsewhere."""
    return Precision.choose(device, config.bf16, config.channels_last)


def center_batches(pixels: torch.Tensor, rows: np.ndarray, crop: int, device: torch.device,
                   memory_format: torch.memory_format = torch.contiguous_format) -> Iterator[torch.Tensor]:
    """Evaluation batches of cached rows: (B, S, S, 3) uint8 -> centre crop (B, 3, crop, crop) in [0, 1]."""
    for start in range(0, len(rows), EVAL_BATCH):
        chunk = torch.from_numpy(rows[start:start + EVAL_BATCH])
        yield center_crop(to_float(pixels[chunk].to(device)), crop).contiguous(memory_format=memory_format)


@torch.no_grad()
def extract_features(backbone: Backbone, network_input: NetworkInput, pixels: torch.Tensor, crop: int, device: torch.device,
                     precision: Precision) -> np.ndarray:
    """Frozen pooled features of every image: (N, S, S, 3) uint8 -> (N, D) float32."""
    backbone = backbone.to(device).to(memory_format=precision.memory_format).eval()
    rows = np.arange(len(pixels))
    with precision.autocast():
        return torch.cat([pooled_features(backbone, network_input, batch).cpu()
                          for batch in center_batches(pixels, rows, crop, device, precision.memory_format)]).numpy()
