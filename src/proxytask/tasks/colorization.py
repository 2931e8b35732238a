"""Colorization as a proxy task, as Larsson, Maire and Shakhnarovich (CVPR 2017) do it.

The network sees intensity (mean of RGB) and predicts, at 128 sparsely sampled pixels per image,
histograms of hue and chroma over 32 uniform bins from the hypercolumn at that pixel. Loss:
``KL_chroma + lambda_H * chroma_true * KL_hue`` with lambda_H = 5 (METHOD.md section 2).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from proxytask import color
from proxytask.config import PROBABILITY, TaskSettings, setting
from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.models.dropout import FastDropout
from proxytask.models.hypercolumn import dense_points, pixel_points, sample_hypercolumns
from proxytask.tasks.base import ProxyTask
from proxytask.tasks.registry import register_task

# Points per forward pass of the head when predicting every pixel (bounds memory).
DENSE_CHUNK = 16384


@dataclass
class ColorizationConfig(TaskSettings):
    """Larsson et al. 2017 hue/chroma colorization (METHOD.md section 2).

    ``hypercolumn`` off makes every colorization head read only the backbone's last level at each
    point (the last-layer-only ablation) instead of the intensity plus every level.
    """

    section = "colorization"

    bins: int = setting(32, low=2)
    samples_per_image: int = setting(128, low=1)
    border: int = setting(4, low=0)
    hue_weight: float = setting(5.0, low=0.0)
    target: str = setting("window", choices=("onehot", "window"))
    window: int = setting(7, low=1, odd=True)
    lightness_weighting: bool = False
    head_width: int = setting(1024, low=1)
    head_dropout: float = setting(0.5, **PROBABILITY)
    hypercolumn: bool = True


class ColorizationHead(nn.Module):
    """Hypercolumn (B, P, C) -> hue and chroma logits, each (B, P, bins)."""

    def __init__(self, in_features: int, width: int, bins: int, dropout: float) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(in_features, width), nn.ReLU(inplace=True), FastDropout(dropout))
        self.hue = nn.Linear(width, bins)
        self.chroma = nn.Linear(width, bins)

    def forward(self, hypercolumns: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.trunk(hypercolumns)
        # One matrix product for both outputs (the hue and chroma layers stay separate parameters).
        both = F.linear(hidden, torch.cat([self.hue.weight, self.chroma.weight]), torch.cat([self.hue.bias, self.chroma.bias]))
        return both.split(self.hue.out_features, dim=-1)


def gather_points(maps: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Values of per-pixel maps at integer pixels: (B, C, H, W), rows/cols (B, P) -> (B, P, C)."""
    flat = (rows * maps.shape[-1] + cols).unsqueeze(1).expand(-1, maps.shape[1], -1)
    return maps.flatten(2).gather(2, flat).transpose(1, 2)


def hue_chroma_loss(hue_logits: torch.Tensor, chroma_logits: torch.Tensor, hue_target: torch.Tensor,
                    chroma_target: torch.Tensor, chroma_true: torch.Tensor, chroma_weight: torch.Tensor,
                    hue_weight: float) -> dict[str, torch.Tensor]:
    """``mean(w * KL(chroma) + hue_weight * chroma_true * KL(hue))`` over all sampled points, as
    {"loss": the sum, "chroma": its chroma term, "hue": its (weighted) hue term}.

    Args:
        hue_logits, chroma_logits: (B, P, K) predictions.
        hue_target, chroma_target: (B, P, K) target histograms (one-hot or windowed).
        chroma_true: (B, P) true chroma at each point, gating the hue term.
        chroma_weight: (B, P) weight of the chroma term (1, or the lightness weighting).
    """
    kl_chroma = F.kl_div(F.log_softmax(chroma_logits.float(), -1), chroma_target, reduction="none").sum(-1)
    kl_hue = F.kl_div(F.log_softmax(hue_logits.float(), -1), hue_target, reduction="none").sum(-1)
    chroma_term, hue_term = (chroma_weight * kl_chroma).mean(), (hue_weight * chroma_true * kl_hue).mean()
    return {"loss": chroma_term + hue_term, "chroma": chroma_term, "hue": hue_term}


