"""Headline numbers of a study: paired differences to random init and to supervised pretraining,
the share of the gap closed (where the gap itself is significant), and which proxy task wins."""

from __future__ import annotations

from dataclasses import dataclass

from proxytask.budgets import Budget
from proxytask.paired import Comparison, compare, differences, ratio_interval
from proxytask.records import ResultRow, StudyResults, find
from proxytask.tasks.supervised import Supervised
from proxytask.transfer.inits import RANDOM
from proxytask.transfer.modes import FINETUNE

SUPERVISED = Supervised.name
SATURATED = "saturated"
ONE_DRAW = "n/a (one draw)"
CEILING_BELOW = "n/a (supervised below random)"
BELOW_RANDOM = "below random"
BELOW_RANDOM_NOT_SHOWN = "not shown (below random, interval includes zero)"


@dataclass(frozen=True)
class Share:
    """The share of the supervised-minus-random gap a proxy closes, with its 95% interval."""

    estimate: float
    low: float
    high: float


def gap_share(study: StudyResults, proxy: str, mode: str, k: Budget, metric: str = "accuracy") -> Share | str | None:
    """``(proxy - its random init) / (supervised - random)`` over the seeds and draws they share, with its
    Fieller interval (:func:`proxytask.paired.ratio_interval`); why it is not shown otherwise: one draw,
    the gap itself not told apart from zero (saturated), supervised below random, the proxy below its
    random init (significantly or not: a negative share is never shown). None where a comparison is missing."""
    floor, gap = study.floor(proxy, mode, k, metric), study.comparison(SUPERVISED, RANDOM, mode, k, metric)
    if floor is None or gap is None:
        return None
    if gap.ci_low is None or floor.ci_low is None:
        return ONE_DRAW
    if gap.ci_high < 0:
        return CEILING_BELOW
    if gap.ci_low <= 0:
        return SATURATED
    if floor.diff_mean < 0:
        return BELOW_RANDOM if floor.ci_high < 0 else BELOW_RANDOM_NOT_SHOWN
    top, top_draws = differences(study.jobs, proxy, floor.baseline, mode, k, metric, floor.init_seeds, floor.baseline_seeds)
    bottom, bottom_draws = differences(study.jobs, SUPERVISED, RANDOM, mode, k, metric, gap.init_seeds, gap.baseline_seeds)
    shared = sorted(set(top_draws) & set(bottom_draws))
    top, bottom = top[:, [top_draws.index(d) for d in shared]], bottom[:, [bottom_draws.index(d) for d in shared]]
    if top.shape != bottom.shape or not shared:  # seeds or draws the two comparisons do not share
        return None
    found = ratio_interval(top, bottom)
    return SATURATED if found is None else Share(*found)


@dataclass(frozen=True)
class HeadlineRow:
    """One proxy task at one budget: its row and its baselines' rows, its paired differences to them,
    and the share of the gap closed per metric (a float, or why it is not shown)."""

    task: str
    k: Budget
    proxy: ResultRow
    random: ResultRow | None
    supervised: ResultRow | None
    vs_random: Comparison | None
    vs_supervised: Comparison | None
    gap_closed: dict[str, Share | str | None]


def headline(study: StudyResults, rows: list[ResultRow], proxies: list[str], budgets: list[Budget],
             mode: str = FINETUNE) -> list[HeadlineRow]:
    """Per proxy task and budget: its paired difference to the random init reading its input and to
    supervised, and the share of the gap it closes (:func:`gap_share`)."""
    found = []
    for proxy in proxies:
        for k in budgets:
            proxy_row, random_row, supervised_row = (find(rows, name, mode, k) for name in (proxy, RANDOM, SUPERVISED))
            if proxy_row is None:
                continue
            closed = {metric: gap_share(study, proxy, mode, k, metric) for metric in ("accuracy", "macro_f1")}
            found.append(HeadlineRow(proxy, k, proxy_row, random_row, supervised_row, study.floor(proxy, mode, k),
                                     study.comparison(proxy, SUPERVISED, mode, k), closed))
    return found


