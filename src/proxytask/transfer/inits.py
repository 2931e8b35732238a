"""Initialisations to compare: a random backbone, or the backbone of a pretraining run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from proxytask.checkpoint import load_weights
from proxytask.config import ConfigError, PretrainConfig, load_yaml
from proxytask.inputs import NetworkInput
from proxytask.models.backbones import Backbone

RANDOM = "random"
RANDOM_RGB = "random-rgb"
RANDOM_INITS = (RANDOM, RANDOM_RGB)
BACKBONE_PREFIX = "backbone."


@dataclass(frozen=True)
class Init:
    """A named initialisation: where it comes from and the network input its backbone reads."""

    name: str
    run_dir: Path | None
    backbone_name: str
    network_input: NetworkInput


def resolve_init(spec: str, backbone_name: str, input_kind: str = "intensity", name: str | None = None) -> Init:
    """``random`` (reading ``input_kind``), ``random-rgb``, or a pretraining run folder (its backbone
    and the input saved with it are used)."""
    if spec == RANDOM:
        return Init(name or spec, None, backbone_name, NetworkInput(input_kind))
    if spec == RANDOM_RGB:
        return Init(name or spec, None, backbone_name, NetworkInput("rgb"))
    run_dir = Path(spec)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise ConfigError(f"--init {spec!r} is neither {' nor '.join(RANDOM_INITS)} nor a pretraining run folder (no config.yaml)")
    if not (run_dir / "model.safetensors").is_file():
        raise ConfigError(f"pretraining run {run_dir} has not finished (no model.safetensors); resume it first")
    config = load_yaml(PretrainConfig, config_path)
    return Init(name or config.task, run_dir, config.model.backbone, NetworkInput.load(run_dir))


def build_backbone(init: Init, seed: int = 0) -> Backbone:
    """A backbone with the initialisation's weights (random ones drawn from ``seed``)."""
    torch.manual_seed(seed)
    batchnorm = True
    if init.run_dir is not None:
        batchnorm = load_yaml(PretrainConfig, init.run_dir / "config.yaml").model.batchnorm
    backbone = Backbone(init.backbone_name, init.network_input.channels, batchnorm)
    if init.run_dir is not None:
        weights = load_weights(init.run_dir / "model.safetensors")
        backbone.load_state_dict({k[len(BACKBONE_PREFIX):]: v for k, v in weights.items() if k.startswith(BACKBONE_PREFIX)})
    return backbone
