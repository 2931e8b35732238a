"""Lab color for the Zhang et al. (ECCV 2016) colorization variants: ab bins, soft encoding,
class rebalancing, annealed-mean decoding (METHOD.md section 3).

Conventions: kornia's Lab (D65), L in [0, 100], a and b roughly in [-110, 110]; ab tensors have the
two channels last, (..., 2).
"""

from __future__ import annotations

import functools

import kornia.color
import torch

AB_GRID = 10.0
GAMUT_SAMPLES_PER_CHANNEL = 64


@functools.lru_cache(maxsize=1)
def in_gamut_ab_bins() -> torch.Tensor:
    """Centers of the 10 x 10 ab grid cells that some sRGB color falls in, at any lightness: (Q, 2).

    Computed from a 64^3 lattice of RGB colors. This gives Q = 261 with kornia's sRGB-to-Lab
    conversion; Zhang et al.'s released set has 313 cells, reaching ab values no sRGB color has
    (a = 100 with b = 0, for one), so it is not reproduced here.
    """
    levels = torch.linspace(0.0, 1.0, GAMUT_SAMPLES_PER_CHANNEL)
    red, green, blue = torch.meshgrid(levels, levels, levels, indexing="ij")
    rgb = torch.stack([red, green, blue]).reshape(1, 3, -1, 1)
    ab = kornia.color.rgb_to_lab(rgb)[0, 1:, :, 0].T
    cells = torch.unique(torch.round(ab / AB_GRID), dim=0)
    return cells * AB_GRID


def rgb_to_ab(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> (B, H, W, 2) ab."""
    return kornia.color.rgb_to_lab(rgb)[:, 1:].permute(0, 2, 3, 1)


def soft_encode(ab: torch.Tensor, centers: torch.Tensor, neighbours: int = 5, sigma: float = 5.0) -> torch.Tensor:
    """Soft one-hot over bins: a Gaussian (``sigma``) on the ``neighbours`` nearest centers, summing to 1.

    Args:
        ab: (..., 2); centers: (Q, 2).
    Returns:
        (..., Q).
    """
    flat = ab.reshape(-1, 2)
    distances = torch.cdist(flat, centers)
    nearest, index = distances.topk(neighbours, dim=1, largest=False)
    weights = torch.exp(-nearest.pow(2) / (2.0 * sigma**2))
    weights = weights / weights.sum(1, keepdim=True)
    encoded = torch.zeros(len(flat), len(centers), device=ab.device).scatter_(1, index, weights)
    return encoded.view(*ab.shape[:-1], len(centers))


def rebalancing_weights(prior: torch.Tensor, centers: torch.Tensor, rebalance: float = 0.5, sigma: float = 5.0) -> torch.Tensor:
    """Class-rebalancing weight of every bin: ``w ~ ((1 - lambda) p~ + lambda / Q)^-1``.

    ``p~`` is the empirical prior ``prior`` (Q,) smoothed by a Gaussian (``sigma``) over ab; the
    weights are scaled so that their expectation under ``prior`` is 1.
    """
    kernel = torch.exp(-torch.cdist(centers, centers).pow(2) / (2.0 * sigma**2))
    smoothed = kernel @ prior
    smoothed = smoothed / smoothed.sum()
    weights = 1.0 / ((1.0 - rebalance) * smoothed + rebalance / len(centers))
    return weights / (prior * weights).sum()


def annealed_mean(probs: torch.Tensor, centers: torch.Tensor, temperature: float = 0.38) -> torch.Tensor:
    """Decode bin probabilities (..., Q) to ab (..., 2): the mean of ``p^(1/T)``, renormalized."""
    sharpened = torch.softmax(torch.log(probs.clamp(min=1e-12)) / temperature, dim=-1)
    return sharpened @ centers


def lab_rgb(gray: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """The lightness of intensity images (B, 1, H, W) with ab (B, H, W, 2) -> RGB (B, 3, H, W) in [0, 1]."""
    lightness = kornia.color.rgb_to_lab(gray.expand(-1, 3, -1, -1))[:, :1]
    return kornia.color.lab_to_rgb(torch.cat([lightness, ab.permute(0, 3, 1, 2)], dim=1)).clamp(0.0, 1.0)
