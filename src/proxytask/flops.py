"""Floating-point operations of a training step, counted by torch's FlopCounterMode."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from proxytask.data.batches import BatchRandom
from proxytask.tasks.base import ProxyTask


def training_flops_per_image(task: ProxyTask, images: torch.Tensor, labels: torch.Tensor | None = None) -> float:
    """FLOPs of one forward and backward pass of ``task`` on augmented images (B, 3, H, W), per image.

    Pass a fresh task (the count does not depend on the weights): a training-mode pass changes its
    batch-norm statistics, and a trained task may hold synchronized batch norm that waits for other ranks.
    """
    model = task.train()
    inputs, targets = model.make_batch(images, BatchRandom(0, 0, images.shape[0], device=images.device), labels)
    with FlopCounterMode(display=False) as counter:
        model(inputs, targets)["loss"].backward()
    return counter.get_total_flops() / images.shape[0]
