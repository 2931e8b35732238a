"""The transfer modes, one registry of what each mode is: its name (job folder, ``--set modes``
name and subcommand), its stage in the time table, its help, its line style in the figures, whether
it trains the network and whether a study runs it on every backbone. Light on purpose (settings
checks, ``--help`` and the report read it); how each mode runs is :mod:`proxytask.transfer.runners`.
"""

from __future__ import annotations

from dataclasses import dataclass

FINETUNE, PROBE, KNN = "finetune", "probe", "knn"
# The eigenfaces baseline's mode (jobs/svm/eigenfaces/...).
EIGENFACES_MODE = "svm"


@dataclass(frozen=True)
class TransferMode:
    """``name``: its job folder, ``--set modes`` name and subcommand; ``stage``: its row of the time
    table; ``help``: its one-line description; ``line_style``: its curves in the report's figures;
    ``trains_network``: it fine-tunes the backbone (drawn ``study.draws`` times, the others
    ``study.frozen_draws`` times); ``on_backbones``: a study runs it on every init with a backbone
    (``study.modes`` chooses among these)."""

    name: str
    stage: str
    help: str
    line_style: str
    trains_network: bool
    on_backbones: bool


MODES: dict[str, TransferMode] = {mode.name: mode for mode in (
    TransferMode(FINETUNE, "fine-tuning", "fine-tune an initialisation on the downstream task", "-", trains_network=True, on_backbones=True),
    TransferMode(PROBE, "linear probe", "linear probe (logistic regression) on frozen features", "--", trains_network=False, on_backbones=True),
    TransferMode(KNN, "k-NN", "k-nearest-neighbour classification on frozen features", ":", trains_network=False, on_backbones=True),
    TransferMode(EIGENFACES_MODE, "eigenfaces + SVM", "eigenfaces (PCA) and an RBF SVM on gray pixels", "-.",
                 trains_network=False, on_backbones=False),
)}


def backbone_modes() -> tuple[str, ...]:
    """The modes a study may run on its pretrained and random inits (``study.modes``, and the subcommands)."""
    return tuple(name for name, mode in MODES.items() if mode.on_backbones)
