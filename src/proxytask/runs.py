"""A pretraining run: its settings (:class:`PretrainConfig`, the shared sections plus every task's
own) and its folder (:class:`RunFolder`, the one place that names its files).

This module sits above the tasks: their registry says which sections a run's settings hold, and
no task reads this class (a task reads :class:`proxytask.tasks.base.RunSettings`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from proxytask.config import INPUT_KINDS, DataConfig, ModelConfig, OptimConfig, Settings, TaskSettings, TrainConfig, load_yaml, setting
from proxytask.tasks import task_sections

S = TypeVar("S", bound=TaskSettings)


def default_sections() -> dict[str, Settings]:
    """Every registered task's settings section at its defaults."""
    return {name: section() for name, section in task_sections().items()}


@dataclass
class PretrainConfig(Settings):
    """Everything a ``proxytask pretrain`` run needs. ``input`` is what the backbone reads
    (``intensity`` or ``rgb``; colorization reads intensity only). Each task's own settings are a
    section named as its settings class says (``colorization``, ``contrastive``...), declared in the
    task's module: read as ``config.section(ColorizationConfig)``, written as ``colorization:`` in YAML."""

    task: str = "colorization"
    input: str = setting("intensity", choices=INPUT_KINDS)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sections: dict[str, Settings] = field(default_factory=default_sections, metadata={"sections": task_sections})

    def section(self, kind: type[S]) -> S:
        """The task section of class ``kind`` (``config.section(ColorizationConfig).bins``)."""
        found = self.sections.get(kind.section)
        if not isinstance(found, kind):
            raise KeyError(f"these settings hold no {kind.__name__} section {kind.section!r}")
        return found


@dataclass(frozen=True)
class RunFolder:
    """Every file of a pretraining run folder: the resolved settings, the network input, what the
    pool was made of, the logs, checkpoints, final weights, metrics and gallery."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def input(self) -> Path:
        return self.root / "input.json"

    @property
    def data(self) -> Path:
        return self.root / "data.json"

    @property
    def skipped(self) -> Path:
        return self.root / "skipped.txt"

    @property
    def log(self) -> Path:
        return self.root / "log.csv"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tb"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def weights(self) -> Path:
        return self.root / "model.safetensors"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def gallery(self) -> Path:
        return self.root / "gallery.png"

    @property
    def started(self) -> bool:
        """It holds a run (its settings are written once it is known to start)."""
        return self.config.is_file()

    @property
    def finished(self) -> bool:
        return self.metrics.is_file()

    def settings(self) -> PretrainConfig:
        """The settings the run was started with."""
        return load_yaml(PretrainConfig, self.config)
