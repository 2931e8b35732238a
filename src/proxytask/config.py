"""Typed settings for every command: dataclasses with defaults, YAML load/save, dotted overrides.

One source of truth for each fact (bin count, face crop, split seed): the defaults below. A run
saves its resolved settings as ``config.yaml`` so it can be reproduced and resumed.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from proxytask.files import write_text_atomic

T = TypeVar("T")


class ConfigError(ValueError):
    """A setting has a wrong name, type or value; the message names the setting."""


# What a backbone reads (proxytask.inputs.NetworkInput): intensity (mean of RGB) or RGB.
INPUT_KINDS = ("intensity", "rgb")
# The largest cached side: a cache row is image_size^2 * 3 bytes, so larger sides are almost surely a typo.
MAX_IMAGE_SIZE = 1024
# How pictures from a folder are cropped: the centered square, or the LFW face box.
FOLDER_CROPS = ("center", "face")


def check_dropout(name: str, value: float) -> None:
    """A dropout probability must be in [0, 1); the error names the setting."""
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{name} must be in [0, 1), got {value}")


@dataclass
class DataConfig:
    """Where images come from and how they are preprocessed.

    ``pool`` lists the pretraining pool's sources: ``lfw`` (LFW without the downstream and
    development people) and any image folders (searched recursively). ``lfw`` is the folder of
    the LFW archive (else ``$PROXYTASK_LFW``, the cache folder, or a download).
    ``face_crop`` is (left, top, right, bottom) in pixels of the 250x250 LFW image, right/bottom
    exclusive: the central 128x128 square, rows and columns 61..188 (PROTOCOL.md). Pictures from
    other folders are read with ``folder_crop``: ``center`` (the largest centered square, then
    resized) or ``face`` (the LFW face box, for LFW-aligned pictures).
    ``pool_fraction`` is the share of the pretraining pool's training images used (a seeded subset,
    drawn after the held-out images are set aside, so every fraction is judged on the same ones).
    """

    lfw: str | None = None
    downstream: str = "lfw-politicians-7"
    pool: tuple[str, ...] = ("lfw",)
    face_crop: tuple[int, int, int, int] = (61, 61, 189, 189)
    folder_crop: str = "center"
    image_size: int = 64
    crop_size: int = 56
    heldout_images: int = 64
    workers: int = 2
    pool_fraction: float = 1.0

    def validate(self) -> None:
        if not self.pool:
            raise ConfigError("data.pool must name at least one source: lfw or an image folder")
        if self.folder_crop not in FOLDER_CROPS:
            raise ConfigError(f"data.folder_crop must be one of {', '.join(FOLDER_CROPS)}, got {self.folder_crop!r}")
        left, top, right, bottom = self.face_crop
        if not (0 <= left < right and 0 <= top < bottom):
            raise ConfigError(f"data.face_crop must be (left, top, right, bottom) with left < right and top < bottom, got {self.face_crop}")
        if not 8 <= self.image_size <= MAX_IMAGE_SIZE:
            raise ConfigError(f"data.image_size must be between 8 and {MAX_IMAGE_SIZE} pixels, got {self.image_size}")
        if not 8 <= self.crop_size <= self.image_size:
            raise ConfigError(f"data.crop_size must be between 8 and data.image_size ({self.image_size}), got {self.crop_size}")
        if self.heldout_images < 1 or self.workers < 1:
            raise ConfigError("data.heldout_images and data.workers must be >= 1")
        if not 0.0 < self.pool_fraction <= 1.0:
            raise ConfigError(f"data.pool_fraction must be in (0, 1], got {self.pool_fraction}")


@dataclass
class ModelConfig:
    """The backbone: any timm model name with ``features_only`` support, or ``vgg_small``."""

    backbone: str = "vgg_small"
    batchnorm: bool = True

    def validate(self) -> None:
        if not self.backbone:
            raise ConfigError("model.backbone must name a backbone, e.g. vgg_small, vgg16_bn, resnet18, resnet50")


@dataclass
class ColorizationConfig:
    """Larsson et al. 2017 hue/chroma colorization (METHOD.md section 2).

    ``hypercolumn`` off makes every colorization head read only the backbone's last level at each
    point (the last-layer-only ablation) instead of the intensity plus every level.
    """

    bins: int = 32
    samples_per_image: int = 128
    border: int = 4
    hue_weight: float = 5.0
    target: str = "window"
    window: int = 7
    lightness_weighting: bool = False
    head_width: int = 1024
    head_dropout: float = 0.5
    hypercolumn: bool = True

    def validate(self) -> None:
        if self.bins < 2:
            raise ConfigError(f"colorization.bins must be >= 2, got {self.bins}")
        if self.target not in ("onehot", "window"):
            raise ConfigError(f"colorization.target must be 'onehot' or 'window', got {self.target!r}")
        if self.window < 1 or self.window % 2 == 0:
            raise ConfigError(f"colorization.window must be an odd number >= 1, got {self.window}")
        if self.samples_per_image < 1 or self.border < 0:
            raise ConfigError("colorization.samples_per_image must be >= 1 and colorization.border >= 0")
        check_dropout("colorization.head_dropout", self.head_dropout)


@dataclass
class LabConfig:
    """Lab-bin colorization (Zhang et al. 2016): soft encoding, rebalancing, annealed mean."""

    neighbours: int = 5
    sigma: float = 5.0
    rebalance: float = 0.5
    temperature: float = 0.38
    prior_momentum: float = 0.99

    def validate(self) -> None:
        if self.neighbours < 1 or self.sigma <= 0 or self.temperature <= 0:
            raise ConfigError("lab.neighbours must be >= 1, lab.sigma and lab.temperature positive")
        if not 0.0 <= self.rebalance <= 1.0 or not 0.0 <= self.prior_momentum < 1.0:
            raise ConfigError("lab.rebalance must be in [0, 1] and lab.prior_momentum in [0, 1)")


@dataclass
class SupervisedConfig:
    """Supervised pretraining on pool identities: the ceiling a proxy task tries to reach."""

    min_images_per_identity: int = 5
    head_dropout: float = 0.0

    def validate(self) -> None:
        if self.min_images_per_identity < 2:
            raise ConfigError(f"supervised.min_images_per_identity must be >= 2, got {self.min_images_per_identity}")
        check_dropout("supervised.head_dropout", self.head_dropout)


@dataclass
class RotationConfig:
    """Rotation prediction (Gidaris et al. 2018)."""

    head_dropout: float = 0.0

    def validate(self) -> None:
        check_dropout("rotation.head_dropout", self.head_dropout)


@dataclass
class DenoisingConfig:
    """Denoising autoencoder (Vincent et al.): masking noise and/or Gaussian noise."""

    mask_fraction: float = 0.3
    mask_cell: int = 1
    gaussian_std: float = 0.0

    def validate(self) -> None:
        if not 0.0 <= self.mask_fraction < 1.0 or self.gaussian_std < 0:
            raise ConfigError("denoising.mask_fraction must be in [0, 1) and denoising.gaussian_std >= 0")
        if self.mask_fraction == 0 and self.gaussian_std == 0:
            raise ConfigError("denoising needs a corruption: set denoising.mask_fraction or denoising.gaussian_std")
        if self.mask_cell < 1:
            raise ConfigError(f"denoising.mask_cell must be >= 1 pixel, got {self.mask_cell}")


@dataclass
class InpaintingConfig:
    """Context encoder (Pathak et al.): a central square or random blocks, about ``fraction`` of the image."""

    region: str = "center"
    fraction: float = 0.25
    block: int = 8

    def validate(self) -> None:
        if self.region not in ("center", "random"):
            raise ConfigError(f"inpainting.region must be 'center' or 'random', got {self.region!r}")
        if not 0.0 < self.fraction < 1.0 or self.block < 1:
            raise ConfigError("inpainting.fraction must be in (0, 1) and inpainting.block >= 1")


@dataclass
class JigsawConfig:
    """Jigsaw puzzles (Noroozi and Favaro 2016): 3x3 tiles, a fixed set of permutations."""

    permutations: int = 100
    tile_fraction: float = 0.85
    head_width: int = 512
    head_dropout: float = 0.5

    def validate(self) -> None:
        if not 2 <= self.permutations <= 362880:
            raise ConfigError(f"jigsaw.permutations must be between 2 and 9! = 362880, got {self.permutations}")
        if not 0.0 < self.tile_fraction <= 1.0:
            raise ConfigError(f"jigsaw.tile_fraction must be in (0, 1], got {self.tile_fraction}")
        check_dropout("jigsaw.head_dropout", self.head_dropout)


@dataclass
class OptimConfig:
    """Optimizer and learning-rate schedule (linear warm-up, then the schedule)."""

    optimizer: str = "adamw"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_steps: int = 100
    step_milestones: tuple[float, ...] = (0.5, 0.75, 0.875)

    def validate(self) -> None:
        if self.optimizer not in ("sgd", "adamw"):
            raise ConfigError(f"optim.optimizer must be 'sgd' or 'adamw', got {self.optimizer!r}")
        if self.schedule not in ("cosine", "step", "constant"):
            raise ConfigError(f"optim.schedule must be 'cosine', 'step' or 'constant', got {self.schedule!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"optim.lr must be a positive number, got {self.lr}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0 and math.isfinite(self.momentum)):
            raise ConfigError("optim.weight_decay must be a number >= 0 and optim.momentum a number")


@dataclass
class TrainConfig:
    """Length and bookkeeping of a training run. ``batch_size`` is the global batch over all ranks.
    ``bf16`` and ``channels_last`` apply on CUDA; ``compile`` runs the task through ``torch.compile``
    (falling back to eager execution where compiling fails)."""

    batch_size: int = 32
    epochs: float = 2.0
    max_steps: int | None = None
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 200
    bf16: bool = True
    channels_last: bool = True
    compile: bool = False

    def validate(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"train.batch_size must be >= 1, got {self.batch_size}")
        if not math.isfinite(self.epochs) or (self.epochs <= 0 and self.max_steps is None):
            raise ConfigError(f"train.epochs must be a positive number (or set train.max_steps), got {self.epochs}")
        if self.seed < 0:
            raise ConfigError(f"train.seed must be >= 0, got {self.seed}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"train.max_steps must be >= 1, got {self.max_steps}")
        if self.checkpoint_every < 1 or self.log_every < 1:
            raise ConfigError("train.checkpoint_every and train.log_every must be >= 1")


@dataclass
class PretrainConfig:
    """Everything a ``proxytask pretrain`` run needs. ``input`` is what the backbone reads
    (``intensity`` or ``rgb``; colorization reads intensity only)."""

    task: str = "colorization"
    input: str = "intensity"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    colorization: ColorizationConfig = field(default_factory=ColorizationConfig)
    lab: LabConfig = field(default_factory=LabConfig)
    supervised: SupervisedConfig = field(default_factory=SupervisedConfig)
    rotation: RotationConfig = field(default_factory=RotationConfig)
    denoising: DenoisingConfig = field(default_factory=DenoisingConfig)
    inpainting: InpaintingConfig = field(default_factory=InpaintingConfig)
    jigsaw: JigsawConfig = field(default_factory=JigsawConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        if self.input not in INPUT_KINDS:
            raise ConfigError(f"input must be one of {', '.join(INPUT_KINDS)}, got {self.input!r}")
        for part in (self.data, self.model, self.colorization, self.lab, self.supervised, self.rotation, self.denoising,
                     self.inpainting, self.jigsaw, self.optim, self.train):
            part.validate()


@dataclass
class FinetuneConfig:
    """The fine-tuning recipe, the same for every initialisation compared.

    Steps: ``epochs`` passes over the budget's training images, clamped to [min_steps, max_steps].
    The head learns at ``lr``, the backbone at ``lr * backbone_lr_factor``. Below all labels the
    recipe is fixed (the last step is kept: no label outside the budget chooses anything); with all
    labels the step kept is the one with the best macro-F1 on the validation part of the train
    split (checked every ``eval_every`` steps). The seed of draw d is ``seed + d``.
    """

    epochs: float = 30.0
    min_steps: int = 100
    max_steps: int = 300
    batch_size: int = 32
    lr: float = 6e-3
    backbone_lr_factor: float = 0.5
    weight_decay: float = 1e-4
    warmup_steps: int = 10
    eval_every: int = 20
    seed: int = 0

    def validate(self) -> None:
        if not 1 <= self.min_steps <= self.max_steps:
            raise ConfigError(f"finetune.min_steps ({self.min_steps}) must be >= 1 and <= finetune.max_steps ({self.max_steps})")
        if self.batch_size < 1 or self.eval_every < 1 or not (math.isfinite(self.epochs) and self.epochs > 0):
            raise ConfigError("finetune.batch_size, finetune.eval_every and finetune.epochs must be positive")
        if not (math.isfinite(self.lr) and self.lr > 0) or not 0 < self.backbone_lr_factor <= 1:
            raise ConfigError("finetune.lr must be a positive number and finetune.backbone_lr_factor in (0, 1]")
        if self.seed < 0:
            raise ConfigError(f"finetune.seed must be >= 0, got {self.seed}")


# The evaluation protocol a study folder's jobs were made under. 2: choices inside the budget's labels,
# one input for every init, fine-tuning seeds per draw (1: choices on a shared validation part).
STUDY_PROTOCOL = 2
TRANSFER_MODES = ("finetune", "probe", "knn")
BASELINES = ("random", "supervised", "eigenfaces")
ANALYSES = ("loss", "data", "head", "feature-change", "input", "seeds")


@dataclass
class StudyConfig:
    """A whole comparison: pretraining runs, baselines, transfer modes, label budgets, draws.

    Every pretraining task (the proxies in ``tasks`` and the supervised ceiling) reads the same
    ``pretrain.input`` and runs for the same ``pretrain_steps`` of ``pretrain.train.batch_size``
    pool images; random init reads that input too. ``budgets`` are images per class, or ``all``;
    budgets below all are drawn ``draws`` times for fine-tuning and ``frozen_draws`` times for the
    cheap modes (probe, k-NN, eigenfaces), seeds 0, 1, ...; every init sees the same draws.

    ``analyses`` add the paper's questions (see :mod:`proxytask.analyses`): ``loss`` (hue/chroma KL
    vs Lab bins vs L2), ``data`` (colorization on ``pool_fractions`` of the pool, same steps),
    ``head`` (hypercolumn vs last layer only), ``feature-change`` (how far fine-tuning moves each
    backbone stage), ``input`` (the RGB form of every task that has one, beside random init on
    RGB) and ``seeds`` (colorization and supervised pretraining repeated with another seed).
    Their extra pretraining runs are transferred at ``analysis_budgets`` only.
    """

    protocol: int = STUDY_PROTOCOL
    preset: str = "quick"
    tasks: tuple[str, ...] = ("colorization",)
    baselines: tuple[str, ...] = BASELINES
    modes: tuple[str, ...] = TRANSFER_MODES
    budgets: tuple[str, ...] = ("5", "10", "25", "all")
    draws: int = 5
    frozen_draws: int = 20
    pretrain_steps: int = 900
    analyses: tuple[str, ...] = ()
    analysis_budgets: tuple[str, ...] = ("10",)
    pool_fractions: tuple[float, ...] = (0.1, 0.3)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def validate(self) -> None:
        if self.protocol != STUDY_PROTOCOL:
            raise ConfigError(f"protocol: this version of proxytask runs study protocol {STUDY_PROTOCOL}, not {self.protocol}")
        self.pretrain.validate()
        self.finetune.validate()
        for budget in self.budgets:
            if budget != "all" and not (budget.isdigit() and int(budget) >= 1):
                raise ConfigError(f"budgets: each must be a whole number >= 1 or 'all', got {budget!r}")
        for mode in self.modes:
            if mode not in TRANSFER_MODES:
                raise ConfigError(f"modes: {mode!r} is not one of {', '.join(TRANSFER_MODES)}")
        for baseline in self.baselines:
            if baseline not in BASELINES:
                raise ConfigError(f"baselines: {baseline!r} is not one of {', '.join(BASELINES)}")
        if self.draws < 1 or self.frozen_draws < 1 or self.pretrain_steps < 1:
            raise ConfigError("draws, frozen_draws and pretrain_steps must be >= 1")
        if "input" in self.analyses and self.pretrain.input != "intensity":
            raise ConfigError("analyses: 'input' compares RGB forms with the main table's intensity input, "
                              f"but pretrain.input={self.pretrain.input!r}")
        if not self.tasks:
            raise ConfigError("tasks: name at least one proxy task")
        for analysis in self.analyses:
            if analysis not in ANALYSES:
                raise ConfigError(f"analyses: {analysis!r} is not one of {', '.join(ANALYSES)}")
        for budget in self.analysis_budgets if self.analyses else ():
            if budget not in self.budgets:
                raise ConfigError(f"analysis_budgets: {budget!r} is not among budgets ({', '.join(self.budgets)})")
        if self.analyses and not self.analysis_budgets:
            raise ConfigError("analysis_budgets: name at least one budget for the analyses")
        for fraction in self.pool_fractions:
            if not 0.0 < fraction < 1.0:
                raise ConfigError(f"pool_fractions: each must be in (0, 1) (the whole pool is the main run), got {fraction}")

    def budget_values(self) -> list[int | None]:
        """Budgets as images per class, None for all."""
        return [None if b == "all" else int(b) for b in self.budgets]

    def draws_for(self, mode: str, k: int | None) -> int:
        """How many draws (seeds 0..n-1) budget ``k`` gets in ``mode``: one for all labels."""
        if k is None:
            return 1
        return self.draws if mode == "finetune" else self.frozen_draws


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Convert a YAML or command-line value to the annotated type, or raise ConfigError naming ``where``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None or value == "null" or value == "none":
            if type(None) in options:
                return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"{where}: cannot be {value!r}")
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.replace("(", "").replace(")", "").split(",") if v.strip()]
        elif isinstance(value, (int, float)):  # one item, as YAML reads "--set budgets=10"
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], where) for v in value)
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)} ({value!r})")
        return tuple(_coerce(v, a, where) for v, a in zip(value, args))
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping of settings, got {value!r}")
        return from_dict(annotation, value, where)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return value.lower() in ("true", "yes", "1", "on")
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if annotation in (int, float):
        try:
            number = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or (annotation is int and number != int(number)):
            kind = "a whole number" if annotation is int else "a number"
            raise ConfigError(f"{where}: expected {kind}, got {value!r}")
        return int(number) if annotation is int else number
    if annotation is str:
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"{where}: expected text, got {value!r}")
        return str(value)
    return value


def from_dict(cls: type[T], values: dict[str, Any], where: str = "") -> T:
    """Build dataclass ``cls`` from a (possibly partial) mapping; unknown keys are an error."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - names)
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(f"unknown setting {prefix}{unknown[0]}; known: {', '.join(sorted(names))}")
    kwargs = {}
    for name, value in values.items():
        path = f"{where}.{name}" if where else name
        kwargs[name] = _coerce(value, hints[name], path)
    return cls(**kwargs)


