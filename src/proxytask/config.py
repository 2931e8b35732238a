"""Typed settings: the machinery (checked fields, YAML load/save, dotted overrides) and the shared sections.

One source of truth for each fact (face crop, split seed, bin count): the defaults of the settings
dataclasses, here for the sections every run shares (data, model, optimizer, training length, the
fine-tuning recipe) and in each task's module for its own (a :class:`TaskSettings` section). The
settings a command composes from them live with that command's layer: a pretraining run's
(:class:`proxytask.runs.PretrainConfig`) above the tasks, a study's
(:class:`proxytask.study.settings.StudyConfig`) in the study layer. This module imports nothing of
the project above it.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml

from proxytask.files import write_text_atomic

T = TypeVar("T")


class ConfigError(ValueError):
    """A setting has a wrong name, type or value; the message names the setting."""


def did_you_mean(given: str, known: Iterable[str]) -> str:
    """``"; did you mean NAME?"`` for the known name nearest to ``given`` (difflib's ratio, at least 0.6),
    or ``""`` when none is near."""
    close = difflib.get_close_matches(given, list(known), n=1)
    return f"; did you mean {close[0]}?" if close else ""


def looks_like_path(value: str) -> bool:
    """A value the user typed as a path (it has a folder separator or starts with ``~`` or ``.``),
    not as a name: a missing path is then reported as missing, not as an unknown name."""
    separators = [sep for sep in (os.sep, os.altsep, "/") if sep]
    return value.startswith(("~", ".")) or any(sep in value for sep in separators)


def unknown_name_error(kind: str, given: str, known: Iterable[str], otherwise: str = "", where: str = "") -> ConfigError:
    """The error for a name the user typed that is none of ``known``: it suggests the nearest known name
    and lists them all, e.g. ``unknown preset 'quik'; did you mean quick? (known: quick, standard, paper)``.

    Args:
        kind: what the name names (``preset``, ``task``, ``setting``...).
        otherwise: what else the value may be, added to the list (``an existing image folder``).
        where: the setting or option it was given as, put in front (``tasks``).
    """
    names = list(known)
    listed = (", ".join(names) or "none") + (f"; or {otherwise}" if otherwise else "")
    prefix = f"{where}: " if where else ""
    return ConfigError(f"{prefix}unknown {kind} {given!r}{did_you_mean(given, names)} (known: {listed})")


# What a backbone reads (proxytask.inputs.NetworkInput): intensity (mean of RGB) or RGB.
INPUT_KINDS = ("intensity", "rgb")
# The largest cached side: a cache row is image_size^2 * 3 bytes, so larger sides are almost surely a typo.
MAX_IMAGE_SIZE = 1024
# The largest whole number a setting may hold: settings pass through floats (YAML, the command line),
# which hold whole numbers exactly up to 2^53, and seeds plus offsets stay within torch's 64 bits.
MAX_WHOLE_NUMBER = 2**53
# The largest seed: generators are seeded with seed x 1,000,003 + step, which must stay within 64 bits.
MAX_SEED = 2**32 - 1
# The most decoding processes a setting may ask for (fewer run: at most one per usable core).
MAX_WORKERS = 256
# How pictures from a folder are cropped: the centered square, or the LFW face box.
FOLDER_CROPS = ("center", "face")


@dataclass(frozen=True)
class Check:
    """What one setting's value must be (each item, for a tuple): a number within bounds (an end is
    open when ``low_open``/``high_open``), a whole number, an odd number, or one of ``choices``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    odd: bool = False
    choices: tuple[Any, ...] = ()
    hint: str = ""

    def accepts(self, value: Any) -> bool:
        if self.choices:
            return value in self.choices
        if not (isinstance(value, (int, float)) and math.isfinite(value)):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below and (not self.odd or value % 2 == 1)

    def describe(self, whole: bool = False) -> str:
        """What the value must be, e.g. ``a whole number >= 1``; ``whole`` for a setting of whole numbers."""
        if self.choices:
            text = "one of " + ", ".join(map(str, self.choices))
        else:
            text = "an odd whole number" if self.odd else "a whole number" if whole else "a number"
            if self.low is not None and self.high is not None:
                text += f" in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
            elif self.low is not None:
                text += f" {'>' if self.low_open else '>='} {self.low:g}"
            elif self.high is not None:
                text += f" {'<' if self.high_open else '<='} {self.high:g}"
        return f"{text} {self.hint}" if self.hint else text


