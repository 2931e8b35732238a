"""Typed result records, from a study's jobs to its report.

:class:`JobRecord` is one transfer job, :class:`FeatureChangeRecord` one feature-change job,
:class:`PretrainingRecord` one pretraining run, :class:`ResultRow` one (init, mode, budget)
aggregated over seeds and draws, :class:`StudyResults` a whole results.json. A budget ``k`` is an int
(labeled images per class) or None (all labels); JSON files write None as ``"all"``, as the job
folders name it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from proxytask.budgets import Budget, budget_json, parse_budget
from proxytask.paired import FLOOR, METRICS, Comparison
from proxytask.variants import VariantSet


@dataclass(frozen=True)
class JobRecord:
    """One transfer job's result: who (``init`` at ``pretrain_seed``, its ``input``), how (``mode``), on
    which labels (budget ``k``, ``draw``), its test scores, whether the model collapsed, its wall
    seconds, and everything else the mode reported (per-class scores, confusion, choices, split) in ``details``."""

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
    pretrain_seed: int = 0
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
class FeatureChangeRecord:
    """How far fine-tuning ``init`` (at ``pretrain_seed``) on one split moved each backbone stage:
    ``weight_change`` (relative) and ``cka`` (start against fine-tuned features), one value per stage."""

    init: str
    input: str
    pretrain_seed: int
    k: Budget
    draw: int
    accuracy: float
    weight_change: list[float]
    cka: list[float]
    seconds: float
    split: dict[str, Any] = field(default_factory=dict)

    @property
    def stages(self) -> int:
        return len(self.cka)

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> FeatureChangeRecord:
        core = {item.name for item in dataclasses.fields(cls)} - {"split"}
        known = {name: values[name] for name in core if name in values}
        known.setdefault("pretrain_seed", 0)
        known["k"] = parse_budget(values["k"])
        return cls(**known, split={name: value for name, value in values.items() if name not in core | {"stages"}})

    def to_json(self) -> dict[str, Any]:
        values = {item.name: getattr(self, item.name) for item in dataclasses.fields(self) if item.name != "split"}
        return {**values, **self.split, "k": budget_json(self.k), "stages": self.stages}


@dataclass(frozen=True)
class PretrainingRecord:
    """One pretraining run of a study: its init ``name`` and ``task``, its ``seed``, its ``folder``
    (relative to the study folder) and its ``metrics.json``."""

    name: str
    task: str
    seed: int
    folder: str
    metrics: dict[str, Any]

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> PretrainingRecord:
        return cls(values["name"], values["task"], values["seed"], values["folder"], values["metrics"])

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ResultRow:
    """One (init, mode, budget) over its seeds and draws: ``mean`` and ``std`` (ddof=1, over every job) of
    each metric, how many draws and seeds, the labels each draw could read, how many jobs collapsed,
    classes short of ``k``."""

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
    n_seeds: int = 1

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> ResultRow:
        return cls(values["init"], values["mode"], values["input"], parse_budget(values["k"]), values["n_draws"],
                   values["labels_per_class"], values["degenerate"], {m: values[f"{m}_mean"] for m in METRICS},
                   {m: values[f"{m}_std"] for m in METRICS}, values["short_classes"], values.get("n_seeds", 1))

    def to_json(self) -> dict[str, Any]:
        return {"init": self.init, "mode": self.mode, "k": budget_json(self.k), "input": self.input, "n_draws": self.n_draws,
                "n_seeds": self.n_seeds, "labels_per_class": self.labels_per_class, "degenerate": self.degenerate,
                **{f"{m}_{part}": getattr(self, part)[m] for m in METRICS for part in ("mean", "std")},
                "short_classes": self.short_classes}


def find(rows: list[ResultRow], init: str, mode: str, k: Budget) -> ResultRow | None:
    """The row of (init, mode, k), or None."""
    return next((row for row in rows if (row.init, row.mode, row.k) == (init, mode, k)), None)


@dataclass
class StudyResults:
    """A study's results.json: settings, data, pretraining runs, time per stage, aggregated rows,
    paired comparisons, every job, the inits of the main tables, the variant sets and the
    feature-change records."""

    config: dict[str, Any]
    downstream: dict[str, Any]
    device: str
    selection: dict[str, str]
    pretraining: list[PretrainingRecord]
    time_by_stage: dict[str, float]
    rows: list[ResultRow]
    comparisons: list[Comparison]
    jobs: list[JobRecord]
    main_inits: list[str]
    sets: list[VariantSet] = field(default_factory=list)
    feature_change: list[FeatureChangeRecord] = field(default_factory=list)
    table_seeds: dict[str, list[int]] = field(default_factory=dict)

    def seeds_of(self, init: str) -> tuple[int, ...]:
        """The pretraining seeds ``init``'s rows and comparisons cover."""
        return tuple(self.table_seeds.get(init, [0]))

    def table_jobs(self) -> list[JobRecord]:
        """The jobs of the seeds each init's rows cover."""
        return [job for job in self.jobs if job.pretrain_seed in self.seeds_of(job.init)]

    @property
    def budgets(self) -> list[Budget]:
        return [parse_budget(name) for name in self.config["budgets"]]

    def run(self, name: str, seed: int = 0) -> PretrainingRecord | None:
        """The pretraining run of init ``name`` at ``seed``, or None."""
        return next((record for record in self.pretraining if (record.name, record.seed) == (name, seed)), None)

    def comparison(self, init: str, baseline: str, mode: str, k: Budget, metric: str = "accuracy",
                   init_seeds: tuple[int, ...] | None = None, baseline_seeds: tuple[int, ...] | None = None) -> Comparison | None:
        """``init`` minus ``baseline`` in (mode, k, metric) (over the seeds given, else the first found), or None."""
        return next((c for c in self.comparisons if (c.init, c.baseline, c.mode, c.k, c.metric) == (init, baseline, mode, k, metric)
                     and init_seeds in (None, c.init_seeds) and baseline_seeds in (None, c.baseline_seeds)), None)

    def floor(self, init: str, mode: str, k: Budget, metric: str = "accuracy") -> Comparison | None:
        """``init`` minus the random init reading its input (its conversion included), or None."""
        return next((c for c in self.comparisons if (c.init, c.mode, c.k, c.metric, c.role) == (init, mode, k, metric, FLOOR)), None)

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> StudyResults:
        """From results.json; one written before pretraining seeds (runs by name, variants in ``analyses``)
        reads as seed 0 of each run, its analysis runs outside the main tables."""
        if isinstance(values["pretraining"], dict):
            values = _before_seeds(values)
        return cls(values["config"], values["downstream"], values["device"], values["selection"],
                   [PretrainingRecord.from_json(r) for r in values["pretraining"]], values["time_by_stage"],
                   [ResultRow.from_json(r) for r in values["results"]], [Comparison.from_json(c) for c in values["comparisons"]],
                   [JobRecord.from_json(j) for j in values["jobs"]], values["main_inits"],
                   [VariantSet.from_json(s) for s in values["sets"]], [FeatureChangeRecord.from_json(r) for r in values["feature_change"]],
                   values.get("table_seeds", {}))

    def to_json(self) -> dict[str, Any]:
        return {"config": self.config, "downstream": self.downstream, "device": self.device, "selection": self.selection,
                "pretraining": [record.to_json() for record in self.pretraining], "time_by_stage": self.time_by_stage,
                "results": [row.to_json() for row in self.rows], "comparisons": [c.as_dict() for c in self.comparisons],
                "jobs": [job.to_json() for job in self.jobs], "main_inits": self.main_inits,
                "sets": [group.to_json() for group in self.sets],
                "feature_change": [record.to_json() for record in self.feature_change], "table_seeds": self.table_seeds}


def _before_seeds(values: dict[str, Any]) -> dict[str, Any]:
    """A results.json of the layout before pretraining seeds, in this one's fields (its variant sets,
    which it described in prose, are left out; its analysis runs stay out of the main tables)."""
    analyses = values.get("analyses", {})
    variants = set(analyses.get("runs", []))
    inits = list(dict.fromkeys(row["init"] for row in values["results"]))
    return {**values, "pretraining": [{"name": name, "task": metrics.get("task", name), "seed": 0, "folder": f"pretrain/{name}",
                                       "metrics": metrics} for name, metrics in values["pretraining"].items()],
            "main_inits": [name for name in inits if name not in variants], "sets": [],
            "feature_change": analyses.get("feature_change", []), "table_seeds": {name: [0] for name in inits}}