@dataclass(frozen=True)
class Winner:
    """At budget ``k``: the most accurate proxy, the runner-up, their paired difference, and whether its interval excludes zero."""

    k: Budget
    best: ResultRow
    runner_up: ResultRow
    difference: Comparison | None
    settled: bool


def winners(study: StudyResults, rows: list[ResultRow], proxies: list[str], budgets: list[Budget],
            mode: str = FINETUNE) -> list[Winner]:
    """Per budget: the proxy task with the highest mean accuracy, the runner-up, and their paired
    difference with its 95% interval (does it exclude zero?)."""
    found = []
    for k in budgets:
        ranked = _by_accuracy(rows, proxies, mode, k)
        if len(ranked) < 2:
            continue
        best, second = ranked[0], ranked[1]
        difference = compare(study.jobs, best.init, second.init, mode, k, init_seeds=study.seeds_of(best.init),
                             baseline_seeds=study.seeds_of(second.init))
        found.append(Winner(k, best, second, difference, difference is not None and difference.interval.excludes_zero))
    return found


def ranking(study: StudyResults, rows: list[ResultRow], proxies: list[str], k: Budget,
            mode: str = FINETUNE) -> tuple[list[str], dict[tuple[str, str], Comparison | None]]:
    """The proxies at budget ``k`` ranked by mean accuracy, and for every pair (higher, lower) the
    higher one minus the lower one over their seeds and draws: which pairs are told apart."""
    ranked = [row.init for row in _by_accuracy(rows, proxies, mode, k)]
    pairs = {(upper, lower): compare(study.jobs, upper, lower, mode, k, init_seeds=study.seeds_of(upper),
                                     baseline_seeds=study.seeds_of(lower))
             for i, upper in enumerate(ranked) for lower in ranked[i + 1:]}
    return ranked, pairs


def _by_accuracy(rows: list[ResultRow], proxies: list[str], mode: str, k: Budget) -> list[ResultRow]:
    """The rows of ``proxies`` in (mode, k), most accurate first."""
    return sorted((row for row in (find(rows, p, mode, k) for p in proxies) if row is not None),
                  key=lambda row: row.mean["accuracy"], reverse=True)


def pool_pictures(study: StudyResults) -> int | None:
    """How many pool pictures the main pretraining runs trained on (None where no run says)."""
    return next((r.metrics["train_images"] for r in study.pretraining if r.name in study.main_inits and "train_images" in r.metrics), None)


def format_share(value: Share | str | None) -> str:
    """``61% [20%, 102%]``, or why it is not shown."""
    if isinstance(value, str):
        return value
    if value is None:
        return "n/a"
    low, estimate, high = (f"{round(x, 2) + 0.0:.0%}" for x in (value.low, value.estimate, value.high))  # no "-0%"
    return f"{estimate} [{low}, {high}]"


def format_cell(row: ResultRow | None) -> str:
    """``accuracy ± std / macro-F1 ± std`` of an aggregated row (the std over its seeds and draws; no
    spread for a single job); ``-`` when absent.

    A row with collapsed jobs (one predicted class, or a loss that never fell) is marked ``!n``.
    """
    if row is None:
        return "-"
    several = row.n_draws > 1 or row.n_seeds > 1
    spread = f" ± {row.std['accuracy']:.3f}" if several else ""
    f1_spread = f" ± {row.std['macro_f1']:.3f}" if several else ""
    flag = f" !{row.degenerate}" if row.degenerate else ""
    return f"{row.mean['accuracy']:.3f}{spread} / {row.mean['macro_f1']:.3f}{f1_spread}{flag}"


def pretraining_budget(config: dict) -> str:
    """What the pretraining runs had in common, in words: the pool images they saw, or the FLOPs they spent."""
    steps, batch = config["pretrain_steps"], config["pretrain"]["train"]["batch_size"]
    if config.get("pretrain_budget", "images") == "flops":
        return (f"every pretraining run spent the same training FLOPs, those of {steps} colorization steps of {batch} pool images "
                "(equal compute: a task that costs more per image ran fewer steps; the pretraining table gives each run's steps)")
    return f"every pretraining run saw the same number of pool images ({steps} steps of {batch})"
