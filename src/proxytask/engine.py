"""The training engine shared by pretraining and fine-tuning: optimizer, learning-rate schedule,
augmentation and one optimizer step (as MAE's engines share their schedule and step)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from proxytask.config import OptimConfig
from proxytask.data.batches import BatchRandom, random_crop_flip, to_float


def make_optimizer(parameters: Iterable[Any], optim: OptimConfig) -> torch.optim.Optimizer:
    """SGD with momentum, or AdamW, as configured; ``parameters`` may be parameter groups with their own ``lr``."""
    if optim.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay)
    return torch.optim.AdamW(parameters, lr=optim.lr, weight_decay=optim.weight_decay)


def lr_factor(step: int, total_steps: int, optim: OptimConfig) -> float:
    """Learning-rate multiplier at ``step``: linear warm-up, then cosine, step (x0.1) or constant."""
    warmup = min(optim.warmup_steps, max(total_steps - 1, 0))
    if step < warmup:
        return (step + 1) / warmup
    if optim.schedule == "cosine":
        progress = (step - warmup) / max(total_steps - warmup, 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    if optim.schedule == "step":
        return 0.1 ** sum(step >= fraction * total_steps for fraction in optim.step_milestones)
    return 1.0


def make_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, optim: OptimConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """The schedule of :func:`lr_factor` over ``total_steps``, stepped once per optimizer step."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total_steps, optim))


def augment(batch: torch.Tensor, crop: int, rng: BatchRandom, device: torch.device,
            memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """Cached rows (B, S, S, 3) uint8 -> random crop and flip on ``device``, (B, 3, crop, crop) in [0, 1]."""
    cropped = random_crop_flip(batch.to(device, non_blocking=True), crop, rng)
    return to_float(cropped).contiguous(memory_format=memory_format)


def optimize(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler) -> None:
    """One optimizer step on ``loss``, then one step of the schedule."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()


def compiled(model: torch.nn.Module) -> torch.nn.Module:
    """``torch.compile(model)``; where compiling a graph fails (no compiler, an unsupported operation)
    that graph runs eagerly instead of stopping the run."""
    import torch._dynamo

    torch._dynamo.config.suppress_errors = True
    return torch.compile(model)
