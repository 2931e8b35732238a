"""Data cache: building it for every LFW image against only decoding them, and reloading it.

Prints ratios measured side by side in one run (same files, same number of worker processes):
    build / decode  (goal: at most 1.5)   and   reload / decode.

    python bench/cache_build.py --lfw ../shared/data/lfw [--workers 2] [--size 64]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from proxytask.config import DataConfig
from proxytask.data.cache import load_cache
from proxytask.data.lfw import PeopleIndex, locate_lfw


def decode_only(paths: list[str]) -> int:
    """Decode every file fully (what any loader must do at least once) and nothing else."""
    for path in paths:
        with Image.open(path) as image:
            image.load()
    return len(paths)


def timed_decode(paths: list[str], workers: int, chunk: int = 128) -> float:
    start = time.perf_counter()
    chunks = [paths[i:i + chunk] for i in range(0, len(paths), chunk)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        assert sum(pool.map(decode_only, chunks)) == len(paths)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lfw", default=None)
    parser.add_argument("--workers", type=int, default=DataConfig().workers)
    parser.add_argument("--size", type=int, default=DataConfig().image_size)
    args = parser.parse_args()
    root = locate_lfw(args.lfw)
    paths = [p for files in PeopleIndex.scan(root).images.values() for p in files]
    names = [str(p) for p in paths]
    crop = DataConfig().face_crop
    timed_decode(names[:500], args.workers)  # warm the page cache and the process start-up
    with tempfile.TemporaryDirectory() as home:
        os.environ["PROXYTASK_HOME"] = home
        decode_seconds = timed_decode(names, args.workers)
        start = time.perf_counter()
        built = load_cache(paths, crop, args.size, workers=args.workers, home=Path(home))
        build_seconds = time.perf_counter() - start
        start = time.perf_counter()
        reloaded = load_cache(paths, crop, args.size, workers=args.workers, home=Path(home))
        in_memory = np.array(reloaded.pixels)  # read every byte, as a training run does
        reload_seconds = time.perf_counter() - start
        assert reloaded.folder == built.folder and in_memory.any()
    print(f"images: {len(paths)}  workers: {args.workers}  cached size: {args.size}px  skipped: {len(built.skipped)}")
    print(f"decode only: {decode_seconds:.2f} s ({len(paths) / decode_seconds:.0f} img/s)")
    print(f"build cache: {build_seconds:.2f} s ({len(paths) / build_seconds:.0f} img/s)")
    print(f"reload cache (map + copy every byte into memory): {reload_seconds:.3f} s")
    print(f"ratio build / decode: {build_seconds / decode_seconds:.2f} (goal <= 1.5)")
    print(f"ratio reload / decode: {reload_seconds / decode_seconds:.4f}")


if __name__ == "__main__":
    main()
