"""Wall time of one fixed small study, side by side in one run: this code in one process (all
cores), this code through local worker processes (one core each), and, given ``--old``, the code of
an older checkout in one process.

    python bench/study_wall.py --lfw ../shared/data/lfw --out runs/bench-study --workers 2
    git worktree add ../proxytask-old 9ece93b
    python bench/study_wall.py --lfw ../shared/data/lfw --out runs/bench-study --old ../proxytask-old

The study: quick preset at 150 pretraining steps (colorization and supervised), random init,
fine-tuning at k=10 with the recipe the quick preset had before it was tuned (10 epochs, 20..60
steps, lr 6e-3), 3 draws for every mode, no eigenfaces. Every variant runs the command line in a
fresh Python process and an empty folder, after an untimed warm-up run of the same code that builds
its image cache. The older code runs under its own evaluation protocol, so its accuracies are
printed beside this code's rather than compared job by job.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

STUDY = [
    "budgets=10", "draws=3", "baselines=random,supervised", "pretrain_steps=150", "pretrain.optim.warmup_steps=20",
    "finetune.lr=0.006", "finetune.epochs=10", "finetune.min_steps=20", "finetune.max_steps=60",
    "finetune.eval_every=10",
]
CURRENT_ONLY = ["frozen_draws=3"]  # the older code draws every mode `draws` times
WARM_UP = ["pretrain_steps=1", "budgets=all", "modes=knn", "baselines=random"]


@dataclass
class Variant:
    """One way to run the study: whose code (``src`` on PYTHONPATH, or this environment's) and how."""

    name: str
    src: Path | None = None
    options: list[str] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)


def run(variant: Variant, lfw: str, out: Path, settings: list[str]) -> float:
    """Run ``proxytask study`` as ``variant`` into the empty folder ``out``; its wall seconds."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = dict(os.environ)
    if variant.src is not None:
        env["PYTHONPATH"] = str(variant.src / "src")
    sets = [part for setting in settings for part in ("--set", setting)]
    command = [sys.executable, "-m", "proxytask", "study", "--preset", "quick", "--lfw", lfw, "--out", str(out),
               *variant.options, *sets]
    started = time.perf_counter()
    with open(out / "bench.log", "w") as log:
        done = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{variant.name}: the study failed (exit {done.returncode}); see {out / 'bench.log'}")
    return seconds


def accuracies(out: Path) -> dict[tuple, float]:
    """Every transfer job's test accuracy in ``out/results.json``, keyed by (init, mode, k, draw)."""
    jobs = json.loads((out / "results.json").read_text())["jobs"]
    return {(job["init"], job["mode"], str(job["k"]), job["draw"]): job["accuracy"] for job in jobs}


def mean_by_init_and_mode(scores: dict[tuple, float]) -> dict[tuple[str, str], float]:
    grouped: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (init, mode, _, _), accuracy in scores.items():
        grouped[init, mode].append(accuracy)
    return {key: sum(values) / len(values) for key, values in sorted(grouped.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lfw", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--old", type=Path, help="checkout of older proxytask code to time as well (its src/ is used)")
    args = parser.parse_args()

    variants = [
        Variant("this code, one process", options=["--executor", "inprocess"], settings=CURRENT_ONLY),
        Variant(f"this code, {args.workers} local workers", options=["--executor", "local", "--workers", str(args.workers)],
                settings=CURRENT_ONLY),
    ]
    if args.old is not None:
        if not (args.old / "src" / "proxytask").is_dir():
            sys.exit(f"--old {args.old}: expected a proxytask checkout holding src/proxytask")
        variants.insert(0, Variant(f"old code ({args.old.name}), one process", src=args.old))

    for variant in {variant.src: variant for variant in variants}.values():  # one untimed warm-up per code
        run(variant, args.lfw, args.out / "warm-up", [*variant.settings, *WARM_UP])
    results = []
    for number, variant in enumerate(variants):
        out = args.out / f"variant-{number}"
        seconds = run(variant, args.lfw, out, [*STUDY, *variant.settings])
        results.append((variant, seconds, accuracies(out)))
        print(f"{variant.name}: {seconds:.0f} s", flush=True)

    reference = results[0][1]
    for variant, seconds, _ in results[1:]:
        print(f"{variant.name}: {reference / seconds:.2f}x the speed of {results[0][0].name}")
    one, workers = results[-2][2], results[-1][2]
    differing = sum(one[key] != workers.get(key) for key in one)
    print(f"jobs: {len(one)}; results differing between this code's two runs: {differing}")
    print("mean accuracy by init and mode: " + " | ".join(variant.name for variant, _, _ in results))
    means = [mean_by_init_and_mode(scores) for _, _, scores in results]
    for key in means[-1]:
        print(f"  {key[0]:>12} {key[1]:>9}: " + " | ".join(f"{m[key]:.3f}" if key in m else "-" for m in means))


if __name__ == "__main__":
    main()
