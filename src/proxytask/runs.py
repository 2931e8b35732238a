"""A pretraining run: its settings (:class:`PretrainConfig`, the shared sections plus every task's
own) and its folder (:class:`RunFolder`, the one place that names its files).

This module sits above the tasks: their registry says which sections a run's settings hold, and
no task reads this class (a task reads :class:`proxytask.tasks.base.RunSettings`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml

from proxytask.config import (
    INPUT_KINDS,
    ConfigError,
    DataConfig,
    ModelConfig,
    OptimConfig,
    Settings,
    TaskSettings,
    TrainConfig,
    load_yaml,
    read_settings_yaml,
    setting,
    unknown_name_error,
)
from proxytask.files import read_json
from proxytask.tasks import TASKS, task_sections

log = logging.getLogger(__name__)
# Weights files of earlier versions already said to be used unverified (once per process each).
_WARNED_UNVERIFIED: set[Path] = set()

S = TypeVar("S", bound=TaskSettings)

# Fractions of its steps at which every run keeps a copy of its backbone's weights (``kept/``), for a
# study's length analysis: the run at a ninth and a third of its pretraining, without new runs.
KEPT_FRACTIONS: tuple[tuple[int, int], ...] = ((1, 9), (1, 3))


def kept_step(total_steps: int, fraction: tuple[int, int]) -> int:
    """The step at which a run of ``total_steps`` keeps its weights for ``fraction`` (at least 1)."""
    return max(1, round(total_steps * fraction[0] / fraction[1]))


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

    def rules(self, where: str) -> None:
        if self.task not in TASKS:
            raise unknown_name_error("task", self.task, sorted(TASKS), where=f"{where}task")

    def section(self, kind: type[S]) -> S:
        """The task section of class ``kind`` (``config.section(ColorizationConfig).bins``)."""
        found = self.sections.get(kind.section)
        if not isinstance(found, kind):
            raise KeyError(f"these settings hold no {kind.__name__} section {kind.section!r}")
        return found


# What a pretraining run folder is, for the errors about a folder that is not one, and the settings
# files of a study's runs (proxytask.study.folder.StudyFolder names them), to tell a study folder.
RUN_FOLDER_HINT = "a run folder is what 'proxytask pretrain --out DIR' or a study's pretrain/<task>/seed<s>/ holds"
TASK_SEEDS = "seed*/config.yaml"
STUDY_RUNS = f"pretrain/*/{TASK_SEEDS}"


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
    def files(self) -> Path:
        """The fingerprint of the pictures the run was built from (:mod:`proxytask.data.fingerprint`)."""
        return self.root / "files.json"

    @property
    def skipped(self) -> Path:
        return self.root / "skipped.txt"

    @property
    def log(self) -> Path:
        return self.root / "log.csv"

    @property
    def monitor(self) -> Path:
        """The transfer monitor's rows (step, images seen, development-task scores), when it ran."""
        return self.root / "monitor.csv"

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

    def kept_weights(self, step: int) -> Path:
        """The backbone's weights the run kept after ``step`` steps (:data:`KEPT_FRACTIONS`)."""
        return self.root / "kept" / f"step-{step:08d}.safetensors"

    def kept_sha256(self, step: int) -> Path:
        """The SHA-256 of :meth:`kept_weights`, written after them."""
        return self.kept_weights(step).with_suffix(".sha256")

    def weights_sha256(self) -> str | None:
        """The SHA-256 of the final weights recorded in metrics.json (None, with a warning: a run of an
        earlier version). A damaged metrics.json is a DamagedFile."""
        digest = read_json(self.metrics).get("weights_sha256") if self.metrics.is_file() else None
        if digest is None and self.weights not in _WARNED_UNVERIFIED:
            _WARNED_UNVERIFIED.add(self.weights)
            log.warning("%s records no SHA-256 of %s (a run of an earlier version): its weights are used unverified",
                        self.metrics, self.weights.name)
        return digest

    def downstream_checked(self) -> bool | None:
        """Whether the run's pool was checked for copies of downstream pictures when it started (runs of
        earlier versions always were); None for a run that has not started."""
        if not self.data.is_file():
            return None
        return read_json(self.data).get("downstream_checked", "checked") is not None

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

    def check_holds_run(self) -> None:
        """Raise a ConfigError unless the folder holds a pretraining run, saying what it is instead:
        missing, a study folder, one task's folder of seeds, or a folder without a run's settings."""
        root = self.root
        if not root.is_dir():
            raise ConfigError(f"{root} does not exist; expected a pretraining run folder ({RUN_FOLDER_HINT})")
        if self.is_study_folder:
            raise ConfigError(f"{root} is a study folder, not a pretraining run folder: its runs are {self.study_runs()}")
        seeds = sorted(root.glob(TASK_SEEDS))
        if seeds and not self.started:
            raise ConfigError(f"{root} holds the pretraining seeds of one task, not a run: give one of them, e.g. {seeds[0].parent}")
        if not self.started:
            raise ConfigError(f"{root} is not a pretraining run folder (no {self.config.name}; {RUN_FOLDER_HINT})")

    @property
    def is_study_folder(self) -> bool:
        """It is a study folder: it holds study runs, or its ``config.yaml`` holds a study's settings (a
        ``pretrain`` section, which a run's never has)."""
        if any(self.root.glob(STUDY_RUNS)):
            return True
        try:
            values = read_settings_yaml(self.config.read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return False
        return isinstance(values, dict) and isinstance(values.get("pretrain"), dict)

    def study_runs(self) -> str:
        """Where a study folder's runs are, in words, with its first run as an example."""
        found = sorted(self.root.glob(STUDY_RUNS))
        return f"{self.root / 'pretrain'}/<task>/seed<s>/" + (f", e.g. {found[0].parent}" if found else "")

    def settings(self) -> PretrainConfig:
        """The settings the run was started with (a ConfigError if the folder holds no run: :meth:`check_holds_run`)."""
        self.check_holds_run()
        return load_yaml(PretrainConfig, self.config)
