"""A study as a typed plan: a pure function from its settings to everything it will do.

:func:`plan_study` lists the pretraining runs ``(variant, seed)``, the inits they and the baselines
become (each at its seeds and budgets, with its modes), every transfer job ``(init, seed, mode, k,
draw)``, the feature-change jobs, the splits, the paired comparisons and the variant sets the report
shows. Nothing runs and no file is read, so a plan can be printed (``proxytask study --plan``),
counted and tested; :mod:`proxytask.study.run` carries it out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from proxytask.budgets import Budget, budget_name
from proxytask.inputs import NetworkInput
from proxytask.paired import CEILING, FLOOR
from proxytask.runs import kept_step
from proxytask.study.analyses import SUPERVISED, main_trained_tasks, variant_sets
from proxytask.study.settings import FEATURE_CHANGE, StudyConfig, run_settings
from proxytask.tasks import task_input
from proxytask.transfer.inits import BASELINE_INITS, RANDOM, random_init_name
from proxytask.variants import ALL_PAIRS, Variant, VariantSet

# Where an init comes from: random weights, a pretraining run, the weights a run kept part of the way
# through (the length analysis), or a baseline with features of its own.
RANDOM_SOURCE, RUN_SOURCE, KEPT_SOURCE, BASELINE_SOURCE = "random", "run", "kept", "baseline"


@dataclass(frozen=True)
class PlannedRun:
    """One pretraining run: ``variant`` at pretraining seed ``seed``."""

    variant: Variant
    seed: int

    @property
    def name(self) -> str:
        return self.variant.name


@dataclass(frozen=True)
class PlannedInit:
    """An init at one seed, as the study transfers it: its ``name``, where it comes from (``source``:
    random, run, kept, baseline), what it reads (``input_kind``, and how it is ``normalization``-ed), the
    ``budgets`` and ``modes`` it is transferred at; ``main``: a row of the main tables (else only of a
    variant set). Kept weights: the init whose run ``reads`` names, after ``step`` steps."""

    name: str
    seed: int
    source: str
    input_kind: str
    budgets: tuple[Budget, ...]
    modes: tuple[str, ...]
    main: bool
    normalization: str = "scale"
    reads: str = ""
    step: int | None = None

    @property
    def network_input(self) -> NetworkInput:
        return NetworkInput(self.input_kind, self.normalization)

    @property
    def needs_run(self) -> bool:
        """Its weights come from a pretraining run of the study (which must finish first)."""
        return self.source in (RUN_SOURCE, KEPT_SOURCE)


@dataclass(frozen=True)
class TransferJob:
    """One transfer job: ``mode`` of ``init`` at its seed ``seed``, on draw ``draw`` of budget ``k``."""

    init: str
    seed: int
    mode: str
    k: Budget
    draw: int


@dataclass(frozen=True)
class FeatureChangeJob:
    """Fine-tune ``init`` (seed ``seed``) on draw ``draw`` of budget ``k`` again and measure how far each stage moved."""

    init: str
    seed: int
    k: Budget
    draw: int


@dataclass(frozen=True)
class PlannedComparison:
    """``init`` minus ``baseline``, paired over the seeds given of each (by position) and the draws, in every mode and
    budget both have; ``role``: against the random init on the same input (``floor``), against the
    supervised ceiling (``ceiling``), or the name of the variant set that pairs them."""

    init: str
    baseline: str
    init_seeds: tuple[int, ...]
    baseline_seeds: tuple[int, ...]
    role: str = FLOOR


@dataclass(frozen=True)
class StudyPlan:
    """Everything a study does, typed; see :func:`plan_study`."""

    runs: tuple[PlannedRun, ...]
    inits: tuple[PlannedInit, ...]
    transfer: tuple[TransferJob, ...]
    feature_change: tuple[FeatureChangeJob, ...]
    splits: tuple[tuple[Budget, int], ...]
    comparisons: tuple[PlannedComparison, ...]
    sets: tuple[VariantSet, ...]

    def init(self, name: str, seed: int) -> PlannedInit:
        return next(planned for planned in self.inits if (planned.name, planned.seed) == (name, seed))

    def seeds_of(self, name: str) -> tuple[int, ...]:
        """The seeds of init ``name``, which its rows and comparisons cover."""
        return tuple(planned.seed for planned in self.inits if planned.name == name)

    def jobs_of(self, name: str, seed: int) -> list[TransferJob]:
        return [job for job in self.transfer if (job.init, job.seed) == (name, seed)]


def _draws(config: StudyConfig, modes: tuple[str, ...], k: Budget) -> range:
    return range(max(config.draws_for(mode, k) for mode in modes))


def plan_study(config: StudyConfig) -> StudyPlan:
    """The plan of ``config`` (validated first; a ConfigError names a setting no run can be built with)."""
    config.validate()
    budgets = tuple(config.budget_values())
    analysis_budgets = tuple(k for k in budgets if budget_name(k) in config.analysis_budgets)
    main_input = config.pretrain.input
    main_seeds = tuple(range(config.pretrain_seeds))
    sets = tuple(variant_sets(config))

    # Trained inits: (variant, seed) -> (budgets, main), the main table's first.
    wanted: dict[tuple[Variant, int], tuple[set[Budget], bool]] = {}

    def want(chosen: Variant, at: tuple[Budget, ...], main: bool) -> None:
        for seed in main_seeds:
            found, was_main = wanted.get((chosen, seed), (set(), False))
            wanted[(chosen, seed)] = (found | set(at), was_main or main)

    for task in main_trained_tasks(config):
        want(Variant(task), budgets, main=True)
    kept: dict[Variant, set[Budget]] = {}  # weights kept part of the way through a run -> their budgets
    for group in sets:
        for member in group.members:
            at = analysis_budgets if group.at_analysis_budgets else budgets
            want(member.variant.run, at, main=False)
            if member.variant.at:
                kept[member.variant] = kept.get(member.variant, set()) | set(at)

    modes = tuple(config.modes)
    runs = tuple(PlannedRun(chosen, seed) for chosen, seed in wanted)
    inputs: dict[Variant, NetworkInput] = {}
    for run in runs:  # every run can be built (checked before any work), and what it reads
        inputs[run.variant] = task_input(run_settings(config, run.variant, run.seed))
    inits: list[PlannedInit] = []
    if RANDOM in config.baselines:  # a random init at every seed, on the main input ...
        inits += [PlannedInit(RANDOM, seed, RANDOM_SOURCE, main_input, budgets, modes, main=True) for seed in main_seeds]
    for network_input in sorted(set(inputs.values()) - {NetworkInput(main_input)}, key=lambda found: found.describe()):
        # ... and on every other input (or conversion) a run reads, at the budgets of those runs
        readers = [(found, main) for (chosen, _), (found, main) in wanted.items() if inputs[chosen] == network_input]
        at = {k for found, _ in readers for k in found}
        inits += [PlannedInit(random_init_name(network_input, main_input), seed, RANDOM_SOURCE, network_input.kind,
                              tuple(k for k in budgets if k in at), modes, main=any(main for _, main in readers),
                              normalization=network_input.normalization) for seed in main_seeds]
    for (chosen, seed), (found, main) in wanted.items():
        inits.append(PlannedInit(chosen.name, seed, RUN_SOURCE, inputs[chosen].kind, tuple(k for k in budgets if k in found),
                                 modes, main, inputs[chosen].normalization))
    for chosen, at in kept.items():
        step = kept_step(run_settings(config, chosen.run, 0).train.max_steps, chosen.at)
        inits += [PlannedInit(chosen.name, seed, KEPT_SOURCE, inputs[chosen.run].kind, tuple(k for k in budgets if k in at), modes,
                              False, inputs[chosen.run].normalization, reads=chosen.run.name, step=step) for seed in main_seeds]
    for name, baseline in BASELINE_INITS.items():  # baselines with features of their own, in their own modes
        if name in config.baselines:
            inits.append(PlannedInit(name, 0, BASELINE_SOURCE, baseline().input_kind, budgets, baseline.modes, main=True))

    transfer = tuple(TransferJob(planned.name, planned.seed, mode, k, draw) for planned in inits for mode in planned.modes
                     for k in planned.budgets for draw in range(config.draws_for(mode, k)))
    feature_change = tuple(FeatureChangeJob(planned.name, planned.seed, k, 0) for planned in inits
                           if FEATURE_CHANGE in config.analyses and planned.main
                           and planned.source != BASELINE_SOURCE for k in analysis_budgets)
    all_modes = tuple({mode for planned in inits for mode in planned.modes})
    splits = tuple((k, draw) for k in budgets for draw in _draws(config, all_modes, k))
    plan = StudyPlan(runs, tuple(inits), transfer, feature_change, splits, (), sets)
    return dataclasses.replace(plan, comparisons=_comparisons(config, plan))


def _comparisons(config: StudyConfig, plan: StudyPlan) -> tuple[PlannedComparison, ...]:
    """Every trained init against the random init reading the same input (its conversion included) and,
    on the main input, against supervised pretraining; then the pairs each variant set asks for."""
    main_input = NetworkInput(config.pretrain.input)
    kinds = {planned.name: planned.network_input for planned in plan.inits if planned.source != BASELINE_SOURCE}
    randoms = {planned.network_input: planned.name for planned in plan.inits if planned.source == RANDOM_SOURCE}
    found: list[PlannedComparison] = []

    def add(init: str, baseline: str, init_seeds: tuple[int, ...], baseline_seeds: tuple[int, ...], role: str) -> None:
        entry = (init, baseline, init_seeds, baseline_seeds, role)
        if all((c.init, c.baseline, c.init_seeds, c.baseline_seeds, c.role) != entry for c in found):
            found.append(PlannedComparison(init, baseline, init_seeds, baseline_seeds, role))

    for name in dict.fromkeys(planned.name for planned in plan.inits if planned.needs_run):
        seeds = plan.seeds_of(name)
        if kinds[name] in randoms:
            add(name, randoms[kinds[name]], seeds, plan.seeds_of(randoms[kinds[name]]), FLOOR)
        if kinds[name].kind == main_input.kind and SUPERVISED in kinds and name != SUPERVISED:  # the ceiling on any conversion
            add(name, SUPERVISED, seeds, plan.seeds_of(SUPERVISED), CEILING)
    for group in plan.sets:
        members = [(member.variant.name, plan.seeds_of(member.variant.name)) for member in group.members]
        for index, (name, seeds) in enumerate(members):
            for other, other_seeds in members[:index]:
                paired = group.pairing == ALL_PAIRS and kinds[name] == kinds[other]
                if paired:
                    add(name, other, seeds, other_seeds, group.name)
    return tuple(found)


def _mode_lines(config: StudyConfig, planned: PlannedInit, done: set[TransferJob]) -> list[str]:
    lines = []
    for mode in planned.modes:
        parts = []
        for k in planned.budgets:
            draws = config.draws_for(mode, k)
            finished = sum(TransferJob(planned.name, planned.seed, mode, k, d) in done for d in range(draws))
            parts.append(f"k={budget_name(k)} d0-{draws - 1}" + (f" ({finished} done)" if finished else "") if draws > 1
                         else f"k={budget_name(k)} d0" + (" (done)" if finished else ""))
        lines.append(f"      {mode:<9} {', '.join(parts)}")
    return lines


def describe_plan(config: StudyConfig, plan: StudyPlan, finished_runs: set[PlannedRun] = frozenset(),
                  done: set[TransferJob] = frozenset()) -> str:
    """The plan as text: its counts, every pretraining run, every init's jobs by mode and budget, the
    comparisons and variant sets; what is ``finished`` or ``done`` already is marked."""
    length = (f"{config.pretrain_steps} steps of {config.pretrain.train.batch_size} pool images each" if config.pretrain_budget == "images"
              else f"each the training FLOPs of {config.pretrain_steps} colorization steps of {config.pretrain.train.batch_size} images")
    lines = [f"{len(plan.runs)} pretraining runs ({length}), {len(plan.inits)} inits, {len(plan.transfer)} transfer jobs ({len(done)} done), "
             f"{len(plan.feature_change)} feature-change jobs, {len(plan.comparisons)} paired comparisons", "", "pretraining runs:"]
    lines += [f"  {run.name:<40} seed {run.seed}  task {run.variant.task}  {run_settings(config, run.variant, run.seed).train.max_steps} "
              f"steps{'  (finished)' if run in finished_runs else ''}" for run in plan.runs]
    lines += ["", "inits (name, seed, input: mode, budgets and draws):"]
    for planned in plan.inits:
        where = "main table" if planned.main else "variant sets only"
        source = f"weights {planned.reads} kept at step {planned.step}" if planned.source == KEPT_SOURCE else planned.source
        lines.append(f"  {planned.name} seed {planned.seed}, {planned.input_kind} ({source}; {where})")
        lines += _mode_lines(config, planned, done)
    if plan.sets:
        lines += ["", "variant sets:"]
        for group in plan.sets:
            members = [member.variant.name for member in group.members]
            lines.append(f"  {group.name}: {', '.join(members)}")
    lines += ["", "paired comparisons (init minus baseline, over seeds and draws, in every mode and budget both have):"]
    lines += [f"  {c.init} [seeds {','.join(map(str, c.init_seeds))}] - {c.baseline} [seeds {','.join(map(str, c.baseline_seeds))}]"
              + f"  ({c.role})" for c in plan.comparisons]
    return "\n".join(lines)
