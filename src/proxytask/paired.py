"""Paired statistics over pretraining seeds and label draws (shared/docs/PROTOCOL.md, protocol 3).

Every init of a study sees the same label draws, and an init pretrained at S seeds is transferred on
each of its seeds, so the paired differences of an init and its baseline form an S x D array (seed
s of the init against seed s of the baseline, or against its only seed, on draw d). The model it
must cover is crossed: ``diff[s, d] = mu + a_s + b_d + e_sd``: a seed effect (the two pretraining
runs), a draw effect shared by every seed (the labels), and the rest.

:func:`hierarchical_interval` gives the 95% interval of ``mu`` from the two-way mean squares of the
array: the variance of the grand mean is estimated by ``(MS_seed + MS_draw) / (S D)`` with
Satterthwaite's degrees of freedom. Its expectation is ``sa^2/S + sb^2/D + 2 se^2/(S D)``, one
residual term above the true variance: the usual unbiased estimate subtracts ``MS_resid`` once, a
negative coefficient that makes Satterthwaite's degrees of freedom unreliable and, with two seeds
and no seed spread, covers 91% instead of 95%. The conservative form covers 94-97% over the cases
bench/interval_coverage.py simulates (docs/statistics.md). With one seed it is the paired
Student-t interval over the draws (it holds for that one pretraining run); with one draw there is
no interval. "Better" means the interval excludes zero; :meth:`Interval.detectable` is the
smallest difference the seeds and draws could detect (80% power, two-sided 5%).
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
POWER = 0.8
METRICS = ("accuracy", "macro_f1")
# What a comparison is for: against the random init on the same input, against the supervised
# ceiling; any other role names the variant set that pairs its members.
FLOOR, CEILING = "floor", "ceiling"


@dataclass(frozen=True)
class Interval:
    """A mean paired difference and its confidence interval (``low``/``high`` None with one draw).

    ``n``: draws, ``n_seeds``: seeds; ``seed_sd``, ``draw_sd``, ``residual_sd``: the estimated spread
    of each source (with one seed ``draw_sd`` is the spread over draws of everything, and the others
    are None); ``standard_error`` and ``df`` give the interval and the detectable difference.
    """

    mean: float
    low: float | None
    high: float | None
    n: int
    n_seeds: int = 1
    seed_sd: float | None = None
    draw_sd: float | None = None
    residual_sd: float | None = None
    standard_error: float | None = None
    df: float | None = None

    @property
    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)

    def contains(self, value: float) -> bool:
        return self.low is not None and self.high is not None and self.low <= value <= self.high

    def detectable(self, confidence: float = CONFIDENCE, power: float = POWER) -> float | None:
        """The smallest true difference a two-sided test at ``1 - confidence`` detects with ``power``,
        from the estimated spread: ``(t(1 - alpha/2) + t(power)) * standard_error``."""
        if self.standard_error is None or self.df is None:
            return None
        return float((stats.t.ppf(0.5 + confidence / 2, self.df) + stats.t.ppf(power, self.df)) * self.standard_error)


def paired_interval(differences: Iterable[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean of paired differences (one seed) with its Student-t interval; no interval from one difference."""
    values = np.asarray(list(differences), dtype=float)
    if len(values) == 0:
        raise ValueError("no paired differences")
    mean = float(values.mean())
    if len(values) < 2:
        return Interval(mean, None, None, 1)
    sd = float(values.std(ddof=1))
    error, df = sd / math.sqrt(len(values)), len(values) - 1
    return _interval(mean, error, df, confidence, len(values), 1, None, sd, None)


def _interval(mean: float, error: float, df: float, confidence: float, draws: int, seeds: int,
              seed_sd: float | None, draw_sd: float | None, residual_sd: float | None) -> Interval:
    half = float(stats.t.ppf(0.5 + confidence / 2, df) * error) if error > 0 else 0.0
    return Interval(mean, mean - half, mean + half, draws, seeds, seed_sd, draw_sd, residual_sd, error, df)


