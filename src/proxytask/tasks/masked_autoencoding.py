"""Masked image modeling for convolutional nets, as SparK (Tian et al., ICLR 2023) adapts MAE (He et al., CVPR 2022).

A high share (``mask_ratio``) of the square patches of the backbone's coarsest grid (patch side =
its total stride) is hidden. The encoder reads only the visible pixels: after every convolution,
pooling and batch normalization the hidden positions are set back to zero, and batch
normalization takes its statistics over visible positions only, so the encoder never sees the
mask's zeros or its borders as image content. The decoder fills the hidden positions of the last
level with a learned mask token, spreads visible context over the grid with two 3x3 convolutions,
and upsamples to pixels. The loss is the mean squared error on hidden patches only, against
per-patch normalized targets (each patch's pixels at zero mean and unit variance) by default.

The encoder's masking lives in forward hooks on the backbone's modules, present only while this
task encodes a masked batch, so the backbone's weights and keys are the plain ones that transfer.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from kornia.filters import gaussian_blur2d
from torch import nn

from proxytask.config import ConfigError, TaskSettings, setting
from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.models.decoder import LightDecoder
from proxytask.tasks.base import ProxyTask, RunSettings, rgb_panel
from proxytask.tasks.registry import register_task

# Added to a patch's variance before its targets are divided by the standard deviation (MAE's 1e-6).
PATCH_EPS = 1e-6


@dataclass
class MaskedAutoencodingConfig(TaskSettings):
    """``mask_ratio``: the share of whole patches hidden in each image; ``normalize_targets``:
    per-patch normalized targets (MAE's norm_pix_loss); ``sparse_encoder`` off lets the encoder read
    the zeros of hidden patches like a plain denoising autoencoder (the ablation)."""

    mask_ratio: float = setting(0.6, low=0.0, high=1.0, low_open=True, high_open=True)
    normalize_targets: bool = True
    sparse_encoder: bool = True
    decoder_width: int = setting(256, low=1)

    section = "masked_autoencoding"


def hidden_patches(batch: int, rows: int, cols: int, ratio: float, rng: BatchRandom) -> torch.Tensor:
    """Exactly ``round(ratio * rows * cols)`` hidden patches per image, at random: (B, rows, cols) bool."""
    count = rows * cols
    hidden = max(1, min(count - 1, round(ratio * count)))
    ranks = rng.rand(count).argsort(1).argsort(1)
    return (ranks < hidden).view(batch, rows, cols)


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, C, rows * patch, cols * patch) -> (B, rows, cols, C * patch * patch)."""
    batch, channels, height, width = images.shape
    grid = images.view(batch, channels, height // patch, patch, width // patch, patch)
    return grid.permute(0, 2, 4, 1, 3, 5).flatten(3)


def standardize_patches(patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(..., D) -> each patch at zero mean and unit variance, and its mean and std (..., 1)."""
    mean = patches.mean(-1, keepdim=True)
    std = (patches.var(-1, keepdim=True, unbiased=False) + PATCH_EPS).sqrt()
    return (patches - mean) / std, mean, std


class VisibleOnlyEncoding:
    """Keeps a backbone's hidden positions at zero and its batch norms on visible statistics, while active.

    Inside :meth:`active` with a pixel visibility map (B, 1, H, W) (1 visible, 0 hidden), forward
    hooks multiply the backbone's input and every convolution, pooling and batch-norm output by the
    map at that output's resolution (the pixel under each output cell's centre), and a batch norm in
    training mode normalizes with (and updates its running statistics from) the visible positions
    only. The hooks are put on the modules the backbone holds at that moment (batch norms converted
    for several GPUs included) and removed on leaving; under several processes each rank's visible
    statistics are its own.
    """

    NORMS = (nn.BatchNorm2d, nn.SyncBatchNorm)
    MASKED = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)

    def __init__(self, backbone: nn.Module) -> None:
        others = sorted({type(m).__name__ for m in backbone.modules()
                         if isinstance(m, (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)) and type(m) not in self.NORMS})
        if others:
            raise ConfigError(f"masked-autoencoding's visible-only encoder handles BatchNorm2d only, and this backbone also "
                              f"normalizes with {', '.join(others)}; choose another model.backbone or set "
                              "masked_autoencoding.sparse_encoder=false")
        self.backbone = backbone
        self.visible = torch.ones(1, 1, 1, 1)
        self.momentum: dict[nn.Module, float | None] = {}

    @contextmanager
    def active(self, visible: torch.Tensor):
        self.visible = visible
        handles = [self.backbone.register_forward_pre_hook(self._zero_hidden_input)]
        for module in self.backbone.modules():
            if type(module) in self.NORMS:
                handles += [module.register_forward_pre_hook(self._freeze_running_stats),
                            module.register_forward_hook(self._visible_batchnorm)]
            elif isinstance(module, self.MASKED):
                handles.append(module.register_forward_hook(self._zero_hidden))
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()
            for module, momentum in self.momentum.items():  # a forward that failed halfway leaves none frozen
                module.momentum = momentum
            self.momentum.clear()

    def at(self, output: torch.Tensor) -> torch.Tensor:
        """The visibility map at ``output``'s resolution: (B, 1, h, w), in its dtype."""
        return F.interpolate(self.visible, size=output.shape[-2:], mode="nearest-exact").to(output.dtype)

    def _zero_hidden_input(self, module: nn.Module, inputs: tuple[torch.Tensor]) -> tuple[torch.Tensor]:
        return (inputs[0] * self.at(inputs[0]),)

    def _zero_hidden(self, module: nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor) -> torch.Tensor:
        return output * self.at(output)

    def _freeze_running_stats(self, module: nn.Module, inputs: tuple[torch.Tensor]) -> None:
        if module.training:
            # The dense pass must leave the running statistics alone: they are updated from visible positions below.
            self.momentum[module] = module.momentum
            module.momentum = 0.0

    def _visible_batchnorm(self, module: nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor) -> torch.Tensor:
        visible = self.at(output)
        if not module.training:
            return output * visible
        momentum = module.momentum = self.momentum.pop(module)
        if momentum is None:  # a cumulative average, as BatchNorm keeps it
            momentum = 1.0 / float(module.num_batches_tracked)
        features = inputs[0]
        rows = visible.permute(0, 2, 3, 1).reshape(-1).bool()
        flat = features.permute(0, 2, 3, 1).reshape(-1, features.shape[1])
        normalized = F.batch_norm(flat[rows], module.running_mean, module.running_var, module.weight, module.bias, True,
                                  momentum, module.eps)
        dense = flat.new_zeros(flat.shape).index_put((rows.nonzero()[:, 0],), normalized.to(flat.dtype))
        return dense.view(features.shape[0], *features.shape[2:], -1).permute(0, 3, 1, 2)


@register_task
class MaskedAutoencoding(ProxyTask):
    """Hide patches -> encode the visible pixels only -> fill the grid with a mask token -> decode -> L2 on hidden patches."""

    name = "masked-autoencoding"
    changes_pictures = True
    pretext_metrics = {"psnr_hidden": "held-out PSNR of the hidden patches (dB)",
                       "psnr_hidden_blurred_context": "that PSNR of a blur of the visible context (dB)",
                       "psnr_hidden_patch_mean": "that PSNR of each patch's true mean (dB)"}

    def __init__(self, backbone: Backbone, input_kind: str, config: MaskedAutoencodingConfig) -> None:
        super().__init__(backbone, input_kind)
        self.config = config
        self.patch = backbone.reductions[-1]
        self.encoding = VisibleOnlyEncoding(backbone) if config.sparse_encoder else None
        channels = backbone.channels[-1]
        self.mask_token = nn.Parameter(torch.zeros(1, channels, 1, 1))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        width = config.decoder_width
        self.densify = nn.Sequential(nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                                     nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        self.decoder = LightDecoder(width, self.patch, out_channels=self.network_input.channels)

    @classmethod
    def check_config(cls, config: RunSettings) -> None:
        stride = Backbone(config.model.backbone, 1, config.model.batchnorm).reductions[-1]
        patches = (config.data.crop_size // stride) ** 2
        if patches < 2:
            raise ConfigError(f"masked-autoencoding hides patches of the backbone's stride ({stride} px for model.backbone="
                              f"{config.model.backbone}), and data.crop_size={config.data.crop_size} holds {patches} whole one(s); "
                              "it needs at least 2: raise data.crop_size or choose a backbone of smaller stride")

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """Whole patches along each side; pixels past them are never hidden nor scored."""
        rows, cols = height // self.patch, width // self.patch
        if rows * cols < 2:
            raise ValueError(f"masked-autoencoding needs at least 2 whole {self.patch}-pixel patches (the backbone's stride), "
                             f"got {height}x{width} images")
        return rows, cols

    def make_batch(self, images: torch.Tensor, rng: BatchRandom, labels: torch.Tensor | None = None):
        """(B, 3, H, W) RGB -> network input with hidden patches at zero (B, C, H, W); targets: the
        clean channels in [-1, 1] (B, C, H, W) and the hidden patches (B, rows, cols) bool."""
        clean = self.network_input(images)
        rows, cols = self.grid(*images.shape[-2:])
        hidden = hidden_patches(images.shape[0], rows, cols, self.config.mask_ratio, rng)
        return clean * self.pixel_visibility(hidden, clean), (clean, hidden)

    def pixel_visibility(self, hidden: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Hidden patches (B, rows, cols) -> (B, 1, H, W) in ``like``'s size and dtype, 1 where visible."""
        visible = (~hidden).to(like.dtype).repeat_interleave(self.patch, 1).repeat_interleave(self.patch, 2)
        pad = (0, like.shape[-1] - visible.shape[-1], 0, like.shape[-2] - visible.shape[-2])
        return F.pad(visible, pad, value=1.0).unsqueeze(1)

    def reconstruct(self, inputs: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """Masked network input (B, C, H, W) and hidden patches (B, rows, cols) -> prediction (B, C, rows * p, cols * p)."""
        rows, cols = hidden.shape[1:]
        if self.encoding is not None:
            with self.encoding.active(self.pixel_visibility(hidden, inputs)):
                features = self.backbone(inputs)[-1]
        else:
            features = self.backbone(inputs)[-1]
        features = features[..., :rows, :cols]
        visible = (~hidden).to(features.dtype).unsqueeze(1)
        filled = features * visible + self.mask_token.to(features.dtype) * (1.0 - visible)
        return self.decoder(self.densify(filled))

    def forward(self, inputs, targets) -> dict[str, torch.Tensor]:
        clean, hidden = targets
        prediction = patchify(self.reconstruct(inputs, hidden).float(), self.patch)
        target = patchify(clean[..., :hidden.shape[1] * self.patch, :hidden.shape[2] * self.patch].float(), self.patch)
        if self.config.normalize_targets:
            target = standardize_patches(target)[0]
        per_patch = (prediction - target).pow(2).mean(-1)
        return {"loss": per_patch[hidden].mean()}

    @property
    def gallery_legend(self) -> str:
        filled = "predicted: the decoder's fill of the hidden patches"
        if self.config.normalize_targets:
            filled += ", each given its true mean and std as MAE shows them"
        return f"hidden patches gray in the input; {filled}"

    @torch.no_grad()
    def visualize(self, images: torch.Tensor, labels: torch.Tensor | None = None):
        rng = BatchRandom(0, 0, images.shape[0], device=images.device)
        inputs, (clean, hidden) = self.make_batch(images, rng)
        rows, cols = hidden.shape[1:]
        size = (rows * self.patch, cols * self.patch)
        truth = patchify((clean[..., :size[0], :size[1]] + 1.0) / 2.0, self.patch)
        predicted = patchify(self.reconstruct(inputs, hidden).float(), self.patch)
        blurred = patchify(blurred_context(clean[..., :size[0], :size[1]], self.pixel_visibility(hidden, clean)[..., :size[0], :size[1]],
                                          self.patch), self.patch)
        _, mean, std = standardize_patches(truth)
        if self.config.normalize_targets:  # both fills get each patch's true mean and std, as MAE shows its reconstructions
            predicted = predicted * std + mean
            blurred = standardize_patches(blurred)[0] * std + mean
        else:
            predicted = (predicted + 1.0) / 2.0
        predicted = predicted.clamp(0.0, 1.0)
        metrics = {"psnr_hidden": _psnr(predicted[hidden], truth[hidden]),
                   "psnr_hidden_blurred_context": _psnr(blurred.clamp(0.0, 1.0)[hidden], truth[hidden]),
                   "psnr_hidden_patch_mean": _psnr(mean.expand_as(truth)[hidden], truth[hidden])}
        shown = torch.where(hidden.unsqueeze(-1), predicted, truth)
        masked = torch.where(hidden.unsqueeze(-1), torch.full_like(truth, 0.5), truth)
        panels = [("input", masked), ("predicted", shown), ("clean", truth)]
        return [(title, rgb_panel(unpatchify(panel, self.patch, clean.shape[1]))) for title, panel in panels], metrics


def unpatchify(patches: torch.Tensor, patch: int, channels: int) -> torch.Tensor:
    """(B, rows, cols, C * patch * patch) -> (B, C, rows * patch, cols * patch); undoes :func:`patchify`."""
    batch, rows, cols, _ = patches.shape
    grid = patches.view(batch, rows, cols, channels, patch, patch).permute(0, 3, 1, 4, 2, 5)
    return grid.reshape(batch, channels, rows * patch, cols * patch)


def blurred_context(clean: torch.Tensor, visible: torch.Tensor, patch: int) -> torch.Tensor:
    """The baseline fill: a Gaussian average (sigma = one patch) of the visible pixels only, in [0, 1].

    Args:
        clean: (B, C, H, W) in [-1, 1]; visible: (B, 1, H, W), 1 where visible.
    """
    kernel = 4 * patch + 1
    sigma = torch.full((clean.shape[0], 2), float(patch), device=clean.device)
    weight = gaussian_blur2d(visible, kernel, sigma, border_type="constant")
    total = gaussian_blur2d((clean + 1.0) / 2.0 * visible, kernel, sigma, border_type="constant")
    return total / weight.clamp(min=1e-6)


def _psnr(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR in dB of values in [0, 1] over all the given pixels."""
    mse = (prediction - target).pow(2).mean().clamp(min=1e-10)
    return float(10.0 * torch.log10(1.0 / mse))
