"""Initialisations to compare, one family: a random backbone, the backbone of a pretraining run, and
the eigenfaces baseline (no backbone: its own features). A mode runs on any init that has what it
reads (:mod:`proxytask.transfer.modes`): a backbone to fine-tune, or frozen features."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from proxytask.checkpoint import load_weights
from proxytask.config import ConfigError
from proxytask.data.downstream import DownstreamData
from proxytask.inputs import NetworkInput
from proxytask.models.backbones import Backbone
from proxytask.precision import Precision
from proxytask.runs import RunFolder
from proxytask.transfer.baselines import EIGENFACES, eigenfaces_cache, eigenfaces_features, eigenfaces_input
from proxytask.transfer.features import extract_features
from proxytask.transfer.modes import EIGENFACES_MODE

RANDOM = "random"
BACKBONE_PREFIX = "backbone."


def random_init_name(kind: str, main_kind: str) -> str:
    """The random init reading input ``kind`` in a study whose main input is ``main_kind``: ``random``, or ``random-<kind>``."""
    return RANDOM if kind == main_kind else f"{RANDOM}-{kind}"


RANDOM_RGB = random_init_name("rgb", "intensity")


class Init(ABC):
    """A named initialisation of the downstream classifier. ``seed``: the seed the study plans it
    at (a run's pretraining seed; 0 for random init, whose fine-tuned weights follow the draw, and
    for a baseline). ``modes``: the transfer modes it is compared with, or None for every mode a
    study runs on backbones."""

    name: str
    seed: int
    modes: ClassVar[tuple[str, ...] | None] = None

    @property
    @abstractmethod
    def input_kind(self) -> str:
        """What it reads, as a job record's ``input`` says it (``intensity``, ``rgb``, or its own)."""

    @property
    def input_detail(self) -> str | None:
        """How pictures become its input, in words (None where ``input_kind`` says it all)."""
        return None

    def prepare(self, data: DownstreamData) -> None:
        """Check, before any job runs, that the init can read the task's pictures (nothing to check by default)."""
        return None

    @abstractmethod
    def features(self, data: DownstreamData, crop: int, device: torch.device, precision: Precision) -> np.ndarray:
        """Frozen features of every downstream picture: (N, D) float32."""

    def backbone(self, weights_seed: int) -> Backbone:
        """A backbone to fine-tune (random weights drawn from ``weights_seed``)."""
        raise ConfigError(f"init {self.name!r} has no backbone to fine-tune")


class BackboneInit(Init):
    """An init with a backbone reading ``network_input``; its frozen features are pooled last-stage features."""

    network_input: NetworkInput

    @property
    def input_kind(self) -> str:
        return self.network_input.kind

    @property
    def input_detail(self) -> str:
        return self.network_input.describe()

    def features(self, data: DownstreamData, crop: int, device: torch.device, precision: Precision) -> np.ndarray:
        return extract_features(self.backbone(self.seed), self.network_input, data.pixels, crop, device, precision)


@dataclass(frozen=True)
class RandomInit(BackboneInit):
    """A backbone with random weights: the floor of every comparison."""

    name: str
    backbone_name: str
    network_input: NetworkInput
    seed: int = 0

    def backbone(self, weights_seed: int) -> Backbone:
        torch.manual_seed(weights_seed)
        return Backbone(self.backbone_name, self.network_input.channels)


@dataclass(frozen=True)
class RunInit(BackboneInit):
    """The backbone of a finished pretraining run, reading the input the run saved."""

    name: str
    run: RunFolder
    backbone_name: str
    batchnorm: bool
    network_input: NetworkInput
    seed: int = 0

    @classmethod
    def of(cls, run_dir: Path, name: str | None = None, seed: int = 0) -> RunInit:
        """The init of the run in ``run_dir`` (a ConfigError when it is not a finished run)."""
        run = RunFolder(Path(run_dir))
        if not run.started:
            raise ConfigError(f"{run_dir} is not a pretraining run folder (no {run.config.name})")
        if not run.weights.is_file():
            raise ConfigError(f"pretraining run {run_dir} has not finished (no {run.weights.name}); resume it first")
        config = run.settings()
        return cls(name or config.task, run, config.model.backbone, config.model.batchnorm, NetworkInput.load(run.input), seed)

    def backbone(self, weights_seed: int) -> Backbone:
        torch.manual_seed(weights_seed)
        backbone = Backbone(self.backbone_name, self.network_input.channels, self.batchnorm)
        weights = load_weights(self.run.weights)
        backbone.load_state_dict({k[len(BACKBONE_PREFIX):]: v for k, v in weights.items() if k.startswith(BACKBONE_PREFIX)})
        return backbone


@dataclass(frozen=True)
class EigenfacesInit(Init):
    """The eigenfaces baseline: gray pixels of the scikit-learn example's crop, for its own mode (PCA + RBF SVM)."""

    name: str = EIGENFACES
    seed: int = 0
    modes: ClassVar[tuple[str, ...]] = (EIGENFACES_MODE,)

    @property
    def input_kind(self) -> str:
        return eigenfaces_input()

    def prepare(self, data: DownstreamData) -> None:
        eigenfaces_cache(data)

    def features(self, data: DownstreamData, crop: int, device: torch.device, precision: Precision) -> np.ndarray:
        return eigenfaces_features(np.asarray(eigenfaces_cache(data).pixels))


# Baselines outside the network family, by name: each has features of its own and modes of its own.
BASELINE_INITS: dict[str, type[Init]] = {EIGENFACES: EigenfacesInit}


def resolve_init(spec: str, backbone_name: str, input_kind: str = "intensity", name: str | None = None) -> BackboneInit:
    """``random`` (reading ``input_kind``), ``random-rgb``, or a pretraining run folder (its backbone and
    the input saved with it are used)."""
    if spec == RANDOM:
        return RandomInit(name or spec, backbone_name, NetworkInput(input_kind))
    if spec == RANDOM_RGB:
        return RandomInit(name or spec, backbone_name, NetworkInput("rgb"))
    if not RunFolder(Path(spec)).started:
        raise ConfigError(f"--init {spec!r} is neither {RANDOM} nor {RANDOM_RGB} nor a pretraining run folder (no config.yaml)")
    return RunInit.of(Path(spec), name)