def setting(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING, **check: Any) -> Any:
    """A dataclass field whose value the generic walk (:meth:`Settings.validate`) checks against ``Check(**check)``."""
    return field(default=default, default_factory=default_factory, metadata={"check": Check(**check)})


# Dropout probabilities and fractions of a whole.
PROBABILITY = {"low": 0.0, "high": 1.0, "high_open": True}
POSITIVE = {"low": 0.0, "low_open": True}


class Settings:
    """A settings dataclass: :meth:`validate` walks its fields (each field's :class:`Check`, nested
    settings, task sections), then its own :meth:`rules` that tie several fields together."""

    def validate(self, where: str = "") -> None:
        """Raise a ConfigError naming the first setting (dotted, from ``where``) whose value is not allowed."""
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            path = f"{where}{item.name}"
            check: Check | None = item.metadata.get("check")
            for part in value if isinstance(value, tuple) else (value,):
                if isinstance(part, int) and not isinstance(part, bool) and abs(part) > MAX_WHOLE_NUMBER:
                    raise ConfigError(f"{path} must be a whole number of at most {MAX_WHOLE_NUMBER} (2^53) in size, got {part}")
            for part in (value if isinstance(value, tuple) else (value,)) if check else ():
                if part is not None and not check.accepts(part):
                    each = ": each" if isinstance(value, tuple) else ""
                    whole = str(item.type).startswith(("int", "tuple[int"))
                    hint = did_you_mean(part, map(str, check.choices)) if isinstance(part, str) else ""
                    raise ConfigError(f"{path}{each} must be {check.describe(whole)}, got {part!r}{hint}")
            if isinstance(value, Settings):
                value.validate(f"{path}.")
            elif item.metadata.get("sections"):
                for name, section in value.items():
                    section.validate(f"{where}{name}.")
        self.rules(where)

    def rules(self, where: str) -> None:
        """Checks that tie several settings together (none by default)."""


class TaskSettings(Settings):
    """A task's own settings: a section of a run's settings named :attr:`section` (``colorization:``
    in YAML, ``--set colorization.bins=16``), declared in the task's module."""

    section: ClassVar[str]


@dataclass
class DataConfig(Settings):
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
    folder_crop: str = setting("center", choices=FOLDER_CROPS)
    image_size: int = setting(64, low=8, high=MAX_IMAGE_SIZE)
    crop_size: int = setting(56, low=8)
    heldout_images: int = setting(64, low=1)
    workers: int = setting(2, low=1, high=MAX_WORKERS, hint="(processes decoding pictures; at most one per usable CPU core runs)")
    pool_fraction: float = setting(1.0, low=0.0, high=1.0, low_open=True)

    def rules(self, where: str) -> None:
        if not self.pool:
            raise ConfigError(f"{where}pool must name at least one source: lfw or an image folder")
        left, top, right, bottom = self.face_crop
        if not (0 <= left < right and 0 <= top < bottom):
            raise ConfigError(f"{where}face_crop must be (left, top, right, bottom) with left < right and top < bottom, got {self.face_crop}")
        if self.crop_size > self.image_size:
            raise ConfigError(f"{where}crop_size must be between 8 and {where}image_size ({self.image_size}), got {self.crop_size}")


@dataclass
class ModelConfig(Settings):
    """The backbone: any timm model name with ``features_only`` support, or ``vgg_small``."""

    backbone: str = "vgg_small"
    batchnorm: bool = True

    def rules(self, where: str) -> None:
        if not self.backbone:
            raise ConfigError(f"{where}backbone must name a backbone, e.g. vgg_small, vgg16_bn, resnet18, resnet50")


