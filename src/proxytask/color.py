"""Color for the hue/chroma colorization of Larsson et al.: intensity, hue, chroma, bins, decoding.

Conventions: images are float tensors in [0, 1], (B, 3, H, W) RGB or (B, 1, H, W) intensity.
Hue is HSV hue as a fraction of the circle, in [0, 1); chroma is max(RGB) - min(RGB), in [0, 1].
"""

from __future__ import annotations

import math

import kornia.color
import torch
import torch.nn.functional as F

TWO_PI = 2.0 * math.pi
# Below this length of the mean hue vector the predicted hue is uncertain and chroma fades
# towards gray ("chromatic fading", METHOD.md section 2).
HUE_CONFIDENCE = 0.03


def intensity(rgb: torch.Tensor) -> torch.Tensor:
    """Mean of R, G and B: (B, 3, H, W) -> (B, 1, H, W)."""
    return rgb.mean(dim=1, keepdim=True)


def hue_chroma(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, H, W) RGB -> hue (B, H, W) in [0, 1) and chroma (B, H, W) in [0, 1].

    Gray pixels (chroma 0) get hue 0, which means nothing: hue histograms weight each pixel's
    vote by its chroma and the hue loss is weighted by the pixel's own chroma.
    """
    hsv = kornia.color.rgb_to_hsv(rgb)
    hue = torch.remainder(hsv[:, 0] / TWO_PI, 1.0)
    chroma = rgb.amax(dim=1) - rgb.amin(dim=1)
    return torch.where(chroma > 0, hue, torch.zeros_like(hue)), chroma


def quantize(values: torch.Tensor, bins: int) -> torch.Tensor:
    """Uniform bin index of values in [0, 1]: floor(v * bins), 1.0 falling into the last bin."""
    return (values * bins).floor().long().clamp_(0, bins - 1)


def bin_centers(bins: int, device: torch.device | None = None) -> torch.Tensor:
    """Centers (k + 0.5) / bins of the uniform bins, (bins,)."""
    return (torch.arange(bins, device=device, dtype=torch.float32) + 0.5) / bins


def point_histograms(bin_index: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, bins: int, window: int,
                     weights: torch.Tensor | None = None) -> torch.Tensor:
    """Normalized histogram of bin indices in the ``window`` x ``window`` neighbourhood of chosen pixels.

    Only the chosen pixels' neighbourhoods are read, so the cost is P * window^2 per image, not
    H * W * window^2 * bins. Near the border only pixels inside the image count.

    Args:
        bin_index: (B, H, W) long, values in [0, bins).
        rows, cols: (B, P) long pixel coordinates.
        weights: (B, H, W) vote of each pixel (default 1). Hue uses chroma, so that a gray pixel,
            whose hue is undefined, votes for no hue. A window without any vote gets the uniform histogram.
    Returns:
        (B, P, bins), summing to 1 over bins (one-hot for ``window`` = 1 and a positive weight).
    """
    radius = window // 2
    batch, height, width = bin_index.shape
    padded = F.pad(bin_index, (radius, radius, radius, radius), value=bins)  # `bins` marks outside pixels
    offsets = torch.arange(-radius, radius + 1, device=bin_index.device)
    window_rows = (rows + radius).unsqueeze(-1) + offsets.repeat_interleave(window)  # (B, P, window^2)
    window_cols = (cols + radius).unsqueeze(-1) + offsets.repeat(window)
    flat = (window_rows * (width + 2 * radius) + window_cols).flatten(1)
    values = padded.flatten(1).gather(1, flat).view(batch, rows.shape[1], -1)
    if weights is None:
        votes = torch.ones_like(values, dtype=torch.float32)
    else:
        padded_weights = F.pad(weights.float(), (radius, radius, radius, radius), value=0.0)
        votes = padded_weights.flatten(1).gather(1, flat).view_as(values)
    counts = torch.zeros(batch, rows.shape[1], bins + 1, device=bin_index.device)
    counts.scatter_add_(2, values, votes)
    inside = counts[..., :bins]
    total = inside.sum(-1, keepdim=True)
    return torch.where(total > 0, inside / total.clamp(min=1e-12), torch.full_like(inside, 1.0 / bins))


def rgb_from_hue_chroma(hue: torch.Tensor, chroma: torch.Tensor, lightness: torch.Tensor) -> torch.Tensor:
    """Rebuild RGB with the given hue and chroma whose intensity (mean of RGB) is ``lightness``.

    Args:
        hue, chroma, lightness: (B, H, W), hue in [0, 1).
    Returns:
        (B, 3, H, W) in [0, 1]; chroma is lost where the color falls out of the RGB cube.
    """
    ones = torch.ones_like(hue)
    pure = kornia.color.hsv_to_rgb(torch.stack([hue * TWO_PI, ones, chroma], dim=1))  # max=chroma, min=0
    return (pure + (lightness - pure.mean(dim=1)).unsqueeze(1)).clamp(0.0, 1.0)


def histogram_median(probs: torch.Tensor) -> torch.Tensor:
    """Median of histograms over uniform bins of [0, 1], interpolated within the median bin.

    Args:
        probs: (..., K), each row summing to 1.
    Returns:
        (...,) values in [0, 1].
    """
    bins = probs.shape[-1]
    cdf = probs.cumsum(-1)
    k = (cdf < 0.5).sum(-1, keepdim=True).clamp(max=bins - 1)
    below = torch.where(k > 0, cdf.gather(-1, (k - 1).clamp(min=0)), torch.zeros_like(k, dtype=probs.dtype))
    mass = probs.gather(-1, k).clamp(min=1e-8)
    return ((k + ((0.5 - below) / mass).clamp(0.0, 1.0)) / bins).squeeze(-1)


def hue_circular_mean(probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Circular mean of hue histograms: ``z = sum_k p_k exp(i 2 pi (k + 0.5) / K)``.

    Args:
        probs: (..., K).
    Returns:
        hue (...,) in [0, 1) and confidence |z| (...,) in [0, 1].
    """
    angles = bin_centers(probs.shape[-1], probs.device) * TWO_PI
    real = (probs * torch.cos(angles)).sum(-1)
    imag = (probs * torch.sin(angles)).sum(-1)
    hue = torch.remainder(torch.atan2(imag, real) / TWO_PI, 1.0)
    return hue, torch.sqrt(real**2 + imag**2)


def decode_hue_chroma(hue_probs: torch.Tensor, chroma_probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Point estimates from predicted histograms, with chromatic fading.

    Args:
        hue_probs, chroma_probs: (..., K) probabilities.
    Returns:
        hue (...,) and chroma (...,): chroma is the median, scaled by min(|z|, 0.03) / 0.03.
    """
    hue, confidence = hue_circular_mean(hue_probs)
    chroma = histogram_median(chroma_probs) * confidence.clamp(max=HUE_CONFIDENCE) / HUE_CONFIDENCE
    return hue, chroma


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, for (B, C, H, W) in [0, 1] -> (B,)."""
    mse = (prediction - target).pow(2).flatten(1).mean(1).clamp(min=1e-10)
    return 10.0 * torch.log10(1.0 / mse)