def to_dict(config: Any) -> dict[str, Any]:
    """Plain-data view of a config dataclass (tuples become lists), for YAML and JSON."""
    def plain(value: Any) -> Any:
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value
    return plain(dataclasses.asdict(config))


def changed_settings(before: Any, after: Any) -> list[tuple[str, Any, Any]]:
    """(dotted name, value before, value after) of every setting two configs of one type disagree on."""
    def flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in values.items():
            out.update(flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
        return out

    old, new = flat(to_dict(before)), flat(to_dict(after))
    return [(key, old.get(key), new.get(key)) for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]


def apply_overrides(config: T, overrides: list[str]) -> T:
    """Apply ``section.name=value`` strings (``--set``) to a config; returns a new validated config."""
    values = to_dict(config)
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"--set expects section.name=value, got {override!r}")
        key, raw = override.split("=", 1)
        node = values
        parts = key.strip().split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"--set {key}: {part!r} is not a section; sections: {', '.join(k for k, v in node.items() if isinstance(v, dict))}")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"--set {key}: unknown setting; known here: {', '.join(sorted(node))}")
        node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else raw
    result = from_dict(type(config), values)
    result.validate()  # type: ignore[attr-defined]
    return result


def _read_mapping(path: Path) -> dict[str, Any]:
    """The mapping of settings in YAML file ``path``, or a ConfigError naming the file and the problem."""
    try:
        values = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder; expected a YAML file of settings") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not a text file; expected a YAML file of settings") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    return values


def load_yaml(cls: type[T], path: Path) -> T:
    """Read a config of type ``cls`` from a YAML file (missing keys take their defaults)."""
    config = from_dict(cls, _read_mapping(path))
    config.validate()  # type: ignore[attr-defined]
    return config


def merge_yaml(config: T, path: Path) -> T:
    """``config`` with the settings of YAML file ``path`` on top (the file may name only some)."""
    def merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
        return {**base, **{k: merged(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
                           for k, v in update.items()}}

    result = from_dict(type(config), merged(to_dict(config), _read_mapping(path)))
    result.validate()  # type: ignore[attr-defined]
    return result


def save_yaml(config: Any, path: Path) -> None:
    """Write the resolved config as YAML (atomically)."""
    write_text_atomic(path, yaml.safe_dump(to_dict(config), sort_keys=False))
