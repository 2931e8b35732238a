"""A transfer monitor for pretraining: the development task's frozen features, scored by k-NN and the
linear probe at a fixed budget over a few draws, every ``train.monitor_every`` steps of a run.

It reads the development task (``lfw-dev-7``, or a labeled folder the user names), never the study's
test task, so a run's length can be chosen on it. It reads no randomness and restores the network's
mode, so a run trains to the same weights with the monitor on or off.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from proxytask.config import ConfigError
from proxytask.data.downstream import DownstreamData, load_downstream
from proxytask.data.lfw import DEV_TASK
from proxytask.data.selection import is_lfw_spec
from proxytask.data.splits import budget_split
from proxytask.inputs import NetworkInput
from proxytask.models.backbones import Backbone
from proxytask.precision import Precision, default_device
from proxytask.runs import PretrainConfig
from proxytask.transfer.features import extract_features
from proxytask.transfer.probe import knn, linear_probe

MONITOR_BUDGET = 10
MONITOR_DRAWS = 3


@dataclass(frozen=True)
class TransferMonitor:
    """Scores a backbone's frozen features on ``data`` (the development task) at ``budget`` labels per
    class over ``draws`` draws; features are centre crops of ``crop`` pixels."""

    data: DownstreamData
    crop: int
    device: torch.device
    precision: Precision
    budget: int = MONITOR_BUDGET
    draws: int = MONITOR_DRAWS

    def __call__(self, backbone: Backbone, network_input: NetworkInput) -> dict[str, float]:
        """``monitor_knn`` and ``monitor_probe`` (mean test accuracy over the draws) and their standard deviations."""
        training = backbone.training
        try:
            features = extract_features(backbone, network_input, self.data.pixels, self.crop, self.device, self.precision)
        finally:
            backbone.train(training)
        names = self.data.images.class_names
        scores: dict[str, list[float]] = {"knn": [], "probe": []}
        for draw in range(self.draws):
            split = budget_split(self.data.images, self.budget, draw)
            scores["knn"].append(knn(features, self.data.labels, split, names).scores.accuracy)
            scores["probe"].append(linear_probe(features, self.data.labels, split, names).scores.accuracy)
        found = {}
        for mode, values in scores.items():
            found[f"monitor_{mode}"] = float(np.mean(values))
            found[f"monitor_{mode}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        return found


def _same_task(first: str, second: str) -> bool:
    """Two downstream specs name the same task: the same LFW spec, or one folder however written."""
    if is_lfw_spec(first) or is_lfw_spec(second):
        return first == second
    return Path(first).expanduser().resolve() == Path(second).expanduser().resolve()


def run_monitor(config: PretrainConfig, downstream: str | None = None) -> TransferMonitor:
    """The monitor of a pretraining run: the development task ``downstream`` (``lfw-dev-7`` by default,
    or a labeled folder) cached at the run's picture size, computed as the run computes."""
    task = downstream or DEV_TASK
    if _same_task(task, config.data.downstream):
        raise ConfigError(f"the transfer monitor scores a development task, never the test task ({task}); name another "
                          "(--monitor lfw-dev-7, or a labeled folder of your own; a study's monitor_task)")
    device = default_device()
    development = load_downstream(dataclasses.replace(config.data, downstream=task))
    return TransferMonitor(development, config.data.crop_size, device,
                           Precision.choose(device, config.train.bf16, config.train.channels_last))
