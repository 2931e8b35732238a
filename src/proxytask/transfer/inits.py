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
from proxytask.config import INPUT_KINDS, ConfigError, looks_like_path, unknown_name_error
from proxytask.data.downstream import DownstreamData
from proxytask.inputs import NORMALIZATIONS, NetworkInput
from proxytask.models.backbones import Backbone
from proxytask.precision import Precision
from proxytask.runs import RunFolder
from proxytask.transfer.baselines import EIGENFACES, eigenfaces_cache, eigenfaces_features, eigenfaces_input
from proxytask.transfer.features import extract_features
from proxytask.transfer.modes import EIGENFACES_MODE

RANDOM = "random"
BACKBONE_PREFIX = "backbone."


def random_init_name(network_input: NetworkInput, main_kind: str) -> str:
    """The random init reading ``network_input`` in a study whose main input is ``main_kind`` scaled to
    [-1, 1]: ``random``, ``random-rgb``, ``random-standardized`` or ``random-rgb-standardized``."""
    parts = [RANDOM] + ([network_input.kind] if network_input.kind != main_kind else [])
    return "-".join(parts + ([STANDARDIZED] if network_input.normalization == "standardize" else []))


STANDARDIZED = "standardized"
RANDOM_RGB = random_init_name(NetworkInput("rgb"), "intensity")


class Init(ABC):
    """A named initialisation of the downstream classifier. ``seed``: the seed the study plans it
    at (a run's pretraining seed; random init's weights seed; 0 for a baseline). ``modes``: the
    transfer modes it is compared with, or None for every mode a study runs on backbones."""

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

    @property
    def weights_seed(self) -> int | None:
        """The seed its random weights are drawn from (None: its weights are not random)."""
        return None

    def backbone(self, draw_seed: int) -> Backbone:
        """A backbone to fine-tune; ``draw_seed`` (the draw's fine-tuning seed) seeds the global random
        state it leaves behind, the same for every init, so a head made next is the draw's."""
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
    """A backbone with random weights drawn from ``seed`` (frozen features and fine-tuning alike): the floor
    of every comparison. On a draw it starts from the same weights as on every other draw, as a
    pretrained init does."""

    name: str
    backbone_name: str
    network_input: NetworkInput
    seed: int = 0

    @property
    def weights_seed(self) -> int:
        return self.seed

    def backbone(self, draw_seed: int) -> Backbone:
        torch.manual_seed(draw_seed)
        backbone = Backbone(self.backbone_name, self.network_input.channels)  # leaves the draw's random state as a run's init does
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(self.seed)  # the CPU generator only: what fork_rng restores
            backbone.load_state_dict(Backbone(self.backbone_name, self.network_input.channels).state_dict())
        return backbone


@dataclass(frozen=True)
class RunInit(BackboneInit):
    """The backbone of a finished pretraining run, reading the input the run saved; with ``step``, the
    weights the run kept after that many steps instead of its final ones."""

    name: str
    run: RunFolder
    backbone_name: str
    batchnorm: bool
    network_input: NetworkInput
    seed: int = 0
    step: int | None = None

    @classmethod
    def of(cls, run_dir: Path, name: str | None = None, seed: int = 0, step: int | None = None) -> RunInit:
        """The init of the run in ``run_dir`` (at its kept ``step``); a ConfigError when it is not a
        finished run, or keeps no weights at ``step``."""
        run = RunFolder(Path(run_dir))
        config = run.settings()
        if not run.weights.is_file():
            raise ConfigError(f"pretraining run {run_dir} has not finished (no {run.weights.name}); resume it first")
        if step is not None and not run.kept_sha256(step).is_file():
            raise ConfigError(f"pretraining run {run_dir} kept no weights at step {step} (no {run.kept_weights(step)}: a run of "
                              "an earlier version keeps none); a length analysis needs the run made again in another study folder")
        return cls(name or config.task, run, config.model.backbone, config.model.batchnorm, NetworkInput.load(run.input), seed, step)

    def _backbone_weights(self) -> dict[str, torch.Tensor]:
        """The backbone's state dict, checked against its recorded SHA-256 and for finite values."""
        if self.step is not None:
            return load_weights(self.run.kept_weights(self.step), self.run.kept_sha256(self.step).read_text().strip())
        weights = load_weights(self.run.weights, self.run.weights_sha256())
        return {k[len(BACKBONE_PREFIX):]: v for k, v in weights.items() if k.startswith(BACKBONE_PREFIX)}

    def prepare(self, data: DownstreamData) -> None:
        self._backbone_weights()  # weights that are damaged or not finite are refused before anything is written

    def backbone(self, draw_seed: int) -> Backbone:
        torch.manual_seed(draw_seed)
        backbone = Backbone(self.backbone_name, self.network_input.channels, self.batchnorm)
        backbone.load_state_dict(self._backbone_weights())
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


def random_inits(main_kind: str) -> dict[str, NetworkInput]:
    """Every random init's name in a study whose main input is ``main_kind``, with the input it reads
    (each also under its name with the kind spelled out, ``random-intensity``, ``random-rgb-standardized``)."""
    inputs = [NetworkInput(kind, how) for kind in INPUT_KINDS for how in NORMALIZATIONS]
    explicit = {random_init_name(network_input, ""): network_input for network_input in inputs}
    return {**{random_init_name(network_input, main_kind): network_input for network_input in inputs}, **explicit}


def resolve_init(spec: str, backbone_name: str, input_kind: str = "intensity", name: str | None = None) -> BackboneInit:
    """A random init (``random`` reads ``input_kind``; ``random-rgb``, ``random-standardized``, ...) or a
    pretraining run folder (its backbone and the input saved with it are used)."""
    randoms = random_inits(input_kind)
    if spec in randoms:
        return RandomInit(name or spec, backbone_name, randoms[spec])
    if not (Path(spec).exists() or looks_like_path(spec)):
        raise unknown_name_error("init", spec, randoms, otherwise="a pretraining run folder", where="--init")
    return RunInit.of(Path(spec), name)
