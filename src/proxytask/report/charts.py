"""What each figure of the report shows: the study's numbers turned into panels, curves and forest rows
(drawn by :mod:`proxytask.report.figures`), with the caption that says what the error bars are."""

from __future__ import annotations

from pathlib import Path

from proxytask.budgets import Budget, budget_name
from proxytask.files import printable
from proxytask.paired import FLOOR, Interval, hierarchical_interval, score_table
from proxytask.records import ResultRow, StudyResults
from proxytask.report.document import Figure
from proxytask.report.figures import Curve, ForestRow, Panel, draw_budget_grid, draw_forest, save_png
from proxytask.report.summary import SUPERVISED
from proxytask.transfer.baselines import EIGENFACES
from proxytask.transfer.inits import RANDOM
from proxytask.transfer.metrics import trivial_scores
from proxytask.transfer.modes import EIGENFACES_MODE, FINETUNE, MODES

METRIC_WORDS = {"accuracy": "test accuracy", "macro_f1": "test macro-F1"}
# Above this many proxy tasks, each proxy gets its own panel (with its random init and supervised) instead of one line among many.
LINES_PER_PANEL = 2
INTERVAL_CAPTION = ("Error bars: 95% interval of each mean over its pretraining seeds and label draws (the two-way "
                    "interval of the paired tables, here of one init's scores: unpaired, so overlapping bars can still "
                    "differ; the forest plots show the paired differences).")


def score_interval(study: StudyResults, init: str, mode: str, k: Budget, metric: str = "accuracy") -> Interval | None:
    """The mean ``metric`` of ``init`` in (mode, k) over its seeds and the draws they share, with its
    95% interval (none with one draw); None without jobs."""
    scores, draws = score_table(study.jobs, init, mode, k, metric, study.seeds_of(init))
    return hierarchical_interval(scores) if draws else None


def split_counts(study: StudyResults) -> dict[str, int]:
    """Test images per class (every job scores the same test split), from a job's per-class report."""
    per_class = next((job.details["per_class"] for job in study.jobs if "per_class" in job.details), None)
    if per_class is None:
        return {}
    return {name: int(per_class[name]["support"]) for name in study.downstream["classes"]}


def references(study: StudyResults, metric: str) -> dict[str, float]:
    """The scores of the predictors that read no picture, named for the legend (the largest class's name included)."""
    counts = split_counts(study)
    if not counts:
        return {}
    largest = printable(max(counts, key=counts.get)).replace("_", " ")
    column = 0 if metric == "accuracy" else 1
    named = {name.replace("the largest class", largest): scores[column] for name, scores in trivial_scores(counts).items()}
    return {f"{name} ({score:.2f})": score for name, score in named.items()}


def _curve(study: StudyResults, init: str, mode: str, budgets: list[Budget], metric: str, label: str | None = None) -> Curve | None:
    """``init``'s mean ``metric`` with its interval at each budget it has in ``mode``; None at none."""
    points = {k: found for k in budgets if (found := score_interval(study, init, mode, k, metric)) is not None}
    return Curve(init, label or init, points) if points else None


def _floor_name(study: StudyResults, init: str, mode: str) -> str:
    """The random init ``init`` is compared with in ``mode`` (its input's), at any budget."""
    return next((c.baseline for c in study.comparisons if c.init == init and c.mode == mode and c.role == FLOOR), RANDOM)


