"""Dropout whose mask costs a quarter of torch's on the CPU.

``nn.Dropout`` draws its mask with ``bernoulli_``, which on the CPU took as long as the colorization
head's 4096 x 481 x 1024 matrix product (about 11% of a training step). Comparing uniform draws with
the drop probability gives the same distribution (each unit kept with probability 1 - p and scaled
by 1 / (1 - p)) about four times faster.
"""

from __future__ import annotations

import torch
from torch import nn


class FastDropout(nn.Module):
    """Drop each element with probability ``p`` in training (scaling the kept ones by 1 / (1 - p));
    the identity in evaluation. Same distribution as ``nn.Dropout``."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand_like(x, dtype=torch.float32) >= self.p
        return x * keep.to(x.dtype).mul_(1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"