@dataclass
class OptimConfig(Settings):
    """Optimizer and learning-rate schedule (linear warm-up, then the schedule)."""

    optimizer: str = setting("adamw", choices=("sgd", "adamw"))
    lr: float = setting(1e-3, **POSITIVE)
    momentum: float = setting(0.9, low=0.0)
    weight_decay: float = setting(1e-4, low=0.0)
    schedule: str = setting("cosine", choices=("cosine", "step", "constant"))
    warmup_steps: int = setting(100, low=0)
    step_milestones: tuple[float, ...] = setting((0.5, 0.75, 0.875), low=0.0, high=1.0)


@dataclass
class TrainConfig(Settings):
    """Length and bookkeeping of a training run. ``batch_size`` is the global batch over all ranks.
    ``bf16`` (autocast) and ``channels_last`` apply where the device runs bf16 natively: CUDA GPUs,
    CPUs with AVX512-BF16 or AMX (:mod:`proxytask.precision`); ``compile`` runs the task through ``torch.compile``
    (falling back to eager execution where compiling fails). ``monitor_every``: steps between the
    transfer monitor's scores on the development task (0: no monitor; also at the first and last step)."""

    batch_size: int = setting(32, low=1)
    epochs: float = setting(2.0, low=0.0)
    max_steps: int | None = setting(None, low=1)
    seed: int = setting(0, low=0, high=MAX_SEED)
    log_every: int = setting(10, low=1)
    checkpoint_every: int = setting(200, low=1)
    monitor_every: int = setting(0, low=0)
    bf16: bool = True
    channels_last: bool = True
    compile: bool = False

    def rules(self, where: str) -> None:
        if self.epochs <= 0 and self.max_steps is None:
            raise ConfigError(f"{where}epochs must be a positive number (or set {where}max_steps), got {self.epochs}")


@dataclass
class FinetuneConfig(Settings):
    """The fine-tuning recipe, the same for every initialisation compared.

    Steps: ``epochs`` passes over the budget's training images, clamped to [min_steps, max_steps].
    The head learns at ``lr``, the backbone at ``lr * backbone_lr_factor``. Below all labels the
    recipe is fixed (the last step is kept: no label outside the budget chooses anything); with all
    labels the step kept is the one with the best macro-F1 on the validation part of the train
    split (checked every ``eval_every`` steps). The seed of draw d is ``seed + d``. ``bf16``
    (autocast) and ``channels_last`` apply to fine-tuning and frozen features where the device runs
    bf16 natively, as in pretraining (:class:`TrainConfig`).
    """

    epochs: float = setting(30.0, **POSITIVE)
    min_steps: int = setting(100, low=1)
    max_steps: int = setting(300, low=1)
    batch_size: int = setting(32, low=1)
    lr: float = setting(6e-3, **POSITIVE)
    backbone_lr_factor: float = setting(0.5, low=0.0, high=1.0, low_open=True)
    weight_decay: float = setting(1e-4, low=0.0)
    warmup_steps: int = setting(10, low=0)
    eval_every: int = setting(20, low=1)
    seed: int = setting(0, low=0, high=MAX_SEED)
    bf16: bool = True
    channels_last: bool = True

    def rules(self, where: str) -> None:
        if self.min_steps > self.max_steps:
            raise ConfigError(f"{where}min_steps ({self.min_steps}) must be <= {where}max_steps ({self.max_steps})")

    def optimizer_settings(self) -> OptimConfig:
        """The recipe's optimizer and schedule: AdamW at ``lr`` (the backbone's parameter group scaled by
        ``backbone_lr_factor``), linear warm-up over ``warmup_steps``, then cosine."""
        return OptimConfig(optimizer="adamw", lr=self.lr, weight_decay=self.weight_decay, schedule="cosine",
                           warmup_steps=self.warmup_steps)


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
        if number is None or (annotation is int and not (math.isfinite(number) and number == int(number))):
            kind = "a whole number" if annotation is int else "a number"
            raise ConfigError(f"{where}: expected {kind}, got {value!r}")
        return int(number) if annotation is int else number
    if annotation is str:
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"{where}: expected text, got {value!r}")
        return str(value)
    return value


