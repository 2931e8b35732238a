"""Headline numbers of a study: paired differences to random init and to supervised pretraining,
the share of the gap closed (where the gap itself is significant), and which proxy task wins."""

from __future__ import annotations

import math
from dataclasses import dataclass

from proxytask.budgets import Budget
from proxytask.paired import Comparison, compare, interval_of
from proxytask.records import ResultRow, StudyResults, find
from proxytask.tasks.supervised import Supervised
from proxytask.transfer.inits import RANDOM
from proxytask.transfer.modes import FINETUNE

SUPERVISED = Supervised.name
SATURATED = "saturated"
ONE_DRAW = "n/a (one draw)"
CEILING_BELOW = "n/a (supervised below random)"


def gap_closed(proxy: float, random: float, supervised: float) -> float | None:
    """``(proxy - random) / (supervised - random)``; None when supervised does not beat random."""
    gap = supervised - random
    return (proxy - random) / gap if gap > 0 else None


def gap_state(study: StudyResults, mode: str, k: Budget, metric: str = "accuracy") -> str | None:
    """None where supervised beats random significantly (the gap-closed share means something), else why not:
    one draw (no interval), the interval includes zero (saturated), or supervised is significantly worse."""
    gap = study.comparison(SUPERVISED, RANDOM, mode, k, metric)
    if gap is None or gap.ci_low is None:
        return ONE_DRAW
    if gap.ci_high is not None and gap.ci_high < 0:
        return CEILING_BELOW
    return None if gap.ci_low > 0 else SATURATED


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
    gap_closed: dict[str, float | str | None]


def headline(study: StudyResults, rows: list[ResultRow], proxies: list[str], budgets: list[Budget],
             mode: str = FINETUNE) -> list[HeadlineRow]:
    """Per proxy task and budget: its paired difference to random init and to supervised, and the
    share of the gap it closes, shown only where supervised beats random significantly."""
    found = []
    for proxy in proxies:
        for k in budgets:
            proxy_row, random_row, supervised_row = (find(rows, name, mode, k) for name in (proxy, RANDOM, SUPERVISED))
            if proxy_row is None:
                continue
            closed: dict[str, float | str | None] = {}
            for metric in ("accuracy", "macro_f1"):
                closed[metric] = None
                if supervised_row is not None and random_row is not None:
                    closed[metric] = gap_state(study, mode, k, metric) or gap_closed(
                        proxy_row.mean[metric], random_row.mean[metric], supervised_row.mean[metric])
            found.append(HeadlineRow(proxy, k, proxy_row, random_row, supervised_row, study.comparison(proxy, RANDOM, mode, k),
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
        ranked = sorted((row for row in (find(rows, p, mode, k) for p in proxies) if row is not None),
                        key=lambda row: row.mean["accuracy"], reverse=True)
        if len(ranked) < 2:
            continue
        best, second = ranked[0], ranked[1]
        difference = compare(study.jobs, best.init, second.init, mode, k, init_seeds=study.seeds_of(best.init),
                             baseline_seeds=study.seeds_of(second.init))
        found.append(Winner(k, best, second, difference, difference is not None and interval_of(difference).excludes_zero))
    return found


def format_share(value: float | str | None) -> str:
    if isinstance(value, str):
        return value
    return "n/a" if value is None or math.isnan(value) else f"{value:.0%}"


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
