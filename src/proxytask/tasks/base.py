"""The task contract: what every proxy task module provides.

A task module owns everything task-specific: its settings (the :class:`proxytask.config.TaskSettings`
classes its constructor takes, each a section of a run's settings, checked by the generic walk),
its network input (``inputs``, ``normalization``; the conversion pretraining and transfer share,
saved with the run), which pool pictures it trains on and with which labels
(:meth:`ProxyTask.pool_images`, :meth:`ProxyTask.pool_labels`), how a batch becomes (inputs,
targets), its head, a ``forward`` returning named loss terms, and its pretext metrics. It registers
itself with :func:`proxytask.tasks.registry.register_task`; adding a task is adding its module.

A task reads a run's settings through :class:`RunSettings` (what it needs of them), never through
the composed settings class of the layer above.
"""

from __future__ import annotations

import inspect
import typing
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from proxytask.config import INPUT_KINDS, ConfigError, DataConfig, ModelConfig, TaskSettings
from proxytask.data.batches import BatchRandom
from proxytask.inputs import NetworkInput
from proxytask.models.backbones import Backbone
from proxytask.models.dropout import FastDropout

S = TypeVar("S", bound=TaskSettings)


class RunSettings(Protocol):
    """What a task reads of a pretraining run's settings (:class:`proxytask.runs.PretrainConfig` is one)."""

    task: str
    input: str
    data: DataConfig
    model: ModelConfig

    def section(self, kind: type[S]) -> S: ...


