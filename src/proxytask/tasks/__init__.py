"""Proxy tasks, one module each; ``TASKS`` maps the ``--task`` name to its class."""

from __future__ import annotations

from proxytask.config import ConfigError, PretrainConfig
from proxytask.models.backbones import Backbone
from proxytask.tasks.base import ProxyTask
from proxytask.tasks.colorization import Colorization
from proxytask.tasks.supervised import Supervised

TASKS: dict[str, type[ProxyTask]] = {task.name: task for task in (Colorization, Supervised)}


def task_class(name: str) -> type[ProxyTask]:
    """The class of task ``name``, or a ConfigError listing the available ones."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; available: {', '.join(sorted(TASKS))}")
    return TASKS[name]


def build_task(config: PretrainConfig, num_classes: int | None = None) -> ProxyTask:
    """The task ``config.task`` with a fresh backbone ``config.model.backbone``.

    ``num_classes`` is the number of identities, for tasks that train on labels.
    """
    chosen = task_class(config.task)
    backbone = Backbone(config.model.backbone, chosen.input_channels, config.model.batchnorm)
    if chosen.needs_labels:
        if num_classes is None:
            raise ValueError(f"task {config.task!r} needs the number of classes")
        return chosen(backbone, getattr(config, config.task), num_classes)
    return chosen(backbone, getattr(config, config.task))
