"""Peak memory and speed of a short pretraining on a pool 1x and 10x the size of LFW's, side by side.

    python bench/pool_memory.py --out runs/bench-pool [--images 13233] [--factor 10] [--steps 60]

Writes synthetic 64x64 JPEG pools (``--images`` and ``--images * --factor`` files, nested folders)
and a small labeled folder for the downstream task, builds each pool's image cache first (not
timed), then runs ``proxytask pretrain --pool`` on each in a fresh process and prints the peak
resident memory of that process (getrusage ru_maxrss, mapped cache pages it touched included) and
its training images/s. The pool is read from the memory-mapped cache a batch at a time, so the
larger pool should need about the same memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from proxytask.config import apply_overrides
from proxytask.data.cache import load_cache
from proxytask.data.selection import pool_sources
from proxytask.runs import PretrainConfig

SIDE = 64


def write_pool(folder: Path, count: int, seed: int) -> None:
    """``count`` smooth random color pictures in 100 subfolders (skipped when already written)."""
    marker = folder / ".complete"
    if marker.is_file():
        return
    rng = np.random.default_rng(seed)
    bases = rng.integers(0, 256, (256, 8, 8, 3), dtype=np.uint8)
    for index in range(count):
        sub = folder / f"{index % 100:02d}"
        if index < 100:
            sub.mkdir(parents=True, exist_ok=True)
        pixels = np.clip(bases[index % 256].astype(int) + (index // 256) % 50, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).resize((SIDE, SIDE), Image.Resampling.BILINEAR).save(sub / f"{index:07d}.jpg", quality=85)
    marker.touch()


def settings(pool: Path, task: Path, steps: int) -> list[str]:
    return ["--pool", str(pool), "--downstream", str(task), "--max-steps", str(steps), "--set", "data.image_size=64",
            "--set", "data.crop_size=56", "--set", "data.workers=2", "--set", "train.log_every=10"]


def child(argv: list[str]) -> None:
    """Run one pretraining in this process and print its peak RSS and images/s as JSON."""
    from proxytask.cli import main

    out = Path(argv[argv.index("--out") + 1])
    code = main(["pretrain", *argv])
    metrics = json.loads((out / "metrics.json").read_text())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"code": code, "peak_rss_mib": peak_mib, "images_per_second": metrics["images_per_second"],
                      "train_images": metrics["train_images"]}))


def measure(pool: Path, task: Path, out: Path, steps: int) -> dict[str, float]:
    args = [*settings(pool, task, steps), "--out", str(out)]
    config = apply_overrides(PretrainConfig(), ["data.image_size=64", f"data.pool={json.dumps([str(pool)])}",
                                                f"data.downstream={task}"])
    for source in pool_sources(config.data):  # build the cache outside the measured process
        load_cache(source.paths, source.crop, config.data.image_size, workers=2)
    done = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if "--child" in sys.argv:
        child(sys.argv[sys.argv.index("--child") + 1:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--images", type=int, default=13233, help="the 1x pool (LFW's size)")
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    task = args.out / "task"
    for label in range(2):
        (task / f"class{label}").mkdir(parents=True, exist_ok=True)
        write_pool(task / f"class{label}", 5, seed=100 + label)
    rows = []
    for factor in (1, args.factor):
        pool = args.out / f"pool-{factor}x"
        write_pool(pool, args.images * factor, seed=factor)
        run = args.out / f"run-{factor}x"
        shutil.rmtree(run, ignore_errors=True)
        rows.append((factor, measure(pool, task, run, args.steps)))
    print(f"{'pool':>6} {'images':>8} {'peak RSS MiB':>13} {'images/s':>9}")
    for factor, row in rows:
        print(f"{factor:>5}x {row['train_images']:>8} {row['peak_rss_mib']:>13.0f} {row['images_per_second']:>9.1f}")
    (one, big) = rows[0][1], rows[-1][1]
    print(f"peak RSS {args.factor}x / 1x: {big['peak_rss_mib'] / one['peak_rss_mib']:.3f} "
          f"(difference {big['peak_rss_mib'] - one['peak_rss_mib']:+.0f} MiB; target within 10% + 200 MiB); "
          f"images/s {args.factor}x / 1x: {big['images_per_second'] / one['images_per_second']:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
