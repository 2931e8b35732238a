"""The transfer modes, one registry like the task registry: how one job turns an initialisation and
a label split into a result record.

Every mode runs as ``mode.run(init, data, split, config, device, features)`` and returns (result
record fields, the trained classifier or None). ``features()`` gives the frozen features the cheap
modes read, (N, D) for every downstream image, computed once per init and shared by its jobs.
``baseline`` modes read no backbone: their ``features()`` are their own (eigenfaces).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from proxytask.data.splits import Split
from proxytask.transfer.baselines import eigenfaces_svm
from proxytask.transfer.finetune import finetune_model
from proxytask.transfer.inits import Init
from proxytask.transfer.probe import knn, linear_probe

Features = Callable[[], np.ndarray]
# The eigenfaces baseline's mode (jobs/svm/eigenfaces/...).
EIGENFACES_MODE = "svm"


@dataclass(frozen=True)
class TransferMode:
    """``name``: its job folder and ``--set modes`` name; ``stage``: its row of the time table;
    ``trains_network``: it fine-tunes the backbone (drawn ``study.draws`` times, the cheap modes
    ``study.frozen_draws`` times); ``baseline``: it reads no pretrained backbone."""

    name: str
    stage: str
    trains_network: bool
    baseline: bool
    run: Callable[[Init | None, Any, Split, Any, torch.device, Features], tuple[dict[str, Any], Any]]


def _finetune(init, data, split, config, device, features):
    model, result = finetune_model(init, data.pixels, data.labels, split, data.images.class_names, config.pretrain.data.crop_size,
                                   config.finetune, device)
    return result, model


def _probe(init, data, split, config, device, features):
    return linear_probe(features(), data.labels, split, data.images.class_names), None


def _knn(init, data, split, config, device, features):
    return knn(features(), data.labels, split, data.images.class_names), None


def _eigenfaces(init, data, split, config, device, features):
    return eigenfaces_svm(features(), data.labels, split, data.images.class_names), None


MODES: dict[str, TransferMode] = {mode.name: mode for mode in (
    TransferMode("finetune", "fine-tuning", trains_network=True, baseline=False, run=_finetune),
    TransferMode("probe", "linear probe", trains_network=False, baseline=False, run=_probe),
    TransferMode("knn", "k-NN", trains_network=False, baseline=False, run=_knn),
    TransferMode(EIGENFACES_MODE, "eigenfaces + SVM", trains_network=False, baseline=True, run=_eigenfaces),
)}


def backbone_modes() -> tuple[str, ...]:
    """The modes a study may run on its pretrained and random inits (``study.modes``)."""
    return tuple(name for name, mode in MODES.items() if not mode.baseline)
