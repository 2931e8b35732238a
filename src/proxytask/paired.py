"""Paired statistics over label draws: every init sees the same draws, so differences are paired.

For an init and a baseline, per mode and budget, the difference of their test scores on each draw
(same labels, same fine-tuning seed) is averaged, with a two-sided 95% Student-t confidence
interval: ``mean +- t(0.975, n - 1) * sd / sqrt(n)``. "Better" means the interval excludes zero.
An init pretrained at several seeds enters each draw with its mean over those seeds, so the
interval covers the label draws only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
from scipy import stats

from proxytask.budgets import budget_json, parse_budget

CONFIDENCE = 0.95
METRICS = ("accuracy", "macro_f1")
# What a comparison is for: against the random init on the same input, against the supervised
# ceiling; any other role names the variant set that pairs its members.
FLOOR, CEILING = "floor", "ceiling"


@dataclass(frozen=True)
class Interval:
    """Mean paired difference and its confidence interval (None with a single draw)."""

    mean: float
    low: float | None
    high: float | None
    n: int

    @property
    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def paired_interval(differences: Iterable[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean of paired differences with its Student-t interval; no interval from one difference."""
    values = np.asarray(list(differences), dtype=float)
    if len(values) == 0:
        raise ValueError("no paired differences")
    mean = float(values.mean())
    if len(values) < 2:
        return Interval(mean, None, None, 1)
    half = float(stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    return Interval(mean, mean - half, mean + half, len(values))


@dataclass(frozen=True)
class Comparison:
    """One entry of results.json's ``comparisons``: ``init`` (its mean over ``init_seeds``) minus
    ``baseline`` (over ``baseline_seeds``) in one mode and budget; ``role``: :data:`FLOOR`,
    :data:`CEILING`, or the name of the variant set that asks for it."""

    init: str
    baseline: str
    mode: str
    k: int | None  # None: all labels ("all" in JSON)
    metric: str
    diff_mean: float
    ci_low: float | None
    ci_high: float | None
    n_draws: int
    init_seeds: tuple[int, ...] = (0,)
    baseline_seeds: tuple[int, ...] = (0,)
    role: str = FLOOR

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "k": budget_json(self.k), "init_seeds": list(self.init_seeds), "baseline_seeds": list(self.baseline_seeds)}

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> Comparison:
        seeds = {name: tuple(values.get(name, (0,))) for name in ("init_seeds", "baseline_seeds")}
        return cls(**{**values, **seeds, "k": parse_budget(values["k"])})


class Scored(Protocol):
    """A job's result as :func:`compare` reads it (:class:`proxytask.records.JobRecord`)."""

    init: str
    mode: str
    k: int | None
    draw: int
    pretrain_seed: int

    def score(self, metric: str) -> float: ...


def compare(records: Sequence[Scored], init: str, baseline: str, mode: str, k: int | None, metric: str = "accuracy",
            init_seeds: tuple[int, ...] = (0,), baseline_seeds: tuple[int, ...] = (0,), role: str = FLOOR) -> Comparison | None:
    """``init`` (its mean over ``init_seeds``) minus ``baseline`` (over ``baseline_seeds``) over the draws
    where both have every seed asked for in (mode, k); None when they share none."""
    def scores(name: str, seeds: tuple[int, ...]) -> dict[int, float]:
        by_draw: dict[int, dict[int, float]] = {}
        for r in records:
            if r.init == name and r.mode == mode and r.k == k and r.pretrain_seed in seeds:
                by_draw.setdefault(r.draw, {})[r.pretrain_seed] = r.score(metric)
        return {draw: float(np.mean([found[s] for s in seeds])) for draw, found in by_draw.items() if len(found) == len(seeds)}

    ours, theirs = scores(init, init_seeds), scores(baseline, baseline_seeds)
    draws = sorted(set(ours) & set(theirs))
    if not draws:
        return None
    interval = paired_interval(ours[d] - theirs[d] for d in draws)
    return Comparison(init, baseline, mode, k, metric, interval.mean, interval.low, interval.high, interval.n,
                      tuple(init_seeds), tuple(baseline_seeds), role)


def interval_of(comparison: Comparison) -> Interval:
    return Interval(comparison.diff_mean, comparison.ci_low, comparison.ci_high, comparison.n_draws)


def format_interval(comparison: Comparison | None) -> str:
    """``+0.123 [+0.080, +0.166]``; a bare difference with one draw; ``-`` when absent."""
    if comparison is None:
        return "-"
    if comparison.ci_low is None:
        return f"{comparison.diff_mean:+.3f} (one draw)"
    return f"{comparison.diff_mean:+.3f} [{comparison.ci_low:+.3f}, {comparison.ci_high:+.3f}]"
