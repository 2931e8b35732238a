"""A study's records turned into what it reports: rows aggregated over seeds and draws, the paired
comparisons its plan asks for, the time per stage, and how every choice was made."""

from __future__ import annotations

from typing import Any

import numpy as np

from proxytask.budgets import Budget, budget_name, budget_order
from proxytask.data.downstream import DownstreamData
from proxytask.paired import METRICS, Comparison, compare
from proxytask.records import FeatureChangeRecord, JobRecord, PretrainingRecord, ResultRow
from proxytask.study.plan import StudyPlan
from proxytask.study.presets import recipe_origin
from proxytask.study.settings import StudyConfig
from proxytask.transfer.modes import MODES
from proxytask.transfer.runners import RUNNERS


def aggregate(records: list[JobRecord]) -> list[ResultRow]:
    """Mean and standard deviation (over every job, ddof=1) per (init, mode, k), with how many draws and
    seeds it covers, the labels each draw could read and how many of its jobs collapsed."""
    groups: dict[tuple[str, str, Budget], list[JobRecord]] = {}
    for record in records:
        groups.setdefault((record.init, record.mode, record.k), []).append(record)
    summary = []
    for (init, mode, k), members in groups.items():
        scores = {metric: np.array([m.score(metric) for m in members]) for metric in METRICS}
        summary.append(ResultRow(init, mode, members[0].input, k, len({m.draw for m in members}), members[0].details["labels_per_class"],
                                 sum(m.degenerate for m in members), {m: float(v.mean()) for m, v in scores.items()},
                                 {m: float(v.std(ddof=1)) if len(v) > 1 else 0.0 for m, v in scores.items()},
                                 sorted({c for m in members for c in m.details["short_classes"]}), len({m.pretrain_seed for m in members})))
    return summary


def paired_comparisons(plan: StudyPlan, records: list[JobRecord]) -> list[Comparison]:
    """Every planned comparison's paired difference per mode, budget and metric present in the records."""
    keys = sorted({(r.mode, r.k) for r in records}, key=lambda key: (key[0], budget_order(key[1])))
    found = []
    for planned in plan.comparisons:
        for mode, k in keys:
            for metric in METRICS:
                comparison = compare(records, planned.init, planned.baseline, mode, k, metric, planned.init_seeds, planned.baseline_seeds,
                                     planned.role)
                if comparison is not None:
                    found.append(comparison)
    return found


def time_by_stage(pretraining: list[PretrainingRecord], records: list[JobRecord],
                  feature_change: list[FeatureChangeRecord]) -> dict[str, float]:
    """Seconds spent per stage: each pretraining run's training, fine-tuning per budget, each cheap mode
    (the first probe job of an init includes extracting its frozen features), the feature-change analysis."""
    stages: dict[str, float] = {}
    for run in pretraining:
        stage = f"pretraining {run.name}" + (f" seed {run.seed}" if run.seed else "")
        stages[stage] = float(run.metrics.get("train_seconds", 0.0))
    for record in records:
        mode = MODES[record.mode]
        stage = f"{mode.stage} k={budget_name(record.k)}" if mode.trains_network else mode.stage
        stages[stage] = stages.get(stage, 0.0) + record.seconds
    if feature_change:
        stages["feature change"] = sum(record.seconds for record in feature_change)
    return stages


def selection_summary(config: StudyConfig, data: DownstreamData, modes: list[str]) -> dict[str, str]:
    """How every choice of every mode in ``modes`` was made, for results.json and the report."""
    origin = recipe_origin(config)
    if data.development_overlap:
        origin += (f"; WARNING: the downstream classes {', '.join(data.development_overlap)} are people of the development "
                   "task, whose labels (test images included) chose the recipe")
    return {mode: RUNNERS[mode].describe(config.finetune, origin) for mode in modes}


def downstream_summary(data: DownstreamData) -> dict[str, Any]:
    """What results.json says of the downstream task: classes, images per class, crop, where the pictures come from."""
    return {"classes": data.images.class_names, "images_per_class": data.images.class_counts(), "crop": data.crop,
            "lfw_variant": data.lfw_variant,
            "images": len(data.images.paths), "skipped": [list(s) for s in data.skipped],
            "development_overlap": list(data.development_overlap)}
