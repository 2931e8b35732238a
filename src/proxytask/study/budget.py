"""How long each pretraining run of a study is: the same pool images for every task (``images``, the
default), or the training FLOPs the reference task's run spends (``flops``).

Per pool image and step, the tasks cost different FLOPs (rotation about 2.7 times colorization on
the standard preset): equal images are not equal compute. With ``flops``, a task's run gets
``pretrain_steps x reference FLOPs / its FLOPs`` steps (rounded, at least 1), the FLOPs of one
training step per image counted by torch's FlopCounterMode on a fresh model at the run's settings.
"""

from __future__ import annotations

import dataclasses

import torch

from proxytask.config import to_dict
from proxytask.flops import training_flops_per_image
from proxytask.runs import PretrainConfig
from proxytask.tasks import build_task, task_class

PRETRAIN_BUDGETS = ("images", "flops")
# The task whose run's FLOPs every run spends under the ``flops`` budget: the paper's proxy.
REFERENCE_TASK = "colorization"
# Images of the batch the FLOPs are counted on, and the identities a task that learns labels is built with
# (only its last layer depends on them).
COUNTED_IMAGES = 2


# FLOPs per image already counted in this process, by the settings as plain data (settings are not hashable).
_COUNTED: dict[str, float] = {}


def flops_per_image(settings: PretrainConfig) -> float:
    """FLOPs of one training step per pool image of the run ``settings`` describe (counted once per process)."""
    key = repr(to_dict(settings))
    if key not in _COUNTED:
        labeled = task_class(settings.task).trains_on_labels()
        with torch.random.fork_rng(devices=[]):  # building a model draws weights: the caller's random state is kept
            torch.manual_seed(0)
            task = build_task(settings, COUNTED_IMAGES if labeled else None)
            images = torch.rand(COUNTED_IMAGES, 3, settings.data.crop_size, settings.data.crop_size)
            _COUNTED[key] = training_flops_per_image(task, images, torch.arange(COUNTED_IMAGES) if labeled else None)
    return _COUNTED[key]


def run_steps(budget: str, pretrain_steps: int, settings: PretrainConfig, reference: PretrainConfig) -> int:
    """The steps of the run ``settings`` under ``budget``: ``pretrain_steps`` (``images``), or the steps
    that spend what ``pretrain_steps`` of the ``reference`` run spend (``flops``)."""
    if budget == "images" or settings == reference:
        return pretrain_steps
    return max(1, round(pretrain_steps * flops_per_image(reference) / flops_per_image(settings)))


def reference_settings(pretrain: PretrainConfig) -> PretrainConfig:
    """The reference run's settings: the study's pretraining settings with the reference task."""
    return dataclasses.replace(pretrain, task=REFERENCE_TASK)
