"""The study's figures, drawn for slides (16:9, legends outside the data, one colour per init from
:mod:`proxytask.report.colors`) and written as PNG files (matplotlib, no display).

Each ``draw_*`` function returns the matplotlib figure; :func:`save_png` writes and closes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure as PlotFigure  # noqa: E402

from proxytask.budgets import Budget, budget_name  # noqa: E402
from proxytask.files import (
    printable,
    write_atomic,  # noqa: E402
)
from proxytask.paired import Interval  # noqa: E402
from proxytask.records import FeatureChangeRecord  # noqa: E402
from proxytask.report.colors import init_color  # noqa: E402
from proxytask.runlog import read_log  # noqa: E402
from proxytask.runs import RunFolder  # noqa: E402

SLIDE = (12.8, 7.2)  # inches: 16:9, 1920 x 1080 px at PNG_DPI
PNG_DPI = 150
REFERENCE_STYLE = {"color": "#444444", "linewidth": 1.0}
REFERENCE_LINESTYLES = (":", "-.")
FOREST_MARGIN = 0.18  # of the values' span, left and right of a forest plot
ALL_GAP = 0.35  # the all-labels point sits this far (in decades) right of the largest budget


@dataclass(frozen=True)
class Curve:
    """One init's line in a panel: its colour comes from ``init``, its legend entry is ``label``, its
    ``points`` map an x value (a budget, or a pretraining measure) to the score's interval."""

    init: str
    label: str
    points: dict[Any, Interval]
    linestyle: str = "-"


@dataclass(frozen=True)
class Panel:
    """One axis of a small-multiples figure: its curves and reference lines (label -> score)."""

    title: str
    curves: list[Curve]
    references: dict[str, float]


@dataclass(frozen=True)
class ForestRow:
    """One paired difference in a forest plot (in the plot's unit), and whether its interval excludes zero."""

    init: str
    label: str
    difference: Interval
    told_apart: bool


def save_png(figure: PlotFigure, path: Path) -> None:
    """Write ``figure`` to ``path`` (atomically) and close it."""
    write_atomic(path, lambda tmp: figure.savefig(tmp, format="png", dpi=PNG_DPI))
    plt.close(figure)


def _grid(count: int, max_columns: int = 4) -> tuple[int, int]:
    columns = min(count, max_columns)
    return math.ceil(count / columns), columns


def _error_bars(intervals: list[Interval]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Means and matplotlib's (below, above) error lengths of ``intervals`` (none where there is no interval)."""
    means = np.array([i.mean for i in intervals])
    low = np.array([i.low if i.low is not None else i.mean for i in intervals])
    high = np.array([i.high if i.high is not None else i.mean for i in intervals])
    return means, [means - low, high - means]


def budget_positions(budgets: list[Budget]) -> dict[Budget, float]:
    """Where each budget sits on the x axis: labels per class on a log scale, all labels after a gap."""
    numeric = [k for k in budgets if k is not None]
    positions = {k: math.log10(k) for k in numeric}
    if None in budgets:
        positions[None] = (max(positions.values()) + ALL_GAP) if numeric else 0.0
    return positions


def draw_budget_grid(panels: list[Panel], budgets: list[Budget], ylabel: str, suptitle: str) -> PlotFigure:
    """Small multiples of score against labels per class: one panel per entry of ``panels``, each init
    in its colour with its 95% interval as error bars, the reference lines dotted, one legend below."""
    rows, columns = _grid(len(panels))
    figure, axes = plt.subplots(rows, columns, figsize=SLIDE, squeeze=False, sharey=True, layout="constrained")
    positions = budget_positions(budgets)
    handles: dict[str, object] = {}
    reference_handles: dict[str, object] = {}
    for axis, panel in zip(axes.flat, panels):
        for curve in panel.curves:
            present = [k for k in budgets if k in curve.points]
            means, errors = _error_bars([curve.points[k] for k in present])
            handles[curve.label] = axis.errorbar([positions[k] for k in present], means, yerr=errors,
                                                 color=init_color(curve.init), linestyle=curve.linestyle, marker="o", capsize=3,
                                                 label=curve.label)
        for (label, value), style in zip(panel.references.items(), REFERENCE_LINESTYLES):
            reference_handles[label] = axis.axhline(value, linestyle=style, label=label, **REFERENCE_STYLE)
        axis.set_title(panel.title, fontsize=11)
        axis.set_xticks([positions[k] for k in budgets], [budget_name(k) if k is not None else "all labels" for k in budgets])
        axis.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        axis.set_xlim(min(positions.values()) - 0.15, max(positions.values()) + 0.15)
        axis.set_xlabel("labeled images per class")
        axis.grid(alpha=0.3)
    for axis in axes[:, 0]:
        axis.set_ylabel(ylabel)
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    handles.update(reference_handles)  # the inits first, then the lines that read no picture
    figure.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=min(len(handles), 6), fontsize=9, frameon=False)
    figure.suptitle(suptitle, fontsize=12)
    return figure