def from_dict(cls: type[T], values: dict[str, Any], where: str = "") -> T:
    """Build dataclass ``cls`` from a (possibly partial) mapping; unknown keys are an error. A field
    marked ``sections`` gathers the keys that name one of its sections (task settings)."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    grouped = {name: f.metadata["sections"]() for name, f in fields.items() if "sections" in f.metadata}
    known = set(fields) - set(grouped) | {section for sections in grouped.values() for section in sections}
    unknown = sorted(set(values) - known)
    if unknown:
        sections = [where] if where else []
        raise unknown_name_error("setting", ".".join([*sections, unknown[0]]), _dotted(sections, sorted(known)))
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        path = f"{where}.{name}" if where else name
        owner = next((group for group, sections in grouped.items() if name in sections), None)
        if owner is None:
            kwargs[name] = _coerce(value, hints[name], path)
        else:
            kwargs.setdefault(owner, fields[owner].default_factory())
            kwargs[owner][name] = _coerce(value, grouped[owner][name], path)
    return cls(**kwargs)


def to_dict(config: Any) -> dict[str, Any]:
    """Plain-data view of a config dataclass (tuples become lists, task sections sit beside the other
    settings), for YAML and JSON."""
    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            out: dict[str, Any] = {}
            for item in dataclasses.fields(value):
                converted = plain(getattr(value, item.name))
                if "sections" in item.metadata:
                    out.update(converted)
                else:
                    out[item.name] = converted
            return out
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value
    return plain(config)


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
        parts = key.strip().split(".")
        try:
            value = read_settings_yaml(raw) if raw.strip() else raw
        except yaml.YAMLError as error:
            raise ConfigError(f"--set {key.strip()}: the value is not valid YAML: {' '.join(str(error).split())}") from None
        _section_of(values, parts)[parts[-1]] = value
    result = from_dict(type(config), values)
    result.validate()  # type: ignore[attr-defined]
    return result


def _section_of(values: dict[str, Any], parts: list[str]) -> dict[str, Any]:
    """The mapping in ``values`` that holds the dotted setting ``parts``, or a ConfigError suggesting the
    nearest known section or setting."""
    node = values
    for depth, part in enumerate(parts[:-1]):
        if part not in node:
            sections = [name for name, value in node.items() if isinstance(value, dict)]
            raise unknown_name_error("section", ".".join(parts[:depth + 1]), _dotted(parts[:depth], sections), where="--set")
        if not isinstance(node[part], dict):
            raise ConfigError(f"--set: {'.'.join(parts[:depth + 1])} is a setting, not a section")
        node = node[part]
    if parts[-1] not in node:
        raise unknown_name_error("setting", ".".join(parts), _dotted(parts[:-1], sorted(node)), where="--set")
    return node


def _dotted(sections: list[str], names: Iterable[str]) -> list[str]:
    """``names`` as dotted settings inside ``sections`` (``["train"]``, ``batch_size`` -> ``train.batch_size``)."""
    return [".".join([*sections, name]) for name in names]


class SettingsLoader(yaml.SafeLoader):
    """YAML for settings: safe types only, no aliases (``*name``, which can make a small file expand
    without bound), and no key given twice in a mapping (YAML would keep the last silently)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(None, None, "aliases (*name) are not allowed in settings; write the "
                                                    "value out", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise yaml.constructor.ConstructorError(None, None, f"a setting's name must be text, got {key!r}", key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"setting {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_settings_yaml(text: str) -> Any:
    """The value of a YAML text of settings (:class:`SettingsLoader`); a yaml.YAMLError if it is not one."""
    return yaml.load(text, Loader=SettingsLoader)  # noqa: S506 (a SafeLoader)


def _read_mapping(path: Path) -> dict[str, Any]:
    """The mapping of settings in YAML file ``path``, or a ConfigError naming the file and the problem."""
    try:
        values = read_settings_yaml(Path(path).read_text()) or {}
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
