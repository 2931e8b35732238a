"""Proxy tasks, one module each (the contract: :mod:`proxytask.tasks.base`). Every module of this
package is imported here, and each task registers itself (:func:`proxytask.tasks.registry.register_task`),
so adding a task is adding its module."""

from __future__ import annotations

import importlib
import pkgutil

from proxytask.inputs import NetworkInput
from proxytask.models.backbones import Backbone
from proxytask.tasks.base import ProxyTask, RunSettings
from proxytask.tasks.registry import TASKS, task_class, task_sections

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["TASKS", "build_task", "task_class", "task_input", "task_sections"]


def task_input(config: RunSettings) -> NetworkInput:
    """The network input of ``config.task`` on ``config.input``, or a ConfigError if the task cannot
    read it or cannot train with ``config`` (:meth:`ProxyTask.check_config`)."""
    chosen = task_class(config.task)
    network_input = chosen.input_for(config.input)
    chosen.check_config(config)
    return network_input


def build_task(config: RunSettings, num_classes: int | None = None) -> ProxyTask:
    """The task ``config.task`` with a fresh backbone ``config.model.backbone`` reading ``config.input``.

    ``num_classes`` is the number of identities, for tasks that train on labels.
    """
    network_input = task_input(config)
    backbone = Backbone(config.model.backbone, network_input.channels, config.model.batchnorm)
    return task_class(config.task).create(backbone, config, num_classes)