def budget_figures(study: StudyResults, rows: list[ResultRow], proxies: list[str], out: Path) -> list[Figure]:
    """Score against labels per class. Few proxies: one figure per metric, a panel per mode, every init a
    line. More: one figure per mode (accuracy), a panel per proxy beside its random init and supervised."""
    budgets = study.budgets
    modes = [mode for mode in MODES if any(r.mode == mode for r in rows) and mode != EIGENFACES_MODE]
    figures = []
    if len(proxies) <= LINES_PER_PANEL:
        for metric in ("accuracy", "macro_f1"):
            panels = []
            for mode in modes:
                inits = list(dict.fromkeys(r.init for r in rows if r.mode == mode))
                curves = [c for init in inits if (c := _curve(study, init, mode, budgets, metric)) is not None]
                if mode == FINETUNE and (eigen := _curve(study, EIGENFACES, EIGENFACES_MODE, budgets, metric, "eigenfaces + SVM")):
                    curves.append(eigen)
                panels.append(Panel(MODES[mode].stage, curves, references(study, metric)))
            if not panels:
                return []
            path = out / f"budgets_{metric}.png"
            save_png(draw_budget_grid(panels, budgets, METRIC_WORDS[metric], f"{METRIC_WORDS[metric]} against labels per class"), path)
            figures.append(Figure(path, f"{METRIC_WORDS[metric].capitalize()} against labeled images per class, one panel per "
                                        f"transfer mode; dotted: predictors that read no picture. {INTERVAL_CAPTION}"))
        return figures
    for mode in modes:
        panels = []
        for proxy in proxies:
            names = [(proxy, proxy), (_floor_name(study, proxy, mode), None), (SUPERVISED, None)]
            curves = [c for name, label in names if (c := _curve(study, name, mode, budgets, "accuracy", label)) is not None]
            panels.append(Panel(proxy, curves, references(study, "accuracy")))
        path = out / f"budgets_{mode}.png"
        save_png(draw_budget_grid(panels, budgets, "test accuracy", f"{MODES[mode].stage}: test accuracy against labels per class"), path)
        figures.append(Figure(path, f"{MODES[mode].stage.capitalize()}: test accuracy against labeled images per class, one panel "
                                    f"per proxy task beside its random init and supervised pretraining; dotted: predictors that "
                                    f"read no picture. {INTERVAL_CAPTION}"))
    return figures


def forest_figure(study: StudyResults, inits: list[str], mode: str, out: Path) -> Figure | None:
    """Every init's paired difference in accuracy (points) against its random init and against supervised,
    one panel per budget and baseline; None where ``mode`` has no comparison."""
    panels = []
    budgets = [k for k in study.budgets if any(c.mode == mode and c.k == k for c in study.comparisons)]
    for role, title in ((FLOOR, "minus random init"), ("ceiling", "minus supervised")):
        for k in budgets:
            entries = []
            for init in inits:
                found = study.floor(init, mode, k) if role == FLOOR else (
                    study.comparison(init, SUPERVISED, mode, k) if init != SUPERVISED else None)
                if found is None:
                    continue
                label = init + ("" if role != FLOOR or found.baseline == RANDOM else f" (vs {found.baseline})")
                scaled = Interval(100 * found.diff_mean, None if found.ci_low is None else 100 * found.ci_low,
                                  None if found.ci_high is None else 100 * found.ci_high, found.n_draws)
                entries.append(ForestRow(init, label, scaled, found.interval.excludes_zero))
            if entries:
                panels.append((f"k={budget_name(k)}: {title}", entries))
    if not panels:
        return None
    path = out / f"forest_{mode}.png"
    columns = max(1, len(budgets))
    ceiling = any(title.endswith("minus supervised") for title, _ in panels)
    save_png(draw_forest(panels, columns, "paired difference in test accuracy (percentage points)",
                         f"{MODES[mode].stage}: each init minus random init" + (" (top) and minus supervised (bottom)" if ceiling else "")), path)
    own = sorted({row.label for _, rows in panels for row in rows if " (vs " in row.label})
    return Figure(path, f"{MODES[mode].stage.capitalize()}: paired differences in test accuracy with their 95% intervals over "
                        "pretraining seeds and label draws; filled: the interval excludes zero (told apart), hollow: not shown, "
                        "a cross: one draw, no interval." + (f" Compared with the random init reading their own input: {', '.join(own)}."
                                                            if own else ""))

