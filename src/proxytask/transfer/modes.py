"""The transfer modes, one registry like the task registry: how one job turns an initialisation and
a label split into a result record.

Every mode runs as ``mode.run(init, data, split, config, device, features)`` and returns (result
record fields, the trained classifier or None). ``features()`` gives the frozen features the cheap
modes read, (N, D) for every downstream image, computed once per init and shared by its jobs.
A ``baseline`` mode reads no backbone: its ``features()`` are its own (eigenfaces). The runners
are imported when a job runs, so the registry is cheap to read (settings checks, ``--help``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Features = Callable[[], Any]
FINETUNE, PROBE, KNN = "finetune", "probe", "knn"
# The eigenfaces baseline's mode (jobs/svm/eigenfaces/...).
EIGENFACES_MODE = "svm"


@dataclass(frozen=True)
class TransferMode:
    """``name``: its job folder, ``--set modes`` name and subcommand; ``stage``: its row of the time
    table; ``help``: its one-line description; ``line_style``: its curves in the report's figures;
    ``trains_network``: it fine-tunes the backbone (drawn ``study.draws`` times, the others
    ``study.frozen_draws`` times); ``baseline``: it reads no pretrained backbone."""

    name: str
    stage: str
    help: str
    line_style: str
    trains_network: bool
    baseline: bool
    run: Callable[..., tuple[dict[str, Any], Any]]


def _finetune(init, data, split, config, device, features):
    from proxytask.transfer.finetune import finetune_model

    model, result = finetune_model(init, data.pixels, data.labels, split, data.images.class_names, config.pretrain.data.crop_size,
                                   config.finetune, device)
    return result, model


def _probe(init, data, split, config, device, features):
    from proxytask.transfer.probe import linear_probe

    return linear_probe(features(), data.labels, split, data.images.class_names), None


def _knn(init, data, split, config, device, features):
    from proxytask.transfer.probe import knn

    return knn(features(), data.labels, split, data.images.class_names), None


def _eigenfaces(init, data, split, config, device, features):
    from proxytask.transfer.baselines import eigenfaces_svm

    return eigenfaces_svm(features(), data.labels, split, data.images.class_names), None


MODES: dict[str, TransferMode] = {mode.name: mode for mode in (
    TransferMode(FINETUNE, "fine-tuning", "fine-tune an initialisation on the downstream task", "-",
                 trains_network=True, baseline=False, run=_finetune),
    TransferMode(PROBE, "linear probe", "linear probe (logistic regression) on frozen features", "--",
                 trains_network=False, baseline=False, run=_probe),
    TransferMode(KNN, "k-NN", "k-nearest-neighbour classification on frozen features", ":",
                 trains_network=False, baseline=False, run=_knn),
    TransferMode(EIGENFACES_MODE, "eigenfaces + SVM", "eigenfaces (PCA) and an RBF SVM on gray pixels", "-.",
                 trains_network=False, baseline=True, run=_eigenfaces),
)}


def backbone_modes() -> tuple[str, ...]:
    """The modes a study may run on its pretrained and random inits (``study.modes``, and the subcommands)."""
    return tuple(name for name, mode in MODES.items() if not mode.baseline)
