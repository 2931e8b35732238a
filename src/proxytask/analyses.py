"""The paper's analyses as extra pretraining runs of a study ("variants" of colorization).

- ``loss``: the same budget for hue/chroma KL (``colorization``), Lab bins with rebalancing
  (``colorization-lab``) and L2 regression of ab (``colorization-l2``).
- ``data``: colorization on a share of the pool (``study.pool_fractions``), same number of steps.
- ``head``: the hypercolumn head against one reading only the backbone's last level.

Each variant is a named pretraining run under ``pretrain/<name>/`` whose transfer jobs run at
``study.analysis_budgets``; the main ``colorization`` run is the reference of all three. The
fourth analysis, ``feature-change``, needs no pretraining of its own (:mod:`proxytask.transfer.feature_change`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from proxytask.config import PretrainConfig, StudyConfig, apply_overrides

REFERENCE = "colorization"


@dataclass(frozen=True)
class Variant:
    """One pretraining run: its run/init ``name``, ``task``, PretrainConfig overrides and a ``label`` for the report."""

    name: str
    task: str
    overrides: tuple[str, ...]
    label: str


def pool_variant_name(fraction: float) -> str:
    return f"{REFERENCE}-pool{round(100 * fraction)}"


def comparisons(config: StudyConfig) -> dict[str, list[Variant]]:
    """Per requested analysis (loss, data, head), the runs it compares, the reference included, in order."""
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
    return groups


def extra_runs(config: StudyConfig) -> list[Variant]:
    """The pretraining runs the analyses need beyond the study's own tasks, each once."""
    runs: dict[str, Variant] = {}
    for group in comparisons(config).values():
        for variant in group:
            if variant.name not in config.tasks:
                runs.setdefault(variant.name, variant)
    return list(runs.values())


def variant_pretrain_config(config: StudyConfig, variant: Variant) -> PretrainConfig:
    """The study's pretraining settings with the variant's task and overrides, for ``pretrain_steps`` steps."""
    changed = apply_overrides(config.pretrain, list(variant.overrides))
    return dataclasses.replace(changed, task=variant.task,
                               train=dataclasses.replace(changed.train, max_steps=config.pretrain_steps))
