"""Headline numbers of a study: paired differences to random init and to supervised pretraining,
the share of the gap closed (where the gap itself is significant), and which proxy task wins."""

from __future__ import annotations

import math
from typing import Any

from proxytask.paired import Comparison, compare, interval_of
from proxytask.tasks.supervised import Supervised
from proxytask.transfer.inits import RANDOM

SUPERVISED = Supervised.name
SATURATED = "saturated"
ONE_DRAW = "n/a (one draw)"
CEILING_BELOW = "n/a (supervised below random)"


def budget_keys(names: list[str]) -> list[Any]:
    """Budget names from a config (``"10"``, ``"all"``) as result rows hold them in ``k``: ints, or ``"all"``."""
    return [name if name == "all" else int(name) for name in names]


def find(results: list[dict[str, Any]], init: str, mode: str, k: Any) -> dict[str, Any] | None:
    """The aggregated row of (init, mode, k), or None."""
    return next((r for r in results if r["init"] == init and r["mode"] == mode and r["k"] == k), None)


def find_comparison(comparisons: list[dict[str, Any]], init: str, baseline: str, mode: str, k: Any,
                    metric: str = "accuracy") -> Comparison | None:
    """The paired comparison of ``init`` against ``baseline`` in results.json's ``comparisons``, or None."""
    entry = next((c for c in comparisons if (c["init"], c["baseline"], c["mode"], c["k"], c["metric"]) == (init, baseline, mode, k, metric)), None)
    return Comparison(**entry) if entry is not None else None


def gap_closed(proxy: float, random: float, supervised: float) -> float | None:
    """``(proxy - random) / (supervised - random)``; None when supervised does not beat random."""
    gap = supervised - random
    return (proxy - random) / gap if gap > 0 else None


def gap_state(comparisons: list[dict[str, Any]], mode: str, k: Any, metric: str = "accuracy") -> str | None:
    """None where supervised beats random significantly (the gap-closed share means something), else why not:
    one draw (no interval), the interval includes zero (saturated), or supervised is significantly worse."""
    gap = find_comparison(comparisons, SUPERVISED, RANDOM, mode, k, metric)
    if gap is None or gap.ci_low is None:
        return ONE_DRAW
    if gap.ci_high is not None and gap.ci_high < 0:
        return CEILING_BELOW
    return None if gap.ci_low > 0 else SATURATED


def headline(results: list[dict[str, Any]], comparisons: list[dict[str, Any]], proxies: list[str], budgets: list[Any],
             mode: str = "finetune") -> list[dict[str, Any]]:
    """Per proxy task and budget: its paired difference to random init and to supervised, and the
    share of the gap it closes, shown only where supervised beats random significantly."""
    rows = []
    for proxy in proxies:
        for k in budgets:
            proxy_row, random_row, supervised_row = (find(results, name, mode, k) for name in (proxy, RANDOM, SUPERVISED))
            if proxy_row is None:
                continue
            row: dict[str, Any] = {"task": proxy, "k": k, "proxy": proxy_row, "random": random_row, "supervised": supervised_row,
                                   "vs_random": find_comparison(comparisons, proxy, RANDOM, mode, k),
                                   "vs_supervised": find_comparison(comparisons, proxy, SUPERVISED, mode, k)}
            for metric in ("accuracy", "macro_f1"):
                closed: float | str | None = None
                if supervised_row is not None and random_row is not None:
                    closed = gap_state(comparisons, mode, k, metric) or gap_closed(
                        proxy_row[f"{metric}_mean"], random_row[f"{metric}_mean"], supervised_row[f"{metric}_mean"])
                row[f"gap_closed_{metric}"] = closed
            rows.append(row)
    return rows


def winners(jobs: list[dict[str, Any]], results: list[dict[str, Any]], proxies: list[str], budgets: list[Any],
            mode: str = "finetune") -> list[dict[str, Any]]:
    """Per budget: the proxy task with the highest mean accuracy, the runner-up, and their paired
    difference with its 95% interval (does it exclude zero?)."""
    rows = []
    for k in budgets:
        ranked = sorted((row for row in (find(results, p, mode, k) for p in proxies) if row is not None),
                        key=lambda row: row["accuracy_mean"], reverse=True)
        if len(ranked) < 2:
            continue
        best, second = ranked[0], ranked[1]
        difference = compare(jobs, best["init"], second["init"], mode, k)
        rows.append({"k": k, "best": best["init"], "best_accuracy": best["accuracy_mean"],
                     "runner_up": second["init"], "runner_up_accuracy": second["accuracy_mean"], "difference": difference,
                     "settled": difference is not None and interval_of(difference).excludes_zero})
    return rows


def format_share(value: float | str | None) -> str:
    if isinstance(value, str):
        return value
    return "n/a" if value is None or math.isnan(value) else f"{value:.0%}"


def format_cell(row: dict[str, Any] | None) -> str:
    """``accuracy ± std / macro-F1 ± std`` of an aggregated row (no spread for one draw); ``-`` when absent.

    A row with collapsed jobs (one predicted class, or a loss that never fell) is marked ``!n``.
    """
    if row is None:
        return "-"
    spread = f" ± {row['accuracy_std']:.3f}" if row["n_draws"] > 1 else ""
    f1_spread = f" ± {row['macro_f1_std']:.3f}" if row["n_draws"] > 1 else ""
    flag = f" !{row['degenerate']}" if row.get("degenerate") else ""
    return f"{row['accuracy_mean']:.3f}{spread} / {row['macro_f1_mean']:.3f}{f1_spread}{flag}"

