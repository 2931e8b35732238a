"""One factory for every backbone: timm's ``create_model(features_only=True)``.

Besides timm's own models (``vgg16_bn``, ``resnet18``, ``resnet50``, ...) this registers
``vgg_small`` with timm: an 8-conv VGG-style net (about 1.2M parameters) that is fast enough to
pretrain on two CPU cores, the project's CPU default.
"""

from __future__ import annotations

import timm
import torch
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from torch import nn

from proxytask.config import ConfigError

VGG_SMALL_WIDTHS: tuple[tuple[int, ...], ...] = ((32, 32), (64, 64), (128, 128), (256, 256))


class SmallVGG(nn.Module):
    """VGG-style stages of 3x3 conv (+BN) + ReLU, 2x2 max-pool between stages.

    ``feature_info`` taps the last ReLU of every stage (strides 1, 2, 4, 8), as timm's VGG does.
    """

    def __init__(self, in_chans: int = 3, num_classes: int = 0, batchnorm: bool = True,
                 widths: tuple[tuple[int, ...], ...] = VGG_SMALL_WIDTHS, **_: object) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        self.feature_info: list[dict[str, object]] = []
        channels = in_chans
        for stage, stage_widths in enumerate(widths):
            if stage > 0:
                layers.append(nn.MaxPool2d(2))
            for width in stage_widths:
                layers.append(nn.Conv2d(channels, width, 3, padding=1, bias=not batchnorm))
                if batchnorm:
                    layers.append(nn.BatchNorm2d(width))
                layers.append(nn.ReLU(inplace=True))
                channels = width
            self.feature_info.append(dict(num_chs=channels, reduction=2**stage, module=f"features.{len(layers) - 1}"))
        self.features = nn.Sequential(*layers)
        self.num_features = channels
        self.head = nn.Linear(channels, num_classes) if num_classes else nn.Identity()
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x).mean(dim=(2, 3)))


default_cfgs = generate_default_cfgs({"vgg_small.untrained": {"num_classes": 0, "input_size": (3, 64, 64), "url": ""}})


@register_model
def vgg_small(pretrained: bool = False, **kwargs: object) -> SmallVGG:
    """The project's CPU default backbone (no pretrained weights exist)."""
    out_indices = kwargs.pop("out_indices", tuple(range(len(VGG_SMALL_WIDTHS))))
    feature_cfg = dict(flatten_sequential=True, out_indices=out_indices)
    return build_model_with_cfg(SmallVGG, "vgg_small", pretrained, feature_cfg=feature_cfg, **kwargs)


class Backbone(nn.Module):
    """A timm ``features_only`` network: (B, C_in, H, W) -> list of (B, C_i, H / r_i, W / r_i).

    Attributes:
        name, in_chans, batchnorm: what it was built from.
        channels: C_i of each feature level.
        reductions: stride r_i of each feature level.
    """

    def __init__(self, name: str, in_chans: int, batchnorm: bool = True) -> None:
        super().__init__()
        kwargs: dict[str, object] = {}
        if name == "vgg_small":
            kwargs["batchnorm"] = batchnorm
        elif not batchnorm:
            raise ConfigError(f"model.batchnorm=false is only available for vgg_small, not {name!r}")
        try:
            self.body = timm.create_model(name, pretrained=False, features_only=True, in_chans=in_chans, **kwargs)
        except RuntimeError as error:
            raise ConfigError(f"model.backbone {name!r} is not a timm model with features_only support: {error}") from None
        self.name = name
        self.in_chans = in_chans
        self.batchnorm = batchnorm
        self.channels: list[int] = list(self.body.feature_info.channels())
        self.reductions: list[int] = list(self.body.feature_info.reduction())

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.body(x)