def draw_forest(panels: list[tuple[str, list[ForestRow]]], columns: int, xlabel: str, suptitle: str) -> PlotFigure:
    """A forest plot per panel, all on one x scale: each row's paired difference with its 95% interval
    (written above it), zero marked; filled where the interval excludes zero, hollow where it does not,
    a cross where there is no interval (one draw); ``columns`` panels per row."""
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=SLIDE, squeeze=False, sharex=True, layout="constrained")
    for axis, (title, entries) in zip(axes.flat, panels):
        for y, entry in enumerate(reversed(entries)):
            color, point = init_color(entry.init), entry.difference
            if point.low is None or point.high is None:
                axis.plot([point.mean], [y], marker="x", markersize=9, color=color, linestyle="none")
                text = f"{point.mean:+.1f} (one draw)"
            else:
                axis.plot([point.low, point.high], [y, y], color=color, linewidth=2.2, solid_capstyle="butt")
                axis.plot([point.mean], [y], marker="o", markersize=8, color=color, markeredgecolor=color,
                          markerfacecolor=color if entry.told_apart else "white", linestyle="none")
                text = f"{point.mean:+.1f} [{point.low:+.1f}, {point.high:+.1f}]"
            axis.annotate(text, (point.mean, y), xytext=(0, 7), textcoords="offset points", ha="center", fontsize=8, color="#333333")
        axis.axvline(0.0, color="black", linewidth=1.0)
        axis.set_yticks(range(len(entries)), [entry.label for entry in reversed(entries)], fontsize=9)
        axis.set_ylim(-0.7, len(entries) - 0.3)
        axis.set_title(title, fontsize=11)
        axis.set_xlabel(xlabel, fontsize=9)
        axis.grid(alpha=0.3, axis="x")
    ends = [v for _, entries in panels for e in entries for v in (e.difference.low, e.difference.mean, e.difference.high)
            if v is not None] + [0.0]
    span = (max(ends) - min(ends)) or 1.0
    axes.flat[0].set_xlim(min(ends) - FOREST_MARGIN * span, max(ends) + FOREST_MARGIN * span)  # room for the written values
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    figure.suptitle(suptitle, fontsize=12)
    return figure


def draw_confusion(confusion: np.ndarray, class_names: list[str], title: str) -> PlotFigure:
    """Row-normalized confusion matrix (rows: true class) with counts."""
    totals = confusion.sum(axis=1, keepdims=True)
    shares = confusion / np.maximum(totals, 1)
    figure, axis = plt.subplots(figsize=SLIDE, layout="constrained")
    image = axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (row, column), count in np.ndenumerate(confusion):
        axis.text(column, row, str(count), ha="center", va="center", fontsize=10,
                  color="white" if shares[row, column] > 0.5 else "black")
    short = [printable(name).replace("_", " ") for name in class_names]  # matplotlib draws no byte of a name that is not UTF-8
    axis.set_xticks(range(len(short)), short, rotation=30, ha="right", fontsize=10)
    axis.set_yticks(range(len(short)), short, fontsize=10)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title, fontsize=12)
    figure.colorbar(image, ax=axis, label="share of the true class's test images")
    return figure


def draw_loss_curves(runs: dict[str, list[tuple[int, RunFolder]]]) -> PlotFigure:
    """Training loss against step, one panel per init (its own scale), one line per pretraining seed."""
    rows, columns = _grid(len(runs))
    figure, axes = plt.subplots(rows, columns, figsize=SLIDE, squeeze=False, layout="constrained")
    for axis, (name, seeds) in zip(axes.flat, runs.items()):
        for (seed, run), style in zip(seeds, ("-", "--", ":", "-.") * len(seeds)):
            log = read_log(run.log)
            axis.plot([r["step"] for r in log], [r["loss"] for r in log], color=init_color(name), linestyle=style, linewidth=1.2,
                      label=f"seed {seed}")
        axis.set_title(name, fontsize=11)
        axis.set_xlabel("step", fontsize=9)
        axis.set_ylabel("training loss", fontsize=9)
        axis.grid(alpha=0.3)
        if len(seeds) > 1:
            axis.legend(fontsize=8, frameon=False)
    for axis in list(axes.flat)[len(runs):]:
        axis.set_visible(False)
    figure.suptitle("Pretraining loss (each task on its own scale)", fontsize=12)
    return figure


