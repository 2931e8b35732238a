"""Batches from a uint8 image array: a distributed sampler, per-step randomness, crop and flip.

Every random draw of a step is made for the whole global batch from a generator seeded by
(seed, step), and each rank keeps its own rows. So N processes with B/N images each compute
exactly what one process with B images computes, and a resumed run repeats the draws of an
uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DistributedSampler

from proxytask.config import ConfigError


class BatchRandom:
    """Random draws for one global batch of ``global_size`` images; a rank keeps ``rows`` of them.

    With torch's DistributedSampler, rank r's t-th image is the global batch's image
    ``t * world_size + r``, so the rows of rank r are ``slice(r, None, world_size)``.
    """

    def __init__(self, seed: int, step: int, global_size: int, rank: int = 0, world_size: int = 1,
                 device: torch.device | str = "cpu") -> None:
        self.generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
        self.global_size = global_size
        self.rows = slice(rank, None, world_size)
        self.device = torch.device(device)

    def rand(self, *shape: int) -> torch.Tensor:
        """Uniform [0, 1) draws, (local batch, *shape)."""
        return torch.rand((self.global_size, *shape), generator=self.generator)[self.rows].to(self.device)

    def randint(self, high: int, *shape: int) -> torch.Tensor:
        """Integers in [0, high), (local batch, *shape)."""
        return torch.randint(high, (self.global_size, *shape), generator=self.generator)[self.rows].to(self.device)

    def randn(self, *shape: int) -> torch.Tensor:
        """Standard normal draws, (local batch, *shape)."""
        return torch.randn((self.global_size, *shape), generator=self.generator)[self.rows].to(self.device)


class StepSampler:
    """Per-rank row indices for each global step, epoch after epoch (the last partial batch is dropped)."""

    def __init__(self, num_rows: int, global_batch: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if global_batch % world_size:
            raise ValueError(f"train.batch_size ({global_batch}) must be divisible by the number of processes ({world_size})")
        if num_rows < global_batch:
            raise ConfigError(f"only {num_rows} training images, fewer than one batch of train.batch_size={global_batch}; "
                              "lower train.batch_size or add images to the pool")
        self.local_batch = global_batch // world_size
        self.sampler = DistributedSampler(range(num_rows), num_replicas=world_size, rank=rank, shuffle=True,
                                          seed=seed, drop_last=True)
        self.steps_per_epoch = len(self.sampler) // self.local_batch

    def batches(self, start_step: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (step, local row indices) forever, starting at ``start_step``."""
        step = start_step
        while True:
            epoch, first = divmod(step, self.steps_per_epoch)
            self.sampler.set_epoch(epoch)
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
            for index in range(first, self.steps_per_epoch):
                yield step, order[index * self.local_batch:(index + 1) * self.local_batch]
                step += 1


def to_float(images: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float in [0, 1]."""
    return images.permute(0, 3, 1, 2).float().div_(255.0)


def random_crop_flip(images: torch.Tensor, crop: int, rng: BatchRandom) -> torch.Tensor:
    """Random ``crop`` x ``crop`` window and horizontal flip per image, in one gather.

    Args:
        images: (B, S, S, C), any dtype (uint8 rows straight from the cache).
    Returns:
        (B, crop, crop, C).
    """
    size = images.shape[1]
    offsets = rng.randint(size - crop + 1, 2).to(images.device)
    flips = (rng.rand(1) < 0.5).to(images.device)
    steps = torch.arange(crop, device=images.device)
    rows = offsets[:, :1] + steps  # (B, crop)
    cols = offsets[:, 1:] + torch.where(flips, crop - 1 - steps, steps)
    batch = torch.arange(images.shape[0], device=images.device)[:, None, None]
    return images[batch, rows[:, :, None], cols[:, None, :]]


def center_crop(images: torch.Tensor, crop: int) -> torch.Tensor:
    """Central ``crop`` x ``crop`` window of the last two dimensions: (..., S, S) -> (..., crop, crop)."""
    top = (images.shape[-2] - crop) // 2
    left = (images.shape[-1] - crop) // 2
    return images[..., top:top + crop, left:left + crop]