def hypercolumn_channels(backbone: Backbone, config: ColorizationConfig) -> int:
    """Channels the head reads per point: intensity plus every level, or the last level alone."""
    return 1 + sum(backbone.channels) if config.hypercolumn else backbone.channels[-1]


def lightness_weight(lightness: torch.Tensor) -> torch.Tensor:
    """``min(1, 3 L, 3 (1 - L))``: near-black and near-white pixels count less."""
    return torch.minimum(torch.ones_like(lightness), torch.minimum(3.0 * lightness, 3.0 * (1.0 - lightness)))


class SparseColorization(ProxyTask):
    """Shared by every colorization task: intensity in, a head on hypercolumns read at sampled
    pixels (sparse in training, every pixel when colorizing). Subclasses say what the head
    predicts (targets, loss) and how its outputs become colors."""

    inputs = ("intensity",)
    needs_color = True
    pretext_metrics = {"psnr_colorized": "held-out PSNR of the colorized pictures (dB)",
                       "psnr_gray": "held-out PSNR of the gray input (dB)"}

    def __init__(self, backbone: Backbone, input_kind: str, config: ColorizationConfig, head: nn.Module) -> None:
        super().__init__(backbone, input_kind)
        self.config = config
        self.head = head

    def feature_levels(self, net_in: torch.Tensor) -> list[torch.Tensor]:
        """The maps the head reads: the input (B, 1, H, W) and every backbone level, or only the
        last level when ``colorization.hypercolumn`` is off."""
        levels = self.backbone(net_in)
        return [net_in, *levels] if self.config.hypercolumn else [levels[-1]]

    def sample_pixels(self, images: torch.Tensor, rng: BatchRandom) -> tuple[torch.Tensor, torch.Tensor]:
        """``samples_per_image`` random pixels per image, at least ``border`` pixels from the edge: rows, cols (B, P)."""
        cfg = self.config
        _, _, height, width = images.shape
        if min(height, width) <= 2 * cfg.border:
            raise ValueError(f"colorization.border={cfg.border} leaves no pixels to sample in {height}x{width} images")
        draws = rng.rand(cfg.samples_per_image, 2)
        rows = cfg.border + (draws[..., 0] * (height - 2 * cfg.border)).long()
        cols = cfg.border + (draws[..., 1] * (width - 2 * cfg.border)).long()
        return rows, cols

    def predict(self, gray: torch.Tensor, points: torch.Tensor):
        """Intensity (B, 1, H, W) and points (B, P, 2) -> the head's outputs at the points."""
        levels = self.feature_levels(self.network_input.normalize(gray))
        return self.head(sample_hypercolumns(levels, points))

    @torch.no_grad()
    def predict_dense(self, gray: torch.Tensor, decode) -> tuple[torch.Tensor, ...]:
        """``decode(head outputs)`` at every pixel, as maps: (B, 1, H, W) -> tuple of (B, H, W, ...).

        ``decode`` turns the head's outputs at (B, P) points into a tuple of (B, P, ...) tensors.
        """
        batch, _, height, width = gray.shape
        levels = self.feature_levels(self.network_input.normalize(gray))
        points = dense_points(height, width, batch, gray.device)
        step = max(1, DENSE_CHUNK // batch)  # at most DENSE_CHUNK points of the whole batch at once
        chunks = [decode(self.head(sample_hypercolumns(levels, points[:, start:start + step])))
                  for start in range(0, points.shape[1], step)]
        return tuple(torch.cat(parts, 1).view(batch, height, width, *parts[0].shape[2:]) for parts in zip(*chunks))

    @abstractmethod
    def colorize(self, gray: torch.Tensor) -> torch.Tensor:
        """Intensity (B, 1, H, W) -> colorized RGB (B, 3, H, W) in [0, 1]."""

    def heldout_metrics(self, images: torch.Tensor) -> dict[str, float]:
        """Task-specific numbers on held-out images (B, 3, H, W) for metrics.json."""
        return {}

    @torch.no_grad()
    def visualize(self, images: torch.Tensor, labels: torch.Tensor | None = None):
        gray = color.intensity(images)
        colorized = self.colorize(gray)
        gray_rgb = gray.expand(-1, 3, -1, -1)
        metrics = {
            "psnr_colorized": color.psnr(colorized, images).mean().item(),
            "psnr_gray": color.psnr(gray_rgb, images).mean().item(),
            **self.heldout_metrics(images),
        }
        return [("intensity", gray_rgb), ("predicted", colorized), ("true", images)], metrics


@register_task
class Colorization(SparseColorization):
    """Hue/chroma colorization of Larsson et al. with a sparse hypercolumn head."""

    name = "colorization"
    loss_terms = ("chroma", "hue")
    pretext_metrics = {**SparseColorization.pretext_metrics, "heldout_loss": "held-out loss",
                       "heldout_loss_constant": "held-out loss of the best constant prediction"}

    def __init__(self, backbone: Backbone, input_kind: str, config: ColorizationConfig) -> None:
        super().__init__(backbone, input_kind, config, ColorizationHead(hypercolumn_channels(backbone, config), config.head_width, config.bins,
                                                            config.head_dropout))

    def make_batch(self, images: torch.Tensor, rng: BatchRandom, labels: torch.Tensor | None = None):
        """(B, 3, H, W) RGB -> inputs (intensity (B, 1, H, W), points (B, P, 2)) and targets
        (hue hist (B, P, K), chroma hist (B, P, K), true chroma (B, P), chroma weight (B, P))."""
        cfg = self.config
        _, _, height, width = images.shape
        gray = color.intensity(images)
        hue, chroma = color.hue_chroma(images)
        rows, cols = self.sample_pixels(images, rng)
        window = cfg.window if cfg.target == "window" else 1
        # A neighbour votes for its hue with its chroma: a gray pixel's hue (0) is no color at all.
        hue_hist = color.point_histograms(color.quantize(hue, cfg.bins), rows, cols, cfg.bins, window, weights=chroma)
        chroma_hist = color.point_histograms(color.quantize(chroma, cfg.bins), rows, cols, cfg.bins, window)
        chroma_true, lightness = gather_points(torch.stack([chroma, gray[:, 0]], dim=1), rows, cols).unbind(-1)
        chroma_weight = lightness_weight(lightness) if cfg.lightness_weighting else torch.ones_like(lightness)
        inputs = (gray, pixel_points(rows, cols, height, width))
        targets = (hue_hist, chroma_hist, chroma_true, chroma_weight)
        return inputs, targets

    def forward(self, inputs, targets) -> dict[str, torch.Tensor]:
        gray, points = inputs
        hue_logits, chroma_logits = self.predict(gray, points)
        return hue_chroma_loss(hue_logits, chroma_logits, *targets, hue_weight=self.config.hue_weight)

    @torch.no_grad()
    def colorize(self, gray: torch.Tensor) -> torch.Tensor:
        """Intensity (B, 1, H, W) -> colorized RGB (B, 3, H, W) keeping the input's intensity."""
        hue, chroma = self.predict_dense(gray, lambda logits: color.decode_hue_chroma(*(x.float().softmax(-1) for x in logits)))
        return color.rgb_from_hue_chroma(hue, chroma, gray[:, 0])

    @torch.no_grad()
    def heldout_metrics(self, images: torch.Tensor, seed: int = 0) -> dict[str, float]:
        """Loss on held-out images (B, 3, H, W), and the loss of the best constant prediction.

        The constant is each target's mean histogram over these very points (chroma-weighted for
        hue): no input-blind predictor does better, so a loss below it shows that the network reads
        the picture rather than predicting the average face color.
        """
        (gray, points), targets = self.make_batch(images, BatchRandom(seed, 0, images.shape[0], device=images.device))
        hue_t, chroma_t, chroma_true, chroma_w = targets
        model_loss = self((gray, points), targets)["loss"].item()
        hue_prior = (hue_t * chroma_true.unsqueeze(-1)).sum((0, 1)) / chroma_true.sum().clamp(min=1e-8)
        chroma_prior = (chroma_t * chroma_w.unsqueeze(-1)).sum((0, 1)) / chroma_w.sum().clamp(min=1e-8)
        constant = [prior.clamp(min=1e-8).log().expand_as(hue_t) for prior in (hue_prior, chroma_prior)]
        prior_loss = hue_chroma_loss(*constant, *targets, hue_weight=self.config.hue_weight)["loss"].item()
        return {"heldout_loss": model_loss, "heldout_loss_constant": prior_loss}