def hierarchical_interval(differences: np.ndarray, confidence: float = CONFIDENCE) -> Interval:
    """The interval of ``mu`` in ``diff[s, d] = mu + a_s + b_d + e_sd`` (module docstring).

    Args:
        differences: (seeds, draws) paired differences; draw d is the same labels in every row.
    """
    values = np.asarray(differences, dtype=float)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"paired differences must be a non-empty (seeds, draws) array, got shape {values.shape}")
    seeds, draws = values.shape
    if seeds == 1:
        return paired_interval(values[0], confidence)
    mean = float(values.mean())
    if draws == 1:
        return Interval(mean, None, None, 1, seeds)
    seed_means, draw_means = values.mean(axis=1), values.mean(axis=0)
    ms_seed = draws * float(((seed_means - mean) ** 2).sum()) / (seeds - 1)
    ms_draw = seeds * float(((draw_means - mean) ** 2).sum()) / (draws - 1)
    residual = values - seed_means[:, None] - draw_means[None, :] + mean
    ms_residual = float((residual ** 2).sum()) / ((seeds - 1) * (draws - 1))
    pooled = ms_seed + ms_draw
    if pooled > 0:
        error, df = math.sqrt(pooled / (seeds * draws)), pooled ** 2 / (ms_seed ** 2 / (seeds - 1) + ms_draw ** 2 / (draws - 1))
    else:  # seed and draw means all equal: only the rest varies (its expectation is a lower bound of each mean square)
        error, df = math.sqrt(2 * ms_residual / (seeds * draws)), (seeds - 1) * (draws - 1)
    return _interval(mean, error, df, confidence, draws, seeds, math.sqrt(max(0.0, (ms_seed - ms_residual) / draws)),
                     math.sqrt(max(0.0, (ms_draw - ms_residual) / seeds)), math.sqrt(ms_residual))


def ratio_interval(numerator: np.ndarray, denominator: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float] | None:
    """A ratio of two paired means with its Fieller interval: ``rho`` is inside when the
    :func:`hierarchical_interval` of ``numerator - rho * denominator`` contains zero, its degrees of
    freedom held at those of the point estimate (so the set is one interval, the roots of a quadratic:
    the variance of ``numerator - rho * denominator`` is quadratic in ``rho``).

    Both (seeds, draws), paired cell by cell. Returns (estimate, low, high), or None where the set is
    not a bounded interval (the denominator is not told apart from zero) or there is no interval.
    """
    top, bottom = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if top.shape != bottom.shape:
        raise ValueError(f"numerator {top.shape} and denominator {bottom.shape} must pair cell by cell")
    if not hierarchical_interval(bottom, confidence).excludes_zero:
        return None
    estimate = float(top.mean() / bottom.mean())
    at_estimate = hierarchical_interval(top - estimate * bottom, confidence)
    t = float(stats.t.ppf(0.5 + confidence / 2, at_estimate.df))
    variance = {rho: hierarchical_interval(top - rho * bottom, confidence).standard_error ** 2 for rho in (-1.0, 0.0, 1.0)}
    square, linear, constant = (variance[1.0] + variance[-1.0]) / 2 - variance[0.0], (variance[1.0] - variance[-1.0]) / 2, variance[0.0]
    mean_top, mean_bottom = float(top.mean()), float(bottom.mean())
    a = mean_bottom ** 2 - t * t * square  # (top - rho bottom)^2 - t^2 V(rho) <= 0, as a rho^2 + b rho + c <= 0
    b = -2 * mean_top * mean_bottom - t * t * linear
    c = mean_top ** 2 - t * t * constant
    discriminant = b * b - 4 * a * c
    if a <= 0 or discriminant < 0:
        return None
    root = math.sqrt(discriminant)
    return estimate, (-b - root) / (2 * a), (-b + root) / (2 * a)


@dataclass(frozen=True)
class Comparison:
    """One entry of results.json's ``comparisons``: ``init`` minus ``baseline`` in one mode and budget,
    over ``init_seeds`` and ``baseline_seeds`` (paired by position, or against the one seed of a side
    that has one) and ``n_draws`` draws; ``role``: :data:`FLOOR`, :data:`CEILING`, or the name of the
    variant set that asks for it. ``seed_sd``, ``draw_sd``, ``residual_sd``: the estimated spread of
    each source; ``detectable``: the smallest difference its seeds and draws could detect."""

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
    n_seeds: int = 1
    seed_sd: float | None = None
    draw_sd: float | None = None
    residual_sd: float | None = None
    detectable: float | None = None
    standard_error: float | None = None
    df: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "k": budget_json(self.k), "init_seeds": list(self.init_seeds), "baseline_seeds": list(self.baseline_seeds),
                "df": None if self.df is None or math.isinf(self.df) else self.df}

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> Comparison:
        """From results.json; one written before protocol 3 has no spreads, and as many seed rows as its seeds pair into."""
        seeds = {name: tuple(values.get(name, (0,))) for name in ("init_seeds", "baseline_seeds")}
        rows = len(seed_pairs(seeds["init_seeds"], seeds["baseline_seeds"]))
        return cls(**{"n_seeds": rows, **values, **seeds, "k": parse_budget(values["k"])})

    @property
    def interval(self) -> Interval:
        return Interval(self.diff_mean, self.ci_low, self.ci_high, self.n_draws, self.n_seeds, self.seed_sd, self.draw_sd,
                        self.residual_sd, self.standard_error, self.df)


