"""The transfer monitor's curves of finished pretraining runs, side by side: the figure the study's
report draws, and per run its development-task scores at the start, at a third of the run and at
the end, whether each curve had flattened, and the proxies ranked at equal pool images (the end of
every run) and at equal training FLOPs (every run at the step whose FLOPs come nearest, from below,
to those of the reference run's last step). Reads only the runs' monitor.csv and metrics.json.

    python bench/monitor_curves.py RUN [RUN ...] --png monitor.png [--reference colorization]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from proxytask.report.figures import save_png
from proxytask.report.monitoring import MODES, draw_monitor_curves, flattened
from proxytask.runlog import read_log
from proxytask.runs import RunFolder

Rows = list[dict[str, float]]


def _at_flops(rows: Rows, flops_per_image: float, budget: float) -> dict[str, float]:
    """The monitor row of the last step whose training FLOPs do not exceed ``budget``."""
    return [row for row in rows if row["images_seen"] * flops_per_image <= budget * (1 + 1e-9)][-1]


def _ranking(scores: dict[str, dict[str, float]], key: str) -> str:
    ordered = sorted(scores, key=lambda name: scores[name][key], reverse=True)
    return " > ".join(f"{name} {scores[name][key]:.3f}±{scores[name][f'{key}_sd']:.3f}" for name in ordered)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="finished pretraining run folders that logged the monitor")
    parser.add_argument("--png", type=Path, required=True, help="where the figure goes")
    parser.add_argument("--reference", default="colorization", help="the task whose last step's FLOPs every run is read at")
    args = parser.parse_args()
    curves: dict[str, tuple[Rows, float]] = {}
    for root in args.runs:
        run = RunFolder(root)
        metrics = json.loads(run.metrics.read_text())
        curves[metrics["task"]] = (read_log(run.monitor), float(metrics["flops_per_image"]))
    save_png(draw_monitor_curves({name: [(0, rows, flops)] for name, (rows, flops) in curves.items()}, MODES), args.png)

    print("run, steps; " + "; ".join(f"{label}: start, at 1/3, end (± draw sd), best (step), flattened" for label in MODES.values()))
    for name, (rows, _) in curves.items():
        third = min(rows, key=lambda row: abs(row["step"] - rows[-1]["step"] / 3))
        parts = []
        for key in MODES:
            best = max(rows, key=lambda row: row[key])
            parts.append(f"{rows[0][key]:.3f}, {third[key]:.3f}, {rows[-1][key]:.3f}±{rows[-1][f'{key}_sd']:.3f}, "
                         f"{best[key]:.3f} ({best['step']:.0f}), {'yes' if flattened(rows, key) else 'no'}")
        print(f"{name}, {rows[-1]['step']:.0f}; " + "; ".join(parts))
    reference_rows, reference_flops = curves[args.reference]
    budget = reference_rows[-1]["images_seen"] * reference_flops
    at_budget = {name: _at_flops(rows, flops, budget) for name, (rows, flops) in curves.items()}
    def where(name: str, row: dict[str, float]) -> str:
        rows, flops = curves[name]
        short = row is rows[-1] and rows[-1]["images_seen"] * flops < budget * (1 - 1e-9)
        return f"{name} {row['step']:.0f}" + (f" (its end: {rows[-1]['images_seen'] * flops / budget:.0%} of the FLOPs)" if short else "")

    print(f"\nequal FLOPs: {budget / 1e12:.1f} TFLOP (the last step of {args.reference}); each run at step "
          + ", ".join(where(name, row) for name, row in at_budget.items()))
    for key, label in MODES.items():
        print(f"{label}, equal images (end of every run): {_ranking({n: rows[-1] for n, (rows, _) in curves.items()}, key)}")
        print(f"{label}, equal FLOPs: {_ranking(at_budget, key)}")


if __name__ == "__main__":
    main()
