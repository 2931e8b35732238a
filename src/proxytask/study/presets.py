"""Study presets: named sets of overrides on StudyConfig's defaults.

- ``quick``: to try it out on 2 CPU cores (32 px inputs, short pretraining, 2 pretraining seeds,
  budgets 5 and 10, 3 fine-tuning draws, 10 for the cheap modes). All labels (one draw, so no
  interval) is left to the standard preset: two seeds double the work, and it was a quarter of it.
- ``standard``: the CPU benchmark (64 px inputs, 3 pretraining seeds, 3 fine-tuning draws, 20 for
  the cheap modes).
- ``paper``: VGG-16 with batch norm at 176 px crops of 224 px faces, long pretraining; for a GPU.
"""

from __future__ import annotations

import torch

from proxytask.config import apply_overrides, unknown_name_error
from proxytask.study.settings import StudyConfig

# Fine-tuning recipes fixed on the development task lfw-dev-7 by `proxytask tune --preset NAME`
# (random init, never a label of the test task; docs/recipe.md holds the runs).
TUNED_RECIPES: dict[str, dict[str, float | int]] = {
    "quick": {"lr": 0.012, "epochs": 160.0, "min_steps": 320, "max_steps": 960},
    "standard": {"lr": 0.003, "epochs": 120.0, "min_steps": 400, "max_steps": 1200},
}


def _recipe(preset: str) -> list[str]:
    return [f"finetune.{name}={value}" for name, value in TUNED_RECIPES.get(preset, {}).items()]


PRESETS: dict[str, list[str]] = {
    "quick": [
        "pretrain.data.image_size=32", "pretrain.data.crop_size=28", "pretrain.data.heldout_images=16",
        "pretrain.colorization.border=3", "pretrain.optim.warmup_steps=20", "pretrain_steps=900",
        "pretrain.train.checkpoint_every=100",
        *_recipe("quick"), "finetune.eval_every=40", "pretrain_seeds=2", "draws=3", "frozen_draws=10",
        "budgets=5,10",
    ],
    "standard": [*_recipe("standard")],
    "paper": [
        "pretrain.model.backbone=vgg16_bn", "pretrain.data.image_size=224", "pretrain.data.crop_size=176",
        "pretrain.data.workers=8", "pretrain.train.batch_size=64", "pretrain.optim.warmup_steps=1000",
        "pretrain_steps=30000", "finetune.batch_size=64", "finetune.epochs=30", "finetune.min_steps=100",
        "finetune.max_steps=2000", "finetune.eval_every=50",
    ],
}


def recipe_origin(config: StudyConfig) -> str:
    """Where the study's fine-tuning recipe comes from: its preset's tuned recipe, or set by hand."""
    tuned = TUNED_RECIPES.get(config.preset)
    if tuned and all(getattr(config.finetune, name) == value for name, value in tuned.items()):
        return (f"fixed beforehand on the development task lfw-dev-7 by `proxytask tune --preset {config.preset}` "
                "(docs/recipe.md)")
    return "set by hand, not fixed on the development task (`proxytask tune` fixes one there)"


def default_preset() -> str:
    """``standard`` where a CUDA GPU is present, else ``quick``."""
    return "standard" if torch.cuda.is_available() else "quick"


def study_config(preset: str | None, overrides: list[str]) -> StudyConfig:
    """The preset's settings (default: :func:`default_preset`) with ``overrides`` applied on top."""
    name = preset or default_preset()
    if name not in PRESETS:
        raise unknown_name_error("preset", name, PRESETS, where="--preset")
    return check_preset(apply_overrides(StudyConfig(), [f"preset={name}", *PRESETS[name], *overrides]))


def check_preset(config: StudyConfig) -> StudyConfig:
    """``config`` if its ``preset`` names a preset (a study is labelled with it), else a ConfigError."""
    if config.preset not in PRESETS:
        raise unknown_name_error("preset", config.preset, PRESETS, where="preset")
    return config
