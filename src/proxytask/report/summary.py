"""Headline numbers of a study: the share of the random-to-supervised gap a proxy task closes."""

from __future__ import annotations

import math
from typing import Any

from proxytask.tasks.supervised import Supervised
from proxytask.transfer.inits import RANDOM, RANDOM_RGB

SUPERVISED = Supervised.name


def budget_keys(names: list[str]) -> list[Any]:
    """Budget names from a config (``"10"``, ``"all"``) as result rows hold them in ``k``: ints, or ``"all"``."""
    return [name if name == "all" else int(name) for name in names]


def find(results: list[dict[str, Any]], init: str, mode: str, k: Any) -> dict[str, Any] | None:
    """The aggregated row of (init, mode, k), or None."""
    return next((r for r in results if r["init"] == init and r["mode"] == mode and r["k"] == k), None)


def gap_closed(proxy: float, random: float, supervised: float) -> float | None:
    """``(proxy - random) / (supervised - random)``; None when supervised does not beat random."""
    gap = supervised - random
    return (proxy - random) / gap if gap > 0 else None


def margin_in_stds(row: dict[str, Any], baseline: dict[str, Any], metric: str) -> float | None:
    """(row - baseline) in units of the larger of the two draws' standard deviations; None without spread."""
    spread = max(row[f"{metric}_std"], baseline[f"{metric}_std"])
    if spread == 0:
        return None
    return (row[f"{metric}_mean"] - baseline[f"{metric}_mean"]) / spread


def random_baseline(results: list[dict[str, Any]], proxy: str) -> str:
    """The random init with the proxy's input: ``random`` (intensity) or ``random-rgb``."""
    proxy_input = next((r["input"] for r in results if r["init"] == proxy), None)
    rgb_input = next((r["input"] for r in results if r["init"] == RANDOM_RGB), None)
    return RANDOM_RGB if proxy_input is not None and proxy_input == rgb_input else RANDOM


def headline(results: list[dict[str, Any]], proxies: list[str], budgets: list[Any], mode: str = "finetune") -> list[dict[str, Any]]:
    """Per proxy task and budget: gap closed on accuracy and macro-F1, and its margin over the random
    init with the same input."""
    rows = []
    for proxy in proxies:
        baseline = random_baseline(results, proxy)
        for k in budgets:
            proxy_row, random_row, supervised_row = (find(results, name, mode, k) for name in (proxy, baseline, SUPERVISED))
            if proxy_row is None or random_row is None:
                continue
            row: dict[str, Any] = {"task": proxy, "k": k, "random": baseline}
            for metric in ("accuracy", "macro_f1"):
                closed = None
                if supervised_row is not None:
                    closed = gap_closed(proxy_row[f"{metric}_mean"], random_row[f"{metric}_mean"], supervised_row[f"{metric}_mean"])
                row[f"gap_closed_{metric}"] = closed
                row[f"margin_over_random_{metric}_stds"] = margin_in_stds(proxy_row, random_row, metric)
            rows.append(row)
    return rows


def winners(results: list[dict[str, Any]], proxies: list[str], budgets: list[Any], mode: str = "finetune") -> list[dict[str, Any]]:
    """Per budget: the proxy task with the highest mean accuracy, the runner-up, and the gap between
    them in units of the larger standard deviation (None with one draw)."""
    rows = []
    for k in budgets:
        ranked = sorted((row for row in (find(results, p, mode, k) for p in proxies) if row is not None),
                        key=lambda row: row["accuracy_mean"], reverse=True)
        if len(ranked) < 2:
            continue
        best, second = ranked[0], ranked[1]
        rows.append({"k": k, "best": best["init"], "best_accuracy": f"{best['accuracy_mean']:.3f}",
                     "runner_up": second["init"], "runner_up_accuracy": f"{second['accuracy_mean']:.3f}",
                     "margin_stds": margin_in_stds(best, second, "accuracy")})
    return rows


def format_share(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.0%}"


def format_cell(row: dict[str, Any] | None) -> str:
    """``accuracy ± std / macro-F1 ± std`` of an aggregated row (no spread for one draw); ``-`` when absent."""
    if row is None:
        return "-"
    spread = f" ± {row['accuracy_std']:.3f}" if row["n_draws"] > 1 else ""
    f1_spread = f" ± {row['macro_f1_std']:.3f}" if row["n_draws"] > 1 else ""
    return f"{row['accuracy_mean']:.3f}{spread} / {row['macro_f1_mean']:.3f}{f1_spread}"
