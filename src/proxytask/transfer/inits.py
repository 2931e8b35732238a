"""Initialisations to compare: a random backbone, or the backbone of a pretraining run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from proxytask.checkpoint import load_weights
from proxytask.config import ConfigError, PretrainConfig, load_yaml
from proxytask.models.backbones import Backbone
from proxytask.tasks import task_class

RANDOM = "random"
RANDOM_RGB = "random-rgb"
RANDOM_INITS = {RANDOM: 1, RANDOM_RGB: 3}  # name -> input channels (intensity or RGB)
BACKBONE_PREFIX = "backbone."


@dataclass(frozen=True)
class Init:
    """A named initialisation: where it comes from and which input its backbone takes."""

    name: str
    run_dir: Path | None
    backbone_name: str
    input_channels: int

    @property
    def input_description(self) -> str:
        return "intensity (mean of RGB)" if self.input_channels == 1 else "RGB"


def resolve_init(spec: str, backbone_name: str, name: str | None = None) -> Init:
    """``random``, ``random-rgb``, or a pretraining run folder (its backbone and input are used)."""
    if spec in RANDOM_INITS:
        return Init(name or spec, None, backbone_name, RANDOM_INITS[spec])
    run_dir = Path(spec)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise ConfigError(f"--init {spec!r} is neither {' nor '.join(RANDOM_INITS)} nor a pretraining run folder (no config.yaml)")
    if not (run_dir / "model.safetensors").is_file():
        raise ConfigError(f"pretraining run {run_dir} has not finished (no model.safetensors); resume it first")
    config = load_yaml(PretrainConfig, config_path)
    return Init(name or config.task, run_dir, config.model.backbone, task_class(config.task).input_channels)


def build_backbone(init: Init, seed: int = 0) -> Backbone:
    """A backbone with the initialisation's weights (random ones drawn from ``seed``)."""
    torch.manual_seed(seed)
    batchnorm = True
    if init.run_dir is not None:
        batchnorm = load_yaml(PretrainConfig, init.run_dir / "config.yaml").model.batchnorm
    backbone = Backbone(init.backbone_name, init.input_channels, batchnorm)
    if init.run_dir is not None:
        weights = load_weights(init.run_dir / "model.safetensors")
        backbone.load_state_dict({k[len(BACKBONE_PREFIX):]: v for k, v in weights.items() if k.startswith(BACKBONE_PREFIX)})
    return backbone
