"""The paper's analyses as extra pretraining runs of a study ("variants" of colorization).

- ``loss``: the same budget for hue/chroma KL (``colorization``), Lab bins with rebalancing
  (``colorization-lab``) and L2 regression of ab (``colorization-l2``).
- ``data``: colorization on a share of the pool (``study.pool_fractions``), same number of steps.
- ``head``: the hypercolumn head against one reading only the backbone's last level.
- ``input``: the RGB form of every task that has one (``<task>-rgb``), beside random init on RGB
  (``random-rgb``); the main table reads intensity.
- ``seeds``: colorization and supervised pretraining again with another seed (``<task>-seed1``),
  so that pretraining-seed spread can be set beside label-draw spread.

Each variant is a named pretraining run under ``pretrain/<name>/`` whose transfer jobs run at
``study.analysis_budgets``; the main ``colorization`` run is the reference of the first three.
``feature-change`` needs no pretraining of its own (:mod:`proxytask.transfer.feature_change`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from proxytask.config import PretrainConfig, StudyConfig, apply_overrides
from proxytask.tasks import task_class
from proxytask.tasks.supervised import Supervised

REFERENCE = "colorization"
SUPERVISED = Supervised.name


@dataclass(frozen=True)
class Variant:
    """One pretraining run: its run/init ``name``, ``task``, PretrainConfig overrides and a ``label`` for the report."""

    name: str
    task: str
    overrides: tuple[str, ...]
    label: str


def pool_variant_name(fraction: float) -> str:
    return f"{REFERENCE}-pool{round(100 * fraction)}"


def main_runs(config: StudyConfig) -> list[str]:
    """The pretraining runs of the main table: the proxy tasks, then supervised (if a baseline)."""
    return list(config.tasks) + ([SUPERVISED] if SUPERVISED in config.baselines else [])


def planned_runs(config: StudyConfig) -> list[Variant]:
    """Every pretraining run of a study: the main table's, then the analyses' extra ones."""
    return [Variant(task, task, (), task) for task in main_runs(config)] + extra_runs(config)


def comparisons(config: StudyConfig) -> dict[str, list[Variant]]:
    """Per requested analysis with runs of its own, the runs it compares, the reference included, in order."""
    reference = Variant(REFERENCE, REFERENCE, (), "hue/chroma KL, hypercolumn, whole pool")
    groups: dict[str, list[Variant]] = {}
    if "loss" in config.analyses:
        groups["loss"] = [dataclasses.replace(reference, label="hue/chroma bins, KL (Larsson et al.)"),
                          Variant("colorization-lab", "colorization-lab", (), "Lab ab bins, rebalanced (Zhang et al.)"),
                          Variant("colorization-l2", "colorization-l2", (), "L2 regression of ab")]
    if "data" in config.analyses:
        groups["data"] = [Variant(pool_variant_name(f), REFERENCE, (f"data.pool_fraction={f}",), f"{f:.0%} of the pool")
                          for f in sorted(config.pool_fractions)] + [dataclasses.replace(reference, label="100% of the pool")]
    if "head" in config.analyses:
        groups["head"] = [dataclasses.replace(reference, label="hypercolumn (intensity + every level)"),
                          Variant(f"{REFERENCE}-lastlayer", REFERENCE, ("colorization.hypercolumn=false",), "last level only")]
    if "input" in config.analyses:
        groups["input"] = [Variant(f"{task}-rgb", task, ("input=rgb",), f"{task} on RGB")
                           for task in main_runs(config) if "rgb" in task_class(task).inputs]
    if "seeds" in config.analyses:
        seed, other = config.pretrain.train.seed, config.pretrain.train.seed + 1
        groups["seeds"] = [variant for task in (REFERENCE, SUPERVISED) for variant in (
            Variant(task, task, (), f"{task}, pretraining seed {seed}"),
            Variant(f"{task}-seed{other}", task, (f"train.seed={other}",), f"{task}, pretraining seed {other}"))]
    return groups


def extra_runs(config: StudyConfig) -> list[Variant]:
    """The pretraining runs the analyses need beyond the main table's, each once."""
    runs: dict[str, Variant] = {}
    main = main_runs(config)
    for group in comparisons(config).values():
        for variant in group:
            if variant.name not in main:
                runs.setdefault(variant.name, variant)
    return list(runs.values())


def variant_pretrain_config(config: StudyConfig, variant: Variant) -> PretrainConfig:
    """The study's pretraining settings with the variant's task and overrides, for ``pretrain_steps`` steps."""
    changed = apply_overrides(config.pretrain, list(variant.overrides))
    return dataclasses.replace(changed, task=variant.task,
                               train=dataclasses.replace(changed.train, max_steps=config.pretrain_steps))
