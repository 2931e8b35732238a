"""The network input: how RGB images become what a backbone reads, the same in pretraining and transfer.

A run saves its :class:`NetworkInput` (``input.json`` of its folder); fine-tuning, probes and k-NN
convert the downstream images with it, so every backbone is transferred on the input it was trained on.

- ``kind``: ``intensity`` (the mean of R, G and B, one channel, what colorization sees) or ``rgb``.
- ``normalization``: ``scale`` maps [0, 1] to [-1, 1]; ``standardize`` gives each image (each
  jigsaw tile in pretraining) zero mean and unit standard deviation over its channels and pixels.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from proxytask.color import intensity
from proxytask.config import INPUT_KINDS, ConfigError
from proxytask.files import write_json_atomic

NORMALIZATIONS = ("scale", "standardize")
# Smallest standard deviation a standardized image is divided by (a flat image stays flat).
MIN_STD = 1e-3


@dataclass(frozen=True)
class NetworkInput:
    """RGB (B, 3, H, W) in [0, 1] -> the backbone's input (B, channels, H, W)."""

    kind: str = "intensity"
    normalization: str = "scale"

    def __post_init__(self) -> None:
        if self.kind not in INPUT_KINDS:
            raise ConfigError(f"input must be one of {', '.join(INPUT_KINDS)}, got {self.kind!r}")
        if self.normalization not in NORMALIZATIONS:
            raise ConfigError(f"input normalization must be one of {', '.join(NORMALIZATIONS)}, got {self.normalization!r}")

    @property
    def channels(self) -> int:
        return 1 if self.kind == "intensity" else 3

    def select(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB (B, 3, H, W) -> intensity (B, 1, H, W) or RGB, still in [0, 1]."""
        return intensity(rgb) if self.kind == "intensity" else rgb

    def normalize(self, selected: torch.Tensor) -> torch.Tensor:
        """Selected channels (B, C, H, W) in [0, 1] -> the centered network input, same shape."""
        if self.normalization == "scale":
            return selected * 2.0 - 1.0
        flat = selected.flatten(1)
        mean = flat.mean(1).view(-1, *[1] * (selected.dim() - 1))
        std = flat.std(1).clamp(min=MIN_STD).view_as(mean)
        return (selected - mean) / std

    def __call__(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.normalize(self.select(rgb))

    def describe(self) -> str:
        what = "intensity (mean of RGB)" if self.kind == "intensity" else "RGB"
        how = "scaled to [-1, 1]" if self.normalization == "scale" else "standardized per image"
        return f"{what}, {how}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def save(self, path: Path) -> None:
        """Write the input as JSON (a run's ``input.json``)."""
        write_json_atomic(path, self.as_dict())

    @classmethod
    def load_from(cls, values: dict[str, str], where: str = "input") -> NetworkInput:
        """From the mapping :meth:`as_dict` wrote, checked; ``where`` names its file in errors."""
        unknown = sorted(set(values) - {"kind", "normalization"})
        if unknown:
            raise ConfigError(f"{where}: unknown field {unknown[0]!r}; expected kind and normalization")
        return cls(**values)

    @classmethod
    def load(cls, path: Path) -> NetworkInput:
        """From the JSON file :meth:`save` wrote."""
        if not Path(path).is_file():
            raise ConfigError(f"{path} does not exist (the network input the run was trained on)")
        return cls.load_from(json.loads(Path(path).read_text()), str(path))
