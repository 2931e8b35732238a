"""What the transfer monitor costs a pretraining run: its call (the development task's features, k-NN
and linear probe over its draws) against the run's training steps, measured side by side in one
process, and the share of a run's time it takes at a given length and interval.

    python bench/monitor_cost.py --lfw PATH                       # the standard preset's run: 900 steps, every 300
    python bench/monitor_cost.py --lfw PATH --steps 900 --every 100
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from proxytask.config import apply_overrides
from proxytask.runs import PretrainConfig
from proxytask.tasks import build_task, task_input
from proxytask.train import pretrain
from proxytask.transfer.monitor import run_monitor


def cpu_name() -> str:
    """The CPU's model name (Linux), else what platform says."""
    try:
        return next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lfw", required=True)
    parser.add_argument("--task", default="colorization")
    parser.add_argument("--steps", type=int, default=900, help="the run's length the share is given for")
    parser.add_argument("--every", type=int, default=300, help="train.monitor_every")
    parser.add_argument("--timed-steps", type=int, default=40, help="training steps timed to measure a step")
    parser.add_argument("--calls", type=int, default=3, help="monitor calls timed")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-monitor"))
    args = parser.parse_args()
    config = apply_overrides(PretrainConfig(), [f"data.lfw={args.lfw}", f"task={args.task}", f"train.max_steps={args.timed_steps}",
                                                "train.checkpoint_every=100000"])
    monitor = run_monitor(config)
    task = build_task(config, 1 if args.task != "supervised" else 10)
    network_input = task_input(config)
    monitor(task.backbone, network_input)  # warm: the first call builds nothing the later ones reuse, but imports and caches
    started = time.perf_counter()
    for _ in range(args.calls):
        monitor(task.backbone, network_input)
    per_call = (time.perf_counter() - started) / args.calls
    metrics = pretrain(config, args.out / "timed")
    per_step = metrics["train_seconds"] / args.timed_steps
    calls = 1 + args.steps // args.every + (args.steps % args.every != 0)  # the first step, every interval, the last
    share = calls * per_call / (args.steps * per_step + calls * per_call)
    print(f"CPU: {cpu_name()}; task {args.task}; development task "
          f"{len(monitor.data.labels)} images, k={monitor.budget}, {monitor.draws} draws")
    print(f"monitor call {per_call:.2f} s; training step {per_step:.3f} s (mean of {args.timed_steps}, first steps included)")
    print(f"a {args.steps}-step run monitored every {args.every} steps: {calls} calls, {share:.1%} of its time")


if __name__ == "__main__":
    main()
