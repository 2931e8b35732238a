"""Proxy tasks, one module each (the contract: :mod:`proxytask.tasks.base`); ``TASKS`` maps the
``--task`` name to its class, and registers each task's settings sections."""

from __future__ import annotations

from proxytask.config import ConfigError, PretrainConfig, register_sections
from proxytask.inputs import NetworkInput
from proxytask.models.backbones import Backbone
from proxytask.tasks.base import ProxyTask
from proxytask.tasks.colorization import Colorization
from proxytask.tasks.colorization_lab import LabBinsColorization, LabRegressionColorization
from proxytask.tasks.contrastive import Contrastive
from proxytask.tasks.denoising import Denoising
from proxytask.tasks.inpainting import Inpainting
from proxytask.tasks.jigsaw import Jigsaw
from proxytask.tasks.masked_autoencoding import MaskedAutoencoding
from proxytask.tasks.rotation import Rotation
from proxytask.tasks.supervised import Supervised

TASKS: dict[str, type[ProxyTask]] = {
    task.name: task for task in (Colorization, LabBinsColorization, LabRegressionColorization, Denoising, Inpainting,
                                 Jigsaw, Rotation, Supervised, Contrastive, MaskedAutoencoding)
}
for _task in TASKS.values():
    register_sections(_task.settings)


def task_class(name: str) -> type[ProxyTask]:
    """The class of task ``name``, or a ConfigError listing the available ones."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; available: {', '.join(sorted(TASKS))}")
    return TASKS[name]


def task_input(config: PretrainConfig) -> NetworkInput:
    """The network input of ``config.task`` on ``config.input``, or a ConfigError if the task cannot
    read it or cannot train with ``config`` (:meth:`ProxyTask.check_config`)."""
    chosen = task_class(config.task)
    network_input = chosen.input_for(config.input)
    chosen.check_config(config)
    return network_input


def build_task(config: PretrainConfig, num_classes: int | None = None) -> ProxyTask:
    """The task ``config.task`` with a fresh backbone ``config.model.backbone`` reading ``config.input``.

    ``num_classes`` is the number of identities, for tasks that train on labels.
    """
    chosen = task_class(config.task)
    network_input = task_input(config)
    backbone = Backbone(config.model.backbone, network_input.channels, config.model.batchnorm)
    sections = [getattr(config, section) for section in chosen.settings]
    if chosen.needs_labels:
        if num_classes is None:
            raise ValueError(f"task {config.task!r} needs the number of classes")
        return chosen(backbone, config.input, *sections, num_classes)
    return chosen(backbone, config.input, *sections)
