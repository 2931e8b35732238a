"""The task registry, a leaf like timm's model registry: a task module registers its class with
:func:`register_task`; the ``--task`` name, the settings sections and everything the contract
tests check are read from here."""

from __future__ import annotations

from typing import TypeVar

from proxytask.config import ConfigError, Settings
from proxytask.tasks.base import ProxyTask

TASKS: dict[str, type[ProxyTask]] = {}
T = TypeVar("T", bound=type[ProxyTask])


def register_task(task: T) -> T:
    """Class decorator: add ``task`` under its ``name``; one name is one class, one section name one settings class."""
    if task.name in TASKS:
        raise ValueError(f"task name {task.name!r} is registered twice, by {TASKS[task.name].__name__} and {task.__name__}")
    known = task_sections()
    for name, section in task.sections().items():
        if known.get(name, section) is not section:
            raise ValueError(f"settings section {name!r} is declared twice, by {known[name].__name__} and {section.__name__}")
    TASKS[task.name] = task
    return task


def task_class(name: str) -> type[ProxyTask]:
    """The class of task ``name``, or a ConfigError listing the available ones."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; available: {', '.join(sorted(TASKS))}")
    return TASKS[name]


def task_sections() -> dict[str, type[Settings]]:
    """Every registered task's settings sections, by section name."""
    return {name: section for task in TASKS.values() for name, section in task.sections().items()}