class Scored(Protocol):
    """A job's result as :func:`compare` reads it (:class:`proxytask.records.JobRecord`)."""

    init: str
    mode: str
    k: int | None
    draw: int
    pretrain_seed: int

    def score(self, metric: str) -> float: ...


def seed_pairs(init_seeds: Sequence[int], baseline_seeds: Sequence[int]) -> list[tuple[int, int]]:
    """The rows of a comparison: seed pairs by position, or every seed of one side against the one
    seed of the other (a ValueError for two different counts above one)."""
    if len(init_seeds) == len(baseline_seeds):
        return list(zip(init_seeds, baseline_seeds, strict=True))
    if len(baseline_seeds) == 1:
        return [(seed, baseline_seeds[0]) for seed in init_seeds]
    if len(init_seeds) == 1:
        return [(init_seeds[0], seed) for seed in baseline_seeds]
    raise ValueError(f"cannot pair {len(init_seeds)} seeds with {len(baseline_seeds)}")


def _scores(records: Sequence[Scored], mode: str, k: int | None, metric: str) -> dict[tuple[str, int], dict[int, float]]:
    """(init, pretraining seed) -> draw -> score of the records in (mode, k)."""
    scores: dict[tuple[str, int], dict[int, float]] = {}
    for r in records:
        if r.mode == mode and r.k == k:
            scores.setdefault((r.init, r.pretrain_seed), {})[r.draw] = r.score(metric)
    return scores


def score_table(records: Sequence[Scored], init: str, mode: str, k: int | None, metric: str = "accuracy",
                seeds: Sequence[int] = (0,)) -> tuple[np.ndarray, list[int]]:
    """(seeds, draws) scores of ``init`` in (mode, k) over the draws every seed has, and those draws;
    :func:`hierarchical_interval` of it is the interval of the init's mean score."""
    scores = _scores(records, mode, k, metric)
    tables = [scores.get((init, seed), {}) for seed in seeds]
    draws = sorted(set.intersection(*(set(table) for table in tables))) if tables else []
    return np.array([[table[d] for d in draws] for table in tables], dtype=float).reshape(len(tables), len(draws)), draws


def differences(records: Sequence[Scored], init: str, baseline: str, mode: str, k: int | None, metric: str = "accuracy",
                init_seeds: Sequence[int] = (0,), baseline_seeds: Sequence[int] = (0,)) -> tuple[np.ndarray, list[int]]:
    """(seeds, draws) paired differences over the draws every seed of both sides has in (mode, k), and
    those draws; (S, 0) if none."""
    scores = _scores(records, mode, k, metric)
    pairs = seed_pairs(tuple(init_seeds), tuple(baseline_seeds))
    tables = [(scores.get((init, ours), {}), scores.get((baseline, theirs), {})) for ours, theirs in pairs]
    draws = sorted(set.intersection(*(set(a) & set(b) for a, b in tables)))
    return np.array([[a[d] - b[d] for d in draws] for a, b in tables], dtype=float).reshape(len(pairs), len(draws)), draws


def compare(records: Sequence[Scored], init: str, baseline: str, mode: str, k: int | None, metric: str = "accuracy",
            init_seeds: tuple[int, ...] = (0,), baseline_seeds: tuple[int, ...] = (0,), role: str = FLOOR) -> Comparison | None:
    """``init`` minus ``baseline`` over their seeds and the draws both have at every seed in (mode, k),
    with its :func:`hierarchical_interval`; None when they share no draw."""
    table, _ = differences(records, init, baseline, mode, k, metric, init_seeds, baseline_seeds)
    if table.shape[1] == 0:
        return None
    interval = hierarchical_interval(table)
    return Comparison(init, baseline, mode, k, metric, interval.mean, interval.low, interval.high, interval.n,
                      tuple(init_seeds), tuple(baseline_seeds), role, interval.n_seeds, interval.seed_sd, interval.draw_sd,
                      interval.residual_sd, interval.detectable(), interval.standard_error, interval.df)


def format_interval(comparison: Comparison | None) -> str:
    """``+0.123 [+0.080, +0.166]``; a bare difference with one draw; ``-`` when absent."""
    if comparison is None:
        return "-"
    if comparison.ci_low is None:
        return f"{comparison.diff_mean:+.3f} (one draw)"
    return f"{comparison.diff_mean:+.3f} [{comparison.ci_low:+.3f}, {comparison.ci_high:+.3f}]"