class ProxyTask(nn.Module, ABC):
    """A backbone plus a task head. ``forward(inputs, targets)`` returns the loss, so the whole
    task can be wrapped in DistributedDataParallel.

    The constructor is ``(backbone, input_kind, <one argument per settings section>)``, plus
    ``num_classes`` for a task that trains on pool labels; its annotations declare the settings.

    Class attributes:
        name: the ``--task`` name.
        inputs: the network inputs (``PretrainConfig.input``) the task can train on.
        normalization: how its input is centered (:class:`proxytask.inputs.NetworkInput`).
        needs_color: grayscale pictures are left out of the training images.
        changes_pictures: in pretraining the backbone never reads the picture as transfer feeds it,
            only changed ones (tiles, corruptions, views, hidden patches); rotation reads it, with
            its rotated copies. Checked both ways by the contract tests.
        loss_terms: the named terms ``forward`` returns beside ``"loss"`` (logged, not optimized).
        pretext_metrics: the held-out numbers :meth:`visualize` returns, key -> what it measures
            (the report's label).
    """

    name: ClassVar[str]
    inputs: ClassVar[tuple[str, ...]] = INPUT_KINDS
    normalization: ClassVar[str] = "scale"
    needs_color: ClassVar[bool] = False
    changes_pictures: ClassVar[bool] = False
    loss_terms: ClassVar[tuple[str, ...]] = ()
    pretext_metrics: ClassVar[dict[str, str]] = {}

    def __init__(self, backbone: Backbone, input_kind: str) -> None:
        super().__init__()
        # Set by the training loop when this task trains in several processes: state a task keeps
        # outside its parameters (the Lab prior) is then updated from the global batch.
        self.data_parallel = False
        self.network_input = self.input_for(input_kind)
        if backbone.in_chans != self.network_input.channels:
            raise ValueError(f"the backbone reads {backbone.in_chans} channel(s), the input {input_kind!r} has {self.network_input.channels}")
        self.backbone = backbone

    @classmethod
    def settings_arguments(cls) -> dict[str, type[TaskSettings]]:
        """The constructor's settings arguments: argument name -> settings class."""
        hints = typing.get_type_hints(cls.__init__)
        return {name: hint for name, hint in hints.items()
                if name != "return" and isinstance(hint, type) and issubclass(hint, TaskSettings)}

    @classmethod
    def sections(cls) -> dict[str, type[TaskSettings]]:
        """The task's settings sections, by section name (``colorization``, ``lab``...)."""
        return {kind.section: kind for kind in cls.settings_arguments().values()}

    @classmethod
    def trains_on_labels(cls) -> bool:
        """True for a task that learns labels of the pool's pictures (its constructor takes ``num_classes``)."""
        return "num_classes" in inspect.signature(cls.__init__).parameters

    @classmethod
    def create(cls, backbone: Backbone, config: RunSettings, num_classes: int | None = None) -> ProxyTask:
        """The task on ``backbone``, with its sections of ``config`` (and ``num_classes`` if it trains on labels)."""
        arguments: dict[str, Any] = {name: config.section(kind) for name, kind in cls.settings_arguments().items()}
        if cls.trains_on_labels():
            if num_classes is None:
                raise ValueError(f"task {cls.name!r} needs the number of classes")
            arguments["num_classes"] = num_classes
        return cls(backbone, config.input, **arguments)

    @classmethod
    def input_for(cls, input_kind: str) -> NetworkInput:
        """The network input of this task on ``input_kind``, or a ConfigError if the task cannot read it."""
        if input_kind not in cls.inputs:
            raise ConfigError(f"input={input_kind!r}: task {cls.name!r} reads only {', '.join(cls.inputs)}")
        return NetworkInput(input_kind, cls.normalization)

    @classmethod
    def check_config(cls, config: RunSettings) -> None:
        """Raise a ConfigError naming the settings if the task cannot train with ``config`` (checked
        before a run writes anything or a study starts any work); nothing to check by default."""

    @classmethod
    def pool_images(cls, is_gray: np.ndarray) -> np.ndarray:
        """Which of the pool's usable pictures (``is_gray``: (N,) bool) the task trains on: (N,) bool.
        All of them, or the color ones for a task that needs color."""
        return ~is_gray if cls.needs_color else np.ones_like(is_gray)

    @classmethod
    def pool_labels(cls, folders: np.ndarray, config: RunSettings) -> tuple[np.ndarray, np.ndarray, int] | None:
        """For a task that trains on labels, from the parent folder of each chosen pool picture (N,):
        the indices of the pictures it keeps, their labels, and the class count (a ConfigError
        where the pool holds too few); None otherwise."""
        return None

    @abstractmethod
    def make_batch(self, images: torch.Tensor, rng: BatchRandom, labels: torch.Tensor | None = None) -> tuple[Any, Any]:
        """Turn augmented images (B, 3, H, W) in [0, 1] (and labels (B,) if the task needs them)
        into (inputs, targets); no parameters used."""

    @abstractmethod
    def forward(self, inputs: Any, targets: Any) -> dict[str, torch.Tensor]:
        """The batch's losses: ``"loss"`` (the scalar optimized) and each of :attr:`loss_terms`."""

    @abstractmethod
    @torch.no_grad()
    def visualize(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[list[tuple[str, torch.Tensor]], dict[str, float]]:
        """Show what the task predicts on held-out images (B, 3, H, W) (with labels (B,) if it needs them).

        Returns:
            panels: (title, (B, 3, H, W) in [0, 1]) columns for the gallery;
            metrics: held-out numbers for ``metrics.json``, the keys of :attr:`pretext_metrics`.
        """

    @property
    def gallery_legend(self) -> str:
        """What the marks in :meth:`visualize`'s panels mean, for the gallery's caption ("" when nothing needs saying)."""
        return ""


class PooledClassificationTask(ProxyTask):
    """A task that classifies whole inputs: global average pool of the last stage, dropout, linear,
    cross-entropy (rotation, supervised identities)."""

    def __init__(self, backbone: Backbone, input_kind: str, outputs: int, dropout: float) -> None:
        super().__init__(backbone, input_kind)
        self.head = nn.Sequential(FastDropout(dropout), nn.Linear(backbone.channels[-1], outputs))

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Network input (B, C, H, W) -> logits (B, outputs)."""
        return self.head(self.backbone(inputs)[-1].mean(dim=(2, 3)))

    def forward(self, inputs, targets) -> dict[str, torch.Tensor]:
        return {"loss": F.cross_entropy(self.logits(inputs).float(), targets)}


def rgb_panel(images: torch.Tensor) -> torch.Tensor:
    """Images (B, 1 or 3, H, W) in [0, 1] -> a new (B, 3, H, W) tensor for a gallery column (gray repeated)."""
    return images.expand(-1, 3, -1, -1).clone()


def mark_red(panel: torch.Tensor, marked: torch.Tensor) -> torch.Tensor:
    """Paint a pure red bar along the top of the pictures of a gallery column (B, 3, H, W) where ``marked`` (B,) is True."""
    bar = max(2, panel.shape[-2] // 16)
    panel[marked, :, :bar] = torch.tensor([1.0, 0.0, 0.0], device=panel.device).view(3, 1, 1)
    return panel
