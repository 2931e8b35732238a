"""Variants and variant sets, as data: what the study's plan makes and the report reads.

A :class:`Variant` is a task and the settings that differ from a study's pretraining settings; its
name says both (``denoising+mask_fraction=0.6``). A variant ``at`` a fraction of its run is the
weights that run kept there (``colorization@1of3``), not a run of its own. A :class:`VariantSet`
is one question: its members (variants, each at some pretraining seeds) are compared with random
init on the same input and, paired, with each other. The study layer (:mod:`proxytask.study.analyses`) builds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxytask.config import ConfigError

ALL_PAIRS, NO_PAIRS = "all", "none"


def value_text(value: Any) -> str:
    """A setting's value as names and overrides spell it: ``0.6``, ``false``, ``rgb``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return ",".join(map(value_text, value))
    return str(value)


@dataclass(frozen=True)
class Variant:
    """A task with ``overrides`` (``section.key=value``) on the study's pretraining settings; ``at``
    (numerator, denominator): the weights its run kept at that fraction of its steps instead of its
    final ones."""

    task: str
    overrides: tuple[str, ...] = ()
    at: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        """The init's name: the task, then ``+key=value`` per override (a key of the task's own
        section without its section: ``denoising+mask_fraction=0.6``, ``colorization+data.pool_fraction=0.1``),
        then ``@1of3`` for weights kept at a third of the run."""
        own = self.task.replace("-", "_") + "."
        kept = f"@{self.at[0]}of{self.at[1]}" if self.at else ""
        return self.task + "".join(f"+{override.removeprefix(own)}" for override in self.overrides) + kept

    @property
    def run(self) -> Variant:
        """The variant whose pretraining run it reads (itself, unless it is kept weights)."""
        return Variant(self.task, self.overrides)


def variant(task: str, key: str, value: Any) -> Variant:
    """The variant of ``task`` with setting ``key`` at ``value`` (a safe name, or a ConfigError naming the setting)."""
    text = value_text(value)
    if not text or "/" in text or "\\" in text or text.startswith("."):
        raise ConfigError(f"{key}={text!r}: a variant's value names its run folder, so it cannot hold a path separator or start with '.'")
    return Variant(task, (f"{key}={text}",))


@dataclass(frozen=True)
class Member:
    """A variant in a set, with its label in the report."""

    variant: Variant
    label: str


@dataclass(frozen=True)
class VariantSet:
    """One question: ``members`` compared with random init and, as ``pairing`` says (``all`` pairs
    reading the same input, or ``none``), with each other,
    at the analysis budgets (``at_analysis_budgets``) or every budget. ``note`` sets it beside the
    paper or says how to read it; ``against``: a pretraining measure (a key of a run's metrics) to plot
    the members' accuracy against, else the report draws bars."""

    name: str
    title: str
    members: tuple[Member, ...]
    pairing: str = ALL_PAIRS
    at_analysis_budgets: bool = True
    note: str = ""
    against: str = ""

    def to_json(self) -> dict[str, Any]:
        members = [{"task": m.variant.task, "overrides": list(m.variant.overrides), "at": list(m.variant.at) if m.variant.at else None,
                    "init": m.variant.name, "label": m.label} for m in self.members]
        return {"name": self.name, "title": self.title, "pairing": self.pairing, "at_analysis_budgets": self.at_analysis_budgets,
                "note": self.note, "against": self.against, "members": members}

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> VariantSet:
        members = tuple(Member(Variant(m["task"], tuple(m["overrides"]), tuple(m["at"]) if m.get("at") else None), m["label"])
                        for m in values["members"])
        return cls(values["name"], values["title"], members, values["pairing"], values["at_analysis_budgets"], values["note"],
                   values["against"])
