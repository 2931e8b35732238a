"""The study's figures, written as PNG files (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from proxytask.budgets import Budget, budget_name  # noqa: E402
from proxytask.files import write_atomic  # noqa: E402
from proxytask.records import FeatureChangeRecord, ResultRow, find  # noqa: E402
from proxytask.runlog import read_log  # noqa: E402
from proxytask.runs import RunFolder  # noqa: E402
from proxytask.transfer.modes import FINETUNE, MODES, PROBE  # noqa: E402


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    write_atomic(path, lambda tmp: figure.savefig(tmp, format="png", dpi=110))
    plt.close(figure)


def budget_curves(results: list[ResultRow], budgets: list[Budget], modes: list[str], path: Path) -> None:
    """Accuracy and macro-F1 against labels per class, one line per (init, mode), error bars = std over
    draws; an init keeps its color in every mode, a mode its line style."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    positions = np.arange(len(budgets))
    series = sorted({(r.init, r.mode) for r in results if r.mode in modes},
                    key=lambda s: (modes.index(s[1]) if s[1] in modes else 99, s[0]))
    inits = sorted({init for init, _ in series})
    palette = plt.get_cmap("tab10" if len(inits) <= 10 else "tab20")
    for init, mode in series:
        rows = {r.k: r for r in results if r.init == init and r.mode == mode}
        present = [i for i, k in enumerate(budgets) if k in rows]
        style = MODES[mode].line_style
        for axis, metric in zip(axes, ("accuracy", "macro_f1")):
            means = [rows[budgets[i]].mean[metric] for i in present]
            stds = [rows[budgets[i]].std[metric] for i in present]
            axis.errorbar(positions[present], means, yerr=stds, linestyle=style, marker="o", capsize=3,
                          color=palette(inits.index(init)), label=f"{init} ({mode})")
    for axis, title in zip(axes, ("accuracy", "macro-F1")):
        axis.set_xticks(positions, [budget_name(k) for k in budgets])
        axis.set_xlabel("labeled images per class")
        axis.set_title(f"test {title}")
        axis.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="lower right")
    _save(figure, path)


def confusion_figure(confusion: np.ndarray, class_names: list[str], title: str, path: Path) -> None:
    """Row-normalized confusion matrix (rows: true class) with counts."""
    totals = confusion.sum(axis=1, keepdims=True)
    shares = confusion / np.maximum(totals, 1)
    figure, axis = plt.subplots(figsize=(6.5, 5.5))
    axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (row, column), count in np.ndenumerate(confusion):
        axis.text(column, row, str(count), ha="center", va="center", fontsize=7,
                  color="white" if shares[row, column] > 0.5 else "black")
    short = [name.replace("_", " ") for name in class_names]
    axis.set_xticks(range(len(short)), short, rotation=45, ha="right", fontsize=7)
    axis.set_yticks(range(len(short)), short, fontsize=7)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title, fontsize=9)
    _save(figure, path)


def loss_curves(runs: dict[str, RunFolder], path: Path) -> None:
    """Training loss of each pretraining run against its step (each task on its own axis scale)."""
    figure, axes = plt.subplots(1, len(runs), figsize=(4.5 * len(runs), 3.5), squeeze=False)
    for axis, (task, run) in zip(axes[0], runs.items()):
        rows = read_log(run.log)
        axis.plot([r["step"] for r in rows], [r["loss"] for r in rows])
        axis.set_title(f"{task} pretraining")
        axis.set_xlabel("step")
        axis.set_ylabel("loss")
        axis.grid(alpha=0.3)
    _save(figure, path)


def _accuracy(results: list[ResultRow], init: str, mode: str, k: Budget) -> tuple[float, float]:
    """(mean, std) test accuracy of (init, mode, k); NaN when absent (matplotlib leaves it out)."""
    row = find(results, init, mode, k)
    return (row.mean["accuracy"], row.std["accuracy"]) if row is not None else (np.nan, 0.0)


def comparison_bars(results: list[ResultRow], names: list[str], budgets: list[Budget], path: Path,
                    reference: str = "random") -> None:
    """One panel per budget: fine-tuned (solid) and linear-probe (hatched) accuracy of each init in
    ``names``, error bars = std over draws; the ``reference`` init fine-tuned as a dashed line."""
    figure, axes = plt.subplots(1, len(budgets), figsize=(1.6 + 1.5 * len(names) * len(budgets), 3.8), squeeze=False)
    positions = np.arange(len(names))
    for axis, k in zip(axes[0], budgets):
        for offset, mode, hatch in ((-0.2, FINETUNE, None), (0.2, PROBE, "//")):
            values = [_accuracy(results, name, mode, k) for name in names]
            axis.bar(positions + offset, [v[0] for v in values], 0.4, yerr=[v[1] for v in values], capsize=3,
                     hatch=hatch, color="tab:blue" if mode == FINETUNE else "white", edgecolor="tab:blue", label=mode)
        axis.axhline(_accuracy(results, reference, FINETUNE, k)[0], color="gray", linestyle="--", label=f"{reference} ({FINETUNE})")
        axis.set_xticks(positions, names, rotation=15, ha="right", fontsize=8)
        axis.set_ylabel("test accuracy")
        axis.set_title(f"k={budget_name(k)}")
        axis.grid(alpha=0.3, axis="y")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    _save(figure, path)


def measure_curve(results: list[ResultRow], names: list[str], measures: list[float], measure: str,
                  budgets: list[Budget], path: Path, reference: str = "random") -> None:
    """Accuracy of the inits ``names`` against a pretraining ``measure`` of each (``measures``, log scale),
    one panel per budget."""
    figure, axes = plt.subplots(1, len(budgets), figsize=(5 * len(budgets), 3.8), squeeze=False)
    for axis, k in zip(axes[0], budgets):
        for mode in (FINETUNE, PROBE):
            style = MODES[mode].line_style
            values = [_accuracy(results, name, mode, k) for name in names]
            axis.errorbar(measures, [v[0] for v in values], yerr=[v[1] for v in values], linestyle=style, marker="o",
                          capsize=3, label=mode)
        axis.axhline(_accuracy(results, reference, FINETUNE, k)[0], color="gray", linestyle=":", label=f"{reference} ({FINETUNE})")
        axis.set_xscale("log")
        axis.set_xticks(measures, [f"{n:g}" for n in measures], minor=False)
        axis.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        axis.set_xlabel(measure)
        axis.set_ylabel("test accuracy")
        axis.set_title(f"k={budget_name(k)}, same number of pretraining steps")
        axis.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    _save(figure, path)


def feature_change_lines(records: list[FeatureChangeRecord], path: Path) -> None:
    """Relative weight change and CKA against stage, one line per (init, seed, k) record."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    several_budgets, several_seeds = len({r.k for r in records}) > 1, len({r.pretrain_seed for r in records}) > 1
    for record in records:
        stages = np.arange(1, record.stages + 1)
        label = (record.init + (f" seed {record.pretrain_seed}" if several_seeds else "")
                 + (f" (k={budget_name(record.k)})" if several_budgets else ""))
        axes[0].plot(stages, record.weight_change, marker="o", label=label)
        axes[1].plot(stages, record.cka, marker="o", label=label)
    for axis, title in zip(axes, ("relative weight change", "linear CKA, start vs fine-tuned features")):
        axis.set_xlabel("backbone stage (1 = nearest the input)")
        axis.set_title(title)
        axis.grid(alpha=0.3)
        axis.xaxis.get_major_locator().set_params(integer=True)
    axes[1].set_ylim(0, 1.02)
    axes[1].legend(fontsize=7, loc="lower left")
    _save(figure, path)
