"""Wall time of one fixed small study, one process (all cores) against local worker processes
(one core each), side by side in one run, and whether both give the same numbers.

    python bench/study_wall.py --lfw ../shared/data/lfw --out runs/bench-study --workers 2

The study: quick preset, colorization and supervised pretraining (150 steps each), random init,
fine-tuning at k=10 (3 draws), linear probe and k-NN (5 draws), no eigenfaces. Each variant runs
in its own empty folder; the image cache is built before timing.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from proxytask.config import budget_name
from proxytask.executors import ExecutorSettings
from proxytask.presets import study_config
from proxytask.study import load_downstream, run_study

SETTINGS = ["budgets=10", "draws=3", "frozen_draws=5", "baselines=random,supervised", "pretrain_steps=150"]


def timed(config, out: Path, executor: ExecutorSettings) -> tuple[float, list]:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    results = run_study(config, out, executor)
    seconds = time.perf_counter() - started
    scores = sorted((j.init, j.mode, budget_name(j.k), j.draw, round(j.accuracy, 6)) for j in results.jobs)
    return seconds, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lfw", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = study_config("quick", [*SETTINGS, f"pretrain.data.lfw={args.lfw}"])
    load_downstream(config.pretrain.data)  # build the cache outside the timings
    one, one_scores = timed(config, args.out / "one-process", ExecutorSettings())
    many, many_scores = timed(config, args.out / "workers", ExecutorSettings("local", args.workers))
    print(f"one process: {one:.0f} s; {args.workers} local workers: {many:.0f} s; speed-up {one / many:.2f}x")
    differing = sum(a != b for a, b in zip(one_scores, many_scores))
    print(f"jobs: {len(one_scores)}; results differing between the two: {differing}")


if __name__ == "__main__":
    main()
