"""How each transfer mode runs: one :class:`ModeRunner` per mode of :data:`proxytask.transfer.modes.MODES`.

Every mode runs as ``RUNNERS[name].run(init, split, context, features)`` and returns (its typed
result, the trained classifier or None). ``features()`` gives the frozen features a mode reads,
(N, D) for every downstream image, computed once per init and shared by its jobs. A mode says in
words how its choices are made (``describe``), for the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from proxytask.config import FinetuneConfig
from proxytask.data.downstream import DownstreamData
from proxytask.data.splits import VALIDATION_FRACTION, Split
from proxytask.transfer.baselines import SEARCH_DRAWS, eigenfaces_svm
from proxytask.transfer.classifier import Classifier
from proxytask.transfer.finetune import finetune_model
from proxytask.transfer.inits import Init
from proxytask.transfer.metrics import CV_FOLDS, ModeResult
from proxytask.transfer.modes import EIGENFACES_MODE, FINETUNE, KNN, PROBE
from proxytask.transfer.probe import knn, linear_probe

Features = Callable[[], np.ndarray]
CROSS_VALIDATED = f"stratified cross-validation (up to {CV_FOLDS} folds, macro-F1) inside the budget's labels"


@dataclass(frozen=True)
class TransferContext:
    """What every job of a study reads beside its init and split: the task's pictures, the fine-tuning
    recipe, the crop side the networks see, and the device."""

    data: DownstreamData
    recipe: FinetuneConfig
    crop_size: int
    device: torch.device


Runner = Callable[[Init, Split, TransferContext, Features], tuple[ModeResult, Classifier | None]]
Describer = Callable[[FinetuneConfig, str], str]


@dataclass(frozen=True)
class ModeRunner:
    """A mode's ``run``, and ``describe``: how its choices are made, from the recipe and where the recipe comes from."""

    run: Runner
    describe: Describer


def _finetune(init: Init, split: Split, context: TransferContext, features: Features) -> tuple[ModeResult, Classifier | None]:
    data = context.data  # an init without a backbone refuses it (Init.backbone)
    model, result = finetune_model(init, data.pixels, data.labels, split, data.images.class_names, context.crop_size,
                                   context.recipe, context.device)
    return result, model


def _describe_finetune(recipe: FinetuneConfig, origin: str) -> str:
    return (f"below all labels a fixed recipe for every init (AdamW, head lr {recipe.lr:g}, backbone lr "
            f"{recipe.lr * recipe.backbone_lr_factor:g}, cosine, {recipe.epochs:g} epochs of the budget's images "
            f"clamped to {recipe.min_steps}..{recipe.max_steps} steps, the last step kept: no label outside the "
            f"budget is read), {origin}; with all labels the step kept is chosen on a "
            f"{VALIDATION_FRACTION:.0%} validation part of the train split")


def _frozen(fit: Callable[[np.ndarray, np.ndarray, Split, list[str]], ModeResult]) -> Runner:
    """A mode that fits ``fit`` on an init's frozen features."""
    def run(init: Init, split: Split, context: TransferContext, features: Features) -> tuple[ModeResult, Classifier | None]:
        return fit(features(), context.data.labels, split, context.data.images.class_names), None

    return run


RUNNERS: dict[str, ModeRunner] = {
    FINETUNE: ModeRunner(_finetune, _describe_finetune),
    PROBE: ModeRunner(_frozen(linear_probe), lambda recipe, origin: f"C of the logistic regression by {CROSS_VALIDATED}"),
    KNN: ModeRunner(_frozen(knn), lambda recipe, origin: f"k of k-NN by {CROSS_VALIDATED}"),
    EIGENFACES_MODE: ModeRunner(_frozen(eigenfaces_svm), lambda recipe, origin: (
        f"C and gamma of the eigenfaces SVM ({SEARCH_DRAWS} log-uniform draws) by {CROSS_VALIDATED}")),
}
