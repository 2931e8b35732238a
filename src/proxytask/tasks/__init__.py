"""Proxy tasks, one module each; ``TASKS`` maps the ``--task`` name to its class."""

from __future__ import annotations

from proxytask.config import ConfigError, PretrainConfig
from proxytask.models.backbones import Backbone
from proxytask.tasks.base import ProxyTask
from proxytask.tasks.colorization import Colorization

TASKS: dict[str, type[ProxyTask]] = {Colorization.name: Colorization}


def build_task(config: PretrainConfig) -> ProxyTask:
    """The task ``config.task`` with a fresh backbone ``config.model.backbone``."""
    if config.task not in TASKS:
        raise ConfigError(f"unknown task {config.task!r}; available: {', '.join(sorted(TASKS))}")
    task_class = TASKS[config.task]
    backbone = Backbone(config.model.backbone, task_class.input_channels, config.model.batchnorm)
    return task_class(backbone, getattr(config, config.task))
