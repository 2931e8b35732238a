"""What a study pretrains beyond its main runs: variants of its tasks (:mod:`proxytask.variants`),
gathered in named sets. The paper's analyses are named sets (:data:`ANALYSIS_SETS`); a user's
``--vary section.key=v1,v2`` makes one set per task that has the setting. Adding an analysis is one
entry of :data:`ANALYSIS_SETS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxytask.config import ConfigError, read_settings_yaml, to_dict
from proxytask.runs import KEPT_FRACTIONS, PretrainConfig, kept_step
from proxytask.study.settings import StudyConfig, run_settings
from proxytask.tasks import task_class, task_sections
from proxytask.tasks.supervised import Supervised
from proxytask.variants import ALL_PAIRS, NO_PAIRS, Member, Variant, VariantSet, value_text, variant

REFERENCE = "colorization"
SUPERVISED = Supervised.name
# Settings a variant may not change: what transfer reads (every init in a table has the same
# architecture and sees the same pictures), how long it trains and its seed (the study fixes both),
# and bookkeeping that changes no number.
FIXED_SETTINGS = ("task", "model.", "data.lfw", "data.downstream", "data.face_crop", "data.folder_crop", "data.image_size",
                  "data.crop_size", "data.workers", "train.max_steps", "train.epochs", "train.batch_size", "train.seed",
                  "train.log_every", "train.checkpoint_every")


def main_trained_tasks(config: StudyConfig) -> list[str]:
    """The pretraining runs of the main table: the proxy tasks, then supervised (if a baseline)."""
    return list(config.tasks) + ([SUPERVISED] if SUPERVISED in config.baselines else [])


def _loss(config: StudyConfig) -> list[VariantSet]:
    return [VariantSet("loss", "Loss formulation", (
        Member(Variant(REFERENCE), "hue/chroma bins, KL (Larsson et al.)"),
        Member(Variant("colorization-lab"), "Lab ab bins, rebalanced (Zhang et al.)"),
        Member(Variant("colorization-l2"), "L2 regression of ab")),
        note="Paper (recollected, not checked against the PDF): on VOC the histogram losses (hue/chroma KL and Lab "
             "bins) beat L2 regression of color, and the hue/chroma KL was at least as good as Lab bins; the paper "
             "picks hue/chroma KL.")]


def _data(config: StudyConfig) -> list[VariantSet]:
    fractions = [Member(variant(REFERENCE, "data.pool_fraction", f), f"{f:.0%} of the pool") for f in sorted(config.pool_fractions)]
    return [VariantSet("data", "Amount of unlabeled data", (*fractions, Member(Variant(REFERENCE), "100% of the pool")),
                       note="Paper (recollected, not checked against the PDF): colorization on fewer unlabeled ImageNet images "
                            "transfers worse, but the decline is gradual; the paper's broader point is that the proxy needs far "
                            "more unlabeled images than a labeled task needs labels.", against="train_images")]


def _head(config: StudyConfig) -> list[VariantSet]:
    return [VariantSet("head", "Hypercolumn or last layer", (
        Member(Variant(REFERENCE), "hypercolumn (intensity + every level)"),
        Member(variant(REFERENCE, "colorization.hypercolumn", False), "last level only")),
        note="Paper (METHOD.md s.2): the hypercolumn head, reading every level at the sampled pixels, is what the paper "
             "trains (VGG-16 conv1..fc7); the project's docs carry no number of theirs for a last-layer head.")]


def _input(config: StudyConfig) -> list[VariantSet]:
    members = tuple(Member(variant(task, "input", "rgb"), f"{task} on RGB") for task in main_trained_tasks(config)
                    if "rgb" in task_class(task).inputs)
    return [VariantSet("input", "RGB or intensity input", members, NO_PAIRS, note=(
        "Every RGB form is compared with random init on RGB, every intensity form with random init on intensity "
        "(the main table): a gain of a proxy task is what it adds over a random network reading the same input."))]


def _length(config: StudyConfig) -> list[VariantSet]:
    sets = []
    for task in config.tasks:
        steps = run_settings(config, Variant(task), 0).train.max_steps
        images = steps * config.pretrain.train.batch_size
        kept = [Member(Variant(task, at=fraction), f"{fraction[0]}/{fraction[1]} of the run (step {kept_step(steps, fraction)})")
                for fraction in KEPT_FRACTIONS]
        sets.append(VariantSet(f"length ({task})", f"{task}: pretraining length", (
            *kept, Member(Variant(task), f"the whole run ({steps} steps, {images:,} pool images)")),
            note="The weights the main run kept part of the way through, transferred as inits of their own and paired with "
                 "the whole run: no new pretraining. Its learning rate had not yet decayed there, so a kept network is "
                 "not the network a run of that length would end with (its schedule anneals sooner)."))
    return sets


# The paper's analyses and the length analysis with inits of their own: analysis name -> its sets
# (feature-change needs none).
ANALYSIS_SETS: dict[str, Callable[[StudyConfig], list[VariantSet]]] = {
    "loss": _loss, "data": _data, "head": _head, "input": _input, "length": _length,
}


def _vary_tasks(config: StudyConfig, key: str, entry: str) -> list[str]:
    """The main trained tasks a ``--vary`` key applies to: those with the key's task section, or every
    proxy for a shared section and for ``input`` (the ceiling stays the ceiling)."""
    if any(key == fixed or (fixed.endswith(".") and key.startswith(fixed)) for fixed in FIXED_SETTINGS):
        raise ConfigError(f"--vary {entry}: a variant may not change {key} (every init of a comparison has the same "
                          "architecture, pictures, steps and seeds; seeds: --set pretrain_seeds=N)")
    section = key.split(".")[0]
    if section not in task_sections():
        return list(config.tasks)
    tasks = [task for task in main_trained_tasks(config) if section in task_class(task).sections()]
    if not tasks:
        raise ConfigError(f"--vary {entry}: no task of the study has the settings section {section!r} "
                          f"(tasks: {', '.join(main_trained_tasks(config))})")
    return tasks


def _vary_set(config: StudyConfig, task: str, key: str, values: list[Any], entry: str) -> VariantSet | None:
    """The set of ``task`` at each of ``values`` of ``key``, its default first; None when every value
    is its default (or, for ``input``, one it cannot read)."""
    default = run_settings(config, Variant(task), 0)
    members, seen = [], [to_dict(default)]
    for value in values:
        if key == "input" and value not in task_class(task).inputs:
            continue
        try:
            settings = run_settings(config, variant(task, key, value), 0)
            coerced = _setting(settings, key)  # named by the value the settings hold: 1e-3 and 0.001 are one variant
            chosen = variant(task, key, coerced)
        except ConfigError as error:
            raise ConfigError(f"--vary {entry}: {error}") from None
        if to_dict(settings) not in seen:
            seen.append(to_dict(settings))
            members.append(Member(chosen, f"{key}={value_text(coerced)}"))
    if not members:
        return None
    reference = Member(Variant(task), f"{key}={value_text(_setting(default, key))} (default)")
    return VariantSet(f"vary {key} ({task})", f"{task}: {key}", (reference, *members), ALL_PAIRS, at_analysis_budgets=False,
                      note=f"--vary {entry}: each variant against random init on the same input and, paired, against "
                           "the others, the default value included.")


def vary_sets(config: StudyConfig) -> list[VariantSet]:
    """One set per ``--vary`` entry and task it applies to: the task with its default value first, then
    one variant per other value."""
    sets = []
    for entry in config.vary:
        key, _, listed = (part.strip() for part in entry.partition("="))
        values = [read_settings_yaml(value.strip()) for value in listed.split(",") if value.strip()]
        found = [made for task in _vary_tasks(config, key, entry) if (made := _vary_set(config, task, key, values, entry))]
        if not found:
            raise ConfigError(f"--vary {entry}: every value is the default of every task it applies to, or one it cannot read")
        sets += found
    return sets


def _setting(config: PretrainConfig, key: str) -> Any:
    """The value of dotted setting ``key`` in ``config``."""
    value: Any = to_dict(config)
    for part in key.split("."):
        value = value[part]
    return value


def variant_sets(config: StudyConfig) -> list[VariantSet]:
    """Every set the study's analyses and ``--vary`` entries ask for, in that order."""
    return [found for name in config.analyses if name in ANALYSIS_SETS for found in ANALYSIS_SETS[name](config)] + vary_sets(config)