def draw_bars(panels: list[tuple[str, list[tuple[str, str, Interval, Interval]], float | None]], reference: str) -> PlotFigure:
    """One panel per budget (title, members, reference score): per member (init, label, fine-tuned and
    linear-probe accuracy) a solid and a hatched bar with their 95% intervals; the panel's reference
    score (named ``reference``) as a dashed line."""
    figure, axes = plt.subplots(1, len(panels), figsize=SLIDE, squeeze=False, sharey=True, layout="constrained")
    for axis, (title, members, score) in zip(axes[0], panels):
        positions = np.arange(len(members))
        for offset, index, hatch, label in ((-0.2, 2, None, "fine-tuned"), (0.2, 3, "//", "linear probe")):
            means, errors = _error_bars([member[index] for member in members])
            colors = [init_color(member[0]) for member in members]
            axis.bar(positions + offset, means, 0.4, yerr=errors, capsize=3, hatch=hatch,
                     color=colors if hatch is None else "white", edgecolor=colors, label=label)
        if score is not None:
            axis.axhline(score, color="gray", linestyle="--", label=reference)
        axis.set_xticks(positions, [member[1] for member in members], rotation=20, ha="right", fontsize=9)
        axis.set_title(title, fontsize=11)
        axis.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("test accuracy")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False)
    return figure


def draw_measure_curve(panels: list[tuple[str, list[Curve], float | None]], ticks: list[float], measure: str,
                       reference: str) -> PlotFigure:
    """One panel per budget (title, curves, reference score): accuracy against a pretraining ``measure``
    (log scale, ``ticks`` marked), each curve's points keyed by the measure's value; the reference score
    (named ``reference``) dotted."""
    figure, axes = plt.subplots(1, len(panels), figsize=SLIDE, squeeze=False, sharey=True, layout="constrained")
    for axis, (title, curves, score) in zip(axes[0], panels):
        for curve in curves:
            xs = sorted(curve.points)
            means, errors = _error_bars([curve.points[x] for x in xs])
            axis.errorbar(xs, means, yerr=errors, color=init_color(curve.init), linestyle=curve.linestyle,
                          marker="o", capsize=3, label=curve.label)
        if score is not None:
            axis.axhline(score, color="gray", linestyle=":", label=reference)
        axis.set_xscale("log")
        axis.set_xticks(ticks, [f"{n:g}" for n in ticks], minor=False)
        axis.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        axis.set_xlabel(measure)
        axis.set_title(title, fontsize=11)
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False)
    return figure


def draw_feature_change(records: list[FeatureChangeRecord]) -> PlotFigure:
    """Relative weight change and CKA against stage, one line per (init, seed, k) record in its init's colour."""
    figure, axes = plt.subplots(1, 2, figsize=SLIDE, layout="constrained")
    several_budgets, several_seeds = len({r.k for r in records}) > 1, len({r.pretrain_seed for r in records}) > 1
    styles: dict[str, int] = {}
    for record in records:
        stages = np.arange(1, record.stages + 1)
        label = (record.init + (f" seed {record.pretrain_seed}" if several_seeds else "")
                 + (f" (k={budget_name(record.k)})" if several_budgets else ""))
        style = ("-", "--", ":", "-.")[styles.setdefault(record.init, 0) % 4]
        styles[record.init] += 1
        for axis, values in zip(axes, (record.weight_change, record.cka)):
            axis.plot(stages, values, marker="o", color=init_color(record.init), linestyle=style, label=label)
    for axis, title in zip(axes, ("relative weight change", "linear CKA, start vs fine-tuned features (1 = unchanged)")):
        axis.set_xlabel("backbone stage (1 = nearest the input)")
        axis.set_title(title, fontsize=11)
        axis.grid(alpha=0.3)
        axis.xaxis.get_major_locator().set_params(integer=True)
    axes[1].set_ylim(0, 1.02)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), fontsize=9, frameon=False)
    return figure


def draw_monitor_curves(runs: dict[str, list[tuple[int, list[dict[str, float]], float]]], modes: dict[str, str]) -> PlotFigure:
    """A grid: rows ``modes`` (score key -> label), columns pool images seen and training FLOPs; per init
    its mean over seeds in its colour (the seeds' runs share their monitor steps), the step-0 level dotted."""
    figure, axes = plt.subplots(len(modes), 2, figsize=SLIDE, squeeze=False, sharey="row", layout="constrained")
    for row, (key, label) in enumerate(modes.items()):
        for name, seeds in runs.items():
            steps = sorted(set.intersection(*({r["step"] for r in rows} for _, rows, _ in seeds)))
            mean = np.array([np.mean([next(r[key] for r in rows if r["step"] == s) for _, rows, _ in seeds]) for s in steps])
            images = np.array([next(r["images_seen"] for r in seeds[0][1] if r["step"] == s) for s in steps])
            flops = images * np.mean([per_image for _, _, per_image in seeds])
            for axis, xs in zip(axes[row], (images, flops)):
                axis.plot(xs, mean, marker="o", markersize=3, color=init_color(name), label=name)
                if steps and steps[0] == 0:
                    axis.axhline(mean[0], color=init_color(name), linestyle=":", linewidth=0.8)
        for axis, xlabel in zip(axes[row], ("pool images seen", "training FLOPs")):
            axis.set_xlabel(xlabel, fontsize=9)
            axis.set_title(f"development task, {label}", fontsize=11)
            axis.grid(alpha=0.3)
        axes[row][0].set_ylabel("accuracy (development task)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 6), fontsize=9, frameon=False)
    return figure
