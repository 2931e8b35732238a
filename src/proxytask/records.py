"""Typed result records, from a study's jobs to its report.

:class:`JobRecord` is one transfer job, :class:`ResultRow` one (init, mode, budget) aggregated over
draws, :class:`StudyResults` a whole results.json. A budget ``k`` is an int (labeled images per
class) or None (all labels); JSON files write None as ``"all"``, as the job folders name it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from proxytask.config import Budget, budget_json, parse_budget
from proxytask.paired import METRICS, Comparison


@dataclass(frozen=True)
class JobRecord:
    """One transfer job's result: who (``init``, its ``input``), how (``mode``), on which labels
    (budget ``k``, ``draw``), its test scores, whether the model collapsed, its wall seconds, and
    everything else the mode reported (per-class scores, confusion, choices, split) in ``details``."""

    init: str
    mode: str
    input: str
    k: Budget
    draw: int
    accuracy: float
    macro_f1: float
    predicted_classes: int
    degenerate: bool
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    def score(self, metric: str) -> float:
        """The test score named ``metric`` (one of :data:`proxytask.paired.METRICS`)."""
        if metric not in METRICS:
            raise KeyError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
        return float(getattr(self, metric))

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> JobRecord:
        core = {item.name for item in dataclasses.fields(cls)} - {"details"}
        known = {name: values[name] for name in core if name in values}
        known.setdefault("seconds", 0.0)  # records of studies made before jobs were timed
        known.setdefault("degenerate", False)
        known["k"] = parse_budget(values["k"])
        return cls(**known, details={name: value for name, value in values.items() if name not in core})

    def to_json(self) -> dict[str, Any]:
        values = {item.name: getattr(self, item.name) for item in dataclasses.fields(self) if item.name != "details"}
        return {**self.details, **values, "k": budget_json(self.k)}


@dataclass(frozen=True)
class ResultRow:
    """One (init, mode, budget) over its draws: ``mean`` and ``std`` (ddof=1) of each metric, how
    many draws, the labels each draw could read, how many jobs collapsed, classes short of ``k``."""

    init: str
    mode: str
    input: str
    k: Budget
    n_draws: int
    labels_per_class: dict[str, int]
    degenerate: int
    mean: dict[str, float]
    std: dict[str, float]
    short_classes: list[str]

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> ResultRow:
        return cls(values["init"], values["mode"], values["input"], parse_budget(values["k"]), values["n_draws"],
                   values["labels_per_class"], values["degenerate"], {m: values[f"{m}_mean"] for m in METRICS},
                   {m: values[f"{m}_std"] for m in METRICS}, values["short_classes"])

    def to_json(self) -> dict[str, Any]:
        return {"init": self.init, "mode": self.mode, "k": budget_json(self.k), "input": self.input, "n_draws": self.n_draws,
                "labels_per_class": self.labels_per_class, "degenerate": self.degenerate,
                **{f"{m}_{part}": getattr(self, part)[m] for m in METRICS for part in ("mean", "std")},
                "short_classes": self.short_classes}


def find(rows: list[ResultRow], init: str, mode: str, k: Budget) -> ResultRow | None:
    """The row of (init, mode, k), or None."""
    return next((row for row in rows if (row.init, row.mode, row.k) == (init, mode, k)), None)


@dataclass
class StudyResults:
    """A study's results.json: settings, data, pretraining metrics, time per stage, aggregated rows,
    paired comparisons, every job, and the analyses' extra records (plain JSON)."""

    config: dict[str, Any]
    downstream: dict[str, Any]
    device: str
    selection: dict[str, str]
    pretraining: dict[str, dict[str, Any]]
    time_by_stage: dict[str, float]
    rows: list[ResultRow]
    comparisons: list[Comparison]
    jobs: list[JobRecord]
    analyses: dict[str, Any]

    @property
    def budgets(self) -> list[Budget]:
        return [parse_budget(name) for name in self.config["budgets"]]

    def comparison(self, init: str, baseline: str, mode: str, k: Budget, metric: str = "accuracy") -> Comparison | None:
        """``init`` minus ``baseline`` in (mode, k, metric), or None."""
        return next((c for c in self.comparisons if (c.init, c.baseline, c.mode, c.k, c.metric) == (init, baseline, mode, k, metric)), None)

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> StudyResults:
        return cls(values["config"], values["downstream"], values["device"], values["selection"], values["pretraining"],
                   values["time_by_stage"], [ResultRow.from_json(r) for r in values["results"]],
                   [Comparison.from_json(c) for c in values["comparisons"]], [JobRecord.from_json(j) for j in values["jobs"]],
                   values["analyses"])

    def to_json(self) -> dict[str, Any]:
        return {"config": self.config, "downstream": self.downstream, "device": self.device, "selection": self.selection,
                "pretraining": self.pretraining, "time_by_stage": self.time_by_stage,
                "results": [row.to_json() for row in self.rows], "comparisons": [c.as_dict() for c in self.comparisons],
                "jobs": [job.to_json() for job in self.jobs], "analyses": self.analyses}
