"""A study's settings: which inits it compares, with which modes, label budgets, draws, pretraining
seeds, analyses and variants, and the pretraining and fine-tuning settings they share."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from proxytask.budgets import ALL_LABELS, Budget, parse_budget
from proxytask.config import ConfigError, FinetuneConfig, Settings, apply_overrides, setting, unknown_name_error
from proxytask.data.lfw import DEV_TASK
from proxytask.runs import PretrainConfig
from proxytask.study.budget import PRETRAIN_BUDGETS, reference_settings, run_steps
from proxytask.tasks import TASKS
from proxytask.tasks.supervised import Supervised
from proxytask.transfer.inits import BASELINE_INITS, RANDOM
from proxytask.transfer.modes import MODES, backbone_modes
from proxytask.variants import Variant

# The evaluation protocol a study folder's jobs were made under. 3: random init's weights drawn from
# its seed (as many as the pretraining seeds) instead of the draw's fine-tuning seed; 2: choices inside
# the budget's labels, one input for every init, fine-tuning seeds per draw (1: choices on a shared
# validation part).
STUDY_PROTOCOL = 3
BASELINES = (RANDOM, Supervised.name, *BASELINE_INITS)
FEATURE_CHANGE = "feature-change"
ANALYSES = ("loss", "data", "head", FEATURE_CHANGE, "input", "length")


@dataclass
class StudyConfig(Settings):
    """A whole comparison: pretraining runs, baselines, transfer modes, label budgets, draws, seeds.

    Every pretraining task (the proxies in ``tasks`` and the supervised ceiling) reads the same
    ``pretrain.input`` and runs for the same ``pretrain_steps`` of ``pretrain.train.batch_size``
    pool images (``pretrain_budget=images``), or for the steps that spend the training FLOPs of
    ``pretrain_steps`` of colorization (``flops``, :mod:`proxytask.study.budget`); random init reads
    that input too. Every trained init is pretrained
    ``pretrain_seeds`` times (seeds 0, 1, ...: ``pretrain.train.seed`` plus the seed).
    ``budgets`` are images per class, or ``all``; budgets below all are drawn ``draws`` times for
    fine-tuning and ``frozen_draws`` times for the cheap modes (probe, k-NN, eigenfaces), seeds 0,
    1, ...; every init sees the same draws.

    ``analyses`` add the paper's questions (:mod:`proxytask.study.analyses`): ``loss`` (hue/chroma KL
    vs Lab bins vs L2), ``data`` (colorization on ``pool_fractions`` of the pool, same steps),
    ``head`` (hypercolumn vs last layer only), ``feature-change`` (how far fine-tuning moves each
    backbone stage), ``input`` (the RGB form of every task that has one, beside random init on
    RGB) and ``length`` (each proxy's weights kept at 1/9 and 1/3 of its main run, beside the whole
    run). Every comparison covers the pretraining seeds and the draws. Their extra runs
    are transferred at ``analysis_budgets`` only. ``vary`` lists the user's own variants,
    ``section.key=value1,value2,...`` each (``--vary``), transferred at every budget.

    ``monitor_task``: the labeled development task the transfer monitor scores during pretraining when
    ``pretrain.train.monitor_every`` is set (``lfw-dev-7``, or a labeled folder; never the test task).
    """

    protocol: int = STUDY_PROTOCOL
    preset: str = "quick"
    tasks: tuple[str, ...] = ("colorization",)
    baselines: tuple[str, ...] = setting(BASELINES, choices=BASELINES)
    modes: tuple[str, ...] = setting(default_factory=backbone_modes, choices=backbone_modes())
    budgets: tuple[str, ...] = ("5", "10", "25", "all")
    draws: int = setting(3, low=1, high=1000)
    frozen_draws: int = setting(20, low=1, high=10_000)
    pretrain_steps: int = setting(900, low=1)
    pretrain_budget: str = setting("images", choices=PRETRAIN_BUDGETS)
    pretrain_seeds: int = setting(3, low=1, high=100)
    analyses: tuple[str, ...] = setting((), choices=ANALYSES)
    analysis_budgets: tuple[str, ...] = ("10",)
    pool_fractions: tuple[float, ...] = setting((0.1, 0.3), low=0.0, high=1.0, low_open=True, high_open=True,
                                                hint="(the whole pool is the main run)")
    vary: tuple[str, ...] = ()
    monitor_task: str = DEV_TASK
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def rules(self, where: str) -> None:
        if self.protocol != STUDY_PROTOCOL:
            raise ConfigError(f"protocol: this version of proxytask runs study protocol {STUDY_PROTOCOL}, not {self.protocol}")
        for budget in self.budgets:
            if budget != ALL_LABELS and not (budget.isdigit() and int(budget) >= 1):
                raise ConfigError(f"budgets: each must be a whole number >= 1 or 'all', got {budget!r}")
        if "input" in self.analyses and self.pretrain.input != "intensity":
            raise ConfigError("analyses: 'input' compares RGB forms with the main table's intensity input, "
                              f"but pretrain.input={self.pretrain.input!r}")
        if not self.tasks:
            raise ConfigError("tasks: name at least one proxy task")
        for task in self.tasks:
            if task not in TASKS:
                raise unknown_name_error("task", task, sorted(TASKS), where=f"{where}tasks")
        for budget in self.analysis_budgets if self.analyses else ():
            if budget not in self.budgets:
                raise ConfigError(f"analysis_budgets: {budget!r} is not among budgets ({', '.join(self.budgets)})")
        if self.analyses and not self.analysis_budgets:
            raise ConfigError("analysis_budgets: name at least one budget for the analyses")
        for entry in self.vary:
            key, _, values = entry.partition("=")
            if "." not in key.strip() and key.strip() != "input" or not [v for v in values.split(",") if v.strip()]:
                raise ConfigError(f"vary: each must be section.key=value1,value2,... (e.g. denoising.mask_fraction=0.3,0.6), got {entry!r}")

    def budget_values(self) -> list[Budget]:
        """Budgets as images per class, None for all."""
        return [parse_budget(b) for b in self.budgets]

    def draws_for(self, mode: str, k: Budget) -> int:
        """How many draws (seeds 0..n-1) budget ``k`` gets in ``mode``: one for all labels."""
        if k is None:
            return 1
        return self.draws if MODES[mode].trains_network else self.frozen_draws


# Settings that only say how much a study covers: a restart may change them (add tasks, budgets,
# draws, seeds, analyses, variants...) and every job already done stays valid. All others fix what a
# job computes, except where the LFW archive lies (the same archive wherever it is).
EXTENT_SETTINGS = ("tasks", "baselines", "modes", "budgets", "draws", "frozen_draws", "pretrain_seeds", "analyses",
                   "analysis_budgets", "pool_fractions", "vary")


def run_settings(config: StudyConfig, chosen: Variant, seed: int) -> PretrainConfig:
    """The settings of ``chosen``'s pretraining run at pretraining seed ``seed``: the study's pretraining
    settings with its overrides, its task, its steps (``pretrain_steps``, or under the ``flops`` budget
    the steps that spend colorization's FLOPs) and the seed added to ``train.seed``."""
    changed = dataclasses.replace(apply_overrides(config.pretrain, list(chosen.overrides)), task=chosen.task)
    steps = run_steps(config.pretrain_budget, config.pretrain_steps, changed, reference_settings(config.pretrain))
    return dataclasses.replace(changed, train=dataclasses.replace(changed.train, max_steps=steps, seed=changed.train.seed + seed))
